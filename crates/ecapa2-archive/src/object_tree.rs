//! Turns the pickle graph into the owned module tree: loads and bounds-checks storages,
//! materialises tensors, and attaches each object's class-body constants.

use std::collections::HashMap;
use std::rc::Rc;

use crate::bytes::Bytes;
use crate::constants::{class_constants, class_location, Literal};
use crate::error::ArchiveError;
use crate::limits::{
    MAX_CODE_ENTRY_BYTES, MAX_META_ENTRY_BYTES, MAX_STORAGE_BYTES, MAX_TOTAL_TENSOR_BYTES,
    MAX_TREE_VALUES, STORAGE_ENTRY_SLACK, TENSOR_BYTES_PER_STORAGE_BYTE, TENSOR_BYTES_SLACK,
};
use crate::pickle::{unpickle, PObject, PVal, TensorSpec};
use crate::tensor::View;
use crate::zip_archive::ZipSource;
use crate::{DType, Object, Tensor, Value};

/// Reads `data.pkl` and builds the root module.
pub(crate) fn load_root(src: &mut ZipSource) -> Result<Object, ArchiveError> {
    let entry = src.entry_name("data.pkl");
    let bytes = src
        .read("data.pkl", MAX_META_ENTRY_BYTES)?
        .ok_or(ArchiveError::NoDataPkl)?;
    let graph = unpickle(&bytes, &entry)?;
    let PVal::Object(root) = &graph else {
        return Err(ArchiveError::RootNotModule {
            found: graph.kind(),
        });
    };
    let mut b = Builder {
        src,
        storages: HashMap::new(),
        tensors: HashMap::new(),
        constants: HashMap::new(),
        code: HashMap::new(),
        constants_table: None,
        values: 0,
        tensor_bytes: 0,
        storage_bytes: 0,
        path: Vec::new(),
    };
    b.object(root)
}

/// One step of the attribute path, kept as a stack and only joined for messages.
enum Seg {
    Name(Rc<str>),
    Index(usize),
}

struct Builder<'z> {
    src: &'z mut ZipSource,
    /// Storage bytes by key, read once.
    storages: HashMap<String, Bytes>,
    /// Tensors already materialised, by pickle node (a memoised tensor is built once).
    tensors: HashMap<*const TensorSpec, Tensor>,
    /// Constants by qualified class.
    constants: HashMap<Rc<str>, Vec<(String, Value)>>,
    /// Generated code by entry path (`None`: no such entry).
    code: HashMap<String, Option<Rc<str>>>,
    /// `constants.pkl`, parsed on first `CONSTANTS.cN` reference.
    constants_table: Option<Vec<Value>>,
    values: u64,
    tensor_bytes: u64,
    /// Bytes of storage entries read.
    storage_bytes: u64,
    /// Attribute path of the value being converted.
    path: Vec<Seg>,
}

impl Builder<'_> {
    /// The current path as `a.b.0.c`.
    fn path(&self) -> String {
        let mut out = String::new();
        for (i, seg) in self.path.iter().enumerate() {
            if i > 0 {
                out.push('.');
            }
            match seg {
                Seg::Name(n) => out.push_str(n),
                Seg::Index(k) => out.push_str(&k.to_string()),
            }
        }
        out
    }

    /// Converts `v` with `seg` pushed on the path.
    fn value_at(&mut self, seg: Seg, v: &PVal) -> Result<Value, ArchiveError> {
        self.path.push(seg);
        let out = self.value(v);
        self.path.pop();
        out
    }

    fn not_a_value(&self, detail: String) -> ArchiveError {
        ArchiveError::Pickle {
            entry: self.src.entry_name("data.pkl"),
            offset: 0,
            detail,
        }
    }

    fn count(&mut self) -> Result<(), ArchiveError> {
        self.values += 1;
        if self.values > MAX_TREE_VALUES {
            return Err(ArchiveError::LimitExceeded {
                what: "values in the module tree",
                limit: MAX_TREE_VALUES,
            });
        }
        Ok(())
    }

    fn object(&mut self, o: &PObject) -> Result<Object, ArchiveError> {
        self.count()?;
        let attributes = match &o.state {
            None => Vec::new(),
            Some(PVal::Dict(d)) => {
                let mut attrs = Vec::with_capacity(d.items.len());
                for (k, v) in &d.items {
                    let PVal::Str(name) = k else {
                        return Err(self.not_a_value(format!(
                            "object `{}` has an attribute named by {}",
                            self.path(),
                            k.kind()
                        )));
                    };
                    let value = self.value_at(Seg::Name(name.clone()), v)?;
                    attrs.push((name.to_string(), value));
                }
                attrs
            }
            // A class with `__getstate__` pickles an arbitrary state; keep it whole.
            Some(other) => vec![(
                "__state__".to_owned(),
                self.value_at(Seg::Name(Rc::from("__state__")), other)?,
            )],
        };
        let constants = self.constants_of(&o.class)?;
        Ok(Object {
            qualified_class: o.class.to_string(),
            attributes,
            constants,
        })
    }

    fn value(&mut self, v: &PVal) -> Result<Value, ArchiveError> {
        self.count()?;
        Ok(match v {
            PVal::None => Value::None,
            PVal::Bool(b) => Value::Bool(*b),
            PVal::Int(i) => Value::Int(*i),
            PVal::Float(f) => Value::Float(*f),
            PVal::Str(s) => Value::Str(s.to_string()),
            PVal::Tuple(s) => Value::Tuple(self.values_of(&s.items)?),
            PVal::List(s) => Value::List(self.values_of(&s.items)?),
            PVal::Dict(m) => {
                let mut items = Vec::with_capacity(m.items.len());
                for (i, (k, v)) in m.items.iter().enumerate() {
                    items.push((
                        self.value_at(Seg::Index(i), k)?,
                        self.value_at(Seg::Index(i), v)?,
                    ));
                }
                Value::Dict(items)
            }
            PVal::Object(o) => Value::Object(self.object(o)?),
            PVal::Tensor(t) => Value::Tensor(self.tensor(t)?),
            PVal::Global(_) | PVal::Storage(_) => {
                return Err(self.not_a_value(format!(
                    "`{}` is {}, which is not a value",
                    self.path(),
                    v.kind()
                )))
            }
        })
    }

    fn values_of(&mut self, items: &[PVal]) -> Result<Vec<Value>, ArchiveError> {
        items
            .iter()
            .enumerate()
            .map(|(i, v)| self.value_at(Seg::Index(i), v))
            .collect()
    }

    fn tensor(&mut self, spec: &Rc<TensorSpec>) -> Result<Tensor, ArchiveError> {
        if let Some(t) = self.tensors.get(&Rc::as_ptr(spec)) {
            return Ok(t.clone());
        }
        let path = &self.path();
        let st = &spec.storage;
        let Some(dtype) = DType::from_storage_type(&st.storage_type) else {
            return Err(ArchiveError::UnsupportedStorage {
                tensor: path.to_owned(),
                key: st.key.clone(),
                storage_type: st.storage_type.to_string(),
            });
        };
        let storage_numel = u64::try_from(st.numel).unwrap_or(0);
        let bad_view = |detail| ArchiveError::BadTensorView {
            tensor: path.to_owned(),
            key: st.key.clone(),
            size: spec.size.clone().into_boxed_slice(),
            stride: spec.stride.clone().into_boxed_slice(),
            offset: spec.offset,
            storage_numel,
            detail,
        };
        // Validate the view against the claimed numel before touching the storage bytes.
        let view =
            View::new(&spec.size, &spec.stride, spec.offset, storage_numel).map_err(bad_view)?;
        let es = dtype.size_of();
        let view_bytes = (view.numel as u64).saturating_mul(es as u64);
        let storage = self.storage(&st.key, dtype, storage_numel, view_bytes, path)?;
        // Views may legitimately exceed their storage (stride-0 expansions, overlapping views),
        // but not by much: bound the copies by the storage actually present plus some slack.
        let bytes = view_bytes;
        let budget = self
            .storage_bytes
            .saturating_mul(TENSOR_BYTES_PER_STORAGE_BYTE)
            .saturating_add(TENSOR_BYTES_SLACK)
            .min(MAX_TOTAL_TENSOR_BYTES);
        if self.tensor_bytes.saturating_add(bytes) > budget {
            return Err(ArchiveError::LimitExceeded {
                what: "bytes of materialised tensors",
                limit: budget,
            });
        }
        let data = view.materialise(&storage, es);
        self.tensor_bytes += bytes;
        let t = Tensor::from_shared(dtype, view.shape, data);
        self.tensors.insert(Rc::as_ptr(spec), t.clone());
        Ok(t)
    }

    /// The bytes of `data/<key>`, checked to hold `numel` elements. Only what the declared
    /// storages need is inflated: an entry may exceed its declared size by at most a page, and
    /// the storages read in all may exceed the tensors that use them (`view_bytes` for this
    /// one) only by the same factor and slack that bound materialised tensors, so a small
    /// archive cannot inflate into gigabytes of storages its tensors never use.
    fn storage(
        &mut self,
        key: &str,
        dtype: DType,
        numel: u64,
        view_bytes: u64,
        tensor: &str,
    ) -> Result<Bytes, ArchiveError> {
        let needed = numel.saturating_mul(dtype.size_of() as u64);
        let data = match self.storages.get(key) {
            Some(d) => d.clone(),
            None => {
                let used = self.tensor_bytes.saturating_add(view_bytes);
                let budget = used
                    .saturating_mul(TENSOR_BYTES_PER_STORAGE_BYTE)
                    .saturating_add(TENSOR_BYTES_SLACK)
                    .min(MAX_TOTAL_TENSOR_BYTES);
                if self.storage_bytes.saturating_add(needed) > budget {
                    return Err(ArchiveError::LimitExceeded {
                        what: "bytes of storages beyond what their tensors use",
                        limit: budget,
                    });
                }
                let rel = format!("data/{key}");
                let limit = needed
                    .saturating_add(STORAGE_ENTRY_SLACK)
                    .min(MAX_STORAGE_BYTES);
                let Some(bytes) = self.src.read(&rel, limit)? else {
                    return Err(ArchiveError::MissingStorage {
                        tensor: tensor.to_owned(),
                        key: key.to_owned(),
                        entry: self.src.entry_name(&rel),
                    });
                };
                self.storage_bytes = self.storage_bytes.saturating_add(bytes.len() as u64);
                self.storages.insert(key.to_owned(), bytes.clone());
                bytes
            }
        };
        if (data.len() as u64) < needed {
            return Err(ArchiveError::StorageTooSmall {
                tensor: tensor.to_owned(),
                key: key.to_owned(),
                dtype,
                claimed_numel: numel,
                needed_bytes: needed,
                actual_bytes: data.len() as u64,
            });
        }
        Ok(data)
    }

    fn constants_of(&mut self, class: &Rc<str>) -> Result<Vec<(String, Value)>, ArchiveError> {
        if let Some(c) = self.constants.get(class) {
            self.values += c.len() as u64;
            return Ok(c.clone());
        }
        let Some((file, name)) = class_location(class) else {
            return Ok(Vec::new());
        };
        let source = match self.code.get(&file) {
            Some(s) => s.clone(),
            None => {
                let s = self
                    .src
                    .read(&file, MAX_CODE_ENTRY_BYTES)?
                    .map(|b| Rc::from(String::from_utf8_lossy(&b)));
                if s.is_none() {
                    tracing::debug!(file, "no generated code for class; constants left empty");
                }
                self.code.insert(file.clone(), s.clone());
                s
            }
        };
        let mut out = Vec::new();
        if let Some(source) = source {
            for (k, lit) in class_constants(&source, name) {
                match lit {
                    Literal::Value(v) => out.push((k, v)),
                    Literal::ConstantsTableRef(i) => match self.constants_table()?.get(i) {
                        Some(v) => out.push((k, v.clone())),
                        None => tracing::debug!(
                            class = &**class,
                            constant = k,
                            index = i,
                            "CONSTANTS.c index out of range"
                        ),
                    },
                }
            }
        }
        self.values += out.len() as u64;
        self.constants.insert(class.clone(), out.clone());
        Ok(out)
    }

    /// The non-tensor values of `constants.pkl` (tensor constants appear only in method code,
    /// never as `Final` attributes, so they become `None` here).
    fn constants_table(&mut self) -> Result<&[Value], ArchiveError> {
        if self.constants_table.is_none() {
            let entry = self.src.entry_name("constants.pkl");
            let mut table = Vec::new();
            if let Some(bytes) = self.src.read("constants.pkl", MAX_META_ENTRY_BYTES)? {
                if let PVal::Tuple(t) = unpickle(&bytes, &entry)? {
                    for item in &t.items {
                        table.push(self.plain_value(item).unwrap_or(Value::None));
                    }
                }
            }
            self.constants_table = Some(table);
        }
        Ok(self.constants_table.as_deref().unwrap_or_default())
    }

    fn plain_value(&mut self, v: &PVal) -> Option<Value> {
        self.count().ok()?;
        Some(match v {
            PVal::None => Value::None,
            PVal::Bool(b) => Value::Bool(*b),
            PVal::Int(i) => Value::Int(*i),
            PVal::Float(f) => Value::Float(*f),
            PVal::Str(s) => Value::Str(s.to_string()),
            PVal::Tuple(s) => Value::Tuple(
                s.items
                    .iter()
                    .map(|x| self.plain_value(x))
                    .collect::<Option<_>>()?,
            ),
            _ => return None,
        })
    }
}
