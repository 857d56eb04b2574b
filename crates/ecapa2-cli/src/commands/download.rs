//! `ecapa2 download`: fetch the official model into the Hugging Face cache.

use crate::model_source::{self, ModelArgs};
use anyhow::Result;
use std::process::ExitCode;

/// Arguments of `ecapa2 download`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Hub revision (branch, tag or commit).
    #[arg(long)]
    revision: Option<String>,
}

/// Prints the cached file's path.
pub fn run(args: Args) -> Result<ExitCode> {
    let path = model_source::resolve(&ModelArgs {
        model: None,
        revision: args.revision,
    })?;
    println!("{}", path.display());
    Ok(ExitCode::SUCCESS)
}
