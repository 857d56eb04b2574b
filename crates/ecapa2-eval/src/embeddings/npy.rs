//! NPY (NumPy array file) reading and writing for 2-D float32 matrices.
//!
//! Writing follows the NPY format 1.0 exactly as `numpy.save` emits it (numpy >= 1.23): magic
//! `\x93NUMPY`, version `1.0`, a little-endian `u16` header length, then the dict literal
//! `{'descr': '<f4', 'fortran_order': False, 'shape': (R, C), }` followed by spaces (numpy's
//! growth reserve plus alignment) and a final `\n`, so that the data starts at a multiple of 64
//! bytes; then `R*C` little-endian f32 values in C (row-major) order.
//!
//! Reading accepts versions 1.0–3.0, `<f4`/`>f4`/`<f8`/`>f8` (f8 is narrowed to f32), C or
//! Fortran order, and shapes `(R, C)` or `(C,)` (one row).

use std::io::Write;

const MAGIC: &[u8; 6] = b"\x93NUMPY";
/// numpy aligns the start of the data to this many bytes.
const ARRAY_ALIGN: usize = 64;
/// numpy reserves room in the header for the leading axis to grow to this many digits.
const GROWTH_AXIS_MAX_DIGITS: usize = 21;

/// Errors from decoding an NPY file.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum NpyError {
    /// The file does not start with `\x93NUMPY`.
    #[error("not an NPY file (bad magic)")]
    BadMagic,
    /// The format version is not 1.0, 2.0 or 3.0.
    #[error("unsupported NPY version {0}.{1}")]
    UnsupportedVersion(u8, u8),
    /// The file ends before the header or the data does.
    #[error("truncated NPY file: {0}")]
    Truncated(&'static str),
    /// The header dict cannot be parsed or lacks a key.
    #[error("malformed NPY header: {0}")]
    BadHeader(String),
    /// The element type is not a float32/float64.
    #[error("unsupported NPY dtype {0:?} (expected '<f4', '>f4', '<f8' or '>f8')")]
    UnsupportedDtype(String),
    /// The array is not 1-D or 2-D.
    #[error("unsupported NPY shape {0:?} (expected (rows, cols) or (cols,))")]
    UnsupportedShape(Vec<usize>),
    /// The data section is not exactly `rows*cols*itemsize` bytes.
    #[error("NPY data is {found} bytes, shape needs {expected}")]
    DataLength {
        /// Bytes the shape and dtype call for.
        expected: usize,
        /// Bytes present after the header.
        found: usize,
    },
    /// The caller's buffer length does not match the shape it gave for writing.
    #[error("cannot write a {rows}x{cols} matrix from {len} values")]
    ShapeMismatch {
        /// Rows requested.
        rows: usize,
        /// Columns requested.
        cols: usize,
        /// Values supplied.
        len: usize,
    },
}

/// A row-major f32 matrix read from an NPY file.
#[derive(Debug, Clone, PartialEq)]
pub struct NpyMatrix {
    /// Number of rows (first axis).
    pub rows: usize,
    /// Number of columns (second axis).
    pub cols: usize,
    /// `rows * cols` values, row-major.
    pub data: Vec<f32>,
}

/// The complete preamble (magic, version, length, header dict, padding) that `numpy.save` writes
/// for a C-ordered float32 array of shape `(rows, cols)`.
pub fn header(rows: usize, cols: usize) -> Vec<u8> {
    let mut dict =
        format!("{{'descr': '<f4', 'fortran_order': False, 'shape': ({rows}, {cols}), }}");
    dict.push_str(&" ".repeat(GROWTH_AXIS_MAX_DIGITS.saturating_sub(rows.to_string().len())));
    // Like numpy, this pads by a full ARRAY_ALIGN when the unpadded length is already aligned.
    let pad = ARRAY_ALIGN - (MAGIC.len() + 2 + 2 + dict.len() + 1) % ARRAY_ALIGN;
    dict.push_str(&" ".repeat(pad));
    dict.push('\n');
    // The dict is < 200 bytes for any usize shape, so version 1.0's u16 length always suffices.
    let mut out = Vec::with_capacity(10 + dict.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&[1, 0]);
    out.extend_from_slice(&(dict.len() as u16).to_le_bytes());
    out.extend_from_slice(dict.as_bytes());
    out
}

/// Writes `data` (row-major, `rows * cols` values) as an NPY 1.0 float32 file.
pub fn write_f32_matrix<W: Write>(
    mut w: W,
    rows: usize,
    cols: usize,
    data: &[f32],
) -> std::io::Result<()> {
    if rows.checked_mul(cols) != Some(data.len()) {
        let e = NpyError::ShapeMismatch {
            rows,
            cols,
            len: data.len(),
        };
        return Err(std::io::Error::new(std::io::ErrorKind::InvalidInput, e));
    }
    w.write_all(&header(rows, cols))?;
    let mut buf = Vec::with_capacity(data.len() * 4);
    for v in data {
        buf.extend_from_slice(&v.to_le_bytes());
    }
    w.write_all(&buf)?;
    w.flush()
}

/// Decodes an NPY file holding a 1-D or 2-D float array into an f32 matrix.
pub fn read_f32_matrix(bytes: &[u8]) -> Result<NpyMatrix, NpyError> {
    if bytes.len() < 8 {
        return Err(if bytes.starts_with(&MAGIC[..bytes.len().min(6)]) {
            NpyError::Truncated("preamble")
        } else {
            NpyError::BadMagic
        });
    }
    if &bytes[..6] != MAGIC {
        return Err(NpyError::BadMagic);
    }
    let (major, minor) = (bytes[6], bytes[7]);
    let (len_bytes, utf8) = match (major, minor) {
        (1, 0) => (2, false),
        (2, 0) => (4, false),
        (3, 0) => (4, true),
        _ => return Err(NpyError::UnsupportedVersion(major, minor)),
    };
    let start = 8 + len_bytes;
    let len_field = bytes
        .get(8..start)
        .ok_or(NpyError::Truncated("header length"))?;
    let header_len = len_field
        .iter()
        .rev()
        .fold(0usize, |acc, &b| (acc << 8) | b as usize);
    let data_start = start
        .checked_add(header_len)
        .ok_or(NpyError::Truncated("header"))?;
    let raw = bytes
        .get(start..data_start)
        .ok_or(NpyError::Truncated("header"))?;
    // Versions 1 and 2 are latin-1; any non-ASCII byte would be inside a string we do not use.
    let text: String = if utf8 {
        std::str::from_utf8(raw)
            .map_err(|_| NpyError::BadHeader("header is not UTF-8".into()))?
            .to_string()
    } else {
        raw.iter().map(|&b| b as char).collect()
    };
    let h = parse_header(&text)?;

    let (rows, cols) = match h.shape.as_slice() {
        [r, c] => (*r, *c),
        [c] => (1, *c),
        _ => return Err(NpyError::UnsupportedShape(h.shape)),
    };
    let (little, size) = match h.descr.as_str() {
        "<f4" => (true, 4),
        ">f4" => (false, 4),
        "<f8" => (true, 8),
        ">f8" => (false, 8),
        _ => return Err(NpyError::UnsupportedDtype(h.descr)),
    };
    let payload = &bytes[data_start..];
    let expected = rows
        .checked_mul(cols)
        .and_then(|n| n.checked_mul(size))
        .ok_or_else(|| NpyError::UnsupportedShape(h.shape.clone()))?;
    if payload.len() != expected {
        return Err(NpyError::DataLength {
            expected,
            found: payload.len(),
        });
    }
    let values: Vec<f32> = payload
        .chunks_exact(size)
        .map(|c| match (size, little) {
            (4, true) => f32::from_le_bytes([c[0], c[1], c[2], c[3]]),
            (4, false) => f32::from_be_bytes([c[0], c[1], c[2], c[3]]),
            (_, true) => {
                f64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]) as f32
            }
            (_, false) => {
                f64::from_be_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]) as f32
            }
        })
        .collect();
    let data = if h.fortran_order && rows > 1 && cols > 1 {
        // Column-major on disk: element (r, c) is at c*rows + r.
        let mut out = vec![0.0f32; values.len()];
        for c in 0..cols {
            for r in 0..rows {
                out[r * cols + c] = values[c * rows + r];
            }
        }
        out
    } else {
        values
    };
    Ok(NpyMatrix { rows, cols, data })
}

/// The three header fields we need.
struct Header {
    descr: String,
    fortran_order: bool,
    shape: Vec<usize>,
}

/// A value in the header's Python dict literal.
enum Value {
    Str(String),
    Bool(bool),
    Tuple(Vec<usize>),
}

/// Parses numpy's header dict: a Python literal with string keys and string, bool or
/// int-tuple values. A tiny recursive-descent parser; nothing is evaluated.
fn parse_header(text: &str) -> Result<Header, NpyError> {
    let bad = |m: &str| NpyError::BadHeader(m.to_string());
    let mut p = Parser {
        s: text.as_bytes(),
        i: 0,
    };
    p.expect(b'{').map_err(|_| bad("expected '{'"))?;
    let (mut descr, mut fortran, mut shape) = (None, None, None);
    loop {
        p.ws();
        if p.eat(b'}') {
            break;
        }
        let key = p.string().ok_or_else(|| bad("expected a quoted key"))?;
        p.expect(b':').map_err(|_| bad("expected ':' after key"))?;
        let value = p
            .value()
            .ok_or_else(|| bad(&format!("bad value for key {key:?}")))?;
        match (key.as_str(), value) {
            ("descr", Value::Str(s)) => descr = Some(s),
            ("fortran_order", Value::Bool(b)) => fortran = Some(b),
            ("shape", Value::Tuple(t)) => shape = Some(t),
            ("descr" | "fortran_order" | "shape", _) => {
                return Err(bad(&format!("wrong type for {key:?}")))
            }
            _ => {} // unknown keys are tolerated
        }
        p.ws();
        if !p.eat(b',') {
            p.expect(b'}').map_err(|_| bad("expected ',' or '}'"))?;
            break;
        }
    }
    Ok(Header {
        descr: descr.ok_or_else(|| bad("missing 'descr'"))?,
        fortran_order: fortran.ok_or_else(|| bad("missing 'fortran_order'"))?,
        shape: shape.ok_or_else(|| bad("missing 'shape'"))?,
    })
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn ws(&mut self) {
        while self.i < self.s.len() && self.s[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }

    fn eat(&mut self, c: u8) -> bool {
        self.ws();
        if self.s.get(self.i) == Some(&c) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, c: u8) -> Result<(), ()> {
        if self.eat(c) {
            Ok(())
        } else {
            Err(())
        }
    }

    fn string(&mut self) -> Option<String> {
        self.ws();
        let q = *self.s.get(self.i).filter(|&&c| c == b'\'' || c == b'"')?;
        let start = self.i + 1;
        let end = start + self.s[start..].iter().position(|&c| c == q)?;
        self.i = end + 1;
        Some(self.s[start..end].iter().map(|&b| b as char).collect())
    }

    fn int(&mut self) -> Option<usize> {
        self.ws();
        let start = self.i;
        while self.i < self.s.len() && self.s[self.i].is_ascii_digit() {
            self.i += 1;
        }
        let n = std::str::from_utf8(&self.s[start..self.i])
            .ok()?
            .parse()
            .ok()?;
        // Python 2 era headers may write longs as `3L`.
        if self.s.get(self.i) == Some(&b'L') {
            self.i += 1;
        }
        Some(n)
    }

    fn value(&mut self) -> Option<Value> {
        self.ws();
        let rest = &self.s[self.i..];
        if rest.starts_with(b"True") {
            self.i += 4;
            return Some(Value::Bool(true));
        }
        if rest.starts_with(b"False") {
            self.i += 5;
            return Some(Value::Bool(false));
        }
        if self.eat(b'(') {
            let mut dims = Vec::new();
            loop {
                if self.eat(b')') {
                    return Some(Value::Tuple(dims));
                }
                dims.push(self.int()?);
                if !self.eat(b',') {
                    return self.eat(b')').then_some(Value::Tuple(dims));
                }
            }
        }
        self.string().map(Value::Str)
    }
}
