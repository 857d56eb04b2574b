//! Kaldi text archives (`.ark`) of vectors and the script files (`.scp`) that index them.
//!
//! An archive line is `key  [ v1 v2 … ]`, as `copy-vector ark:… ark,t:…` prints it. A script
//! line is `key ark_path:offset`, where `offset` is the byte position right after `key ` in the
//! archive — the same position Kaldi's own writer records, so Kaldi tools read our `.scp`
//! files and we read theirs (for text archives). The archive path is written exactly as given
//! to the writer; on reading, relative paths are resolved against the working directory, as in
//! Kaldi, falling back to the `.scp`'s own directory. Binary
//! archives, matrices and `path:offset[range]` specifiers are not supported and are reported
//! as errors.

use std::collections::HashMap;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use super::{EmbeddingError, EmbeddingStore};
use crate::float_text::f32_text;

/// Writes every embedding of `store` as a text-archive line.
pub fn write_ark<W: Write>(store: &EmbeddingStore, mut w: W) -> io::Result<()> {
    for (key, vector) in store.iter() {
        w.write_all(key.as_bytes())?;
        w.write_all(b" ")?;
        w.write_all(&vector_text(vector))?;
    }
    w.flush()
}

/// Writes the text archive to `ark` and a script file indexing it to `scp`; `ark_path` is the
/// path written into the script (whitespace in it is rejected, Kaldi cannot read it).
pub fn write_ark_and_scp<A: Write, S: Write>(
    store: &EmbeddingStore,
    ark_path: &Path,
    mut ark: A,
    mut scp: S,
) -> io::Result<()> {
    let ark_name = ark_path.to_string_lossy();
    if ark_name.is_empty() || ark_name.contains(char::is_whitespace) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("archive path {ark_name:?} is empty or contains whitespace"),
        ));
    }
    let mut pos = 0usize;
    for (key, vector) in store.iter() {
        let text = vector_text(vector);
        ark.write_all(key.as_bytes())?;
        ark.write_all(b" ")?;
        let offset = pos + key.len() + 1;
        ark.write_all(&text)?;
        pos = offset + text.len();
        writeln!(scp, "{key} {ark_name}:{offset}")?;
    }
    ark.flush()?;
    scp.flush()
}

/// `" [ v1 v2 … ]\n"`: the object part of a line, starting at the offset an scp points to.
fn vector_text(v: &[f32]) -> Vec<u8> {
    let mut s = String::with_capacity(v.len() * 12 + 6);
    s.push_str(" [ ");
    for x in v {
        s.push_str(&f32_text(*x));
        s.push(' ');
    }
    s.push_str("]\n");
    s.into_bytes()
}

/// Parses a text archive (`bytes`, read from `path`) into `store`.
pub(crate) fn read_ark_into(
    store: &mut EmbeddingStore,
    path: &Path,
    bytes: &[u8],
) -> Result<(), EmbeddingError> {
    // Kaldi marks binary objects with "\0B" right after the key.
    if let Some(pos) = bytes.windows(2).position(|w| w == b"\0B") {
        let line = 1 + bytes[..pos].iter().filter(|&&b| b == b'\n').count();
        return Err(parse_err(
            path,
            line,
            "binary Kaldi archive; convert it to text with `copy-vector ark:in.ark ark,t:out.ark`"
                .into(),
        ));
    }
    let text = std::str::from_utf8(bytes).map_err(|e| {
        let line = 1 + bytes[..e.valid_up_to()]
            .iter()
            .filter(|&&b| b == b'\n')
            .count();
        parse_err(path, line, "archive is not valid UTF-8 text".into())
    })?;
    for (i, line) in text.lines().enumerate() {
        let trimmed = line.trim();
        if trimmed.is_empty() {
            continue;
        }
        let (key, rest) = trimmed
            .split_once(char::is_whitespace)
            .unwrap_or((trimmed, ""));
        let vector =
            parse_vector(rest).map_err(|r| parse_err(path, i + 1, format!("key {key:?}: {r}")))?;
        store.add_new(path, i + 1, key.to_string(), vector, None)?;
    }
    Ok(())
}

/// Parses a script file (`text`, read from `scp_path`) into `store`, reading each vector from
/// its archive at the given offset.
pub(crate) fn read_scp_into(
    store: &mut EmbeddingStore,
    scp_path: &Path,
    text: &str,
) -> Result<(), EmbeddingError> {
    let mut arks: HashMap<PathBuf, Vec<u8>> = HashMap::new();
    for (i, line) in text.lines().enumerate() {
        let lineno = i + 1;
        let fields: Vec<&str> = line.split_whitespace().collect();
        let (key, spec) = match fields.as_slice() {
            [] => continue,
            [key, spec] => (*key, *spec),
            _ => {
                return Err(parse_err(
                    scp_path,
                    lineno,
                    format!(
                        "expected `key ark_path:offset`, found {} fields",
                        fields.len()
                    ),
                ))
            }
        };
        let (ark, offset) = spec
            .rsplit_once(':')
            .and_then(|(p, o)| Some((p, o.parse::<usize>().ok()?)))
            .filter(|(p, _)| !p.is_empty())
            .ok_or_else(|| {
                parse_err(
                    scp_path,
                    lineno,
                    format!("expected `ark_path:offset`, found {spec:?}"),
                )
            })?;
        let ark_path = resolve(scp_path, ark);
        if !arks.contains_key(&ark_path) {
            let bytes = std::fs::read(&ark_path).map_err(|source| EmbeddingError::Io {
                path: ark_path.clone(),
                source,
            })?;
            arks.insert(ark_path.clone(), bytes);
        }
        let bytes = &arks[&ark_path];
        let object = bytes.get(offset..).ok_or_else(|| {
            parse_err(
                scp_path,
                lineno,
                format!("offset {offset} is past the end of {}", ark_path.display()),
            )
        })?;
        if object.starts_with(b"\0B") {
            return Err(parse_err(
                scp_path,
                lineno,
                "points into a binary archive (only text archives are supported)".into(),
            ));
        }
        // The object ends at the first ']' (the vector's closing bracket).
        let end = object
            .iter()
            .position(|&b| b == b']')
            .map_or(object.len(), |p| p + 1);
        let vector = std::str::from_utf8(&object[..end])
            .map_err(|_| "archive text is not UTF-8".to_string())
            .and_then(parse_vector)
            .map_err(|r| {
                parse_err(
                    scp_path,
                    lineno,
                    format!("key {key:?} at {}:{offset}: {r}", ark_path.display()),
                )
            })?;
        store.add_new(scp_path, lineno, key.to_string(), vector, None)?;
    }
    Ok(())
}

/// Parses `[ v1 v2 … ]` (surrounding whitespace allowed, nothing after `]`).
fn parse_vector(s: &str) -> Result<Vec<f32>, String> {
    let mut tokens = s.split_whitespace();
    if tokens.next() != Some("[") {
        return Err("expected `[ v1 v2 … ]` after the key".into());
    }
    let mut out = Vec::new();
    loop {
        match tokens.next() {
            Some("]") => break,
            Some(t) => out.push(
                t.parse::<f32>()
                    .map_err(|_| format!("invalid number {t:?}"))?,
            ),
            None => {
                return Err("missing closing `]` (multi-line matrices are not supported)".into())
            }
        }
    }
    match tokens.next() {
        Some(t) => Err(format!("unexpected {t:?} after `]`")),
        None => Ok(out),
    }
}

/// Kaldi resolves relative archive paths against the working directory; if nothing is there we
/// try the `.scp`'s directory (joined with the path, then with its file name alone), so a pair of
/// files written from another directory, or moved together, still loads.
fn resolve(scp_path: &Path, ark: &str) -> PathBuf {
    let p = PathBuf::from(ark);
    if p.is_relative() && !p.exists() {
        if let Some(dir) = scp_path.parent() {
            let candidates = [Some(dir.join(&p)), p.file_name().map(|n| dir.join(n))];
            if let Some(found) = candidates.into_iter().flatten().find(|c| c.exists()) {
                return found;
            }
        }
    }
    p
}

fn parse_err(path: &Path, line: usize, reason: String) -> EmbeddingError {
    EmbeddingError::Parse {
        path: path.to_path_buf(),
        line,
        reason,
    }
}
