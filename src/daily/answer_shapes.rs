//! Daily's answers around objects: a list bare or as `{"data": [...]}`, an object bare or wrapped.

use serde::{
    Deserialize, Deserializer,
    de::{DeserializeOwned, Error as _},
};
use serde_json::Value;

/// A list as Daily answers it: a bare array, `{"data": [...]}`, or a lone object.
#[derive(Debug)]
pub struct List<T>(pub Vec<T>);

impl<'de, T: DeserializeOwned> Deserialize<'de> for List<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let items = match Value::deserialize(d)? {
            Value::Object(mut map) if map.contains_key("data") => {
                map.remove("data").unwrap_or_default()
            }
            Value::Object(map) => Value::Array(vec![Value::Object(map)]),
            other => other,
        };
        serde_json::from_value(items)
            .map(Self)
            .map_err(D::Error::custom)
    }
}

/// One object, bare or as `{"data": {...}}`.
pub struct One<T>(pub T);

impl<'de, T: DeserializeOwned> Deserialize<'de> for One<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let item = match Value::deserialize(d)? {
            Value::Object(mut map) if map.len() == 1 && map.contains_key("data") => {
                map.remove("data").unwrap_or_default()
            }
            other => other,
        };
        serde_json::from_value(item)
            .map(Self)
            .map_err(D::Error::custom)
    }
}
