//! URL building and redirect resolution, kept to the little the hub protocol needs.

use ureq::http::Uri;

/// `{endpoint}/{repo}/resolve/{revision}/{filename}`, quoted as `huggingface_hub.hf_hub_url`
/// does: the revision fully (so `refs/pr/1` stays one segment), the filename keeping `/`.
pub(crate) fn resolve_url(endpoint: &str, repo: &str, revision: &str, filename: &str) -> String {
    format!(
        "{endpoint}/{repo}/resolve/{}/{}",
        quote(revision, false),
        quote(filename, true)
    )
}

/// Percent-encodes everything but RFC 3986 unreserved characters (and `/` when `keep_slash`).
fn quote(text: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for &b in text.as_bytes() {
        let keep = b.is_ascii_alphanumeric()
            || matches!(b, b'-' | b'.' | b'_' | b'~')
            || (keep_slash && b == b'/');
        if keep {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `scheme://host:port` in lower case with the port made explicit, or `None` if `url` is not
/// absolute. Two URLs with the same origin are "the same host" for sending the token.
pub(crate) fn origin(url: &str) -> Option<String> {
    let uri: Uri = url.parse().ok()?;
    let scheme = uri.scheme_str()?.to_ascii_lowercase();
    let host = uri.host()?.to_ascii_lowercase();
    let port = uri.port_u16().or(match scheme.as_str() {
        "http" => Some(80),
        "https" => Some(443),
        _ => None,
    })?;
    Some(format!("{scheme}://{host}:{port}"))
}

/// Resolves a `Location` header against the URL that sent it.
pub(crate) fn join(base: &str, location: &str) -> Option<String> {
    let location = location.trim();
    if location.contains("://") {
        return Some(location.to_string());
    }
    let uri: Uri = base.parse().ok()?;
    let scheme = uri.scheme_str()?;
    let authority = uri.authority()?.as_str();
    if let Some(rest) = location.strip_prefix("//") {
        return Some(format!("{scheme}://{rest}"));
    }
    if location.starts_with('/') {
        return Some(format!("{scheme}://{authority}{location}"));
    }
    // Relative path: replace the last segment of the base path.
    let path = uri.path();
    let dir = path.rfind('/').map_or("/", |i| &path[..=i]);
    Some(format!("{scheme}://{authority}{dir}{location}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_resolve_urls() {
        assert_eq!(
            resolve_url(
                "https://huggingface.co",
                "Jenthe/ECAPA2",
                "refs/pr/1",
                "a b/c.pt"
            ),
            "https://huggingface.co/Jenthe/ECAPA2/resolve/refs%2Fpr%2F1/a%20b/c.pt"
        );
    }

    #[test]
    fn origins_and_joins() {
        assert_eq!(
            origin("https://HF.co/x").as_deref(),
            Some("https://hf.co:443")
        );
        assert_eq!(
            origin("http://127.0.0.1:9/x").as_deref(),
            Some("http://127.0.0.1:9")
        );
        assert_eq!(origin("/relative"), None);
        let base = "http://h:1/a/resolve/main/f";
        assert_eq!(join(base, "/b/c").as_deref(), Some("http://h:1/b/c"));
        assert_eq!(
            join(base, "g").as_deref(),
            Some("http://h:1/a/resolve/main/g")
        );
        assert_eq!(join(base, "//cdn/x").as_deref(), Some("http://cdn/x"));
        assert_eq!(
            join(base, "https://cdn/x").as_deref(),
            Some("https://cdn/x")
        );
    }
}
