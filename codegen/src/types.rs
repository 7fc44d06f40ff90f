//! Stage 1b: the field type grammar (`string(27)`, `u32(..=50)`, `list<CardStatus>(..=10)`, …).
//!
//! Takes: the text of a field's `type`. Gives: its syntax, a [`TypeExpr`], where names are still
//! strings and inline `object`/`enum` are placeholders; [`crate::parse`] resolves both into a
//! [`crate::model::Ty`] before anything else sees it.

use std::fmt;

/// The integer types of the grammar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IntKind {
    I32,
    I64,
    U32,
    U64,
}

impl IntKind {
    pub fn name(self) -> &'static str {
        match self {
            IntKind::I32 => "i32",
            IntKind::I64 => "i64",
            IntKind::U32 => "u32",
            IntKind::U64 => "u64",
        }
    }

    /// The type's own inclusive range.
    pub fn bounds(self) -> (i128, i128) {
        match self {
            IntKind::I32 => (i32::MIN.into(), i32::MAX.into()),
            IntKind::I64 => (i64::MIN.into(), i64::MAX.into()),
            IntKind::U32 => (0, u32::MAX.into()),
            IntKind::U64 => (0, u64::MAX.into()),
        }
    }
}

/// A parsed field type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TypeExpr {
    String {
        max_bytes: Option<u32>,
    },
    Bool,
    /// `secret`: a string that must never be printed (a ticket); `crate::Secret` in Rust.
    Secret,
    Int {
        kind: IntKind,
        min: Option<i128>,
        max: Option<i128>,
    },
    Date,
    Json,
    List {
        item: Box<TypeExpr>,
        min: Option<u32>,
        max: Option<u32>,
    },
    /// A named type (defined under `types:`), or an inline object/enum after hoisting.
    Named(String),
    /// `object`: an inline object; the field's `fields` key defines it.
    Object,
    /// `enum`: an inline enum; the field's `values` key defines it.
    Enum,
}

impl TypeExpr {
    /// Whether this type or one inside it is an inline `object`/`enum` placeholder.
    pub fn inline_kind(&self) -> Option<&TypeExpr> {
        match self {
            TypeExpr::Object | TypeExpr::Enum => Some(self),
            TypeExpr::List { item, .. } => item.inline_kind(),
            _ => None,
        }
    }
}

impl fmt::Display for TypeExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TypeExpr::String { max_bytes: None } => f.write_str("string"),
            TypeExpr::String { max_bytes: Some(n) } => write!(f, "string({n})"),
            TypeExpr::Bool => f.write_str("bool"),
            TypeExpr::Secret => f.write_str("secret"),
            TypeExpr::Int { kind, min, max } => {
                f.write_str(kind.name())?;
                match (min, max) {
                    (None, None) => Ok(()),
                    (Some(a), None) => write!(f, "({a}..)"),
                    (None, Some(b)) => write!(f, "(..={b})"),
                    (Some(a), Some(b)) => write!(f, "({a}..={b})"),
                }
            }
            TypeExpr::Date => f.write_str("date"),
            TypeExpr::Json => f.write_str("json"),
            TypeExpr::List { item, min, max } => {
                write!(f, "list<{item}>")?;
                match (min, max) {
                    (None, None) => Ok(()),
                    (Some(a), None) => write!(f, "({a}..)"),
                    (None, Some(b)) => write!(f, "(..={b})"),
                    (Some(a), Some(b)) => write!(f, "({a}..={b})"),
                }
            }
            TypeExpr::Named(n) => f.write_str(n),
            TypeExpr::Object => f.write_str("object"),
            TypeExpr::Enum => f.write_str("enum"),
        }
    }
}

const EXPECTED: &str = "expected string, string(N), bool, i32, i64, u32, u64, date, json, \
                        secret, list<T>, object, enum or a type name";

/// Parses a type expression.
pub fn parse(text: &str) -> Result<TypeExpr, String> {
    let mut p = Parser {
        text,
        rest: text.trim(),
    };
    let ty = p.ty()?;
    if !p.rest.is_empty() {
        return Err(format!(
            "unexpected `{}` after the type `{ty}` in `{text}`",
            p.rest
        ));
    }
    Ok(ty)
}

struct Parser<'a> {
    text: &'a str,
    rest: &'a str,
}

impl Parser<'_> {
    fn eat(&mut self, token: &str) -> bool {
        match self.rest.strip_prefix(token) {
            Some(rest) => {
                self.rest = rest.trim_start();
                true
            }
            None => false,
        }
    }

    fn ident(&mut self) -> Result<&str, String> {
        let end = self
            .rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(self.rest.len());
        if end == 0 {
            return Err(format!("`{}` is not a type; {EXPECTED}", self.text));
        }
        let (ident, rest) = self.rest.split_at(end);
        self.rest = rest.trim_start();
        Ok(ident)
    }

    fn ty(&mut self) -> Result<TypeExpr, String> {
        let name = self.ident()?.to_owned();
        let int = match name.as_str() {
            "i32" => Some(IntKind::I32),
            "i64" => Some(IntKind::I64),
            "u32" => Some(IntKind::U32),
            "u64" => Some(IntKind::U64),
            _ => None,
        };
        if let Some(kind) = int {
            let (min, max) = self.range(&name)?;
            let (lo, hi) = kind.bounds();
            for bound in [min, max].into_iter().flatten() {
                if bound < lo || bound > hi {
                    return Err(format!(
                        "bound {bound} of `{}` is outside the range of {name}",
                        self.text
                    ));
                }
            }
            if let (Some(a), Some(b)) = (min, max) {
                if a > b {
                    return Err(format!("empty range in `{}`: min {a} > max {b}", self.text));
                }
            }
            return Ok(TypeExpr::Int { kind, min, max });
        }
        match name.as_str() {
            "string" => {
                if self.eat("(") {
                    let n = self.number()?;
                    if !self.eat(")") {
                        return Err(format!("expected `)` in `{}`", self.text));
                    }
                    let n = u32::try_from(n).ok().filter(|n| *n > 0).ok_or_else(|| {
                        format!("string(N) needs 1 <= N <= {}, in `{}`", u32::MAX, self.text)
                    })?;
                    Ok(TypeExpr::String { max_bytes: Some(n) })
                } else {
                    Ok(TypeExpr::String { max_bytes: None })
                }
            }
            "bool" => self.plain(TypeExpr::Bool),
            "secret" => self.plain(TypeExpr::Secret),
            "date" => self.plain(TypeExpr::Date),
            "json" => self.plain(TypeExpr::Json),
            "object" => self.plain(TypeExpr::Object),
            "enum" => self.plain(TypeExpr::Enum),
            "list" => {
                if !self.eat("<") {
                    return Err(format!(
                        "`list` needs an item type: list<T>, in `{}`",
                        self.text
                    ));
                }
                let item = self.ty()?;
                if !self.eat(">") {
                    return Err(format!("expected `>` in `{}`", self.text));
                }
                let (min, max) = self.range("list")?;
                let to_u32 = |v: Option<i128>| -> Result<Option<u32>, String> {
                    v.map(|v| {
                        u32::try_from(v)
                            .map_err(|_| format!("item count {v} out of range in `{}`", self.text))
                    })
                    .transpose()
                };
                let (min, max) = (to_u32(min)?, to_u32(max)?);
                if let (Some(a), Some(b)) = (min, max) {
                    if a > b {
                        return Err(format!("empty range in `{}`: min {a} > max {b}", self.text));
                    }
                }
                Ok(TypeExpr::List {
                    item: Box::new(item),
                    min,
                    max,
                })
            }
            _ if name.starts_with(|c: char| c.is_ascii_uppercase()) => {
                self.plain(TypeExpr::Named(name))
            }
            _ => Err(format!("unknown type `{name}`; {EXPECTED}")),
        }
    }

    fn plain(&mut self, ty: TypeExpr) -> Result<TypeExpr, String> {
        if self.rest.starts_with('(') {
            return Err(format!("`{ty}` takes no limit, in `{}`", self.text));
        }
        Ok(ty)
    }

    fn number(&mut self) -> Result<i128, String> {
        let end = self
            .rest
            .find(|c: char| !(c.is_ascii_digit() || c == '-' || c == '_'))
            .unwrap_or(self.rest.len());
        let digits: String = self.rest[..end].chars().filter(|c| *c != '_').collect();
        let n = digits
            .parse::<i128>()
            .map_err(|_| format!("expected a number in `{}`", self.text))?;
        self.rest = self.rest[end..].trim_start();
        Ok(n)
    }

    /// `(A..=B)`, `(..=B)`, `(A..)` or nothing.
    fn range(&mut self, what: &str) -> Result<(Option<i128>, Option<i128>), String> {
        if !self.eat("(") {
            return Ok((None, None));
        }
        let min = if self.rest.starts_with("..") {
            None
        } else {
            Some(self.number()?)
        };
        if !self.eat("..") {
            return Err(format!(
                "expected a range like {what}(A..=B), {what}(..=B) or {what}(A..), in `{}`",
                self.text
            ));
        }
        let max = if self.eat("=") {
            Some(self.number()?)
        } else {
            None
        };
        if !self.eat(")") {
            return Err(format!("expected `)` in `{}`", self.text));
        }
        if min.is_none() && max.is_none() {
            return Err(format!("empty range `(..)` in `{}`", self.text));
        }
        Ok((min, max))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grammar() {
        assert_eq!(
            parse("string").unwrap(),
            TypeExpr::String { max_bytes: None }
        );
        assert_eq!(
            parse("string(27)").unwrap(),
            TypeExpr::String {
                max_bytes: Some(27)
            }
        );
        assert_eq!(
            parse("u32(..=50)").unwrap(),
            TypeExpr::Int {
                kind: IntKind::U32,
                min: None,
                max: Some(50)
            }
        );
        assert_eq!(
            parse("u32(60..=1800)").unwrap().to_string(),
            "u32(60..=1800)"
        );
        assert_eq!(
            parse("list<string(20)>(1..=100)").unwrap().to_string(),
            "list<string(20)>(1..=100)"
        );
        assert_eq!(
            parse(" CardStatus ").unwrap(),
            TypeExpr::Named("CardStatus".into())
        );
        assert_eq!(parse("i64(-5..)").unwrap().to_string(), "i64(-5..)");
    }

    #[test]
    fn errors() {
        for (text, expect) in [
            ("strng", "unknown type `strng`"),
            ("u32(50..=10)", "min 50 > max 10"),
            ("u32(-1..)", "outside the range of u32"),
            ("string(0)", "1 <= N"),
            ("list", "needs an item type"),
            ("list<u32", "expected `>`"),
            ("bool(3)", "takes no limit"),
            ("u32(..)", "empty range"),
            ("string(27) x", "unexpected `x`"),
            ("", "is not a type"),
        ] {
            let err = parse(text).unwrap_err();
            assert!(err.contains(expect), "{text}: {err}");
        }
    }
}
