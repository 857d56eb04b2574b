//! Navigating the archive's module tree with errors that name the path, the shape found and
//! the shape expected.

use crate::error::{Error, Result};
use ecapa2_archive::{Object, Tensor, Value};
use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::BTreeSet;

/// Tracks which tensors the network consumed, so the rest can be reported.
#[derive(Default)]
pub struct Usage {
    used: RefCell<BTreeSet<String>>,
}

impl Usage {
    /// Marks a tensor path as used.
    pub fn mark(&self, path: String) {
        self.used.borrow_mut().insert(path);
    }

    /// Whether a tensor path was used.
    pub fn is_used(&self, path: &str) -> bool {
        self.used.borrow().contains(path)
    }
}

/// Joins a parent path and a child name.
pub fn join(parent: &str, name: &str) -> String {
    if parent.is_empty() {
        name.to_string()
    } else {
        format!("{parent}.{name}")
    }
}

/// An expected shape: `None` entries are free (read from the tensor).
pub fn shape_text(expected: &[Option<usize>]) -> String {
    let dims: Vec<String> = expected
        .iter()
        .map(|d| d.map_or("?".into(), |v| v.to_string()))
        .collect();
    format!("({})", dims.join(", "))
}

/// A module of the archive together with its dotted path.
#[derive(Clone)]
pub struct Module<'a> {
    /// Dotted path.
    pub path: String,
    /// The module object.
    pub object: &'a Object,
}

impl<'a> Module<'a> {
    /// The root module.
    pub fn root(object: &'a Object) -> Self {
        Self {
            path: String::new(),
            object,
        }
    }

    /// A child module, if present.
    pub fn get(&self, name: &str) -> Option<Module<'a>> {
        self.object
            .children()
            .find(|(n, _)| *n == name)
            .map(|(_, o)| Module {
                path: join(&self.path, name),
                object: o,
            })
    }

    /// A child module that must be present.
    pub fn require(&self, name: &str, what: &str) -> Result<Module<'a>> {
        self.get(name).ok_or_else(|| Error::MissingModule {
            path: join(&self.path, name),
            what: what.into(),
        })
    }

    /// The first of several candidate child names that exists.
    pub fn require_any(&self, names: &[&str], what: &str) -> Result<Module<'a>> {
        names
            .iter()
            .find_map(|n| self.get(n))
            .ok_or_else(|| Error::MissingModule {
                path: join(&self.path, &names.join("|")),
                what: what.into(),
            })
    }

    /// Child modules in stored order.
    pub fn children(&self) -> Vec<Module<'a>> {
        self.object
            .children()
            .map(|(n, o)| Module {
                path: join(&self.path, n),
                object: o,
            })
            .collect()
    }

    /// Depth-first search for the first module named `name` anywhere below (self included).
    pub fn find(&self, name: &str) -> Option<Module<'a>> {
        if let Some(m) = self.get(name) {
            return Some(m);
        }
        self.children().iter().find_map(|c| c.find(name))
    }

    /// Depth-first search for the first module satisfying `pred` (self included).
    pub fn find_where(&self, pred: &dyn Fn(&Module<'a>) -> bool) -> Option<Module<'a>> {
        if pred(self) {
            return Some(self.clone());
        }
        self.children().iter().find_map(|c| c.find_where(pred))
    }

    /// A tensor attribute, if present.
    pub fn tensor_opt(&self, name: &str) -> Option<&'a Tensor> {
        self.object
            .tensors()
            .find(|(n, _)| *n == name)
            .map(|(_, t)| t)
    }

    /// A tensor whose shape must match `expected` (free dims as `None`). Trailing unit
    /// dimensions beyond `expected` are accepted (Conv1d k=1 weights used as matrices).
    /// The values borrow the archive's bytes when they are f32 already (no copy).
    pub fn tensor(
        &self,
        name: &str,
        expected: &[Option<usize>],
        usage: &Usage,
    ) -> Result<(Vec<usize>, Cow<'a, [f32]>)> {
        let path = join(&self.path, name);
        let tensor = self.tensor_opt(name).ok_or_else(|| Error::MissingTensor {
            path: path.clone(),
            expected: shape_text(expected),
        })?;
        let shape = tensor.shape.clone();
        let core_len = shape.len().min(expected.len());
        let ok = shape.len() >= expected.len()
            && shape[..core_len]
                .iter()
                .zip(expected)
                .all(|(s, e)| e.is_none_or(|e| e == *s))
            && shape[core_len..].iter().all(|&s| s == 1);
        if !ok {
            return Err(Error::ShapeMismatch {
                path,
                shape,
                expected: shape_text(expected),
            });
        }
        usage.mark(path.clone());
        Ok((shape[..core_len].to_vec(), tensor.to_f32_cow()))
    }

    /// A hyper-parameter stated by the archive: a `Final` class constant or a plain attribute.
    pub fn setting(&self, name: &str) -> Option<&'a Value> {
        self.object.constant(name).or_else(|| {
            self.object
                .attr(name)
                .filter(|v| !matches!(v, Value::Object(_) | Value::Tensor(_)))
        })
    }

    /// An integer tuple/list setting (`stride`, `padding`, …) or a bare int.
    pub fn ints(&self, name: &str) -> Option<Vec<i64>> {
        let v = self.setting(name)?;
        v.as_int().map(|i| vec![i]).or_else(|| v.as_ints())
    }

    /// A numeric setting.
    pub fn float(&self, name: &str) -> Option<f64> {
        self.setting(name)?.as_f64()
    }

    /// A string setting.
    pub fn string(&self, name: &str) -> Option<&'a str> {
        self.setting(name)?.as_str()
    }

    /// A bool setting.
    pub fn boolean(&self, name: &str) -> Option<bool> {
        self.setting(name)?.as_bool()
    }
}
