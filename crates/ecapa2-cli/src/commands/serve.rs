//! `ecapa2 serve`: the HTTP service (embeddings, scores, and the speaker registry with --db).

use crate::model_source::{self, ModelArgs};
use anyhow::{Context, Result};
use ecapa2::{Ecapa2, Options};
use ecapa2_registry::{ModelIdentity, Registry};
use ecapa2_server::{BatchConfig, Limits, Service, ServiceConfig};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

/// Arguments of `ecapa2 serve`.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    model: ModelArgs,
    /// Address to listen on (port 0: any free port; the address is printed).
    #[arg(long, default_value = "127.0.0.1:8080")]
    addr: String,
    /// Speaker registry (SQLite file; created if missing) for the /v1/speakers, /v1/verify and
    /// /v1/identify endpoints.
    #[arg(long, env = "ECAPA2_REGISTRY")]
    db: Option<PathBuf>,
    /// Feature a new registry compares speakers on.
    #[arg(long, default_value = "embedding")]
    registry_label: String,
    /// Bearer token required by the registry's mutating endpoints (enroll, remove).
    #[arg(long, env = "ECAPA2_API_KEY", hide_env_values = true)]
    api_key: Option<String>,
    /// Largest request body.
    #[arg(long, value_name = "SIZE", default_value = "64M", value_parser = crate::parse_size)]
    max_body: usize,
    /// Longest audio per recording, in seconds after decoding.
    #[arg(long, value_name = "SEC", default_value_t = 600.0)]
    max_audio_seconds: f64,
    /// Most requests waiting for the engine; beyond it, 503 with Retry-After.
    #[arg(long, default_value_t = 128)]
    queue_len: usize,
    /// Most seconds of audio waiting for the engine (bounds the queue's memory).
    #[arg(long, value_name = "SEC", default_value_t = 1800.0)]
    queue_audio_seconds: f64,
    /// Most seconds of audio in one engine batch (all its requests are answered when it ends).
    #[arg(long, value_name = "SEC", default_value_t = 10.0)]
    batch_audio_seconds: f64,
    /// Most recordings in one engine batch.
    #[arg(long, default_value_t = 32)]
    max_batch: usize,
    /// How long a batch waits for more requests once one is queued (Triton's
    /// max_queue_delay), in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 0)]
    batch_delay_ms: u64,
    /// Longest a request waits for the engine before a 503, in seconds (a full queue of 3 s
    /// requests on 2 cores takes minutes to drain; a full queue is refused at once).
    #[arg(long, value_name = "SEC", default_value_t = 300.0)]
    request_timeout: f64,
    /// The weights' licence as stated by GET /v1/model (default: CC-BY-NC-4.0 for the official
    /// file from the hub; for --model, say what your archive's is).
    #[arg(long)]
    licence: Option<String>,
}

/// Serves until SIGTERM or Ctrl-C, then shuts down gracefully.
pub fn run(args: Args, options: Options) -> Result<ExitCode> {
    let path = model_source::resolve(&args.model)?;
    let model = Ecapa2::load_with(&path, options)
        .with_context(|| format!("cannot load model {}", path.display()))?;
    let model_id = ecapa2_hub::file_sha256(&path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    let registry = match &args.db {
        Some(db) => Some(open_registry(db, &model, &model_id, &args.registry_label)?),
        None => None,
    };
    let licence = args.licence.clone().unwrap_or_else(|| {
        if args.model.model.is_none() {
            "CC-BY-NC-4.0 (Jenthe/ECAPA2)".into()
        } else {
            "not stated (the official ecapa2.pt is CC-BY-NC-4.0; pass --licence)".into()
        }
    });
    if !(args.request_timeout.is_finite() && args.request_timeout > 0.0) {
        anyhow::bail!("--request-timeout must be a positive number of seconds");
    }
    let config = ServiceConfig {
        limits: Limits {
            max_body_bytes: args.max_body,
            max_audio_s: args.max_audio_seconds,
            request_timeout: Duration::from_secs_f64(args.request_timeout),
            ..Limits::default()
        },
        batch: BatchConfig {
            queue_len: args.queue_len.max(1),
            queue_audio_s: args.queue_audio_seconds,
            batch_audio_s: args.batch_audio_seconds,
            max_batch: args.max_batch.max(1),
            max_delay: Duration::from_millis(args.batch_delay_ms),
        },
        api_key: args.api_key.clone().filter(|k| !k.is_empty()),
        licence,
    };
    tracing::info!(
        "model {} ({}, {} threads)",
        model_id,
        model.backend_name(),
        model.threads()
    );
    let service = Service::new(Arc::new(model), model_id, registry, config)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("ecapa2-http")
        .build()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(&args.addr)
            .await
            .with_context(|| format!("cannot listen on {}", args.addr))?;
        let addr = listener.local_addr()?;
        // On stdout, for scripts and tests that start the server on port 0.
        println!("listening on http://{addr}");
        std::io::stdout().flush()?;
        service.serve(listener, shutdown_signal()).await?;
        Ok::<_, anyhow::Error>(())
    })?;
    Ok(ExitCode::SUCCESS)
}

/// Opens the registry, creating it for this model if the file is missing or empty (the
/// service checks that an existing one holds this model's embeddings).
fn open_registry(db: &PathBuf, model: &Ecapa2, model_id: &str, label: &str) -> Result<Registry> {
    let labels: ecapa2::LabelSet = label.parse().map_err(crate::engine_error)?;
    let identity = ModelIdentity {
        model: model_id.to_string(),
        label: label.to_string(),
        dim: model.dim(labels),
    };
    Ok(Registry::open_or_create(db, &identity)?)
}

/// SIGTERM (what service managers send) or Ctrl-C.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {},
                    _ = tokio::signal::ctrl_c() => {},
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
