//! `ecapa2 serve`: ECAPA2 embeddings, scores and a speaker registry over HTTP.
//!
//! - [`batcher`]: one bounded queue, filled into engine batches under an audio-seconds budget;
//!   one engine thread pool shared by every request.
//! - [`routes`]: the endpoints (axum), documented in the OpenAPI description served at
//!   `/openapi.json` (utoipa, generated from the handlers).
//! - [`problem`]: errors as `application/problem+json`, hyper's own included.
//! - The HTTP layer: a serve loop with header, body and shutdown deadlines, admission of
//!   requests and body bytes before any body is read, and the API key.
//! - [`metrics`]: Prometheus metrics at `/metrics`.
//!
//! ```no_run
//! # async fn f() -> Result<(), Box<dyn std::error::Error>> {
//! let model = std::sync::Arc::new(ecapa2::Ecapa2::load("ecapa2.pt")?);
//! let service = ecapa2_server::Service::new(model, "sha256:…".into(), None, Default::default())?;
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! service.serve(listener, async { let _ = tokio::signal::ctrl_c().await; }).await?;
//! # Ok(()) }
//! ```

#![warn(missing_docs)]
#![forbid(unsafe_code)]

mod admission;
mod audio_input;
mod auth;
pub mod batcher;
mod connections;
mod head_errors;
pub mod metrics;
pub mod problem;
pub mod routes;
mod state;

pub use batcher::BatchConfig;
pub use state::{Limits, ServiceConfig};

use ecapa2::{Ecapa2, LabelSet};
use ecapa2_registry::{ModelIdentity, Registry, RegistryError};
use std::future::Future;
use std::sync::Arc;

/// Why a service cannot start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// The registry holds another model's embeddings.
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// The registry's feature label is not one this model computes, or of another length.
    #[error(
        "the registry holds {dim}-value {label:?} embeddings, which this model does not \
         compute{}", .model_dim.map_or(String::new(), |d| format!(" (its {label:?} has {d} values)"))
    )]
    Label {
        /// The registry's label.
        label: String,
        /// The registry's embedding length.
        dim: usize,
        /// This model's length for that label, when it knows the label.
        model_dim: Option<usize>,
    },
    /// The engine thread could not be started (out of threads or memory).
    #[error("cannot start the engine thread: {0}")]
    Engine(#[source] std::io::Error),
}

/// The service: a model, its batcher, an optional registry, and the limits in force.
pub struct Service {
    state: Arc<state::AppState>,
}

impl Service {
    /// Prepares the service and starts its engine thread. `model_id` identifies the archive
    /// (e.g. `sha256:<hex>`); `registry` enables the registry endpoints and must hold this
    /// model's embeddings: a registry made with another model, or with a label this model
    /// does not compute, is refused, as is a failure to start the engine thread.
    pub fn new(
        model: Arc<Ecapa2>,
        model_id: String,
        registry: Option<Registry>,
        config: ServiceConfig,
    ) -> Result<Self, StartError> {
        if let Some(reg) = &registry {
            let held = reg.identity();
            reg.check_model(&ModelIdentity {
                model: model_id.clone(),
                ..held.clone()
            })?;
            let model_dim = held.label.parse::<LabelSet>().ok().map(|l| model.dim(l));
            if model_dim != Some(held.dim) {
                return Err(StartError::Label {
                    label: held.label.clone(),
                    dim: held.dim,
                    model_dim,
                });
            }
        }
        Ok(Self {
            state: state::AppState::new(model, model_id, registry, config)
                .map_err(StartError::Engine)?,
        })
    }

    /// The axum router (for embedding the service in another server).
    pub fn router(&self) -> axum::Router {
        routes::router(self.state.clone())
    }

    /// Serves on `listener` until `shutdown` completes; then stops accepting, finishes the
    /// requests in flight (closing the connections still open at the shutdown deadline),
    /// and closes the registry (checkpointing its write-ahead log).
    pub async fn serve(
        self,
        listener: tokio::net::TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let state = self.state.clone();
        let draining = state.clone();
        let app = self.router();
        let limits = &state.config.limits;
        let conn_limits = connections::ConnectionLimits {
            header_bytes: limits.max_header_bytes,
            header: limits.header_timeout,
            shutdown: limits.shutdown_timeout,
        };
        connections::serve(
            listener,
            app,
            conn_limits,
            state.metrics.clone(),
            async move {
                shutdown.await;
                draining.start_draining();
                tracing::info!("shutting down: finishing requests in flight");
            },
        )
        .await;
        let state = self.state;
        tokio::task::spawn_blocking(move || state.close())
            .await
            .map_err(std::io::Error::other)?;
        tracing::info!("shutdown complete");
        Ok(())
    }
}
