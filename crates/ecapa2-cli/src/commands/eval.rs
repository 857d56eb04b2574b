//! `ecapa2 eval TRIALS`: embed every file of a trial list once (with a reusable cache), score
//! by cosine (optionally AS-norm), and report EER and minDCF.

use crate::commands::plot_det;
use crate::inputs;
use crate::model_source::{self, ModelArgs};
use crate::pipeline::{self, EmbedOptions};
use crate::progress;
use anyhow::{bail, Context, Result};
use ecapa2::{LabelSet, Options};
use ecapa2_audio::ChannelMode;
use ecapa2_eval::det_plot::DetSeries;
use ecapa2_eval::{AsNorm, DetCurve, EmbeddingFormat, EmbeddingStore};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Arguments of `ecapa2 eval`.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    model: ModelArgs,
    /// Trial list: VoxCeleb (`1 enroll.wav test.wav`) or Kaldi (`enroll test target|nontarget`).
    trials: PathBuf,
    /// Folder the trial list's paths are relative to (default: the list's folder).
    #[arg(long)]
    audio_root: Option<PathBuf>,
    /// Embedding cache (.jsonl, .npy, .ark/.scp): read if present, completed, written back.
    #[arg(long)]
    cache: Option<PathBuf>,
    /// AS-norm cohort: an embeddings file (.npy/.jsonl/.ark/.scp) or a list of audio files.
    #[arg(long)]
    cohort: Option<PathBuf>,
    /// AS-norm top-N (default 300, capped at the cohort size).
    #[arg(long)]
    top_n: Option<usize>,
    /// Write per-trial scores here (`enroll test score [target|nontarget]`).
    #[arg(long)]
    scores: Option<PathBuf>,
    /// Draw the DET curve with its EER and minDCF points here (.svg or .png).
    #[arg(long, value_name = "FILE", value_parser = plot_det::plot_path)]
    plot: Option<PathBuf>,
}

/// Runs the evaluation.
pub fn run(args: Args, options: Options) -> Result<ExitCode> {
    let list = ecapa2_eval::read_trials(&args.trials)?;
    // Two columns (`enroll test`) carry no labels, so no EER or DET curve: refuse rather than
    // "succeed" with nothing to report, unless only the scores were asked for.
    if !list.is_labeled() && (args.scores.is_none() || args.plot.is_some()) {
        anyhow::bail!(
            "{}: the trial list has no labels (2 columns: `enroll test`), so there is no EER or \
             DET curve to compute; use `1|0 enroll test` (VoxCeleb) or \
             `enroll test target|nontarget` (Kaldi), or pass --scores FILE (without --plot) to \
             only score the pairs",
            args.trials.display()
        );
    }
    let root = args
        .audio_root
        .clone()
        .unwrap_or_else(|| args.trials.parent().unwrap_or(Path::new("")).to_path_buf());
    let mut store = match &args.cache {
        Some(c) => EmbeddingStore::load_if_exists(c)?,
        None => EmbeddingStore::new(),
    };
    let missing: Vec<String> = list
        .unique_keys()
        .into_iter()
        .filter(|k| !store.contains(k))
        .map(String::from)
        .collect();
    let cohort_is_audio = args
        .cohort
        .as_ref()
        .is_some_and(|c| EmbeddingFormat::from_path(c).is_err());
    let needs_model = !missing.is_empty() || cohort_is_audio;
    let model = if needs_model {
        Some(model_source::load(&args.model, options)?)
    } else {
        None
    };
    let mut failed_files = 0;
    if let Some(model) = &model {
        let files: Vec<PathBuf> = missing.iter().map(|k| root.join(k)).collect();
        let failures = embed_into(model, &files, &missing, &mut store);
        // Computed work is never lost: the cache is written even when some files failed.
        if let Some(cache) = &args.cache {
            store
                .save(cache)
                .with_context(|| format!("cannot write cache {}", cache.display()))?;
        }
        for e in &failures {
            eprintln!("error: {}", crate::error_chain(e));
        }
        failed_files = failures.len();
    }
    // Trials whose files failed are skipped, and said so; the exit status is then 2, as for
    // `embed` with failed inputs.
    let scorable: Vec<_> = list
        .trials
        .iter()
        .filter(|t| store.contains(&t.enroll) && store.contains(&t.test))
        .cloned()
        .collect();
    let skipped = list.trials.len() - scorable.len();
    if skipped > 0 {
        eprintln!(
            "{failed_files} files failed: skipped {skipped} of {} trials; the scores and metrics \
             below are over the other {}",
            list.trials.len(),
            scorable.len()
        );
    }
    if scorable.is_empty() {
        bail!("no trial could be scored");
    }
    let status = if skipped > 0 {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    };
    let mut scored = ecapa2_eval::score_trials(&scorable, &store)?;
    if let Some(cohort) = &args.cohort {
        let cohort_store = if cohort_is_audio {
            let files = inputs::expand(&[], std::slice::from_ref(cohort))?;
            let keys: Vec<String> = files.iter().map(|p| p.display().to_string()).collect();
            let mut s = EmbeddingStore::new();
            let model = model
                .as_ref()
                .context("a model is needed to embed the cohort")?;
            if let Some(e) = embed_into(model, &files, &keys, &mut s).into_iter().next() {
                bail!("cohort: {}", crate::error_chain(&e));
            }
            s
        } else {
            EmbeddingStore::load(cohort)?
        };
        let norm = AsNorm::from_store(&cohort_store, args.top_n)?;
        scored = norm.normalize_trials(&scored, &store)?;
        println!(
            "AS-norm: cohort {} embeddings, top-{}",
            norm.cohort_len(),
            norm.top_n()
        );
    }
    if let Some(out) = &args.scores {
        ecapa2_eval::save_scores(out, &scored)?;
    }
    if !list.is_labeled() {
        println!(
            "{} trials scored and written to --scores (unlabelled list: no EER)",
            scored.len()
        );
        return Ok(status);
    }
    let (target, nontarget) = ecapa2_eval::split_by_label(&scored)?;
    // One sweep gives the metrics and the plotted curve, so the markers lie on the curve.
    let curve = DetCurve::new(&target, &nontarget)?;
    let m = curve.metrics();
    println!(
        "trials: {} ({} target, {} nontarget)",
        scored.len(),
        m.n_target,
        m.n_nontarget
    );
    println!(
        "EER: {:.3} % (threshold {:.4})",
        100.0 * m.eer.eer,
        m.eer.threshold
    );
    for d in &m.min_dcf {
        println!(
            "minDCF(p_target={}): {:.4} (threshold {:.4})",
            d.params.p_target, d.min_dcf, d.threshold
        );
    }
    if let Some(plot) = &args.plot {
        let name = args.trials.file_name().map_or_else(
            || args.trials.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        plot_det::write_plot(plot, &[DetSeries::new(&name, &curve)], None)?;
    }
    Ok(status)
}

/// Embeds `files` and stores each under the matching key; returns the failures (each names
/// its file), so that the caller keeps what was computed.
fn embed_into(
    model: &ecapa2::Ecapa2,
    files: &[PathBuf],
    keys: &[String],
    store: &mut EmbeddingStore,
) -> Vec<anyhow::Error> {
    let opts = EmbedOptions {
        labels: LabelSet::embedding(),
        channels: ChannelMode::Mix,
        window: None,
    };
    let bar = progress::items_bar(files.len() as u64, "embedding");
    let mut failures = Vec::new();
    let mut i = 0;
    pipeline::run(model, files, opts, false, |path, result| {
        bar.inc(1);
        let key = &keys[i];
        i += 1;
        match result.and_then(|mut items| items.pop().context("no audio")) {
            Ok(item) => {
                if let Err(e) = store.insert(key.clone(), item.vector) {
                    failures.push(anyhow::Error::from(e).context(path.display().to_string()));
                }
            }
            Err(e) => failures.push(e),
        }
    });
    bar.finish_and_clear();
    failures
}
