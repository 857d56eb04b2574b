//! `ecapa2`: ECAPA2 speaker embeddings from the command line.

mod commands;
mod inputs;
mod model_source;
mod pipeline;
mod progress;
mod windows;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// ECAPA2 speaker embeddings in pure Rust: embed audio, score trials, compute EER.
#[derive(Parser)]
#[command(name = "ecapa2", version, about)]
struct Cli {
    /// Worker threads (default: $ECAPA2_NUM_THREADS, else the number of physical cores).
    #[arg(long, global = true)]
    threads: Option<usize>,
    /// Memory one utterance's activations may use, e.g. 2G (default: $ECAPA2_MAX_MEMORY, else
    /// 80 % of available memory). Longer inputs run exactly over time tiles, slower, spilling
    /// to --spill-dir when even that does not fit.
    #[arg(long, global = true, value_name = "SIZE", value_parser = parse_size)]
    max_memory: Option<usize>,
    /// Directory for long inputs' spill files (default: the system temporary directory).
    #[arg(long, global = true, value_name = "DIR")]
    spill_dir: Option<std::path::PathBuf>,
    /// Precision of the 3×3 convolutions: f32 (default), or the opt-in AMX-BF16 modes bf16
    /// (fastest, least accurate) and bf16x3 (split operands, close to f32). Without AMX-BF16
    /// they run f32, with a warning. See docs/BENCHMARKS.md for their measured accuracy.
    #[arg(long, global = true, value_name = "P", default_value = "f32", value_parser = parse_precision)]
    precision: ecapa2::Precision,
    /// More log output (-v info, -vv debug); RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    /// Only errors on stderr.
    #[arg(short, long, global = true)]
    quiet: bool,
    #[command(subcommand)]
    command: Command,
}

fn parse_precision(s: &str) -> Result<ecapa2::Precision, String> {
    ecapa2::Precision::parse(s).ok_or_else(|| format!("{s:?}: expected f32, bf16 or bf16x3"))
}

fn parse_size(s: &str) -> Result<usize, String> {
    ecapa2::memory::parse_size(s).ok_or_else(|| format!("{s:?} is not a size like 2G or 1500M"))
}

#[derive(Subcommand)]
enum Command {
    /// Embed audio files, folders or file lists into .npy / .jsonl / Kaldi ark.
    Embed(commands::embed::Args),
    /// Cosine similarity between the embeddings of two audio files.
    Score(commands::score::Args),
    /// EER and minDCF over a trial list (VoxCeleb or Kaldi format).
    Eval(commands::eval::Args),
    /// Print an archive's module tree, tensors, and whether it binds to the network.
    Inspect(commands::inspect::Args),
    /// Fetch the official ecapa2.pt into the Hugging Face cache.
    Download(commands::download::Args),
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
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .without_time()
        .init();
    let options = ecapa2::Options {
        threads: cli.threads,
        max_memory: cli.max_memory,
        spill_dir: cli.spill_dir,
        precision: cli.precision,
        ..ecapa2::Options::default()
    };
    let result = match cli.command {
        Command::Embed(a) => commands::embed::run(a, options),
        Command::Score(a) => commands::score::run(a, options),
        Command::Eval(a) => commands::eval::run(a, options),
        Command::Inspect(a) => commands::inspect::run(a, options),
        Command::Download(a) => commands::download::run(a),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
