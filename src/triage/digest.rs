//! What a repeat of an event is compared by: a digest of its type, version and payload as
//! received (whitespace between JSON tokens aside), kept beside the raw row so that a repeat costs
//! an id lookup, not a read of the body.

use sha2::{Digest, Sha256};

use super::Event;

/// Bytes of SHA-256 kept: 128 bits, so two different events never meet the same digest.
pub const DIGEST_LEN: usize = 16;

impl Event {
    /// The first 16 bytes of SHA-256 over the event's type and version, each length-prefixed,
    /// then its payload text without the whitespace between its tokens (so a pretty-printed
    /// copy digests as the compact one). `event_ts` is left out (Daily may restamp a retry) and
    /// so is the id (a repeat has the same). Two events with one digest say the same thing word
    /// for word; different digests may still be the same JSON (keys in another order, say).
    /// Computed once, by the triage.
    pub fn digest(&self) -> [u8; DIGEST_LEN] {
        self.digest
    }
}

/// The digest of [`Event::digest`], computed from the event's fields.
pub(super) fn of(event: &Event) -> [u8; DIGEST_LEN] {
    let mut hasher = Sha256::new();
    let mut field = |bytes: Option<&[u8]>| match bytes {
        Some(bytes) => {
            hasher.update((bytes.len() as u64).to_le_bytes());
            hasher.update(bytes);
        }
        None => hasher.update(u64::MAX.to_le_bytes()),
    };
    field(Some(event.event_type.as_bytes()));
    field(event.version.as_deref().map(str::as_bytes));
    for token in tokens(event.payload_text().as_bytes()) {
        hasher.update(token);
    }
    let full = hasher.finalize();
    let mut digest = [0; DIGEST_LEN];
    digest.copy_from_slice(&full[..DIGEST_LEN]);
    digest
}

/// The runs of `json` (valid JSON text) between whitespace outside strings.
fn tokens(json: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut in_string = false;
    let mut escaped = false;
    json.split(move |&byte| {
        if in_string {
            match (escaped, byte) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            return false;
        }
        if byte == b'"' {
            in_string = true;
        }
        matches!(byte, b' ' | b'\t' | b'\n' | b'\r')
    })
}

#[cfg(test)]
mod tests {
    use crate::triage::{Triage, triage};

    fn digest(body: &str) -> [u8; 16] {
        match triage(body.as_bytes()) {
            Triage::Event(event) => event.digest(),
            other => panic!("not an event: {other:?}"),
        }
    }

    #[test]
    fn a_retry_restamped_has_the_digest_of_the_first_delivery() {
        let first = r#"{"version":"1.0.0","type":"meeting.started","id":"a","payload":{"room":"r"},"event_ts":1.5}"#;
        let retry = r#"{"id":"a","event_ts":99,"type":"meeting.started","version":"1.0.0","payload":{"room":"r"}}"#;
        assert_eq!(digest(first), digest(retry));
    }

    #[test]
    fn type_version_and_payload_each_change_the_digest() {
        let base = digest(
            r#"{"version":"1.0.0","type":"meeting.started","id":"a","payload":{"room":"r"}}"#,
        );
        for other in [
            r#"{"version":"1.0.0","type":"meeting.ended","id":"a","payload":{"room":"r"}}"#,
            r#"{"version":"1.0.1","type":"meeting.started","id":"a","payload":{"room":"r"}}"#,
            r#"{"type":"meeting.started","id":"a","payload":{"room":"r"}}"#,
            r#"{"version":"1.0.0","type":"meeting.started","id":"a","payload":{"room":"s"}}"#,
            r#"{"version":"1.0.0","type":"meeting.started","id":"a"}"#,
        ] {
            assert_ne!(digest(other), base, "{other}");
        }
    }

    #[test]
    fn whitespace_between_tokens_does_not_count_and_whitespace_in_strings_does() {
        let compact =
            digest(r#"{"type":"t","id":"a","payload":{"a":[1,2],"b":"x y","c":"q\" z"}}"#);
        let pretty = digest(
            "{\"type\": \"t\",\n \"id\": \"a\",\n \"payload\": {\n  \"a\": [ 1,\r\n\t2 ],\n  \"b\": \"x y\",\n  \"c\": \"q\\\" z\"\n }\n}",
        );
        assert_eq!(compact, pretty);
        let other = digest(r#"{"type":"t","id":"a","payload":{"a":[1,2],"b":"xy","c":"q\" z"}}"#);
        assert_ne!(compact, other);
        let escaped = digest(r#"{"type":"t","id":"a","payload":{"a":[1,2],"b":"x y","c":"q\"z"}}"#);
        assert_ne!(compact, escaped);
    }

    #[test]
    fn fields_cannot_run_into_each_other() {
        // Without length prefixes "ab" + "c" and "a" + "bc" would read alike.
        let one = digest(r#"{"version":"ab","type":"c","id":"a","payload":1}"#);
        let two = digest(r#"{"version":"a","type":"bc","id":"a","payload":1}"#);
        assert_ne!(one, two);
    }
}
