//! The registry file on disk: what a path holds before SQLite touches it, and SQLite's open
//! errors said in terms of the file.

use crate::RegistryError;
use std::path::Path;

/// What a `--db` path holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FileState {
    /// Nothing yet.
    Missing,
    /// A file of zero bytes: a registry to initialise.
    Empty,
    /// A file with content: a registry, or something to refuse without changing it.
    Content,
}

fn access(path: &Path, reason: impl Into<String>) -> RegistryError {
    RegistryError::Access {
        path: path.display().to_string(),
        reason: reason.into(),
    }
}

/// Looks at `path` without creating or changing anything: a directory (or a path ending in a
/// separator) and an unreadable file are refused here, with what is wrong.
pub(crate) fn examine(path: &Path) -> Result<FileState, RegistryError> {
    let text = path.as_os_str().to_string_lossy();
    if path.is_dir() || text.ends_with(['/', std::path::MAIN_SEPARATOR]) {
        return Err(access(
            path,
            "is a directory; give the registry's file inside it, e.g. dir/speakers.db",
        ));
    }
    match std::fs::metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(FileState::Missing),
        Err(e) => Err(access(path, e.to_string())),
        Ok(m) if !m.is_file() => Err(access(path, "is not a regular file")),
        Ok(m) => {
            // Reading is the least a registry needs; say so before SQLite's "unable to open".
            std::fs::File::open(path).map_err(|e| access(path, format!("cannot read it: {e}")))?;
            Ok(if m.len() == 0 {
                FileState::Empty
            } else {
                FileState::Content
            })
        }
    }
}

/// An SQLite error met while opening or setting up `path`: permission and read-only errors
/// say that the file and its folder must be writable; a file that is not a database says
/// so; `other` classifies the rest.
pub(crate) fn open_error(
    path: &Path,
    e: rusqlite::Error,
    other: impl FnOnce(rusqlite::Error) -> RegistryError,
) -> RegistryError {
    use rusqlite::ErrorCode::{CannotOpen, NotADatabase, PermissionDenied, ReadOnly};
    match e.sqlite_error_code() {
        Some(CannotOpen | PermissionDenied | ReadOnly) => {
            let name = path
                .file_name()
                .map_or_else(|| "FILE".into(), |n| n.to_string_lossy().into_owned());
            access(
                path,
                format!(
                    "{e}: a registry needs write access to its file and to the folder holding \
                     it (SQLite keeps {name}-wal and {name}-shm next to it); check the \
                     permissions, or copy it to a writable folder"
                ),
            )
        }
        Some(NotADatabase) => RegistryError::NotARegistry {
            path: path.display().to_string(),
            reason: "not an SQLite database".into(),
        },
        _ => other(e),
    }
}
