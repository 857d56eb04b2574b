//! The one error type of the crate.
//!
//! Every malformed or hostile input maps to one of these variants; messages name the zip entry,
//! the pickle offset or the tensor (attribute path and storage key) so a user can see what broke.

use std::path::PathBuf;

use crate::DType;

/// Errors from reading an archive or a safetensors file. Every malformed input maps to one of
/// these; nothing panics.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ArchiveError {
    /// The file could not be read from disk.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file that failed.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The bytes are not a readable zip archive (truncated, not a zip, corrupt directory).
    #[error("not a readable zip archive: {detail}")]
    Zip {
        /// What the zip reader reported.
        detail: String,
    },
    /// A known file kind that is not a TorchScript archive (say what it is and what to do).
    #[error("not a TorchScript archive: this is {kind}; {advice}")]
    NotTorchScript {
        /// What the file is.
        kind: &'static str,
        /// How to get a TorchScript archive from it.
        advice: &'static str,
    },
    /// The zip has no `<folder>/data.pkl` entry, so it is not a TorchScript archive.
    #[error("no `<folder>/data.pkl` entry: not a TorchScript archive")]
    NoDataPkl,
    /// The zip has `data.pkl` under more than one top folder, so which one to read is ambiguous.
    #[error("ambiguous archive: `data.pkl` found under both `{first}/` and `{second}/`")]
    AmbiguousRoot {
        /// First top folder seen.
        first: String,
        /// Second top folder seen.
        second: String,
    },
    /// A zip entry could not be read (bad compression, CRC mismatch, short data).
    #[error("cannot read zip entry `{entry}`: {detail}")]
    EntryRead {
        /// Full entry name.
        entry: String,
        /// What went wrong.
        detail: String,
    },
    /// A zip entry is larger than the reader allows.
    #[error("zip entry `{entry}` holds {size} bytes, more than the limit of {limit}")]
    EntryTooLarge {
        /// Full entry name.
        entry: String,
        /// Declared uncompressed size.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// The archive's `byteorder` entry names something other than little-endian.
    #[error(
        "unsupported byte order `{found}` in `{entry}` (only little-endian archives are supported)"
    )]
    UnsupportedByteOrder {
        /// The `byteorder` entry.
        entry: String,
        /// Its (trimmed, truncated) content.
        found: String,
    },
    /// `data.pkl` is not a well-formed pickle of the supported subset.
    #[error("malformed pickle `{entry}` at byte {offset}: {detail}")]
    Pickle {
        /// The pickle entry.
        entry: String,
        /// Byte offset of the failing opcode.
        offset: usize,
        /// What went wrong.
        detail: String,
    },
    /// The pickle uses an opcode outside the supported subset.
    #[error("unsupported pickle opcode 0x{opcode:02x} in `{entry}` at byte {offset}")]
    UnsupportedOpcode {
        /// The pickle entry.
        entry: String,
        /// Byte offset of the opcode.
        offset: usize,
        /// The opcode byte.
        opcode: u8,
    },
    /// The pickle references a global that a TorchScript archive never needs (for example
    /// `os system` or `builtins eval`). Nothing is ever called; the archive is rejected.
    #[error("forbidden pickle global `{module}.{name}`")]
    ForbiddenGlobal {
        /// The module part of the GLOBAL.
        module: String,
        /// The name part of the GLOBAL.
        name: String,
    },
    /// A safety bound (nesting depth, stack size, memo size, value count, bytes) was exceeded.
    #[error("limit exceeded: {what} (limit {limit})")]
    LimitExceeded {
        /// Which bound.
        what: &'static str,
        /// The bound.
        limit: u64,
    },
    /// The root of `data.pkl` is not a `__torch__` module object.
    #[error("the root of data.pkl is {found}, not a `__torch__` module object")]
    RootNotModule {
        /// Kind of value found instead.
        found: &'static str,
    },
    /// A storage type this crate cannot decode (for example `torch.IntStorage`).
    #[error(
        "tensor `{tensor}` uses unsupported storage type `{storage_type}` (storage key `{key}`)"
    )]
    UnsupportedStorage {
        /// Attribute path of the tensor.
        tensor: String,
        /// Storage key (`data/<key>`).
        key: String,
        /// The storage class name, e.g. `torch.IntStorage`.
        storage_type: String,
    },
    /// A storage key names no `data/<key>` entry in the zip.
    #[error("tensor `{tensor}`: storage key `{key}` has no entry `{entry}` in the archive")]
    MissingStorage {
        /// Attribute path of the tensor.
        tensor: String,
        /// Storage key.
        key: String,
        /// Entry name looked for.
        entry: String,
    },
    /// A storage entry holds fewer bytes than the pickle claims.
    #[error(
        "tensor `{tensor}`: storage `{key}` claims {claimed_numel} elements of {dtype:?} \
         ({needed_bytes} bytes) but its entry holds {actual_bytes} bytes"
    )]
    StorageTooSmall {
        /// Attribute path of the tensor.
        tensor: String,
        /// Storage key.
        key: String,
        /// Element type.
        dtype: DType,
        /// Elements claimed in the persistent id.
        claimed_numel: u64,
        /// Bytes those elements need.
        needed_bytes: u64,
        /// Bytes actually present.
        actual_bytes: u64,
    },
    /// A tensor's shape, strides and offset address elements outside its storage, or are
    /// negative or overflow.
    #[error(
        "tensor `{tensor}` (storage `{key}`): size {size:?}, stride {stride:?}, offset {offset} \
         do not fit a storage of {storage_numel} elements: {detail}"
    )]
    BadTensorView {
        /// Attribute path of the tensor.
        tensor: String,
        /// Storage key.
        key: String,
        /// Claimed size (boxed slices keep the error small).
        size: Box<[i64]>,
        /// Claimed stride.
        stride: Box<[i64]>,
        /// Claimed storage offset.
        offset: i64,
        /// Elements in the storage.
        storage_numel: u64,
        /// What is wrong.
        detail: &'static str,
    },
    /// A tensor was asked for in a type it is not stored as.
    #[error("tensor is {found:?}, not {expected:?}")]
    DTypeMismatch {
        /// The type asked for.
        expected: DType,
        /// The stored type.
        found: DType,
    },
    /// Raw bytes do not match a tensor's dtype and shape.
    #[error("{bytes} bytes cannot hold a {dtype:?} tensor of shape {shape:?}")]
    TensorSize {
        /// Element type.
        dtype: DType,
        /// Shape.
        shape: Vec<usize>,
        /// Bytes given.
        bytes: usize,
    },
    /// A safetensors file is malformed.
    #[error("malformed safetensors{}: {detail}", tensor.as_ref().map(|t| format!(" (tensor `{t}`)")).unwrap_or_default())]
    Safetensors {
        /// The tensor concerned, if any.
        tensor: Option<String>,
        /// What is wrong.
        detail: String,
    },
}

impl ArchiveError {
    pub(crate) fn safetensors(detail: impl Into<String>) -> Self {
        Self::Safetensors {
            tensor: None,
            detail: detail.into(),
        }
    }

    pub(crate) fn safetensors_tensor(tensor: &str, detail: impl Into<String>) -> Self {
        Self::Safetensors {
            tensor: Some(tensor.to_owned()),
            detail: detail.into(),
        }
    }
}
