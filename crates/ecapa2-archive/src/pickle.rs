//! A pickle opcode machine for the subset `torch.jit.save` writes (protocol 2).
//!
//! Nothing is ever called: GLOBAL resolves against a fixed allow-list into inert markers, and
//! REDUCE/NEWOBJ only interpret those markers (a `__torch__` class becomes an object, the tensor
//! rebuild function becomes a tensor description, the list helpers return their argument).
//!
//! Values are shared through `Rc` so that memo lookups are O(1); containers are mutated with
//! copy-on-write, so a value nested in another is never changed afterwards. That keeps the
//! recorded nesting depth exact, which bounds recursion when the graph is converted or dropped.

use std::collections::HashMap;
use std::rc::Rc;

use crate::error::ArchiveError;
use crate::limits::{
    MAX_COW_ELEMENTS, MAX_DEPTH, MAX_LINE, MAX_MARKS, MAX_MEMO, MAX_RANK, MAX_STACK,
};

/// Storage classes `torch.jit.save`/`torch.save` name in persistent ids (`torch.<Name>`).
/// Only some are decodable (see `DType::from_storage_type`); the rest are recognised so the
/// error can say "unsupported storage" rather than "forbidden global".
const STORAGE_TYPES: &[&str] = &[
    "DoubleStorage",
    "FloatStorage",
    "HalfStorage",
    "BFloat16Storage",
    "LongStorage",
    "IntStorage",
    "ShortStorage",
    "CharStorage",
    "ByteStorage",
    "BoolStorage",
    "ComplexDoubleStorage",
    "ComplexFloatStorage",
    "QUInt8Storage",
    "QInt8Storage",
    "QInt32Storage",
    "QUInt4x2Storage",
    "QUInt2x4Storage",
    "UntypedStorage",
];

/// An allow-listed global. Inert: it only tells REDUCE/NEWOBJ what shape of value to build.
#[derive(Debug, Clone)]
pub(crate) enum Global {
    /// `__torch__.<path>.<Class>`: a scripted class, fully qualified.
    Class(Rc<str>),
    /// `torch._utils._rebuild_tensor_v2` / `_rebuild_tensor`.
    RebuildTensor,
    /// `torch._utils._rebuild_parameter` (what `torch.save` writes for `nn.Parameter`).
    RebuildParameter,
    /// `collections.OrderedDict` (the empty backward-hooks dict of a tensor).
    OrderedDict,
    /// `torch.jit._pickle.build_{int,double,bool,tensor}list`: identity on a list.
    BuildList,
    /// `torch.jit._pickle.restore_type_tag(value, type_str)`: returns `value`.
    RestoreTypeTag,
    /// `torch.<X>Storage`, as `torch.<X>Storage`.
    StorageType(Rc<str>),
    /// `torch.device`: becomes the device string.
    Device,
}

/// A persistent id `('storage', torch.<X>Storage, key, location, numel)`.
#[derive(Debug)]
pub(crate) struct StorageRef {
    /// `torch.FloatStorage` etc.
    pub storage_type: Rc<str>,
    /// Entry name under `data/`.
    pub key: String,
    /// Elements claimed.
    pub numel: i64,
}

/// The arguments of `_rebuild_tensor_v2`, not yet checked against the storage.
#[derive(Debug)]
pub(crate) struct TensorSpec {
    pub storage: Rc<StorageRef>,
    pub offset: i64,
    pub size: Vec<i64>,
    pub stride: Vec<i64>,
}

/// Tuple or list items with their nesting depth.
#[derive(Debug, Clone)]
pub(crate) struct Seq {
    pub items: Vec<PVal>,
    pub depth: u16,
}

/// Dict items (insertion order) with their nesting depth.
#[derive(Debug, Clone)]
pub(crate) struct Map {
    pub items: Vec<(PVal, PVal)>,
    pub depth: u16,
}

/// A `__torch__` object: class from NEWOBJ, state from BUILD.
#[derive(Debug, Clone)]
pub(crate) struct PObject {
    pub class: Rc<str>,
    pub state: Option<PVal>,
    pub depth: u16,
}

/// A value of the pickle graph.
#[derive(Debug, Clone)]
pub(crate) enum PVal {
    None,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(Rc<str>),
    Tuple(Rc<Seq>),
    List(Rc<Seq>),
    Dict(Rc<Map>),
    Object(Rc<PObject>),
    Global(Global),
    Storage(Rc<StorageRef>),
    Tensor(Rc<TensorSpec>),
}

impl PVal {
    fn depth(&self) -> u16 {
        match self {
            PVal::Tuple(s) | PVal::List(s) => s.depth,
            PVal::Dict(m) => m.depth,
            PVal::Object(o) => o.depth,
            PVal::Tensor(_) => 1,
            _ => 0,
        }
    }

    /// Short kind name for error messages.
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            PVal::None => "None",
            PVal::Bool(_) => "a bool",
            PVal::Int(_) => "an int",
            PVal::Float(_) => "a float",
            PVal::Str(_) => "a str",
            PVal::Tuple(_) => "a tuple",
            PVal::List(_) => "a list",
            PVal::Dict(_) => "a dict",
            PVal::Object(_) => "an object",
            PVal::Global(_) => "a global",
            PVal::Storage(_) => "a storage",
            PVal::Tensor(_) => "a tensor",
        }
    }
}

/// Runs the pickle in `data` (the zip entry `entry`, for messages) and returns its result.
pub(crate) fn unpickle(data: &[u8], entry: &str) -> Result<PVal, ArchiveError> {
    Machine {
        data,
        pos: 0,
        op_start: 0,
        entry,
        stack: Vec::new(),
        marks: Vec::new(),
        memo: HashMap::new(),
        cow_elements: 0,
    }
    .run()
}

struct Machine<'a> {
    data: &'a [u8],
    pos: usize,
    /// Offset of the opcode being executed (for messages).
    op_start: usize,
    entry: &'a str,
    stack: Vec<PVal>,
    marks: Vec<usize>,
    memo: HashMap<u32, PVal>,
    cow_elements: u64,
}

type R<T> = Result<T, ArchiveError>;

impl<'a> Machine<'a> {
    fn err(&self, detail: impl Into<String>) -> ArchiveError {
        ArchiveError::Pickle {
            entry: self.entry.to_owned(),
            offset: self.op_start,
            detail: detail.into(),
        }
    }

    fn run(mut self) -> R<PVal> {
        loop {
            self.op_start = self.pos;
            let op = self
                .u8()
                .map_err(|_| self.err("truncated: no STOP opcode"))?;
            match op {
                0x80 => {
                    // PROTO: torch writes 2; accept anything a Python 3 unpickler would.
                    let proto = self.u8()?;
                    if proto > 5 {
                        return Err(self.err(format!("unsupported protocol {proto}")));
                    }
                }
                0x95 => {
                    // FRAME (protocol 4): only a read-ahead hint.
                    self.bytes(8)?;
                }
                b'.' => return self.pop(),
                b'(' => {
                    if self.marks.len() >= MAX_MARKS {
                        return Err(limit("open MARKs", MAX_MARKS as u64));
                    }
                    self.marks.push(self.stack.len());
                }
                b'0' => {
                    // Like Python: with nothing above the innermost MARK, POP discards the MARK.
                    if self.marks.last() == Some(&self.stack.len()) {
                        self.marks.pop();
                    } else {
                        self.pop()?;
                    }
                }
                b'1' => {
                    self.pop_mark()?;
                }
                b'2' => {
                    let top = self.top()?.clone();
                    self.push(top)?;
                }
                b'N' => self.push(PVal::None)?,
                0x88 => self.push(PVal::Bool(true))?,
                0x89 => self.push(PVal::Bool(false))?,
                b'J' => {
                    let b = self.array::<4>()?;
                    self.push(PVal::Int(i64::from(i32::from_le_bytes(b))))?;
                }
                b'K' => {
                    let v = self.u8()?;
                    self.push(PVal::Int(i64::from(v)))?;
                }
                b'M' => {
                    let b = self.array::<2>()?;
                    self.push(PVal::Int(i64::from(u16::from_le_bytes(b))))?;
                }
                0x8a => {
                    let n = usize::from(self.u8()?);
                    let v = self.long(n)?;
                    self.push(PVal::Int(v))?;
                }
                0x8b => {
                    let n = i32::from_le_bytes(self.array::<4>()?);
                    let n = usize::try_from(n).map_err(|_| self.err("negative LONG4 length"))?;
                    let v = self.long(n)?;
                    self.push(PVal::Int(v))?;
                }
                b'I' => {
                    let line = self.line()?;
                    let v = match line {
                        "01" => PVal::Bool(true),
                        "00" => PVal::Bool(false),
                        _ => PVal::Int(line.parse().map_err(|_| self.err("bad INT"))?),
                    };
                    self.push(v)?;
                }
                b'L' => {
                    let line = self.line()?;
                    let v = line
                        .strip_suffix('L')
                        .unwrap_or(line)
                        .parse()
                        .map_err(|_| self.err("bad LONG"))?;
                    self.push(PVal::Int(v))?;
                }
                b'G' => {
                    let b = self.array::<8>()?;
                    self.push(PVal::Float(f64::from_be_bytes(b)))?;
                }
                b'F' => {
                    let v = self.line()?.parse().map_err(|_| self.err("bad FLOAT"))?;
                    self.push(PVal::Float(v))?;
                }
                b'X' => {
                    let n = u32::from_le_bytes(self.array::<4>()?);
                    self.string(u64::from(n))?;
                }
                0x8d => {
                    let n = u64::from_le_bytes(self.array::<8>()?);
                    self.string(n)?;
                }
                0x8c => {
                    let n = self.u8()?;
                    self.string(u64::from(n))?;
                }
                b'T' => {
                    let n = i32::from_le_bytes(self.array::<4>()?);
                    let n = u64::try_from(n).map_err(|_| self.err("negative BINSTRING length"))?;
                    self.string(n)?;
                }
                b'U' => {
                    let n = self.u8()?;
                    self.string(u64::from(n))?;
                }
                b')' => self.push(PVal::Tuple(Rc::new(Seq {
                    items: Vec::new(),
                    depth: 1,
                })))?,
                b't' => {
                    let items = self.pop_mark()?;
                    self.push_tuple(items)?;
                }
                0x85..=0x87 => {
                    let n = usize::from(op - 0x84);
                    let at = self
                        .stack
                        .len()
                        .checked_sub(n)
                        .ok_or_else(|| self.err("stack underflow"))?;
                    let items = self.split_off(at)?;
                    self.push_tuple(items)?;
                }
                b']' => self.push(PVal::List(Rc::new(Seq {
                    items: Vec::new(),
                    depth: 1,
                })))?,
                b'l' => {
                    let items = self.pop_mark()?;
                    let depth = self.seq_depth(&items)?;
                    self.push(PVal::List(Rc::new(Seq { items, depth })))?;
                }
                b'a' => {
                    let v = self.pop()?;
                    self.extend_list(vec![v])?;
                }
                b'e' => {
                    let items = self.pop_mark()?;
                    self.extend_list(items)?;
                }
                b'}' => self.push(PVal::Dict(Rc::new(Map {
                    items: Vec::new(),
                    depth: 1,
                })))?,
                b'd' => {
                    let items = self.pop_mark()?;
                    let dict = PVal::Dict(Rc::new(Map {
                        items: Vec::new(),
                        depth: 1,
                    }));
                    self.push(dict)?;
                    self.extend_dict(items)?;
                }
                b's' => {
                    let v = self.pop()?;
                    let k = self.pop()?;
                    self.extend_dict(vec![k, v])?;
                }
                b'u' => {
                    let items = self.pop_mark()?;
                    self.extend_dict(items)?;
                }
                b'c' => {
                    let module = self.line()?.to_owned();
                    let name = self.line()?.to_owned();
                    let g = resolve_global(&module, &name)?;
                    self.push(PVal::Global(g))?;
                }
                0x93 => {
                    let name = self.pop()?;
                    let module = self.pop()?;
                    let (PVal::Str(module), PVal::Str(name)) = (module, name) else {
                        return Err(self.err("STACK_GLOBAL needs two strings"));
                    };
                    let g = resolve_global(&module, &name)?;
                    self.push(PVal::Global(g))?;
                }
                b'R' => {
                    let args = self.pop()?;
                    let callable = self.pop()?;
                    let v = self.reduce(callable, args)?;
                    self.push(v)?;
                }
                0x81 => {
                    let args = self.pop()?;
                    let cls = self.pop()?;
                    let v = self.newobj(cls, args)?;
                    self.push(v)?;
                }
                b'b' => {
                    let state = self.pop()?;
                    self.build(state)?;
                }
                b'Q' => {
                    let pid = self.pop()?;
                    let v = self.persistent_load(pid)?;
                    self.push(v)?;
                }
                b'p' => {
                    let idx = self
                        .line()?
                        .parse()
                        .map_err(|_| self.err("bad PUT index"))?;
                    self.memo_put(idx)?;
                }
                b'q' => {
                    let idx = self.u8()?;
                    self.memo_put(u32::from(idx))?;
                }
                b'r' => {
                    let idx = u32::from_le_bytes(self.array::<4>()?);
                    self.memo_put(idx)?;
                }
                0x94 => {
                    let idx = u32::try_from(self.memo.len())
                        .map_err(|_| limit("memo entries", MAX_MEMO as u64))?;
                    self.memo_put(idx)?;
                }
                b'g' => {
                    let idx = self
                        .line()?
                        .parse()
                        .map_err(|_| self.err("bad GET index"))?;
                    self.memo_get(idx)?;
                }
                b'h' => {
                    let idx = self.u8()?;
                    self.memo_get(u32::from(idx))?;
                }
                b'j' => {
                    let idx = u32::from_le_bytes(self.array::<4>()?);
                    self.memo_get(idx)?;
                }
                opcode => {
                    return Err(ArchiveError::UnsupportedOpcode {
                        entry: self.entry.to_owned(),
                        offset: self.op_start,
                        opcode,
                    })
                }
            }
        }
    }

    // ---- input ----

    fn bytes(&mut self, n: usize) -> R<&'a [u8]> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.data.len());
        let Some(end) = end else {
            let left = self.data.len().saturating_sub(self.pos);
            return Err(self.err(format!("truncated: needs {n} more bytes, {left} left")));
        };
        let data: &'a [u8] = self.data;
        let out = data
            .get(self.pos..end)
            .ok_or_else(|| self.err("truncated"))?;
        self.pos = end;
        Ok(out)
    }

    fn array<const N: usize>(&mut self) -> R<[u8; N]> {
        let b = self.bytes(N)?;
        let mut out = [0u8; N];
        out.copy_from_slice(b);
        Ok(out)
    }

    fn u8(&mut self) -> R<u8> {
        Ok(self.array::<1>()?[0])
    }

    /// A `\n`-terminated ASCII/UTF-8 line (text opcodes and GLOBAL).
    fn line(&mut self) -> R<&'a str> {
        let data: &'a [u8] = self.data;
        let rest = data.get(self.pos..).unwrap_or_default();
        let window = rest.get(..MAX_LINE.min(rest.len())).unwrap_or_default();
        let Some(n) = window.iter().position(|&b| b == b'\n') else {
            return Err(self.err("unterminated or over-long text line"));
        };
        let line = window.get(..n).unwrap_or_default();
        self.pos += n + 1;
        std::str::from_utf8(line).map_err(|_| self.err("text line is not UTF-8"))
    }

    /// Little-endian two's-complement integer of `n` bytes (LONG1/LONG4).
    fn long(&mut self, n: usize) -> R<i64> {
        if n > 8 {
            return Err(self.err(format!("{n}-byte integer does not fit 64 bits")));
        }
        let b = self.bytes(n)?;
        let mut buf = [0u8; 8];
        if b.last().is_some_and(|&hi| hi & 0x80 != 0) {
            buf = [0xff; 8];
        }
        buf.get_mut(..n)
            .ok_or_else(|| self.err("bad integer"))?
            .copy_from_slice(b);
        Ok(i64::from_le_bytes(buf))
    }

    fn string(&mut self, n: u64) -> R<()> {
        let n = usize::try_from(n).map_err(|_| self.err("string length overflows"))?;
        let b = self.bytes(n)?;
        let s = std::str::from_utf8(b).map_err(|_| self.err("string is not UTF-8"))?;
        let v = PVal::Str(Rc::from(s));
        self.push(v)
    }

    // ---- stack ----

    fn push(&mut self, v: PVal) -> R<()> {
        if self.stack.len() >= MAX_STACK {
            return Err(limit("pickle stack values", MAX_STACK as u64));
        }
        self.stack.push(v);
        Ok(())
    }

    fn pop(&mut self) -> R<PVal> {
        // Popping below the innermost MARK would corrupt it; Python forbids it too.
        if self.marks.last().is_some_and(|&m| m >= self.stack.len()) {
            return Err(self.err("stack underflow below MARK"));
        }
        self.stack.pop().ok_or_else(|| self.err("stack underflow"))
    }

    fn top(&self) -> R<&PVal> {
        self.stack.last().ok_or_else(|| self.err("stack underflow"))
    }

    fn split_off(&mut self, at: usize) -> R<Vec<PVal>> {
        if at > self.stack.len() || self.marks.last().is_some_and(|&m| m > at) {
            return Err(self.err("stack underflow"));
        }
        Ok(self.stack.split_off(at))
    }

    fn pop_mark(&mut self) -> R<Vec<PVal>> {
        let mark = self
            .marks
            .pop()
            .ok_or_else(|| self.err("no MARK to pop to"))?;
        if mark > self.stack.len() {
            return Err(self.err("MARK above the stack top"));
        }
        Ok(self.stack.split_off(mark))
    }

    // ---- containers ----

    fn seq_depth(&self, items: &[PVal]) -> R<u16> {
        let d = items
            .iter()
            .map(PVal::depth)
            .max()
            .unwrap_or(0)
            .saturating_add(1);
        if d > MAX_DEPTH {
            return Err(limit("nesting depth", u64::from(MAX_DEPTH)));
        }
        Ok(d)
    }

    fn push_tuple(&mut self, items: Vec<PVal>) -> R<()> {
        let depth = self.seq_depth(&items)?;
        self.push(PVal::Tuple(Rc::new(Seq { items, depth })))
    }

    /// Charges a copy-on-write copy of `len` elements (only when the value is shared).
    fn charge_cow(&mut self, shared: bool, len: usize) -> R<()> {
        if shared {
            self.cow_elements = self.cow_elements.saturating_add(len as u64);
            if self.cow_elements > MAX_COW_ELEMENTS {
                return Err(limit(
                    "elements copied by mutating shared containers",
                    MAX_COW_ELEMENTS,
                ));
            }
        }
        Ok(())
    }

    fn extend_list(&mut self, items: Vec<PVal>) -> R<()> {
        let child = self.seq_depth(&items)?;
        let target = self.pop()?;
        let PVal::List(mut list) = target else {
            return Err(self.err(format!("APPEND to {} (not a list)", target.kind())));
        };
        self.charge_cow(Rc::strong_count(&list) > 1, list.items.len())?;
        let l = Rc::make_mut(&mut list);
        l.items.extend(items);
        l.depth = l.depth.max(child);
        self.push(PVal::List(list))
    }

    fn extend_dict(&mut self, items: Vec<PVal>) -> R<()> {
        if !items.len().is_multiple_of(2) {
            return Err(self.err("SETITEMS with an odd number of values"));
        }
        let child = self.seq_depth(&items)?;
        let target = self.pop()?;
        let PVal::Dict(mut dict) = target else {
            return Err(self.err(format!("SETITEM on {} (not a dict)", target.kind())));
        };
        self.charge_cow(Rc::strong_count(&dict) > 1, dict.items.len())?;
        let d = Rc::make_mut(&mut dict);
        let mut it = items.into_iter();
        while let (Some(k), Some(v)) = (it.next(), it.next()) {
            d.items.push((k, v));
        }
        d.depth = d.depth.max(child);
        self.push(PVal::Dict(dict))
    }

    // ---- memo ----

    fn memo_put(&mut self, idx: u32) -> R<()> {
        if self.memo.len() >= MAX_MEMO && !self.memo.contains_key(&idx) {
            return Err(limit("memo entries", MAX_MEMO as u64));
        }
        let v = self.top()?.clone();
        self.memo.insert(idx, v);
        Ok(())
    }

    fn memo_get(&mut self, idx: u32) -> R<()> {
        let v = self
            .memo
            .get(&idx)
            .cloned()
            .ok_or_else(|| self.err(format!("memo key {idx} is not set")))?;
        self.push(v)
    }

    // ---- calls (interpreted, never executed) ----

    fn reduce(&mut self, callable: PVal, args: PVal) -> R<PVal> {
        let PVal::Global(g) = callable else {
            return Err(self.err(format!(
                "REDUCE of {} (not an allowed global)",
                callable.kind()
            )));
        };
        let PVal::Tuple(args) = args else {
            return Err(self.err("REDUCE arguments are not a tuple"));
        };
        let a = &args.items;
        match g {
            Global::RebuildTensor => self.rebuild_tensor(a),
            Global::RebuildParameter => match a.first() {
                Some(t @ PVal::Tensor(_)) => Ok(t.clone()),
                _ => Err(self.err("_rebuild_parameter needs a tensor")),
            },
            Global::OrderedDict => {
                if a.is_empty() {
                    Ok(PVal::Dict(Rc::new(Map {
                        items: Vec::new(),
                        depth: 1,
                    })))
                } else {
                    Err(self.err("OrderedDict with arguments is not supported"))
                }
            }
            Global::BuildList | Global::RestoreTypeTag => a
                .first()
                .cloned()
                .ok_or_else(|| self.err("list helper without an argument")),
            Global::Device => match a.as_slice() {
                [PVal::Str(s)] => Ok(PVal::Str(s.clone())),
                [PVal::Str(s), PVal::Int(i)] => Ok(PVal::Str(Rc::from(format!("{s}:{i}")))),
                _ => Err(self.err("torch.device needs a string")),
            },
            Global::Class(class) => Ok(PVal::Object(Rc::new(PObject {
                class,
                state: None,
                depth: 1,
            }))),
            Global::StorageType(name) => Err(self.err(format!("{name} is not callable here"))),
        }
    }

    fn newobj(&mut self, cls: PVal, args: PVal) -> R<PVal> {
        match (cls, args) {
            (PVal::Global(Global::Class(class)), PVal::Tuple(_)) => {
                Ok(PVal::Object(Rc::new(PObject {
                    class,
                    state: None,
                    depth: 1,
                })))
            }
            (PVal::Global(_), PVal::Tuple(_)) => {
                Err(self.err("NEWOBJ of a global that is not a __torch__ class"))
            }
            _ => Err(self.err("NEWOBJ needs a class and an argument tuple")),
        }
    }

    fn build(&mut self, state: PVal) -> R<()> {
        let child = state.depth().saturating_add(1);
        if child > MAX_DEPTH {
            return Err(limit("nesting depth", u64::from(MAX_DEPTH)));
        }
        let target = self.pop()?;
        let PVal::Object(mut obj) = target else {
            return Err(self.err(format!(
                "BUILD on {} (not a __torch__ object)",
                target.kind()
            )));
        };
        let old_len = match &obj.state {
            Some(PVal::Dict(d)) => d.items.len(),
            _ => 0,
        };
        self.charge_cow(Rc::strong_count(&obj) > 1, 1)?;
        let o = Rc::make_mut(&mut obj);
        // Python merges a dict state into __dict__; anything else replaces it.
        match (&mut o.state, state) {
            (Some(PVal::Dict(old)), PVal::Dict(new)) => {
                self.cow_elements = self.cow_elements.saturating_add(old_len as u64);
                if self.cow_elements > MAX_COW_ELEMENTS {
                    return Err(limit(
                        "elements copied by mutating shared containers",
                        MAX_COW_ELEMENTS,
                    ));
                }
                let merged = Rc::make_mut(old);
                merged.items.extend(new.items.iter().cloned());
                merged.depth = merged.depth.max(new.depth);
            }
            (slot, state) => *slot = Some(state),
        }
        o.depth = o.depth.max(child);
        self.push(PVal::Object(obj))
    }

    fn persistent_load(&mut self, pid: PVal) -> R<PVal> {
        let PVal::Tuple(t) = &pid else {
            return Err(self.err(format!("persistent id is {}, not a tuple", pid.kind())));
        };
        let [PVal::Str(tag), PVal::Global(Global::StorageType(storage_type)), PVal::Str(key), PVal::Str(_location), PVal::Int(numel)] =
            t.items.as_slice()
        else {
            return Err(self.err("persistent id is not ('storage', type, key, location, numel)"));
        };
        if &**tag != "storage" {
            return Err(self.err(format!("persistent id tag {tag:?} is not 'storage'")));
        }
        let key_ok = !key.is_empty()
            && key.len() <= 64
            && key
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.')
            && !key.starts_with('.');
        if !key_ok {
            return Err(self.err(format!(
                "storage key {:?} is not a plain entry name",
                truncate(key, 80)
            )));
        }
        if *numel < 0 {
            return Err(self.err(format!("storage `{key}` claims {numel} elements")));
        }
        Ok(PVal::Storage(Rc::new(StorageRef {
            storage_type: storage_type.clone(),
            key: key.to_string(),
            numel: *numel,
        })))
    }

    fn rebuild_tensor(&self, a: &[PVal]) -> R<PVal> {
        let [PVal::Storage(storage), PVal::Int(offset), size, stride, ..] = a else {
            return Err(self.err("_rebuild_tensor_v2 needs (storage, offset, size, stride, ...)"));
        };
        let size = self.int_seq(size, "size")?;
        let stride = self.int_seq(stride, "stride")?;
        if size.len() != stride.len() {
            return Err(self.err(format!(
                "tensor in storage `{}` has size of rank {} but stride of rank {}",
                storage.key,
                size.len(),
                stride.len()
            )));
        }
        Ok(PVal::Tensor(Rc::new(TensorSpec {
            storage: storage.clone(),
            offset: *offset,
            size,
            stride,
        })))
    }

    fn int_seq(&self, v: &PVal, what: &str) -> R<Vec<i64>> {
        let (PVal::Tuple(s) | PVal::List(s)) = v else {
            return Err(self.err(format!("tensor {what} is {}, not a tuple", v.kind())));
        };
        if s.items.len() > MAX_RANK {
            return Err(limit("tensor rank", MAX_RANK as u64));
        }
        s.items
            .iter()
            .map(|x| match x {
                PVal::Int(i) => Ok(*i),
                other => Err(self.err(format!("tensor {what} holds {}, not an int", other.kind()))),
            })
            .collect()
    }
}

fn limit(what: &'static str, limit: u64) -> ArchiveError {
    ArchiveError::LimitExceeded { what, limit }
}

fn truncate(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The allow-list. Anything else is refused before any value is built from it.
fn resolve_global(module: &str, name: &str) -> R<Global> {
    let forbidden = || ArchiveError::ForbiddenGlobal {
        module: truncate(module, 200),
        name: truncate(name, 200),
    };
    let g = match (module, name) {
        ("torch._utils", "_rebuild_tensor_v2" | "_rebuild_tensor") => Global::RebuildTensor,
        ("torch._utils", "_rebuild_parameter") => Global::RebuildParameter,
        ("collections", "OrderedDict") => Global::OrderedDict,
        (
            "torch.jit._pickle",
            "build_intlist" | "build_doublelist" | "build_boollist" | "build_tensorlist",
        ) => Global::BuildList,
        ("torch.jit._pickle", "restore_type_tag") => Global::RestoreTypeTag,
        ("torch", "device") => Global::Device,
        ("torch", n) if STORAGE_TYPES.contains(&n) => {
            Global::StorageType(Rc::from(format!("torch.{n}")))
        }
        (m, n) if m == "__torch__" || m.starts_with("__torch__.") => {
            if !(m.split('.').all(is_identifier) && is_identifier(n)) {
                return Err(forbidden());
            }
            Global::Class(Rc::from(format!("{m}.{n}")))
        }
        _ => return Err(forbidden()),
    };
    Ok(g)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(bytes: &[u8]) -> R<PVal> {
        unpickle(bytes, "t/data.pkl")
    }

    #[test]
    fn scalars_and_containers() {
        // PROTO 2, MARK, K 7, J -2, N, NEWTRUE, X 'ab', G 1.5, TUPLE, STOP
        let mut p = vec![0x80, 2, b'(', b'K', 7, b'J'];
        p.extend_from_slice(&(-2i32).to_le_bytes());
        p.extend_from_slice(&[b'N', 0x88, b'X', 2, 0, 0, 0, b'a', b'b', b'G']);
        p.extend_from_slice(&1.5f64.to_be_bytes());
        p.extend_from_slice(b"t.");
        let PVal::Tuple(t) = run(&p).expect("valid pickle") else {
            panic!("not a tuple")
        };
        assert_eq!(t.items.len(), 6);
        assert!(matches!(t.items[1], PVal::Int(-2)));
        assert!(matches!(t.items[5], PVal::Float(f) if f == 1.5));
    }

    #[test]
    fn long1_sign_extends() {
        assert!(matches!(
            run(&[0x80, 2, 0x8a, 1, 0xff, b'.']),
            Ok(PVal::Int(-1))
        ));
        assert!(matches!(
            run(&[0x80, 2, 0x8a, 2, 0xff, 0x00, b'.']),
            Ok(PVal::Int(255))
        ));
        assert!(matches!(run(&[0x80, 2, 0x8a, 0, b'.']), Ok(PVal::Int(0))));
        assert!(run(&[0x80, 2, 0x8a, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0, b'.']).is_err());
    }

    #[test]
    fn forbidden_global_is_named() {
        let err = run(b"\x80\x02cos\nsystem\n.").expect_err("must refuse");
        assert!(
            matches!(err, ArchiveError::ForbiddenGlobal { ref module, ref name } if module == "os" && name == "system")
        );
        let err = run(b"\x80\x02cbuiltins\neval\n.").expect_err("must refuse");
        assert!(matches!(err, ArchiveError::ForbiddenGlobal { .. }));
        let err = run(b"\x80\x02c__torch__.a b\nC\n.").expect_err("must refuse");
        assert!(matches!(err, ArchiveError::ForbiddenGlobal { .. }));
    }

    #[test]
    fn deep_nesting_is_bounded() {
        let mut p = vec![0x80, 2, b'N'];
        p.extend(std::iter::repeat_n(0x85, 100_000));
        p.push(b'.');
        assert!(matches!(
            run(&p),
            Err(ArchiveError::LimitExceeded {
                what: "nesting depth",
                ..
            })
        ));
    }

    #[test]
    fn deep_nesting_through_memo_is_bounded() {
        // Lists are appended into each other after being memoised; copy-on-write keeps depth exact.
        let mut p = vec![0x80, 2];
        for i in 0..250u8 {
            p.extend_from_slice(&[b']', b'q', i, b'0']);
        }
        for i in 0..249u8 {
            p.extend_from_slice(&[b'h', i, b'h', i + 1, b'a', b'0']);
        }
        p.extend_from_slice(&[b'h', 0, b'.']);
        // Either it is refused or it is shallow; it must never build a 250-deep chain.
        if let Ok(v) = run(&p) {
            assert!(v.depth() <= MAX_DEPTH);
        }
    }

    #[test]
    fn pop_below_mark_and_bad_memo_are_errors() {
        assert!(matches!(run(b"\x80\x02N(0."), Ok(PVal::None)));
        assert!(run(b"\x80\x02(0.").is_err());
        assert!(run(b"\x80\x02h\x05.").is_err());
        assert!(run(b"\x80\x02(u.").is_err());
        assert!(run(b"\x80\x02").is_err());
        assert!(matches!(
            run(b"\x80\x02\xff."),
            Err(ArchiveError::UnsupportedOpcode { opcode: 0xff, .. })
        ));
    }
}
