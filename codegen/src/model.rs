//! Stage 2: the resolved model. After parsing, nothing reads YAML: every later stage works on
//! these types, where names are Rust identifiers, inline objects and enums are hoisted to named
//! types, and limits are plain data.

use crate::types::TypeExpr;
use crate::yaml::Path;

/// The whole spec.
#[derive(Debug, Default)]
pub struct Spec {
    pub files: Vec<SpecFile>,
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
    /// Events WeChat pushes to the merchant's server (see `crate::events`).
    pub events: Vec<EventDef>,
    /// WeChat's error codes (see `crate::errors`).
    pub errors: Vec<ErrorDef>,
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
    pub ty: TypeExpr,
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
    pub ty: String,
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
    pub doc: String,
    /// The request type, if the request has fields.
    pub request: Option<String>,
    /// The response type, if the response has fields.
    pub response: Option<String>,
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

    pub fn errors(&self) -> impl Iterator<Item = &ErrorDef> {
        self.files.iter().flat_map(|f| f.errors.iter())
    }

    pub fn events(&self) -> impl Iterator<Item = (&SpecFile, &EventDef)> {
        self.files
            .iter()
            .flat_map(|f| f.events.iter().map(move |e| (f, e)))
    }

    pub fn find_type(&self, name: &str) -> Option<&TypeDef> {
        self.types().find(|t| t.name == name)
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
