//! Every way a fetch can fail, each rendered as one line a CLI user can act on.

use std::path::PathBuf;

/// Errors from [`crate::fetch`] and [`crate::fetch_official`].
#[derive(Debug, thiserror::Error)]
pub enum HubError {
    /// The hub could not be reached at all (DNS, refused, timeout, TLS) and the file is not cached.
    #[error(
        "cannot reach {endpoint} to download {repo} ({reason}); load a local \
         ecapa2.pt instead (--model PATH, Ecapa2.load(path)), or set HF_ENDPOINT to a reachable \
         mirror"
    )]
    Unreachable {
        /// The hub base URL that was tried.
        endpoint: String,
        /// The repository being fetched.
        repo: String,
        /// Short cause, e.g. "connection refused".
        reason: String,
    },

    /// Offline mode is on and the file is not in the cache.
    #[error(
        "HF_HUB_OFFLINE is set and {repo}/{filename} (revision {revision}) is not in the cache at \
         {cache_dir}; unset HF_HUB_OFFLINE to download it, or load a local file (--model PATH, Ecapa2.load(path))"
    )]
    OfflineNotCached {
        /// The repository.
        repo: String,
        /// The file in the repository.
        filename: String,
        /// The revision asked for.
        revision: String,
        /// The hub cache folder that was searched.
        cache_dir: PathBuf,
    },

    /// The hub refused access (401/403): private or gated repository, or a bad token.
    #[error(
        "access to {repo}/{filename} refused by {endpoint} (HTTP {status}); set HF_TOKEN to a token \
         that can read it (gated repositories also need their terms accepted on the website)"
    )]
    Unauthorized {
        /// The hub base URL.
        endpoint: String,
        /// The repository.
        repo: String,
        /// The file in the repository.
        filename: String,
        /// 401 or 403.
        status: u16,
    },

    /// The repository, revision or file does not exist (404).
    #[error("{repo}/{filename} not found at revision {revision} on {endpoint} (HTTP 404{detail})")]
    NotFound {
        /// The hub base URL.
        endpoint: String,
        /// The repository.
        repo: String,
        /// The file in the repository.
        filename: String,
        /// The revision asked for.
        revision: String,
        /// The hub's `X-Error-Code` (e.g. `EntryNotFound`) as ", EntryNotFound", or empty.
        detail: String,
    },

    /// Any other unexpected HTTP status.
    #[error("unexpected HTTP {status} from {url}")]
    Http {
        /// The URL that answered.
        url: String,
        /// The status code.
        status: u16,
    },

    /// The server answered, but not in the shape of a hub resolve endpoint.
    #[error("unexpected response from {url}: {detail}")]
    BadResponse {
        /// The URL that answered.
        url: String,
        /// What was wrong.
        detail: String,
    },

    /// The transfer broke off; the partial file is kept and the next run resumes it.
    #[error(
        "download of {repo}/{filename} interrupted after {done} bytes ({reason}); run again to resume"
    )]
    Interrupted {
        /// The repository.
        repo: String,
        /// The file in the repository.
        filename: String,
        /// Bytes on disk so far.
        done: u64,
        /// Short cause.
        reason: String,
    },

    /// The file does not have the expected size; a downloaded blob is deleted.
    #[error("{filename}: size mismatch, expected {expected} bytes, got {got}")]
    SizeMismatch {
        /// The file in the repository.
        filename: String,
        /// Expected size in bytes.
        expected: u64,
        /// Actual size in bytes.
        got: u64,
    },

    /// The file does not have the expected SHA-256; a downloaded blob is deleted.
    #[error("{filename}: sha256 mismatch, expected {expected}, got {got}")]
    ChecksumMismatch {
        /// The file in the repository.
        filename: String,
        /// Expected lowercase hex digest.
        expected: String,
        /// Actual (or server-advertised) lowercase hex digest.
        got: String,
    },

    /// A repository id, file name or revision that cannot be mapped safely to a URL or cache path.
    #[error("invalid {what}: {value:?}")]
    Invalid {
        /// Which input ("repository id", "filename", ...).
        what: &'static str,
        /// The offending value.
        value: String,
    },

    /// Reading or writing the cache failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or folder involved.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
}

impl HubError {
    /// Whether this is a 404, the case in which another file name may be tried.
    pub fn is_not_found(&self) -> bool {
        matches!(self, HubError::NotFound { .. })
    }

    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> HubError {
        let path = path.into();
        move |source| HubError::Io { path, source }
    }
}
