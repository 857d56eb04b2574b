//! The on-disk layout shared with Python's `huggingface_hub`:
//!
//! ```text
//! <cache>/models--<org>--<name>/
//!     blobs/<etag>                     file contents, named by etag (the sha256 for LFS files)
//!     blobs/<etag>.incomplete          a download in progress, resumed with a Range request
//!     refs/<revision>                  the commit hash the revision pointed to
//!     snapshots/<commit>/<filename>    relative symlink to ../../blobs/<etag>
//! ```
//!
//! Every name taken from a caller or a server is checked before it becomes a path component.

use std::fs;
use std::path::{Path, PathBuf};

use crate::error::HubError;

/// One repository's folder in the hub cache.
#[derive(Debug, Clone)]
pub(crate) struct RepoCache {
    root: PathBuf,
}

impl RepoCache {
    /// The folder for model repository `repo` (`org/name`) under the hub cache `cache_dir`.
    pub(crate) fn new(cache_dir: &Path, repo: &str) -> Result<Self, HubError> {
        check_repo(repo)?;
        let folder = format!("models--{}", repo.replace('/', "--"));
        Ok(RepoCache {
            root: cache_dir.join(folder),
        })
    }

    pub(crate) fn blob_path(&self, etag: &str) -> PathBuf {
        self.root.join("blobs").join(etag)
    }

    /// Takes `huggingface_hub`'s lock for one blob, `<cache>/.locks/<repo folder>/<etag>.lock`,
    /// waiting for whoever holds it. It is an advisory `flock` on Unix, the mechanism of
    /// Python's `filelock`, so Rust and Python processes fetching the same file wait for each
    /// other instead of writing the same `.incomplete` file. Released when dropped.
    pub(crate) fn lock(&self, etag: &str) -> Result<fs::File, HubError> {
        let folder = self.root.file_name().unwrap_or_default();
        let dir = self
            .root
            .parent()
            .unwrap_or(Path::new("."))
            .join(".locks")
            .join(folder);
        fs::create_dir_all(&dir).map_err(HubError::io(&dir))?;
        let path = dir.join(format!("{etag}.lock"));
        let file = fs::OpenOptions::new()
            .create(true)
            .read(true)
            .write(true)
            .truncate(false)
            .open(&path)
            .map_err(HubError::io(&path))?;
        file.lock().map_err(HubError::io(&path))?;
        Ok(file)
    }

    pub(crate) fn incomplete_path(&self, etag: &str) -> PathBuf {
        self.root.join("blobs").join(format!("{etag}.incomplete"))
    }

    pub(crate) fn snapshot_path(&self, commit: &str, filename: &str) -> PathBuf {
        let mut path = self.root.join("snapshots").join(commit);
        for part in filename.split('/') {
            path.push(part);
        }
        path
    }

    fn ref_path(&self, revision: &str) -> PathBuf {
        let mut path = self.root.join("refs");
        for part in revision.split('/') {
            path.push(part);
        }
        path
    }

    /// The commit recorded for `revision`, if any.
    pub(crate) fn read_ref(&self, revision: &str) -> Option<String> {
        let text = fs::read_to_string(self.ref_path(revision)).ok()?;
        let commit = text.trim().to_string();
        check_name("commit hash", &commit).ok().map(|()| commit)
    }

    /// Records `revision -> commit` (as Python does, only when they differ, without a newline).
    pub(crate) fn write_ref(&self, revision: &str, commit: &str) -> Result<(), HubError> {
        if revision == commit || self.read_ref(revision).as_deref() == Some(commit) {
            return Ok(());
        }
        let path = self.ref_path(revision);
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir).map_err(HubError::io(dir))?;
        }
        fs::write(&path, commit).map_err(HubError::io(&path))
    }

    /// The cached file for `revision` (a branch, tag or commit), without any network: the
    /// revision's ref gives the commit, else the revision is taken as a commit itself.
    /// Returns the snapshot path and its commit.
    pub(crate) fn lookup(&self, revision: &str, filename: &str) -> Option<(PathBuf, String)> {
        let commit = self
            .read_ref(revision)
            .unwrap_or_else(|| revision.to_string());
        check_name("commit hash", &commit).ok()?;
        let path = self.snapshot_path(&commit, filename);
        // exists() follows the symlink, so a link to a missing blob does not count.
        path.exists().then_some((path, commit))
    }

    /// Points `snapshots/<commit>/<filename>` at `blobs/<etag>`, replacing what was there.
    pub(crate) fn link(
        &self,
        commit: &str,
        filename: &str,
        etag: &str,
    ) -> Result<PathBuf, HubError> {
        let path = self.snapshot_path(commit, filename);
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir).map_err(HubError::io(dir))?;
        }
        if fs::symlink_metadata(&path).is_ok() {
            fs::remove_file(&path).map_err(HubError::io(&path))?;
        }
        // Relative, like Python's, so the cache folder can be moved or mounted elsewhere.
        let ups = filename.split('/').count() + 1;
        let mut target = PathBuf::new();
        for _ in 0..ups {
            target.push("..");
        }
        target.push("blobs");
        target.push(etag);
        make_link(&target, &self.blob_path(etag), &path)?;
        Ok(path)
    }
}

#[cfg(unix)]
fn make_link(target: &Path, _blob: &Path, link: &Path) -> Result<(), HubError> {
    std::os::unix::fs::symlink(target, link).map_err(HubError::io(link))
}

// Windows without symlink rights: Python then keeps a copy in the snapshot; so do we.
#[cfg(not(unix))]
fn make_link(_target: &Path, blob: &Path, link: &Path) -> Result<(), HubError> {
    fs::copy(blob, link).map(|_| ()).map_err(HubError::io(link))
}

/// Deletes a file if present; a cleanup failure is logged, not raised, so the real error wins.
pub(crate) fn remove_quietly(path: &Path) {
    match fs::remove_file(path) {
        Ok(()) => tracing::debug!("removed {}", path.display()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => tracing::warn!("could not remove {}: {e}", path.display()),
    }
}

/// `org/name` or `name`, of the characters the hub allows.
pub(crate) fn check_repo(repo: &str) -> Result<(), HubError> {
    let parts: Vec<&str> = repo.split('/').collect();
    let ok = (1..=2).contains(&parts.len())
        && parts.iter().all(|p| {
            !p.is_empty()
                && !p.starts_with('.')
                && p.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        });
    if ok {
        Ok(())
    } else {
        Err(HubError::Invalid {
            what: "repository id",
            value: repo.to_string(),
        })
    }
}

/// A relative `/`-separated path with no empty, `.` or `..` segment (filenames, revisions).
pub(crate) fn check_rel_path(what: &'static str, path: &str) -> Result<(), HubError> {
    let ok = !path.contains('\\')
        && !path.contains('\0')
        && path
            .split('/')
            .all(|p| !p.is_empty() && p != "." && p != "..");
    if ok {
        Ok(())
    } else {
        Err(HubError::Invalid {
            what,
            value: path.to_string(),
        })
    }
}

/// A single path component received from the server (etag, commit hash).
pub(crate) fn check_name(what: &'static str, name: &str) -> Result<(), HubError> {
    let ok = !name.is_empty()
        && name.len() <= 128
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(HubError::Invalid {
            what,
            value: name.to_string(),
        })
    }
}

/// Whether `text` looks like a lowercase hex SHA-256, i.e. an LFS etag.
pub(crate) fn is_sha256_hex(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked() {
        assert!(check_repo("Jenthe/ECAPA2").is_ok());
        assert!(check_repo("gpt2").is_ok());
        for bad in ["", "a/b/c", "../x", "a/..", "a b/c", "/a"] {
            assert!(check_repo(bad).is_err(), "{bad}");
        }
        assert!(check_rel_path("filename", "sub/ecapa2.pt").is_ok());
        for bad in ["", "/abs", "a/../b", "a//b", "a\\b", "."] {
            assert!(check_rel_path("filename", bad).is_err(), "{bad}");
        }
        assert!(check_name("etag", "9b12f6bf").is_ok());
        for bad in ["", "..", "a/b", ".hidden", "x y"] {
            assert!(check_name("etag", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn layout_matches_python() {
        let cache = RepoCache::new(Path::new("/c"), "Jenthe/ECAPA2").unwrap();
        assert_eq!(
            cache.snapshot_path("abc", "ecapa2.pt"),
            Path::new("/c/models--Jenthe--ECAPA2/snapshots/abc/ecapa2.pt")
        );
        assert_eq!(
            cache.incomplete_path("e"),
            Path::new("/c/models--Jenthe--ECAPA2/blobs/e.incomplete")
        );
    }

    #[cfg(unix)]
    #[test]
    fn nested_links_are_relative() {
        let dir = tempfile::tempdir().unwrap();
        let cache = RepoCache::new(dir.path(), "o/n").unwrap();
        fs::create_dir_all(cache.blob_path("e").parent().unwrap()).unwrap();
        fs::write(cache.blob_path("e"), b"x").unwrap();
        let link = cache.link("c", "sub/f.bin", "e").unwrap();
        assert_eq!(fs::read_link(&link).unwrap(), Path::new("../../../blobs/e"));
        assert_eq!(fs::read(&link).unwrap(), b"x");
        cache.write_ref("refs/pr/1", "c").unwrap();
        assert_eq!(
            cache.lookup("refs/pr/1", "sub/f.bin"),
            Some((link, "c".to_string()))
        );
    }
}
