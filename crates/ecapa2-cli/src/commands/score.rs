//! `ecapa2 score A B`: cosine similarity of two recordings' embeddings.

use crate::model_source::{self, ModelArgs};
use crate::pipeline::{self, EmbedOptions};
use anyhow::{Context, Result};
use ecapa2::{LabelSet, Options};
use ecapa2_audio::{ChannelMode, LoadOptions};
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `ecapa2 score`.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    model: ModelArgs,
    /// First recording.
    a: PathBuf,
    /// Second recording.
    b: PathBuf,
}

/// Prints the cosine similarity (higher = more likely the same speaker).
pub fn run(args: Args, options: Options) -> Result<ExitCode> {
    let model = model_source::load(&args.model, options)?;
    let opts = EmbedOptions {
        labels: LabelSet::embedding(),
        channels: ChannelMode::Mix,
        window: None,
    };
    let load_opts = LoadOptions {
        channels: ChannelMode::Mix,
        ..model_source::load_options(&model)
    };
    let mut embeddings = Vec::new();
    for path in [&args.a, &args.b] {
        let loaded = ecapa2_audio::load(path, &load_opts)?;
        let mut items = pipeline::embed_loaded(&model, path, &loaded, opts)?;
        let item = items
            .pop()
            .with_context(|| format!("{}: no audio", path.display()))?;
        embeddings.push(item.vector);
    }
    let score = ecapa2_eval::cosine_similarity(&embeddings[0], &embeddings[1])?;
    println!("{score:.6}");
    Ok(ExitCode::SUCCESS)
}
