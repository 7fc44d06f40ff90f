//! Stage 1c: the YAML tree of each file to the model, collecting every error on the way.
//!
//! Takes: one file's text (through [`crate::yaml`]) and the spec-wide name table.
//! Gives: a [`SpecFile`] appended to the [`Spec`]: types, endpoints, exclusions and pushed
//! events, with every field type resolved to a [`Ty`] (names interned as [`TypeId`]s, bound to
//! their definitions later by [`Spec::link`]). Unknown keys, wrong value kinds and bad types are
//! all reported (not just the first), each at its own path. Inline objects and enums are hoisted
//! to named types here, so no placeholder reaches a later stage.

use crate::diag::Problems;
use crate::model::*;
use crate::types::{self, TypeExpr};
use crate::yaml::{self, At, Node, Path};

/// Parses one file into `spec` (appending a `SpecFile`), reporting problems into `problems`.
pub fn parse_file(
    spec: &mut Spec,
    stem: &str,
    display: &str,
    text: String,
    problems: &mut Problems,
) {
    let file = spec.files.len();
    let root = match yaml::parse(&text) {
        Ok(node) => node,
        Err(err) => {
            problems.at_position(display, err.line, err.column, "", &err.message);
            spec.files.push(SpecFile {
                stem: stem.to_owned(),
                display: display.to_owned(),
                text,
                types: Vec::new(),
                endpoints: Vec::new(),
                excluded: Vec::new(),
                events: Vec::new(),
                errors: Vec::new(),
                page: None,
                pages: Vec::new(),
                sources: Vec::new(),
            });
            return;
        }
    };
    let mut cx = Cx {
        file,
        problems,
        names: &mut spec.names,
        types: Vec::new(),
    };
    let mut endpoints = Vec::new();
    let mut excluded = Vec::new();
    let mut events = Vec::new();
    let mut errors = Vec::new();
    let mut page = None;
    let mut pages = Vec::new();
    let mut sources = Vec::new();
    let root_path = Path::default();
    if let Some(mut top) = cx.obj(&root, &root_path) {
        if let Some(types) = top.take("types") {
            let path = root_path.key("types");
            for (name, node) in cx.entries(types, &path) {
                cx.type_def(name, node, &path.key(name));
            }
        }
        if let Some(eps) = top.take("endpoints") {
            let path = root_path.key("endpoints");
            for (name, node) in cx.entries(eps, &path) {
                if let Some(ep) = cx.endpoint(name, node, &path.key(name)) {
                    endpoints.push(ep);
                }
            }
        }
        if let Some(node) = top.take("excluded") {
            let path = root_path.key("excluded");
            for (ep, reason) in cx.entries(node, &path) {
                let p = path.key(ep);
                if let Some(reason) = cx.string(Some(reason), &p) {
                    excluded.push((ep.clone(), reason, cx.origin(&p)));
                }
            }
        }
        if let Some(node) = top.take("events") {
            events = cx.events(node, &root_path.key("events"));
        }
        if let Some(node) = top.take("errors") {
            errors = cx.errors(node, &root_path.key("errors"));
        }
        if let Some(node) = top.take("page") {
            let p = root_path.key("page");
            if let Some(key) = cx.string(Some(node), &p) {
                page = Some((key, cx.origin(&p)));
            }
        }
        if let Some(node) = top.take("pages") {
            pages = cx.pages(node, &root_path.key("pages"));
        }
        if let Some(node) = top.take("sources") {
            sources = cx.sources(node, &root_path.key("sources"));
        }
        top.finish(&mut cx);
    }
    let types = std::mem::take(&mut cx.types);
    spec.files.push(SpecFile {
        stem: stem.to_owned(),
        display: display.to_owned(),
        text,
        types,
        endpoints,
        excluded,
        events,
        errors,
        page,
        pages,
        sources,
    });
}

/// The parsing context of one file.
struct Cx<'p> {
    file: usize,
    problems: &'p mut Problems,
    names: &'p mut Names,
    types: Vec<TypeDef>,
}

/// A mapping whose keys are taken one by one; whatever is left is an unknown key, reported
/// against the keys the parser asked for (in the order it asked).
struct Obj<'n> {
    entries: &'n [(String, Node)],
    used: Vec<bool>,
    /// The keys asked for, present or not: the keys this mapping may have.
    asked: Vec<&'static str>,
    path: Path,
}

impl<'n> Obj<'n> {
    fn new(entries: &'n [(String, Node)], path: &Path) -> Self {
        Obj {
            entries,
            used: vec![false; entries.len()],
            asked: Vec::new(),
            path: path.clone(),
        }
    }

    fn take(&mut self, key: &'static str) -> Option<&'n Node> {
        if !self.asked.contains(&key) {
            self.asked.push(key);
        }
        let i = self.entries.iter().position(|(k, _)| k == key)?;
        self.used[i] = true;
        Some(&self.entries[i].1)
    }

    /// Reports every key not taken as unknown.
    fn finish(self, cx: &mut Cx<'_>) {
        let expected = &self.asked;
        for ((key, _), used) in self.entries.iter().zip(&self.used) {
            if !used {
                let hint = match closest(key, expected) {
                    Some(near) => format!("did you mean `{near}`? "),
                    None => String::new(),
                };
                cx.error_at(
                    &self.path.key(key),
                    At::Key,
                    format!(
                        "unknown key `{key}`; {hint}expected one of: {}",
                        expected.join(", ")
                    ),
                );
            }
        }
    }
}

/// The keys of a field given as a mapping (besides `type`), as taken from it.
struct FieldKeys<'n> {
    required: Option<&'n Node>,
    doc: Option<&'n Node>,
    rust: Option<&'n Node>,
    review: Option<&'n Node>,
    fields: Option<&'n Node>,
    rules: Option<&'n Node>,
    values: Option<&'n Node>,
    name: Option<&'n Node>,
}

/// The expected word nearest to `word`, if it is close enough to be a typo.
fn closest<'a>(word: &str, expected: &[&'a str]) -> Option<&'a str> {
    expected
        .iter()
        .map(|e| (edit_distance(word, e), *e))
        .filter(|(d, e)| *d <= 2.max(e.len() / 4))
        .min_by_key(|(d, _)| *d)
        .map(|(_, e)| e)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

/// The rule kinds, in the order error messages list them.
const RULE_KINDS: &[&str] = &["date_span", "time_span", "exclusive", "one_of", "max_total"];

/// `a, b or c`.
fn or_list(words: &[&str]) -> String {
    match words.split_last() {
        Some((last, [])) => (*last).to_owned(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
        None => String::new(),
    }
}

impl Cx<'_> {
    fn origin(&self, path: &Path) -> Origin {
        Origin {
            file: self.file,
            path: path.clone(),
        }
    }

    fn error_at(&mut self, path: &Path, at: At, message: String) {
        self.problems.at_path(self.file, path.clone(), at, message);
    }

    /// The items of a YAML sequence, or an error at `path` ("expected a list of `what`").
    fn seq<'n>(&mut self, node: &'n Node, path: &Path, what: &str) -> Option<&'n [Node]> {
        match node {
            Node::Seq(items) => Some(items),
            other => {
                self.error(
                    path,
                    format!("expected a list of {what}, found {}", other.kind()),
                );
                None
            }
        }
    }

    fn error(&mut self, path: &Path, message: String) {
        self.error_at(path, At::Value, message);
    }

    fn obj<'n>(&mut self, node: &'n Node, path: &Path) -> Option<Obj<'n>> {
        match node {
            Node::Map(entries) => Some(Obj::new(entries, path)),
            Node::Null => Some(Obj::new(&[], path)),
            other => {
                self.error(path, format!("expected a mapping, found {}", other.kind()));
                None
            }
        }
    }

    fn entries<'n>(&mut self, node: &'n Node, path: &Path) -> &'n [(String, Node)] {
        match node {
            Node::Map(entries) => entries,
            Node::Null => &[],
            other => {
                self.error(path, format!("expected a mapping, found {}", other.kind()));
                &[]
            }
        }
    }

    fn string(&mut self, node: Option<&Node>, path: &Path) -> Option<String> {
        match node? {
            Node::Str(s) => Some(s.clone()),
            other => {
                self.error(path, format!("expected a string, found {}", other.kind()));
                None
            }
        }
    }

    fn boolean(&mut self, node: Option<&Node>, path: &Path) -> Option<bool> {
        match node? {
            Node::Bool(b) => Some(*b),
            other => {
                self.error(
                    path,
                    format!("expected true or false, found {}", other.kind()),
                );
                None
            }
        }
    }

    fn required_string(&mut self, obj: &mut Obj<'_>, key: &'static str) -> Option<String> {
        let path = obj.path.key(key);
        match obj.take(key) {
            None => {
                self.error_at(&obj.path, At::Key, format!("missing required key `{key}`"));
                None
            }
            node => self.string(node, &path),
        }
    }

    fn type_def(&mut self, name: &str, node: &Node, path: &Path) {
        let Some(mut obj) = self.obj(node, path) else {
            return;
        };
        let doc = self
            .string(obj.take("doc"), &path.key("doc"))
            .unwrap_or_default();
        let fields = obj.take("fields");
        let rules = obj.take("rules");
        let enum_values = obj.take("enum");
        let union = obj.take("union");
        obj.finish(self);
        let kinds = [fields.is_some(), enum_values.is_some(), union.is_some()]
            .iter()
            .filter(|b| **b)
            .count();
        if kinds != 1 {
            self.error_at(
                path,
                At::Key,
                format!("type `{name}` needs exactly one of `fields` (object), `enum` or `union`"),
            );
            return;
        }
        if rules.is_some() && fields.is_none() {
            self.error(&path.key("rules"), "`rules` belong to object types".into());
        }
        let kind = if let Some(fields) = fields {
            self.object(name, fields, rules, path, &path.key("fields"))
        } else if let Some(values) = enum_values {
            self.enum_values(name, values, &path.key("enum"))
        } else if let Some(union) = union {
            match self.union(union, &path.key("union")) {
                Some(kind) => kind,
                None => return,
            }
        } else {
            return;
        };
        self.define(name.to_owned(), doc, kind, path);
    }

    /// Adds a named type (defined under `types:` or hoisted) and returns its id.
    fn define(&mut self, name: String, doc: String, kind: TypeKind, path: &Path) -> TypeId {
        let id = self.names.intern(&name);
        let origin = self.origin(path);
        self.types.push(TypeDef {
            name,
            id,
            doc,
            kind,
            origin,
        });
        id
    }

    /// The parsed type `expr` resolved: names interned, an inline `object`/`enum` placeholder
    /// replaced by the hoisted type `inline`.
    fn resolve(&mut self, expr: &TypeExpr, inline: Option<TypeId>) -> Option<Ty> {
        Some(match expr {
            TypeExpr::String { max_bytes } => Ty::String {
                max_bytes: *max_bytes,
            },
            TypeExpr::Bool => Ty::Bool,
            TypeExpr::Secret => Ty::Secret,
            TypeExpr::Int { kind, min, max } => Ty::Int {
                kind: *kind,
                min: *min,
                max: *max,
            },
            TypeExpr::Date => Ty::Date,
            TypeExpr::Json => Ty::Json,
            TypeExpr::List { item, min, max } => Ty::List {
                item: Box::new(self.resolve(item, inline)?),
                min: *min,
                max: *max,
            },
            TypeExpr::Named(name) => Ty::Ref(self.names.intern(name)),
            TypeExpr::Object | TypeExpr::Enum => Ty::Ref(inline?),
        })
    }

    /// An object's fields and rules; inline field types are hoisted as `{owner}{Field}`.
    fn object(
        &mut self,
        owner: &str,
        fields: &Node,
        rules: Option<&Node>,
        owner_path: &Path,
        fields_path: &Path,
    ) -> TypeKind {
        let mut out = Vec::new();
        for (wire, node) in self.entries(fields, fields_path) {
            if let Some(field) = self.field(owner, wire, node, &fields_path.key(wire)) {
                out.push(field);
            }
        }
        let rules = match rules {
            Some(node) => self.rules(node, &owner_path.key("rules")),
            None => Vec::new(),
        };
        TypeKind::Object { fields: out, rules }
    }

    fn field(&mut self, owner: &str, wire: &str, node: &Node, path: &Path) -> Option<Field> {
        let origin = self.origin(path);
        let (ty_text, ty_path, keys) = match node {
            Node::Str(s) => (s.clone(), path.clone(), None),
            Node::Map(_) => {
                let mut obj = self.obj(node, path)?;
                let ty = self.required_string(&mut obj, "type");
                let keys = FieldKeys {
                    required: obj.take("required"),
                    doc: obj.take("doc"),
                    rust: obj.take("rust"),
                    review: obj.take("review"),
                    fields: obj.take("fields"),
                    rules: obj.take("rules"),
                    values: obj.take("values"),
                    name: obj.take("name"),
                };
                obj.finish(self);
                (ty?, path.key("type"), Some(keys))
            }
            other => {
                self.error(
                    path,
                    format!(
                        "expected a type (`{wire}: string(32)`) or a mapping with `type`, found {}",
                        other.kind()
                    ),
                );
                return None;
            }
        };
        let ty = match types::parse(&ty_text) {
            Ok(ty) => Some(ty),
            Err(message) => {
                self.error(&ty_path, message);
                None
            }
        };
        let mut field = Field {
            wire: wire.to_owned(),
            rust: wire.to_owned(),
            required: false,
            review: false,
            doc: String::new(),
            ty: Ty::Json,
            origin,
        };
        let mut inline_name = None;
        let mut inline_fields = None;
        let mut inline_rules = None;
        let mut inline_values = None;
        if let Some(keys) = keys {
            field.required = self
                .boolean(keys.required, &path.key("required"))
                .unwrap_or(false);
            field.review = self
                .boolean(keys.review, &path.key("review"))
                .unwrap_or(false);
            field.doc = self.string(keys.doc, &path.key("doc")).unwrap_or_default();
            if let Some(rust) = self.string(keys.rust, &path.key("rust")) {
                field.rust = rust;
            }
            inline_name = self.string(keys.name, &path.key("name"));
            inline_fields = keys.fields;
            inline_rules = keys.rules;
            inline_values = keys.values;
        }
        let ty = ty?;
        let name = inline_name
            .clone()
            .unwrap_or_else(|| format!("{owner}{}", pascal(&field.rust)));
        match ty.inline_kind() {
            Some(TypeExpr::Object) => {
                if inline_values.is_some() {
                    self.error(&path.key("values"), "`values` go with `type: enum`".into());
                }
                let Some(fields) = inline_fields else {
                    self.error_at(path, At::Key, "`type: object` needs `fields`".into());
                    return None;
                };
                let kind = self.object(&name, fields, inline_rules, path, &path.key("fields"));
                let id = self.define(name, field.doc.clone(), kind, path);
                field.ty = self.resolve(&ty, Some(id))?;
            }
            Some(TypeExpr::Enum) => {
                if inline_fields.is_some() || inline_rules.is_some() {
                    self.error(path, "`fields` and `rules` go with `type: object`".into());
                }
                let Some(values) = inline_values else {
                    self.error_at(path, At::Key, "`type: enum` needs `values`".into());
                    return None;
                };
                let kind = self.enum_values(&name, values, &path.key("values"));
                let id = self.define(name, field.doc.clone(), kind, path);
                field.ty = self.resolve(&ty, Some(id))?;
            }
            _ => {
                for (given, key) in [
                    (inline_fields.is_some(), "fields"),
                    (inline_rules.is_some(), "rules"),
                    (inline_values.is_some(), "values"),
                    (inline_name.is_some(), "name"),
                ] {
                    if given {
                        self.error_at(
                            &path.key(key),
                            At::Key,
                            format!("`{key}` is only allowed with `type: object` or `type: enum`"),
                        );
                    }
                }
                field.ty = self.resolve(&ty, None)?;
            }
        }
        Some(field)
    }

    /// The values of the enum type `type_name`. A value maps to its doc, or to `{ doc, rust }`
    /// where `rust` names the variant explicitly.
    fn enum_values(&mut self, type_name: &str, node: &Node, path: &Path) -> TypeKind {
        let mut values = Vec::new();
        for (wire, entry) in self.entries(node, path) {
            let vpath = path.key(wire);
            let mut rust = None;
            let doc = match entry {
                Node::Null => String::new(),
                Node::Map(entries) => {
                    let mut obj = Obj::new(entries, &vpath);
                    let doc = self.string(obj.take("doc"), &vpath.key("doc"));
                    rust = self.string(obj.take("rust"), &vpath.key("rust"));
                    obj.finish(self);
                    if let Some(name) = &rust
                        && !is_pascal(name)
                    {
                        self.error(
                            &vpath.key("rust"),
                            format!(
                                "Rust variant name `{name}` of enum value `{wire}` must be a PascalCase identifier (an ASCII capital letter, then ASCII letters and digits)"
                            ),
                        );
                    }
                    doc.unwrap_or_default()
                }
                other => self.string(Some(other), &vpath).unwrap_or_default(),
            };
            values.push(EnumValue {
                rust: rust.unwrap_or_else(|| variant_name(type_name, wire)),
                wire: wire.clone(),
                doc,
                origin: self.origin(&vpath),
            });
        }
        TypeKind::Enum { values }
    }

    fn union(&mut self, node: &Node, path: &Path) -> Option<TypeKind> {
        let mut obj = self.obj(node, path)?;
        let tag = self.required_string(&mut obj, "tag");
        let variants_node = obj.take("variants");
        obj.finish(self);
        let Some(variants_node) = variants_node else {
            self.error_at(path, At::Key, "missing required key `variants`".into());
            return None;
        };
        let vpath = path.key("variants");
        let mut variants = Vec::new();
        for (tag_value, node) in self.entries(variants_node, &vpath) {
            let p = vpath.key(tag_value);
            let Some(mut v) = self.obj(node, &p) else {
                continue;
            };
            let ty = self.required_string(&mut v, "type");
            let doc = self
                .string(v.take("doc"), &p.key("doc"))
                .unwrap_or_default();
            v.finish(self);
            let Some(ty) = ty else { continue };
            variants.push(Variant {
                tag: tag_value.clone(),
                rust: pascal(tag_value),
                payload_key: tag_value.to_ascii_lowercase(),
                ty: self.names.intern(&ty),
                doc,
                origin: self.origin(&p),
            });
        }
        Some(TypeKind::Union {
            tag: tag?,
            variants,
        })
    }

    fn rules(&mut self, node: &Node, path: &Path) -> Vec<Rule> {
        let Some(items) = self.seq(node, path, "rules") else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let p = path.index(i);
            let Node::Map(entries) = item else {
                self.error(
                    &p,
                    format!(
                        "expected a rule such as `- exclusive: [a, b]`, found {}",
                        item.kind()
                    ),
                );
                continue;
            };
            if entries.len() != 1 {
                self.error(
                    &p,
                    format!(
                        "a rule is a mapping with exactly one key: {}",
                        or_list(RULE_KINDS)
                    ),
                );
                continue;
            }
            let (name, body) = &entries[0];
            let bp = p.key(name);
            let kind = match name.as_str() {
                "date_span" | "time_span" => {
                    let Some(mut o) = self.obj(body, &bp) else {
                        continue;
                    };
                    let begin = self.required_string(&mut o, "begin");
                    let end = self.required_string(&mut o, "end");
                    let max_days = self.count(o.take("max_days"), &bp.key("max_days"), &bp);
                    o.finish(self);
                    match (begin, end, max_days) {
                        (Some(begin), Some(end), Some(max_days)) if name == "date_span" => {
                            RuleKind::DateSpan {
                                begin,
                                end,
                                max_days,
                            }
                        }
                        (Some(begin), Some(end), Some(max_days)) => RuleKind::TimeSpan {
                            begin,
                            end,
                            max_days,
                        },
                        _ => continue,
                    }
                }
                "exclusive" | "one_of" => {
                    let Some(list) = self.string_list(body, &bp) else {
                        continue;
                    };
                    if list.len() < 2 {
                        self.error(&bp, format!("`{name}` needs at least two fields"));
                        continue;
                    }
                    if name == "exclusive" {
                        RuleKind::Exclusive(list)
                    } else {
                        RuleKind::OneOf(list)
                    }
                }
                "max_total" => {
                    let Some(mut o) = self.obj(body, &bp) else {
                        continue;
                    };
                    let fields = o.take("fields");
                    let max = self.count(o.take("max"), &bp.key("max"), &bp);
                    o.finish(self);
                    let fields = match fields {
                        Some(f) => self.string_list(f, &bp.key("fields")),
                        None => {
                            self.error_at(&bp, At::Key, "missing required key `fields`".into());
                            None
                        }
                    };
                    match (fields, max) {
                        (Some(fields), Some(max)) => RuleKind::MaxTotal { fields, max },
                        _ => continue,
                    }
                }
                other => {
                    let hint = closest(other, RULE_KINDS)
                        .map(|n| format!("did you mean `{n}`? "))
                        .unwrap_or_default();
                    self.error_at(
                        &bp,
                        At::Key,
                        format!(
                            "unknown rule `{other}`; {hint}expected {}",
                            or_list(RULE_KINDS)
                        ),
                    );
                    continue;
                }
            };
            out.push(Rule {
                kind,
                origin: self.origin(&bp),
            });
        }
        out
    }

    fn count(&mut self, node: Option<&Node>, path: &Path, parent: &Path) -> Option<u32> {
        match node {
            Some(Node::Int(n)) if *n >= 1 && *n <= i128::from(u32::MAX) => Some(*n as u32),
            Some(other) => {
                self.error(
                    path,
                    format!(
                        "expected a positive whole number, found {}",
                        match other {
                            Node::Int(n) => n.to_string(),
                            o => o.kind().to_owned(),
                        }
                    ),
                );
                None
            }
            None => {
                let key = match &path.0.last() {
                    Some(crate::yaml::Seg::Key(k)) => k.clone(),
                    _ => String::new(),
                };
                self.error_at(parent, At::Key, format!("missing required key `{key}`"));
                None
            }
        }
    }

    fn string_list(&mut self, node: &Node, path: &Path) -> Option<Vec<String>> {
        let items = self.seq(node, path, "field names")?;
        let mut out = Vec::new();
        for (i, item) in items.iter().enumerate() {
            out.push(self.string(Some(item), &path.index(i))?);
        }
        Some(out)
    }

    fn endpoint(&mut self, ep_path: &str, node: &Node, path: &Path) -> Option<Endpoint> {
        let mut obj = self.obj(node, path)?;
        let name = self.required_string(&mut obj, "name");
        let method = match self
            .string(obj.take("method"), &path.key("method"))
            .as_deref()
        {
            None | Some("POST") => Method::Post,
            Some("GET") => Method::Get,
            Some(other) => {
                self.error(
                    &path.key("method"),
                    format!("unknown method `{other}`; expected GET or POST"),
                );
                Method::Post
            }
        };
        let auth = match self.string(obj.take("auth"), &path.key("auth")).as_deref() {
            None | Some("access_token") => Auth::AccessToken,
            Some("component_access_token") => Auth::ComponentAccessToken,
            Some(other) => {
                self.error(
                    &path.key("auth"),
                    format!(
                        "unknown auth `{other}`; expected access_token or component_access_token"
                    ),
                );
                Auth::AccessToken
            }
        };
        let idempotent = match obj.take("idempotent") {
            None => {
                self.error_at(path, At::Key, "missing required key `idempotent` (true only if sending the request twice is harmless)".into());
                None
            }
            node => self.boolean(node, &path.key("idempotent")),
        };
        let title = self.required_string(&mut obj, "title");
        let page = self.string(obj.take("page"), &path.key("page"));
        let doc = self
            .string(obj.take("doc"), &path.key("doc"))
            .unwrap_or_default();
        let request = obj.take("request");
        let rules = obj.take("rules");
        let response = obj.take("response");
        let examples = obj.take("examples");
        obj.finish(self);
        let name = name?;
        let base = pascal(&name);
        let request = self.message(
            &base, "Request", request, rules, path, "request", &title, ep_path,
        );
        let response = self.message(
            &base, "Response", response, None, path, "response", &title, ep_path,
        );
        let examples = match examples {
            Some(node) => self.examples(node, &path.key("examples")),
            None => Vec::new(),
        };
        Some(Endpoint {
            path: ep_path.to_owned(),
            name,
            method,
            auth,
            idempotent: idempotent.unwrap_or(false),
            title: title.unwrap_or_default(),
            page,
            doc,
            request,
            response,
            examples,
            origin: self.origin(path),
        })
    }

    /// A request or response: a shared type's name, or inline fields hoisted as `{Base}{suffix}`.
    #[allow(clippy::too_many_arguments)]
    fn message(
        &mut self,
        base: &str,
        suffix: &str,
        node: Option<&Node>,
        rules: Option<&Node>,
        path: &Path,
        key: &str,
        title: &Option<String>,
        ep_path: &str,
    ) -> Option<TypeId> {
        let mpath = path.key(key);
        match node {
            None => {
                if rules.is_some() {
                    self.error_at(
                        &path.key("rules"),
                        At::Key,
                        "`rules` need an inline `request`".into(),
                    );
                }
                None
            }
            Some(Node::Str(name)) => {
                if rules.is_some() {
                    self.error_at(
                        &path.key("rules"),
                        At::Key,
                        format!(
                            "`rules` apply to an inline `request`; put them on the type `{name}`"
                        ),
                    );
                }
                Some(self.names.intern(name))
            }
            Some(fields @ (Node::Map(_) | Node::Null)) => {
                let name = format!("{base}{suffix}");
                let kind = self.object(&name, fields, None, path, &mpath);
                let kind = match (kind, rules) {
                    (TypeKind::Object { fields, .. }, Some(r)) => TypeKind::Object {
                        fields,
                        rules: self.rules(r, &path.key("rules")),
                    },
                    (k, _) => k,
                };
                let what = if suffix == "Request" {
                    "Request"
                } else {
                    "Response"
                };
                let doc = format!(
                    "{what} of `{ep_path}`{}.",
                    title
                        .as_ref()
                        .map(|t| format!(" ({t})"))
                        .unwrap_or_default()
                );
                Some(self.define(name, doc, kind, &mpath))
            }
            Some(other) => {
                self.error(
                    &mpath,
                    format!(
                        "expected a mapping of fields or a type name, found {}",
                        other.kind()
                    ),
                );
                None
            }
        }
    }

    fn examples(&mut self, node: &Node, path: &Path) -> Vec<Example> {
        let Some(items) = self.seq(node, path, "examples") else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let p = path.index(i);
            let Some(mut o) = self.obj(item, &p) else {
                continue;
            };
            let name = self
                .string(o.take("name"), &p.key("name"))
                .unwrap_or_else(|| format!("example {}", i + 1));
            let json = |n: Option<&Node>| {
                n.map(|n| {
                    let mut s = String::new();
                    yaml::to_json(n, &mut s);
                    s
                })
            };
            let request = json(o.take("request"));
            let response = json(o.take("response"));
            o.finish(self);
            if request.is_none() && response.is_none() {
                self.error(&p, "an example needs a `request` or a `response`".into());
                continue;
            }
            out.push(Example {
                name,
                request,
                response,
                origin: self.origin(&p),
            });
        }
        out
    }
}

impl Cx<'_> {
    /// The `events:` mapping of one file.
    fn events(&mut self, node: &Node, path: &Path) -> Vec<EventDef> {
        let mut out = Vec::new();
        for (event, node) in self.entries(node, path) {
            let p = path.key(event);
            let Some(mut obj) = self.obj(node, &p) else {
                continue;
            };
            let name = self.string(obj.take("name"), &p.key("name"));
            let title = self.required_string(&mut obj, "title");
            let doc = self
                .string(obj.take("doc"), &p.key("doc"))
                .unwrap_or_default();
            let fields_node = obj.take("fields");
            let examples_node = obj.take("examples");
            obj.finish(self);
            let variant = pascal(event);
            let name = name.unwrap_or_else(|| format!("{variant}Event"));
            let mut fields = Vec::new();
            if let Some(fields_node) = fields_node {
                let fp = p.key("fields");
                for (wire, n) in self.entries(fields_node, &fp) {
                    if let Some(field) = self.field(&name, wire, n, &fp.key(wire)) {
                        fields.push(field);
                    }
                }
            }
            let examples = match examples_node {
                Some(n) => self.event_examples(n, &p.key("examples")),
                None => Vec::new(),
            };
            out.push(EventDef {
                event: event.clone(),
                name,
                variant,
                // A missing title is reported; the other checks still run.
                title: title.unwrap_or_default(),
                doc,
                fields,
                examples,
                origin: self.origin(&p),
            });
        }
        out
    }

    fn event_examples(&mut self, node: &Node, path: &Path) -> Vec<EventExample> {
        let Some(items) = self.seq(node, path, "examples") else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let p = path.index(i);
            let Some(mut o) = self.obj(item, &p) else {
                continue;
            };
            let name = self
                .string(o.take("name"), &p.key("name"))
                .unwrap_or_else(|| format!("example {}", i + 1));
            let xml = self.required_string(&mut o, "xml");
            o.finish(self);
            if let Some(xml) = xml {
                out.push(EventExample {
                    name,
                    xml: xml.trim().to_owned(),
                    origin: self.origin(&p),
                });
            }
        }
        out
    }
}

impl Cx<'_> {
    /// The `errors:` mapping of one file.
    /// `pages:`: key -> `{title, url?, note?}`.
    fn pages(&mut self, node: &Node, path: &Path) -> Vec<PageDef> {
        let mut out = Vec::new();
        for (key, node) in self.entries(node, path) {
            let p = path.key(key);
            let Some(mut obj) = self.obj(node, &p) else {
                continue;
            };
            let title = self.required_string(&mut obj, "title");
            let url = self.string(obj.take("url"), &p.key("url"));
            let note = self.string(obj.take("note"), &p.key("note"));
            obj.finish(self);
            if let Some(title) = title {
                out.push(PageDef {
                    key: key.clone(),
                    title,
                    url,
                    note,
                    origin: self.origin(&p),
                });
            }
        }
        out
    }

    /// `sources:`: tag -> `{name, url?, snapshot?, used_for?}`.
    fn sources(&mut self, node: &Node, path: &Path) -> Vec<SourceDef> {
        let mut out = Vec::new();
        for (tag, node) in self.entries(node, path) {
            let p = path.key(tag);
            let Some(mut obj) = self.obj(node, &p) else {
                continue;
            };
            let name = self.required_string(&mut obj, "name");
            let url = self.string(obj.take("url"), &p.key("url"));
            let snapshot = self.string(obj.take("snapshot"), &p.key("snapshot"));
            let used_for = self.string(obj.take("used_for"), &p.key("used_for"));
            obj.finish(self);
            if let Some(name) = name {
                out.push(SourceDef {
                    tag: tag.clone(),
                    name,
                    url,
                    snapshot,
                    used_for,
                    origin: self.origin(&p),
                });
            }
        }
        out
    }

    fn errors(&mut self, node: &Node, path: &Path) -> Vec<ErrorDef> {
        let mut out = Vec::new();
        for (key, node) in self.entries(node, path) {
            let p = path.key(key);
            let code = match key.trim().parse::<i64>() {
                Ok(0) => {
                    self.error_at(&p, At::Key, "0 means success, not an error".to_owned());
                    None
                }
                Ok(code) => Some(code),
                Err(_) => {
                    self.error_at(
                        &p,
                        At::Key,
                        format!("`{key}` is not an errcode (an integer such as 40164)"),
                    );
                    None
                }
            };
            let Some(mut obj) = self.obj(node, &p) else {
                continue;
            };
            let name = self.required_string(&mut obj, "name");
            let errmsg = self.required_string(&mut obj, "errmsg");
            let zh = self.required_string(&mut obj, "zh");
            let en = self.required_string(&mut obj, "en");
            let hint = self.string(obj.take("hint"), &p.key("hint"));
            obj.finish(self);
            if let (Some(code), Some(name), Some(errmsg), Some(zh), Some(en)) =
                (code, name, errmsg, zh, en)
            {
                out.push(ErrorDef {
                    code,
                    name,
                    errmsg: errmsg.trim().to_owned(),
                    zh: zh.trim().to_owned(),
                    en: en.trim().to_owned(),
                    hint: hint.map(|h| h.trim().to_owned()),
                    origin: self.origin(&p),
                });
            }
        }
        out
    }
}

/// The Rust variant name of the value `wire` of the enum `type_name`, from the value alone (never
/// its siblings, so adding a value renames nothing): PascalCase of the value, without the type's
/// own name in SCREAMING_SNAKE_CASE plus `_` when the value starts with it (`CardStatus` +
/// `CARD_STATUS_VERIFY_OK` -> `VerifyOk`). A name that would start with a digit gets a `V`.
fn variant_name(type_name: &str, wire: &str) -> String {
    let prefix = format!("{}_", screaming_snake(type_name));
    let rest = match wire.strip_prefix(&prefix) {
        Some(rest) if !pascal(rest).is_empty() => rest,
        _ => wire,
    };
    let rust = pascal(rest);
    if rust.is_empty() || rust.starts_with(|c: char| c.is_ascii_digit()) {
        format!("V{rust}")
    } else {
        rust
    }
}

/// `CardStatus` -> `CARD_STATUS`, `Level2` -> `LEVEL2`.
fn screaming_snake(pascal_name: &str) -> String {
    let mut out = String::new();
    let mut prev_lower_or_digit = false;
    for c in pascal_name.chars() {
        if c.is_ascii_uppercase() && prev_lower_or_digit {
            out.push('_');
        }
        prev_lower_or_digit = c.is_ascii_lowercase() || c.is_ascii_digit();
        out.push(c.to_ascii_uppercase());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variant_names() {
        assert_eq!(screaming_snake("CardStatus"), "CARD_STATUS");
        assert_eq!(screaming_snake("Level2"), "LEVEL2");
        assert_eq!(
            variant_name("CardStatus", "CARD_STATUS_VERIFY_OK"),
            "VerifyOk"
        );
        assert_eq!(variant_name("CodeType", "CODE_TYPE_TEXT"), "Text");
        // Only the type's own name goes, whatever the siblings share.
        assert_eq!(
            variant_name("BusinessService", "BIZ_SERVICE_FREE_PARK"),
            "BizServiceFreePark"
        );
        assert_eq!(variant_name("GiftStatus", "GIFTING"), "Gifting");
        assert_eq!(variant_name("Level", "LEVEL_2X"), "V2x");
        assert_eq!(variant_name("Level", "LEVEL_"), "Level");
        assert_eq!(variant_name("Kind", "wx_card"), "WxCard");
        assert_eq!(variant_name("Kind", "3D"), "V3d");
    }

    #[test]
    fn typos() {
        let field_keys = [
            "type", "required", "doc", "rust", "review", "fields", "name",
        ];
        assert_eq!(closest("requird", &field_keys), Some("required"));
        assert_eq!(
            closest("idempotnet", &["method", "idempotent"]),
            Some("idempotent")
        );
        assert_eq!(closest("zzz", &field_keys), None);
    }
}
