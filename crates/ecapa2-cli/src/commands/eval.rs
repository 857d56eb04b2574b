//! `ecapa2 eval TRIALS`: embed every file of a trial list once (with a reusable cache), score
//! by cosine (optionally AS-norm), and report EER and minDCF.

use crate::inputs;
use crate::model_source::{self, ModelArgs};
use crate::pipeline::{self, EmbedOptions};
use crate::progress;
use anyhow::{bail, Context, Result};
use ecapa2::{LabelSet, Options};
use ecapa2_audio::ChannelMode;
use ecapa2_eval::{AsNorm, EmbeddingFormat, EmbeddingStore};
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
}

/// Runs the evaluation.
pub fn run(args: Args, options: Options) -> Result<ExitCode> {
    let list = ecapa2_eval::read_trials(&args.trials)?;
    // Two columns (`enroll test`) carry no labels, so no EER: refuse rather than "succeed"
    // with nothing to report, unless only the scores were asked for.
    if !list.is_labeled() && args.scores.is_none() {
        anyhow::bail!(
            "{}: the trial list has no labels (2 columns: `enroll test`), so there is no EER to \
             compute; use `1|0 enroll test` (VoxCeleb) or `enroll test target|nontarget` \
             (Kaldi), or pass --scores FILE to only score the pairs",
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
    if let Some(model) = &model {
        let files: Vec<PathBuf> = missing.iter().map(|k| root.join(k)).collect();
        embed_into(model, &files, &missing, &mut store)?;
        if let Some(cache) = &args.cache {
            store
                .save(cache)
                .with_context(|| format!("cannot write cache {}", cache.display()))?;
        }
    }
    let mut scored = ecapa2_eval::score_trials(&list.trials, &store)?;
    if let Some(cohort) = &args.cohort {
        let cohort_store = if cohort_is_audio {
            let files = inputs::expand(&[], std::slice::from_ref(cohort))?;
            let keys: Vec<String> = files.iter().map(|p| p.display().to_string()).collect();
            let mut s = EmbeddingStore::new();
            let model = model
                .as_ref()
                .context("a model is needed to embed the cohort")?;
            embed_into(model, &files, &keys, &mut s)?;
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
        return Ok(ExitCode::SUCCESS);
    }
    let (target, nontarget) = ecapa2_eval::split_by_label(&scored)?;
    let m = ecapa2_eval::compute_metrics(&target, &nontarget)?;
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
    Ok(ExitCode::SUCCESS)
}

/// Embeds `files` and stores each under the matching key; any failure stops the evaluation
/// (an EER over a silently shrunken trial list would be misleading).
fn embed_into(
    model: &ecapa2::Ecapa2,
    files: &[PathBuf],
    keys: &[String],
    store: &mut EmbeddingStore,
) -> Result<()> {
    let opts = EmbedOptions {
        labels: LabelSet::embedding(),
        channels: ChannelMode::Mix,
        window: None,
    };
    let bar = progress::items_bar(files.len() as u64, "embedding");
    let mut first_error = None;
    let mut i = 0;
    pipeline::run(model, files, opts, |path, result| {
        bar.inc(1);
        let key = &keys[i];
        i += 1;
        match result.and_then(|mut items| items.pop().context("no audio")) {
            Ok(item) => {
                if let Err(e) = store.insert(key.clone(), item.vector) {
                    first_error
                        .get_or_insert(anyhow::Error::from(e).context(path.display().to_string()));
                }
            }
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    });
    bar.finish_and_clear();
    if let Some(e) = first_error {
        bail!("{e:#}");
    }
    Ok(())
}
