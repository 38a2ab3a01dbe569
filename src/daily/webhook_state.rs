//! A webhook's state as Daily reports it, in either of its encodings.

use std::fmt;

use serde::{Deserialize, Deserializer, de::Error as _};
use serde_json::Value;

/// A webhook's state. Daily's docs show strings and numbers (FAILED 0, ACTIVE 1, STOPPED 2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    Active,
    Failed,
    Inactive,
    Stopped,
    /// A state this version does not know, as Daily wrote it; never taken for active.
    Other(String),
}

impl State {
    fn from_text(text: &str) -> Self {
        match text.trim().to_ascii_uppercase().as_str() {
            "ACTIVE" => Self::Active,
            "FAILED" => Self::Failed,
            "INACTIVE" => Self::Inactive,
            "STOPPED" => Self::Stopped,
            _ => Self::Other(text.to_owned()),
        }
    }

    fn from_number(n: i64) -> Self {
        match n {
            0 => Self::Failed,
            1 => Self::Active,
            2 => Self::Stopped,
            n => Self::Other(n.to_string()),
        }
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Active => "ACTIVE",
            Self::Failed => "FAILED",
            Self::Inactive => "INACTIVE",
            Self::Stopped => "STOPPED",
            Self::Other(text) => text,
        })
    }
}

impl<'de> Deserialize<'de> for State {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Value::deserialize(d)? {
            Value::String(s) => Ok(Self::from_text(&s)),
            Value::Number(n) => match n.as_i64() {
                Some(n) => Ok(Self::from_number(n)),
                None => Ok(Self::Other(n.to_string())),
            },
            other => Err(D::Error::custom(format!("{other} is not a webhook state"))),
        }
    }
}
