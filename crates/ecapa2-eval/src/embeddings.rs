//! Embedding storage: an in-memory key → vector map and its on-disk formats.
//!
//! | extension           | format                                                              |
//! |---------------------|---------------------------------------------------------------------|
//! | `.npy`              | 2-D float32 NPY matrix, one row per key, plus a keys file `<stem>.keys` (one key per line, same order) |
//! | `.jsonl`, `.ndjson` | JSON Lines, one `{"key":…, "label":…, "dim":…, "vector":[…]}` object per line |
//! | `.ark`              | Kaldi text archive, one `key  [ v1 v2 … ]` line per vector          |
//! | `.scp`              | Kaldi script file `key ark_path:offset` into a text `.ark` (written beside it as `<stem>.ark`) |
//!
//! Keys are non-empty and contain no whitespace (every text format is whitespace-delimited).
//! All vectors of a store share one dimension and are finite. Labels (e.g. speaker ids) are
//! kept only by JSON Lines; the other formats drop them on save.
//!
//! The store doubles as the embedding cache of `eval`: load it (or start empty) with
//! [`EmbeddingStore::load_if_exists`], fill gaps with [`EmbeddingStore::get_or_try_insert_with`]
//! so every file is embedded once, and [`EmbeddingStore::save`] it back.

pub mod jsonl;
pub mod kaldi;
pub mod npy;

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Errors from building, reading or writing an embedding store.
#[derive(Debug, thiserror::Error)]
pub enum EmbeddingError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// File concerned.
        path: PathBuf,
        /// Underlying I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The extension does not name a supported format.
    #[error("{path}: unknown embedding format (expected .npy, .jsonl, .ndjson, .ark or .scp)")]
    UnknownFormat {
        /// File concerned.
        path: PathBuf,
    },
    /// The key is empty or contains whitespace.
    #[error("invalid embedding key {key:?}: keys must be non-empty and contain no whitespace")]
    InvalidKey {
        /// The rejected key.
        key: String,
    },
    /// The vector is empty.
    #[error("embedding {key:?} is empty")]
    EmptyVector {
        /// Key concerned.
        key: String,
    },
    /// The vector's length differs from the store's dimension.
    #[error("embedding {key:?} has dimension {found}, store has {expected}")]
    DimensionMismatch {
        /// Key concerned.
        key: String,
        /// The store's dimension.
        expected: usize,
        /// The vector's length.
        found: usize,
    },
    /// A vector element is NaN or infinite.
    #[error("embedding {key:?} has a non-finite value at index {index}")]
    NonFinite {
        /// Key concerned.
        key: String,
        /// Index of the first bad element.
        index: usize,
    },
    /// A file lists the same key twice.
    #[error("duplicate key {key:?}")]
    DuplicateKey {
        /// The repeated key.
        key: String,
    },
    /// A record of a file is invalid (bad key, vector or duplicate); `source` says how.
    #[error("{path}:{line}: {source}")]
    Record {
        /// File concerned.
        path: PathBuf,
        /// 1-based line number of the record (the key's line for NPY).
        line: usize,
        /// What is wrong with the record.
        #[source]
        source: Box<EmbeddingError>,
    },
    /// An NPY file is malformed.
    #[error("{path}: {source}")]
    Npy {
        /// File concerned.
        path: PathBuf,
        /// What is wrong with it.
        #[source]
        source: npy::NpyError,
    },
    /// The keys file and the NPY matrix disagree in length.
    #[error("{keys_path}: {keys} keys but the NPY matrix has {rows} rows")]
    KeyCount {
        /// The keys file.
        keys_path: PathBuf,
        /// Keys listed.
        keys: usize,
        /// Rows in the matrix.
        rows: usize,
    },
    /// A JSON Lines record cannot be decoded.
    #[error("{path}:{line}: {source}")]
    Json {
        /// File concerned.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// Decoder error.
        #[source]
        source: serde_json::Error,
    },
    /// A text line (keys file, Kaldi ark or scp, JSON `dim` check) is malformed.
    #[error("{path}:{line}: {reason}")]
    Parse {
        /// File concerned.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// A requested key is not in the store.
    #[error("no embedding for key {key:?}")]
    MissingKey {
        /// The key looked up.
        key: String,
    },
}

/// On-disk embedding formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EmbeddingFormat {
    /// `.npy` matrix plus `<stem>.keys`.
    Npy,
    /// `.jsonl` / `.ndjson` JSON Lines.
    JsonLines,
    /// `.ark` Kaldi text archive.
    KaldiArk,
    /// `.scp` Kaldi script file indexing a text archive.
    KaldiScp,
}

impl EmbeddingFormat {
    /// Detects the format from the file extension (case-insensitive).
    pub fn from_path(path: &Path) -> Result<Self, EmbeddingError> {
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        match ext.as_deref() {
            Some("npy") => Ok(Self::Npy),
            Some("jsonl" | "ndjson") => Ok(Self::JsonLines),
            Some("ark") => Ok(Self::KaldiArk),
            Some("scp") => Ok(Self::KaldiScp),
            _ => Err(EmbeddingError::UnknownFormat {
                path: path.to_path_buf(),
            }),
        }
    }
}

/// The keys file that accompanies an NPY matrix: same path with extension `.keys`.
pub fn npy_keys_path(npy_path: &Path) -> PathBuf {
    npy_path.with_extension("keys")
}

/// The text archive that a `.scp` written by [`EmbeddingStore::save`] points into:
/// same path with extension `.ark`.
pub fn scp_ark_path(scp_path: &Path) -> PathBuf {
    scp_path.with_extension("ark")
}

#[derive(Debug, Clone, PartialEq)]
struct Entry {
    key: String,
    vector: Vec<f32>,
    label: Option<String>,
}

/// Embeddings by key, in insertion order, all of one dimension.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EmbeddingStore {
    entries: Vec<Entry>,
    index: HashMap<String, usize>,
}

impl EmbeddingStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of embeddings.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the store holds no embeddings.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The common dimension, or `None` while the store is empty.
    pub fn dim(&self) -> Option<usize> {
        self.entries.first().map(|e| e.vector.len())
    }

    /// Whether `key` is present.
    pub fn contains(&self, key: &str) -> bool {
        self.index.contains_key(key)
    }

    /// The vector stored under `key`.
    pub fn get(&self, key: &str) -> Option<&[f32]> {
        self.index
            .get(key)
            .map(|&i| self.entries[i].vector.as_slice())
    }

    /// The vector stored under `key`, or [`EmbeddingError::MissingKey`].
    pub fn require(&self, key: &str) -> Result<&[f32], EmbeddingError> {
        self.get(key).ok_or_else(|| EmbeddingError::MissingKey {
            key: key.to_string(),
        })
    }

    /// The label stored with `key`, if any.
    pub fn label(&self, key: &str) -> Option<&str> {
        self.index
            .get(key)
            .and_then(|&i| self.entries[i].label.as_deref())
    }

    /// Keys in insertion order.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|e| e.key.as_str())
    }

    /// `(key, vector)` pairs in insertion order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[f32])> {
        self.entries
            .iter()
            .map(|e| (e.key.as_str(), e.vector.as_slice()))
    }

    /// `(key, vector, label)` triples in insertion order.
    pub fn iter_labeled(&self) -> impl Iterator<Item = (&str, &[f32], Option<&str>)> {
        self.entries
            .iter()
            .map(|e| (e.key.as_str(), e.vector.as_slice(), e.label.as_deref()))
    }

    /// Inserts or replaces `key` (keeping its position and label when replacing). Returns the
    /// previous vector. Fails on an invalid key, an empty or non-finite vector, or a dimension
    /// different from the store's.
    pub fn insert(
        &mut self,
        key: impl Into<String>,
        vector: Vec<f32>,
    ) -> Result<Option<Vec<f32>>, EmbeddingError> {
        let key = key.into();
        self.validate(&key, &vector)?;
        Ok(match self.index.get(&key) {
            Some(&i) => Some(std::mem::replace(&mut self.entries[i].vector, vector)),
            None => {
                self.push(key, vector, None);
                None
            }
        })
    }

    /// Like [`insert`](Self::insert) but also sets the label (`None` clears it).
    pub fn insert_labeled(
        &mut self,
        key: impl Into<String>,
        vector: Vec<f32>,
        label: Option<String>,
    ) -> Result<Option<Vec<f32>>, EmbeddingError> {
        let key = key.into();
        let old = self.insert(key.clone(), vector)?;
        let i = self.index[&key];
        self.entries[i].label = label;
        Ok(old)
    }

    /// Returns the cached vector for `key`, computing and storing it with `compute` first if it
    /// is missing. `compute` runs at most once per key over the store's life — the embedding
    /// cache behind `eval`.
    pub fn get_or_try_insert_with<E, F>(&mut self, key: &str, compute: F) -> Result<&[f32], E>
    where
        E: From<EmbeddingError>,
        F: FnOnce() -> Result<Vec<f32>, E>,
    {
        let i = match self.index.get(key) {
            Some(&i) => i,
            None => {
                let vector = compute()?;
                self.validate(key, &vector)?;
                self.push(key.to_string(), vector, None);
                self.entries.len() - 1
            }
        };
        Ok(&self.entries[i].vector)
    }

    /// Loads a store, detecting the format from the extension (see the module docs).
    pub fn load(path: &Path) -> Result<Self, EmbeddingError> {
        Self::load_as(path, EmbeddingFormat::from_path(path)?)
    }

    /// Loads `path` if it exists, else returns an empty store (a cache not yet written).
    pub fn load_if_exists(path: &Path) -> Result<Self, EmbeddingError> {
        // Check the format first so a typo in the extension is reported, not silently ignored.
        let format = EmbeddingFormat::from_path(path)?;
        if path.exists() {
            Self::load_as(path, format)
        } else {
            Ok(Self::new())
        }
    }

    /// Loads a store in the given format.
    pub fn load_as(path: &Path, format: EmbeddingFormat) -> Result<Self, EmbeddingError> {
        let mut store = Self::new();
        match format {
            EmbeddingFormat::Npy => {
                let bytes = read(path)?;
                let m = npy::read_f32_matrix(&bytes).map_err(|source| EmbeddingError::Npy {
                    path: path.to_path_buf(),
                    source,
                })?;
                let keys_path = npy_keys_path(path);
                let keys = read_keys(&keys_path)?;
                if keys.len() != m.rows {
                    return Err(EmbeddingError::KeyCount {
                        keys_path,
                        keys: keys.len(),
                        rows: m.rows,
                    });
                }
                for (i, (line, key)) in keys.into_iter().enumerate() {
                    // A (rows, 0) matrix yields empty rows, which `add_new` rejects.
                    let row = m.data[i * m.cols..(i + 1) * m.cols].to_vec();
                    store.add_new(&keys_path, line, key, row, None)?;
                }
            }
            EmbeddingFormat::JsonLines => jsonl::read_into(&mut store, path, &read_text(path)?)?,
            EmbeddingFormat::KaldiArk => kaldi::read_ark_into(&mut store, path, &read(path)?)?,
            EmbeddingFormat::KaldiScp => kaldi::read_scp_into(&mut store, path, &read_text(path)?)?,
        }
        Ok(store)
    }

    /// Saves the store, detecting the format from the extension. `.npy` also writes
    /// [`npy_keys_path`]; `.scp` also writes [`scp_ark_path`]. Each file is written to a
    /// temporary sibling and renamed into place, so an interrupted save leaves the old file.
    pub fn save(&self, path: &Path) -> Result<(), EmbeddingError> {
        self.save_as(path, EmbeddingFormat::from_path(path)?)
    }

    /// Saves the store in the given format (see [`save`](Self::save)).
    pub fn save_as(&self, path: &Path, format: EmbeddingFormat) -> Result<(), EmbeddingError> {
        match format {
            EmbeddingFormat::Npy => {
                let mut keys = String::new();
                for e in &self.entries {
                    keys.push_str(&e.key);
                    keys.push('\n');
                }
                write_atomic(&npy_keys_path(path), keys.as_bytes())?;
                let (rows, cols) = (self.len(), self.dim().unwrap_or(0));
                let data: Vec<f32> = self
                    .entries
                    .iter()
                    .flat_map(|e| e.vector.iter().copied())
                    .collect();
                let mut buf = Vec::with_capacity(128 + data.len() * 4);
                npy::write_f32_matrix(&mut buf, rows, cols, &data)
                    .map_err(|source| io_err(path, source))?;
                write_atomic(path, &buf)
            }
            EmbeddingFormat::JsonLines => {
                let mut buf = Vec::new();
                jsonl::write(self, &mut buf).map_err(|source| io_err(path, source))?;
                write_atomic(path, &buf)
            }
            EmbeddingFormat::KaldiArk => {
                let mut buf = Vec::new();
                kaldi::write_ark(self, &mut buf).map_err(|source| io_err(path, source))?;
                write_atomic(path, &buf)
            }
            EmbeddingFormat::KaldiScp => {
                let ark_path = scp_ark_path(path);
                let (mut ark, mut scp) = (Vec::new(), Vec::new());
                kaldi::write_ark_and_scp(self, &ark_path, &mut ark, &mut scp)
                    .map_err(|source| io_err(path, source))?;
                write_atomic(&ark_path, &ark)?;
                write_atomic(path, &scp)
            }
        }
    }

    /// Adds a key read from line `line` of `path`; a key already present is an error (files
    /// never repeat keys).
    pub(crate) fn add_new(
        &mut self,
        path: &Path,
        line: usize,
        key: String,
        vector: Vec<f32>,
        label: Option<String>,
    ) -> Result<(), EmbeddingError> {
        let checked = if self.contains(&key) {
            Err(EmbeddingError::DuplicateKey { key: key.clone() })
        } else {
            self.validate(&key, &vector)
        };
        checked.map_err(|e| EmbeddingError::Record {
            path: path.to_path_buf(),
            line,
            source: Box::new(e),
        })?;
        self.push(key, vector, label);
        Ok(())
    }

    fn push(&mut self, key: String, vector: Vec<f32>, label: Option<String>) {
        self.index.insert(key.clone(), self.entries.len());
        self.entries.push(Entry { key, vector, label });
    }

    fn validate(&self, key: &str, vector: &[f32]) -> Result<(), EmbeddingError> {
        if key.is_empty() || key.chars().any(char::is_whitespace) {
            return Err(EmbeddingError::InvalidKey {
                key: key.to_string(),
            });
        }
        if vector.is_empty() {
            return Err(EmbeddingError::EmptyVector {
                key: key.to_string(),
            });
        }
        if let Some(index) = vector.iter().position(|v| !v.is_finite()) {
            return Err(EmbeddingError::NonFinite {
                key: key.to_string(),
                index,
            });
        }
        match self.dim() {
            Some(expected) if expected != vector.len() => Err(EmbeddingError::DimensionMismatch {
                key: key.to_string(),
                expected,
                found: vector.len(),
            }),
            _ => Ok(()),
        }
    }
}

fn io_err(path: &Path, source: std::io::Error) -> EmbeddingError {
    EmbeddingError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn read(path: &Path) -> Result<Vec<u8>, EmbeddingError> {
    std::fs::read(path).map_err(|e| io_err(path, e))
}

fn read_text(path: &Path) -> Result<String, EmbeddingError> {
    std::fs::read_to_string(path).map_err(|e| io_err(path, e))
}

/// One key per non-blank line (surrounding whitespace ignored), with its 1-based line number.
fn read_keys(path: &Path) -> Result<Vec<(usize, String)>, EmbeddingError> {
    let text = read_text(path)?;
    let mut keys = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let k = line.trim();
        if k.is_empty() {
            continue;
        }
        if k.contains(char::is_whitespace) {
            return Err(EmbeddingError::Parse {
                path: path.to_path_buf(),
                line: i + 1,
                reason: format!("key {k:?} contains whitespace"),
            });
        }
        keys.push((i + 1, k.to_string()));
    }
    Ok(keys)
}

/// Writes via a temporary sibling file and a rename, so readers never see a half-written file.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), EmbeddingError> {
    let mut tmp_name = path
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    tmp_name.push(".tmp");
    let tmp = path.with_file_name(tmp_name);
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    result.map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        io_err(path, e)
    })
}
