//! Problem details for the errors hyper answers itself. A request whose head cannot be parsed
//! (400), whose target is too long (414) or whose headers are too large (431) never reaches
//! the router: hyper writes a bare `content-length: 0` response and closes the connection.
//! This wrapper around the socket recognises exactly that response (the service's own errors
//! always have a body) and sends a problem+json one in its place, counted in the metrics.

use crate::metrics::{Metrics, RouteLabels};
use crate::problem::Problem;
use axum::http::StatusCode;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// A connection's socket, rewriting hyper's own bare error responses.
pub(crate) struct ProblemHeads<S> {
    inner: S,
    metrics: Arc<Metrics>,
    /// The replacement being written, how much of it is out, and the length of the original
    /// write it stands for (reported to hyper once the replacement is all out).
    pending: Option<(Vec<u8>, usize, usize)>,
}

impl<S> ProblemHeads<S> {
    pub(crate) fn new(inner: S, metrics: Arc<Metrics>) -> Self {
        Self {
            inner,
            metrics,
            pending: None,
        }
    }
}

/// The status of a bare error response written by hyper, if `buf` is one.
fn bare_error_status(buf: &[u8]) -> Option<StatusCode> {
    let status = match buf.get(..13)? {
        b"HTTP/1.1 400 " => StatusCode::BAD_REQUEST,
        b"HTTP/1.1 414 " => StatusCode::URI_TOO_LONG,
        b"HTTP/1.1 431 " => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
        _ => return None,
    };
    let head_only = buf.ends_with(b"\r\n\r\n");
    let empty = buf
        .windows(19)
        .any(|w| w.eq_ignore_ascii_case(b"content-length: 0\r\n"));
    (head_only && empty).then_some(status)
}

/// The problem+json response that replaces hyper's bare one.
fn replacement(status: StatusCode) -> Vec<u8> {
    let detail = match status {
        StatusCode::URI_TOO_LONG => "the request target (URI) is too long",
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE => {
            "the request's headers are too large or too many"
        }
        _ => "the request is not valid HTTP/1.1",
    };
    let body = serde_json::to_vec(&Problem::new(status, detail)).unwrap_or_default();
    let mut out = format!(
        "HTTP/1.1 {} {}\r\ncontent-type: application/problem+json\r\ncontent-length: {}\r\n\
         connection: close\r\n\r\n",
        status.as_u16(),
        status.canonical_reason().unwrap_or("Error"),
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(&body);
    out
}

impl<S: AsyncRead + Unpin> AsyncRead for ProblemHeads<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for ProblemHeads<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        if this.pending.is_none() {
            let Some(status) = bare_error_status(buf) else {
                return Pin::new(&mut this.inner).poll_write(cx, buf);
            };
            this.metrics
                .requests
                .get_or_create(&RouteLabels {
                    route: "unparsed".into(),
                    status: status.as_u16(),
                })
                .inc();
            this.pending = Some((replacement(status), 0, buf.len()));
        }
        // hyper calls again with the same buffer until it is reported written.
        let Some((out, done, original)) = this.pending.as_mut() else {
            return Poll::Ready(Ok(0));
        };
        while *done < out.len() {
            let n = ready!(Pin::new(&mut this.inner).poll_write(cx, &out[*done..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            *done += n;
        }
        let original = *original;
        this.pending = None;
        Poll::Ready(Ok(original))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    // Not vectored: hyper then writes each response head as one buffer, which is what
    // `bare_error_status` looks at.
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_bare_heads_from_hyper_are_rewritten() {
        let bare =
            b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\ndate: x\r\n\r\n";
        assert_eq!(
            bare_error_status(bare),
            Some(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE)
        );
        // The service's own 400s have a body.
        let own = b"HTTP/1.1 400 Bad Request\r\ncontent-length: 90\r\n\r\n{\"type\":1}";
        assert_eq!(bare_error_status(own), None);
        assert_eq!(
            bare_error_status(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n"),
            None
        );
        let text = String::from_utf8(replacement(StatusCode::URI_TOO_LONG)).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(head.contains(&format!("content-length: {}", body.len())));
        let parsed: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(parsed["status"], 414);
    }
}
