//! JSON Lines embeddings: one `{"key":…, "label":…, "dim":…, "vector":[…]}` object per line.
//!
//! `label` is a string or `null` (written as `null` when absent, optional on read); `dim` is
//! written always and, when present on read, must equal the vector's length. Floats are written
//! in the shortest form that reads back to the same f32. Blank lines are skipped.

use std::io::Write;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{EmbeddingError, EmbeddingStore};

#[derive(Serialize)]
struct RecordOut<'a> {
    key: &'a str,
    label: Option<&'a str>,
    dim: usize,
    vector: &'a [f32],
}

#[derive(Deserialize)]
struct RecordIn {
    key: String,
    #[serde(default)]
    label: Option<String>,
    #[serde(default)]
    dim: Option<usize>,
    vector: Vec<f32>,
}

/// Writes every embedding of `store` as one JSON object per line.
pub fn write<W: Write>(store: &EmbeddingStore, mut w: W) -> std::io::Result<()> {
    for (key, vector, label) in store.iter_labeled() {
        let rec = RecordOut {
            key,
            label,
            dim: vector.len(),
            vector,
        };
        serde_json::to_writer(&mut w, &rec)?;
        w.write_all(b"\n")?;
    }
    w.flush()
}

/// Parses JSON Lines `text` (read from `path`, used in errors) into `store`.
pub(crate) fn read_into(
    store: &mut EmbeddingStore,
    path: &Path,
    text: &str,
) -> Result<(), EmbeddingError> {
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let rec: RecordIn = serde_json::from_str(line).map_err(|source| EmbeddingError::Json {
            path: path.to_path_buf(),
            line: i + 1,
            source,
        })?;
        if let Some(dim) = rec.dim.filter(|&d| d != rec.vector.len()) {
            return Err(EmbeddingError::Parse {
                path: path.to_path_buf(),
                line: i + 1,
                reason: format!(
                    "\"dim\" is {dim} but \"vector\" has {} values",
                    rec.vector.len()
                ),
            });
        }
        store.add_new(path, i + 1, rec.key, rec.vector, rec.label)?;
    }
    Ok(())
}
