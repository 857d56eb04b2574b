//! Health, readiness, metrics, the model's description and the OpenAPI document.

use crate::problem::Problem;
use crate::state::AppState;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use ecapa2::{Label, LabelSet};
use serde::Serialize;
use std::sync::Arc;
use utoipa::OpenApi;

/// Liveness or readiness.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Health {
    /// `ok`, `ready`, or `draining`.
    pub status: String,
    /// Jobs waiting for the engine.
    pub queue_depth: usize,
}

/// One feature label.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct LabelInfo {
    /// The label id (as in `label=`).
    pub label: String,
    /// Its length.
    pub dim: usize,
}

/// The registry in use.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RegistryInfo {
    /// The feature its speakers are compared on.
    pub label: String,
    /// Its length.
    pub dim: usize,
}

/// The model served.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ModelInfo {
    /// The archive's identity (`sha256:<hex>`).
    pub model: String,
    /// The model's licence.
    pub licence: String,
    /// Kernels in use (e.g. `cpu winograd-avx512`).
    pub backend: String,
    /// Engine threads.
    pub threads: usize,
    /// Input sample rate (Hz).
    pub sample_rate: u32,
    /// Shortest input, in samples at `sample_rate`.
    pub min_samples: usize,
    /// Every label, in network order, with its dimension.
    pub labels: Vec<LabelInfo>,
    /// The speaker registry, when the service has one.
    pub registry: Option<RegistryInfo>,
}

/// The model, its licence, and its labels.
#[utoipa::path(
    get, path = "/v1/model", tag = "service",
    responses((status = 200, description = "The model", body = ModelInfo))
)]
pub async fn model(State(state): State<Arc<AppState>>) -> Json<ModelInfo> {
    let m = &state.model;
    Json(ModelInfo {
        model: state.model_id.clone(),
        licence: state.config.licence.clone(),
        backend: m.backend_name(),
        threads: m.threads(),
        sample_rate: m.sample_rate(),
        min_samples: m.min_samples(),
        labels: Label::ALL
            .iter()
            .map(|&l| LabelInfo {
                label: l.id().to_string(),
                dim: m.dim(LabelSet::from_labels([l])),
            })
            .collect(),
        registry: state.registry_identity.as_ref().map(|r| RegistryInfo {
            label: r.label.clone(),
            dim: r.dim,
        }),
    })
}

/// Liveness: the process answers.
#[utoipa::path(
    get, path = "/healthz", tag = "service",
    responses((status = 200, description = "Alive", body = Health))
)]
pub async fn healthz(State(state): State<Arc<AppState>>) -> Json<Health> {
    Json(Health {
        status: "ok".into(),
        queue_depth: state.batcher.depth(),
    })
}

/// Readiness: accepting work (503 while shutting down).
#[utoipa::path(
    get, path = "/readyz", tag = "service",
    responses(
        (status = 200, description = "Ready", body = Health),
        (status = 503, description = "Shutting down", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn readyz(State(state): State<Arc<AppState>>) -> Result<Json<Health>, Problem> {
    if state.is_draining() {
        return Err(Problem::unavailable("shutting down", 5));
    }
    Ok(Json(Health {
        status: "ready".into(),
        queue_depth: state.batcher.depth(),
    }))
}

/// Prometheus metrics (text exposition format).
#[utoipa::path(
    get, path = "/metrics", tag = "service",
    responses((status = 200, description = "Metrics", body = String, content_type = "text/plain"))
)]
pub async fn metrics(State(state): State<Arc<AppState>>) -> impl IntoResponse {
    (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.encode(),
    )
}

/// The OpenAPI description of this service.
pub async fn openapi() -> impl IntoResponse {
    Json(super::ApiDoc::openapi())
}
