//! Stage 1a: YAML text to an ordered tree, and positions of paths in the text.
//!
//! The tree keeps key order and rejects duplicate keys (a plain map would silently keep the last
//! one). Positions are not stored in the tree: when a later stage reports an error at a path, the
//! [`locate`] function re-reads the text with a deserializer that fails exactly at that path, and
//! the YAML parser's own error position is the answer. Errors are rare, so this costs nothing in
//! the common case and needs no position bookkeeping anywhere else.

use std::collections::HashSet;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

/// A YAML value.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    Null,
    Bool(bool),
    Int(i128),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<(String, Node)>),
}

impl Node {
    /// A short name of the node's kind, for error messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Node::Null => "null",
            Node::Bool(_) => "a boolean",
            Node::Int(_) => "an integer",
            Node::Float(_) => "a number",
            Node::Str(_) => "a string",
            Node::Seq(_) => "a list",
            Node::Map(_) => "a mapping",
        }
    }
}

/// One step of a path into the tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seg {
    Key(String),
    Index(usize),
}

/// A path into the tree, shown dotted: `endpoints.card/code/get.request.code`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Path(pub Vec<Seg>);

impl Path {
    pub fn key(&self, key: &str) -> Path {
        let mut segs = self.0.clone();
        segs.push(Seg::Key(key.to_owned()));
        Path(segs)
    }

    pub fn index(&self, index: usize) -> Path {
        let mut segs = self.0.clone();
        segs.push(Seg::Index(index));
        Path(segs)
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, seg) in self.0.iter().enumerate() {
            match seg {
                Seg::Key(k) if i == 0 => write!(f, "{k}")?,
                Seg::Key(k) => write!(f, ".{k}")?,
                Seg::Index(n) => write!(f, "[{n}]")?,
            }
        }
        Ok(())
    }
}

/// A YAML syntax error (or a duplicate key) with its 1-based position.
#[derive(Debug)]
pub struct SyntaxError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

/// Parses YAML text into a tree.
pub fn parse(text: &str) -> Result<Node, SyntaxError> {
    let de = serde_yaml::Deserializer::from_str(text);
    match NodeSeed.deserialize(de) {
        Ok(node) => Ok(node),
        Err(err) => {
            let (line, column) = err
                .location()
                .map(|l| (l.line(), l.column()))
                .unwrap_or((1, 1));
            let mut message = err.to_string();
            // serde_yaml appends " at line L column C"; we print the position ourselves.
            if let Some(cut) = message.find(" at line ") {
                message.truncate(cut);
            }
            Err(SyntaxError {
                line,
                column,
                message,
            })
        }
    }
}

struct NodeSeed;

impl<'de> DeserializeSeed<'de> for NodeSeed {
    type Value = Node;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Node, D::Error> {
        d.deserialize_any(NodeVisitor)
    }
}

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a YAML value")
    }
    fn visit_unit<E>(self) -> Result<Node, E> {
        Ok(Node::Null)
    }
    fn visit_none<E>(self) -> Result<Node, E> {
        Ok(Node::Null)
    }
    fn visit_bool<E>(self, v: bool) -> Result<Node, E> {
        Ok(Node::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Node, E> {
        Ok(Node::Int(v.into()))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Node, E> {
        Ok(Node::Int(v.into()))
    }
    fn visit_i128<E>(self, v: i128) -> Result<Node, E> {
        Ok(Node::Int(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Node, E> {
        Ok(Node::Float(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Node, E> {
        Ok(Node::Str(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Node, E> {
        Ok(Node::Str(v))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(NodeSeed)? {
            items.push(item);
        }
        Ok(Node::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
        let mut seen = HashSet::new();
        let mut entries = Vec::new();
        while let Some(key) = map.next_key_seed(KeySeed { seen: &mut seen })? {
            let value = map.next_value_seed(NodeSeed)?;
            entries.push((key, value));
        }
        Ok(Node::Map(entries))
    }
}

/// Reads a mapping key as a string, failing *at the key* when it repeats an earlier one.
struct KeySeed<'a> {
    seen: &'a mut HashSet<String>,
}

impl<'de> DeserializeSeed<'de> for KeySeed<'_> {
    type Value = String;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<String, D::Error> {
        d.deserialize_any(KeyVisitor { seen: self.seen })
    }
}

struct KeyVisitor<'a> {
    seen: &'a mut HashSet<String>,
}

impl KeyVisitor<'_> {
    fn key<E: de::Error>(self, key: String) -> Result<String, E> {
        if self.seen.insert(key.clone()) {
            Ok(key)
        } else {
            Err(E::custom(format_args!(
                "duplicate key `{key}` (YAML would silently keep only the last one)"
            )))
        }
    }
}

impl<'de> Visitor<'de> for KeyVisitor<'_> {
    type Value = String;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a scalar mapping key")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
        self.key(v.to_owned())
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<String, E> {
        self.key(v.to_string())
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<String, E> {
        self.key(v.to_string())
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<String, E> {
        self.key(v.to_string())
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<String, E> {
        self.key(v.to_string())
    }
    fn visit_unit<E: de::Error>(self) -> Result<String, E> {
        self.key("null".to_owned())
    }
}

/// What [`locate`] points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum At {
    /// The value at the path.
    Value,
    /// The key of the last path segment (falls back to the value for list items).
    Key,
}

const MARKER: &str = "\u{0}wechat-card-codegen-locate\u{0}";

/// The 1-based `(line, column)` of `path` in `text`, or of its nearest existing ancestor.
pub fn locate(text: &str, path: &Path, at: At) -> (usize, usize) {
    // Try the full path, then shorter ones: an error about a missing key points at its parent.
    for len in (0..=path.0.len()).rev() {
        let segs = &path.0[..len];
        let at = if len == path.0.len() { at } else { At::Value };
        let de = serde_yaml::Deserializer::from_str(text);
        if let Err(err) = (Seek { path: segs, at }).deserialize(de) {
            if err.to_string().contains(MARKER) {
                if let Some(loc) = err.location() {
                    return (loc.line(), loc.column());
                }
            }
        }
    }
    (1, 1)
}

struct Seek<'a> {
    path: &'a [Seg],
    at: At,
}

impl<'de> DeserializeSeed<'de> for Seek<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

fn found<E: de::Error>() -> E {
    E::custom(MARKER)
}

impl<'de> Visitor<'de> for Seek<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("anything")
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.leaf()
    }
    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        self.leaf()
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        self.leaf()
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        self.leaf()
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        self.leaf()
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        self.leaf()
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        self.leaf()
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let Some((first, rest)) = self.path.split_first() else {
            return Err(found());
        };
        let Seg::Index(target) = first else {
            return Ok(());
        };
        let mut index = 0;
        loop {
            if index == *target {
                let seek = Seek {
                    path: rest,
                    at: self.at,
                };
                seq.next_element_seed(seek)?;
                return Ok(());
            }
            if seq.next_element::<IgnoredAny>()?.is_none() {
                return Ok(());
            }
            index += 1;
        }
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let Some((first, rest)) = self.path.split_first() else {
            return Err(found());
        };
        let Seg::Key(target) = first else {
            return Ok(());
        };
        let fail_at_key = rest.is_empty() && self.at == At::Key;
        while let Some(key) = map.next_key_seed(LocateKey {
            target,
            fail: fail_at_key,
        })? {
            if key {
                let seek = Seek {
                    path: rest,
                    at: self.at,
                };
                return map.next_value_seed(seek);
            }
            map.next_value::<IgnoredAny>()?;
        }
        Ok(())
    }
}

impl Seek<'_> {
    fn leaf<E: de::Error>(self) -> Result<(), E> {
        if self.path.is_empty() {
            Err(found())
        } else {
            Ok(())
        }
    }
}

/// Reads a key and says whether it is the target; fails at the key when asked to.
struct LocateKey<'a> {
    target: &'a str,
    fail: bool,
}

impl<'de> DeserializeSeed<'de> for LocateKey<'_> {
    type Value = bool;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for LocateKey<'_> {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a scalar mapping key")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<bool, E> {
        // Failing inside the visitor makes serde_yaml position the error at this key.
        match (v == self.target, self.fail) {
            (true, true) => Err(found()),
            (is_target, _) => Ok(is_target),
        }
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<bool, E> {
        self.visit_str(&v.to_string())
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<bool, E> {
        self.visit_str(&v.to_string())
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<bool, E> {
        self.visit_str(&v.to_string())
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<bool, E> {
        self.visit_str(&v.to_string())
    }
    fn visit_unit<E: de::Error>(self) -> Result<bool, E> {
        self.visit_str("null")
    }
}

/// Writes a node as compact JSON (used for the spec's examples).
pub fn to_json(node: &Node, out: &mut String) {
    match node {
        Node::Null => out.push_str("null"),
        Node::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Node::Int(i) => out.push_str(&i.to_string()),
        Node::Float(f) => out.push_str(&f.to_string()),
        Node::Str(s) => json_string(s, out),
        Node::Seq(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                to_json(item, out);
            }
            out.push(']');
        }
        Node::Map(entries) => {
            out.push('{');
            for (i, (k, v)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                json_string(k, out);
                out.push(':');
                to_json(v, out);
            }
            out.push('}');
        }
    }
}

fn json_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_order_and_types() {
        let node = parse("b: 1\na: \"1\"\nc: [true, ~, 1.5]\n").unwrap();
        let mut json = String::new();
        to_json(&node, &mut json);
        assert_eq!(json, r#"{"b":1,"a":"1","c":[true,null,1.5]}"#);
    }

    #[test]
    fn duplicate_key_points_at_the_second_key() {
        let err = parse("a: 1\nb:\n  x: 1\n  x: 2\n").unwrap_err();
        assert_eq!((err.line, err.column), (4, 3), "{err:?}");
        assert!(err.message.contains("duplicate key `x`"), "{}", err.message);
    }

    #[test]
    fn locates_keys_values_and_items() {
        let text = "top:\n  list:\n    - a\n    - { k: v, other: w }\n  z: 3\n";
        let path = Path::default().key("top").key("list").index(1).key("other");
        assert_eq!(locate(text, &path, At::Value), (4, 22));
        assert_eq!(locate(text, &path, At::Key), (4, 15));
        let path = Path::default().key("top").key("z");
        assert_eq!(locate(text, &path, At::Key), (5, 3));
        // A missing key points at the nearest existing ancestor.
        let path = Path::default().key("top").key("missing");
        assert_eq!(locate(text, &path, At::Key), (2, 3));
    }
}
