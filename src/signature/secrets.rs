//! Webhook signing secrets as configured: parsed without echoing them, never shown in `Debug`.

use std::{fmt, str::FromStr};

use base64::{Engine, engine::general_purpose::STANDARD};

/// The signing keys as configured: a comma-separated list of base64 secrets, empty items ignored.
/// Parsing never fails, so a bad value is never echoed by clap; `decode` checks it without
/// repeating any secret.
#[derive(Clone, Default)]
pub struct WebhookSecrets(String);

impl WebhookSecrets {
    pub fn decode(&self) -> Result<Vec<WebhookSecret>, String> {
        self.0
            .split(',')
            .filter(|item| !item.trim().is_empty())
            .enumerate()
            .map(|(i, item)| {
                item.parse()
                    .map_err(|e| format!("DAILY_WEBHOOK_SECRET, item {}: {e}", i + 1))
            })
            .collect()
    }
}

impl FromStr for WebhookSecrets {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self(s.to_owned()))
    }
}

impl fmt::Debug for WebhookSecrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// A decoded webhook signing key; `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookSecret(Vec<u8>);

impl WebhookSecret {
    pub fn key(&self) -> &[u8] {
        &self.0
    }
}

impl FromStr for WebhookSecret {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if s.is_empty() {
            return Err("the webhook secret is empty".into());
        }
        // Daily hands out the secret as base64 and signs with the decoded bytes.
        let key = STANDARD.decode(s).map_err(|_| {
            "the webhook secret is not base64; use the `hmac` value Daily shows".to_owned()
        })?;
        Ok(Self(key))
    }
}

impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_comma_separated_and_redacted() {
        let configured: WebhookSecrets = "c2VjcmV0, b3RoZXI=,".parse().unwrap();
        let secrets = configured.decode().unwrap();
        assert_eq!(secrets.len(), 2);
        assert_eq!(secrets[0].key(), b"secret");
        let debug = format!("{configured:?} {secrets:?}");
        assert!(
            !debug.contains("c2VjcmV0") && !debug.contains("secret\""),
            "{debug}"
        );
    }

    #[test]
    fn an_empty_secret_list_means_no_secret() {
        let configured: WebhookSecrets = " , ".parse().unwrap();
        assert!(configured.decode().unwrap().is_empty());
    }

    #[test]
    fn a_secret_that_is_not_base64_is_refused_without_showing_any_secret() {
        let configured: WebhookSecrets = "c2VjcmV0,hunter2!".parse().unwrap();
        let err = configured.decode().unwrap_err();
        assert!(
            err.contains("item 2") && err.contains("not base64"),
            "{err}"
        );
        assert!(
            !err.contains("hunter2") && !err.contains("c2VjcmV0"),
            "{err}"
        );
    }
}
