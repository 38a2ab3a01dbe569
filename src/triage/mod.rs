//! The one triage of a body, for every source: Daily's event envelope, the probe, or a reject.

mod digest;
mod envelope;
mod item;
mod lenient;

use std::ops::Range;

use serde_json::value::RawValue;

use self::envelope::Body;
pub use self::{
    digest::DIGEST_LEN,
    item::{Item, Origin, Reject, item},
    lenient::{boolean, epoch_seconds, is_null, kind, number, string, text},
};

/// What a body is. Every source triages with [`triage`] and nothing else.
#[derive(Debug)]
pub enum Triage {
    /// Daily's `{"test":"test"}` probe, sent when a webhook is created or updated.
    Probe,
    Event(Event),
    /// Not a usable envelope.
    Reject(Rejection),
}

/// One envelope, ready to store.
#[derive(Debug, Clone)]
pub struct Event {
    pub id: String,
    pub event_type: String,
    pub version: Option<String>,
    /// Envelope `event_ts` in epoch seconds, when present and readable.
    pub event_ts: Option<f64>,
    /// Where the payload's JSON text is in `raw` (empty when there is none).
    payload: Range<usize>,
    /// The envelope exactly as received, valid JSON text.
    pub raw: String,
    /// What a repeat is compared by (see [`Event::digest`]).
    digest: [u8; DIGEST_LEN],
}

impl Event {
    /// The payload's JSON text (`null` when the envelope has none), read by the projection only
    /// for the types it projects.
    pub fn payload(&self) -> &RawValue {
        serde_json::from_str(self.payload_text())
            .expect("the payload was read as JSON when the body was")
    }

    /// The payload's JSON text (`null` when the envelope has none), as [`Event::payload`] without
    /// reading it as JSON again.
    fn payload_text(&self) -> &str {
        match self.raw.get(self.payload.clone()) {
            Some(text) if !text.is_empty() => text,
            _ => "null",
        }
    }
}

/// Why a body is not a usable envelope.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Rejection(pub String);

/// Reads a body as an envelope; tolerates unknown keys and the type drift Daily is known for.
pub fn triage(bytes: &[u8]) -> Triage {
    match parse(bytes) {
        Ok(Some(event)) => Triage::Event(event),
        Ok(None) => Triage::Probe,
        Err(rejection) => Triage::Reject(rejection),
    }
}

/// The envelope of `bytes`; `None` for the probe. Only the envelope's own keys are read; the
/// payload is kept as text, so no tree of the body is built.
fn parse(bytes: &[u8]) -> Result<Option<Event>, Rejection> {
    let body = std::str::from_utf8(bytes)
        .map_err(|e| Rejection(format!("body is not JSON: it is not UTF-8 ({e})")))?;
    let fields = match serde_json::from_str::<Body<'_>>(body) {
        Ok(Body::Object(fields)) => fields,
        Ok(Body::Other(kind)) => {
            return Err(Rejection(format!("body is JSON {kind}, not an object")));
        }
        Err(e) => return Err(Rejection(format!("body is not JSON: {e}"))),
    };
    if fields.keys == 1 && fields.test.and_then(string).as_deref() == Some("test") {
        return Ok(None);
    }
    let id = required_string(fields.id, "id")?;
    let event_type = required_string(fields.event_type, "type")?;
    // Postgres jsonb cannot hold U+0000; catch it here rather than fail a whole batch later.
    if lenient::has_nul_escape(body) {
        return Err(Rejection(
            "body contains a \\u0000 character, which Postgres jsonb cannot store".into(),
        ));
    }
    // The payload borrows from `body`: its place in it is all that needs keeping.
    let payload = fields.payload.map_or(0..0, |payload| {
        let start = payload.get().as_ptr() as usize - body.as_ptr() as usize;
        start..start + payload.get().len()
    });
    let mut event = Event {
        id,
        event_type,
        version: fields.version.and_then(text),
        event_ts: fields.event_ts.and_then(epoch_seconds),
        payload,
        raw: body.to_owned(),
        digest: [0; DIGEST_LEN],
    };
    event.digest = digest::of(&event);
    Ok(Some(event))
}

fn required_string(value: Option<&RawValue>, key: &str) -> Result<String, Rejection> {
    let Some(value) = value else {
        return Err(Rejection(format!("envelope has no `{key}`")));
    };
    match string(value) {
        Some(s) if !s.trim().is_empty() => Ok(s.into_owned()),
        Some(_) => Err(Rejection(format!("envelope `{key}` is empty"))),
        None => Err(Rejection(format!(
            "envelope `{key}` is {}, not a string",
            kind(value)
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(body: &str) -> Event {
        match triage(body.as_bytes()) {
            Triage::Event(e) => e,
            other => panic!("expected an event, got {other:?}"),
        }
    }

    fn rejection(body: &[u8]) -> String {
        match triage(body) {
            Triage::Reject(Rejection(reason)) => reason,
            other => panic!("expected a rejection, got {other:?}"),
        }
    }

    #[test]
    fn the_probe_is_recognised() {
        assert!(matches!(triage(br#"{"test":"test"}"#), Triage::Probe));
        assert!(matches!(triage(br#"{ "test" : "test" }"#), Triage::Probe));
        assert!(matches!(
            triage(br#"{"test":"test","id":"e"}"#),
            Triage::Reject(_)
        ));
    }

    #[test]
    fn an_envelope_keeps_raw_bytes_and_reads_drifted_fields() {
        let body = r#"{"version":"1.0.0","type":"x.y","id":"e1","payload":{"a":1},"event_ts":"1719586628.5","extra":true}"#;
        let e = event(body);
        assert_eq!((e.id.as_str(), e.event_type.as_str()), ("e1", "x.y"));
        assert_eq!(e.version.as_deref(), Some("1.0.0"));
        assert_eq!(e.event_ts, Some(1719586628.5));
        assert_eq!(e.payload().get(), r#"{"a":1}"#);
        assert_eq!(e.raw, body);
    }

    #[test]
    fn missing_optional_fields_are_tolerated() {
        let e = event(r#"{"type":"x","id":"e1"}"#);
        assert_eq!(
            (e.version.as_deref(), e.event_ts, e.payload().get()),
            (None, None, "null")
        );
        assert_eq!(
            event(r#"{"type":"x","id":"e1","event_ts":"soon"}"#).event_ts,
            None
        );
        assert_eq!(
            event(r#"{"type":"x","id":"e1","event_ts":1e300}"#).event_ts,
            None
        );
    }

    #[test]
    fn unusable_bodies_are_rejected_with_a_reason() {
        let cases: &[(&[u8], &str)] = &[
            (b"not json", "not JSON"),
            (b"", "not JSON"),
            (b"[1,2]", "an array, not an object"),
            (br#"{"type":"x"}"#, "no `id`"),
            (br#"{"id":7,"type":"x"}"#, "`id` is a number"),
            (br#"{"id":" ","type":"x"}"#, "`id` is empty"),
            (br#"{"id":"e"}"#, "no `type`"),
            (
                br#"{"id":"e","type":"x","payload":{"n":"a\u0000b"}}"#,
                "\\u0000",
            ),
            (b"{\"id\":\"e\",\"type\":\"\xff\"}", "not JSON"),
        ];
        for (body, expected) in cases {
            let reason = rejection(body);
            assert!(
                reason.contains(expected),
                "{:?}: {reason}",
                String::from_utf8_lossy(body)
            );
        }
    }
}
