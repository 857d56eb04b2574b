//! The hub's HTTP protocol: a HEAD on the resolve URL for the file's metadata, then a GET that
//! follows the redirect to the CDN.
//!
//! Redirects are followed by hand (the agent follows none) so that the `Range` header survives
//! them and the token is sent only to the hub's own origin, never to a CDN on another host.

use ureq::http::{HeaderMap, Response};
use ureq::{Agent, Body};

use crate::config::HubConfig;
use crate::error::HubError;
use crate::url::{join, origin, resolve_url};

const MAX_REDIRECTS: usize = 10;

/// What the HEAD on a resolve URL tells about a file.
#[derive(Debug, Clone)]
pub(crate) struct Metadata {
    /// The commit the revision points to (`X-Repo-Commit`).
    pub commit: String,
    /// `X-Linked-Etag` (the LFS sha256) or `ETag`, without quotes or `W/`.
    pub etag: String,
    /// `X-Linked-Size` or `Content-Length`.
    pub size: Option<u64>,
    /// Where to GET the bytes: the CDN location if the hub redirected, else the resolve URL.
    pub location: String,
}

/// Why a HEAD did not give metadata.
#[derive(Debug)]
pub(crate) enum HeadFailure {
    /// No usable answer (network error or a 5xx): the cache may still serve the file.
    Unavailable(String),
    /// A definite answer (401, 404, malformed response): report it.
    Fatal(HubError),
}

/// A connection to one hub, for one file.
pub(crate) struct Remote<'a> {
    agent: Agent,
    config: &'a HubConfig,
    hub_origin: Option<String>,
    repo: &'a str,
    filename: &'a str,
    revision: &'a str,
}

impl<'a> Remote<'a> {
    pub(crate) fn new(
        config: &'a HubConfig,
        repo: &'a str,
        filename: &'a str,
        revision: &'a str,
    ) -> Self {
        let agent: Agent = Agent::config_builder()
            .max_redirects(0)
            .http_status_as_error(false)
            .timeout_resolve(Some(config.connect_timeout()))
            .timeout_connect(Some(config.connect_timeout()))
            .timeout_recv_response(Some(config.read_timeout()))
            .timeout_per_read(Some(config.read_timeout()))
            .user_agent(concat!("ecapa2-hub/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        Remote {
            agent,
            config,
            hub_origin: origin(config.endpoint()),
            repo,
            filename,
            revision,
        }
    }

    /// The resolve URL of the file.
    pub(crate) fn resolve_url(&self) -> String {
        resolve_url(
            self.config.endpoint(),
            self.repo,
            self.revision,
            self.filename,
        )
    }

    /// HEAD the resolve URL. Relative redirects (the hub's answer for a renamed repository)
    /// and absolute ones to the same origin (a mirror that spells its own URLs out) are
    /// followed, as `huggingface_hub` 2.x does; a redirect to another origin is the CDN and
    /// ends the walk.
    pub(crate) fn head(&self) -> Result<Metadata, HeadFailure> {
        let mut url = self.resolve_url();
        for _ in 0..=MAX_REDIRECTS {
            let response = self
                .send("HEAD", &url, None)
                .map_err(|e| HeadFailure::Unavailable(reason(&e)))?;
            let status = response.status().as_u16();
            let headers = response.headers();
            let location = header(headers, "location");
            if (300..400).contains(&status) {
                let same_origin = |l: &str| origin(l).is_some() && origin(l) == origin(&url);
                if let Some(loc) = location
                    .as_deref()
                    .filter(|l| is_relative(l) || same_origin(l))
                {
                    url = join(&url, loc)
                        .ok_or_else(|| bad(&url, "unusable Location header"))
                        .map_err(HeadFailure::Fatal)?;
                    tracing::debug!("hub redirected HEAD to {url}");
                    continue;
                }
            } else if !(200..300).contains(&status) {
                return Err(self.status_failure(&url, status, headers));
            }
            return self
                .metadata(&url, status, headers)
                .map_err(HeadFailure::Fatal);
        }
        Err(HeadFailure::Fatal(bad(&url, "too many redirects")))
    }

    fn metadata(&self, url: &str, status: u16, headers: &HeaderMap) -> Result<Metadata, HubError> {
        let commit = header(headers, "x-repo-commit")
            .ok_or_else(|| bad(url, "no X-Repo-Commit header (is HF_ENDPOINT a hub?)"))?;
        let etag = header(headers, "x-linked-etag")
            .or_else(|| header(headers, "etag"))
            .map(|e| normalize_etag(&e))
            .filter(|e| !e.is_empty())
            .ok_or_else(|| bad(url, "no ETag header"))?;
        // A redirect's Content-Length is that of its own little body, not of the file.
        let length = (200..300)
            .contains(&status)
            .then(|| header(headers, "content-length"))
            .flatten();
        let size = header(headers, "x-linked-size")
            .or(length)
            .and_then(|s| s.trim().parse::<u64>().ok());
        let location = match header(headers, "location") {
            Some(loc) => join(url, &loc).ok_or_else(|| bad(url, "unusable Location header"))?,
            None => url.to_string(),
        };
        Ok(Metadata {
            commit,
            etag,
            size,
            location,
        })
    }

    /// GET `url` from byte `offset` on, following redirects. Answers 200, 206 or 416 as a
    /// response; anything else as an error naming the file.
    pub(crate) fn get(&self, url: &str, offset: u64) -> Result<Response<Body>, HubError> {
        let mut url = url.to_string();
        let range = (offset > 0).then(|| format!("bytes={offset}-"));
        for _ in 0..=MAX_REDIRECTS {
            let response = self
                .send("GET", &url, range.as_deref())
                .map_err(|e| self.interrupted(offset, reason(&e)))?;
            let status = response.status().as_u16();
            match status {
                200 | 206 | 416 => return Ok(response),
                300..=399 => {
                    let loc = header(response.headers(), "location")
                        .ok_or_else(|| bad(&url, "redirect without Location"))?;
                    url = join(&url, &loc).ok_or_else(|| bad(&url, "unusable Location header"))?;
                    tracing::debug!("following redirect to {}", origin(&url).unwrap_or_default());
                }
                _ => {
                    return Err(
                        match self.status_failure(&url, status, response.headers()) {
                            HeadFailure::Fatal(e) => e,
                            HeadFailure::Unavailable(r) => self.interrupted(offset, r),
                        },
                    )
                }
            }
        }
        Err(bad(&url, "too many redirects"))
    }

    /// An [`HubError::Interrupted`] for this file.
    pub(crate) fn interrupted(&self, done: u64, reason: String) -> HubError {
        HubError::Interrupted {
            repo: self.repo.to_string(),
            filename: self.filename.to_string(),
            done,
            reason,
        }
    }

    fn send(
        &self,
        method: &str,
        url: &str,
        range: Option<&str>,
    ) -> Result<Response<Body>, ureq::Error> {
        let mut request = if method == "HEAD" {
            self.agent.head(url)
        } else {
            self.agent.get(url)
        };
        // Sizes and ranges must be those of the stored bytes, not of a compressed encoding.
        request = request.header("Accept-Encoding", "identity");
        if let Some(range) = range {
            request = request.header("Range", range);
        }
        if let Some(token) = self.config.token() {
            if self.hub_origin.is_some() && origin(url) == self.hub_origin {
                request = request.header("Authorization", format!("Bearer {token}"));
            }
        }
        request.call()
    }

    fn status_failure(&self, url: &str, status: u16, headers: &HeaderMap) -> HeadFailure {
        let endpoint = self.config.endpoint().to_string();
        match status {
            401 | 403 => HeadFailure::Fatal(HubError::Unauthorized {
                endpoint,
                repo: self.repo.to_string(),
                filename: self.filename.to_string(),
                status,
            }),
            404 => HeadFailure::Fatal(HubError::NotFound {
                endpoint,
                repo: self.repo.to_string(),
                filename: self.filename.to_string(),
                revision: self.revision.to_string(),
                detail: header(headers, "x-error-code")
                    .map(|c| format!(", {}", one_line(&c)))
                    .unwrap_or_default(),
            }),
            500..=599 => HeadFailure::Unavailable(format!("HTTP {status}")),
            _ => HeadFailure::Fatal(HubError::Http {
                url: url.to_string(),
                status,
            }),
        }
    }
}

fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().to_string())
}

/// `W/"abc"` -> `abc`, as `huggingface_hub._normalize_etag` does.
fn normalize_etag(etag: &str) -> String {
    let etag = etag.trim();
    let etag = etag.strip_prefix("W/").unwrap_or(etag);
    etag.trim_matches('"').to_string()
}

/// A Location with no scheme and host (Python's "netloc is empty").
fn is_relative(location: &str) -> bool {
    !location.contains("://") && !location.starts_with("//")
}

fn bad(url: &str, detail: &str) -> HubError {
    HubError::BadResponse {
        url: url.to_string(),
        detail: detail.to_string(),
    }
}

/// A short, single-line cause for a transport error, e.g. "connection refused".
pub(crate) fn reason(error: &ureq::Error) -> String {
    use std::io::ErrorKind;
    let text = match error {
        ureq::Error::HostNotFound => "host not found".to_string(),
        ureq::Error::ConnectionFailed => "connection failed".to_string(),
        ureq::Error::Timeout(_) => "timed out".to_string(),
        ureq::Error::Io(e) => match e.kind() {
            ErrorKind::ConnectionRefused => "connection refused".to_string(),
            ErrorKind::ConnectionReset => "connection reset".to_string(),
            ErrorKind::ConnectionAborted => "connection aborted".to_string(),
            ErrorKind::TimedOut => "timed out".to_string(),
            ErrorKind::UnexpectedEof => "connection closed early".to_string(),
            _ => e.to_string(),
        },
        other => other.to_string(),
    };
    one_line(&text)
}

/// Joins lines so that an error stays one line on a terminal.
pub(crate) fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etags_are_normalized() {
        assert_eq!(normalize_etag("W/\"abc\""), "abc");
        assert_eq!(normalize_etag("\"9b12\""), "9b12");
        assert_eq!(normalize_etag("plain"), "plain");
    }

    #[test]
    fn relative_locations() {
        assert!(is_relative("/api/resolve-cache/x"));
        assert!(!is_relative("https://cdn-lfs.hf.co/x"));
        assert!(!is_relative("//cdn/x"));
    }
}
