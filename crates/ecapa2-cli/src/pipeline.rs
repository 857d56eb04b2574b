//! Files in, embeddings out: decode a few files in parallel while the model (which spreads
//! each utterance over its own thread pool) embeds them one at a time.

use anyhow::Result;
use ecapa2::{Ecapa2, LabelSet};
use ecapa2_audio::{ChannelMode, LoadOptions, Loaded};
use ecapa2_diarize::windows;
use rayon::prelude::*;
use std::path::{Path, PathBuf};

/// What to compute per file.
#[derive(Debug, Clone, Copy)]
pub struct EmbedOptions {
    /// Features to return.
    pub labels: LabelSet,
    /// Mix channels, or one output per channel.
    pub channels: ChannelMode,
    /// `(window, hop)` in samples at 16 kHz: one output per window.
    pub window: Option<(usize, usize)>,
}

/// One output vector.
#[derive(Debug, Clone)]
pub struct Embedded {
    /// `path`, `path#ch1` for separate channels, `path@12.00-15.00` for windows.
    pub key: String,
    /// The features.
    pub vector: Vec<f32>,
}

/// Embeds files in order, calling `sink` once per file with its outputs or its error.
/// `keep_partial`: keep what decodes of a damaged compressed file instead of failing it.
pub fn run(
    model: &Ecapa2,
    files: &[PathBuf],
    opts: EmbedOptions,
    keep_partial: bool,
    mut sink: impl FnMut(&Path, Result<Vec<Embedded>>),
) {
    let load_opts = LoadOptions {
        channels: opts.channels,
        keep_partial,
        ..crate::model_source::load_options(model)
    };
    // Enough decoded files in flight to keep the model busy, few enough to bound memory.
    let chunk = 2 * rayon::current_num_threads().max(2);
    for group in files.chunks(chunk) {
        let decoded: Vec<_> = group
            .par_iter()
            .map(|p| ecapa2_audio::load(p, &load_opts))
            .collect();
        for (path, loaded) in group.iter().zip(decoded) {
            // Audio errors already name the file; model errors get it added here.
            let result = loaded.map_err(anyhow::Error::from).and_then(|l| {
                embed_loaded(model, path, &l, opts)
                    .map_err(|e| e.context(path.display().to_string()))
            });
            sink(path, result);
        }
    }
}

/// Embeds one decoded file (every channel, every window).
pub fn embed_loaded(
    model: &Ecapa2,
    path: &Path,
    loaded: &Loaded,
    opts: EmbedOptions,
) -> Result<Vec<Embedded>> {
    if loaded.resampled || loaded.mixed_down {
        tracing::info!("{}: {}", path.display(), loaded.summary());
    }
    let base = path.display().to_string();
    let mut out = Vec::new();
    for (c, signal) in loaded.signals.iter().enumerate() {
        let key = if loaded.signals.len() > 1 {
            format!("{base}#ch{c}")
        } else {
            base.clone()
        };
        match opts.window {
            None => out.push(Embedded {
                key,
                vector: model
                    .features(signal, opts.labels)
                    .map_err(crate::engine_error)?
                    .into_vec(),
            }),
            Some((window, hop)) => {
                let plan = windows::plan(signal.len(), window, hop);
                let slices: Vec<&[f32]> = plan.iter().map(|w| &signal[w.start..w.end]).collect();
                let vectors = model
                    .features_batch(&slices, opts.labels)
                    .map_err(crate::engine_error)?;
                let rate = model.sample_rate() as f64;
                for (w, vector) in plan.iter().zip(vectors.iter()) {
                    let vector = vector.to_vec();
                    let key = format!(
                        "{key}@{:.2}-{:.2}",
                        w.start as f64 / rate,
                        w.end as f64 / rate
                    );
                    out.push(Embedded { key, vector });
                }
            }
        }
    }
    Ok(out)
}
