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
    /// File holding the API key (bearer token) that every endpoint but /healthz, /readyz,
    /// /metrics and /openapi.json then needs; the environment variable ECAPA2_API_KEY also
    /// sets it.
    #[arg(long, value_name = "PATH", conflicts_with = "api_key")]
    api_key_file: Option<PathBuf>,
    /// The API key itself (visible to other users in `ps`: prefer --api-key-file or
    /// ECAPA2_API_KEY).
    #[arg(long)]
    api_key: Option<String>,
    /// Largest request body.
    #[arg(long, value_name = "SIZE", default_value = "64M", value_parser = crate::parse_size)]
    max_body: usize,
    /// Longest audio per recording, in seconds after decoding.
    #[arg(long, value_name = "SEC", default_value_t = 600.0, value_parser = positive_seconds)]
    max_audio_seconds: f64,
    /// Most requests in flight (the probes and /metrics aside); beyond it, 503 at once.
    #[arg(long, default_value_t = 512)]
    max_concurrent_requests: usize,
    /// Most request-body bytes in flight; a request that does not fit is refused 503 at once,
    /// before its body is read (at least --max-body).
    #[arg(long, value_name = "SIZE", default_value = "256M", value_parser = crate::parse_size)]
    max_inflight_bytes: usize,
    /// Longest a client may take to send a request's headers, counted from the connection's
    /// start or the previous response (so it also closes idle keep-alive connections).
    #[arg(long, value_name = "SEC", default_value_t = 30.0, value_parser = positive_seconds)]
    header_timeout: f64,
    /// Longest a client may take to send a request's body, counted from its headers (408).
    #[arg(long, value_name = "SEC", default_value_t = 60.0, value_parser = positive_seconds)]
    body_timeout: f64,
    /// On SIGTERM/Ctrl-C, how long requests in flight may take to finish before their
    /// connections are closed (a second signal exits at once).
    #[arg(long, value_name = "SEC", default_value_t = 30.0, value_parser = positive_seconds)]
    shutdown_timeout: f64,
    /// Most requests waiting for the engine; beyond it, 503 with Retry-After.
    #[arg(long, default_value_t = 128)]
    queue_len: usize,
    /// Most seconds of audio waiting for the engine (bounds the queue's memory).
    #[arg(long, value_name = "SEC", default_value_t = 1800.0, value_parser = positive_seconds)]
    queue_audio_seconds: f64,
    /// Most seconds of audio in one engine batch (all its requests are answered when it ends).
    #[arg(long, value_name = "SEC", default_value_t = 10.0, value_parser = positive_seconds)]
    batch_audio_seconds: f64,
    /// Most recordings in one engine batch.
    #[arg(long, default_value_t = 32)]
    max_batch: usize,
    /// How long a batch waits for more requests once one is queued (Triton's
    /// max_queue_delay), in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 0)]
    batch_delay_ms: u64,
    /// Longest a request waits in the queue for the engine before a 503, in seconds (a full
    /// queue of 3 s requests on 2 cores takes minutes to drain; a full queue is refused at
    /// once). A request the engine has started is answered however long it takes.
    #[arg(long, value_name = "SEC", default_value_t = 300.0, value_parser = positive_seconds)]
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
    if args.max_inflight_bytes < args.max_body {
        anyhow::bail!(
            "--max-inflight-bytes ({}) is below --max-body ({}): no body that size could be admitted",
            args.max_inflight_bytes,
            args.max_body
        );
    }
    let api_key = api_key(&args)?;
    let config = ServiceConfig {
        limits: Limits {
            max_body_bytes: args.max_body,
            max_audio_s: args.max_audio_seconds,
            request_timeout: Duration::from_secs_f64(args.request_timeout),
            header_timeout: Duration::from_secs_f64(args.header_timeout),
            body_timeout: Duration::from_secs_f64(args.body_timeout),
            shutdown_timeout: Duration::from_secs_f64(args.shutdown_timeout),
            max_requests: args.max_concurrent_requests.max(1),
            max_inflight_bytes: args.max_inflight_bytes,
            ..Limits::default()
        },
        batch: BatchConfig {
            queue_len: args.queue_len.max(1),
            queue_audio_s: args.queue_audio_seconds,
            batch_audio_s: args.batch_audio_seconds,
            max_batch: args.max_batch.max(1),
            max_delay: Duration::from_millis(args.batch_delay_ms),
        },
        api_key,
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
    // Decodes of requests cut off at the shutdown deadline may still run on blocking
    // threads: do not wait for them.
    runtime.shutdown_timeout(Duration::from_secs(1));
    Ok(ExitCode::SUCCESS)
}

/// A number of seconds that is finite and above zero (NaN would disable a limit).
fn positive_seconds(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 => Ok(v),
        _ => Err(format!("{s:?} is not a positive, finite number of seconds")),
    }
}

/// The API key from --api-key-file, --api-key or ECAPA2_API_KEY (in that order); an empty
/// one is refused rather than taken as "no authentication".
fn api_key(args: &Args) -> Result<Option<String>> {
    let (key, source) = if let Some(path) = &args.api_key_file {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read --api-key-file {}", path.display()))?;
        (
            text.trim().to_string(),
            format!("--api-key-file {}", path.display()),
        )
    } else if let Some(key) = &args.api_key {
        tracing::warn!(
            "--api-key is visible to other users of this machine (ps); prefer --api-key-file or ECAPA2_API_KEY"
        );
        (key.clone(), "--api-key".to_string())
    } else {
        match std::env::var("ECAPA2_API_KEY") {
            Ok(key) => (key, "ECAPA2_API_KEY".to_string()),
            Err(std::env::VarError::NotPresent) => return Ok(None),
            Err(e) => anyhow::bail!("ECAPA2_API_KEY: {e}"),
        }
    };
    if key.trim().is_empty() {
        anyhow::bail!("the API key from {source} is empty (omit it to serve without a key)");
    }
    if key.chars().any(|c| c.is_whitespace() || c.is_control()) {
        anyhow::bail!("the API key from {source} contains spaces or control characters");
    }
    Ok(Some(key))
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

/// The first SIGTERM or Ctrl-C starts a graceful shutdown; a second one exits at once.
async fn shutdown_signal() {
    signal().await;
    tokio::spawn(async {
        signal().await;
        tracing::warn!("second signal: exiting now");
        std::process::exit(130);
    });
}

/// SIGTERM (what service managers send) or Ctrl-C.
async fn signal() {
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
