//! The command line's inputs: [`ecapa2_audio::inputs::expand`], where finding no file at all
//! is an error.

use anyhow::{bail, Result};
use std::path::PathBuf;

/// Files, folders (recursive, by extension) and lists, in order; at least one file.
pub fn expand(inputs: &[PathBuf], lists: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let files = ecapa2_audio::inputs::expand(inputs, lists)?;
    if files.is_empty() {
        bail!("no input audio files (give files, folders or --list FILE)");
    }
    Ok(files)
}
