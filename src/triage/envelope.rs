//! The envelope's keys read straight from a body's text: an object's keys (the payload kept as
//! text), or the kind of anything else; no tree of the body is built.

use std::fmt;

use serde::{
    Deserialize, Deserializer,
    de::{IgnoredAny, MapAccess, SeqAccess, Visitor},
};
use serde_json::value::RawValue;

/// A body as far as triage needs it: an object's envelope keys, or the kind of anything else.
pub(super) enum Body<'a> {
    Object(Fields<'a>),
    Other(&'static str),
}

/// The envelope's keys, borrowed from the body; other keys are skipped unread (last one wins).
#[derive(Default)]
pub(super) struct Fields<'a> {
    pub(super) keys: usize,
    pub(super) id: Option<&'a RawValue>,
    pub(super) event_type: Option<&'a RawValue>,
    pub(super) version: Option<&'a RawValue>,
    pub(super) event_ts: Option<&'a RawValue>,
    pub(super) payload: Option<&'a RawValue>,
    pub(super) test: Option<&'a RawValue>,
}

impl<'de> Deserialize<'de> for Body<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(BodyVisitor)
    }
}

struct BodyVisitor;

impl<'de> Visitor<'de> for BodyVisitor {
    type Value = Body<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Body<'de>, A::Error> {
        let mut fields = Fields::default();
        while let Some(key) = map.next_key::<Key>()? {
            fields.keys += 1;
            let slot = match key {
                Key::Id => &mut fields.id,
                Key::Type => &mut fields.event_type,
                Key::Version => &mut fields.version,
                Key::EventTs => &mut fields.event_ts,
                Key::Payload => &mut fields.payload,
                Key::Test => &mut fields.test,
                Key::Other => {
                    map.next_value::<IgnoredAny>()?;
                    continue;
                }
            };
            *slot = Some(map.next_value()?);
        }
        Ok(Body::Object(fields))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Body<'de>, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Body::Other("an array"))
    }

    fn visit_str<E>(self, _: &str) -> Result<Body<'de>, E> {
        Ok(Body::Other("a string"))
    }

    fn visit_bool<E>(self, _: bool) -> Result<Body<'de>, E> {
        Ok(Body::Other("a boolean"))
    }

    fn visit_i64<E>(self, _: i64) -> Result<Body<'de>, E> {
        Ok(Body::Other("a number"))
    }

    fn visit_u64<E>(self, _: u64) -> Result<Body<'de>, E> {
        Ok(Body::Other("a number"))
    }

    fn visit_f64<E>(self, _: f64) -> Result<Body<'de>, E> {
        Ok(Body::Other("a number"))
    }

    fn visit_unit<E>(self) -> Result<Body<'de>, E> {
        Ok(Body::Other("null"))
    }
}

/// An envelope key, told without allocating.
enum Key {
    Id,
    Type,
    Version,
    EventTs,
    Payload,
    Test,
    Other,
}

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl Visitor<'_> for KeyVisitor {
            type Value = Key;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a key")
            }

            fn visit_str<E>(self, key: &str) -> Result<Key, E> {
                Ok(match key {
                    "id" => Key::Id,
                    "type" => Key::Type,
                    "version" => Key::Version,
                    "event_ts" => Key::EventTs,
                    "payload" => Key::Payload,
                    "test" => Key::Test,
                    _ => Key::Other,
                })
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}
