//! Safe reader for the TorchScript archives written by `torch.jit.save` and for `.safetensors`.
//!
//! Nothing in an archive is ever executed: the pickle is interpreted by a small opcode machine
//! that only knows the globals `torch.jit.save` emits, and class-body constants are parsed from
//! the generated `code/` files with a bounded grammar.
//!
//! API CONTRACT (the engine binds against exactly this; implementation may be split into files):

use std::path::Path;

/// Errors from reading an archive. Every malformed input maps to one of these; never a panic.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    /// Placeholder; the implementation defines the real variants.
    #[error("{0}")]
    Other(String),
}

/// Element type of a stored tensor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
#[derive(Debug, Clone)]
pub struct Tensor {
    /// Element type in the archive.
    pub dtype: DType,
    /// Shape (empty for a scalar).
    pub shape: Vec<usize>,
    // implementation-defined storage
}

impl Tensor {
    /// Contiguous row-major values converted to f32 (f16/bf16/f64/i64 converted).
    pub fn to_f32(&self) -> Vec<f32> {
        todo!()
    }
    /// Contiguous row-major values as i64 (errors unless the dtype is I64).
    pub fn to_i64(&self) -> Result<Vec<i64>, ArchiveError> {
        todo!()
    }
    /// Number of elements.
    pub fn numel(&self) -> usize {
        self.shape.iter().product()
    }
}

/// A value in the module tree.
#[derive(Debug, Clone)]
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

/// One `__torch__.<path>.<Class>` module object.
#[derive(Debug, Clone)]
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
        todo!()
    }
    /// Attribute by name.
    pub fn attr(&self, name: &str) -> Option<&Value> {
        todo!()
    }
    /// Constant by name.
    pub fn constant(&self, name: &str) -> Option<&Value> {
        todo!()
    }
    /// Submodules (attributes whose value is an Object), in stored order.
    pub fn children(&self) -> impl Iterator<Item = (&str, &Object)> {
        std::iter::empty()
    }
    /// Direct tensor attributes (parameters and buffers), in stored order.
    pub fn tensors(&self) -> impl Iterator<Item = (&str, &Tensor)> {
        std::iter::empty()
    }
}

/// A whole TorchScript archive.
#[derive(Debug, Clone)]
pub struct TorchScript {
    /// The root module.
    pub root: Object,
}

impl TorchScript {
    /// Reads an archive from a file.
    pub fn open(path: &Path) -> Result<Self, ArchiveError> {
        let _ = path;
        todo!()
    }
    /// Reads an archive from bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, ArchiveError> {
        let _ = bytes;
        todo!()
    }
    /// Every tensor with its dotted path (`conv_1.conv1.weight`), depth-first in stored order.
    pub fn named_tensors(&self) -> Vec<(String, &Tensor)> {
        todo!()
    }
}

/// Reads a `.safetensors` file into named tensors, in file order.
pub fn read_safetensors(path: &Path) -> Result<Vec<(String, Tensor)>, ArchiveError> {
    let _ = path;
    todo!()
}
