//! Helpers called by the generated code: serde helpers for enums and unions, the checks of the
//! `TYPES` table, and the XML element readers and writers of the event structs. Public only so the
//! generated code in this crate and its tests can reach them; not part of the stable API.

use std::borrow::Cow;

use serde::de::{DeserializeOwned, Error as _};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

use crate::Error;
use crate::validate::{Rule, Validate, ValidationError};

/// The body of a request without fields: `{}`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Empty {}

impl Validate for Empty {
    fn validate(&self) -> Result<(), ValidationError> {
        Ok(())
    }
}

/// Decodes a JSON value as `T` and validates it: what the client checks before sending, applied
/// to a body that arrived as JSON (the sandbox, tests).
pub fn check_json<T: DeserializeOwned + Validate>(value: &Value) -> Result<(), Error> {
    let typed = T::deserialize(value).map_err(decode_error)?;
    typed.validate().map_err(Error::Validation)
}

/// Decodes a JSON value as `T` (for types without limits, such as enums).
pub fn check_decode<T: DeserializeOwned>(value: &Value) -> Result<(), Error> {
    T::deserialize(value).map(drop).map_err(decode_error)
}

fn decode_error(e: serde_json::Error) -> Error {
    Error::Validation(ValidationError::new(
        "",
        Rule::Decode {
            message: e.to_string(),
        },
    ))
}

/// Reads an enum's wire value, borrowing when the input allows.
pub fn enum_value<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Cow<'de, str>, D::Error> {
    struct Visitor;
    impl<'de> serde::de::Visitor<'de> for Visitor {
        type Value = Cow<'de, str>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a string")
        }
        fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
            Ok(Cow::Borrowed(v))
        }
        fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
            Ok(Cow::Owned(v.to_owned()))
        }
        fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
            Ok(Cow::Owned(v))
        }
    }
    deserializer.deserialize_str(Visitor)
}

/// Writes `{"<tag_key>": "<tag>", "<payload_key>": payload}`.
pub fn serialize_tagged<S: Serializer, T: Serialize>(
    serializer: S,
    tag_key: &str,
    tag: &str,
    payload_key: &str,
    payload: &T,
) -> Result<S::Ok, S::Error> {
    let mut map = serializer.serialize_map(Some(2))?;
    map.serialize_entry(tag_key, tag)?;
    map.serialize_entry(payload_key, payload)?;
    map.end()
}

/// A tagged object being decoded: the tag read, the rest kept.
pub struct Tagged {
    tag: String,
    object: Map<String, Value>,
}

impl Tagged {
    /// Reads an object with a string `tag_key`.
    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
        tag_key: &str,
    ) -> Result<Tagged, D::Error> {
        let object = Map::<String, Value>::deserialize(deserializer)?;
        let tag = match object.get(tag_key) {
            Some(Value::String(tag)) => tag.clone(),
            Some(_) => {
                return Err(D::Error::custom(format_args!(
                    "`{tag_key}` must be a string"
                )));
            }
            None => return Err(D::Error::missing_field_owned(tag_key)),
        };
        Ok(Tagged { tag, object })
    }

    /// The tag value.
    pub fn tag(&self) -> &str {
        &self.tag
    }

    /// Decodes the payload under `key`.
    pub fn payload<T: DeserializeOwned, E: serde::de::Error>(&mut self, key: &str) -> Result<T, E> {
        let value = self
            .object
            .remove(key)
            .ok_or_else(|| E::custom(format_args!("missing field `{key}` for `{}`", self.tag)))?;
        T::deserialize(value).map_err(|e| E::custom(format_args!("{key}: {e}")))
    }

    /// The whole object, for unknown tags.
    pub fn into_inner(self) -> Map<String, Value> {
        self.object
    }
}

trait MissingFieldOwned: serde::de::Error {
    fn missing_field_owned(field: &str) -> Self {
        Self::custom(format_args!("missing field `{field}`"))
    }
}

impl<E: serde::de::Error> MissingFieldOwned for E {}

/// The tag of an unknown union value.
pub fn unknown_tag<'a>(object: &'a Map<String, Value>, tag_key: &str) -> &'a str {
    object.get(tag_key).and_then(Value::as_str).unwrap_or("")
}

// The XML element readers and writers of the generated event structs, written in `events` (whose
// message parsing uses them too) and reached by the generated code only through here.
pub(crate) use crate::events::{
    enumeration as xml_enum, number as xml_number, put_number as put_xml_number,
    put_text as put_xml_text, required as xml_required, text as xml_text,
};
