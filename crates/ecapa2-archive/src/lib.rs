//! Safe reader for the TorchScript archives written by `torch.jit.save` and for `.safetensors`.
//!
//! Nothing in an archive is ever executed: the pickle is interpreted by a small opcode machine
//! that only knows the globals `torch.jit.save` emits, and class-body constants are parsed from
//! the generated `code/` files with a bounded grammar. Every size read from the input is checked
//! against the real data before anything is allocated from it, so a malformed or hostile file
//! yields an [`ArchiveError`], never a panic or an unbounded allocation.
//!
//! ```no_run
//! # fn main() -> Result<(), ecapa2_archive::ArchiveError> {
//! let ts = ecapa2_archive::TorchScript::open(std::path::Path::new("ecapa2.pt"))?;
//! for (name, t) in ts.named_tensors() {
//!     println!("{name}: {t}");
//! }
//! println!("{}", ts.describe());
//! # Ok(()) }
//! ```
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod bytes;
mod constants;
mod describe;
mod error;
mod limits;
mod object_tree;
mod pickle;
mod safetensors;
mod tensor;
mod zip_archive;

use std::io::{Read, Seek};
use std::path::Path;

use bytes::Bytes;

pub use error::ArchiveError;
pub use safetensors::{
    read_safetensors, read_safetensors_bytes, safetensors_bytes, write_safetensors,
};

/// Element type of a stored tensor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DType {
    /// 32-bit float.
    F32,
    /// 16-bit IEEE float.
    F16,
    /// 16-bit bfloat.
    BF16,
    /// 64-bit float.
    F64,
    /// 64-bit signed integer.
    I64,
}

/// A tensor as stored in the archive (already materialised as a contiguous, row-major copy).
///
/// Cloning is cheap: the element bytes are shared (with the archive itself when the tensor is a
/// dense run of its storage).
#[derive(Debug, Clone, PartialEq)]
pub struct Tensor {
    /// Element type in the archive.
    pub dtype: DType,
    /// Shape (empty for a scalar).
    pub shape: Vec<usize>,
    /// Contiguous row-major little-endian elements; always `numel * dtype.size_of()` bytes.
    data: Bytes,
}

impl Tensor {
    /// Number of elements.
    pub fn numel(&self) -> usize {
        self.shape.iter().product()
    }
}

/// A value in the module tree.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// Python `None`.
    None,
    /// Python bool.
    Bool(bool),
    /// Python int.
    Int(i64),
    /// Python float.
    Float(f64),
    /// Python str.
    Str(String),
    /// Python tuple.
    Tuple(Vec<Value>),
    /// Python list.
    List(Vec<Value>),
    /// Python dict, in insertion order.
    Dict(Vec<(Value, Value)>),
    /// A tensor.
    Tensor(Tensor),
    /// A scripted module object.
    Object(Object),
}

impl Value {
    /// The int, if this is one.
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }

    /// The number as f64 (ints converted), if this is a float or an int.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Float(f) => Some(*f),
            Value::Int(i) => Some(*i as f64),
            _ => None,
        }
    }

    /// The bool, if this is one.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The items of a tuple or list.
    pub fn as_seq(&self) -> Option<&[Value]> {
        match self {
            Value::Tuple(v) | Value::List(v) => Some(v),
            _ => None,
        }
    }

    /// A tuple or list of ints (e.g. `stride`, `kernel_size`).
    pub fn as_ints(&self) -> Option<Vec<i64>> {
        self.as_seq()?.iter().map(Value::as_int).collect()
    }

    /// The tensor, if this is one.
    pub fn as_tensor(&self) -> Option<&Tensor> {
        match self {
            Value::Tensor(t) => Some(t),
            _ => None,
        }
    }

    /// The object, if this is one.
    pub fn as_object(&self) -> Option<&Object> {
        match self {
            Value::Object(o) => Some(o),
            _ => None,
        }
    }
}

/// One `__torch__.<path>.<Class>` module object.
#[derive(Debug, Clone, PartialEq)]
pub struct Object {
    /// Fully qualified class, e.g. `__torch__.torch.nn.modules.conv.___torch_mangle_3.Conv2d`.
    pub qualified_class: String,
    /// Attributes from the pickle's BUILD state, in stored order (submodules, tensors, plain values).
    pub attributes: Vec<(String, Value)>,
    /// `Final` class-body constants parsed from the generated code (e.g. `stride`, `eps`, `n_fft`).
    pub constants: Vec<(String, Value)>,
}

impl Object {
    /// Bare class name (`Conv2d`), mangling removed.
    pub fn class_name(&self) -> &str {
        // Mangling is a `___torch_mangle_N` path component before the class, never in the name.
        self.qualified_class
            .rsplit('.')
            .next()
            .unwrap_or(&self.qualified_class)
    }

    /// Attribute by name (the last one if a malformed pickle repeats a name, as Python would).
    pub fn attr(&self, name: &str) -> Option<&Value> {
        self.attributes
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v)
    }

    /// Constant by name.
    pub fn constant(&self, name: &str) -> Option<&Value> {
        self.constants
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v)
    }

    /// Submodule by attribute name.
    pub fn child(&self, name: &str) -> Option<&Object> {
        self.attr(name)?.as_object()
    }

    /// Tensor attribute by name.
    pub fn tensor(&self, name: &str) -> Option<&Tensor> {
        self.attr(name)?.as_tensor()
    }

    /// Submodules (attributes whose value is an Object), in stored order.
    pub fn children(&self) -> impl Iterator<Item = (&str, &Object)> {
        self.attributes
            .iter()
            .filter_map(|(k, v)| Some((k.as_str(), v.as_object()?)))
    }

    /// Direct tensor attributes (parameters and buffers), in stored order.
    pub fn tensors(&self) -> impl Iterator<Item = (&str, &Tensor)> {
        self.attributes
            .iter()
            .filter_map(|(k, v)| Some((k.as_str(), v.as_tensor()?)))
    }

    fn collect_tensors<'a>(&'a self, prefix: &str, out: &mut Vec<(String, &'a Tensor)>) {
        for (k, v) in &self.attributes {
            let path = if prefix.is_empty() {
                k.clone()
            } else {
                format!("{prefix}.{k}")
            };
            match v {
                Value::Tensor(t) => out.push((path, t)),
                Value::Object(o) => o.collect_tensors(&path, out),
                _ => {}
            }
        }
    }
}

/// A whole TorchScript archive.
#[derive(Debug, Clone)]
pub struct TorchScript {
    /// The root module.
    pub root: Object,
}

impl TorchScript {
    /// Reads an archive from a file. The file is read into memory once; tensors share it.
    /// (To avoid even that copy, map the file and pass it to [`TorchScript::from_owner`].)
    pub fn open(path: &Path) -> Result<Self, ArchiveError> {
        let bytes = std::fs::read(path).map_err(|source| ArchiveError::Io {
            path: path.to_owned(),
            source,
        })?;
        Self::from_shared(Bytes::from_vec(bytes))
    }

    /// Reads an archive from bytes (copied once).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, ArchiveError> {
        Self::from_shared(Bytes::from_vec(bytes.to_vec()))
    }

    /// Reads an archive from bytes the caller owns (for instance a read-only mapping of the
    /// file), without copying them: stored tensors are windows on them.
    pub fn from_owner(
        owner: std::sync::Arc<dyn AsRef<[u8]> + Send + Sync>,
    ) -> Result<Self, ArchiveError> {
        Self::from_shared(Bytes::from_shared(owner))
    }

    /// Reads an archive from any seekable reader (all of it, from its start, into memory).
    pub fn from_reader<R: Read + Seek>(mut reader: R) -> Result<Self, ArchiveError> {
        let mut buf = Vec::new();
        reader
            .rewind()
            .and_then(|()| reader.read_to_end(&mut buf))
            .map_err(|e| ArchiveError::Zip {
                detail: e.to_string(),
            })?;
        Self::from_shared(Bytes::from_vec(buf))
    }

    fn from_shared(bytes: Bytes) -> Result<Self, ArchiveError> {
        let mut src = zip_archive::ZipSource::new(bytes)?;
        let root = object_tree::load_root(&mut src)?;
        Ok(Self { root })
    }

    /// Every tensor with its dotted path (`conv_1.conv1.weight`), depth-first in stored order.
    pub fn named_tensors(&self) -> Vec<(String, &Tensor)> {
        let mut out = Vec::new();
        self.root.collect_tensors("", &mut out);
        out
    }

    /// The module at a dotted path (`""` is the root).
    pub fn module(&self, path: &str) -> Option<&Object> {
        if path.is_empty() {
            return Some(&self.root);
        }
        path.split('.')
            .try_fold(&self.root, |o, name| o.child(name))
    }
}
