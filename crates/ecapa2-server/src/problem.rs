//! Errors as RFC 9457 problem details (`application/problem+json`): a status, a short title,
//! and a detail that says what was wrong with this request.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use ecapa2_audio::AudioError;
use ecapa2_registry::RegistryError;
use serde::Serialize;

/// A problem response.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// A URI reference naming the problem type (`about:blank`: the status says it all).
    #[serde(rename = "type")]
    pub kind: String,
    /// Short summary of the status.
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// What was wrong with this request.
    pub detail: String,
    /// Seconds to wait before retrying (overload only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after_s: Option<u64>,
}

impl Problem {
    /// A problem with `status` and `detail`.
    pub fn new(status: StatusCode, detail: impl Into<String>) -> Self {
        Self {
            kind: "about:blank".into(),
            title: status.canonical_reason().unwrap_or("Error").into(),
            status: status.as_u16(),
            detail: detail.into(),
            retry_after_s: None,
        }
    }

    /// 400: a request the service cannot parse.
    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, detail)
    }

    /// 500: a failure of the service itself (a task that panicked, an asset that will not load).
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, detail.to_string())
    }

    /// 503 with `Retry-After`: the queue is full or the service is shutting down.
    pub fn unavailable(detail: impl Into<String>, retry_after_s: u64) -> Self {
        Self {
            retry_after_s: Some(retry_after_s),
            ..Self::new(StatusCode::SERVICE_UNAVAILABLE, detail)
        }
    }

    /// The status code.
    pub fn status(&self) -> StatusCode {
        StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = self.status();
        if status == StatusCode::INTERNAL_SERVER_ERROR {
            tracing::error!("500: {}", self.detail);
        }
        let retry = self.retry_after_s;
        let body = serde_json::to_vec(&self).unwrap_or_default();
        let mut response = (status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let Some(s) = retry {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(s));
        }
        if status == StatusCode::UNAUTHORIZED {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

/// `response` itself when it is a success or already problem details; otherwise the same
/// error as problem details (its headers kept, its text, if any, as the detail).
pub(crate) async fn ensure_problem(response: Response) -> Response {
    let status = response.status();
    let is_problem = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes() == b"application/problem+json");
    if status.as_u16() < 400 || is_problem {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, 16 << 10)
        .await
        .unwrap_or_default();
    let text = String::from_utf8_lossy(&text).trim().to_string();
    let detail = if text.is_empty() {
        status.canonical_reason().unwrap_or("Error").to_string()
    } else {
        text
    };
    let problem = Problem::new(status, detail).into_response();
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.remove(header::CONTENT_TYPE);
    let (new_parts, body) = problem.into_parts();
    parts.headers.extend(new_parts.headers);
    Response::from_parts(parts, body)
}

impl From<AudioError> for Problem {
    /// Unsupported formats are 415; audio over the duration limit 413; audio that is corrupt,
    /// empty, too short or not finite is 422 (the request was understood, the audio cannot be
    /// used).
    fn from(e: AudioError) -> Self {
        let status = match e {
            AudioError::Unsupported { .. } => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            AudioError::TooLong { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            _ => StatusCode::UNPROCESSABLE_ENTITY,
        };
        Self::new(status, e.to_string())
    }
}

impl From<ecapa2::Error> for Problem {
    fn from(e: ecapa2::Error) -> Self {
        let status = match e {
            ecapa2::Error::UnknownLabel { .. } => StatusCode::BAD_REQUEST,
            ecapa2::Error::AudioTooShort { .. }
            | ecapa2::Error::NonFinite { .. }
            | ecapa2::Error::OutOfRange { .. }
            | ecapa2::Error::InBatch { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            ecapa2::Error::TooLong { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        Self::new(status, e.to_string())
    }
}

impl From<RegistryError> for Problem {
    /// A registry busy past its timeout (another process writing) is 503 with `Retry-After`:
    /// nothing was written and a retry will do.
    fn from(e: RegistryError) -> Self {
        if matches!(e, RegistryError::Busy) {
            return Self::unavailable(e.to_string(), 1);
        }
        let status = match e {
            RegistryError::UnknownSpeaker(_) | RegistryError::UnknownEnrollment(_) => {
                StatusCode::NOT_FOUND
            }
            RegistryError::BadName { .. }
            | RegistryError::BadThreshold(_)
            | RegistryError::NothingToEnroll => StatusCode::BAD_REQUEST,
            RegistryError::BadEmbedding(_)
            | RegistryError::BadSource { .. }
            | RegistryError::ModelMismatch { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        Self::new(status, e.to_string())
    }
}

/// The problems of an endpoint that takes audio, for the OpenAPI description.
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)] // documentation only
pub enum AudioProblems {
    /// Unknown label, bad query, unreadable JSON or form.
    #[response(status = 400, content_type = "application/problem+json")]
    BadRequest(Problem),
    /// Body or audio over the service's limits.
    #[response(status = 413, content_type = "application/problem+json")]
    TooLarge(Problem),
    /// Unsupported audio format.
    #[response(status = 415, content_type = "application/problem+json")]
    Unsupported(Problem),
    /// Corrupt, empty, too short or non-finite audio.
    #[response(status = 422, content_type = "application/problem+json")]
    Unusable(Problem),
    /// Queue full, timed out waiting for the engine, or shutting down (see `Retry-After`).
    #[response(status = 503, content_type = "application/problem+json")]
    Unavailable(Problem),
}

/// A missing resource (speaker, enrollment) or no registry, for the OpenAPI description.
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)] // documentation only
pub enum NotFound {
    /// No such speaker or enrollment, or the service runs without `--db`.
    #[response(status = 404, content_type = "application/problem+json")]
    NotFound(Problem),
}

/// A mutating registry request without the API key, for the OpenAPI description.
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)] // documentation only
pub enum Unauthorized {
    /// Missing or wrong `Authorization: Bearer` key.
    #[response(status = 401, content_type = "application/problem+json")]
    Unauthorized(Problem),
}
