//! What every handler shares: the model, the batcher, the registry, the limits, the metrics.

use crate::batcher::{BatchConfig, Batcher, Reply, SubmitError};
use crate::metrics::Metrics;
use crate::problem::Problem;
use axum::http::{HeaderMap, StatusCode};
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
    /// Longest a request may wait for the engine (then 503).
    pub request_timeout: Duration,
    /// Decodes running at once (more wait their turn).
    pub decode_concurrency: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_body_bytes: 64 << 20,
            max_audio_s: 600.0,
            request_timeout: Duration::from_secs(300),
            decode_concurrency: std::thread::available_parallelism().map_or(2, |n| n.get()),
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
    /// Bearer token required by the registry's mutating endpoints (`None`: open).
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
    draining: AtomicBool,
}

impl AppState {
    pub fn new(
        model: Arc<Ecapa2>,
        model_id: String,
        registry: Option<Registry>,
        config: ServiceConfig,
    ) -> Arc<Self> {
        let metrics = Arc::new(Metrics::new());
        let batcher = Batcher::start(model.clone(), config.batch.clone(), metrics.clone());
        let registry_identity = registry.as_ref().map(|r| r.identity().clone());
        Arc::new(Self {
            model,
            model_id,
            registry_identity,
            registry: registry.map(|r| Mutex::new(Some(r))),
            batcher,
            metrics,
            decodes: Semaphore::new(config.limits.decode_concurrency.max(1)),
            config,
            draining: AtomicBool::new(false),
        })
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

    /// Queues `audio` and waits for its features, within the request timeout.
    pub async fn embed(&self, audio: Vec<f32>, labels: LabelSet) -> Result<Vec<f32>, Problem> {
        let rx = self.batcher.submit(audio, labels).map_err(|e| match e {
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
        // Dropping `rx` (timeout, or the client left and axum dropped this future) tells the
        // engine thread to skip the job.
        let reply: Reply = match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(reply)) => reply,
            Ok(Err(_)) => Err(Problem::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the engine stopped before answering",
            )),
            Err(_) => Err(Problem::unavailable(
                format!(
                    "no engine time within the {:.0} s request timeout; retry later",
                    timeout.as_secs_f64()
                ),
                2,
            )),
        };
        reply
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
        .map_err(|e| Problem::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
    }

    /// The registry's identity for this model, or 404 without a registry.
    pub fn registry_identity(&self) -> Result<&ModelIdentity, Problem> {
        self.registry_identity.as_ref().ok_or_else(no_registry)
    }

    /// Refuses a mutating request without the API key (when one is configured).
    pub fn authorize(&self, headers: &HeaderMap) -> Result<(), Problem> {
        let Some(key) = &self.config.api_key else {
            return Ok(());
        };
        let given = headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("");
        if constant_time_eq(given.as_bytes(), key.as_bytes()) {
            Ok(())
        } else {
            Err(Problem::new(
                StatusCode::UNAUTHORIZED,
                "this endpoint needs `Authorization: Bearer <api key>`",
            ))
        }
    }
}

fn no_registry() -> Problem {
    Problem::new(
        StatusCode::NOT_FOUND,
        "no speaker registry: start the service with --db FILE",
    )
}

/// Compares without an early exit, so the time taken does not reveal how much of a guessed
/// key was right.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
