//! The errcode catalog: the spec's top-level `errors:` key, from YAML to the generated
//! `ErrorCode` enum, the run-time `ERROR_CODES` table and `docs/errors.md`.
//!
//! Each entry is keyed by its code and gives the Rust variant name, the errmsg WeChat sends, the
//! meaning in Chinese and English and, for operational errors, a hint. The generated code only
//! declares: the lookups (`ErrorCode::info`, `meaning`, `hint`) are written once in the runtime
//! (`src/errcode.rs`).

use std::collections::HashMap;

use proc_macro2::{Literal, TokenStream};
use quote::quote;

use crate::check::RESERVED_TYPES;
use crate::diag::Problems;
use crate::emit::{docs, escape_doc, ident};
use crate::model::*;
use crate::parse::Cx;
use crate::yaml::{At, Node, Path};

/// The keys of one entry.
const ERROR_KEYS: &[&str] = &["name", "errmsg", "zh", "en", "hint"];

/// Names of the generated and runtime items, which a spec type must not shadow.
const RUNTIME_NAMES: &[&str] = &["ErrorCode", "ErrorCodeInfo"];

// ---------------------------------------------------------------------------------------------
// Parsing
// ---------------------------------------------------------------------------------------------

impl Cx<'_> {
    /// The `errors:` mapping of one file.
    pub(crate) fn errors(&mut self, node: &Node, path: &Path) -> Vec<ErrorDef> {
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
            obj.finish(self, ERROR_KEYS);
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

// ---------------------------------------------------------------------------------------------
// Checks
// ---------------------------------------------------------------------------------------------

/// Semantic checks of the catalog: names and codes unique across files, names usable as
/// variants, no spec type shadowing the generated items.
pub fn check(spec: &Spec, problems: &mut Problems) {
    for ty in spec.types() {
        if RUNTIME_NAMES.contains(&ty.name.as_str()) {
            problems.at_path(
                ty.origin.file,
                ty.origin.path.clone(),
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
            problems.at_path(e.origin.file, e.origin.path.key("name"), At::Value, message)
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
            problems.at_path(
                e.origin.file,
                e.origin.path.clone(),
                At::Key,
                format!(
                    "errcode {} is already described (as `{}`) in {}",
                    e.code, first.name, spec.files[first.origin.file].display
                ),
            );
        }
        for (key, text) in [("errmsg", &e.errmsg), ("zh", &e.zh), ("en", &e.en)] {
            if text.is_empty() {
                problems.at_path(
                    e.origin.file,
                    e.origin.path.key(key),
                    At::Value,
                    format!("`{key}` must not be empty"),
                );
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Emission
// ---------------------------------------------------------------------------------------------

fn code_literal(code: i64) -> TokenStream {
    let abs = Literal::u64_unsuffixed(code.unsigned_abs());
    if code < 0 {
        quote!(-#abs)
    } else {
        quote!(#abs)
    }
}

/// The `ErrorCode` enum and the `ERROR_CODES` table (nothing when the spec has no catalog).
pub fn emit_api(spec: &Spec) -> TokenStream {
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

// ---------------------------------------------------------------------------------------------
// docs/errors.md
// ---------------------------------------------------------------------------------------------

fn cell(text: &str) -> String {
    escape_doc(text).replace('|', "\\|").replace('\n', " ")
}

/// The Markdown table of every errcode, committed as `docs/errors.md`.
pub fn markdown(spec: &Spec) -> String {
    let mut out = String::new();
    out.push_str("<!-- @generated by wechat-card-codegen from spec/. Do not edit: change the spec and run `UPDATE_SNAPSHOTS=1 cargo test -p wechat-card-codegen`. -->\n\n");
    out.push_str("# Error codes\n\n");
    let count = spec.errors().count();
    out.push_str(&format!(
        "The {count} WeChat `errcode`s wechat-card knows, from `spec/errors.yaml`. An API error's \
         `code()` is the `ErrorCode` variant; its `Display` adds the meaning and, where there is \
         one, the hint after WeChat's errmsg. A code not listed here is `ErrorCode::Unknown`.\n\n"
    ));
    out.push_str("| errcode | `ErrorCode` | errmsg | 含义 | meaning | hint |\n");
    out.push_str("|---|---|---|---|---|---|\n");
    for e in spec.errors() {
        out.push_str(&format!(
            "| {} | `{}` | `{}` | {} | {} | {} |\n",
            e.code,
            e.name,
            e.errmsg.replace('|', "\\|").replace('`', "'"),
            cell(&e.zh),
            cell(&e.en),
            e.hint.as_deref().map(cell).unwrap_or_default(),
        ));
    }
    out
}
