//! The API key: with one configured, every endpoint but the probes, the metrics and the
//! OpenAPI description needs `Authorization: Bearer <key>`.

use crate::problem::Problem;
use crate::state::AppState;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

/// The middleware: refuses a request without the key (401) before its body is read.
pub(crate) async fn require_key(
    State(state): State<Arc<AppState>>,
    request: Request,
    next: Next,
) -> Response {
    if let Some(key) = &state.config.api_key {
        if !crate::routes::is_open_path(request.uri().path()) {
            if let Err(problem) = check(key, request.headers()) {
                return problem.into_response();
            }
        }
    }
    next.run(request).await
}

/// Whether `headers` carry `key` as a bearer token (the scheme's name is case-insensitive).
fn check(key: &str, headers: &HeaderMap) -> Result<(), Problem> {
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map_or("", |(_, token)| token.trim());
    if constant_time_eq(given.as_bytes(), key.as_bytes()) {
        Ok(())
    } else {
        Err(Problem::new(
            StatusCode::UNAUTHORIZED,
            "this endpoint needs `Authorization: Bearer <api key>`",
        ))
    }
}

/// Compares without an early exit, so the time taken does not reveal how much of a guessed
/// key was right.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
