//! What every handler shares: the model, the batcher, the registry, the limits, the metrics.

use crate::admission::Admission;
use crate::batcher::{BatchConfig, Batcher, SubmitError, Waited};
use crate::metrics::Metrics;
use crate::problem::Problem;
use axum::http::StatusCode;
use ecapa2::{Ecapa2, LabelSet};
use ecapa2_registry::{ModelIdentity, Registry};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Semaphore;

/// Per-request limits.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest request body, in bytes (413 beyond).
    pub max_body_bytes: usize,
    /// Longest audio, in seconds after decoding (413 beyond).
    pub max_audio_s: f64,
    /// Longest a request may wait in the queue for the engine (then 503); once the engine
    /// has taken it, it is answered however long the computation takes.
    pub request_timeout: Duration,
    /// Decodes running at once (more wait their turn).
    pub decode_concurrency: usize,
    /// Most bytes of a request's head, request line included (431 beyond; above 64 KiB so
    /// that a long URI gets its own 414).
    pub max_header_bytes: usize,
    /// Longest a client may take to send a request's headers, counted from the connection's
    /// start or the previous response (so it also closes idle keep-alive connections).
    pub header_timeout: Duration,
    /// Longest a client may take to send a request's body, counted from its headers (408).
    pub body_timeout: Duration,
    /// How long a shutdown waits for requests in flight before closing their connections.
    pub shutdown_timeout: Duration,
    /// Most requests in flight (probes aside); beyond it, 503 at once.
    pub max_requests: usize,
    /// Most request-body bytes in flight; beyond it, 503 at once, before the body is read.
    pub max_inflight_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_body_bytes: 64 << 20,
            max_audio_s: 600.0,
            request_timeout: Duration::from_secs(300),
            decode_concurrency: std::thread::available_parallelism().map_or(2, |n| n.get()),
            max_header_bytes: 128 << 10,
            header_timeout: Duration::from_secs(30),
            body_timeout: Duration::from_secs(60),
            shutdown_timeout: Duration::from_secs(30),
            max_requests: 512,
            max_inflight_bytes: 256 << 20,
        }
    }
}

/// Everything configurable about the service.
#[derive(Debug, Clone, Default)]
pub struct ServiceConfig {
    /// Request limits.
    pub limits: Limits,
    /// Batching.
    pub batch: BatchConfig,
    /// Bearer token required by every endpoint but `/healthz`, `/readyz`, `/metrics` and
    /// `/openapi.json` (`None`: open).
    pub api_key: Option<String>,
    /// The model's licence, stated by `GET /v1/model`.
    pub licence: String,
}

pub(crate) struct AppState {
    pub model: Arc<Ecapa2>,
    pub model_id: String,
    pub registry: Option<Mutex<Option<Registry>>>,
    pub registry_identity: Option<ModelIdentity>,
    pub batcher: Batcher,
    pub metrics: Arc<Metrics>,
    pub config: ServiceConfig,
    pub decodes: Semaphore,
    pub admission: Admission,
    /// The embedded Silero VAD of `/v1/diarize`, parsed on first use, not per request.
    vad: std::sync::OnceLock<ecapa2_diarize::SileroDetector>,
    draining: AtomicBool,
}

impl AppState {
    pub fn new(
        model: Arc<Ecapa2>,
        model_id: String,
        registry: Option<Registry>,
        config: ServiceConfig,
    ) -> std::io::Result<Arc<Self>> {
        let metrics = Arc::new(Metrics::new());
        let batcher = Batcher::start(model.clone(), config.batch.clone(), metrics.clone())?;
        let limits = &config.limits;
        let admission = Admission::new(
            limits.max_requests,
            limits.max_inflight_bytes,
            limits.max_body_bytes,
            limits.body_timeout,
        );
        let registry_identity = registry.as_ref().map(|r| r.identity().clone());
        Ok(Arc::new(Self {
            model,
            model_id,
            registry_identity,
            registry: registry.map(|r| Mutex::new(Some(r))),
            batcher,
            metrics,
            decodes: Semaphore::new(config.limits.decode_concurrency.max(1)),
            admission,
            config,
            vad: std::sync::OnceLock::new(),
            draining: AtomicBool::new(false),
        }))
    }

    /// The embedded VAD, loaded once (two first requests may both parse it; one is kept).
    pub fn vad(&self) -> Result<&ecapa2_diarize::SileroDetector, Problem> {
        if let Some(vad) = self.vad.get() {
            return Ok(vad);
        }
        let vad = ecapa2_diarize::SileroDetector::embedded().map_err(Problem::internal)?;
        Ok(self.vad.get_or_init(|| vad))
    }

    pub fn start_draining(&self) {
        self.draining.store(true, Ordering::SeqCst);
    }

    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::SeqCst)
    }

    /// Finishes queued jobs and closes the registry.
    pub fn close(&self) {
        self.batcher.close();
        if let Some(reg) = &self.registry {
            let taken = reg.lock().unwrap_or_else(|p| p.into_inner()).take();
            if let Some(r) = taken {
                if let Err(e) = r.close() {
                    tracing::error!("closing the registry: {e}");
                }
            }
        }
    }

    /// Queues `audio` and waits for its features. The request timeout counts the wait in the
    /// queue only: a job the engine has started is answered however long it takes.
    pub async fn embed(&self, audio: Vec<f32>, labels: LabelSet) -> Result<Vec<f32>, Problem> {
        let ticket = self.batcher.submit(audio, labels).map_err(|e| match e {
            SubmitError::Full => Problem::unavailable(
                format!(
                    "the queue is full ({} jobs waiting); retry shortly",
                    self.batcher.depth()
                ),
                1,
            ),
            SubmitError::Closed => Problem::unavailable("the service is shutting down", 5),
        })?;
        let timeout = self.config.limits.request_timeout;
        // Dropping the ticket (the client left and axum dropped this future) takes the job
        // out of the queue before it costs engine time.
        match ticket.wait(timeout).await {
            Ok(reply) => reply,
            Err(Waited::EngineStopped) => Err(Problem::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the engine stopped before answering",
            )),
            Err(Waited::TimedOut) => Err(Problem::unavailable(
                format!(
                    "no engine time within the {:.0} s request timeout; retry later",
                    timeout.as_secs_f64()
                ),
                2,
            )),
        }
    }

    /// Runs `f` on the registry on a blocking thread.
    pub async fn with_registry<T: Send + 'static>(
        self: &Arc<Self>,
        f: impl FnOnce(&mut Registry) -> Result<T, Problem> + Send + 'static,
    ) -> Result<T, Problem> {
        if self.registry.is_none() {
            return Err(no_registry());
        }
        let state = self.clone();
        tokio::task::spawn_blocking(move || {
            let lock = state.registry.as_ref().ok_or_else(no_registry)?;
            let mut guard = lock.lock().unwrap_or_else(|p| p.into_inner());
            let reg = guard
                .as_mut()
                .ok_or_else(|| Problem::unavailable("the service is shutting down", 5))?;
            f(reg)
        })
        .await
        .map_err(Problem::internal)?
    }

    /// The registry's identity for this model, or 404 without a registry.
    pub fn registry_identity(&self) -> Result<&ModelIdentity, Problem> {
        self.registry_identity.as_ref().ok_or_else(no_registry)
    }
}

fn no_registry() -> Problem {
    Problem::new(
        StatusCode::NOT_FOUND,
        "no speaker registry: start the service with --db FILE",
    )
}
