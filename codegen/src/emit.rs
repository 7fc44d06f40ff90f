//! Stage 4: the model to Rust token streams, one pure function per kind of item.
//!
//! The emitted code is deliberately thin: it declares types and calls the hand-written helpers of
//! the runtime (`crate::validate::*`, `crate::wire::*`, `Client::execute`), where the logic lives.

use std::collections::HashMap;

use proc_macro2::{Ident, Literal, Span, TokenStream};
use quote::{format_ident, quote};

use crate::model::*;
use crate::types::{IntKind, TypeExpr};

pub(crate) fn ident(name: &str) -> Ident {
    Ident::new(name, Span::call_site())
}

/// Doc attributes from text: one `#[doc = " line"]` per line.
pub(crate) fn docs(text: &str) -> TokenStream {
    let mut out = TokenStream::new();
    let text = text.trim_end();
    for line in text.lines() {
        let line = if line.trim().is_empty() {
            String::new()
        } else {
            format!(" {}", line.trim_end())
        };
        out.extend(quote!(#[doc = #line]));
    }
    out
}

/// Makes prose from the spec safe for rustdoc: outside `code spans`, brackets and angle brackets
/// are escaped (no accidental intra-doc links or HTML tags) and bare URLs are wrapped in `<…>`.
pub fn escape_doc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for (i, part) in text.split('`').enumerate() {
        if i > 0 {
            out.push('`');
        }
        if i % 2 == 1 {
            out.push_str(part);
            continue;
        }
        let mut rest = part;
        while !rest.is_empty() {
            let url_at = ["https://", "http://"]
                .iter()
                .filter_map(|p| rest.find(p))
                .min();
            let (plain, tail) = match url_at {
                Some(at) => rest.split_at(at),
                None => (rest, ""),
            };
            for c in plain.chars() {
                match c {
                    '[' | ']' | '<' | '>' => {
                        out.push('\\');
                        out.push(c);
                    }
                    c => out.push(c),
                }
            }
            if tail.is_empty() {
                break;
            }
            let end = tail
                .find(|c: char| c.is_whitespace() || "，。、；）)\"'<>".contains(c))
                .unwrap_or(tail.len());
            out.push('<');
            out.push_str(&tail[..end]);
            out.push('>');
            rest = &tail[end..];
        }
    }
    out
}

/// First sentence-ish line of a doc, for setter docs.
pub(crate) fn summary(doc: &str) -> String {
    doc.lines().next().unwrap_or("").trim().to_owned()
}

pub struct Emitter<'a> {
    spec: &'a Spec,
    needs_check: HashMap<&'a str, bool>,
    /// For each request or response type, the endpoints that use it: `(endpoint, is_request)`.
    used_by: HashMap<&'a str, Vec<(&'a Endpoint, bool)>>,
}

impl<'a> Emitter<'a> {
    pub fn new(spec: &'a Spec) -> Self {
        let types: HashMap<&str, &TypeDef> = spec.types().map(|t| (t.name.as_str(), t)).collect();
        let mut needs_check = HashMap::new();
        for t in spec.types() {
            let mut visiting = Vec::new();
            compute_needs(&types, &t.name, &mut needs_check, &mut visiting);
        }
        let mut used_by: HashMap<&str, Vec<(&Endpoint, bool)>> = HashMap::new();
        for (_, ep) in spec.endpoints() {
            if let Some(r) = &ep.request {
                used_by.entry(r).or_default().push((ep, true));
            }
            if let Some(r) = &ep.response {
                used_by.entry(r).or_default().push((ep, false));
            }
        }
        Emitter {
            spec,
            needs_check,
            used_by,
        }
    }

    /// A type's doc, then links to the `Client` methods that send or return it.
    fn linked_type_doc(&self, ty: &TypeDef) -> String {
        let mut doc = type_doc(ty);
        for (ep, is_request) in self.used_by.get(ty.name.as_str()).into_iter().flatten() {
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

    fn needs(&self, name: &str) -> bool {
        self.needs_check.get(name).copied().unwrap_or(false)
    }

    /// The items of one spec file: its types and its `Client` methods.
    pub fn file(&self, file: &SpecFile) -> TokenStream {
        let mut out = TokenStream::new();
        for ty in &file.types {
            out.extend(match &ty.kind {
                TypeKind::Object { fields, rules } => self.object(ty, fields, rules),
                TypeKind::Enum { values } => self.enumeration(ty, values),
                TypeKind::Union { tag, variants } => self.union(ty, tag, variants),
            });
        }
        if !file.endpoints.is_empty() {
            let methods = file.endpoints.iter().map(|e| self.method(e));
            out.extend(quote! {
                impl crate::Client {
                    #(#methods)*
                }
            });
        }
        out.extend(crate::events::emit_file(self, self.spec, file));
        out
    }

    pub(crate) fn rust_type(&self, ty: &TypeExpr) -> TokenStream {
        match ty {
            TypeExpr::String { .. } | TypeExpr::Date => quote!(String),
            TypeExpr::Bool => quote!(bool),
            TypeExpr::Secret => quote!(crate::Secret),
            TypeExpr::Int { kind, .. } => {
                let k = ident(kind.name());
                quote!(#k)
            }
            TypeExpr::Json => quote!(serde_json::Value),
            TypeExpr::List { item, .. } => {
                let item = self.rust_type(item);
                quote!(Vec<#item>)
            }
            TypeExpr::Named(n) => {
                let n = ident(n);
                quote!(#n)
            }
            TypeExpr::Object | TypeExpr::Enum => quote!(serde_json::Value),
        }
    }

    fn field_doc(&self, f: &Field) -> String {
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

    fn object(&self, ty: &TypeDef, fields: &[Field], rules: &[Rule]) -> TokenStream {
        let name = ident(&ty.name);
        let doc = docs(&self.linked_type_doc(ty));
        let has_required = fields.iter().any(|f| f.required);
        let default = if has_required {
            quote!()
        } else {
            quote!(Default,)
        };
        let decls = fields.iter().map(|f| {
            let doc = docs(&self.field_doc(f));
            let rust = ident(&f.rust);
            let t = self.rust_type(&f.ty);
            let rename = if f.rust != f.wire {
                let w = &f.wire;
                quote!(#[serde(rename = #w)])
            } else {
                quote!()
            };
            if f.required {
                quote! { #doc #rename pub #rust: #t, }
            } else {
                quote! {
                    #doc
                    #rename
                    #[serde(default, skip_serializing_if = "Option::is_none")]
                    pub #rust: Option<#t>,
                }
            }
        });

        // Constructor and setters.
        let required: Vec<&Field> = fields.iter().filter(|f| f.required).collect();
        let params = required.iter().map(|f| {
            let rust = ident(&f.rust);
            let t = self.param_type(&f.ty);
            quote!(#rust: #t)
        });
        let inits = fields.iter().map(|f| {
            let rust = ident(&f.rust);
            if f.required {
                match f.ty {
                    TypeExpr::String { .. } | TypeExpr::Date | TypeExpr::Secret => {
                        quote!(#rust: #rust.into())
                    }
                    _ => quote!(#rust),
                }
            } else {
                quote!(#rust: None)
            }
        });
        let new_doc = if required.is_empty() {
            format!(
                "Creates an empty `{}`; set fields with the methods below.",
                ty.name
            )
        } else {
            let names: Vec<String> = required.iter().map(|f| format!("`{}`", f.rust)).collect();
            format!(
                "Creates a `{}` from its required fields ({}); optional fields are left out.",
                ty.name,
                names.join(", ")
            )
        };
        let new_doc = docs(&new_doc);
        // The spec decides how many fields are required; the constructor takes them all.
        let many_args = if required.len() > 7 {
            quote!(#[allow(clippy::too_many_arguments)])
        } else {
            quote!()
        };
        let setters = fields.iter().map(|f| {
            let t = self.param_type(&f.ty);
            let v = self.param_into(&f.ty, quote!(value));
            setter(&f.rust, f.required, &f.doc, t, v)
        });

        // Validation.
        let mut checks = Vec::new();
        for f in fields {
            let rust = ident(&f.rust);
            let wire = f.wire.as_str();
            if f.required {
                checks.extend(self.checks(&f.ty, wire, quote!(&self.#rust)));
            } else {
                let inner = self.checks(&f.ty, wire, quote!(value));
                if !inner.is_empty() {
                    checks.push(quote! {
                        if let Some(value) = &self.#rust {
                            #(#inner)*
                        }
                    });
                }
            }
        }
        for rule in rules {
            checks.push(self.rule(rule, fields));
        }
        let validate_body = if checks.is_empty() {
            quote!(Ok(()))
        } else {
            quote! {
                #(#checks)*
                Ok(())
            }
        };

        quote! {
            #doc
            #[derive(Debug, Clone, PartialEq, Eq, #default serde::Serialize, serde::Deserialize)]
            #[non_exhaustive]
            pub struct #name {
                #(#decls)*
            }

            impl #name {
                #new_doc
                #many_args
                pub fn new(#(#params),*) -> Self {
                    Self { #(#inits),* }
                }

                #(#setters)*
            }

            impl crate::Validate for #name {
                fn validate(&self) -> Result<(), crate::ValidationError> {
                    #validate_body
                }
            }
        }
    }

    fn param_type(&self, ty: &TypeExpr) -> TokenStream {
        match ty {
            TypeExpr::String { .. } | TypeExpr::Date => quote!(impl Into<String>),
            TypeExpr::Secret => quote!(impl Into<crate::Secret>),
            other => self.rust_type(other),
        }
    }

    fn param_into(&self, ty: &TypeExpr, value: TokenStream) -> TokenStream {
        match ty {
            TypeExpr::String { .. } | TypeExpr::Date | TypeExpr::Secret => quote!(#value.into()),
            _ => value,
        }
    }

    /// Check statements for a value `v` (an expression of reference type) of type `ty`.
    fn checks(&self, ty: &TypeExpr, wire: &str, v: TokenStream) -> Vec<TokenStream> {
        let mut out = Vec::new();
        match ty {
            TypeExpr::String { max_bytes: Some(n) } => {
                let n = Literal::usize_unsuffixed(*n as usize);
                out.push(quote!(crate::validate::max_bytes(#wire, #v, #n)?;));
            }
            TypeExpr::Int { kind, min, max } if min.is_some() || max.is_some() => {
                let (lo, hi) = bounds(*kind, *min, *max);
                out.push(quote!(crate::validate::range(#wire, #v, #lo, #hi)?;));
            }
            TypeExpr::Date => out.push(quote!(crate::validate::date(#wire, #v)?;)),
            TypeExpr::Named(n) if self.needs(n) => {
                out.push(quote!(crate::validate::nested(#wire, #v)?;));
            }
            TypeExpr::List { item, min, max } => {
                if min.is_some() || max.is_some() {
                    let lo = opt_usize(*min);
                    let hi = opt_usize(*max);
                    out.push(quote!(crate::validate::items(#wire, #v, #lo, #hi)?;));
                }
                match item.as_ref() {
                    TypeExpr::String { max_bytes: Some(n) } => {
                        let n = Literal::usize_unsuffixed(*n as usize);
                        out.push(quote!(crate::validate::each_max_bytes(#wire, #v, #n)?;));
                    }
                    TypeExpr::Int { kind, min, max } if min.is_some() || max.is_some() => {
                        let (lo, hi) = bounds(*kind, *min, *max);
                        out.push(quote!(crate::validate::each_range(#wire, #v, #lo, #hi)?;));
                    }
                    TypeExpr::Date => out.push(quote!(crate::validate::each_date(#wire, #v)?;)),
                    TypeExpr::Named(n) if self.needs(n) => {
                        out.push(quote!(crate::validate::each(#wire, #v)?;));
                    }
                    _ => {}
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

            impl serde::Serialize for #name {
                fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                    serializer.serialize_str(self.as_str())
                }
            }

            impl<'de> serde::Deserialize<'de> for #name {
                fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                    crate::wire::enum_value(deserializer).map(|value| Self::from(value.as_ref()))
                }
            }
        }
    }

    fn union(&self, ty: &TypeDef, tag: &str, variants: &[Variant]) -> TokenStream {
        let name = ident(&ty.name);
        let doc = docs(&format!(
            "{}\n\nOn the wire: `{{\"{tag}\": \"TAG\", \"tag\": {{…}}}}`, the payload under the lower-cased tag. \
             A tag this version does not know decodes as `Unknown`, which keeps the whole JSON object.",
            type_doc(ty)
        ));
        let decls = variants.iter().map(|v| {
            let r = ident(&v.rust);
            let t = ident(&v.ty);
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
            if self.needs(&v.ty) {
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

            impl serde::Serialize for #name {
                fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                    match self {
                        #(#ser)*
                        Self::Unknown(object) => serde::Serialize::serialize(object, serializer),
                    }
                }
            }

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

    fn method(&self, ep: &Endpoint) -> TokenStream {
        let name = ident(&ep.name);
        let konst = format_ident!("{}", ep.name.to_ascii_uppercase());
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
        match (&ep.request, &ep.response) {
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
        let doc = docs(&text);
        let (param, arg) = match &ep.request {
            Some(r) => {
                let r = ident(r);
                (quote!(request: &#r), quote!(request))
            }
            None => (quote!(), quote!(&crate::wire::Empty {})),
        };
        match &ep.response {
            Some(r) => {
                let r = ident(r);
                quote! {
                    #doc
                    pub fn #name(&self, #param) -> Result<#r, crate::Error> {
                        self.execute(&endpoint::#konst, #arg)
                    }
                }
            }
            None => quote! {
                #doc
                pub fn #name(&self, #param) -> Result<(), crate::Error> {
                    self.execute_unit(&endpoint::#konst, #arg)
                }
            },
        }
    }

    /// `api.rs`: the per-file includes and the run-time tables.
    pub fn api(&self, file_names: &[String]) -> TokenStream {
        let includes = file_names.iter().map(|f| {
            let path = format!("/{f}");
            quote!(include!(concat!(env!("OUT_DIR"), #path));)
        });
        let statics = self
            .spec
            .endpoints()
            .map(|(file, ep)| self.endpoint_static(file, ep));
        let refs = self.spec.endpoints().map(|(_, ep)| {
            let k = format_ident!("{}", ep.name.to_ascii_uppercase());
            quote!(&endpoint::#k)
        });
        let types = self.spec.types().map(|t| self.type_info(t));
        let events = crate::events::emit_api(self, self.spec);
        let errors = crate::errors::emit_api(self.spec);
        quote! {
            #(#includes)*

            /// One descriptor per endpoint of the spec; the `Client` methods pass them to `execute`.
            pub(crate) mod endpoint {
                #(#statics)*
            }

            /// Every endpoint of the spec, in spec order.
            pub static ENDPOINTS: &[&crate::schema::EndpointInfo] = &[#(#refs),*];

            /// Every type of the spec (named and inline), in spec order.
            pub static TYPES: &[crate::schema::TypeInfo] = &[#(#types),*];

            #events

            #errors
        }
    }

    fn endpoint_static(&self, file: &SpecFile, ep: &Endpoint) -> TokenStream {
        let k = format_ident!("{}", ep.name.to_ascii_uppercase());
        let (path, name, group, title) = (&ep.path, &ep.name, &file.stem, &ep.title);
        let http = match ep.method {
            Method::Get => quote!(crate::schema::HttpMethod::Get),
            Method::Post => quote!(crate::schema::HttpMethod::Post),
        };
        let idem = ep.idempotent;
        let auth = match ep.auth {
            Auth::AccessToken => quote!(crate::schema::Auth::AccessToken),
            Auth::ComponentAccessToken => quote!(crate::schema::Auth::ComponentAccessToken),
        };
        let doc = docs(&format!("`{}` ({}).", ep.path, escape_doc(&ep.title)));
        let opt = |s: &Option<String>| match s {
            Some(s) => quote!(Some(#s)),
            None => quote!(None),
        };
        let (req_name, resp_name) = (opt(&ep.request), opt(&ep.response));
        let check_request = match &ep.request {
            Some(r) => {
                let r = ident(r);
                quote!(crate::wire::check_request::<super::#r>)
            }
            None => quote!(crate::wire::check_request::<crate::wire::Empty>),
        };
        let method = ident(&ep.name);
        let invoke = match &ep.request {
            Some(_) => {
                quote!(|client, body| crate::wire::invoke(body, |request| client.#method(request)))
            }
            None => {
                quote!(|client, body| crate::wire::invoke(body, |_: &crate::wire::Empty| client.#method()))
            }
        };
        let check_response = match &ep.response {
            Some(r) => {
                let r = ident(r);
                quote!(crate::wire::check_response::<super::#r>)
            }
            None => quote!(crate::wire::check_response::<serde::de::IgnoredAny>),
        };
        let raw = |s: &Option<String>| match s {
            Some(s) => {
                let lit = raw_string(s);
                quote!(Some(#lit))
            }
            None => quote!(None),
        };
        let examples = ep.examples.iter().map(|ex| {
            let n = &ex.name;
            let (rq, rs) = (raw(&ex.request), raw(&ex.response));
            quote!(crate::schema::Example { name: #n, request: #rq, response: #rs })
        });
        quote! {
            #doc
            pub(crate) static #k: crate::schema::EndpointInfo = crate::schema::EndpointInfo {
                path: #path,
                name: #name,
                group: #group,
                method: #http,
                auth: #auth,
                idempotent: #idem,
                title: #title,
                request: #req_name,
                response: #resp_name,
                check_request: #check_request,
                check_response: #check_response,
                invoke: #invoke,
                examples: &[#(#examples),*],
            };
        }
    }

    fn type_info(&self, t: &TypeDef) -> TokenStream {
        let n = &t.name;
        let id = ident(n);
        let (kind, check) = match &t.kind {
            TypeKind::Object { fields, rules } => {
                let fields = fields.iter().map(|f| {
                    let (w, r, req, rev) = (&f.wire, &f.rust, f.required, f.review);
                    let ty = self.ty_info(&f.ty);
                    quote!(crate::schema::FieldInfo { wire: #w, rust: #r, required: #req, review: #rev, ty: #ty })
                });
                let rules = rules.iter().map(|r| match &r.kind {
                    RuleKind::DateSpan { begin, end, max_days } => {
                        let d = Literal::u32_unsuffixed(*max_days);
                        quote!(crate::schema::RuleInfo::DateSpan { begin: #begin, end: #end, max_days: #d })
                    }
                    RuleKind::TimeSpan { begin, end, max_days } => {
                        let d = Literal::u32_unsuffixed(*max_days);
                        quote!(crate::schema::RuleInfo::TimeSpan { begin: #begin, end: #end, max_days: #d })
                    }
                    RuleKind::Exclusive(f) => quote!(crate::schema::RuleInfo::Exclusive(&[#(#f),*])),
                    RuleKind::OneOf(f) => quote!(crate::schema::RuleInfo::OneOf(&[#(#f),*])),
                    RuleKind::MaxTotal { fields, max } => {
                        let m = Literal::u32_unsuffixed(*max);
                        quote!(crate::schema::RuleInfo::MaxTotal { fields: &[#(#fields),*], max: #m })
                    }
                });
                (
                    quote!(crate::schema::TypeKind::Object { fields: &[#(#fields),*], rules: &[#(#rules),*] }),
                    quote!(crate::wire::check_json::<#id>),
                )
            }
            TypeKind::Enum { values } => {
                let v = values.iter().map(|v| &v.wire);
                (
                    quote!(crate::schema::TypeKind::Enum { values: &[#(#v),*] }),
                    quote!(crate::wire::check_decode::<#id>),
                )
            }
            TypeKind::Union { tag, variants } => {
                let v = variants.iter().map(|v| {
                    let (t, ty) = (&v.tag, &v.ty);
                    quote!((#t, #ty))
                });
                (
                    quote!(crate::schema::TypeKind::Union { tag: #tag, variants: &[#(#v),*] }),
                    quote!(crate::wire::check_json::<#id>),
                )
            }
        };
        quote!(crate::schema::TypeInfo { name: #n, kind: #kind, check: #check })
    }

    pub(crate) fn ty_info(&self, ty: &TypeExpr) -> TokenStream {
        match ty {
            TypeExpr::String { max_bytes } => {
                let m = match max_bytes {
                    Some(n) => {
                        let n = Literal::u32_unsuffixed(*n);
                        quote!(Some(#n))
                    }
                    None => quote!(None),
                };
                quote!(crate::schema::Ty::String { max_bytes: #m })
            }
            TypeExpr::Bool => quote!(crate::schema::Ty::Bool),
            // A secret is a plain string on the wire.
            TypeExpr::Secret => quote!(crate::schema::Ty::String { max_bytes: None }),
            TypeExpr::Int { kind, min, max } => {
                let (lo, hi) = bounds(*kind, *min, *max);
                let rust = kind.name();
                let limited = min.is_some() || max.is_some();
                quote!(crate::schema::Ty::Int { rust: #rust, min: #lo, max: #hi, limited: #limited })
            }
            TypeExpr::Date => quote!(crate::schema::Ty::Date),
            TypeExpr::Json | TypeExpr::Object | TypeExpr::Enum => quote!(crate::schema::Ty::Json),
            TypeExpr::List { item, min, max } => {
                let item = self.ty_info(item);
                let (lo, hi) = (opt_u32(*min), opt_u32(*max));
                quote!(crate::schema::Ty::List { item: &#item, min_items: #lo, max_items: #hi })
            }
            TypeExpr::Named(n) => quote!(crate::schema::Ty::Ref(#n)),
        }
    }
}

/// A raw string literal (`r#"…"#`), so that JSON reads as JSON in the generated code.
pub(crate) fn raw_string(text: &str) -> TokenStream {
    let mut hashes = String::from("#");
    while text.contains(&format!("\"{hashes}")) {
        hashes.push('#');
    }
    let source = format!("r{hashes}\"{text}\"{hashes}");
    source.parse().unwrap_or_else(|_| quote!(#text))
}

fn type_doc(ty: &TypeDef) -> String {
    let doc = escape_doc(ty.doc.trim());
    if doc.is_empty() {
        format!("`{}`.", ty.name)
    } else {
        doc
    }
}

fn limit_facts(ty: &TypeExpr) -> Vec<String> {
    match ty {
        TypeExpr::String { max_bytes: Some(n) } => {
            let chars = if n % 3 == 0 {
                format!(" ({} Chinese characters)", n / 3)
            } else {
                String::new()
            };
            vec![format!("At most {n} bytes of UTF-8{chars}.")]
        }
        TypeExpr::Int { kind, min, max } if min.is_some() || max.is_some() => {
            let (lo, hi) = bounds(*kind, *min, *max);
            vec![format!("From {lo} to {hi}.")]
        }
        TypeExpr::Date => vec!["A date written `YYYY-MM-DD`.".to_owned()],
        TypeExpr::List { item, min, max } => {
            let mut out = Vec::new();
            match (min, max) {
                (Some(a), Some(b)) => out.push(format!("{a} to {b} items.")),
                (Some(a), None) => out.push(format!("At least {a} items.")),
                (None, Some(b)) => out.push(format!("At most {b} items.")),
                (None, None) => {}
            }
            out.extend(
                limit_facts(item)
                    .into_iter()
                    .map(|f| format!("Each item: {f}")),
            );
            out
        }
        _ => Vec::new(),
    }
}

fn bounds(kind: IntKind, min: Option<i128>, max: Option<i128>) -> (Literal, Literal) {
    let (lo, hi) = kind.bounds();
    (
        Literal::i128_unsuffixed(min.unwrap_or(lo)),
        Literal::i128_unsuffixed(max.unwrap_or(hi)),
    )
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

fn opt_u32(v: Option<u32>) -> TokenStream {
    match v {
        Some(n) => {
            let n = Literal::u32_unsuffixed(n);
            quote!(Some(#n))
        }
        None => quote!(None),
    }
}

fn compute_needs<'a>(
    types: &HashMap<&'a str, &'a TypeDef>,
    name: &'a str,
    memo: &mut HashMap<&'a str, bool>,
    visiting: &mut Vec<&'a str>,
) -> bool {
    if let Some(v) = memo.get(name) {
        return *v;
    }
    if visiting.contains(&name) {
        return false;
    }
    let Some(t) = types.get(name) else {
        return false;
    };
    visiting.push(name);
    let result = match &t.kind {
        TypeKind::Enum { .. } => false,
        TypeKind::Union { variants, .. } => variants
            .iter()
            .any(|v| compute_needs(types, &v.ty, memo, visiting)),
        TypeKind::Object { fields, rules } => {
            !rules.is_empty()
                || fields
                    .iter()
                    .any(|f| expr_needs(types, &f.ty, memo, visiting))
        }
    };
    visiting.pop();
    memo.insert(name, result);
    result
}

fn expr_needs<'a>(
    types: &HashMap<&'a str, &'a TypeDef>,
    ty: &'a TypeExpr,
    memo: &mut HashMap<&'a str, bool>,
    visiting: &mut Vec<&'a str>,
) -> bool {
    match ty {
        TypeExpr::String { max_bytes } => max_bytes.is_some(),
        TypeExpr::Int { min, max, .. } => min.is_some() || max.is_some(),
        TypeExpr::Date => true,
        TypeExpr::List { item, min, max } => {
            min.is_some() || max.is_some() || expr_needs(types, item, memo, visiting)
        }
        TypeExpr::Named(n) => compute_needs(types, n, memo, visiting),
        _ => false,
    }
}

/// A builder setter `pub fn <field>(mut self, value: <param>) -> Self` that stores `value`
/// (converted by `into`), wrapped in `Some` for an optional field; its doc is the field doc's
/// first sentence.
pub(crate) fn setter(
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doc_escaping() {
        assert_eq!(escape_doc("a [b] <c> `[d]`"), "a \\[b\\] \\<c\\> `[d]`");
        assert_eq!(
            escape_doc("see http://x.com/a?b=1 now"),
            "see <http://x.com/a?b=1> now"
        );
        assert_eq!(escape_doc("链接http://x.com。"), "链接<http://x.com>。");
        assert_eq!(escape_doc("**bold**"), "**bold**");
    }
}
