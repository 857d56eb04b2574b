//! Admission before a body is read: a bound on requests in flight and on the bytes of their
//! bodies, both answered 503 at once when exhausted, a `Content-Length` over the body limit
//! refused 413 before the body is polled (so hyper never sends `100 Continue` for it), and a
//! deadline on the whole body (408). A body without `Content-Length` (chunked) is counted
//! against the byte budget as it arrives.

use crate::problem::Problem;
use crate::state::AppState;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The admission budgets, shared by every connection.
pub(crate) struct Admission {
    requests: Arc<Semaphore>,
    bytes: Arc<Semaphore>,
    max_body: usize,
    body_timeout: Duration,
}

impl Admission {
    /// Budgets of `max_requests` requests and `max_bytes` body bytes in flight.
    pub fn new(
        max_requests: usize,
        max_bytes: usize,
        max_body: usize,
        body_timeout: Duration,
    ) -> Self {
        Self {
            requests: Arc::new(Semaphore::new(
                max_requests.clamp(1, Semaphore::MAX_PERMITS),
            )),
            bytes: Arc::new(Semaphore::new(max_bytes.min(Semaphore::MAX_PERMITS))),
            max_body,
            body_timeout,
        }
    }

    fn too_large(&self, declared: Option<usize>) -> Problem {
        let size = declared.map_or(String::new(), |n| format!(" ({n} bytes)"));
        Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "the request body{size} is over this service's size limit of {} bytes",
                self.max_body
            ),
        )
    }

    /// `n` more body bytes from the budget, or 503.
    fn take_bytes(&self, n: usize) -> Result<OwnedSemaphorePermit, Problem> {
        u32::try_from(n)
            .ok()
            .and_then(|n| self.bytes.clone().try_acquire_many_owned(n).ok())
            .ok_or_else(|| {
                Problem::unavailable(
                    "too many request bytes in flight on this service; retry shortly",
                    1,
                )
            })
    }
}

/// What a request holds while it runs: released when its response is ready.
struct Held {
    _request: OwnedSemaphorePermit,
    _bytes: OwnedSemaphorePermit,
}

/// The middleware: admits the request, reads its body within the budgets and the deadline,
/// and runs the rest of the stack on the buffered body. The probes (`/healthz` …) pass
/// untouched, so that overload never makes the service look dead.
pub(crate) async fn admit(
    State(state): State<Arc<AppState>>,
    request: Request,
    next: Next,
) -> Response {
    if crate::routes::is_open_path(request.uri().path()) {
        return next.run(request).await;
    }
    match buffer(&state.admission, request).await {
        Ok((request, held)) => {
            let response = next.run(request).await;
            drop(held);
            response
        }
        Err(problem) => {
            // The body may be unread: closing spares the connection from draining it (a
            // client that never sends it would hold the connection).
            let mut response = problem.into_response();
            response
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
            response
        }
    }
}

fn declared_length(headers: &HeaderMap) -> Result<Option<usize>, Problem> {
    let Some(value) = headers.get(header::CONTENT_LENGTH) else {
        return Ok(None);
    };
    value
        .to_str()
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(|n| Some(usize::try_from(n).unwrap_or(usize::MAX)))
        .ok_or_else(|| Problem::bad_request("Content-Length is not a number"))
}

async fn buffer(admission: &Admission, request: Request) -> Result<(Request, Held), Problem> {
    let request_permit = admission
        .requests
        .clone()
        .try_acquire_owned()
        .map_err(|_| {
            Problem::unavailable(
                "too many requests in flight on this service; retry shortly",
                1,
            )
        })?;
    let (parts, mut body) = request.into_parts();
    let declared = declared_length(&parts.headers)?;
    if let Some(n) = declared {
        if n > admission.max_body {
            return Err(admission.too_large(Some(n)));
        }
    }
    let mut bytes_permit = admission.take_bytes(declared.unwrap_or(0))?;
    let deadline = tokio::time::Instant::now() + admission.body_timeout;
    let mut buf: Vec<u8> = Vec::with_capacity(declared.unwrap_or(0));
    loop {
        let frame = tokio::time::timeout_at(deadline, body.frame())
            .await
            .map_err(|_| {
                Problem::new(
                    StatusCode::REQUEST_TIMEOUT,
                    format!(
                        "the request body did not arrive within the {:.0} s body timeout",
                        admission.body_timeout.as_secs_f64()
                    ),
                )
            })?;
        let Some(frame) = frame else { break };
        let frame =
            frame.map_err(|e| Problem::bad_request(format!("reading the request body: {e}")))?;
        let Ok(data) = frame.into_data() else {
            continue; // trailers
        };
        if buf.len() + data.len() > admission.max_body {
            return Err(admission.too_large(None));
        }
        if declared.is_none() {
            bytes_permit.merge(admission.take_bytes(data.len())?);
        }
        buf.extend_from_slice(&data);
    }
    let held = Held {
        _request: request_permit,
        _bytes: bytes_permit,
    };
    Ok((Request::from_parts(parts, Body::from(buf)), held))
}
