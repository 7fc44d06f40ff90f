//! Stage 2: the resolved model.
//!
//! Takes: nothing by itself; [`crate::parse`] fills it from the YAML of each file, then
//! [`Spec::link`] binds every type name to its definition.
//! Gives: the data every later stage works on. Nothing after parsing reads YAML: names are Rust
//! identifiers, inline objects and enums are hoisted to named types, limits are plain data, and a
//! field's type is a [`Ty`] whose references are [`TypeId`]s into one table ([`Spec::def`]), not
//! strings. Whether a type needs validation is computed once, here ([`Spec::needs_validation`]).

use std::collections::HashMap;
use std::fmt;

use crate::types::IntKind;
use crate::yaml::Path;

/// The whole spec.
#[derive(Debug, Default)]
pub struct Spec {
    pub files: Vec<SpecFile>,
    /// Every type name the spec defines or mentions, interned while parsing.
    pub names: Names,
    /// Where each [`TypeId`] is defined (`(file, index in file.types)`), once [`Spec::link`] ran.
    defs: Vec<Option<(usize, usize)>>,
    /// Whether each [`TypeId`]'s values need checking, once [`Spec::link`] ran.
    needs: Vec<bool>,
}

/// A type name, interned: an index into [`Names`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TypeId(usize);

/// The table of type names: one [`TypeId`] per distinct name.
#[derive(Debug, Default)]
pub struct Names {
    names: Vec<String>,
    ids: HashMap<String, TypeId>,
}

impl Names {
    /// The id of `name`, allocated on first use.
    pub fn intern(&mut self, name: &str) -> TypeId {
        if let Some(id) = self.ids.get(name) {
            return *id;
        }
        let id = TypeId(self.names.len());
        self.names.push(name.to_owned());
        self.ids.insert(name.to_owned(), id);
        id
    }

    /// The name of `id`.
    pub fn name(&self, id: TypeId) -> &str {
        &self.names[id.0]
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }
}

/// A field's type, resolved: no inline placeholders, references by [`TypeId`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ty {
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
        item: Box<Ty>,
        min: Option<u32>,
        max: Option<u32>,
    },
    /// A named type: one of `types:`, or an inline object/enum hoisted by the parser.
    Ref(TypeId),
}

impl Ty {
    /// Whether a value of this type has something to check, given the answer for named types.
    pub fn needs_validation(&self, named: &mut impl FnMut(TypeId) -> bool) -> bool {
        match self {
            Ty::String { max_bytes } => max_bytes.is_some(),
            Ty::Int { min, max, .. } => min.is_some() || max.is_some(),
            Ty::Date => true,
            Ty::List { item, min, max } => {
                min.is_some() || max.is_some() || item.needs_validation(named)
            }
            Ty::Ref(id) => named(*id),
            Ty::Bool | Ty::Secret | Ty::Json => false,
        }
    }
}

/// A [`Ty`] written as in the spec (`list<string(6)>(1..=3)`), for messages.
pub struct ShowTy<'a>(&'a Ty, &'a Names);

impl fmt::Display for ShowTy<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let range =
            |f: &mut fmt::Formatter<'_>, min: Option<String>, max: Option<String>| match (min, max)
            {
                (None, None) => Ok(()),
                (Some(a), None) => write!(f, "({a}..)"),
                (None, Some(b)) => write!(f, "(..={b})"),
                (Some(a), Some(b)) => write!(f, "({a}..={b})"),
            };
        match self.0 {
            Ty::String { max_bytes: None } => f.write_str("string"),
            Ty::String { max_bytes: Some(n) } => write!(f, "string({n})"),
            Ty::Bool => f.write_str("bool"),
            Ty::Secret => f.write_str("secret"),
            Ty::Int { kind, min, max } => {
                f.write_str(kind.name())?;
                range(f, min.map(|v| v.to_string()), max.map(|v| v.to_string()))
            }
            Ty::Date => f.write_str("date"),
            Ty::Json => f.write_str("json"),
            Ty::List { item, min, max } => {
                write!(f, "list<{}>", ShowTy(item, self.1))?;
                range(f, min.map(|v| v.to_string()), max.map(|v| v.to_string()))
            }
            Ty::Ref(id) => f.write_str(self.1.name(*id)),
        }
    }
}

/// One YAML file of the spec.
#[derive(Debug)]
pub struct SpecFile {
    /// File stem, the endpoints' group: `consume`.
    pub stem: String,
    /// Path shown in messages and headers: `spec/consume.yaml`.
    pub display: String,
    /// The YAML text (kept only to position error messages).
    pub text: String,
    pub types: Vec<TypeDef>,
    pub endpoints: Vec<Endpoint>,
    /// Endpoints deliberately not covered: `(path, reason, origin)`.
    pub excluded: Vec<(String, String, Origin)>,
    /// Events WeChat pushes to the merchant's server (`events:`).
    pub events: Vec<EventDef>,
    /// WeChat's error codes (`errors:`), the catalog behind the generated `ErrorCode`.
    pub errors: Vec<ErrorDef>,
    /// The file's default official page (`page:`) for endpoints that name none, with where it
    /// was written.
    pub page: Option<(String, Origin)>,
    /// The official pages endpoints come from (`pages:`, in `spec/sources.yaml`).
    pub pages: Vec<PageDef>,
    /// The sources the spec's comments cite by tag (`sources:`, in `spec/sources.yaml`).
    pub sources: Vec<SourceDef>,
}

/// An official documentation page, keyed by a short name endpoints refer to (`page: manage`).
#[derive(Debug)]
pub struct PageDef {
    pub key: String,
    /// The page's title as WeChat shows it: `管理卡券`.
    pub title: String,
    /// Its address; `None` when no address is known (the note says why).
    pub url: Option<String>,
    pub note: Option<String>,
    pub origin: Origin,
}

/// A source the spec's comments cite by tag (`W`, `M1`, …).
#[derive(Debug)]
pub struct SourceDef {
    pub tag: String,
    /// What it is, in one line.
    pub name: String,
    /// Where to find it (a repository or page address), if it has one.
    pub url: Option<String>,
    /// The version looked at (a commit, a date).
    pub snapshot: Option<String>,
    /// What the spec takes from it.
    pub used_for: Option<String>,
    pub origin: Origin,
}

/// One entry of the errcode catalog (`errors:`), keyed by its code.
#[derive(Debug)]
pub struct ErrorDef {
    pub code: i64,
    /// The `ErrorCode` variant: `IpNotWhitelisted`.
    pub name: String,
    /// The errmsg WeChat sends with it.
    pub errmsg: String,
    pub zh: String,
    pub en: String,
    pub hint: Option<String>,
    pub origin: Origin,
}

/// One pushed event (`MsgType` `event`), keyed by its `Event` value.
#[derive(Debug)]
pub struct EventDef {
    /// The `Event` element's value: `user_get_card`.
    pub event: String,
    /// The Rust struct: `UserGetCardEvent`.
    pub name: String,
    /// The `CardEvent` variant: `UserGetCard`.
    pub variant: String,
    pub title: String,
    pub doc: String,
    /// The XML elements besides the common header (`ToUserName`, `FromUserName`, `CreateTime`,
    /// `MsgType`, `Event`); `wire` is the element name.
    pub fields: Vec<Field>,
    pub examples: Vec<EventExample>,
    pub origin: Origin,
}

/// A documented XML message of an event.
#[derive(Debug)]
pub struct EventExample {
    pub name: String,
    pub xml: String,
    pub origin: Origin,
}

/// Where something was defined: file index and path inside the file.
#[derive(Debug, Clone)]
pub struct Origin {
    pub file: usize,
    pub path: Path,
}

#[derive(Debug)]
pub struct TypeDef {
    pub name: String,
    /// The interned [`Names`] entry of `name`.
    pub id: TypeId,
    pub doc: String,
    pub kind: TypeKind,
    pub origin: Origin,
}

#[derive(Debug)]
pub enum TypeKind {
    Object {
        fields: Vec<Field>,
        rules: Vec<Rule>,
    },
    Enum {
        values: Vec<EnumValue>,
    },
    Union {
        tag: String,
        variants: Vec<Variant>,
    },
}

#[derive(Debug)]
pub struct Field {
    pub wire: String,
    pub rust: String,
    pub required: bool,
    pub review: bool,
    pub doc: String,
    pub ty: Ty,
    pub origin: Origin,
}

#[derive(Debug)]
pub struct EnumValue {
    pub wire: String,
    pub rust: String,
    pub doc: String,
    pub origin: Origin,
}

#[derive(Debug)]
pub struct Variant {
    pub tag: String,
    pub rust: String,
    pub payload_key: String,
    pub ty: TypeId,
    pub doc: String,
    pub origin: Origin,
}

#[derive(Debug)]
pub enum RuleKind {
    DateSpan {
        begin: String,
        end: String,
        max_days: u32,
    },
    /// Integer Unix-second timestamps: `begin <= end` and `end - begin <= max_days * 86400`.
    ///
    /// A rule of its own rather than `date_span` over integer fields: a date span counts calendar
    /// days with both ends included (2015-06-01..2015-08-01 is 62 days), a time span counts
    /// elapsed seconds (31 days is exactly 2 678 400 s). One rule kind with two meanings of
    /// `max_days`, chosen by the fields' types, would be easy to misread in the spec.
    TimeSpan {
        begin: String,
        end: String,
        max_days: u32,
    },
    Exclusive(Vec<String>),
    OneOf(Vec<String>),
    MaxTotal {
        fields: Vec<String>,
        max: u32,
    },
}

#[derive(Debug)]
pub struct Rule {
    pub kind: RuleKind,
    pub origin: Origin,
}

impl RuleKind {
    /// The wire names of the fields the rule reads.
    pub fn fields(&self) -> Vec<&str> {
        match self {
            RuleKind::DateSpan { begin, end, .. } | RuleKind::TimeSpan { begin, end, .. } => {
                vec![begin, end]
            }
            RuleKind::Exclusive(f) | RuleKind::OneOf(f) => f.iter().map(String::as_str).collect(),
            RuleKind::MaxTotal { fields, .. } => fields.iter().map(String::as_str).collect(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
}

/// Which token an endpoint is called with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    /// The official account's access_token (the default).
    AccessToken,
    /// The open platform's (第三方平台) component_access_token.
    ComponentAccessToken,
}

#[derive(Debug)]
pub struct Endpoint {
    pub path: String,
    pub name: String,
    pub method: Method,
    pub auth: Auth,
    pub idempotent: bool,
    pub title: String,
    /// The key of the official page it comes from, when the endpoint names one (`page:`);
    /// otherwise its file's default applies (see [`Spec::page_of`]).
    pub page: Option<String>,
    pub doc: String,
    /// The request type, if the request has fields.
    pub request: Option<TypeId>,
    /// The response type, if the response has fields.
    pub response: Option<TypeId>,
    pub examples: Vec<Example>,
    pub origin: Origin,
}

#[derive(Debug)]
pub struct Example {
    pub name: String,
    /// Compact JSON.
    pub request: Option<String>,
    /// Compact JSON.
    pub response: Option<String>,
    pub origin: Origin,
}

impl Spec {
    pub fn types(&self) -> impl Iterator<Item = &TypeDef> {
        self.files.iter().flat_map(|f| f.types.iter())
    }

    pub fn endpoints(&self) -> impl Iterator<Item = (&SpecFile, &Endpoint)> {
        self.files
            .iter()
            .flat_map(|f| f.endpoints.iter().map(move |e| (f, e)))
    }

    pub fn pages(&self) -> impl Iterator<Item = &PageDef> {
        self.files.iter().flat_map(|f| f.pages.iter())
    }

    pub fn sources(&self) -> impl Iterator<Item = &SourceDef> {
        self.files.iter().flat_map(|f| f.sources.iter())
    }

    /// The key of the official page `ep` comes from: its own `page:`, else its file's.
    pub fn page_key<'s>(&self, file: &'s SpecFile, ep: &'s Endpoint) -> Option<&'s str> {
        ep.page
            .as_deref()
            .or(file.page.as_ref().map(|(key, _)| key.as_str()))
    }

    /// The official page `ep` comes from (`None` only for a spec [`crate::check`] refused).
    pub fn page_of(&self, file: &SpecFile, ep: &Endpoint) -> Option<&PageDef> {
        let key = self.page_key(file, ep)?;
        self.pages().find(|p| p.key == key)
    }

    pub fn errors(&self) -> impl Iterator<Item = &ErrorDef> {
        self.files.iter().flat_map(|f| f.errors.iter())
    }

    pub fn events(&self) -> impl Iterator<Item = (&SpecFile, &EventDef)> {
        self.files
            .iter()
            .flat_map(|f| f.events.iter().map(move |e| (f, e)))
    }

    /// The definition of `id`: `None` for a name that is mentioned but not defined (which
    /// [`crate::check`] reports, so that no later stage meets it).
    pub fn def(&self, id: TypeId) -> Option<&TypeDef> {
        let (file, index) = (*self.defs.get(id.0)?)?;
        Some(&self.files[file].types[index])
    }

    /// The kind of `id`'s definition, if defined.
    pub fn kind(&self, id: TypeId) -> Option<&TypeKind> {
        self.def(id).map(|t| &t.kind)
    }

    /// The name of `id`.
    pub fn name(&self, id: TypeId) -> &str {
        self.names.name(id)
    }

    /// `ty` written as in the spec, for messages.
    pub fn show<'a>(&'a self, ty: &'a Ty) -> ShowTy<'a> {
        ShowTy(ty, &self.names)
    }

    /// Whether values of the named type `id` have anything to check (a limit, a rule, or a
    /// field whose type has one).
    pub fn needs_validation(&self, id: TypeId) -> bool {
        self.needs.get(id.0).copied().unwrap_or(false)
    }

    /// Whether a value of type `ty` has anything to check.
    pub fn ty_needs_validation(&self, ty: &Ty) -> bool {
        ty.needs_validation(&mut |id| self.needs_validation(id))
    }

    /// Binds every type name to its first definition and computes which types need validation.
    /// A name defined twice keeps its first definition; [`crate::check`] reports the second.
    pub fn link(&mut self) {
        let mut defs = vec![None; self.names.len()];
        for (f, file) in self.files.iter().enumerate() {
            for (i, t) in file.types.iter().enumerate() {
                let slot = &mut defs[t.id.0];
                if slot.is_none() {
                    *slot = Some((f, i));
                }
            }
        }
        self.defs = defs;
        let mut memo: Vec<Option<bool>> = vec![None; self.names.len()];
        for i in 0..self.names.len() {
            self.compute_needs(TypeId(i), &mut memo);
        }
        self.needs = memo.into_iter().map(|v| v.unwrap_or(false)).collect();
    }

    fn compute_needs(&self, id: TypeId, memo: &mut Vec<Option<bool>>) -> bool {
        if let Some(v) = memo[id.0] {
            return v;
        }
        // While a type is being computed it counts as "nothing to check" (a cycle adds nothing).
        memo[id.0] = Some(false);
        let result = match self.kind(id) {
            None | Some(TypeKind::Enum { .. }) => false,
            Some(TypeKind::Union { variants, .. }) => {
                variants.iter().any(|v| self.compute_needs(v.ty, memo))
            }
            Some(TypeKind::Object { fields, rules }) => {
                !rules.is_empty()
                    || fields.iter().any(|f| {
                        f.ty.needs_validation(&mut |id| self.compute_needs(id, memo))
                    })
            }
        };
        memo[id.0] = Some(result);
        result
    }
}

/// How an event field travels as XML text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum XmlKind {
    Text,
    Number,
    Enum,
}

impl Spec {
    /// How a field of type `ty` is read from and written to an event's XML, if it can be: XML
    /// carries text only, so a `string`, an integer type without a range or an enum type.
    pub fn xml_kind(&self, ty: &Ty) -> Option<XmlKind> {
        match ty {
            Ty::String { max_bytes: None } => Some(XmlKind::Text),
            Ty::Int {
                min: None,
                max: None,
                ..
            } => Some(XmlKind::Number),
            Ty::Ref(id) => match self.kind(*id) {
                Some(TypeKind::Enum { .. }) => Some(XmlKind::Enum),
                _ => None,
            },
            _ => None,
        }
    }
}

/// `card_status_list` / `CARD_STATUS` / `card/code-get` -> `CardStatusList` / `CardStatus` / `CardCodeGet`.
pub fn pascal(text: &str) -> String {
    let mut out = String::new();
    for word in text.split(|c: char| !c.is_ascii_alphanumeric()) {
        let mut chars = word.chars();
        if let Some(first) = chars.next() {
            out.push(first.to_ascii_uppercase());
            out.extend(chars.map(|c| c.to_ascii_lowercase()));
        }
    }
    out
}

/// Whether `name` is a Rust keyword (strict, reserved or weak-in-practice) that cannot be used as
/// a plain field or method name.
pub fn is_keyword(name: &str) -> bool {
    matches!(
        name,
        "as" | "break"
            | "const"
            | "continue"
            | "crate"
            | "else"
            | "enum"
            | "extern"
            | "false"
            | "fn"
            | "for"
            | "if"
            | "impl"
            | "in"
            | "let"
            | "loop"
            | "match"
            | "mod"
            | "move"
            | "mut"
            | "pub"
            | "ref"
            | "return"
            | "self"
            | "Self"
            | "static"
            | "struct"
            | "super"
            | "trait"
            | "true"
            | "type"
            | "unsafe"
            | "use"
            | "where"
            | "while"
            | "async"
            | "await"
            | "dyn"
            | "abstract"
            | "become"
            | "box"
            | "do"
            | "final"
            | "macro"
            | "override"
            | "priv"
            | "typeof"
            | "unsized"
            | "virtual"
            | "yield"
            | "try"
            | "gen"
            | "union"
    )
}

/// Whether `name` is a plain snake_case identifier.
pub fn is_snake(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some('a'..='z' | '_'))
        && chars.all(|c| matches!(c, 'a'..='z' | '0'..='9' | '_'))
        && name != "_"
}

/// The most required fields a constructor takes as positional arguments (`new(a, b)`). A struct
/// with more takes them named, in a generated `…Required` struct literal, so that same-typed
/// fields (a card's `title` and `brand_name`) cannot be swapped silently.
pub const MAX_POSITIONAL_REQUIRED: usize = 2;

/// Whether a struct with `fields` takes its required fields in a `…Required` struct.
pub fn names_required(fields: &[Field]) -> bool {
    fields.iter().filter(|f| f.required).count() > MAX_POSITIONAL_REQUIRED
}

/// The name of the struct that holds the required fields of `type_name`.
pub fn required_struct_name(type_name: &str) -> String {
    format!("{type_name}Required")
}

/// Whether `name` is a PascalCase type name.
pub fn is_pascal(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some('A'..='Z')) && chars.all(|c| c.is_ascii_alphanumeric())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(pascal("card_status_list"), "CardStatusList");
        assert_eq!(pascal("CARD_STATUS_VERIFY_OK"), "CardStatusVerifyOk");
        assert_eq!(pascal("Color010"), "Color010");
        assert!(is_snake("base_info") && is_snake("custom_field1"));
        assert!(!is_snake("payOriginalFee") && !is_snake("1x") && !is_snake("_"));
        assert!(is_keyword("type") && is_keyword("abstract") && !is_keyword("from"));
    }
}
