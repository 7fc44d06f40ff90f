//! Stage 4: the model to Rust token streams, one pure function per kind of item.
//!
//! Takes: the linked [`Spec`] after [`crate::check`] found nothing (so every [`TypeId`] has a
//! definition). Gives: for each spec file, the tokens of its types, its pushed events' structs
//! and its `Client` methods ([`Emitter::file`]); the tables spanning all files are
//! [`crate::tables`]'s.
//!
//! The emitted code is deliberately thin: it declares types and calls the hand-written helpers of
//! the runtime (`crate::validate::*`, `crate::wire::*`, `Client::execute`), where the logic lives.
//!
//! Every struct, JSON object or pushed event alike, comes from one emitter, [`Emitter::structure`]:
//! the declaration, `new` and the setters are the same for both, and a [`Codec`] adds what the
//! wire format needs (for JSON: `Serialize` derived, a generated `Deserialize`, `Validate`;
//! for XML: `EventBody`). A new
//! per-type emission goes into `structure` (or into a codec's arm of it); a new per-field one into
//! `Emitter::field_decl`; a new limit kind is one arm of `Emitter::checks`, which recurses into
//! list items through `validate::each`.

use std::collections::{HashMap, HashSet};

use proc_macro2::{Literal, TokenStream};
use quote::{format_ident, quote};

use crate::model::*;
use crate::text::{bounds, docs, escape_doc, ident, summary};

/// How a struct travels on the wire. The struct itself (fields, `new`, setters) is the same for
/// every codec.
#[derive(Clone, Copy)]
pub enum Codec<'a> {
    /// A JSON object (requests, responses, shared types): serde impls (only the directions the
    /// endpoints need, see `Directions`) and a `Validate` impl
    /// that checks the spec's limits and cross-field rules.
    Json { rules: &'a [Rule] },
    /// A pushed event's XML elements: the `EVENT`/`ELEMENTS` constants and an `EventBody` impl.
    Xml { event: &'a EventDef },
}

pub struct Emitter<'a> {
    spec: &'a Spec,
    /// For each request or response type, the endpoints that use it: `(endpoint, is_request)`.
    used_by: HashMap<TypeId, Vec<(&'a Endpoint, bool)>>,
    /// The object types responses reach (see [`reached_from`]): their integer fields also
    /// decode numeric strings, as WeChat sends some. Types requests reach too (the card body)
    /// are among them; the sandbox refuses strings in requests by its own check.
    from_responses: HashSet<&'a str>,
    /// The types requests reach: they implement `Serialize` in every build.
    from_requests: HashSet<&'a str>,
}

/// The serde directions a JSON type implements: a client sends requests (`Serialize`) and reads
/// responses (`Deserialize`), so each type implements by default only the directions the
/// endpoints that reach it need, and the other one with the `serde-full` feature (which the
/// sandbox and the tooling turn on). Half the serde code is thus never compiled for a client.
#[derive(Debug, Clone, Copy)]
struct Directions {
    serialize: bool,
    deserialize: bool,
}

impl Directions {
    /// `#[cfg(feature = "serde-full")]` before an impl of a direction the type does not need by
    /// default, else nothing.
    fn gate(needed: bool) -> TokenStream {
        if needed {
            TokenStream::new()
        } else {
            quote!(#[cfg(feature = "serde-full")])
        }
    }
}

impl<'a> Emitter<'a> {
    pub fn new(spec: &'a Spec) -> Self {
        let mut used_by: HashMap<TypeId, Vec<(&Endpoint, bool)>> = HashMap::new();
        for (_, ep) in spec.endpoints() {
            if let Some(r) = ep.request {
                used_by.entry(r).or_default().push((ep, true));
            }
            if let Some(r) = ep.response {
                used_by.entry(r).or_default().push((ep, false));
            }
        }
        Emitter {
            spec,
            used_by,
            from_responses: reached_from(spec, |ep| ep.response),
            from_requests: reached_from(spec, |ep| ep.request),
        }
    }

    /// The serde directions the type `name` implements in every build. A type no endpoint
    /// reaches (none in the spec today) implements both, so that its `#[serde]` field attributes
    /// always have a derive to belong to.
    fn directions(&self, name: &str) -> Directions {
        let (serialize, deserialize) = (
            self.from_requests.contains(name),
            self.from_responses.contains(name),
        );
        if serialize || deserialize {
            Directions {
                serialize,
                deserialize,
            }
        } else {
            Directions {
                serialize: true,
                deserialize: true,
            }
        }
    }

    /// A type's doc, then links to the `Client` methods that send or return it.
    fn linked_type_doc(&self, ty: &TypeDef) -> String {
        let mut doc = type_doc(ty);
        for (ep, is_request) in self.used_by.get(&ty.id).into_iter().flatten() {
            let role = if *is_request {
                "Sent by"
            } else {
                "Returned by"
            };
            doc.push_str(&format!(
                "\n\n{role} [`Client::{m}`](crate::Client::{m}) (`{}`).",
                ep.path,
                m = ep.name
            ));
        }
        doc
    }

    /// The items of one spec file: its types, its events' structs and its `Client` methods.
    pub fn file(&self, file: &SpecFile) -> TokenStream {
        let mut out = TokenStream::new();
        for ty in &file.types {
            out.extend(match &ty.kind {
                TypeKind::Object { fields, rules } => self.structure(
                    &ty.name,
                    &self.linked_type_doc(ty),
                    fields,
                    Codec::Json { rules },
                ),
                TypeKind::Enum { values } => self.enumeration(ty, values),
                TypeKind::Union { tag, variants } => self.union(ty, tag, variants),
            });
        }
        if !file.endpoints.is_empty() {
            let methods = file.endpoints.iter().map(|e| self.method(file, e));
            let async_methods = file.endpoints.iter().map(|e| self.async_method(file, e));
            out.extend(quote! {
                impl crate::Client {
                    #(#methods)*
                }

                #[cfg(feature = "async")]
                impl crate::AsyncClient {
                    #(#async_methods)*
                }
            });
        }
        for ev in &file.events {
            out.extend(self.structure(
                &ev.name,
                &event_doc(ev),
                &ev.fields,
                Codec::Xml { event: ev },
            ));
        }
        out
    }

    /// The Rust type of a field's value.
    pub fn rust_type(&self, ty: &Ty) -> TokenStream {
        match ty {
            Ty::String { .. } | Ty::Date => quote!(String),
            Ty::Bool => quote!(bool),
            Ty::Secret => quote!(crate::Secret),
            Ty::Int { kind, .. } => {
                let k = ident(kind.name());
                quote!(#k)
            }
            Ty::Json => quote!(serde_json::Value),
            Ty::List { item, .. } => {
                let item = self.rust_type(item);
                quote!(Vec<#item>)
            }
            Ty::Ref(id) => {
                let n = ident(self.spec.name(*id));
                quote!(#n)
            }
        }
    }

    /// The parameter type of `new` and of a setter: strings are taken as `impl Into<…>`.
    fn param_type(&self, ty: &Ty) -> TokenStream {
        match ty {
            Ty::String { .. } | Ty::Date => quote!(impl Into<String>),
            Ty::Secret => quote!(impl Into<crate::Secret>),
            other => self.rust_type(other),
        }
    }

    /// `value` (of [`Self::param_type`]) converted to the field's type.
    fn param_into(&self, ty: &Ty, value: TokenStream) -> TokenStream {
        if converts(ty) {
            quote!(#value.into())
        } else {
            value
        }
    }

    /// One struct: its declaration, `new` from the required fields, a setter per field, and what
    /// the codec adds.
    pub fn structure(
        &self,
        name: &str,
        doc: &str,
        fields: &[Field],
        codec: Codec<'_>,
    ) -> TokenStream {
        let ty_name = ident(name);
        let doc = docs(doc);
        let derives = self.derives(name, fields, codec);
        let lenient = self.from_responses.contains(name);
        let directions = self.directions(name);
        let decls = fields
            .iter()
            .map(|f| self.field_decl(f, codec, directions.serialize));

        let (new, required_struct) = self.constructor(name, fields, codec);
        let setters = fields.iter().map(|f| {
            let t = self.param_type(&f.ty);
            let v = self.param_into(&f.ty, quote!(value));
            setter(&f.rust, f.required, &f.doc, t, v)
        });
        let (consts, impls) = match codec {
            Codec::Json { rules } => {
                let deserialize = self.deserialize_impl(&ty_name, fields, lenient);
                let gate = Directions::gate(directions.deserialize);
                let validate = self.validate_impl(&ty_name, fields, rules);
                (quote!(), quote!(#gate #deserialize #validate))
            }
            Codec::Xml { event } => self.event_body(&ty_name, event),
        };

        quote! {
            #doc
            #derives
            #[non_exhaustive]
            pub struct #ty_name {
                #(#decls)*
            }

            impl #ty_name {
                #consts

                #new

                #(#setters)*
            }

            #required_struct

            #impls
        }
    }

    /// `new` of the struct `name`, and the `…Required` struct it takes when there are more than
    /// [`MAX_POSITIONAL_REQUIRED`] required fields (else nothing): `(new, required_struct)`.
    fn constructor(
        &self,
        name: &str,
        fields: &[Field],
        codec: Codec<'_>,
    ) -> (TokenStream, TokenStream) {
        let required: Vec<&Field> = fields.iter().filter(|f| f.required).collect();
        // Every field in spec order: required ones from `value(field)`, optional ones `None`.
        let inits = |value: &dyn Fn(&Field) -> TokenStream| -> Vec<TokenStream> {
            fields
                .iter()
                .map(|f| {
                    let rust = ident(&f.rust);
                    if f.required {
                        let v = value(f);
                        if v.to_string() == f.rust {
                            quote!(#rust)
                        } else {
                            quote!(#rust: #v)
                        }
                    } else {
                        quote!(#rust: None)
                    }
                })
                .collect()
        };
        if names_required(fields) {
            let holder_name = required_struct_name(name);
            let holder = ident(&holder_name);
            let decls = required.iter().map(|f| {
                let doc = docs(&match codec {
                    Codec::Json { .. } => self.json_field_doc(f),
                    Codec::Xml { .. } => xml_field_doc(f),
                });
                let rust = ident(&f.rust);
                let t = self.rust_type(&f.ty);
                quote!(#doc pub #rust: #t,)
            });
            let names: Vec<_> = required.iter().map(|f| ident(&f.rust)).collect();
            let inits = inits(&|f| {
                let rust = ident(&f.rust);
                quote!(#rust)
            });
            let holder_doc = docs(&format!(
                "The required fields of [`{name}`], each named at the call site: \
                 `{name}::new({holder_name} {{ … }})`.\n\n\
                 A struct literal rather than positional arguments, so that same-typed fields \
                 cannot be swapped silently. Not `#[non_exhaustive]`, so that it can be written \
                 as a literal: a required field added to the spec is a compile error at every \
                 call site."
            ));
            let new_doc = docs(&format!(
                "Creates a `{name}` from its required fields, each named in a \
                 [`{holder_name}`]; optional fields are left out."
            ));
            let new = quote! {
                #new_doc
                pub fn new(required: #holder) -> Self {
                    let #holder { #(#names),* } = required;
                    Self { #(#inits),* }
                }
            };
            let holder_struct = quote! {
                #holder_doc
                #[derive(Debug, Clone, PartialEq, Eq)]
                pub struct #holder {
                    #(#decls)*
                }
            };
            return (new, holder_struct);
        }
        let params = required.iter().map(|f| {
            let rust = ident(&f.rust);
            let t = self.param_type(&f.ty);
            quote!(#rust: #t)
        });
        let inits = inits(&|f| {
            let rust = ident(&f.rust);
            if converts(&f.ty) {
                quote!(#rust.into())
            } else {
                quote!(#rust)
            }
        });
        let new_doc = if required.is_empty() {
            format!("Creates an empty `{name}`; set fields with the methods below.")
        } else {
            let names: Vec<String> = required.iter().map(|f| format!("`{}`", f.rust)).collect();
            format!(
                "Creates a `{name}` from its required fields ({}); optional fields are left out.",
                names.join(", ")
            )
        };
        let new_doc = docs(&new_doc);
        let new = quote! {
            #new_doc
            pub fn new(#(#params),*) -> Self {
                Self { #(#inits),* }
            }
        };
        (new, TokenStream::new())
    }

    /// The derives of a struct: `Default` when no field is required; for JSON, the serde
    /// directions it needs always and the others with `serde-full` (see [`Directions`]).
    fn derives(&self, name: &str, fields: &[Field], codec: Codec<'_>) -> TokenStream {
        let mut always = vec![quote!(Debug), quote!(Clone), quote!(PartialEq), quote!(Eq)];
        if !fields.iter().any(|f| f.required) {
            always.push(quote!(Default));
        }
        let mut full = Vec::new();
        if let Codec::Json { .. } = codec {
            let d = self.directions(name);
            // `Deserialize` is generated (`deserialize_impl`), not derived.
            if d.serialize { &mut always } else { &mut full }.push(quote!(serde::Serialize));
        }
        let full = (!full.is_empty())
            .then(|| quote!(#[cfg_attr(feature = "serde-full", derive(#(#full),*))]));
        quote! {
            #[derive(#(#always),*)]
            #full
        }
    }

    /// One field's declaration: its doc, the codec's attributes, and its type (`Option` unless
    /// required). For JSON, the attributes are those of serde's `Serialize` derive (the
    /// `Deserialize` impl is generated, see [`Emitter::deserialize_impl`]); `serialized`: whether
    /// the struct derives `Serialize` in every build, else only with `serde-full`.
    fn field_decl(&self, f: &Field, codec: Codec<'_>, serialized: bool) -> TokenStream {
        let rust = ident(&f.rust);
        let t = self.rust_type(&f.ty);
        let t = if f.required { t } else { quote!(Option<#t>) };
        let (doc, attrs) = match codec {
            Codec::Json { .. } => {
                let mut args = Vec::new();
                if f.rust != f.wire {
                    let w = &f.wire;
                    args.push(quote!(rename = #w));
                }
                if !f.required {
                    args.push(quote!(skip_serializing_if = "Option::is_none"));
                }
                let attrs = match (args.is_empty(), serialized) {
                    (true, _) => quote!(),
                    (false, true) => quote!(#[serde(#(#args),*)]),
                    (false, false) => {
                        quote!(#[cfg_attr(feature = "serde-full", serde(#(#args),*))])
                    }
                };
                (self.json_field_doc(f), attrs)
            }
            Codec::Xml { .. } => (xml_field_doc(f), quote!()),
        };
        let doc = docs(&doc);
        quote! { #doc #attrs pub #rust: #t, }
    }

    fn json_field_doc(&self, f: &Field) -> String {
        let mut doc = escape_doc(f.doc.trim());
        if doc.is_empty() {
            doc = format!("`{}`.", f.wire);
        }
        let mut facts = vec![if f.required { "Required." } else { "Optional." }.to_owned()];
        facts.extend(limit_facts(&f.ty));
        if f.review {
            facts.push("Changing it sends the card back to review (提审).".to_owned());
        }
        if f.rust != f.wire {
            facts.push(format!("JSON key `{}`.", f.wire));
        }
        format!("{doc}\n\n{}", facts.join(" "))
    }

    /// `impl Deserialize` of a JSON object type, leaner than serde's derive: one `visit_map`
    /// that reads each known key into a slot through the generic `crate::wire` readers (compiled
    /// once per field type, not once per field) and skips unknown keys. No `visit_seq` (WeChat
    /// never sends an object as an array, and serde's derive would compile one per type) and
    /// no field-identifier enum. `lenient`: a response reaches the type, so its integers also
    /// decode from numeric strings (`crate::wire::lenient_int`).
    ///
    /// Same behaviour as the derive otherwise: a required field missing is `missing field
    /// `…``, a duplicate key is `duplicate field `…``, an optional field absent or `null` is
    /// `None`.
    fn deserialize_impl(
        &self,
        name: &proc_macro2::Ident,
        fields: &[Field],
        lenient: bool,
    ) -> TokenStream {
        let expecting = format!("a JSON object ({name})");
        if fields.is_empty() {
            return quote! {
                impl<'de> serde::Deserialize<'de> for #name {
                    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                        crate::wire::deserialize_empty(deserializer, #expecting).map(|()| Self {})
                    }
                }
            };
        }
        let slots = fields.iter().map(|f| {
            let rust = ident(&f.rust);
            quote!(let mut #rust = None;)
        });
        let arms = fields.iter().map(|f| {
            let rust = ident(&f.rust);
            let wire = &f.wire;
            let read = if lenient && holds_ints(&f.ty) {
                quote!(crate::wire::lenient_field)
            } else {
                quote!(crate::wire::field)
            };
            quote!(#wire => #read(&mut map, &mut #rust, #wire)?,)
        });
        let inits = fields.iter().map(|f| {
            let rust = ident(&f.rust);
            let wire = &f.wire;
            if f.required {
                quote!(#rust: crate::wire::required::<_, A::Error>(#rust, #wire)?,)
            } else {
                quote!(#rust: #rust.flatten(),)
            }
        });
        quote! {
            impl<'de> serde::Deserialize<'de> for #name {
                fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                    struct Visitor;
                    impl<'de> serde::de::Visitor<'de> for Visitor {
                        type Value = #name;
                        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                            f.write_str(#expecting)
                        }
                        fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<#name, A::Error> {
                            #(#slots)*
                            while let Some(key) = map.next_key::<crate::wire::Key<'de>>()? {
                                match key.as_str() {
                                    #(#arms)*
                                    _ => crate::wire::skip_value(&mut map)?,
                                }
                            }
                            Ok(#name {
                                #(#inits)*
                            })
                        }
                    }
                    deserializer.deserialize_map(Visitor)
                }
            }
        }
    }

    /// `impl Validate`: one check per limit of a field (recursing into list items), then the
    /// cross-field rules.
    fn validate_impl(
        &self,
        name: &proc_macro2::Ident,
        fields: &[Field],
        rules: &[Rule],
    ) -> TokenStream {
        let mut checks = Vec::new();
        for f in fields {
            let rust = ident(&f.rust);
            let wire = f.wire.as_str();
            if f.required {
                let inner = self.checks(&f.ty, wire, quote!(&self.#rust));
                checks.extend(inner.into_iter().map(|c| quote!(#c?;)));
            } else {
                let inner = self.checks(&f.ty, wire, quote!(value));
                if !inner.is_empty() {
                    checks.push(quote! {
                        if let Some(value) = &self.#rust {
                            #(#inner?;)*
                        }
                    });
                }
            }
        }
        for rule in rules {
            checks.push(self.rule(rule, fields));
        }
        let body = if checks.is_empty() {
            quote!(Ok(()))
        } else {
            quote! {
                #(#checks)*
                Ok(())
            }
        };
        quote! {
            impl crate::Validate for #name {
                fn validate(&self) -> Result<(), crate::ValidationError> {
                    #body
                }
            }
        }
    }

    /// The checks of a value `v` (an expression of reference type) of type `ty`, in the field
    /// `field`: expressions of type `Result<(), ValidationError>`. A list's item checks nest
    /// inside `validate::each`, at any depth.
    fn checks(&self, ty: &Ty, field: &str, v: TokenStream) -> Vec<TokenStream> {
        let mut out = Vec::new();
        match ty {
            Ty::String { max_bytes: Some(n) } => {
                let n = Literal::usize_unsuffixed(*n as usize);
                out.push(quote!(crate::validate::max_bytes(#field, #v, #n)));
            }
            Ty::Int { kind, min, max } if min.is_some() || max.is_some() => {
                let (lo, hi) = bounds(*kind, *min, *max);
                out.push(quote!(crate::validate::range(#field, #v, #lo, #hi)));
            }
            Ty::Date => out.push(quote!(crate::validate::date(#field, #v))),
            Ty::Ref(id) if self.spec.needs_validation(*id) => {
                out.push(quote!(crate::validate::nested(#field, #v)));
            }
            Ty::List { item, min, max } => {
                if min.is_some() || max.is_some() {
                    let lo = opt_usize(*min);
                    let hi = opt_usize(*max);
                    out.push(quote!(crate::validate::items(#field, #v, #lo, #hi)));
                }
                let inner = self.checks(item, "", quote!(item));
                let check = match inner.as_slice() {
                    [] => None,
                    // A list of objects: each item validates itself.
                    _ if matches!(item.as_ref(), Ty::Ref(_)) => {
                        Some(quote!(crate::Validate::validate))
                    }
                    [one] => Some(quote!(|item| #one)),
                    // A list of lists with a limit on the inner list and on its items.
                    many => Some(quote!(|item| {
                        #(#many?;)*
                        Ok(())
                    })),
                };
                if let Some(check) = check {
                    out.push(quote!(crate::validate::each(#field, #v, #check)));
                }
            }
            _ => {}
        }
        out
    }

    fn rule(&self, rule: &Rule, fields: &[Field]) -> TokenStream {
        let field = |wire: &str| fields.iter().find(|f| f.wire == wire);
        let access = |wire: &str| {
            let f = field(wire)
                .map(|f| ident(&f.rust))
                .unwrap_or_else(|| ident(wire));
            quote!(self.#f)
        };
        match &rule.kind {
            RuleKind::DateSpan {
                begin,
                end,
                max_days,
            }
            | RuleKind::TimeSpan {
                begin,
                end,
                max_days,
            } => {
                // Both helpers take the two values by reference: `&str` dates or integers.
                let helper = if matches!(rule.kind, RuleKind::DateSpan { .. }) {
                    quote!(date_span)
                } else {
                    quote!(time_span)
                };
                let (b, e) = (access(begin), access(end));
                let days = Literal::u32_unsuffixed(*max_days);
                let b_req = field(begin).is_some_and(|f| f.required);
                let e_req = field(end).is_some_and(|f| f.required);
                match (b_req, e_req) {
                    (true, true) => quote! {
                        crate::validate::#helper(#begin, &#b, #end, &#e, #days)?;
                    },
                    _ => {
                        let bv = if b_req {
                            quote!(Some(&#b))
                        } else {
                            quote!(#b.as_ref())
                        };
                        let ev = if e_req {
                            quote!(Some(&#e))
                        } else {
                            quote!(#e.as_ref())
                        };
                        quote! {
                            if let (Some(begin), Some(end)) = (#bv, #ev) {
                                crate::validate::#helper(#begin, begin, #end, end, #days)?;
                            }
                        }
                    }
                }
            }
            RuleKind::Exclusive(names) | RuleKind::OneOf(names) => {
                let present = names.iter().map(|n| {
                    let a = access(n);
                    quote!(#a.is_some())
                });
                let helper = if matches!(rule.kind, RuleKind::OneOf(_)) {
                    quote!(one_of)
                } else {
                    quote!(exclusive)
                };
                quote! {
                    crate::validate::#helper(&[#(#names),*], &[#(#present),*])?;
                }
            }
            RuleKind::MaxTotal { fields: names, max } => {
                let lens = names.iter().map(|n| {
                    let a = access(n);
                    if field(n).is_some_and(|f| f.required) {
                        quote!(#a.len())
                    } else {
                        quote!(#a.as_ref().map_or(0, Vec::len))
                    }
                });
                let max = Literal::usize_unsuffixed(*max as usize);
                quote! {
                    crate::validate::max_total(&[#(#names),*], &[#(#lens),*], #max)?;
                }
            }
        }
    }

    fn enumeration(&self, ty: &TypeDef, values: &[EnumValue]) -> TokenStream {
        let name = ident(&ty.name);
        let d = self.directions(&ty.name);
        let (ser_gate, de_gate) = (
            Directions::gate(d.serialize),
            Directions::gate(d.deserialize),
        );
        let doc = docs(&format!(
            "{}\n\nA value this version does not know decodes as `Unknown` and is sent back unchanged.",
            type_doc(ty)
        ));
        let variants = values.iter().map(|v| {
            let r = ident(&v.rust);
            let text = if v.doc.trim().is_empty() {
                format!("`{}`.", v.wire)
            } else {
                format!("`{}`: {}", v.wire, escape_doc(v.doc.trim()))
            };
            let d = docs(&text);
            quote!(#d #r,)
        });
        let to_str = values.iter().map(|v| {
            let r = ident(&v.rust);
            let w = &v.wire;
            quote!(Self::#r => #w,)
        });
        let from_str = values.iter().map(|v| {
            let r = ident(&v.rust);
            let w = &v.wire;
            quote!(#w => Self::#r,)
        });
        quote! {
            #doc
            #[derive(Debug, Clone, PartialEq, Eq, Hash)]
            #[non_exhaustive]
            pub enum #name {
                #(#variants)*
                /// A value the spec does not list, kept as WeChat sent it.
                Unknown(String),
            }

            impl #name {
                /// The value as WeChat writes it.
                pub fn as_str(&self) -> &str {
                    match self {
                        #(#to_str)*
                        Self::Unknown(value) => value,
                    }
                }
            }

            impl From<&str> for #name {
                fn from(value: &str) -> Self {
                    match value {
                        #(#from_str)*
                        other => Self::Unknown(other.to_owned()),
                    }
                }
            }

            impl std::fmt::Display for #name {
                fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                    f.write_str(self.as_str())
                }
            }

            #ser_gate
            impl serde::Serialize for #name {
                fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                    serializer.serialize_str(self.as_str())
                }
            }

            #de_gate
            impl<'de> serde::Deserialize<'de> for #name {
                fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                    crate::wire::enum_value(deserializer).map(|value| Self::from(value.as_ref()))
                }
            }
        }
    }

    fn union(&self, ty: &TypeDef, tag: &str, variants: &[Variant]) -> TokenStream {
        let name = ident(&ty.name);
        let d = self.directions(&ty.name);
        let (ser_gate, de_gate) = (
            Directions::gate(d.serialize),
            Directions::gate(d.deserialize),
        );
        let doc = docs(&format!(
            "{}\n\nOn the wire: `{{\"{tag}\": \"TAG\", \"tag\": {{…}}}}`, the payload under the lower-cased tag. \
             A tag this version does not know decodes as `Unknown`, which keeps the whole JSON object.",
            type_doc(ty)
        ));
        let decls = variants.iter().map(|v| {
            let r = ident(&v.rust);
            let t = ident(self.spec.name(v.ty));
            let text = if v.doc.trim().is_empty() {
                format!("`{}`.", v.tag)
            } else {
                format!("`{}`: {}", v.tag, escape_doc(v.doc.trim()))
            };
            let d = docs(&text);
            quote!(#d #r(#t),)
        });
        let tags = variants.iter().map(|v| {
            let r = ident(&v.rust);
            let t = &v.tag;
            quote!(Self::#r(_) => #t,)
        });
        let ser = variants.iter().map(|v| {
            let r = ident(&v.rust);
            let (t, k) = (&v.tag, &v.payload_key);
            quote!(Self::#r(payload) => crate::wire::serialize_tagged(serializer, #tag, #t, #k, payload),)
        });
        let de = variants.iter().map(|v| {
            let r = ident(&v.rust);
            let (t, k) = (&v.tag, &v.payload_key);
            quote!(#t => object.payload(#k).map(Self::#r),)
        });
        let val = variants.iter().map(|v| {
            let r = ident(&v.rust);
            let k = &v.payload_key;
            if self.spec.needs_validation(v.ty) {
                quote!(Self::#r(payload) => crate::validate::nested(#k, payload),)
            } else {
                quote!(Self::#r(_) => Ok(()),)
            }
        });
        quote! {
            #doc
            #[derive(Debug, Clone, PartialEq, Eq)]
            #[non_exhaustive]
            #[allow(clippy::large_enum_variant)]
            pub enum #name {
                #(#decls)*
                /// A type the spec does not know: the whole JSON object, kept unchanged.
                Unknown(serde_json::Map<String, serde_json::Value>),
            }

            impl #name {
                /// The tag (`card_type`) as WeChat writes it.
                pub fn tag(&self) -> &str {
                    match self {
                        #(#tags)*
                        Self::Unknown(object) => crate::wire::unknown_tag(object, #tag),
                    }
                }
            }

            #ser_gate
            impl serde::Serialize for #name {
                fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                    match self {
                        #(#ser)*
                        Self::Unknown(object) => serde::Serialize::serialize(object, serializer),
                    }
                }
            }

            #de_gate
            impl<'de> serde::Deserialize<'de> for #name {
                fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                    let mut object = crate::wire::Tagged::deserialize(deserializer, #tag)?;
                    match object.tag() {
                        #(#de)*
                        _ => Ok(Self::Unknown(object.into_inner())),
                    }
                }
            }

            impl crate::Validate for #name {
                fn validate(&self) -> Result<(), crate::ValidationError> {
                    match self {
                        #(#val)*
                        Self::Unknown(_) => Ok(()),
                    }
                }
            }
        }
    }

    fn method(&self, file: &SpecFile, ep: &Endpoint) -> TokenStream {
        let method = match ep.method {
            Method::Get => "GET",
            Method::Post => "POST",
        };
        let retry = if ep.idempotent {
            "Idempotent: on `-1` (system busy), an HTTP 5xx or a transport failure the call is \
             retried with bounded backoff."
        } else {
            "Not idempotent: the library never sends this request twice (the one exception is a \
             rejected access token, which WeChat refuses before running the call)."
        };
        let mut text = format!("{} — `{method} {}`.", escape_doc(&ep.title), ep.path);
        if !ep.doc.trim().is_empty() {
            text.push_str("\n\n");
            text.push_str(&escape_doc(ep.doc.trim()));
        }
        text.push_str(&self.page_line(file, ep));
        text.push_str(&format!(
            "\n\nThe request is validated against the spec before any network I/O. {retry}"
        ));
        if ep.auth == Auth::ComponentAccessToken {
            text.push_str(
                "\n\nCalled with the open platform's `component_access_token` (第三方平台), which \
                 the client must be given with `ClientBuilder::component_token` or \
                 `ClientBuilder::component_token_provider`.",
            );
        }
        let name_of = |id: Option<TypeId>| id.map(|id| self.spec.name(id));
        match (name_of(ep.request), name_of(ep.response)) {
            (Some(req), Some(resp)) => {
                text.push_str(&format!("\n\nSends a [`{req}`] and returns a [`{resp}`]."))
            }
            (Some(req), None) => text.push_str(&format!(
                "\n\nSends a [`{req}`]; the answer has no fields besides `errcode` and `errmsg`."
            )),
            (None, Some(resp)) => {
                text.push_str(&format!("\n\nSends no fields and returns a [`{resp}`]."))
            }
            (None, None) => {}
        }
        self.call_fn(ep, &text, false)
    }

    /// The endpoint's `async fn` on `AsyncClient`: the same types and validation as the
    /// blocking method, whose documentation it links rather than repeats.
    fn async_method(&self, file: &SpecFile, ep: &Endpoint) -> TokenStream {
        let method = match ep.method {
            Method::Get => "GET",
            Method::Post => "POST",
        };
        let mut text = format!("{} — `{method} {}`.", escape_doc(&ep.title), ep.path);
        text.push_str(&self.page_line(file, ep));
        text.push_str(&format!(
            "\n\nThe async form of [`Client::{}`](crate::Client::{}), which documents it: the \
             same request and answer, validated before any network I/O, and the same retries.",
            ep.name, ep.name
        ));
        self.call_fn(ep, &text, true)
    }

    /// "Official page: …", the line every method's documentation has.
    fn page_line(&self, file: &SpecFile, ep: &Endpoint) -> String {
        match self.spec.page_of(file, ep) {
            Some(page) => match &page.url {
                Some(url) => format!("\n\nOfficial page: [{}]({url}).", escape_doc(&page.title)),
                None => format!(
                    "\n\nOfficial page: {} (no address known).",
                    escape_doc(&page.title)
                ),
            },
            None => String::new(),
        }
    }

    /// A client method of the endpoint with the documentation `text`: `Client`'s, or with
    /// `is_async` the `async fn` of `AsyncClient`.
    fn call_fn(&self, ep: &Endpoint, text: &str, is_async: bool) -> TokenStream {
        let name = ident(&ep.name);
        let konst = format_ident!("{}", ep.name.to_ascii_uppercase());
        let doc = docs(text);
        let (param, arg) = match ep.request {
            Some(r) => {
                let r = ident(self.spec.name(r));
                (quote!(request: &#r), quote!(request))
            }
            None => (quote!(), quote!(&crate::wire::Empty {})),
        };
        let (asyncness, awaited) = if is_async {
            (quote!(async), quote!(.await))
        } else {
            (quote!(), quote!())
        };
        match ep.response {
            Some(r) => {
                let r = ident(self.spec.name(r));
                quote! {
                    #doc
                    pub #asyncness fn #name(&self, #param) -> Result<#r, crate::Error> {
                        self.execute(&endpoint::#konst, #arg) #awaited
                    }
                }
            }
            None => quote! {
                #doc
                pub #asyncness fn #name(&self, #param) -> Result<(), crate::Error> {
                    self.execute_unit(&endpoint::#konst, #arg) #awaited
                }
            },
        }
    }

    /// For an event struct: the `EVENT`/`ELEMENTS` constants and `impl EventBody`, which reads
    /// and writes each field through the runtime's XML helpers (`crate::wire::xml_*`, `put_xml_*`).
    fn event_body(&self, name: &proc_macro2::Ident, ev: &EventDef) -> (TokenStream, TokenStream) {
        let event = &ev.event;
        let wires = ev.fields.iter().map(|f| f.wire.as_str());
        let consts = quote! {
            /// The `Event` element's value of this event.
            pub const EVENT: &'static str = #event;

            /// The XML elements of this event besides the common header, in spec order.
            pub const ELEMENTS: &'static [&'static str] = &[#(#wires),*];
        };
        let reads = ev.fields.iter().map(|f| {
            let rust = ident(&f.rust);
            let wire = f.wire.as_str();
            let t = self.rust_type(&f.ty);
            let read = match self.spec.xml_kind(&f.ty) {
                Some(XmlKind::Number) => {
                    quote!(crate::wire::xml_number::<#t>(fields, Self::EVENT, #wire)?)
                }
                Some(XmlKind::Enum) => quote!(crate::wire::xml_enum::<#t>(fields, #wire)),
                _ => quote!(crate::wire::xml_text(fields, #wire)),
            };
            if f.required {
                quote!(#rust: crate::wire::xml_required(Self::EVENT, #wire, #read)?)
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
            match self.spec.xml_kind(&f.ty) {
                Some(XmlKind::Number) => {
                    quote!(crate::wire::put_xml_number(fields, #wire, #value);)
                }
                _ => quote!(crate::wire::put_xml_text(fields, #wire, #value);),
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
        let impls = quote! {
            impl crate::events::EventBody for #name {
                fn from_fields(fields: &crate::events::EventFields) -> Result<Self, crate::events::EventError> {
                    #from_fields
                }

                fn to_fields(&self, fields: &mut crate::events::EventFields) {
                    #to_fields
                }
            }
        };
        (consts, impls)
    }
}

/// Whether [`Emitter::param_type`] differs from the field's type (an `impl Into<…>`).
fn converts(ty: &Ty) -> bool {
    matches!(ty, Ty::String { .. } | Ty::Date | Ty::Secret)
}

fn type_doc(ty: &TypeDef) -> String {
    let doc = escape_doc(ty.doc.trim());
    if doc.is_empty() {
        format!("`{}`.", ty.name)
    } else {
        doc
    }
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

fn xml_field_doc(f: &Field) -> String {
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

fn limit_facts(ty: &Ty) -> Vec<String> {
    match ty {
        Ty::String { max_bytes: Some(n) } => {
            let chars = if n % 3 == 0 {
                format!(" ({} Chinese characters)", n / 3)
            } else {
                String::new()
            };
            vec![format!("At most {n} bytes of UTF-8{chars}.")]
        }
        Ty::Int { kind, min, max } if min.is_some() || max.is_some() => {
            let (lo, hi) = bounds(*kind, *min, *max);
            vec![format!("From {lo} to {hi}.")]
        }
        Ty::Date => vec!["A date written `YYYY-MM-DD`.".to_owned()],
        Ty::List { item, min, max } => {
            let mut out = Vec::new();
            match (min, max) {
                (Some(a), Some(b)) => out.push(format!("{a} to {b} items.")),
                (Some(a), None) => out.push(format!("At least {a} items.")),
                (None, Some(b)) => out.push(format!("At most {b} items.")),
                (None, None) => {}
            }
            // A list of lists: "Each item: 1 to 3 items. Each item's item: At most 4 bytes …".
            out.extend(
                limit_facts(item)
                    .into_iter()
                    .map(|f| match f.strip_prefix("Each item") {
                        Some(rest) => format!("Each item's item{rest}"),
                        None => format!("Each item: {f}"),
                    }),
            );
            out
        }
        _ => Vec::new(),
    }
}

fn opt_usize(v: Option<u32>) -> TokenStream {
    match v {
        Some(n) => {
            let n = Literal::usize_unsuffixed(n as usize);
            quote!(Some(#n))
        }
        None => quote!(None),
    }
}

/// A builder setter `pub fn <field>(mut self, value: <param>) -> Self` that stores `value`
/// (converted by `into`), wrapped in `Some` for an optional field; its doc is the field doc's
/// first sentence.
fn setter(
    field: &str,
    required: bool,
    field_doc: &str,
    param: TokenStream,
    into: TokenStream,
) -> TokenStream {
    let rust = ident(field);
    let assign = if required {
        quote!(self.#rust = #into;)
    } else {
        quote!(self.#rust = Some(#into);)
    };
    let s = summary(&escape_doc(field_doc));
    let text = if s.is_empty() {
        format!("Sets `{field}`.")
    } else {
        format!("Sets `{field}`: {s}")
    };
    let doc = docs(&text);
    quote! {
        #doc
        pub fn #rust(mut self, value: #param) -> Self {
            #assign
            self
        }
    }
}

/// Whether a field of this type holds integers (itself or as list items, at any depth).
fn holds_ints(ty: &Ty) -> bool {
    match ty {
        Ty::Int { .. } => true,
        Ty::List { item, .. } => holds_ints(item),
        _ => false,
    }
}

/// The names of the types that `root` (an endpoint's request or response) reaches: the root
/// types, then every type named by their fields (through lists) and union payloads, transitively.
fn reached_from(spec: &Spec, root: impl Fn(&Endpoint) -> Option<TypeId>) -> HashSet<&str> {
    fn named(ty: &Ty) -> Option<TypeId> {
        match ty {
            Ty::Ref(id) => Some(*id),
            Ty::List { item, .. } => named(item),
            _ => None,
        }
    }
    let mut seen = HashSet::new();
    let mut todo: Vec<TypeId> = spec.endpoints().filter_map(|(_, ep)| root(ep)).collect();
    while let Some(id) = todo.pop() {
        let Some(def) = spec.def(id) else { continue };
        if !seen.insert(def.name.as_str()) {
            continue;
        }
        match &def.kind {
            TypeKind::Object { fields, .. } => {
                todo.extend(fields.iter().filter_map(|f| named(&f.ty)));
            }
            TypeKind::Union { variants, .. } => todo.extend(variants.iter().map(|v| v.ty)),
            TypeKind::Enum { .. } => {}
        }
    }
    seen
}
