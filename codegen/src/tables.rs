//! Stage 4b: the run-time tables of `api.rs`, which span every spec file.
//!
//! Takes: the linked, checked [`Spec`] and the names of the per-file outputs of
//! [`crate::emit`]. Gives: the tokens of `api.rs`: the per-file includes, the call descriptors
//! the `Client` methods pass to `execute` (path, method, auth, idempotent: nothing more, so that a
//! method links nothing else), the `ENDPOINTS`, `TYPES` and `EVENTS` tables, the hidden
//! `ENDPOINT_HOOKS` table the tests and the sandbox call through, and the `CardEvent` enum over every event.

use proc_macro2::{Literal, TokenStream};
use quote::{format_ident, quote};

use crate::model::*;
use crate::text::{bounds, docs, escape_doc, ident, raw_string};

pub struct Tables<'a> {
    spec: &'a Spec,
}

impl<'a> Tables<'a> {
    pub fn new(spec: &'a Spec) -> Self {
        Tables { spec }
    }

    /// `api.rs`: the per-file includes and the run-time tables.
    pub fn api(&self, file_names: &[String]) -> TokenStream {
        // Relative to this file, so that the same text works from `OUT_DIR` (the build) and from
        // the snapshot folder (the crate's test build compiles the edge fixture's snapshot).
        let includes = file_names.iter().map(|f| quote!(include!(#f);));
        let calls = self.spec.endpoints().map(|(_, ep)| self.call(ep));
        let infos = self
            .spec
            .endpoints()
            .map(|(file, ep)| self.endpoint_info(file, ep));
        let hooks = self.spec.endpoints().map(|(_, ep)| self.hooks(ep));
        let types = self.spec.types().map(|t| self.type_info(t));
        let events = self.events();
        let errors = errors(self.spec);
        quote! {
            #(#includes)*

            /// One call descriptor per endpoint of the spec; the `Client` methods pass them to
            /// `execute`, and nothing else: a method links its descriptor, not the tables below.
            pub(crate) mod endpoint {
                #(#calls)*
            }

            /// Every endpoint of the spec, in spec order.
            pub static ENDPOINTS: &[&crate::schema::EndpointInfo] = &[#(#infos),*];

            /// The tooling hooks of every endpoint, in the order of `ENDPOINTS`: for the tests and
            /// the sandbox (see `crate::tooling`), not part of the API.
            #[doc(hidden)]
            #[cfg(feature = "tooling")]
            pub static ENDPOINT_HOOKS: &[crate::tooling::EndpointHooks] = &[#(#hooks),*];

            /// Every type of the spec (named and inline), in spec order.
            pub static TYPES: &[crate::schema::TypeInfo] = &[#(#types),*];

            #events

            #errors
        }
    }

    /// The descriptor a `Client` method passes to `execute`: `endpoint::GET_CODE`.
    fn call(&self, ep: &Endpoint) -> TokenStream {
        let k = format_ident!("{}", ep.name.to_ascii_uppercase());
        let doc = docs(&format!("`{}` ({}).", ep.path, escape_doc(&ep.title)));
        let (path, http, auth, idem) = (&ep.path, method(ep), auth(ep), ep.idempotent);
        quote! {
            #doc
            pub(crate) static #k: crate::schema::Call = crate::schema::Call {
                path: #path,
                method: #http,
                auth: #auth,
                idempotent: #idem,
            };
        }
    }

    /// The endpoint's entry of `ENDPOINTS`: what the spec says about it, as data.
    fn endpoint_info(&self, file: &SpecFile, ep: &Endpoint) -> TokenStream {
        let (path, name, group, title) = (&ep.path, &ep.name, &file.stem, &ep.title);
        let (http, auth, idem) = (method(ep), auth(ep), ep.idempotent);
        let opt = |s: Option<TypeId>| match s {
            Some(id) => {
                let s = self.spec.name(id);
                quote!(Some(#s))
            }
            None => quote!(None),
        };
        let (req_name, resp_name) = (opt(ep.request), opt(ep.response));
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
            &crate::schema::EndpointInfo {
                path: #path,
                name: #name,
                group: #group,
                method: #http,
                auth: #auth,
                idempotent: #idem,
                title: #title,
                request: #req_name,
                response: #resp_name,
                examples: &[#(#examples),*],
            }
        }
    }

    /// The endpoint's entry of `ENDPOINT_HOOKS`: its request and response checks and a typed call
    /// from JSON, for tools.
    fn hooks(&self, ep: &Endpoint) -> TokenStream {
        let path = &ep.path;
        let check_request = match ep.request {
            Some(r) => {
                let r = ident(self.spec.name(r));
                quote!(crate::tooling::check_request::<#r>)
            }
            None => quote!(crate::tooling::check_request::<crate::wire::Empty>),
        };
        let method = ident(&ep.name);
        let invoke = match &ep.request {
            Some(_) => {
                quote!(|client, body| crate::tooling::invoke(body, |request| client.#method(request)))
            }
            None => {
                quote!(|client, body| crate::tooling::invoke(body, |_: &crate::wire::Empty| client.#method()))
            }
        };
        let check_response = match ep.response {
            Some(r) => {
                let r = ident(self.spec.name(r));
                quote!(crate::tooling::check_response::<#r>)
            }
            None => quote!(crate::tooling::check_response::<serde::de::IgnoredAny>),
        };
        let invoke_async = match ep.request {
            Some(r) => {
                let r = ident(self.spec.name(r));
                quote!(|client, body| Box::pin(async move {
                    let request: #r = crate::tooling::decode_request(body)?;
                    crate::tooling::encode_response(client.#method(&request).await)
                }))
            }
            None => quote!(|client, body| Box::pin(async move {
                let _: crate::wire::Empty = crate::tooling::decode_request(body)?;
                crate::tooling::encode_response(client.#method().await)
            })),
        };
        quote! {
            crate::tooling::EndpointHooks {
                path: #path,
                check_request: #check_request,
                check_response: #check_response,
                invoke: #invoke,
                #[cfg(feature = "async")]
                invoke_async: #invoke_async,
            }
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
                    quote!(crate::tooling::check_json::<#id>),
                )
            }
            TypeKind::Enum { values } => {
                let v = values.iter().map(|v| &v.wire);
                (
                    quote!(crate::schema::TypeKind::Enum { values: &[#(#v),*] }),
                    quote!(crate::tooling::check_decode::<#id>),
                )
            }
            TypeKind::Union { tag, variants } => {
                let v = variants.iter().map(|v| {
                    let (t, ty) = (&v.tag, self.spec.name(v.ty));
                    quote!((#t, #ty))
                });
                (
                    quote!(crate::schema::TypeKind::Union { tag: #tag, variants: &[#(#v),*] }),
                    quote!(crate::tooling::check_json::<#id>),
                )
            }
        };
        quote!(crate::schema::TypeInfo { name: #n, kind: #kind, #[cfg(feature = "tooling")] check: #check })
    }

    fn ty_info(&self, ty: &Ty) -> TokenStream {
        match ty {
            Ty::String { max_bytes } => {
                let m = match max_bytes {
                    Some(n) => {
                        let n = Literal::u32_unsuffixed(*n);
                        quote!(Some(#n))
                    }
                    None => quote!(None),
                };
                quote!(crate::schema::Ty::String { max_bytes: #m })
            }
            Ty::Bool => quote!(crate::schema::Ty::Bool),
            // A secret is a plain string on the wire.
            Ty::Secret => quote!(crate::schema::Ty::String { max_bytes: None }),
            Ty::Int { kind, min, max } => {
                let (lo, hi) = bounds(*kind, *min, *max);
                let rust = kind.name();
                let limited = min.is_some() || max.is_some();
                quote!(crate::schema::Ty::Int { rust: #rust, min: #lo, max: #hi, limited: #limited })
            }
            Ty::Date => quote!(crate::schema::Ty::Date),
            Ty::Json => quote!(crate::schema::Ty::Json),
            Ty::List { item, min, max } => {
                let item = self.ty_info(item);
                let (lo, hi) = (opt_u32(*min), opt_u32(*max));
                quote!(crate::schema::Ty::List { item: &#item, min_items: #lo, max_items: #hi })
            }
            Ty::Ref(id) => {
                let n = self.spec.name(*id);
                quote!(crate::schema::Ty::Ref(#n))
            }
        }
    }

    /// `CardEvent` (one variant per event, plus `Unknown`) and the `EVENTS` table, for `api.rs`.
    fn events(&self) -> TokenStream {
        let spec = self.spec;
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
                let ty = self.ty_info(&f.ty);
                quote!(crate::schema::FieldInfo { wire: #w, rust: #r, required: #req, review: #rev, ty: #ty })
            });
            let examples = ev.examples.iter().map(|ex| {
                let n = &ex.name;
                let xml = raw_string(&ex.xml);
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
}

fn method(ep: &Endpoint) -> TokenStream {
    match ep.method {
        Method::Get => quote!(crate::schema::HttpMethod::Get),
        Method::Post => quote!(crate::schema::HttpMethod::Post),
    }
}

fn auth(ep: &Endpoint) -> TokenStream {
    match ep.auth {
        Auth::AccessToken => quote!(crate::schema::Auth::AccessToken),
        Auth::ComponentAccessToken => quote!(crate::schema::Auth::ComponentAccessToken),
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

fn code_literal(code: i64) -> TokenStream {
    let abs = Literal::u64_unsuffixed(code.unsigned_abs());
    if code < 0 {
        quote!(-#abs)
    } else {
        quote!(#abs)
    }
}

/// The `ErrorCode` enum and the `ERROR_CODES` table (nothing when the spec has no catalog).
fn errors(spec: &Spec) -> TokenStream {
    let errors: Vec<&ErrorDef> = spec.errors().collect();
    if errors.is_empty() {
        return TokenStream::new();
    }
    let variants = errors.iter().map(|e| {
        let mut text = format!(
            "`{}`: {} ({})",
            e.code,
            escape_doc(&e.en),
            escape_doc(&e.zh)
        );
        if let Some(hint) = &e.hint {
            text.push_str(&format!("\n\nHint: {}", escape_doc(hint)));
        }
        let doc = docs(&text);
        let name = ident(&e.name);
        quote!(#doc #name,)
    });
    let from_arms = errors.iter().map(|e| {
        let (name, code) = (ident(&e.name), code_literal(e.code));
        quote!(#code => ErrorCode::#name,)
    });
    let code_arms = errors.iter().map(|e| {
        let (name, code) = (ident(&e.name), code_literal(e.code));
        quote!(ErrorCode::#name => #code,)
    });
    let infos = errors.iter().map(|e| {
        let code = code_literal(e.code);
        let (name, errmsg, zh, en) = (&e.name, &e.errmsg, &e.zh, &e.en);
        let hint = match &e.hint {
            Some(h) => quote!(Some(#h)),
            None => quote!(None),
        };
        quote! {
            crate::ErrorCodeInfo {
                code: #code,
                name: #name,
                errmsg: #errmsg,
                meaning_zh: #zh,
                meaning: #en,
                hint: #hint,
            }
        }
    });
    let count = errors.len();
    let enum_doc = docs(&format!(
        "A WeChat `errcode`, as described by the spec's catalog (`spec/errors.yaml`, {count} \
         codes; the table is `docs/errors.md`).\n\n\
         Get it from an error with [`ApiError::code`](crate::ApiError::code) or \
         [`Error::code`](crate::Error::code), and match on it instead of a number. A code the \
         catalog does not list is [`ErrorCode::Unknown`]; new variants may be added in any \
         release, so a `match` needs a wildcard arm. [`ErrorCode::meaning`] and \
         [`ErrorCode::hint`] tell what a code means and what to check."
    ));
    quote! {
        #enum_doc
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum ErrorCode {
            #(#variants)*
            /// A code the catalog does not list, kept as received.
            ///
            /// [`ErrorCode::from_code`] never returns it for a listed code.
            Unknown(i64),
        }

        impl ErrorCode {
            /// The variant of `code` ([`ErrorCode::Unknown`] for a code the catalog lacks).
            pub const fn from_code(code: i64) -> ErrorCode {
                match code {
                    #(#from_arms)*
                    other => ErrorCode::Unknown(other),
                }
            }

            /// The numeric `errcode`.
            pub const fn code(self) -> i64 {
                match self {
                    #(#code_arms)*
                    ErrorCode::Unknown(code) => code,
                }
            }
        }

        /// Every errcode of the spec's catalog, in spec order.
        pub static ERROR_CODES: &[crate::ErrorCodeInfo] = &[#(#infos),*];
    }
}
