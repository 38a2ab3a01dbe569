//! Daily's webhook signature: HMAC-SHA256 over `timestamp.body`, checked on the raw bytes.

mod secrets;

use std::sync::Arc;

use base64::{Engine, engine::general_purpose::STANDARD};
use hmac::{Hmac, Mac};
use sha2::Sha256;

pub use secrets::{WebhookSecret, WebhookSecrets};

pub const SIGNATURE_HEADER: &str = "x-webhook-signature";
pub const TIMESTAMP_HEADER: &str = "x-webhook-timestamp";

/// How requests are authenticated.
#[derive(Debug, Clone)]
pub enum Verification {
    /// Any one of these secrets must have signed the request.
    Secrets(Arc<[WebhookSecret]>),
    /// Unsigned requests are accepted (explicit opt-in, local use only).
    Disabled,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("missing X-Webhook-Signature header")]
    MissingSignature,
    #[error("missing X-Webhook-Timestamp header")]
    MissingTimestamp,
    #[error("X-Webhook-Signature is not base64")]
    SignatureNotBase64,
    #[error("signature does not match the body with any configured secret")]
    Mismatch,
}

impl SignatureError {
    /// A stable, machine-readable name for the JSON error body.
    pub fn code(self) -> &'static str {
        match self {
            Self::MissingSignature => "missing_signature",
            Self::MissingTimestamp => "missing_timestamp",
            Self::SignatureNotBase64 => "signature_not_base64",
            Self::Mismatch => "bad_signature",
        }
    }
}

/// Checks `signature` (base64) against every secret; succeeds if any one matches.
///
/// `timestamp` is the X-Webhook-Timestamp header exactly as received (milliseconds, but it is
/// signed as text, so it is never parsed here).
pub fn verify(
    secrets: &[WebhookSecret],
    timestamp: Option<&[u8]>,
    signature: Option<&[u8]>,
    body: &[u8],
) -> Result<(), SignatureError> {
    let mut verifier = Verifier::start(secrets, timestamp, signature)?;
    verifier.update(body);
    verifier.finish()
}

/// A signature check fed the body chunk by chunk as it arrives, so the headers are checked
/// before any of it is read and no copy of the body is needed to verify it.
pub struct Verifier {
    expected: Vec<u8>,
    macs: Vec<Hmac<Sha256>>,
}

impl Verifier {
    /// Checks the headers are there and readable; the body follows through `update`.
    pub fn start(
        secrets: &[WebhookSecret],
        timestamp: Option<&[u8]>,
        signature: Option<&[u8]>,
    ) -> Result<Self, SignatureError> {
        let signature = signature.ok_or(SignatureError::MissingSignature)?;
        let timestamp = timestamp.ok_or(SignatureError::MissingTimestamp)?;
        let expected = STANDARD
            .decode(signature.trim_ascii())
            .map_err(|_| SignatureError::SignatureNotBase64)?;
        let macs = secrets
            .iter()
            .map(|secret| mac(secret.key(), timestamp, b""))
            .collect();
        Ok(Self { expected, macs })
    }

    pub fn update(&mut self, chunk: &[u8]) {
        for mac in &mut self.macs {
            mac.update(chunk);
        }
    }

    /// Whether any secret signed what was fed.
    pub fn finish(self) -> Result<(), SignatureError> {
        // verify_slice compares in constant time.
        let expected = self.expected;
        let matches = self
            .macs
            .into_iter()
            .any(|mac| mac.verify_slice(&expected).is_ok());
        if matches {
            Ok(())
        } else {
            Err(SignatureError::Mismatch)
        }
    }
}

/// The base64 signature Daily would send for `body` at `timestamp`.
pub fn sign(key: &[u8], timestamp: &str, body: &[u8]) -> String {
    STANDARD.encode(mac(key, timestamp.as_bytes(), body).finalize().into_bytes())
}

fn mac(key: &[u8], timestamp: &[u8], body: &[u8]) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC accepts keys of any length");
    mac.update(timestamp);
    mac.update(b".");
    mac.update(body);
    mac
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "c2VjcmV0LWtleS1mb3ItdGVzdHM="; // base64("secret-key-for-tests")
    const TIMESTAMP: &str = "1719586628431";
    const BODY: &[u8] = br#"{"test":"test"}"#;
    // Computed independently:
    // printf '%s' '1719586628431.{"test":"test"}' \
    //   | openssl dgst -sha256 -mac HMAC -macopt hexkey:$(printf 'secret-key-for-tests' | xxd -p) -binary \
    //   | base64
    const KNOWN_SIGNATURE: &str = "vxakRIe2utFTKeH0b5+iRPuTqDhcs9inMJ9z8FqoI4E=";

    fn secrets(list: &[&str]) -> Vec<WebhookSecret> {
        list.iter().map(|s| s.parse().unwrap()).collect()
    }

    fn check(secret_list: &[&str], ts: &str, sig: &str, body: &[u8]) -> Result<(), SignatureError> {
        verify(
            &secrets(secret_list),
            Some(ts.as_bytes()),
            Some(sig.as_bytes()),
            body,
        )
    }

    #[test]
    fn sign_matches_the_openssl_known_answer() {
        let key = STANDARD.decode(SECRET).unwrap();
        assert_eq!(sign(&key, TIMESTAMP, BODY), KNOWN_SIGNATURE);
    }

    #[test]
    fn known_answer_verifies() {
        assert_eq!(check(&[SECRET], TIMESTAMP, KNOWN_SIGNATURE, BODY), Ok(()));
    }

    #[test]
    fn a_body_fed_in_chunks_verifies_like_a_whole_one() {
        let mut verifier = Verifier::start(
            &secrets(&[SECRET]),
            Some(TIMESTAMP.as_bytes()),
            Some(KNOWN_SIGNATURE.as_bytes()),
        )
        .unwrap();
        for chunk in BODY.chunks(4) {
            verifier.update(chunk);
        }
        assert_eq!(verifier.finish(), Ok(()));
    }

    #[test]
    fn any_of_several_secrets_verifies() {
        let other = "b3RoZXItc2VjcmV0";
        assert_eq!(
            check(&[other, SECRET], TIMESTAMP, KNOWN_SIGNATURE, BODY),
            Ok(())
        );
        assert_eq!(
            check(&[other], TIMESTAMP, KNOWN_SIGNATURE, BODY),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn tampering_with_body_or_timestamp_fails() {
        let tampered_body = br#"{"test":"tesT"}"#;
        assert_eq!(
            check(&[SECRET], TIMESTAMP, KNOWN_SIGNATURE, tampered_body),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            check(&[SECRET], "1719586628432", KNOWN_SIGNATURE, BODY),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn missing_or_malformed_headers_are_named() {
        let s = secrets(&[SECRET]);
        let ts = Some(TIMESTAMP.as_bytes());
        let sig = Some(KNOWN_SIGNATURE.as_bytes());
        assert_eq!(
            verify(&s, ts, None, BODY),
            Err(SignatureError::MissingSignature)
        );
        assert_eq!(
            verify(&s, None, sig, BODY),
            Err(SignatureError::MissingTimestamp)
        );
        assert_eq!(
            verify(&s, ts, Some(b"%%%not base64"), BODY),
            Err(SignatureError::SignatureNotBase64)
        );
        // Valid base64 of the wrong length is a mismatch, not a panic.
        assert_eq!(
            verify(&s, ts, Some(b"AAAA"), BODY),
            Err(SignatureError::Mismatch)
        );
    }
}
