//! The accept loop: HTTP/1.1 connections served by hyper with a header read timeout (which
//! also closes idle keep-alive connections), and a graceful shutdown that ends at a deadline,
//! so no client (a stalled body, headers sent a byte at a time) can keep the process alive.

use crate::head_errors::ProblemHeads;
use crate::metrics::Metrics;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::task::JoinSet;

/// The connection-level limits.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ConnectionLimits {
    /// Most bytes of request headers (431 beyond).
    pub header_bytes: usize,
    /// Longest a client may take to send a request's headers, counted from the connection's
    /// start or the end of the previous response (so an idle keep-alive connection is closed
    /// after it too).
    pub header: Duration,
    /// How long the shutdown waits for requests in flight before closing their connections.
    pub shutdown: Duration,
}

/// Serves `app` on `listener` until `shutdown` completes, then waits up to the shutdown
/// deadline for the connections to finish and closes those that remain.
pub(crate) async fn serve(
    listener: TcpListener,
    app: axum::Router,
    limits: ConnectionLimits,
    metrics: Arc<Metrics>,
    shutdown: impl Future<Output = ()>,
) {
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header)
        .max_header_size(limits.header_bytes)
        .keep_alive(true);
    let graceful = GracefulShutdown::new();
    let mut connections = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(accepted) => accepted,
                    Err(e) => {
                        // Out of file descriptors and the like: wait for some to close
                        // rather than spin.
                        tracing::warn!("accepting a connection: {e}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let io = TokioIo::new(ProblemHeads::new(stream, metrics.clone()));
                let service = TowerToHyperService::new(app.clone());
                let conn = graceful.watch(builder.serve_connection(io, service));
                connections.spawn(async move {
                    if let Err(e) = conn.await {
                        tracing::debug!("connection from {peer}: {e}");
                    }
                });
            }
            // Reap finished connections so the set does not grow with every one served.
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    if tokio::time::timeout(limits.shutdown, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            "{} connection(s) still open after the {:.0} s shutdown deadline: closing them",
            connections.len(),
            limits.shutdown.as_secs_f64()
        );
    }
    connections.shutdown().await;
}
