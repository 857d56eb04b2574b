//! `ecapa2 embed`: files, folders and lists in; .npy (+ .keys), JSONL or Kaldi ark out.

use crate::model_source::{self, ModelArgs};
use crate::pipeline::{self, EmbedOptions};
use crate::{inputs, progress};
use anyhow::{bail, Context, Result};
use ecapa2::{LabelSet, Options};
use ecapa2_audio::ChannelMode;
use ecapa2_eval::embeddings::jsonl;
use ecapa2_eval::EmbeddingStore;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `ecapa2 embed`.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    model: ModelArgs,
    /// Features to output: '|'-separated among gfe_1, gfe_2, pool, attention, embedding
    /// (concatenated in network order).
    #[arg(long, default_value = "embedding")]
    label: String,
    /// Output file: .npy (+ a .keys file beside it), .jsonl, .ark or .scp (+ .ark). Without
    /// it, JSON lines go to stdout.
    #[arg(long, short)]
    out: Option<PathBuf>,
    /// Multi-channel files: `mix` to mono, or `separate` (one output per channel).
    #[arg(long, default_value = "mix", value_parser = ["mix", "separate"])]
    channels: String,
    /// Window length in seconds: one output per window (see --hop).
    #[arg(long)]
    window: Option<f64>,
    /// Hop between windows in seconds (default: the window length).
    #[arg(long, requires = "window")]
    hop: Option<f64>,
    /// Keep what decodes of a damaged compressed file (a bad packet, a file cut short), with a
    /// warning, instead of failing that file.
    #[arg(long)]
    keep_partial: bool,
    /// Text files listing one audio path per line.
    #[arg(long)]
    list: Vec<PathBuf>,
    /// Audio files, folders (searched recursively for wav/w64/rf64/flac/mp3/ogg) or @list files.
    inputs: Vec<PathBuf>,
}

/// Runs the command; exit code 2 when some files failed (the others are still written).
pub fn run(args: Args, options: Options) -> Result<ExitCode> {
    let labels: LabelSet = args.label.parse()?;
    let files = inputs::expand(&args.inputs, &args.list)?;
    let window = match (args.window, args.hop) {
        (None, _) => None,
        (Some(w), h) => {
            let h = h.unwrap_or(w);
            if !(w > 0.0 && h > 0.0 && w.is_finite() && h.is_finite()) {
                bail!("--window and --hop must be positive seconds");
            }
            let rate = ecapa2::SAMPLE_RATE as f64;
            Some(((w * rate).round() as usize, (h * rate).round() as usize))
        }
    };
    let model = model_source::load(&args.model, options)?;
    if let Some((w, _)) = window {
        if w < model.min_samples() {
            bail!(
                "--window must be at least {} samples ({:.3} s)",
                model.min_samples(),
                model.min_samples() as f64 / 16000.0
            );
        }
    }
    let channels = if args.channels == "separate" {
        ChannelMode::Separate
    } else {
        ChannelMode::Mix
    };
    let opts = EmbedOptions {
        labels,
        channels,
        window,
    };
    let label = labels.to_string();

    let bar = progress::items_bar(files.len() as u64, "embedding");
    let mut store = EmbeddingStore::new();
    let mut stdout = std::io::stdout().lock();
    let mut failed = 0usize;
    let mut write_error = None;
    pipeline::run(&model, &files, opts, args.keep_partial, |path, result| {
        bar.inc(1);
        match result {
            Ok(items) => {
                for item in items {
                    if args.out.is_some() {
                        if let Err(e) =
                            store.insert_labeled(item.key, item.vector, Some(label.clone()))
                        {
                            bar.suspend(|| eprintln!("error: {}: {e}", path.display()));
                            failed += 1;
                        }
                    } else {
                        // Stream: one JSON line as soon as each file is done.
                        let mut one = EmbeddingStore::new();
                        let written = one
                            .insert_labeled(item.key, item.vector, Some(label.clone()))
                            .map_err(anyhow::Error::from)
                            .and_then(|_| {
                                jsonl::write(&one, &mut stdout).map_err(anyhow::Error::from)
                            })
                            .and_then(|_| stdout.flush().map_err(anyhow::Error::from));
                        if let Err(e) = written {
                            write_error.get_or_insert(e);
                        }
                    }
                }
            }
            Err(e) => {
                failed += 1;
                bar.suspend(|| eprintln!("error: {}", crate::error_chain(&e)));
            }
        }
    });
    bar.finish_and_clear();
    if let Some(e) = write_error {
        return Err(e.context("cannot write to stdout"));
    }
    if let Some(out) = &args.out {
        // Always written (atomically: temporary file + rename), even empty: a previous run's
        // file left in place would look like this run's results.
        store
            .save(out)
            .with_context(|| format!("cannot write {}", out.display()))?;
        if store.is_empty() {
            tracing::warn!(
                "no input succeeded: wrote an empty result (0 vectors) to {}",
                out.display()
            );
        } else {
            tracing::info!(
                "wrote {} vectors of dimension {} to {}",
                store.len(),
                model.dim(labels),
                out.display()
            );
        }
    }
    if failed > 0 {
        eprintln!("{failed} of {} files failed", files.len());
        return Ok(ExitCode::from(2));
    }
    Ok(ExitCode::SUCCESS)
}
