//! Where the model comes from: `--model PATH`, or the official file from the hub cache.

use crate::progress;
use anyhow::{Context, Result};
use ecapa2::{Ecapa2, Options};
use std::path::PathBuf;

/// Model selection shared by every command that runs the network.
#[derive(clap::Args, Debug, Clone)]
pub struct ModelArgs {
    /// A TorchScript archive (e.g. ecapa2.pt). Without it the official model is fetched from
    /// the Hugging Face hub (Jenthe/ECAPA2) into the cache shared with Python.
    #[arg(long, env = "ECAPA2_MODEL")]
    pub model: Option<PathBuf>,
    /// Hub revision (branch, tag or commit) of the official model.
    #[arg(long)]
    pub revision: Option<String>,
}

/// The archive path: the given one, or the official file fetched into the hub cache.
pub fn resolve(args: &ModelArgs) -> Result<PathBuf> {
    if let Some(path) = &args.model {
        return Ok(path.clone());
    }
    let config = ecapa2_hub::HubConfig::from_env();
    let bar = progress::bytes_bar("downloading ecapa2.pt");
    let report = |done: u64, total: Option<u64>| progress::set_bytes(&bar, done, total);
    let fetched = ecapa2_hub::fetch_official(&config, args.revision.as_deref(), Some(&report))?;
    bar.finish_and_clear();
    if fetched.downloaded {
        eprintln!("{}", ecapa2_hub::LICENSE_NOTICE);
    }
    Ok(fetched.path)
}

/// Loads the model the arguments name.
pub fn load(args: &ModelArgs, options: Options) -> Result<Ecapa2> {
    let path = resolve(args)?;
    let started = std::time::Instant::now();
    let model = Ecapa2::load_with(&path, options)
        .with_context(|| format!("cannot load model {}", path.display()))?;
    tracing::debug!(
        "model {} loaded in {:.2} s",
        path.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(model)
}

/// Decoding options for `model`: its sample rate and shortest input, as the model states them.
pub fn load_options(model: &Ecapa2) -> ecapa2_audio::LoadOptions {
    ecapa2_audio::LoadOptions::for_model(model.sample_rate(), model.min_samples())
}
