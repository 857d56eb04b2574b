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
use axum::response::Response;
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
    modifiers(&BearerAuth, &CommonProblems),
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

/// The paths open without the API key and outside admission: the probes, the metrics and
/// the OpenAPI description.
pub(crate) fn is_open_path(path: &str) -> bool {
    matches!(path, "/healthz" | "/readyz" | "/metrics" | "/openapi.json")
}

/// The problems any endpoint may answer, added to every operation of the description: 500;
/// for the endpoints behind the key, 401 and admission's 503; with a body, 408 and 413.
struct CommonProblems;

impl utoipa::Modify for CommonProblems {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::SecurityRequirement;
        use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
        let problem = |description: &str| {
            ResponseBuilder::new()
                .description(description)
                .content(
                    "application/problem+json",
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name("Problem")))
                        .build(),
                )
                .build()
        };
        for (path, item) in openapi.paths.paths.iter_mut() {
            let open = is_open_path(path);
            let operations = [
                &mut item.get,
                &mut item.post,
                &mut item.put,
                &mut item.delete,
                &mut item.patch,
            ];
            for op in operations.into_iter().flatten() {
                let mut add = |status: &str, description: &str| {
                    op.responses
                        .responses
                        .entry(status.to_string())
                        .or_insert_with(|| problem(description).into());
                };
                add("500", "Internal error (logged by the service)");
                if open {
                    continue;
                }
                add(
                    "401",
                    "Missing or wrong `Authorization: Bearer` key (when one is set)",
                );
                add(
                    "503",
                    "Overloaded (requests or body bytes in flight, queue full) or shutting down; see `Retry-After`",
                );
                if op.request_body.is_some() {
                    add("408", "The body did not arrive within the body timeout");
                    add("413", "The body is over the size limit");
                }
                op.security = Some(vec![SecurityRequirement::new(
                    "api_key",
                    Vec::<String>::new(),
                )]);
            }
        }
    }
}

/// Every route, with the admission, the API key, the per-route metrics, and problem details
/// for every error.
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
        .route_layer(middleware::from_fn(mark_route))
        .fallback(|| async {
            Problem::new(
                axum::http::StatusCode::NOT_FOUND,
                "no such endpoint; see /openapi.json",
            )
        })
        .layer(DefaultBodyLimit::max(limit))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            crate::admission::admit,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            crate::auth::require_key,
        ))
        .layer(middleware::from_fn_with_state(state.clone(), track))
        .with_state(state)
}

/// Leaves the matched route pattern on the response, for [`track`] (which runs before
/// routing, so that 404s, 405s and refusals at admission are counted too).
async fn mark_route(matched: Option<MatchedPath>, request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    if let Some(m) = matched {
        response.extensions_mut().insert(m);
    }
    response
}

/// Counts each request by route pattern and status, times it, and turns any error answered
/// without problem details (axum's own 405, …) into one.
async fn track(State(state): State<Arc<AppState>>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let response = crate::problem::ensure_problem(next.run(request).await).await;
    let route = response
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |m| m.as_str().to_string());
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
