//! Helpers called by the generated code: serde helpers for enums and unions, and the XML element
//! readers and writers of the event structs.
//!
//! The module is public (and hidden from the docs) because [`Empty`], the request or response of
//! an endpoint without fields, appears in the signatures of public generated items; the other
//! helpers are called only from the generated code inside this crate. Nothing here is part of
//! the stable API.

use std::borrow::Cow;

use serde::de::{DeserializeOwned, Error as _, MapAccess};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

use crate::validate::{Validate, ValidationError};

/// The body of a request without fields: `{}`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Empty {}

impl Validate for Empty {
    fn validate(&self) -> Result<(), ValidationError> {
        Ok(())
    }
}

/// A key of a JSON object being decoded, borrowed from the input when it has no escapes.
pub struct Key<'de>(Cow<'de, str>);

impl Key<'_> {
    /// The key's text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        enum_value(deserializer).map(Key)
    }
}

/// Reads the value of the field `key` into `slot`; a second `key` in the object is an error,
/// as with serde's derive.
pub fn field<'de, A, T>(
    map: &mut A,
    slot: &mut Option<T>,
    key: &'static str,
) -> Result<(), A::Error>
where
    A: MapAccess<'de>,
    T: Deserialize<'de>,
{
    if slot.is_some() {
        return Err(A::Error::duplicate_field(key));
    }
    *slot = Some(map.next_value()?);
    Ok(())
}

/// [`field`] for integers (also in `Option`s and lists) of a type responses reach: numeric
/// strings are read as the integers they spell (see [`lenient_int`]).
pub fn lenient_field<'de, A, T>(
    map: &mut A,
    slot: &mut Option<T>,
    key: &'static str,
) -> Result<(), A::Error>
where
    A: MapAccess<'de>,
    T: LenientInt,
{
    if slot.is_some() {
        return Err(A::Error::duplicate_field(key));
    }
    *slot = Some(map.next_value::<Lenient<T>>()?.0);
    Ok(())
}

/// The value of a required field, or `missing field `key``.
pub fn required<T, E: serde::de::Error>(slot: Option<T>, key: &'static str) -> Result<T, E> {
    slot.ok_or_else(|| E::missing_field(key))
}

/// Skips the value of a key the type does not know (WeChat adds fields).
pub fn skip_value<'de, A: MapAccess<'de>>(map: &mut A) -> Result<(), A::Error> {
    map.next_value::<serde::de::IgnoredAny>().map(drop)
}

/// Reads a JSON object whose keys are all ignored: a type without fields.
pub fn deserialize_empty<'de, D: Deserializer<'de>>(
    deserializer: D,
    expecting: &'static str,
) -> Result<(), D::Error> {
    struct Visitor(&'static str);
    impl<'de> serde::de::Visitor<'de> for Visitor {
        type Value = ();
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.0)
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
            while map.next_key::<serde::de::IgnoredAny>()?.is_some() {
                skip_value(&mut map)?;
            }
            Ok(())
        }
    }
    deserializer.deserialize_map(Visitor(expecting))
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

/// Reads a response integer that WeChat may write as a number (`5`) or as a numeric string
/// (`"5"`), in any of the shapes a field takes: the integer itself, `Option` of it (JSON `null`
/// is `None`) and lists of them. The generator puts it on the integer fields of the types that
/// responses reach (`#[serde(deserialize_with = "crate::wire::lenient_int")]`); requests keep
/// sending numbers.
pub fn lenient_int<'de, D: Deserializer<'de>, T: LenientInt>(
    deserializer: D,
) -> Result<T, D::Error> {
    T::deserialize_lenient(deserializer)
}

/// A shape [`lenient_int`] reads: an integer type, `Option` of a shape, `Vec` of a shape.
pub trait LenientInt: Sized {
    /// Reads `Self`, accepting numeric strings where integers are expected.
    fn deserialize_lenient<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error>;
}

/// A [`LenientInt`] shape as a plain `Deserialize`, to nest it in `Option` and `Vec`.
struct Lenient<T>(T);

impl<'de, T: LenientInt> Deserialize<'de> for Lenient<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        T::deserialize_lenient(deserializer).map(Lenient)
    }
}

impl<T: LenientInt> LenientInt for Option<T> {
    fn deserialize_lenient<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(Option::<Lenient<T>>::deserialize(deserializer)?.map(|v| v.0))
    }
}

impl<T: LenientInt> LenientInt for Vec<T> {
    fn deserialize_lenient<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let items = Vec::<Lenient<T>>::deserialize(deserializer)?;
        Ok(items.into_iter().map(|v| v.0).collect())
    }
}

/// Visits a JSON number or numeric string as the integer type `T`.
struct IntVisitor<T>(std::marker::PhantomData<T>);

impl<T> IntVisitor<T>
where
    T: TryFrom<i64> + TryFrom<u64> + std::str::FromStr,
{
    fn out_of_range<E: serde::de::Error>(value: impl std::fmt::Display) -> E {
        E::custom(format_args!(
            "integer {value} is out of range for {}",
            std::any::type_name::<T>()
        ))
    }
}

impl<'de, T> serde::de::Visitor<'de> for IntVisitor<T>
where
    T: TryFrom<i64> + TryFrom<u64> + std::str::FromStr,
{
    type Value = T;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "an integer ({}) or a string of one",
            std::any::type_name::<T>()
        )
    }

    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<T, E> {
        T::try_from(v).map_err(|_| Self::out_of_range(v))
    }

    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<T, E> {
        T::try_from(v).map_err(|_| Self::out_of_range(v))
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<T, E> {
        let digits = v.strip_prefix('-').unwrap_or(v);
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(E::invalid_value(serde::de::Unexpected::Str(v), &self));
        }
        // All digits: the only way left to fail is the range.
        v.parse().map_err(|_| Self::out_of_range(v))
    }
}

macro_rules! lenient_ints {
    ($($t:ty),*) => {$(
        impl LenientInt for $t {
            fn deserialize_lenient<'de, D: Deserializer<'de>>(
                deserializer: D,
            ) -> Result<Self, D::Error> {
                deserializer.deserialize_any(IntVisitor::<$t>(std::marker::PhantomData))
            }
        }
    )*};
}

lenient_ints!(i32, i64, u32, u64);

#[cfg(test)]
mod tests {
    use super::*;

    fn read<T: LenientInt>(json: &str) -> Result<T, String> {
        let mut de = serde_json::Deserializer::from_str(json);
        T::deserialize_lenient(&mut de).map_err(|e| e.to_string())
    }

    #[test]
    fn numbers_and_numeric_strings() {
        assert_eq!(read::<i64>("5"), Ok(5));
        assert_eq!(read::<i64>("\"5\""), Ok(5));
        assert_eq!(read::<i64>("-7"), Ok(-7));
        assert_eq!(read::<i64>("\"-7\""), Ok(-7));
        assert_eq!(read::<u32>("\"4294967295\""), Ok(u32::MAX));
        assert_eq!(read::<i32>("\"0\""), Ok(0));
        assert_eq!(read::<u64>("\"18446744073709551615\""), Ok(u64::MAX));
    }

    #[test]
    fn out_of_range_is_an_error() {
        let e = read::<u32>("\"4294967296\"").unwrap_err();
        assert!(e.contains("4294967296 is out of range for u32"), "{e}");
        let e = read::<u32>("-1").unwrap_err();
        assert!(e.contains("-1 is out of range for u32"), "{e}");
        let e = read::<u32>("\"-1\"").unwrap_err();
        assert!(e.contains("-1 is out of range for u32"), "{e}");
        let e = read::<i32>("3000000000").unwrap_err();
        assert!(e.contains("3000000000 is out of range for i32"), "{e}");
        let e = read::<i64>("\"99999999999999999999\"").unwrap_err();
        assert!(e.contains("out of range for i64"), "{e}");
    }

    #[test]
    fn non_numeric_strings_are_clear_errors() {
        for bad in [
            "\"\"", "\"abc\"", "\"1.5\"", "\" 5\"", "\"5x\"", "\"-\"", "\"+5\"",
        ] {
            let e = read::<i64>(bad).unwrap_err();
            assert!(
                e.contains("invalid value: string")
                    && e.contains("an integer (i64) or a string of one"),
                "{bad}: {e}"
            );
        }
        let e = read::<i64>("1.5").unwrap_err();
        assert!(e.contains("an integer (i64) or a string of one"), "{e}");
        let e = read::<i64>("true").unwrap_err();
        assert!(e.contains("invalid type: boolean"), "{e}");
        let e = read::<i64>("null").unwrap_err();
        assert!(e.contains("invalid type: null"), "{e}");
    }

    #[test]
    fn options_and_lists() {
        assert_eq!(read::<Option<u32>>("null"), Ok(None));
        assert_eq!(read::<Option<u32>>("\"3\""), Ok(Some(3)));
        assert_eq!(read::<Option<u32>>("3"), Ok(Some(3)));
        assert_eq!(
            read::<Vec<i64>>("[1, \"2\", -3, \"-4\"]"),
            Ok(vec![1, 2, -3, -4])
        );
        assert_eq!(
            read::<Option<Vec<Vec<u32>>>>("[[\"1\"], [2]]"),
            Ok(Some(vec![vec![1], vec![2]]))
        );
        let e = read::<Vec<u32>>("[1, \"x\"]").unwrap_err();
        assert!(e.contains("invalid value: string \"x\""), "{e}");
    }

    /// Absent `Option` fields stay `None` through `#[serde(default)]`.
    #[test]
    fn absent_option_field_is_none() {
        #[derive(Deserialize, Debug, PartialEq)]
        struct Answer {
            #[serde(default, deserialize_with = "lenient_int")]
            count: Option<u32>,
            #[serde(deserialize_with = "lenient_int")]
            ids: Vec<i64>,
        }
        let a: Answer = serde_json::from_str(r#"{"ids": ["1", 2]}"#).unwrap();
        assert_eq!(
            a,
            Answer {
                count: None,
                ids: vec![1, 2]
            }
        );
        let a: Answer = serde_json::from_str(r#"{"count": "9", "ids": []}"#).unwrap();
        assert_eq!(
            a,
            Answer {
                count: Some(9),
                ids: vec![]
            }
        );
        let a: Answer = serde_json::from_str(r#"{"count": null, "ids": []}"#).unwrap();
        assert_eq!(a.count, None);
    }

    /// A type decoded the way the generator writes `Deserialize` impls: a required string, an
    /// optional string and a lenient optional integer.
    #[derive(Debug, PartialEq)]
    struct Object {
        id: String,
        note: Option<String>,
        count: Option<u32>,
    }

    impl<'de> Deserialize<'de> for Object {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            struct Visitor;
            impl<'de> serde::de::Visitor<'de> for Visitor {
                type Value = Object;
                fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                    f.write_str("a JSON object (Object)")
                }
                fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Object, A::Error> {
                    let (mut id, mut note, mut count) = (None, None, None);
                    while let Some(key) = map.next_key::<Key<'de>>()? {
                        match key.as_str() {
                            "id" => field(&mut map, &mut id, "id")?,
                            "note" => field(&mut map, &mut note, "note")?,
                            "count" => lenient_field(&mut map, &mut count, "count")?,
                            _ => skip_value(&mut map)?,
                        }
                    }
                    Ok(Object {
                        id: required::<_, A::Error>(id, "id")?,
                        note: note.flatten(),
                        count: count.flatten(),
                    })
                }
            }
            deserializer.deserialize_map(Visitor)
        }
    }

    fn object(json: &str) -> Result<Object, String> {
        serde_json::from_str(json).map_err(|e| e.to_string())
    }

    #[test]
    fn object_readers_decode_fields_and_skip_unknown_keys() {
        let expected = Object {
            id: "p1".into(),
            note: None,
            count: Some(3),
        };
        assert_eq!(
            object(r#"{"later": {"a": [1]}, "id": "p1", "note": null, "count": "3"}"#),
            Ok(expected)
        );
        // The same from a `serde_json::Value` (the card union decodes its payload from one).
        let value = serde_json::json!({"id": "p2", "note": "n"});
        assert_eq!(
            Object::deserialize(&value).map_err(|e| e.to_string()),
            Ok(Object {
                id: "p2".into(),
                note: Some("n".into()),
                count: None
            })
        );
        // An escaped key is still recognised (it cannot be borrowed).
        assert_eq!(
            object(r#"{"\u0069d": "p3"}"#).map(|o| o.id),
            Ok("p3".into())
        );
    }

    #[test]
    fn object_readers_refuse_what_the_derive_refuses() {
        let e = object(r#"{"note": "n"}"#).unwrap_err();
        assert!(e.starts_with("missing field `id`"), "{e}");
        let e = object(r#"{"id": "a", "id": "b"}"#).unwrap_err();
        assert!(e.starts_with("duplicate field `id`"), "{e}");
        let e = object(r#"{"id": "a", "count": "x"}"#).unwrap_err();
        assert!(
            e.contains("invalid value: string \"x\"") && e.contains("an integer (u32)"),
            "{e}"
        );
        // An array is not an object (serde's derive read fields from it in order).
        let e = object(r#"["p1", null, 3]"#).unwrap_err();
        assert!(e.contains("expected a JSON object (Object)"), "{e}");
        let e = object("7").unwrap_err();
        assert!(e.contains("expected a JSON object (Object)"), "{e}");
    }

    #[test]
    fn empty_objects_skip_every_key_and_refuse_other_values() {
        let read = |json: &str| {
            let mut de = serde_json::Deserializer::from_str(json);
            deserialize_empty(&mut de, "a JSON object (Empty)").map_err(|e| e.to_string())
        };
        assert_eq!(read(r#"{"a": 1, "b": {"c": []}}"#), Ok(()));
        assert_eq!(read("{}"), Ok(()));
        let e = read("[]").unwrap_err();
        assert!(e.contains("expected a JSON object (Empty)"), "{e}");
    }
}
