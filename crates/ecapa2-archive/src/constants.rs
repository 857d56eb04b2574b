//! `Final` class-body constants from the generated code, e.g.
//! `  stride : Final[Tuple[int, int]] = (2, 1)`.
//!
//! TorchScript does not pickle module constants; they live only as class attributes in
//! `code/__torch__/<module path>.py`. This is a small, bounded literal grammar: nothing is
//! evaluated, and a line it does not understand is skipped (logged at debug level).

use crate::limits::MAX_CONSTANT_LINE;
use crate::Value;

/// Literal nesting allowed inside one constant (`((1, 2), (3, 4))` is depth 2).
const MAX_LITERAL_DEPTH: usize = 32;

/// Where a class's code lives: `__torch__.a.b.___torch_mangle_3.Cls` is `class Cls` in
/// `code/__torch__/a/b/___torch_mangle_3.py`; `__torch__.Cls` is in `code/__torch__.py`.
/// Returns `(entry path relative to the archive root, bare class name)`.
pub(crate) fn class_location(qualified: &str) -> Option<(String, &str)> {
    let (module, class) = qualified.rsplit_once('.')?;
    Some((format!("code/{}.py", module.replace('.', "/")), class))
}

/// A reference to `constants.pkl` (`CONSTANTS.c3`), which torch writes instead of a literal for
/// strings it cannot print (non-ASCII, control characters).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Literal {
    Value(Value),
    ConstantsTableRef(usize),
}

/// The `Final` constants of `class <class>` in `source`, in source order.
pub(crate) fn class_constants(source: &str, class: &str) -> Vec<(String, Literal)> {
    let mut out = Vec::new();
    let mut lines = source.lines();
    // Find `class <name>(` or `class <name>:` at column 0.
    let found = lines.by_ref().any(|l| {
        l.strip_prefix("class ")
            .and_then(|rest| rest.strip_prefix(class))
            .is_some_and(|rest| rest.starts_with('(') || rest.starts_with(':'))
    });
    if !found {
        tracing::debug!(class, "class block not found in generated code");
        return out;
    }
    // Direct body statements share the first body line's indentation; deeper lines belong to
    // method bodies. The block ends at the next non-blank line at column 0.
    let mut body_indent: Option<usize> = None;
    for line in lines {
        if line.trim().is_empty() {
            continue;
        }
        let indent = line.len() - line.trim_start().len();
        if indent == 0 {
            break;
        }
        let body = *body_indent.get_or_insert(indent);
        if indent != body || !line.contains("Final[") {
            continue;
        }
        if line.len() > MAX_CONSTANT_LINE {
            tracing::debug!(class, len = line.len(), "constant line too long; skipped");
            continue;
        }
        match parse_constant_line(line.trim()) {
            Some(c) => out.push(c),
            None => tracing::debug!(class, line = line.trim(), "unparsed constant line; skipped"),
        }
    }
    out
}

/// `name : Final[T] = literal`.
pub(crate) fn parse_constant_line(line: &str) -> Option<(String, Literal)> {
    let mut p = Parser {
        s: line.as_bytes(),
        pos: 0,
    };
    let name = p.identifier()?;
    p.ws();
    p.eat(b':')?;
    p.ws();
    p.keyword("Final")?;
    p.skip_brackets()?;
    p.ws();
    p.eat(b'=')?;
    p.ws();
    let value = if p.keyword("CONSTANTS.c").is_some() {
        Literal::ConstantsTableRef(p.digits()?.parse().ok()?)
    } else {
        Literal::Value(p.value(0)?)
    };
    p.ws();
    p.at_end().then_some((name.to_owned(), value))
}

struct Parser<'a> {
    s: &'a [u8],
    pos: usize,
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    fn at_end(&self) -> bool {
        self.pos >= self.s.len()
    }

    fn ws(&mut self) {
        while self.peek().is_some_and(|c| c == b' ' || c == b'\t') {
            self.pos += 1;
        }
    }

    fn eat(&mut self, c: u8) -> Option<()> {
        (self.peek() == Some(c)).then(|| self.pos += 1)
    }

    fn keyword(&mut self, k: &str) -> Option<()> {
        let end = self.pos.checked_add(k.len())?;
        (self.s.get(self.pos..end)? == k.as_bytes()).then(|| self.pos = end)
    }

    fn slice(&self, start: usize) -> Option<&'a str> {
        std::str::from_utf8(self.s.get(start..self.pos)?).ok()
    }

    fn identifier(&mut self) -> Option<&'a str> {
        let start = self.pos;
        if !self
            .peek()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == b'_')
        {
            return None;
        }
        while self
            .peek()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == b'_')
        {
            self.pos += 1;
        }
        self.slice(start)
    }

    fn digits(&mut self) -> Option<&'a str> {
        let start = self.pos;
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.pos += 1;
        }
        (self.pos > start).then(|| self.slice(start)).flatten()
    }

    /// Skips a balanced `[...]` (the type inside `Final[...]`), which is not interpreted.
    fn skip_brackets(&mut self) -> Option<()> {
        self.eat(b'[')?;
        let mut depth = 1usize;
        while depth > 0 {
            match self.peek()? {
                b'[' => depth += 1,
                b']' => depth -= 1,
                _ => {}
            }
            self.pos += 1;
        }
        Some(())
    }

    fn value(&mut self, depth: usize) -> Option<Value> {
        if depth > MAX_LITERAL_DEPTH {
            return None;
        }
        match self.peek()? {
            b'(' => {
                let (items, trailing_comma) = self.sequence(b')', depth)?;
                // `(x)` is just a parenthesised `x`; torch prints 1-tuples as `(x,)`.
                if items.len() == 1 && !trailing_comma {
                    items.into_iter().next()
                } else {
                    Some(Value::Tuple(items))
                }
            }
            b'[' => Some(Value::List(self.sequence(b']', depth)?.0)),
            b'"' | b'\'' => self.string().map(Value::Str),
            _ => self.scalar(),
        }
    }

    /// `open items, ... close`; returns the items and whether a comma preceded `close`.
    fn sequence(&mut self, close: u8, depth: usize) -> Option<(Vec<Value>, bool)> {
        self.pos += 1; // the opening bracket
        let mut items = Vec::new();
        let mut trailing_comma = false;
        loop {
            self.ws();
            if self.eat(close).is_some() {
                return Some((items, trailing_comma));
            }
            if !items.is_empty() && !trailing_comma {
                return None; // two items without a comma between them
            }
            items.push(self.value(depth + 1)?);
            self.ws();
            trailing_comma = self.eat(b',').is_some();
        }
    }

    /// A quoted string with Python escapes (torch only prints printable ASCII this way).
    fn string(&mut self) -> Option<String> {
        let quote = self.peek()?;
        self.pos += 1;
        let mut out: Vec<u8> = Vec::new();
        loop {
            let c = self.peek()?;
            self.pos += 1;
            if c == quote {
                return String::from_utf8(out).ok();
            }
            if c != b'\\' {
                out.push(c);
                continue;
            }
            let e = self.peek()?;
            self.pos += 1;
            match e {
                b'\\' | b'"' | b'\'' => out.push(e),
                b'n' => out.push(b'\n'),
                b't' => out.push(b'\t'),
                b'r' => out.push(b'\r'),
                b'a' => out.push(0x07),
                b'b' => out.push(0x08),
                b'f' => out.push(0x0c),
                b'v' => out.push(0x0b),
                b'x' => {
                    let h = self.s.get(self.pos..self.pos + 2)?;
                    out.push(u8::from_str_radix(std::str::from_utf8(h).ok()?, 16).ok()?);
                    self.pos += 2;
                }
                b'0'..=b'7' => {
                    // Up to three octal digits, the first already read.
                    let mut v = u32::from(e - b'0');
                    for _ in 0..2 {
                        match self.peek() {
                            Some(d @ b'0'..=b'7') => {
                                v = v * 8 + u32::from(d - b'0');
                                self.pos += 1;
                            }
                            _ => break,
                        }
                    }
                    out.push(u8::try_from(v).ok()?);
                }
                _ => return None,
            }
        }
    }

    /// `None`, `True`, `False`, ints, floats (`2.`, `1.0000000000000001e-05`, `inf`, `-inf`,
    /// `nan`, `float("inf")`).
    fn scalar(&mut self) -> Option<Value> {
        let start = self.pos;
        if self
            .s
            .get(self.pos..)
            .is_some_and(|r| r.starts_with(b"float("))
        {
            let n = self.s.get(self.pos..)?.iter().position(|&c| c == b')')?;
            self.pos += n + 1;
        } else {
            while self.peek().is_some_and(|c| {
                c.is_ascii_alphanumeric() || matches!(c, b'.' | b'-' | b'+' | b'_')
            }) {
                self.pos += 1;
            }
        }
        let tok = self.slice(start)?;
        match tok {
            "None" => return Some(Value::None),
            "True" => return Some(Value::Bool(true)),
            "False" => return Some(Value::Bool(false)),
            "inf" | "float(\"inf\")" | "float('inf')" => return Some(Value::Float(f64::INFINITY)),
            "-inf" | "float(\"-inf\")" | "float('-inf')" => {
                return Some(Value::Float(f64::NEG_INFINITY))
            }
            "nan" | "float(\"nan\")" | "float('nan')" => return Some(Value::Float(f64::NAN)),
            _ => {}
        }
        let body = tok.strip_prefix('-').unwrap_or(tok);
        if body.is_empty()
            || !body
                .bytes()
                .all(|c| c.is_ascii_digit() || matches!(c, b'.' | b'e' | b'E' | b'-' | b'+'))
        {
            return None;
        }
        if body.bytes().all(|c| c.is_ascii_digit()) {
            return tok.parse().ok().map(Value::Int);
        }
        // Rust's parser is correctly rounded and accepts Python's `2.` and `1e-05` spellings.
        tok.parse().ok().map(Value::Float)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn val(line: &str) -> Option<Value> {
        match parse_constant_line(line)?.1 {
            Literal::Value(v) => Some(v),
            Literal::ConstantsTableRef(_) => None,
        }
    }

    #[test]
    fn location_of_mangled_and_plain_classes() {
        assert_eq!(
            class_location("__torch__.torch.nn.modules.conv.___torch_mangle_3.Conv2d"),
            Some((
                "code/__torch__/torch/nn/modules/conv/___torch_mangle_3.py".to_owned(),
                "Conv2d"
            ))
        );
        assert_eq!(
            class_location("__torch__.Top"),
            Some(("code/__torch__.py".to_owned(), "Top"))
        );
    }

    #[test]
    fn literals() {
        assert_eq!(
            val("stride : Final[Tuple[int, int]] = (2, 1)"),
            Some(Value::Tuple(vec![Value::Int(2), Value::Int(1)]))
        );
        assert_eq!(
            val("eps : Final[float] = 1.0000000000000001e-05"),
            Some(Value::Float(1e-5))
        );
        assert_eq!(val("power : Final[float] = 2."), Some(Value::Float(2.0)));
        assert_eq!(val("h : Final[float] = -0."), Some(Value::Float(-0.0)));
        assert_eq!(
            val("n : Final[int] = -9223372036854775807"),
            Some(Value::Int(-9223372036854775807))
        );
        assert_eq!(val("b : Final[bool] = False"), Some(Value::Bool(false)));
        assert_eq!(
            val("p : Final[str] = \"reflect\""),
            Some(Value::Str("reflect".into()))
        );
        assert_eq!(
            val("p : Final[str] = \"a\\\"b\\x41\\101\""),
            Some(Value::Str("a\"bAA".into()))
        );
        assert_eq!(
            val("e : Final[Tuple[int]] = (5,)"),
            Some(Value::Tuple(vec![Value::Int(5)]))
        );
        assert_eq!(val("f : Final[Tuple[()]] = ()"), Some(Value::Tuple(vec![])));
        assert_eq!(val("x : Final[NoneType] = None"), Some(Value::None));
        assert_eq!(
            val("a : Final[float] = -inf"),
            Some(Value::Float(f64::NEG_INFINITY))
        );
        assert!(matches!(val("c : Final[float] = nan"), Some(Value::Float(f)) if f.is_nan()));
        assert_eq!(
            val("g : Final[float] = 1.0000000000000001e+300"),
            Some(Value::Float(1e300))
        );
        assert_eq!(
            val("n : Final[Tuple[Tuple[int, float], str]] = ((1, 0.5), \"a\\\"b\")"),
            Some(Value::Tuple(vec![
                Value::Tuple(vec![Value::Int(1), Value::Float(0.5)]),
                Value::Str("a\"b".into())
            ]))
        );
        assert_eq!(
            val("l : Final[List[int]] = [1, 2]"),
            Some(Value::List(vec![Value::Int(1), Value::Int(2)]))
        );
        assert_eq!(
            parse_constant_line("d : Final[str] = CONSTANTS.c12").map(|c| c.1),
            Some(Literal::ConstantsTableRef(12))
        );
    }

    #[test]
    fn garbage_is_skipped_not_fatal() {
        for bad in [
            "x : Final[int] = 1 + 2",
            "x : Final[int] = (1 2)",
            "x : Final[int = 1",
            "x : Final[int] = \"unterminated",
            "x : Final[int] = 99999999999999999999999",
            "x : Final[int] = foo(1)",
            "x : Final[int] = ",
            ": Final[int] = 1",
        ] {
            assert_eq!(parse_constant_line(bad), None, "{bad}");
        }
        let deep = format!("x : Final[int] = {}1{}", "(".repeat(1000), ")".repeat(1000));
        assert_eq!(parse_constant_line(&deep), None);
    }

    #[test]
    fn class_block_selection() {
        let src = "class A(Module):\n  n : Final[int] = 1\n  def forward(self):\n    m : Final[int] = 9\n    return 1\n  k : Final[str] = \"s\"\nclass AB(Module):\n  n : Final[int] = 2\nclass B(Module):\n  n : Final[int] = 3\n";
        let a = class_constants(src, "A");
        assert_eq!(a.len(), 2);
        assert_eq!(a[0], ("n".to_owned(), Literal::Value(Value::Int(1))));
        assert_eq!(
            a[1],
            ("k".to_owned(), Literal::Value(Value::Str("s".into())))
        );
        assert_eq!(
            class_constants(src, "B"),
            vec![("n".to_owned(), Literal::Value(Value::Int(3)))]
        );
        assert!(class_constants(src, "C").is_empty());
    }
}
