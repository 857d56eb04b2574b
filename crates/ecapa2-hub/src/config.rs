//! Hub settings, resolved from the environment the way Python's `huggingface_hub` does.
//!
//! We resolve the variables ourselves (rather than through a crate) so that a file cached by
//! Python is found by us and vice versa, and so that tests can pass every setting explicitly.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The public hub, used when `HF_ENDPOINT` is unset.
pub const DEFAULT_ENDPOINT: &str = "https://huggingface.co";

/// Where and how to talk to the hub, and where the shared cache lives.
///
/// Build it with [`HubConfig::from_env`] (what the CLI does) or [`HubConfig::new`] plus the
/// `with_*` setters (what the library and tests do).
#[derive(Clone)]
pub struct HubConfig {
    endpoint: String,
    token: Option<String>,
    offline: bool,
    cache_dir: PathBuf,
    connect_timeout: Duration,
    read_timeout: Duration,
}

impl HubConfig {
    /// Settings for the public hub with `cache_dir` as the hub cache (the folder that holds
    /// `models--*` folders), no token, online, and default timeouts. Reads no environment.
    pub fn new(cache_dir: impl Into<PathBuf>) -> Self {
        HubConfig {
            endpoint: DEFAULT_ENDPOINT.to_string(),
            token: None,
            offline: false,
            cache_dir: cache_dir.into(),
            connect_timeout: Duration::from_secs(10),
            read_timeout: Duration::from_secs(60),
        }
    }

    /// Settings from the process environment: `HF_ENDPOINT`, `HF_TOKEN` (else the token file
    /// `$HF_TOKEN_PATH` or `$HF_HOME/token`), `HF_HUB_OFFLINE`, and the cache folder
    /// `$HF_HUB_CACHE`, else `$HF_HOME/hub`, else `~/.cache/huggingface/hub`.
    pub fn from_env() -> Self {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Like [`HubConfig::from_env`], but reads variables through `lookup` (so tests need not
    /// touch the process environment). The token file is still read from disk.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Self {
        // Empty values count as unset, as a shell `export HF_TOKEN=` usually means "none".
        let var = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let home = var("HOME")
            .or_else(|| var("USERPROFILE"))
            .map(PathBuf::from);
        let expand = |value: String| expand_user(&value, home.as_deref());

        let hf_home = match var("HF_HOME") {
            Some(v) => expand(v),
            None => {
                let xdg = var("XDG_CACHE_HOME")
                    .map(expand)
                    .unwrap_or_else(|| home.clone().unwrap_or_default().join(".cache"));
                xdg.join("huggingface")
            }
        };
        // HUGGINGFACE_HUB_CACHE is the legacy name Python still honours.
        let cache_dir = var("HF_HUB_CACHE")
            .or_else(|| var("HUGGINGFACE_HUB_CACHE"))
            .map(expand)
            .unwrap_or_else(|| hf_home.join("hub"));

        let endpoint = var("HF_ENDPOINT").unwrap_or_else(|| DEFAULT_ENDPOINT.to_string());
        let offline = var("HF_HUB_OFFLINE")
            .or_else(|| var("TRANSFORMERS_OFFLINE"))
            .is_some_and(|v| is_true(&v));

        let token = var("HF_TOKEN")
            .or_else(|| var("HUGGING_FACE_HUB_TOKEN"))
            .map(|t| t.trim().to_string())
            .or_else(|| {
                let path = var("HF_TOKEN_PATH")
                    .map(expand)
                    .unwrap_or_else(|| hf_home.join("token"));
                read_token_file(&path)
            });

        HubConfig::new(cache_dir)
            .with_endpoint(endpoint)
            .with_token(token)
            .with_offline(offline)
    }

    /// Use another hub or mirror, e.g. `http://127.0.0.1:8080` (a trailing `/` is dropped).
    pub fn with_endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.endpoint = endpoint.into().trim().trim_end_matches('/').to_string();
        self
    }

    /// Send `Authorization: Bearer <token>` to the hub (never to a redirect on another host).
    pub fn with_token(mut self, token: Option<String>) -> Self {
        self.token = token.filter(|t| !t.is_empty());
        self
    }

    /// Never touch the network: only files already in the cache are returned.
    pub fn with_offline(mut self, offline: bool) -> Self {
        self.offline = offline;
        self
    }

    /// The hub cache folder (the one holding `models--<org>--<name>` folders).
    pub fn with_cache_dir(mut self, cache_dir: impl Into<PathBuf>) -> Self {
        self.cache_dir = cache_dir.into();
        self
    }

    /// Longest wait for a connection to open (DNS included).
    pub fn with_connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Longest wait for a response, or between two reads of a body, before giving up.
    pub fn with_read_timeout(mut self, timeout: Duration) -> Self {
        self.read_timeout = timeout;
        self
    }

    /// The hub base URL, without a trailing `/`.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The token sent to the hub, if any.
    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    /// Whether the network is off limits.
    pub fn offline(&self) -> bool {
        self.offline
    }

    /// The hub cache folder.
    pub fn cache_dir(&self) -> &Path {
        &self.cache_dir
    }

    /// See [`HubConfig::with_connect_timeout`].
    pub fn connect_timeout(&self) -> Duration {
        self.connect_timeout
    }

    /// See [`HubConfig::with_read_timeout`].
    pub fn read_timeout(&self) -> Duration {
        self.read_timeout
    }
}

// Hand-written so that a token never ends up in a log line.
impl fmt::Debug for HubConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HubConfig")
            .field("endpoint", &self.endpoint)
            .field("token", &self.token.as_ref().map(|_| "<set>"))
            .field("offline", &self.offline)
            .field("cache_dir", &self.cache_dir)
            .field("connect_timeout", &self.connect_timeout)
            .field("read_timeout", &self.read_timeout)
            .finish()
    }
}

/// Python's truthy set for these variables: 1, ON, YES, TRUE (any case).
fn is_true(value: &str) -> bool {
    matches!(
        value.trim().to_ascii_uppercase().as_str(),
        "1" | "ON" | "YES" | "TRUE"
    )
}

/// `~` and `~/…` to the home folder, as Python's `os.path.expanduser` does for these paths.
fn expand_user(value: &str, home: Option<&Path>) -> PathBuf {
    match (value.strip_prefix('~'), home) {
        (Some(""), Some(home)) => home.to_path_buf(),
        (Some(rest), Some(home)) if rest.starts_with('/') || rest.starts_with('\\') => {
            home.join(&rest[1..])
        }
        _ => PathBuf::from(value),
    }
}

fn read_token_file(path: &Path) -> Option<String> {
    match std::fs::read_to_string(path) {
        Ok(text) => Some(text.trim().to_string()).filter(|t| !t.is_empty()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => {
            tracing::debug!("ignoring unreadable token file {}: {e}", path.display());
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn from(vars: &[(&str, &str)]) -> HubConfig {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        HubConfig::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn defaults_follow_home() {
        let c = from(&[("HOME", "/h")]);
        assert_eq!(c.endpoint(), DEFAULT_ENDPOINT);
        assert_eq!(c.cache_dir(), Path::new("/h/.cache/huggingface/hub"));
        assert!(!c.offline());
        assert_eq!(c.token(), None);
    }

    #[test]
    fn cache_precedence() {
        let c = from(&[("HOME", "/h"), ("XDG_CACHE_HOME", "/x")]);
        assert_eq!(c.cache_dir(), Path::new("/x/huggingface/hub"));
        let c = from(&[("HOME", "/h"), ("HF_HOME", "~/hf")]);
        assert_eq!(c.cache_dir(), Path::new("/h/hf/hub"));
        let c = from(&[("HF_HOME", "/hf"), ("HF_HUB_CACHE", "/c")]);
        assert_eq!(c.cache_dir(), Path::new("/c"));
    }

    #[test]
    fn endpoint_offline_and_token() {
        let c = from(&[
            ("HF_ENDPOINT", "http://mirror:1/"),
            ("HF_HUB_OFFLINE", "yes"),
            ("HF_TOKEN", " hf_abc \n"),
        ]);
        assert_eq!(c.endpoint(), "http://mirror:1");
        assert!(c.offline());
        assert_eq!(c.token(), Some("hf_abc"));
        assert!(!format!("{c:?}").contains("hf_abc"));
        for v in ["1", "true", "TRUE", "On"] {
            assert!(from(&[("HF_HUB_OFFLINE", v)]).offline(), "{v}");
        }
        for v in ["0", "false", "no", ""] {
            assert!(!from(&[("HF_HUB_OFFLINE", v)]).offline(), "{v}");
        }
    }

    #[test]
    fn token_file_under_hf_home() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("token"), "hf_file\n").unwrap();
        let home = dir.path().to_str().unwrap();
        assert_eq!(from(&[("HF_HOME", home)]).token(), Some("hf_file"));
        // The variable wins over the file.
        assert_eq!(
            from(&[("HF_HOME", home), ("HF_TOKEN", "hf_env")]).token(),
            Some("hf_env")
        );
    }
}
