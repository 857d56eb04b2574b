//! Prometheus metrics, in an explicit registry owned by the service (no process-global
//! recorder): requests by route and status, latency, queue depth, batch sizes, audio seconds.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

/// Labels of the per-request metrics.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    /// The route pattern (`/v1/embed`), not the raw path.
    pub route: String,
    /// HTTP status code.
    pub status: u16,
}

/// Labels of the per-route latency histogram.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteOnly {
    /// The route pattern.
    pub route: String,
}

fn latency_histogram() -> Histogram {
    // 1 ms … ~65 s.
    Histogram::new(exponential_buckets(0.001, 2.0, 17))
}

/// Every metric the service exports.
pub struct Metrics {
    registry: Registry,
    /// Requests by route and status.
    pub requests: Family<RouteLabels, Counter>,
    /// Request latency by route, in seconds.
    pub latency: Family<RouteOnly, Histogram, fn() -> Histogram>,
    /// Jobs waiting for the engine.
    pub queue_depth: Gauge,
    /// Utterances per engine batch.
    pub batch_size: Histogram,
    /// Seconds of audio embedded.
    pub audio_seconds: Counter<f64, std::sync::atomic::AtomicU64>,
    /// Seconds a job waited in the queue.
    pub queue_wait: Histogram,
    /// Queued jobs dropped because their client left or timed out.
    pub cancelled: Counter,
    /// Requests refused because the queue was full.
    pub rejected: Counter,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Registers every metric under the `ecapa2_` prefix.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("ecapa2");
        let requests = Family::<RouteLabels, Counter>::default();
        let latency = Family::<RouteOnly, Histogram, fn() -> Histogram>::new_with_constructor(
            latency_histogram,
        );
        let queue_depth = Gauge::default();
        let batch_size = Histogram::new(exponential_buckets(1.0, 2.0, 8));
        let audio_seconds = Counter::<f64, std::sync::atomic::AtomicU64>::default();
        let queue_wait = latency_histogram();
        let cancelled = Counter::default();
        let rejected = Counter::default();
        registry.register(
            "http_requests",
            "HTTP requests by route and status",
            requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "HTTP request latency by route",
            latency.clone(),
        );
        registry.register(
            "queue_depth",
            "Jobs waiting for the engine",
            queue_depth.clone(),
        );
        registry.register(
            "batch_size",
            "Utterances per engine batch",
            batch_size.clone(),
        );
        registry.register(
            "audio_seconds",
            "Seconds of audio embedded",
            audio_seconds.clone(),
        );
        registry.register(
            "queue_wait_seconds",
            "Time jobs waited for the engine",
            queue_wait.clone(),
        );
        registry.register(
            "jobs_cancelled",
            "Queued jobs dropped because the client left or timed out",
            cancelled.clone(),
        );
        registry.register(
            "requests_rejected",
            "Requests refused with 503 because the queue was full",
            rejected.clone(),
        );
        Self {
            registry,
            requests,
            latency,
            queue_depth,
            batch_size,
            audio_seconds,
            queue_wait,
            cancelled,
            rejected,
        }
    }

    /// The text exposition format.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}
