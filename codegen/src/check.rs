//! Stage 3: semantic checks over the whole model, every error reported.

use std::collections::HashMap;

use crate::diag::Problems;
use crate::model::*;
use crate::types::TypeExpr;
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

pub fn check(spec: &Spec, problems: &mut Problems) {
    let mut type_names: HashMap<&str, &Origin> = HashMap::new();
    for ty in spec.types() {
        if !is_pascal(&ty.name) {
            problems.at_path(
                ty.origin.file,
                ty.origin.path.clone(),
                At::Key,
                format!(
                    "type name `{}` must be PascalCase (letters and digits)",
                    ty.name
                ),
            );
        }
        if RESERVED_TYPES.contains(&ty.name.as_str()) {
            problems.at_path(
                ty.origin.file,
                ty.origin.path.clone(),
                At::Key,
                format!(
                    "type name `{}` would shadow Rust's or the library's `{}`; choose another name",
                    ty.name, ty.name
                ),
            );
        }
        if let Some(first) = type_names.insert(&ty.name, &ty.origin) {
            problems.at_path(
                ty.origin.file,
                ty.origin.path.clone(),
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
            problems.at_path(
                o.file,
                o.path.key("name"),
                At::Value,
                format!(
                    "method name `{}` must be a snake_case Rust identifier that is not a keyword",
                    ep.name
                ),
            );
        }
        if let Some(first) = names.insert(&ep.name, o) {
            problems.at_path(
                o.file,
                o.path.key("name"),
                At::Value,
                format!(
                    "method name `{}` is used twice (first by {} in {})",
                    ep.name, first.path, spec.files[first.file].display
                ),
            );
        }
        if let Some(first) = paths.insert(&ep.path, o) {
            problems.at_path(
                o.file,
                o.path.clone(),
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
            problems.at_path(o.file, o.path.clone(), At::Key, format!("endpoint path `{}` must be a plain path under the API base, without a leading `/` or a query", ep.path));
        }
        for (key, ty) in [("request", &ep.request), ("response", &ep.response)] {
            let Some(name) = ty else { continue };
            match spec.find_type(name) {
                None => problems.at_path(
                    o.file,
                    o.path.key(key),
                    At::Value,
                    format!("unknown type `{name}`"),
                ),
                Some(TypeDef {
                    kind: TypeKind::Object { fields, .. },
                    ..
                }) => {
                    if key == "request" && ep.method == Method::Get {
                        for f in fields {
                            let scalar = matches!(
                                f.ty,
                                TypeExpr::String { .. }
                                    | TypeExpr::Bool
                                    | TypeExpr::Int { .. }
                                    | TypeExpr::Date
                            ) || matches!(&f.ty, TypeExpr::Named(n) if matches!(spec.find_type(n).map(|t| &t.kind), Some(TypeKind::Enum { .. })));
                            if !scalar {
                                problems.at_path(f.origin.file, f.origin.path.clone(), At::Key, format!("GET requests carry their fields in the query string; `{}: {}` is not a scalar", f.wire, f.ty));
                            }
                        }
                    }
                }
                Some(_) => problems.at_path(
                    o.file,
                    o.path.key(key),
                    At::Value,
                    format!("the {key} type `{name}` must be an object type"),
                ),
            }
        }
    }
    check_excluded(spec, &paths, problems);
    crate::events::check(spec, problems);
    crate::errors::check(spec, problems);
}

fn check_excluded(spec: &Spec, paths: &HashMap<&str, &Origin>, problems: &mut Problems) {
    for file in &spec.files {
        for (path, _, origin) in &file.excluded {
            if paths.contains_key(path.as_str()) {
                problems.at_path(
                    origin.file,
                    origin.path.clone(),
                    At::Key,
                    format!("`{path}` is both an endpoint and excluded"),
                );
            }
        }
    }
}

fn check_type(spec: &Spec, ty: &TypeDef, problems: &mut Problems) {
    match &ty.kind {
        TypeKind::Object { fields, rules } => {
            let mut wires: HashMap<&str, &Field> = HashMap::new();
            let mut rusts: HashMap<&str, &Field> = HashMap::new();
            for f in fields {
                let o = &f.origin;
                if f.rust == f.wire && is_keyword(&f.wire) {
                    problems.at_path(o.file, o.path.clone(), At::Key, format!("field `{}` is a Rust keyword; give it a Rust name with `rust: <name>` (the JSON key stays `{}`)", f.wire, f.wire));
                } else if f.rust == f.wire && !is_snake(&f.wire) {
                    problems.at_path(o.file, o.path.clone(), At::Key, format!("field `{}` is not a snake_case Rust identifier; give it a Rust name with `rust: <name>`", f.wire));
                } else if !is_snake(&f.rust) || is_keyword(&f.rust) {
                    problems.at_path(
                        o.file,
                        o.path.key("rust"),
                        At::Value,
                        format!(
                            "Rust name `{}` must be a snake_case identifier that is not a keyword",
                            f.rust
                        ),
                    );
                }
                if RESERVED_FIELDS.contains(&f.rust.as_str()) {
                    problems.at_path(o.file, o.path.clone(), At::Key, format!("field name `{}` collides with a generated method; give it another Rust name with `rust: <name>`", f.rust));
                }
                if wires.insert(&f.wire, f).is_some() {
                    problems.at_path(
                        o.file,
                        o.path.clone(),
                        At::Key,
                        format!("field `{}` is defined twice", f.wire),
                    );
                }
                if let Some(other) = rusts.insert(&f.rust, f) {
                    if other.wire != f.wire {
                        problems.at_path(
                            o.file,
                            o.path.clone(),
                            At::Key,
                            format!(
                                "Rust name `{}` of `{}` is also the Rust name of `{}`",
                                f.rust, f.wire, other.wire
                            ),
                        );
                    }
                }
                check_expr(spec, &f.ty, f, problems);
            }
            for rule in rules {
                check_rule(spec, rule, &wires, problems);
            }
        }
        TypeKind::Enum { values } => {
            if values.is_empty() {
                problems.at_path(
                    ty.origin.file,
                    ty.origin.path.clone(),
                    At::Key,
                    format!("enum `{}` has no values", ty.name),
                );
            }
            let mut seen: HashMap<&str, &EnumValue> = HashMap::new();
            for v in values {
                if v.wire.is_empty() || !v.wire.is_ascii() {
                    problems.at_path(
                        v.origin.file,
                        v.origin.path.clone(),
                        At::Key,
                        format!("enum value `{}` must be non-empty ASCII", v.wire),
                    );
                }
                if let Some(other) = seen.insert(&v.rust, v) {
                    problems.at_path(
                        v.origin.file,
                        v.origin.path.clone(),
                        At::Key,
                        format!(
                            "enum values `{}` and `{}` both become the Rust variant `{}`",
                            other.wire, v.wire, v.rust
                        ),
                    );
                }
                if v.rust == "Unknown" {
                    problems.at_path(
                        v.origin.file,
                        v.origin.path.clone(),
                        At::Key,
                        "the Rust variant `Unknown` is reserved for values the spec does not list"
                            .into(),
                    );
                }
            }
        }
        TypeKind::Union { variants, .. } => {
            if variants.is_empty() {
                problems.at_path(
                    ty.origin.file,
                    ty.origin.path.clone(),
                    At::Key,
                    format!("union `{}` has no variants", ty.name),
                );
            }
            let mut seen: HashMap<&str, &Variant> = HashMap::new();
            for v in variants {
                let o = &v.origin;
                if let Some(other) = seen.insert(&v.rust, v) {
                    problems.at_path(
                        o.file,
                        o.path.clone(),
                        At::Key,
                        format!(
                            "variants `{}` and `{}` both become the Rust variant `{}`",
                            other.tag, v.tag, v.rust
                        ),
                    );
                }
                if v.rust == "Unknown" || v.rust.is_empty() {
                    problems.at_path(
                        o.file,
                        o.path.clone(),
                        At::Key,
                        format!("variant `{}` cannot be named `{}`", v.tag, v.rust),
                    );
                }
                match spec.find_type(&v.ty).map(|t| &t.kind) {
                    None => problems.at_path(
                        o.file,
                        o.path.key("type"),
                        At::Value,
                        format!("unknown type `{}`", v.ty),
                    ),
                    Some(TypeKind::Object { .. }) => {}
                    Some(_) => problems.at_path(
                        o.file,
                        o.path.key("type"),
                        At::Value,
                        format!("union variant `{}` must hold an object type", v.tag),
                    ),
                }
            }
        }
    }
}

fn check_expr(spec: &Spec, ty: &TypeExpr, f: &Field, problems: &mut Problems) {
    let o = &f.origin;
    match ty {
        // `field: Type` and `field: { type: Type }` alike: locate() falls back to the field.
        TypeExpr::Named(name) if spec.find_type(name).is_none() => problems.at_path(
            o.file,
            o.path.key("type"),
            At::Value,
            format!("unknown type `{name}`; define it under `types:` in any spec file"),
        ),
        TypeExpr::List { item, .. } => {
            if let TypeExpr::List { item: inner, .. } = item.as_ref() {
                if has_limits(inner) {
                    problems.at_path(
                        o.file,
                        o.path.clone(),
                        At::Value,
                        "limits inside a list of lists are not supported".into(),
                    );
                }
            }
            check_expr(spec, item, f, problems);
        }
        _ => {}
    }
}

fn has_limits(ty: &TypeExpr) -> bool {
    match ty {
        TypeExpr::String { max_bytes } => max_bytes.is_some(),
        TypeExpr::Int { min, max, .. } => min.is_some() || max.is_some(),
        TypeExpr::Date | TypeExpr::Named(_) => true,
        TypeExpr::List { .. } => true,
        _ => false,
    }
}

fn check_rule(spec: &Spec, rule: &Rule, fields: &HashMap<&str, &Field>, problems: &mut Problems) {
    let o = &rule.origin;
    let _ = spec;
    for name in rule.kind.fields() {
        let Some(f) = fields.get(name) else {
            problems.at_path(
                o.file,
                o.path.clone(),
                At::Value,
                format!("rule names the field `{name}`, which this object does not have"),
            );
            continue;
        };
        match &rule.kind {
            RuleKind::DateSpan { .. } | RuleKind::TimeSpan { .. } => {
                let is_date = f.ty == TypeExpr::Date;
                let is_int = matches!(f.ty, TypeExpr::Int { .. });
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
                    problems.at_path(
                        o.file,
                        o.path.clone(),
                        At::Value,
                        format!(
                            "{rule_name} needs {needs}; `{name}` is `{}`{}",
                            f.ty,
                            other.unwrap_or_default()
                        ),
                    );
                }
            }
            RuleKind::Exclusive(_) | RuleKind::OneOf(_) => {
                if f.required {
                    problems.at_path(o.file, o.path.clone(), At::Value, format!("`{name}` is required, so it is always present; exclusive/one_of need optional fields"));
                }
            }
            RuleKind::MaxTotal { .. } => {
                if !matches!(f.ty, TypeExpr::List { .. }) {
                    problems.at_path(
                        o.file,
                        o.path.clone(),
                        At::Value,
                        format!("max_total counts list items; `{name}` is `{}`", f.ty),
                    );
                }
            }
        }
    }
}
