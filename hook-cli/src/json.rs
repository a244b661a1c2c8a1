//! A tiny JSON writer for `--json`: a [`Value`] tree built by the commands and printed with
//! two-space indentation, strings escaped as RFC 8259 requires. Objects keep the order their
//! fields were added in, so the output is stable and diffable. No parsing, no serde.

use std::fmt;

/// A JSON value.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Value {
    /// `null`
    Null,
    /// `true` / `false`
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A number with a fraction (durations in milliseconds).
    Float(f64),
    /// A string.
    Str(String),
    /// An array.
    Arr(Vec<Value>),
    /// An object, fields in insertion order.
    Obj(Vec<(&'static str, Value)>),
}

impl Value {
    /// An empty object, to be filled with [`Value::with`].
    pub(crate) fn obj() -> Value {
        Value::Obj(Vec::new())
    }

    /// Adds a field to an object (no-op on anything else).
    pub(crate) fn with(mut self, key: &'static str, value: impl Into<Value>) -> Value {
        if let Value::Obj(fields) = &mut self {
            fields.push((key, value.into()));
        }
        self
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Value {
        Value::Bool(b)
    }
}

impl From<i64> for Value {
    fn from(n: i64) -> Value {
        Value::Int(n)
    }
}

impl From<i32> for Value {
    fn from(n: i32) -> Value {
        Value::Int(n.into())
    }
}

impl From<usize> for Value {
    fn from(n: usize) -> Value {
        Value::Int(i64::try_from(n).unwrap_or(i64::MAX))
    }
}

impl From<u64> for Value {
    fn from(n: u64) -> Value {
        Value::Int(i64::try_from(n).unwrap_or(i64::MAX))
    }
}

impl From<f64> for Value {
    fn from(n: f64) -> Value {
        Value::Float(n)
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::Str(s.to_owned())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Value {
        Value::Str(s)
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(o: Option<T>) -> Value {
        o.map_or(Value::Null, Into::into)
    }
}

impl<T: Into<Value>> From<Vec<T>> for Value {
    fn from(v: Vec<T>) -> Value {
        Value::Arr(v.into_iter().map(Into::into).collect())
    }
}

/// Writes `s` as a JSON string literal: quotes, backslashes and control characters escaped.
pub(crate) fn write_str(out: &mut impl fmt::Write, s: &str) -> fmt::Result {
    out.write_char('"')?;
    for c in s.chars() {
        match c {
            '"' => out.write_str("\\\"")?,
            '\\' => out.write_str("\\\\")?,
            '\n' => out.write_str("\\n")?,
            '\r' => out.write_str("\\r")?,
            '\t' => out.write_str("\\t")?,
            c if (c as u32) < 0x20 || c == '\u{7f}' => write!(out, "\\u{:04x}", c as u32)?,
            c => out.write_char(c)?,
        }
    }
    out.write_char('"')
}

fn write_value(out: &mut impl fmt::Write, v: &Value, indent: usize) -> fmt::Result {
    let pad = |out: &mut dyn fmt::Write, n: usize| -> fmt::Result {
        for _ in 0..n {
            out.write_str("  ")?;
        }
        Ok(())
    };
    match v {
        Value::Null => out.write_str("null"),
        Value::Bool(b) => write!(out, "{b}"),
        Value::Int(n) => write!(out, "{n}"),
        // JSON has no NaN or infinity; a duration never is one, but stay valid regardless.
        Value::Float(x) if !x.is_finite() => out.write_str("null"),
        Value::Float(x) => write!(out, "{x:.3}"),
        Value::Str(s) => write_str(out, s),
        Value::Arr(items) if items.is_empty() => out.write_str("[]"),
        Value::Arr(items) => {
            out.write_str("[\n")?;
            for (i, item) in items.iter().enumerate() {
                pad(out, indent + 1)?;
                write_value(out, item, indent + 1)?;
                out.write_str(if i + 1 < items.len() { ",\n" } else { "\n" })?;
            }
            pad(out, indent)?;
            out.write_char(']')
        }
        Value::Obj(fields) if fields.is_empty() => out.write_str("{}"),
        Value::Obj(fields) => {
            out.write_str("{\n")?;
            for (i, (k, item)) in fields.iter().enumerate() {
                pad(out, indent + 1)?;
                write_str(out, k)?;
                out.write_str(": ")?;
                write_value(out, item, indent + 1)?;
                out.write_str(if i + 1 < fields.len() { ",\n" } else { "\n" })?;
            }
            pad(out, indent)?;
            out.write_char('}')
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_value(f, self, 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_strings() {
        let mut s = String::new();
        write_str(&mut s, "a\"b\\c\nd\te\u{1}f\u{7f}é").unwrap();
        assert_eq!(s, r#""a\"b\\c\nd\te\u0001f\u007fé""#);
    }

    #[test]
    fn prints_nested_values() {
        let v = Value::obj()
            .with("name", "x")
            .with("n", 3)
            .with("ms", 1.5)
            .with("none", Value::Null)
            .with("empty", Value::Arr(vec![]))
            .with("list", vec![true, false]);
        assert_eq!(
            v.to_string(),
            "{\n  \"name\": \"x\",\n  \"n\": 3,\n  \"ms\": 1.500,\n  \"none\": null,\n  \
             \"empty\": [],\n  \"list\": [\n    true,\n    false\n  ]\n}"
        );
    }
}
