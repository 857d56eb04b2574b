//! Human-readable dump of the module tree (what `ecapa2 inspect` prints).

use std::fmt::{self, Display, Formatter, Write as _};

use crate::{Object, Tensor, TorchScript, Value};

/// Lists and tuples longer than this are abbreviated.
const MAX_ITEMS_SHOWN: usize = 8;

impl Display for Tensor {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{}{:?}", self.dtype, self.shape)
    }
}

impl Display for Value {
    /// Python-like literal syntax; tensors as `f32[3, 4]`, objects as `<Class>`.
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Value::None => f.write_str("None"),
            Value::Bool(b) => f.write_str(if *b { "True" } else { "False" }),
            Value::Int(i) => write!(f, "{i}"),
            Value::Float(x) => write!(f, "{x:?}"),
            Value::Str(s) => write!(f, "{s:?}"),
            Value::Tuple(items) => {
                f.write_char('(')?;
                seq(f, items)?;
                if items.len() == 1 {
                    f.write_char(',')?;
                }
                f.write_char(')')
            }
            Value::List(items) => {
                f.write_char('[')?;
                seq(f, items)?;
                f.write_char(']')
            }
            Value::Dict(items) => {
                f.write_char('{')?;
                for (i, (k, v)) in items.iter().take(MAX_ITEMS_SHOWN).enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{k}: {v}")?;
                }
                if items.len() > MAX_ITEMS_SHOWN {
                    write!(f, ", ... ({} items)", items.len())?;
                }
                f.write_char('}')
            }
            Value::Tensor(t) => write!(f, "{t}"),
            Value::Object(o) => write!(f, "<{}>", o.class_name()),
        }
    }
}

fn seq(f: &mut Formatter<'_>, items: &[Value]) -> fmt::Result {
    for (i, v) in items.iter().take(MAX_ITEMS_SHOWN).enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        write!(f, "{v}")?;
    }
    if items.len() > MAX_ITEMS_SHOWN {
        write!(f, ", ... ({} items)", items.len())?;
    }
    Ok(())
}

fn object(f: &mut Formatter<'_>, o: &Object, name: &str, indent: usize) -> fmt::Result {
    let pad = "  ".repeat(indent);
    writeln!(f, "{pad}{name}: {} ({})", o.class_name(), o.qualified_class)?;
    for (k, v) in &o.constants {
        writeln!(f, "{pad}  const {k} = {v}")?;
    }
    for (k, v) in &o.attributes {
        // Bookkeeping every scripted module carries; `training = True` is worth showing since
        // an archive saved in train mode is unusual.
        if k == "_is_full_backward_hook" || (k == "training" && *v == Value::Bool(false)) {
            continue;
        }
        match v {
            Value::Object(child) => object(f, child, k, indent + 1)?,
            Value::Tensor(t) => writeln!(f, "{pad}  {k}: {t}")?,
            other => writeln!(f, "{pad}  {k} = {other}")?,
        }
    }
    Ok(())
}

impl Display for TorchScript {
    /// The module tree: one line per module (`name: Class (qualified)`), its constants
    /// (`const k = v`), tensors (`k: f32[3, 4]`) and plain attributes (`k = v`; the
    /// `training = False` / `_is_full_backward_hook` bookkeeping is left out).
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        object(f, &self.root, "<root>", 0)?;
        let tensors = self.named_tensors();
        let params: usize = tensors.iter().map(|(_, t)| t.numel()).sum();
        writeln!(f, "{} tensors, {} elements", tensors.len(), params)
    }
}

impl TorchScript {
    /// The module tree as text (see the `Display` impl); what `ecapa2 inspect` prints.
    pub fn describe(&self) -> String {
        self.to_string()
    }
}
