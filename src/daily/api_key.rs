//! How to reach Daily's REST API: its URL and the key, which is never shown.

use std::fmt;

/// How to reach Daily's REST API.
#[derive(Debug, Clone)]
pub struct Api {
    pub key: ApiKey,
    /// Base URL, `https://api.daily.co/v1` unless testing.
    pub url: String,
}

/// Daily's API key as configured; parsing never fails so clap never echoes it, `Debug` hides it.
#[derive(Clone, Default)]
pub struct ApiKey(String);

impl ApiKey {
    /// The key, or None when it is unset or blank.
    pub fn get(&self) -> Option<&str> {
        Some(self.0.trim()).filter(|k| !k.is_empty())
    }
}

impl std::str::FromStr for ApiKey {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self(s.to_owned()))
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}
