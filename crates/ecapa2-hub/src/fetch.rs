//! Fetching one file: from the cache when it is there, else from the hub, in the order
//! `hf_hub_download` uses (HEAD for the commit, reuse a cached snapshot or blob, else download).

use std::fs;
use std::path::{Path, PathBuf};

use crate::cache::{check_name, check_rel_path, is_sha256_hex, remove_quietly, RepoCache};
use crate::config::HubConfig;
use crate::download::download_blob;
use crate::error::HubError;
use crate::remote::{HeadFailure, Metadata, Remote};

/// The branch used when no revision is given.
pub const DEFAULT_REVISION: &str = "main";

/// Progress callback: bytes done so far (a resumed part included) and the total when known.
pub type Progress<'a> = &'a dyn Fn(u64, Option<u64>);

/// What a file must be; a downloaded file that differs is deleted and refused.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Expected {
    /// Size in bytes.
    pub size: Option<u64>,
    /// SHA-256 as lowercase hex.
    pub sha256: Option<String>,
}

impl Expected {
    /// Expect this size and SHA-256 (hex, any case).
    pub fn new(size: u64, sha256: &str) -> Self {
        Expected {
            size: Some(size),
            sha256: Some(sha256.to_ascii_lowercase()),
        }
    }

    /// What the server announces: `X-Linked-Size`, and `X-Linked-Etag` when it is a sha256
    /// (LFS files); a plain git etag is a SHA-1 of a blob header, so only the size is checked.
    fn from_server(meta: &Metadata) -> Self {
        Expected {
            size: meta.size,
            sha256: Some(meta.etag.to_ascii_lowercase()).filter(|e| is_sha256_hex(e)),
        }
    }

    /// Compares a finished file.
    pub(crate) fn check(&self, filename: &str, size: u64, sha256: &str) -> Result<(), HubError> {
        if let Some(expected) = self.size.filter(|&s| s != size) {
            return Err(HubError::SizeMismatch {
                filename: filename.to_string(),
                expected,
                got: size,
            });
        }
        match &self.sha256 {
            Some(expected) if !expected.eq_ignore_ascii_case(sha256) => {
                Err(HubError::ChecksumMismatch {
                    filename: filename.to_string(),
                    expected: expected.clone(),
                    got: sha256.to_string(),
                })
            }
            _ => Ok(()),
        }
    }

    /// Refuses before downloading when the server announces another file than expected,
    /// which saves fetching 100 MB only to throw it away.
    fn check_announced(&self, filename: &str, meta: &Metadata) -> Result<(), HubError> {
        let announced = Expected::from_server(meta);
        if let (Some(want), Some(got)) = (self.size, announced.size) {
            if want != got {
                return Err(HubError::SizeMismatch {
                    filename: filename.to_string(),
                    expected: want,
                    got,
                });
            }
        }
        if let (Some(want), Some(got)) = (&self.sha256, &announced.sha256) {
            if !want.eq_ignore_ascii_case(got) {
                return Err(HubError::ChecksumMismatch {
                    filename: filename.to_string(),
                    expected: want.clone(),
                    got: format!("{got} (announced by the server)"),
                });
            }
        }
        Ok(())
    }

    /// Cheap check of a cached file: its size, and its blob name when that is a sha256.
    /// Not a re-hash: hashing 100 MB on every run would cost more than loading the model, and
    /// blobs are only ever renamed into place after their hash was checked (by us or Python).
    fn check_cached(&self, filename: &str, path: &Path) -> Result<(), HubError> {
        let size = fs::metadata(path).map_err(HubError::io(path))?.len();
        // The blob's name is its etag: the link target's name, or the path's own for a blob.
        let blob = fs::read_link(path).unwrap_or_else(|_| path.to_path_buf());
        let blob_sha = blob
            .file_name()
            .map(|n| n.to_string_lossy().to_ascii_lowercase())
            .filter(|n| is_sha256_hex(n));
        let expected_sha = if blob_sha.is_some() {
            self.sha256.clone()
        } else {
            None
        };
        let check = Expected {
            size: self.size,
            sha256: expected_sha,
        };
        check.check(filename, size, blob_sha.as_deref().unwrap_or_default())
    }
}

/// A fetched file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched {
    /// `snapshots/<commit>/<filename>` in the hub cache (a symlink to the blob on Unix).
    pub path: PathBuf,
    /// True when bytes were downloaded by this call; false when the cache served the file.
    /// The CLI prints the licence notice only when this is true.
    pub downloaded: bool,
    /// The commit the file belongs to.
    pub commit: String,
}

/// Fetches `filename` from model repository `repo` (`org/name`) at `revision` (branch, tag or
/// commit; `main` when `None`) into the hub cache, and returns its snapshot path.
///
/// With `expected`, the file must have that size and SHA-256; without, it is checked against
/// what the server announces (`X-Linked-Size`, and `X-Linked-Etag` for LFS files).
/// Offline ([`HubConfig::with_offline`]) only the cache is used; online, a HEAD tells the
/// current commit, and when the hub cannot be reached a cached copy is used if there is one.
pub fn fetch(
    config: &HubConfig,
    repo: &str,
    filename: &str,
    revision: Option<&str>,
    expected: Option<Expected>,
    progress: Option<Progress<'_>>,
) -> Result<Fetched, HubError> {
    let revision = revision.unwrap_or(DEFAULT_REVISION);
    check_rel_path("filename", filename)?;
    check_rel_path("revision", revision)?;
    let cache = RepoCache::new(config.cache_dir(), repo)?;

    if config.offline() {
        return from_cache(config, &cache, repo, filename, revision, expected.as_ref())?
            .ok_or_else(|| HubError::OfflineNotCached {
                repo: repo.to_string(),
                filename: filename.to_string(),
                revision: revision.to_string(),
                cache_dir: config.cache_dir().to_path_buf(),
            });
    }

    // A commit hash names immutable content: a cached snapshot needs no request.
    if is_commit_hash(revision) {
        let path = cache.snapshot_path(revision, filename);
        if path.exists() {
            if let Some(e) = &expected {
                e.check_cached(filename, &path)?;
            }
            tracing::debug!("{repo}/{filename} at {revision} is cached (commit hash: no request)");
            return Ok(Fetched {
                path,
                downloaded: false,
                commit: revision.to_string(),
            });
        }
    }

    let remote = Remote::new(config, repo, filename, revision);
    let meta = match remote.head() {
        Ok(meta) => meta,
        Err(HeadFailure::Fatal(e)) => return Err(e),
        Err(HeadFailure::Unavailable(reason)) => {
            let cached = from_cache(config, &cache, repo, filename, revision, expected.as_ref())?;
            return cached
                .inspect(|f| {
                    tracing::debug!(
                        "hub unreachable ({reason}); using cached {}",
                        f.path.display()
                    )
                })
                .ok_or_else(|| HubError::Unreachable {
                    endpoint: config.endpoint().to_string(),
                    repo: repo.to_string(),
                    reason,
                });
        }
    };
    check_name("commit hash", &meta.commit)?;
    check_name("etag", &meta.etag)?;
    let expected = expected.unwrap_or_else(|| Expected::from_server(&meta));
    expected.check_announced(filename, &meta)?;

    let path = cache.snapshot_path(&meta.commit, filename);
    let blob = cache.blob_path(&meta.etag);
    let mut downloaded = false;
    if path.exists() && reusable(&expected, filename, &path, &blob) {
        tracing::debug!("{repo}/{filename} at {} is cached", meta.commit);
    } else if blob.exists() && reusable(&expected, filename, &blob, &blob) {
        // Same bytes under another commit or file name: only the snapshot link is missing.
        cache.link(&meta.commit, filename, &meta.etag)?;
    } else {
        // The same lock as huggingface_hub: another process (Rust or Python) fetching this
        // blob finishes first, and its result is then used as it stands.
        let _lock = cache.lock(&meta.etag)?;
        if blob.exists() && reusable(&expected, filename, &blob, &blob) {
            tracing::debug!("{repo}/{filename} was fetched by another process meanwhile");
        } else {
            tracing::info!(
                "downloading {repo}/{filename} ({}) from {}",
                meta.size
                    .map_or("size unknown".to_string(), |s| format!("{s} bytes")),
                config.endpoint()
            );
            download_blob(&remote, &cache, &meta, &expected, filename, progress)?;
            downloaded = true;
        }
        cache.link(&meta.commit, filename, &meta.etag)?;
    }
    // Beside a complete blob, a partial file (left by a process that lost a race, or an
    // interrupted run) is of no further use.
    if !downloaded && blob.exists() {
        remove_quietly(&cache.incomplete_path(&meta.etag));
    }
    cache.write_ref(revision, &meta.commit)?;
    Ok(Fetched {
        path,
        downloaded,
        commit: meta.commit,
    })
}

/// A full 40-hex-digit commit hash (immutable), as opposed to a branch or tag.
fn is_commit_hash(revision: &str) -> bool {
    revision.len() == 40 && revision.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Whether a cached file passes the cheap check; if not, it is removed so it is downloaded
/// again (a truncated blob is useless to Python too).
fn reusable(expected: &Expected, filename: &str, path: &Path, blob: &Path) -> bool {
    match expected.check_cached(filename, path) {
        Ok(()) => true,
        Err(e) => {
            tracing::warn!("discarding cached file: {e}");
            if path != blob {
                remove_quietly(path);
            }
            remove_quietly(blob);
            false
        }
    }
}

/// The cached file for `revision`, checked, or `None` when it is not cached.
fn from_cache(
    config: &HubConfig,
    cache: &RepoCache,
    repo: &str,
    filename: &str,
    revision: &str,
    expected: Option<&Expected>,
) -> Result<Option<Fetched>, HubError> {
    let Some((path, commit)) = cache.lookup(revision, filename) else {
        tracing::debug!(
            "{repo}/{filename} at {revision} not in {}",
            config.cache_dir().display()
        );
        return Ok(None);
    };
    if let Some(expected) = expected {
        expected.check_cached(filename, &path)?;
    }
    Ok(Some(Fetched {
        path,
        downloaded: false,
        commit,
    }))
}

/// [`fetch`]'s cache-only path, for callers that try several file names.
pub(crate) fn fetch_cached(
    config: &HubConfig,
    repo: &str,
    filename: &str,
    revision: Option<&str>,
    expected: Option<&Expected>,
) -> Result<Option<Fetched>, HubError> {
    let revision = revision.unwrap_or(DEFAULT_REVISION);
    check_rel_path("filename", filename)?;
    check_rel_path("revision", revision)?;
    let cache = RepoCache::new(config.cache_dir(), repo)?;
    from_cache(config, &cache, repo, filename, revision, expected)
}
