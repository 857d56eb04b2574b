//! Expanding inputs to audio files: files as given, folders walked for audio extensions, and
//! `@list` files. One implementation for every front end (the CLI, Python, the Ray program),
//! so a list or a folder means the same files everywhere.

use std::path::{Path, PathBuf};

/// Extensions picked up when walking a folder, lower case (`w64`, `rf64`, `bw64`: the WAV
/// family's formats for files over 4 GiB; `oga`: Ogg audio).
pub const EXTENSIONS: [&str; 8] = ["wav", "w64", "rf64", "bw64", "flac", "mp3", "ogg", "oga"];

/// A list file or a folder that could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InputError {
    /// A `@list` / `--list` file could not be read.
    #[error("cannot read file list {}: {source}", path.display())]
    List {
        /// The list file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A folder (or something under it) could not be walked.
    #[error("cannot walk {}: {source}", path.display())]
    Walk {
        /// The folder given.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}

/// Turns inputs into a list of files, in order: a file as is (a missing one too: it fails
/// where it is opened, as its own row), a folder's audio files sorted by name (symlinks
/// followed), and `@list.txt` inputs and `lists` with one path per line (`#` comments and
/// blank lines skipped; relative paths resolved against the list's folder). May be empty.
pub fn expand(inputs: &[PathBuf], lists: &[PathBuf]) -> Result<Vec<PathBuf>, InputError> {
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
    Ok(files)
}

/// Whether `path` has one of [`EXTENSIONS`] (any case).
fn has_audio_extension(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

fn read_list(list: &Path) -> Result<Vec<PathBuf>, InputError> {
    let text = std::fs::read_to_string(list).map_err(|source| InputError::List {
        path: list.to_path_buf(),
        source,
    })?;
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

fn walk(dir: &Path) -> Result<Vec<PathBuf>, InputError> {
    let mut out = Vec::new();
    for entry in walkdir::WalkDir::new(dir)
        .follow_links(true)
        .sort_by_file_name()
    {
        let entry = entry.map_err(|e| InputError::Walk {
            path: dir.to_path_buf(),
            source: e.into(),
        })?;
        if entry.file_type().is_file() && has_audio_extension(entry.path()) {
            out.push(entry.into_path());
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_resolve_against_their_folder_and_folders_by_extension() {
        let dir = std::env::temp_dir().join(format!("ecapa2-inputs-{}", std::process::id()));
        let sub = dir.join("sub");
        std::fs::create_dir_all(&sub).unwrap();
        for name in ["b.WAV", "a.flac", "notes.txt", "c.rf64"] {
            std::fs::write(sub.join(name), b"").unwrap();
        }
        std::fs::write(
            dir.join("list.txt"),
            "# comment\n\nsub/a.flac\n/abs/x.mp3\n",
        )
        .unwrap();
        let list = format!("@{}", dir.join("list.txt").display());
        let files = expand(&[sub.clone(), PathBuf::from(list)], &[]).unwrap();
        assert_eq!(
            files,
            vec![
                sub.join("a.flac"),
                sub.join("b.WAV"),
                sub.join("c.rf64"),
                dir.join("sub/a.flac"),
                PathBuf::from("/abs/x.mp3"),
            ]
        );
        let missing = expand(&[PathBuf::from("@/no/such/list")], &[]).unwrap_err();
        assert!(matches!(missing, InputError::List { .. }), "{missing}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
