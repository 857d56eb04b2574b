//! Expanding the command line's inputs: files, folders (recursive, by extension) and lists.

use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};

/// Extensions picked up when walking a folder (`w64`, `rf64`, `bw64`: the WAV family's formats
/// for files over 4 GiB).
pub const AUDIO_EXTENSIONS: [&str; 8] = ["wav", "w64", "rf64", "bw64", "flac", "mp3", "ogg", "oga"];

/// Turns inputs into a list of files, in order: a file as is, a folder's audio files sorted,
/// and `@list.txt` / `--list` files with one path per line (`#` comments and blanks skipped;
/// relative paths resolved against the list's folder).
pub fn expand(inputs: &[PathBuf], lists: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for input in inputs {
        match input.to_str().and_then(|s| s.strip_prefix('@')) {
            Some(list) => files.extend(read_list(Path::new(list))?),
            None if input.is_dir() => files.extend(walk(input)?),
            None => files.push(input.clone()),
        }
    }
    for list in lists {
        files.extend(read_list(list)?);
    }
    if files.is_empty() {
        bail!("no input audio files (give files, folders or --list FILE)");
    }
    Ok(files)
}

fn read_list(list: &Path) -> Result<Vec<PathBuf>> {
    let text = std::fs::read_to_string(list)
        .with_context(|| format!("cannot read file list {}", list.display()))?;
    let base = list.parent().unwrap_or(Path::new(""));
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            if Path::new(l).is_absolute() {
                PathBuf::from(l)
            } else {
                base.join(l)
            }
        })
        .collect())
}

fn walk(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for entry in walkdir::WalkDir::new(dir)
        .follow_links(true)
        .sort_by_file_name()
    {
        let entry = entry.with_context(|| format!("cannot walk {}", dir.display()))?;
        let is_audio = entry
            .path()
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| AUDIO_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()));
        if entry.file_type().is_file() && is_audio {
            out.push(entry.into_path());
        }
    }
    Ok(out)
}
