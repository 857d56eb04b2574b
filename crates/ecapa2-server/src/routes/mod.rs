//! The endpoints, the router, and the OpenAPI description generated from them.

mod diarize;
mod embed;
mod extract;
mod registry;
mod score;
mod service;

use crate::problem::Problem;
use crate::state::AppState;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::Router;
use std::sync::Arc;
use std::time::Instant;
use utoipa::OpenApi;

pub use diarize::{DiarizeResponse, SpeakerOut as DiarizedSpeaker, TurnOut};
pub use embed::EmbedResponse;
pub use registry::{
    CandidateOut, EnrollResponse, EnrollmentOut, IdentifyResponse, RemoveResponse,
    SpeakerDetailOut, SpeakerList, SpeakerOut, VerifyResponse,
};
pub use score::ScoreResponse;
pub use service::{Health, LabelInfo, ModelInfo, RegistryInfo};

/// The OpenAPI description of every endpoint (served at `/openapi.json`).
#[derive(OpenApi)]
#[openapi(
    info(
        title = "ecapa2",
        description = "ECAPA2 speaker embeddings, verification scores and a speaker registry.",
        license(name = "Apache-2.0 (service); model weights under their own licence, see /v1/model")
    ),
    paths(
        embed::embed,
        diarize::diarize,
        score::score,
        registry::list_speakers,
        registry::get_speaker,
        registry::enroll,
        registry::remove_speaker,
        registry::remove_enrollment,
        registry::verify,
        registry::identify,
        service::model,
        service::healthz,
        service::readyz,
        service::metrics,
    ),
    components(schemas(Problem, crate::audio_input::SamplesBody)),
    modifiers(&BearerAuth),
    tags(
        (name = "embeddings", description = "Embeddings and scores"),
        (name = "registry", description = "Enrolled speakers: enroll, list, remove, verify, identify (with --db)"),
        (name = "service", description = "Health, readiness, metrics and the model")
    )
)]
pub struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// Every route, with the body limit and the per-route metrics.
pub(crate) fn router(state: Arc<AppState>) -> Router {
    let limit = state.config.limits.max_body_bytes;
    Router::new()
        .route("/v1/embed", post(embed::embed))
        .route("/v1/score", post(score::score))
        .route("/v1/diarize", post(diarize::diarize))
        .route("/v1/speakers", get(registry::list_speakers))
        .route(
            "/v1/speakers/{speaker}",
            get(registry::get_speaker).delete(registry::remove_speaker),
        )
        .route("/v1/speakers/{speaker}/enrollments", post(registry::enroll))
        .route(
            "/v1/speakers/{speaker}/enrollments/{id}",
            delete(registry::remove_enrollment),
        )
        .route("/v1/verify", post(registry::verify))
        .route("/v1/identify", post(registry::identify))
        .route("/v1/model", get(service::model))
        .route("/healthz", get(service::healthz))
        .route("/readyz", get(service::readyz))
        .route("/metrics", get(service::metrics))
        .route("/openapi.json", get(service::openapi))
        .route_layer(middleware::from_fn_with_state(state.clone(), track))
        .fallback(|| async {
            Problem::new(
                axum::http::StatusCode::NOT_FOUND,
                "no such endpoint; see /openapi.json",
            )
        })
        .layer(DefaultBodyLimit::max(limit))
        .with_state(state)
}

/// Counts each request by route pattern and status, and times it.
async fn track(
    State(state): State<Arc<AppState>>,
    matched: Option<MatchedPath>,
    request: Request,
    next: Next,
) -> Response {
    let route = matched.map_or_else(|| "unmatched".to_string(), |m| m.as_str().to_string());
    let started = Instant::now();
    let response = next.run(request).await.into_response();
    let status = response.status().as_u16();
    state
        .metrics
        .requests
        .get_or_create(&crate::metrics::RouteLabels {
            route: route.clone(),
            status,
        })
        .inc();
    state
        .metrics
        .latency
        .get_or_create(&crate::metrics::RouteOnly { route })
        .observe(started.elapsed().as_secs_f64());
    response
}
