//! Stage 3: semantic checks over the whole model, every error reported.
//!
//! Takes: the linked [`Spec`] (types, endpoints, exclusions, events).
//! Gives: problems added to [`Problems`]: duplicates, identifier collisions, names that would
//! shadow Rust's or the library's, unknown type references, rules over unsuitable fields, event
//! fields that XML cannot carry, examples that disagree with their event, errcodes described twice. When it reports
//! nothing, every [`TypeId`] has a definition and every later stage may rely on it.

use std::collections::HashMap;

use crate::diag::Problems;
use crate::model::*;
use crate::yaml::At;

/// Type names the generated code must not shadow.
pub(crate) const RESERVED_TYPES: &[&str] = &[
    "String",
    "Option",
    "Result",
    "Error",
    "Client",
    "Vec",
    "Box",
    "Some",
    "None",
    "Ok",
    "Err",
    "Validate",
    "ValidationError",
    "Self",
    "ClientBuilder",
];

/// Field names that would collide with generated methods.
const RESERVED_FIELDS: &[&str] = &["new", "validate", "as_str"];

/// The common header of every pushed message, read by the runtime, never by an event's fields.
const HEADER: &[&str] = &[
    "ToUserName",
    "FromUserName",
    "CreateTime",
    "MsgType",
    "Event",
];

/// Names of the runtime's event types, which a spec type or event struct must not shadow.
const RUNTIME_NAMES: &[&str] = &["CardEvent", "EventFields", "EventError", "Message"];

/// Names of the generated and runtime errcode items, which a spec type must not shadow.
const ERROR_RUNTIME_NAMES: &[&str] = &["ErrorCode", "ErrorCodeInfo"];

pub fn check(spec: &Spec, problems: &mut Problems) {
    let mut type_names: HashMap<&str, &Origin> = HashMap::new();
    for ty in spec.types() {
        let o = &ty.origin;
        if !is_pascal(&ty.name) {
            problems.at(
                o,
                At::Key,
                format!(
                    "type name `{}` must be PascalCase (letters and digits)",
                    ty.name
                ),
            );
        }
        if RESERVED_TYPES.contains(&ty.name.as_str()) {
            problems.at(
                o,
                At::Key,
                format!(
                    "type name `{}` would shadow Rust's or the library's `{}`; choose another name",
                    ty.name, ty.name
                ),
            );
        }
        if RUNTIME_NAMES.contains(&ty.name.as_str()) {
            problems.at(
                o,
                At::Key,
                format!(
                    "type name `{}` would shadow the library's event type of that name",
                    ty.name
                ),
            );
        }
        if let Some(first) = type_names.insert(&ty.name, o) {
            problems.at(
                o,
                At::Key,
                format!(
                    "type `{}` is defined twice (first in {} at {})",
                    ty.name, spec.files[first.file].display, first.path
                ),
            );
        }
        check_type(spec, ty, problems);
    }

    let mut names: HashMap<&str, &Origin> = HashMap::new();
    let mut paths: HashMap<&str, &Origin> = HashMap::new();
    for (_, ep) in spec.endpoints() {
        let o = &ep.origin;
        if !is_snake(&ep.name) || is_keyword(&ep.name) {
            problems.at_key(
                o,
                "name",
                At::Value,
                format!(
                    "method name `{}` must be a snake_case Rust identifier that is not a keyword",
                    ep.name
                ),
            );
        }
        if let Some(first) = names.insert(&ep.name, o) {
            problems.at_key(
                o,
                "name",
                At::Value,
                format!(
                    "method name `{}` is used twice (first by {} in {})",
                    ep.name, first.path, spec.files[first.file].display
                ),
            );
        }
        if let Some(first) = paths.insert(&ep.path, o) {
            problems.at(
                o,
                At::Key,
                format!(
                    "endpoint `{}` is defined twice (first in {})",
                    ep.path, spec.files[first.file].display
                ),
            );
        }
        let path_ok = !ep.path.is_empty()
            && !ep.path.starts_with('/')
            && ep
                .path
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"/_-.".contains(&b));
        if !path_ok {
            problems.at(o, At::Key, format!("endpoint path `{}` must be a plain path under the API base, without a leading `/` or a query", ep.path));
        }
        for (key, ty) in [("request", ep.request), ("response", ep.response)] {
            let Some(id) = ty else { continue };
            match spec.kind(id) {
                None => problems.at_key(
                    o,
                    key,
                    At::Value,
                    format!("unknown type `{}`", spec.name(id)),
                ),
                Some(TypeKind::Object { fields, .. }) => {
                    if key == "request" && ep.method == Method::Get {
                        for f in fields {
                            let scalar = matches!(
                                f.ty,
                                Ty::String { .. } | Ty::Bool | Ty::Int { .. } | Ty::Date
                            ) || matches!(f.ty, Ty::Ref(id) if matches!(spec.kind(id), Some(TypeKind::Enum { .. })));
                            if !scalar {
                                problems.at(&f.origin, At::Key, format!("GET requests carry their fields in the query string; `{}: {}` is not a scalar", f.wire, spec.show(&f.ty)));
                            }
                        }
                    }
                }
                Some(_) => problems.at_key(
                    o,
                    key,
                    At::Value,
                    format!("the {key} type `{}` must be an object type", spec.name(id)),
                ),
            }
        }
    }
    check_excluded(spec, &paths, problems);
    check_pages(spec, problems);
    check_events(spec, problems);
    check_errors(spec, problems);
    check_required_names(spec, problems);
}

fn check_excluded(spec: &Spec, paths: &HashMap<&str, &Origin>, problems: &mut Problems) {
    for file in &spec.files {
        for (path, _, origin) in &file.excluded {
            if paths.contains_key(path.as_str()) {
                problems.at(
                    origin,
                    At::Key,
                    format!("`{path}` is both an endpoint and excluded"),
                );
            }
        }
    }
}

/// Every endpoint names the official page it comes from (its own `page:` or its file's), and
/// that page is defined once; every page and source tag is defined once, and every page is used
/// (a page no endpoint names is a leftover of a rename).
fn check_pages(spec: &Spec, problems: &mut Problems) {
    let mut pages: HashMap<&str, &Origin> = HashMap::new();
    for page in spec.pages() {
        if let Some(first) = pages.insert(&page.key, &page.origin) {
            problems.at(
                &page.origin,
                At::Key,
                format!(
                    "page `{}` is defined twice (first in {})",
                    page.key, spec.files[first.file].display
                ),
            );
        }
        match &page.url {
            Some(url) if !url.starts_with("https://") => problems.at_key(
                &page.origin,
                "url",
                At::Value,
                format!("the page's address `{url}` must be an https:// URL"),
            ),
            None if page.note.is_none() => problems.at(
                &page.origin,
                At::Key,
                format!(
                    "page `{}` has no `url`; add `note:` saying why no address is known",
                    page.key
                ),
            ),
            _ => {}
        }
    }
    let mut tags: HashMap<&str, &Origin> = HashMap::new();
    for source in spec.sources() {
        if let Some(first) = tags.insert(&source.tag, &source.origin) {
            problems.at(
                &source.origin,
                At::Key,
                format!(
                    "source `{}` is defined twice (first in {})",
                    source.tag, spec.files[first.file].display
                ),
            );
        }
    }
    let mut known: Vec<&str> = pages.keys().copied().collect();
    known.sort_unstable();
    let known = if known.is_empty() {
        "none is defined; define pages under `pages:` in spec/sources.yaml".to_owned()
    } else {
        format!("known pages: {}", known.join(", "))
    };
    let mut used: Vec<&str> = Vec::new();
    for file in &spec.files {
        if let Some((key, origin)) = &file.page {
            used.push(key);
            if !pages.contains_key(key.as_str()) {
                problems.at(origin, At::Value, format!("unknown page `{key}` ({known})"));
            }
        }
        for ep in &file.endpoints {
            match &ep.page {
                Some(key) => {
                    used.push(key);
                    if !pages.contains_key(key.as_str()) {
                        problems.at_key(
                            &ep.origin,
                            "page",
                            At::Value,
                            format!("unknown page `{key}` ({known})"),
                        );
                    }
                }
                None if file.page.is_none() => problems.at(
                    &ep.origin,
                    At::Key,
                    format!(
                        "endpoint `{}` names no official page: add `page:` (to the endpoint, or \
                         once at the top of {} for all its endpoints; {known})",
                        ep.path, file.display
                    ),
                ),
                None => {}
            }
        }
    }
    for page in spec.pages() {
        if !used.contains(&page.key.as_str()) {
            problems.at(
                &page.origin,
                At::Key,
                format!("page `{}` is defined but no endpoint names it", page.key),
            );
        }
    }
}

/// What a struct's fields are called in messages: a JSON object's `field`s or an event's XML
/// `element`s.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Noun {
    Field,
    Element,
}

/// The checks every struct's fields share, whatever the codec: Rust names (snake_case, not a
/// keyword, not a generated method's name), no wire name or Rust name twice, and each field's
/// type defined.
fn check_fields<'a>(
    spec: &Spec,
    fields: &'a [Field],
    noun: Noun,
    problems: &mut Problems,
) -> HashMap<&'a str, &'a Field> {
    let what = match noun {
        Noun::Field => "field",
        Noun::Element => "element",
    };
    let mut wires: HashMap<&str, &Field> = HashMap::new();
    let mut rusts: HashMap<&str, &Field> = HashMap::new();
    for f in fields {
        let o = &f.origin;
        if f.rust == f.wire && is_keyword(&f.wire) {
            problems.at(o, At::Key, format!("{what} `{}` is a Rust keyword; give it a Rust name with `rust: <name>` (the {} stays `{}`)", f.wire, if noun == Noun::Field { "JSON key" } else { "element name" }, f.wire));
        } else if f.rust == f.wire && !is_snake(&f.wire) {
            problems.at(o, At::Key, format!("{what} `{}` is not a snake_case Rust identifier; give it a Rust name with `rust: <name>`", f.wire));
        } else if !is_snake(&f.rust) || is_keyword(&f.rust) {
            problems.at_key(
                o,
                "rust",
                At::Value,
                format!(
                    "Rust name `{}` must be a snake_case identifier that is not a keyword",
                    f.rust
                ),
            );
        }
        if RESERVED_FIELDS.contains(&f.rust.as_str()) {
            problems.at(o, At::Key, format!("{what} name `{}` collides with a generated method; give it another Rust name with `rust: <name>`", f.rust));
        }
        if wires.insert(&f.wire, f).is_some() {
            problems.at(o, At::Key, format!("{what} `{}` is defined twice", f.wire));
        }
        if let Some(other) = rusts.insert(&f.rust, f) {
            if other.wire != f.wire {
                problems.at(
                    o,
                    At::Key,
                    format!(
                        "Rust name `{}` of `{}` is also the Rust name of `{}`",
                        f.rust, f.wire, other.wire
                    ),
                );
            }
        }
        check_ty(spec, &f.ty, f, problems);
    }
    wires
}

fn check_type(spec: &Spec, ty: &TypeDef, problems: &mut Problems) {
    match &ty.kind {
        TypeKind::Object { fields, rules } => {
            let wires = check_fields(spec, fields, Noun::Field, problems);
            for rule in rules {
                check_rule(spec, rule, &wires, problems);
            }
        }
        TypeKind::Enum { values } => {
            if values.is_empty() {
                problems.at(
                    &ty.origin,
                    At::Key,
                    format!("enum `{}` has no values", ty.name),
                );
            }
            let mut seen: HashMap<&str, &EnumValue> = HashMap::new();
            for v in values {
                if v.wire.is_empty() || !v.wire.is_ascii() {
                    problems.at(
                        &v.origin,
                        At::Key,
                        format!("enum value `{}` must be non-empty ASCII", v.wire),
                    );
                }
                if let Some(other) = seen.insert(&v.rust, v) {
                    problems.at(
                        &v.origin,
                        At::Key,
                        format!(
                            "enum values `{}` and `{}` both become the Rust variant `{}`",
                            other.wire, v.wire, v.rust
                        ),
                    );
                }
                if v.rust == "Unknown" {
                    problems.at(
                        &v.origin,
                        At::Key,
                        "the Rust variant `Unknown` is reserved for values the spec does not list"
                            .into(),
                    );
                }
            }
        }
        TypeKind::Union { variants, .. } => {
            if variants.is_empty() {
                problems.at(
                    &ty.origin,
                    At::Key,
                    format!("union `{}` has no variants", ty.name),
                );
            }
            let mut seen: HashMap<&str, &Variant> = HashMap::new();
            for v in variants {
                let o = &v.origin;
                if let Some(other) = seen.insert(&v.rust, v) {
                    problems.at(
                        o,
                        At::Key,
                        format!(
                            "variants `{}` and `{}` both become the Rust variant `{}`",
                            other.tag, v.tag, v.rust
                        ),
                    );
                }
                if v.rust == "Unknown" || v.rust.is_empty() {
                    problems.at(
                        o,
                        At::Key,
                        format!("variant `{}` cannot be named `{}`", v.tag, v.rust),
                    );
                }
                match spec.kind(v.ty) {
                    None => problems.at_key(
                        o,
                        "type",
                        At::Value,
                        format!("unknown type `{}`", spec.name(v.ty)),
                    ),
                    Some(TypeKind::Object { .. }) => {}
                    Some(_) => problems.at_key(
                        o,
                        "type",
                        At::Value,
                        format!("union variant `{}` must hold an object type", v.tag),
                    ),
                }
            }
        }
    }
}

/// Every type named in `ty` (at any depth of lists) is defined.
fn check_ty(spec: &Spec, ty: &Ty, f: &Field, problems: &mut Problems) {
    match ty {
        // `field: Type` and `field: { type: Type }` alike: locate() falls back to the field.
        Ty::Ref(id) if spec.def(*id).is_none() => problems.at_key(
            &f.origin,
            "type",
            At::Value,
            format!(
                "unknown type `{}`; define it under `types:` in any spec file",
                spec.name(*id)
            ),
        ),
        Ty::List { item, .. } => check_ty(spec, item, f, problems),
        _ => {}
    }
}

fn check_rule(spec: &Spec, rule: &Rule, fields: &HashMap<&str, &Field>, problems: &mut Problems) {
    let o = &rule.origin;
    for name in rule.kind.fields() {
        let Some(f) = fields.get(name) else {
            problems.at(
                o,
                At::Value,
                format!("rule names the field `{name}`, which this object does not have"),
            );
            continue;
        };
        match &rule.kind {
            RuleKind::DateSpan { .. } | RuleKind::TimeSpan { .. } => {
                let is_date = f.ty == Ty::Date;
                let is_int = matches!(f.ty, Ty::Int { .. });
                // What the rule needs, whether the field has it, and the other span rule when
                // the field suits that one instead.
                let (rule_name, needs, fits, other) = match rule.kind {
                    RuleKind::DateSpan { .. } => (
                        "date_span",
                        "`date` fields",
                        is_date,
                        is_int.then_some(" (use time_span for integer Unix-second timestamps)"),
                    ),
                    _ => (
                        "time_span",
                        "integer fields (Unix seconds: i32, i64, u32 or u64)",
                        is_int,
                        is_date.then_some(" (use date_span for `date` fields)"),
                    ),
                };
                if !fits {
                    problems.at(
                        o,
                        At::Value,
                        format!(
                            "{rule_name} needs {needs}; `{name}` is `{}`{}",
                            spec.show(&f.ty),
                            other.unwrap_or_default()
                        ),
                    );
                }
            }
            RuleKind::Exclusive(_) | RuleKind::OneOf(_) => {
                if f.required {
                    problems.at(o, At::Value, format!("`{name}` is required, so it is always present; exclusive/one_of need optional fields"));
                }
            }
            RuleKind::MaxTotal { .. } => {
                if !matches!(f.ty, Ty::List { .. }) {
                    problems.at(
                        o,
                        At::Value,
                        format!(
                            "max_total counts list items; `{name}` is `{}`",
                            spec.show(&f.ty)
                        ),
                    );
                }
            }
        }
    }
}

/// Semantic checks of the catalog: names and codes unique across files, names usable as
/// variants, no spec type shadowing the generated items.
fn check_errors(spec: &Spec, problems: &mut Problems) {
    for ty in spec.types() {
        if ERROR_RUNTIME_NAMES.contains(&ty.name.as_str()) {
            problems.at(
                &ty.origin,
                At::Key,
                format!(
                    "type name `{}` would shadow the library's errcode type of that name",
                    ty.name
                ),
            );
        }
    }
    let mut names: HashMap<&str, &ErrorDef> = HashMap::new();
    let mut codes: HashMap<i64, &ErrorDef> = HashMap::new();
    for e in spec.errors() {
        let at = |problems: &mut Problems, message: String| {
            problems.at_key(&e.origin, "name", At::Value, message)
        };
        if !is_pascal(&e.name) {
            at(
                problems,
                format!(
                    "errcode name `{}` must be PascalCase (letters and digits)",
                    e.name
                ),
            );
        }
        if e.name == "Unknown" || RESERVED_TYPES.contains(&e.name.as_str()) {
            at(
                problems,
                format!("errcode name `{}` is reserved; choose another name", e.name),
            );
        }
        if let Some(first) = names.insert(&e.name, e) {
            at(
                problems,
                format!(
                    "errcode name `{}` is already used by errcode {}",
                    e.name, first.code
                ),
            );
        }
        if let Some(first) = codes.insert(e.code, e) {
            problems.at(
                &e.origin,
                At::Key,
                format!(
                    "errcode {} is already described (as `{}`) in {}",
                    e.code, first.name, spec.files[first.origin.file].display
                ),
            );
        }
        for (key, text) in [("errmsg", &e.errmsg), ("zh", &e.zh), ("en", &e.en)] {
            if text.is_empty() {
                problems.at_key(
                    &e.origin,
                    key,
                    At::Value,
                    format!("`{key}` must not be empty"),
                );
            }
        }
    }
}

/// Semantic checks of every event: names, fields, types and examples.
fn check_events(spec: &Spec, problems: &mut Problems) {
    let mut events: HashMap<&str, &Origin> = HashMap::new();
    let mut structs: HashMap<&str, &Origin> = HashMap::new();
    let mut variants: HashMap<&str, &EventDef> = HashMap::new();
    for (_, ev) in spec.events() {
        let o = &ev.origin;
        let mut key_error = |message: String| {
            problems.at(o, At::Key, message);
        };
        if ev.event.is_empty()
            || !ev
                .event
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_')
        {
            key_error(format!(
                "event `{}` must be the `Event` value: ASCII letters, digits and `_`",
                ev.event
            ));
        }
        let duplicate = events.insert(&ev.event, o);
        if let Some(first) = duplicate {
            key_error(format!(
                "event `{}` is defined twice (first in {})",
                ev.event, spec.files[first.file].display
            ));
        } else if ev.variant.is_empty() || ev.variant == "Unknown" {
            key_error(format!(
                "event `{}` cannot become the `CardEvent` variant `{}`",
                ev.event, ev.variant
            ));
        } else if let Some(other) = variants.insert(&ev.variant, ev) {
            key_error(format!(
                "events `{}` and `{}` both become the `CardEvent` variant `{}`",
                other.event, ev.event, ev.variant
            ));
        }
        if !is_pascal(&ev.name) {
            problems.at_key(
                o,
                "name",
                At::Value,
                format!(
                    "event type name `{}` must be PascalCase (letters and digits)",
                    ev.name
                ),
            );
        } else if RESERVED_TYPES.contains(&ev.name.as_str())
            || RUNTIME_NAMES.contains(&ev.name.as_str())
        {
            problems.at_key(
                o,
                "name",
                At::Value,
                format!(
                    "event type name `{}` would shadow Rust's or the library's type of that name",
                    ev.name
                ),
            );
        } else if spec.types().any(|t| t.name == ev.name) {
            problems.at_key(
                o,
                "name",
                At::Value,
                format!(
                    "event type name `{}` is also the name of a type; name the event with `name:`",
                    ev.name
                ),
            );
        } else if let Some(first) = structs.insert(&ev.name, o) {
            problems.at_key(
                o,
                "name",
                At::Value,
                format!(
                    "event type name `{}` is used twice (first by {})",
                    ev.name, first.path
                ),
            );
        }
        check_event_fields(spec, ev, problems);
        for example in &ev.examples {
            check_example(ev, example, problems);
        }
    }
}

/// An event's fields: the checks every struct's fields share, then what XML needs.
fn check_event_fields(spec: &Spec, ev: &EventDef, problems: &mut Problems) {
    check_fields(spec, &ev.fields, Noun::Element, problems);
    for f in &ev.fields {
        let o = &f.origin;
        if HEADER.contains(&f.wire.as_str()) {
            problems.at(
                o,
                At::Key,
                format!(
                    "`{}` is part of the common header ({}), which every message has; leave it out",
                    f.wire,
                    HEADER.join(", ")
                ),
            );
        }
        if f.review {
            problems.at(
                o,
                At::Key,
                "`review` is about card fields; events have no review".into(),
            );
        }
        if spec.xml_kind(&f.ty).is_none() {
            problems.at(
                o,
                At::Value,
                format!(
                    "an event element is XML text: its type must be `string`, an integer type without \
                     a range or an enum type, not `{}`",
                    spec.show(&f.ty)
                ),
            );
        }
    }
}

/// The example's `Event` must be this event, and each of its elements a header element or a
/// field (a documented element the spec lacks is an error here, not a silent loss).
fn check_example(ev: &EventDef, example: &EventExample, problems: &mut Problems) {
    let o = &example.origin;
    let mut error = |message: String| {
        problems.at_key(o, "xml", At::Value, message);
    };
    let elements = match scan_elements(&example.xml) {
        Ok(elements) => elements,
        Err(message) => {
            error(format!(
                "the example is not a flat `<xml>` message: {message}"
            ));
            return;
        }
    };
    match elements.iter().find(|(name, _)| name == "Event") {
        Some((_, value)) if *value == ev.event => {}
        Some((_, value)) => error(format!(
            "the example's `Event` is `{value}`, not `{}`",
            ev.event
        )),
        None => error("the example has no `Event` element".into()),
    }
    for (name, _) in &elements {
        if !HEADER.contains(&name.as_str()) && !ev.fields.iter().any(|f| f.wire == *name) {
            error(format!(
                "the example's element `{name}` is not a field of the event; add it to `fields`"
            ));
        }
    }
}

/// The child elements of a flat `<xml>…</xml>` message: `(name, text)`, CDATA unwrapped. A
/// small scanner, enough to check the spec's own examples (the runtime parses with quick-xml).
fn scan_elements(xml: &str) -> Result<Vec<(String, String)>, String> {
    let body = xml
        .trim()
        .strip_prefix("<xml>")
        .and_then(|b| b.strip_suffix("</xml>"))
        .ok_or("it must start with `<xml>` and end with `</xml>`")?;
    let mut out = Vec::new();
    let mut rest = body.trim_start();
    while !rest.is_empty() {
        let open = rest
            .strip_prefix('<')
            .ok_or_else(|| format!("expected an element at `{}`", head(rest)))?;
        let end = open
            .find('>')
            .ok_or_else(|| format!("unclosed tag at `{}`", head(rest)))?;
        let name = &open[..end];
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            return Err(format!("unexpected tag `<{name}>`"));
        }
        let after = &open[end + 1..];
        let close = format!("</{name}>");
        let content_end = after
            .find(&close)
            .ok_or_else(|| format!("`<{name}>` is not closed"))?;
        let content = &after[..content_end];
        let text = match content
            .strip_prefix("<![CDATA[")
            .and_then(|c| c.strip_suffix("]]>"))
        {
            Some(cdata) => cdata.to_owned(),
            None if content.contains('<') => {
                return Err(format!(
                    "`<{name}>` holds markup other than one CDATA section"
                ));
            }
            None => content.trim().to_owned(),
        };
        out.push((name.to_owned(), text));
        rest = after[content_end + close.len()..].trim_start();
    }
    Ok(out)
}

fn head(text: &str) -> String {
    text.chars().take(20).collect()
}

/// A type of the spec must not take the name of a generated `…Required` struct (objects and
/// events with more than [`MAX_POSITIONAL_REQUIRED`] required fields get one).
fn check_required_names(spec: &Spec, problems: &mut Problems) {
    let names: std::collections::HashSet<&str> = spec.types().map(|t| t.name.as_str()).collect();
    for ty in spec.types() {
        if let TypeKind::Object { fields, .. } = &ty.kind {
            let holder = required_struct_name(&ty.name);
            if names_required(fields) && names.contains(holder.as_str()) {
                problems.at(
                    &ty.origin,
                    At::Key,
                    format!(
                        "`{}` has more than {MAX_POSITIONAL_REQUIRED} required fields, so its \
                         constructor takes a generated `{holder}`, which a type of the spec \
                         already is; rename that type",
                        ty.name
                    ),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scans_flat_messages() {
        let xml = "<xml> <A><![CDATA[x <y>]]></A>\n<B>12</B><C></C></xml>";
        assert_eq!(
            scan_elements(xml).unwrap(),
            [
                ("A".to_owned(), "x <y>".to_owned()),
                ("B".to_owned(), "12".to_owned()),
                ("C".to_owned(), String::new())
            ]
        );
        assert!(scan_elements("<xml><A>1</xml>").is_err());
        assert!(scan_elements("<x/>").is_err());
        assert!(scan_elements("<xml><A><B>1</B></A></xml>").is_err());
    }
}
