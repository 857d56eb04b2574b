//! `ecapa2`: ECAPA2 speaker embeddings from the command line.

#![forbid(unsafe_code)]

mod commands;
mod inputs;
mod model_source;
mod pipeline;
mod progress;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// ECAPA2 speaker embeddings in pure Rust: embed audio, score trials, compute EER.
#[derive(Parser)]
#[command(
    name = "ecapa2",
    version,
    about,
    after_help = "Exit status: 0 success, 1 fatal error (nothing done), 2 some inputs failed \
                  (the others' results are written) or bad usage."
)]
struct Cli {
    /// Worker threads (default: the number of physical cores).
    #[arg(long, global = true, env = THREADS_ENV)]
    threads: Option<usize>,
    /// Memory budget for activations, shared by the model's concurrent calls, e.g. 2G
    /// (default: 80 % of the memory available at load). Longer inputs run exactly over time
    /// tiles, slower, spilling to --spill-dir when even that does not fit.
    #[arg(long, global = true, value_name = "SIZE", value_parser = parse_size, env = MEMORY_ENV)]
    max_memory: Option<usize>,
    /// Directory for long inputs' spill files (default: the system temporary directory).
    #[arg(long, global = true, value_name = "DIR")]
    spill_dir: Option<std::path::PathBuf>,
    /// Precision of the heavy products (default: the device's, f32 on the CPU, f16 on CUDA).
    /// On the CPU also the opt-in AMX-BF16 modes bf16 (fastest, least accurate) and bf16x3
    /// (split operands, close to f32); without AMX-BF16 they run f32, with a warning. See
    /// docs/BENCHMARKS.md for their measured accuracy.
    #[arg(long, global = true, value_name = "P", value_parser = parse_precision)]
    precision: Option<ecapa2::Precision>,
    /// Device to run on: cpu (the default), or cuda / cuda:N (experimental; needs a build
    /// with `--features cuda`, an NVIDIA driver and the CUDA 12 or 13 cuBLAS and NVRTC
    /// libraries, searched first in the colon-separated folders of ECAPA2_CUDA_LIBRARY_PATH).
    #[arg(long, global = true, value_name = "D", default_value = "cpu", value_parser = parse_device)]
    device: ecapa2::Device,
    /// Skip the load-time self-check of a GPU device (a short synthetic utterance through
    /// the CPU and the device, compared within tolerance; a device that disagrees refuses to
    /// load). Only for a device verified otherwise.
    #[arg(long, global = true)]
    skip_self_check: bool,
    /// More log output (-v info, -vv debug); RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    /// Only errors on stderr.
    #[arg(short, long, global = true)]
    quiet: bool,
    #[command(subcommand)]
    command: Command,
}

/// The environment variable behind `--threads` (the library reads none).
const THREADS_ENV: &str = "ECAPA2_NUM_THREADS";
/// The environment variable behind `--max-memory`.
const MEMORY_ENV: &str = "ECAPA2_MAX_MEMORY";
/// Folders holding the CUDA libraries (cuBLAS, NVRTC), colon-separated, searched before the
/// system loader path when the device is CUDA.
const CUDA_LIBRARY_ENV: &str = "ECAPA2_CUDA_LIBRARY_PATH";

/// The options of the global flags: device, precision (only when given, so that the device's
/// default applies), self-check, threads, memory budget, spill folder and, for CUDA, the
/// library folders of `ECAPA2_CUDA_LIBRARY_PATH`.
fn engine_options(cli: &Cli) -> ecapa2::Options {
    let mut options = ecapa2::Options::new()
        .device(cli.device)
        .skip_self_check(cli.skip_self_check);
    if let Some(p) = cli.precision {
        options = options.precision(p);
    }
    if let Some(t) = cli.threads.filter(|&t| t > 0) {
        options = options.threads(t);
    }
    if let Some(m) = cli.max_memory {
        options = options.max_memory(m);
    }
    if let Some(d) = &cli.spill_dir {
        options = options.spill_dir(d.clone());
    }
    if matches!(cli.device, ecapa2::Device::Cuda(_)) {
        options = options.library_dirs(cuda_library_dirs());
        warn_experimental(cli.device);
    }
    options
}

/// The folders of `ECAPA2_CUDA_LIBRARY_PATH`, in order (empty entries skipped).
fn cuda_library_dirs() -> Vec<std::path::PathBuf> {
    std::env::var_os(CUDA_LIBRARY_ENV)
        .map(|v| {
            std::env::split_paths(&v)
                .filter(|p| !p.as_os_str().is_empty())
                .collect()
        })
        .unwrap_or_default()
}

/// Until a device run has passed, a CUDA device is experimental: said once per process (every
/// command, `serve` included, builds its options here once). A build without the `cuda`
/// feature says nothing: loading fails with its own one-line reason.
fn warn_experimental(device: ecapa2::Device) {
    if cfg!(feature = "cuda") {
        tracing::warn!(
            "{device}: CUDA support is experimental: not yet verified on a GPU by this project's \
             device run"
        );
    }
}

fn parse_precision(s: &str) -> Result<ecapa2::Precision, String> {
    s.parse()
        .map_err(|e: ecapa2::UnknownPrecision| e.to_string())
}

fn parse_device(s: &str) -> Result<ecapa2::Device, String> {
    s.parse().map_err(|e: ecapa2::UnknownDevice| e.to_string())
}

pub(crate) fn parse_size(s: &str) -> Result<usize, String> {
    ecapa2::parse_size(s).ok_or_else(|| format!("{s:?} is not a size like 2G or 1500M"))
}

/// An error and its causes on one line, each cause once: many errors already put their source
/// in their own message (`…: cannot read file: No such file or directory`), which the
/// alternate `{:#}` form would print a second time.
pub(crate) fn error_chain(e: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if !line.contains(&text) {
            if !line.is_empty() {
                line.push_str(": ");
            }
            line.push_str(&text);
        }
    }
    line
}

/// An engine error with the flag that fixes it, where one does: the engine says what is
/// wrong, the command line says how to change it.
pub(crate) fn engine_error(e: ecapa2::Error) -> anyhow::Error {
    let hint = match &e {
        ecapa2::Error::TooLong { .. } => Some(format!(
            "raise --max-memory (or {MEMORY_ENV}), or embed in windows with --window SEC --hop SEC"
        )),
        ecapa2::Error::Spill { .. } => {
            Some("choose another directory with --spill-dir (or TMPDIR)".to_string())
        }
        _ => None,
    };
    match hint {
        Some(h) => anyhow::anyhow!("{e} ({h})"),
        None => e.into(),
    }
}

#[derive(Subcommand)]
enum Command {
    /// Embed audio files, folders or file lists into .npy / .jsonl / Kaldi ark.
    Embed(commands::embed::Args),
    /// Cosine similarity between the embeddings of two audio files.
    Score(commands::score::Args),
    /// EER and minDCF over a trial list (VoxCeleb or Kaldi format), optionally a DET plot.
    Eval(commands::eval::Args),
    /// DET curves of score files on one plot (.svg or .png), EER and minDCF marked.
    PlotDet(commands::plot_det::Args),
    /// Print an archive's module tree, tensors, and whether it binds to the network.
    Inspect(commands::inspect::Args),
    /// Fetch the official ecapa2.pt into the Hugging Face cache.
    Download(commands::download::Args),
    /// A speaker registry in SQLite: create, enroll, remove, list, verify, identify,
    /// set-threshold.
    Registry(commands::registry::Args),
    /// Who spoke when: speaker turns of each file as RTTM or JSON (Silero VAD, ECAPA2
    /// windows, NME-SC or AHC clustering).
    Diarize(commands::diarize::Args),
    /// DER (missed, false alarm, confusion) and JER of a hypothesis RTTM against a reference.
    Der(commands::der::Args),
    /// HTTP service: embeddings, scores, and the speaker registry (--db), with dynamic
    /// batching, limits, Prometheus metrics and an OpenAPI description.
    Serve(commands::serve::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let default_level = match (cli.quiet, cli.verbose) {
        (true, _) => "error",
        (false, 0) => "warn,ecapa2=info,ecapa2_cli=info,symphonia=off,symphonia_core=off",
        (false, 1) => "info,symphonia=off,symphonia_core=off",
        (false, _) => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_level));
    // Colour only on a terminal: a redirected stderr gets plain text.
    let colour = std::io::IsTerminal::is_terminal(&std::io::stderr());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(colour)
        .with_writer(std::io::stderr)
        .with_target(false)
        .without_time()
        .init();
    // Values flow one way: flags (or their environment variables) → Options → the model.
    let options = engine_options(&cli);
    let result = match cli.command {
        Command::Embed(a) => commands::embed::run(a, options),
        Command::Score(a) => commands::score::run(a, options),
        Command::Eval(a) => commands::eval::run(a, options),
        Command::PlotDet(a) => commands::plot_det::run(a),
        Command::Inspect(a) => commands::inspect::run(a, options),
        Command::Download(a) => commands::download::run(a),
        Command::Registry(a) => commands::registry::run(a, options),
        Command::Serve(a) => commands::serve::run(a, options),
        Command::Diarize(a) => commands::diarize::run(a, options),
        Command::Der(a) => commands::der::run(a),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {}", error_chain(&e));
            ExitCode::FAILURE
        }
    }
}
