//! The spec at run time: every endpoint and type the generator emitted, as plain data.
//!
//! Tools (the sandbox, coverage reports, the spec-driven tests) walk these tables instead of
//! hard-coding endpoint lists. They are generated from `spec/` together with the typed API, so
//! they can never disagree with it.

/// The HTTP method of an endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HttpMethod {
    /// `GET`: the request's fields travel in the query string.
    Get,
    /// `POST`: the request is a JSON body.
    Post,
}

impl HttpMethod {
    /// `"GET"` or `"POST"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            HttpMethod::Get => "GET",
            HttpMethod::Post => "POST",
        }
    }
}

/// Which token an endpoint is called with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Auth {
    /// The official account's `access_token` (the default).
    AccessToken,
    /// The open platform's (第三方平台) `component_access_token`, for `cgi-bin/component/*`.
    ComponentAccessToken,
}

/// What [`Client::execute`](crate::Client::execute) needs to send one endpoint's request: where,
/// how, with which token, and whether it may be sent twice. Each generated `Client` method passes
/// its endpoint's descriptor, and nothing more.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Call {
    /// Path under the API base, without a leading slash, e.g. `card/code/get`.
    pub path: &'static str,
    /// HTTP method.
    pub method: HttpMethod,
    /// Which token the call carries.
    pub auth: Auth,
    /// Whether the library may send the request twice (retries on `-1` and transport failures).
    pub idempotent: bool,
}

impl Call {
    /// A descriptor, for [`Client::execute`](crate::Client::execute) calls of your own.
    pub const fn new(path: &'static str, method: HttpMethod, auth: Auth, idempotent: bool) -> Call {
        Call {
            path,
            method,
            auth,
            idempotent,
        }
    }
}

/// One endpoint of the spec.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct EndpointInfo {
    /// Path under the API base, without a leading slash, e.g. `card/code/get`.
    pub path: &'static str,
    /// The `Client` method that calls it, e.g. `get_code`.
    pub name: &'static str,
    /// The spec file it is defined in (its API area), e.g. `consume`.
    pub group: &'static str,
    /// HTTP method.
    pub method: HttpMethod,
    /// Which token the call carries.
    pub auth: Auth,
    /// Whether the library may send the request twice (retries on `-1` and transport failures).
    pub idempotent: bool,
    /// The official title of the endpoint's documentation.
    pub title: &'static str,
    /// Rust name of the request type, if the request has fields.
    pub request: Option<&'static str>,
    /// Rust name of the response type, if the response has fields beyond `errcode`/`errmsg`.
    pub response: Option<&'static str>,
    /// The documented examples of the endpoint.
    pub examples: &'static [Example],
}

impl EndpointInfo {
    /// The endpoint's call descriptor, for [`Client::execute`](crate::Client::execute).
    pub const fn call(&self) -> Call {
        Call::new(self.path, self.method, self.auth, self.idempotent)
    }
}

/// A documented request/response example of an endpoint, as JSON text.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct Example {
    /// Label of the example.
    pub name: &'static str,
    /// The request body, if the example shows one.
    pub request: Option<&'static str>,
    /// The whole response body, `errcode`/`errmsg` included.
    pub response: Option<&'static str>,
}

/// One named or inline type of the spec.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct TypeInfo {
    /// Rust name of the type.
    pub name: &'static str,
    /// What kind of type it is.
    pub kind: TypeKind,
    /// Decodes a JSON value into the type and validates it, as the client validates a request
    /// before sending it. With the `tooling` feature only: these functions instantiate both serde
    /// directions of every type, which a client does not need.
    #[cfg(feature = "tooling")]
    pub check: fn(&serde_json::Value) -> Result<(), crate::Error>,
}

/// The shape of a [`TypeInfo`].
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub enum TypeKind {
    /// A struct: its fields and cross-field rules.
    Object {
        /// Fields in wire order.
        fields: &'static [FieldInfo],
        /// Cross-field rules.
        rules: &'static [RuleInfo],
    },
    /// A string enum: its known wire values.
    Enum {
        /// Known values, in spec order.
        values: &'static [&'static str],
    },
    /// A tagged union such as the card body.
    Union {
        /// The tag key, e.g. `card_type`.
        tag: &'static str,
        /// `(tag value, payload type name)`; the payload key is the lower-cased tag value.
        variants: &'static [(&'static str, &'static str)],
    },
}

/// One field of an object type.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct FieldInfo {
    /// JSON key.
    pub wire: &'static str,
    /// Rust field name.
    pub rust: &'static str,
    /// Whether the field must be present.
    pub required: bool,
    /// Whether changing it sends a card back to review (提审).
    pub review: bool,
    /// Its type.
    pub ty: Ty,
}

/// A field type with its limits.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub enum Ty {
    /// A string, optionally limited to `max_bytes` bytes of UTF-8.
    String {
        /// Limit in bytes of UTF-8.
        max_bytes: Option<u32>,
    },
    /// A boolean.
    Bool,
    /// An integer with its inclusive bounds (the Rust type's own when the spec gives none).
    Int {
        /// Rust type name (`u32`, `i64`, …).
        rust: &'static str,
        /// Inclusive lower bound.
        min: i128,
        /// Inclusive upper bound.
        max: i128,
        /// Whether the spec narrowed the type's own range.
        limited: bool,
    },
    /// A `YYYY-MM-DD` date.
    Date,
    /// Any JSON value.
    Json,
    /// A list.
    List {
        /// Item type.
        item: &'static Ty,
        /// Least number of items, if limited.
        min_items: Option<u32>,
        /// Most number of items, if limited.
        max_items: Option<u32>,
    },
    /// A named type, see [`TYPES`].
    Ref(&'static str),
}

/// A cross-field rule.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub enum RuleInfo {
    /// `begin <= end` and at most `max_days` days, both ends included.
    DateSpan {
        /// Wire name of the first day.
        begin: &'static str,
        /// Wire name of the last day.
        end: &'static str,
        /// Longest period in days, both ends included.
        max_days: u32,
    },
    /// Integer Unix-second timestamps: `begin <= end` and `end - begin` is at most
    /// `max_days * 86400` seconds.
    TimeSpan {
        /// Wire name of the start time.
        begin: &'static str,
        /// Wire name of the end time.
        end: &'static str,
        /// Longest period in days of 86 400 seconds.
        max_days: u32,
    },
    /// At most one of the fields is present.
    Exclusive(&'static [&'static str]),
    /// Exactly one of the fields is present.
    OneOf(&'static [&'static str]),
    /// The list fields hold at most `max` items together.
    MaxTotal {
        /// Wire names of the lists.
        fields: &'static [&'static str],
        /// Most items in all of them.
        max: u32,
    },
}

/// One event WeChat pushes to the merchant's server (`MsgType` `event`), see
/// [`crate::events`].
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct EventInfo {
    /// The `Event` element's value, e.g. `user_get_card`.
    pub event: &'static str,
    /// Rust name of the event's struct, e.g. `UserGetCardEvent`.
    pub name: &'static str,
    /// The spec file it is defined in.
    pub group: &'static str,
    /// The official title of the event's documentation.
    pub title: &'static str,
    /// The XML elements besides the common header: `wire` is the element name.
    pub fields: &'static [FieldInfo],
    /// The documented XML messages of the event.
    pub examples: &'static [EventExample],
}

/// A documented XML message of an event.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct EventExample {
    /// Label of the example.
    pub name: &'static str,
    /// The whole message, `<xml>…</xml>`.
    pub xml: &'static str,
}

/// Finds an event by its `Event` value (`user_get_card`).
pub fn event_info(event: &str) -> Option<&'static EventInfo> {
    EVENTS.iter().find(|e| e.event == event)
}

/// Finds an endpoint by its path (`card/code/get`; a leading `/` is ignored).
pub fn endpoint(path: &str) -> Option<&'static EndpointInfo> {
    let path = path.strip_prefix('/').unwrap_or(path);
    ENDPOINTS.iter().copied().find(|e| e.path == path)
}

/// Finds a type by its Rust name.
pub fn type_info(name: &str) -> Option<&'static TypeInfo> {
    TYPES.iter().find(|t| t.name == name)
}

pub use crate::api::{ENDPOINTS, EVENTS, TYPES};
