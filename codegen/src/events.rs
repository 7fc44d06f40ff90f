//! Pushed events: the spec's top-level `events:` key, from YAML to the generated event structs,
//! the `CardEvent` enum and the run-time `EVENTS` table.
//!
//! An event is a flat XML message (`<xml><ToUserName>…</ToUserName>…</xml>`) whose `MsgType` is
//! `event` and whose `Event` element names it. The common header (`ToUserName`, `FromUserName`,
//! `CreateTime`, `MsgType`, `Event`) is handled by the runtime (`wechat_card::events::Message`);
//! the spec lists each event's other elements as fields whose wire name is the element name. XML
//! carries text only, so an event field is a `string`, an integer type or an enum type.
//!
//! The generated code stays declarative: each struct converts from and to the message's elements
//! through the runtime's helpers (`crate::events::text`, `number`, `enumeration`, `required`,
//! `put_text`, `put_number`).

use std::collections::HashMap;

use proc_macro2::TokenStream;
use quote::quote;

use crate::check::RESERVED_TYPES;
use crate::diag::Problems;
use crate::emit::{Emitter, docs, escape_doc, ident, setter};
use crate::model::*;
use crate::parse::Cx;
use crate::types::TypeExpr;
use crate::yaml::{At, Node, Path};

/// The keys of one event.
const EVENT_KEYS: &[&str] = &["name", "title", "doc", "fields", "examples"];

/// The common header of every pushed message, read by the runtime, never by an event's fields.
pub const HEADER: &[&str] = &[
    "ToUserName",
    "FromUserName",
    "CreateTime",
    "MsgType",
    "Event",
];

/// Names of the runtime's event types, which a spec type or event struct must not shadow.
const RUNTIME_NAMES: &[&str] = &["CardEvent", "EventFields", "EventError", "Message"];

// ---------------------------------------------------------------------------------------------
// Parsing
// ---------------------------------------------------------------------------------------------

impl Cx<'_> {
    /// The `events:` mapping of one file.
    pub(crate) fn events(&mut self, node: &Node, path: &Path) -> Vec<EventDef> {
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
            obj.finish(self, EVENT_KEYS);
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
            o.finish(self, &["name", "xml"]);
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

// ---------------------------------------------------------------------------------------------
// Checks
// ---------------------------------------------------------------------------------------------

/// Semantic checks of every event: names, fields, types and examples.
pub fn check(spec: &Spec, problems: &mut Problems) {
    let type_names: HashMap<&str, &TypeDef> = spec.types().map(|t| (t.name.as_str(), t)).collect();
    let mut events: HashMap<&str, &Origin> = HashMap::new();
    let mut structs: HashMap<&str, &Origin> = HashMap::new();
    let mut variants: HashMap<&str, &EventDef> = HashMap::new();
    for ty in spec.types() {
        if RUNTIME_NAMES.contains(&ty.name.as_str()) {
            problems.at_path(
                ty.origin.file,
                ty.origin.path.clone(),
                At::Key,
                format!(
                    "type name `{}` would shadow the library's event type of that name",
                    ty.name
                ),
            );
        }
    }
    for (_, ev) in spec.events() {
        let o = &ev.origin;
        let mut key_error = |message: String| {
            problems.at_path(o.file, o.path.clone(), At::Key, message);
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
        let name_path = o.path.key("name");
        if !is_pascal(&ev.name) {
            problems.at_path(
                o.file,
                name_path.clone(),
                At::Value,
                format!(
                    "event type name `{}` must be PascalCase (letters and digits)",
                    ev.name
                ),
            );
        } else if RESERVED_TYPES.contains(&ev.name.as_str())
            || RUNTIME_NAMES.contains(&ev.name.as_str())
        {
            problems.at_path(
                o.file,
                name_path.clone(),
                At::Value,
                format!(
                    "event type name `{}` would shadow Rust's or the library's type of that name",
                    ev.name
                ),
            );
        } else if type_names.contains_key(ev.name.as_str()) {
            problems.at_path(
                o.file,
                name_path.clone(),
                At::Value,
                format!(
                    "event type name `{}` is also the name of a type; name the event with `name:`",
                    ev.name
                ),
            );
        } else if let Some(first) = structs.insert(&ev.name, o) {
            problems.at_path(
                o.file,
                name_path.clone(),
                At::Value,
                format!(
                    "event type name `{}` is used twice (first by {})",
                    ev.name, first.path
                ),
            );
        }
        check_fields(ev, &type_names, problems);
        for example in &ev.examples {
            check_example(ev, example, problems);
        }
    }
}

fn check_fields(ev: &EventDef, types: &HashMap<&str, &TypeDef>, problems: &mut Problems) {
    let mut wires: HashMap<&str, ()> = HashMap::new();
    let mut rusts: HashMap<&str, &Field> = HashMap::new();
    for f in &ev.fields {
        let o = &f.origin;
        let mut error = |at: At, message: String| {
            problems.at_path(o.file, o.path.clone(), at, message);
        };
        if HEADER.contains(&f.wire.as_str()) {
            error(
                At::Key,
                format!(
                    "`{}` is part of the common header ({}), which every message has; leave it out",
                    f.wire,
                    HEADER.join(", ")
                ),
            );
        }
        if f.rust == f.wire && !is_snake(&f.wire) {
            error(
                At::Key,
                format!(
                    "element `{}` is not a snake_case Rust identifier; give it a Rust name with `rust: <name>`",
                    f.wire
                ),
            );
        } else if !is_snake(&f.rust) || is_keyword(&f.rust) || f.rust == "new" {
            error(
                At::Key,
                format!(
                    "Rust name `{}` must be a snake_case identifier that is not a keyword nor `new`",
                    f.rust
                ),
            );
        }
        if wires.insert(&f.wire, ()).is_some() {
            error(At::Key, format!("element `{}` is defined twice", f.wire));
        }
        if let Some(other) = rusts.insert(&f.rust, f) {
            if other.wire != f.wire {
                error(
                    At::Key,
                    format!(
                        "Rust name `{}` of `{}` is also the Rust name of `{}`",
                        f.rust, f.wire, other.wire
                    ),
                );
            }
        }
        if f.review {
            error(
                At::Key,
                "`review` is about card fields; events have no review".into(),
            );
        }
        if kind(&f.ty, types).is_none() {
            error(
                At::Value,
                format!(
                    "an event element is XML text: its type must be `string`, an integer type without \
                     a range or an enum type, not `{}`",
                    f.ty
                ),
            );
        }
    }
}

/// How an event field is read and written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Text,
    Number,
    Enum,
}

fn kind(ty: &TypeExpr, types: &HashMap<&str, &TypeDef>) -> Option<Kind> {
    match ty {
        TypeExpr::String { max_bytes: None } => Some(Kind::Text),
        TypeExpr::Int {
            min: None,
            max: None,
            ..
        } => Some(Kind::Number),
        TypeExpr::Named(name) => match types.get(name.as_str()).map(|t| &t.kind) {
            Some(TypeKind::Enum { .. }) => Some(Kind::Enum),
            _ => None,
        },
        _ => None,
    }
}

/// The example's `Event` must be this event, and each of its elements a header element or a
/// field (a documented element the spec lacks is an error here, not a silent loss).
fn check_example(ev: &EventDef, example: &EventExample, problems: &mut Problems) {
    let o = &example.origin;
    let mut error = |message: String| {
        problems.at_path(o.file, o.path.key("xml"), At::Value, message);
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

// ---------------------------------------------------------------------------------------------
// Emission
// ---------------------------------------------------------------------------------------------

/// The event structs of one spec file.
pub fn emit_file(emitter: &Emitter<'_>, spec: &Spec, file: &SpecFile) -> TokenStream {
    let types: HashMap<&str, &TypeDef> = spec.types().map(|t| (t.name.as_str(), t)).collect();
    let mut out = TokenStream::new();
    for ev in &file.events {
        out.extend(event_struct(emitter, ev, &types));
    }
    out
}

fn field_doc(f: &Field) -> String {
    let mut doc = escape_doc(f.doc.trim());
    if doc.is_empty() {
        doc = format!("`{}`.", f.wire);
    }
    let presence = if f.required {
        "Always sent (a message without it is an error)."
    } else {
        "Optional."
    };
    format!("{doc}\n\n{presence} XML element `{}`.", f.wire)
}

fn event_doc(ev: &EventDef) -> String {
    let mut text = format!(
        "{} — the `{}` event (`MsgType` `event`).",
        escape_doc(&ev.title),
        ev.event
    );
    if !ev.doc.trim().is_empty() {
        text.push_str("\n\n");
        text.push_str(&escape_doc(ev.doc.trim()));
    }
    text.push_str(
        "\n\nThe common header (`ToUserName`, `FromUserName`, `CreateTime`, …) is on the \
         enclosing `events::Message`.",
    );
    text
}

fn event_struct(
    emitter: &Emitter<'_>,
    ev: &EventDef,
    types: &HashMap<&str, &TypeDef>,
) -> TokenStream {
    let name = ident(&ev.name);
    let doc = docs(&event_doc(ev));
    let event = &ev.event;
    let has_required = ev.fields.iter().any(|f| f.required);
    let default = if has_required {
        quote!()
    } else {
        quote!(Default,)
    };
    let decls = ev.fields.iter().map(|f| {
        let doc = docs(&field_doc(f));
        let rust = ident(&f.rust);
        let t = emitter.rust_type(&f.ty);
        if f.required {
            quote!(#doc pub #rust: #t,)
        } else {
            quote!(#doc pub #rust: Option<#t>,)
        }
    });
    let wires = ev.fields.iter().map(|f| f.wire.as_str());

    let required: Vec<&Field> = ev.fields.iter().filter(|f| f.required).collect();
    let params = required.iter().map(|f| {
        let rust = ident(&f.rust);
        let t = param_type(emitter, &f.ty);
        quote!(#rust: #t)
    });
    let inits = ev.fields.iter().map(|f| {
        let rust = ident(&f.rust);
        match (f.required, &f.ty) {
            (true, TypeExpr::String { .. }) => quote!(#rust: #rust.into()),
            (true, _) => quote!(#rust),
            (false, _) => quote!(#rust: None),
        }
    });
    let new_doc = if required.is_empty() {
        format!(
            "Creates an empty `{}`; set fields with the methods below.",
            ev.name
        )
    } else {
        let names: Vec<String> = required.iter().map(|f| format!("`{}`", f.rust)).collect();
        format!(
            "Creates a `{}` from its required fields ({}); optional fields are left out.",
            ev.name,
            names.join(", ")
        )
    };
    let new_doc = docs(&new_doc);
    let setters = ev.fields.iter().map(|f| {
        let t = param_type(emitter, &f.ty);
        let v = match f.ty {
            TypeExpr::String { .. } => quote!(value.into()),
            _ => quote!(value),
        };
        setter(&f.rust, f.required, &f.doc, t, v)
    });

    let reads = ev.fields.iter().map(|f| {
        let rust = ident(&f.rust);
        let wire = f.wire.as_str();
        let t = emitter.rust_type(&f.ty);
        let read = match kind(&f.ty, types) {
            Some(Kind::Number) => {
                quote!(crate::events::number::<#t>(fields, Self::EVENT, #wire)?)
            }
            Some(Kind::Enum) => quote!(crate::events::enumeration::<#t>(fields, #wire)),
            _ => quote!(crate::events::text(fields, #wire)),
        };
        if f.required {
            quote!(#rust: crate::events::required(Self::EVENT, #wire, #read)?)
        } else {
            quote!(#rust: #read)
        }
    });
    let writes = ev.fields.iter().map(|f| {
        let rust = ident(&f.rust);
        let wire = f.wire.as_str();
        let value = if f.required {
            quote!(Some(&self.#rust))
        } else {
            quote!(self.#rust.as_ref())
        };
        match kind(&f.ty, types) {
            Some(Kind::Number) => quote!(crate::events::put_number(fields, #wire, #value);),
            _ => quote!(crate::events::put_text(fields, #wire, #value);),
        }
    });
    let from_fields = if ev.fields.is_empty() {
        quote!(
            let _ = fields;
            Ok(Self {})
        )
    } else {
        quote!(Ok(Self { #(#reads),* }))
    };
    let to_fields = if ev.fields.is_empty() {
        quote!(let _ = fields;)
    } else {
        quote!(#(#writes)*)
    };

    quote! {
        #doc
        #[derive(Debug, Clone, PartialEq, Eq, #default)]
        #[non_exhaustive]
        pub struct #name {
            #(#decls)*
        }

        impl #name {
            /// The `Event` element's value of this event.
            pub const EVENT: &'static str = #event;

            /// The XML elements of this event besides the common header, in spec order.
            pub const ELEMENTS: &'static [&'static str] = &[#(#wires),*];

            #new_doc
            pub fn new(#(#params),*) -> Self {
                Self { #(#inits),* }
            }

            #(#setters)*
        }

        impl crate::events::EventBody for #name {
            fn from_fields(fields: &crate::events::EventFields) -> Result<Self, crate::events::EventError> {
                #from_fields
            }

            fn to_fields(&self, fields: &mut crate::events::EventFields) {
                #to_fields
            }
        }
    }
}

fn param_type(emitter: &Emitter<'_>, ty: &TypeExpr) -> TokenStream {
    match ty {
        TypeExpr::String { .. } => quote!(impl Into<String>),
        other => emitter.rust_type(other),
    }
}

/// `CardEvent` (one variant per event, plus `Unknown`) and the `EVENTS` table, for `api.rs`.
pub fn emit_api(emitter: &Emitter<'_>, spec: &Spec) -> TokenStream {
    let events: Vec<(&SpecFile, &EventDef)> = spec.events().collect();
    let variants = events.iter().map(|(_, ev)| {
        let v = ident(&ev.variant);
        let n = ident(&ev.name);
        let d = docs(&format!("`{}`: {}", ev.event, escape_doc(&ev.title)));
        quote!(#d #v(#n),)
    });
    let names = events.iter().map(|(_, ev)| {
        let v = ident(&ev.variant);
        let n = ident(&ev.name);
        quote!(Self::#v(_) => #n::EVENT,)
    });
    let elements = events.iter().map(|(_, ev)| {
        let v = ident(&ev.variant);
        let n = ident(&ev.name);
        quote!(Self::#v(_) => #n::ELEMENTS,)
    });
    let decode = events.iter().map(|(_, ev)| {
        let v = ident(&ev.variant);
        let e = &ev.event;
        quote!(#e => crate::events::EventBody::from_fields(fields).map(Self::#v),)
    });
    let encode = events.iter().map(|(_, ev)| {
        let v = ident(&ev.variant);
        quote!(Self::#v(event) => crate::events::EventBody::to_fields(event, &mut out),)
    });
    let infos = events.iter().map(|(file, ev)| {
        let (event, name, group, title) = (&ev.event, &ev.name, &file.stem, &ev.title);
        let fields = ev.fields.iter().map(|f| {
            let (w, r, req, rev) = (&f.wire, &f.rust, f.required, f.review);
            let ty = emitter.ty_info(&f.ty);
            quote!(crate::schema::FieldInfo { wire: #w, rust: #r, required: #req, review: #rev, ty: #ty })
        });
        let examples = ev.examples.iter().map(|ex| {
            let n = &ex.name;
            let xml = crate::emit::raw_string(&ex.xml);
            quote!(crate::schema::EventExample { name: #n, xml: #xml })
        });
        quote! {
            crate::schema::EventInfo {
                event: #event,
                name: #name,
                group: #group,
                title: #title,
                fields: &[#(#fields),*],
                examples: &[#(#examples),*],
            }
        }
    });
    quote! {
        /// A card event WeChat pushes to the merchant's server: one variant per event of the spec.
        ///
        /// An event the spec does not describe (and a message that is not an event) decodes as
        /// `Unknown`, which keeps its name and every element as received.
        #[derive(Debug, Clone, PartialEq, Eq)]
        #[non_exhaustive]
        pub enum CardEvent {
            #(#variants)*
            /// An event the spec does not describe, kept as received.
            Unknown {
                /// The `Event` element's value (empty for a message that is not an event).
                event: String,
                /// Every element besides the common header, in order.
                fields: crate::events::EventFields,
            },
        }

        impl CardEvent {
            /// The `Event` element's value, e.g. `user_get_card`.
            pub fn name(&self) -> &str {
                match self {
                    #(#names)*
                    Self::Unknown { event, .. } => event,
                }
            }

            /// The XML elements the typed event reads besides the common header (none for
            /// `Unknown`, which keeps them all).
            pub fn elements(&self) -> &'static [&'static str] {
                match self {
                    #(#elements)*
                    Self::Unknown { .. } => &[],
                }
            }

            /// Decodes the event `event` from the message's elements besides the common header.
            pub fn from_fields(event: &str, fields: &crate::events::EventFields) -> Result<Self, crate::events::EventError> {
                match event {
                    #(#decode)*
                    _ => Ok(Self::Unknown { event: event.to_owned(), fields: fields.clone() }),
                }
            }

            /// The event's elements besides the common header, in spec order.
            pub fn to_fields(&self) -> crate::events::EventFields {
                let mut out = crate::events::EventFields::new();
                match self {
                    #(#encode)*
                    Self::Unknown { fields, .. } => out = fields.clone(),
                }
                out
            }
        }

        /// Every event of the spec, in spec order.
        pub static EVENTS: &[crate::schema::EventInfo] = &[#(#infos),*];
    }
}

// ---------------------------------------------------------------------------------------------
// Coverage table
// ---------------------------------------------------------------------------------------------

/// The events section of `docs/endpoints.md` (empty when the spec has no events).
pub fn markdown(spec: &Spec) -> String {
    let events: Vec<_> = spec.events().collect();
    if events.is_empty() {
        return String::new();
    }
    let mut out = format!(
        "\n## Events\n\nwechat-card describes {} events WeChat pushes to the merchant's server \
         (`MsgType` `event`). Each has a typed struct and a `CardEvent` variant; an event the spec \
         does not describe decodes as `CardEvent::Unknown`.\n\n",
        events.len()
    );
    out.push_str("| group | `Event` | Rust type | official title |\n|---|---|---|---|\n");
    for (file, ev) in events {
        out.push_str(&format!(
            "| {} | `{}` | `{}` | {} |\n",
            file.stem,
            ev.event,
            ev.name,
            escape_doc(&ev.title).replace('|', "\\|")
        ));
    }
    out
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
