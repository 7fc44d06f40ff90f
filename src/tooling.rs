//! Hooks for tools that work from the endpoint and type tables: the spec-driven tests and the
//! sandbox. Only with the `tooling` feature (which `sandbox` turns on).
//!
//! Hidden, and not part of the API: the hooks may change in any release. They live apart from
//! [`EndpointInfo`] so that the descriptor a `Client` method passes to `execute`
//! ([`crate::schema::Call`]) links nothing else into a user's binary: no check functions, no
//! JSON decoding of other types.

use std::fmt;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::schema::EndpointInfo;
use crate::validate::{Rule, Validate, ValidationError};
use crate::{Client, Error};

/// The hooks of one endpoint: its request and response checks and a typed call from JSON.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct EndpointHooks {
    /// The endpoint's path, as in [`EndpointInfo::path`].
    pub path: &'static str,
    /// Decodes a JSON request body into the request type and validates it, exactly as the client
    /// does before sending, and returns the request as the typed client would send it.
    pub check_request: fn(&Value) -> Result<Value, HookError>,
    /// Decodes a whole answer body (with its `errcode`/`errmsg` envelope) into the response type.
    pub check_response: fn(&[u8]) -> Result<(), HookError>,
    /// Calls the endpoint through its typed `Client` method with a JSON request (decoded into the
    /// request type, validated, sent) and returns the typed response as JSON.
    pub invoke: fn(&Client, &Value) -> Result<Value, HookError>,
    /// [`invoke`](EndpointHooks::invoke) through the endpoint's `async fn` on
    /// [`AsyncClient`](crate::AsyncClient) (feature `async`).
    #[cfg(feature = "async")]
    pub invoke_async: for<'a> fn(
        &'a crate::AsyncClient,
        &'a Value,
    ) -> crate::BoxFuture<'a, Result<Value, HookError>>,
}

/// The hooks of `endpoint` (an entry of [`crate::ENDPOINTS`]).
///
/// # Panics
///
/// If `endpoint` is not from [`crate::ENDPOINTS`]: both tables are generated together, one
/// entry per endpoint of the spec (a test checks it).
pub fn hooks(endpoint: &EndpointInfo) -> &'static EndpointHooks {
    let found = crate::api::ENDPOINT_HOOKS
        .iter()
        .find(|h| h.path == endpoint.path);
    match found {
        Some(hooks) => hooks,
        None => panic!(
            "no hooks for `{}`: not an endpoint of the spec",
            endpoint.path
        ),
    }
}

/// Why a hook failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum HookError {
    /// The JSON does not decode as the type ([`Rule::Decode`]) or breaks a rule of the spec.
    /// Nothing was sent.
    Invalid(ValidationError),
    /// The call, or the decoding of the answer, failed: the client's error as the typed method
    /// returned it.
    Call(Error),
    /// The call was sent and answered, but its typed answer did not serialize back to JSON.
    Encode(String),
}

impl HookError {
    /// WeChat's errcode, if the call failed with an API error.
    pub fn errcode(&self) -> Option<i64> {
        match self {
            HookError::Call(e) => e.errcode(),
            _ => None,
        }
    }
}

impl fmt::Display for HookError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HookError::Invalid(e) => write!(f, "invalid (nothing sent): {e}"),
            HookError::Call(e) => e.fmt(f),
            HookError::Encode(e) => write!(f, "the typed answer does not serialize: {e}"),
        }
    }
}

impl std::error::Error for HookError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            HookError::Invalid(e) => Some(e),
            HookError::Call(e) => Some(e),
            HookError::Encode(_) => None,
        }
    }
}

/// A JSON value that does not decode as the type: [`Rule::Decode`].
fn not_decodable(e: serde_json::Error) -> ValidationError {
    ValidationError::new(
        "",
        Rule::Decode {
            message: e.to_string(),
        },
    )
}

fn invalid(e: serde_json::Error) -> HookError {
    HookError::Invalid(not_decodable(e))
}

/// Decodes a JSON value as `T` and validates it: what the client checks before sending, applied
/// to a value that arrived as JSON. The `check` of the object and union entries of
/// [`crate::TYPES`].
pub fn check_json<T: DeserializeOwned + Validate>(value: &Value) -> Result<(), Error> {
    let typed = T::deserialize(value).map_err(|e| Error::Validation(not_decodable(e)))?;
    typed.validate().map_err(Error::Validation)
}

/// Decodes a JSON value as `T`: the `check` of the enum entries of [`crate::TYPES`].
pub fn check_decode<T: DeserializeOwned>(value: &Value) -> Result<(), Error> {
    T::deserialize(value)
        .map(drop)
        .map_err(|e| Error::Validation(not_decodable(e)))
}

/// Decodes and validates a request body, returning it as the typed client would send it.
pub fn check_request<T: DeserializeOwned + Validate + Serialize>(
    value: &Value,
) -> Result<Value, HookError> {
    let typed = T::deserialize(value).map_err(invalid)?;
    typed.validate().map_err(HookError::Invalid)?;
    serde_json::to_value(&typed).map_err(|e| HookError::Encode(e.to_string()))
}

/// Decodes a whole answer body, `errcode`/`errmsg` envelope included, as `T`.
pub fn check_response<T: DeserializeOwned>(body: &[u8]) -> Result<(), HookError> {
    crate::core::answer::decode_response::<T>("", 200, body)
        .map(drop)
        .map_err(HookError::Call)
}

/// Decodes a JSON request into `Req`, calls `call` with it (a typed `Client` method) and returns
/// the typed response as JSON.
pub fn invoke<Req, Resp>(
    body: &Value,
    call: impl FnOnce(&Req) -> Result<Resp, Error>,
) -> Result<Value, HookError>
where
    Req: DeserializeOwned,
    Resp: Serialize,
{
    let request = decode_request(body)?;
    encode_response(call(&request))
}

/// Decodes a JSON request into `Req` (not validated: the typed call validates it).
pub fn decode_request<Req: DeserializeOwned>(body: &Value) -> Result<Req, HookError> {
    Req::deserialize(body).map_err(invalid)
}

/// A typed call's outcome as JSON.
pub fn encode_response<Resp: Serialize>(outcome: Result<Resp, Error>) -> Result<Value, HookError> {
    let response = outcome.map_err(HookError::Call)?;
    // The request went out: a failure here is not a validation error (which means nothing sent).
    serde_json::to_value(&response).map_err(|e| HookError::Encode(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_endpoint_has_its_hooks() {
        assert_eq!(crate::ENDPOINTS.len(), crate::api::ENDPOINT_HOOKS.len());
        for (info, hooks) in crate::ENDPOINTS.iter().zip(crate::api::ENDPOINT_HOOKS) {
            assert_eq!(info.path, hooks.path);
        }
    }

    /// A typed answer that cannot be serialized after the call went out is an `Encode` error,
    /// never `Invalid` (whose meaning is "nothing was sent").
    #[test]
    fn a_serialization_failure_after_the_call_is_not_a_validation_error() {
        struct Unserializable;
        impl Serialize for Unserializable {
            fn serialize<S: serde::Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
                Err(serde::ser::Error::custom("cannot"))
            }
        }
        let mut sent = false;
        let result = invoke(&serde_json::json!({}), |_: &crate::wire::Empty| {
            sent = true;
            Ok(Unserializable)
        });
        assert!(sent);
        assert!(matches!(result, Err(HookError::Encode(_))), "{result:?}");
    }
}
