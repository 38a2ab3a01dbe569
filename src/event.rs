//! The Daily event envelope and the one triage of a body: an event, the probe, or a reject.

use serde_json::{Map, Value};

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
    pub payload: Value,
    /// The envelope exactly as received, valid JSON text.
    pub raw: String,
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

/// The envelope of `bytes`; `None` for the probe.
fn parse(bytes: &[u8]) -> Result<Option<Event>, Rejection> {
    let value: Value =
        serde_json::from_slice(bytes).map_err(|e| Rejection(format!("body is not JSON: {e}")))?;
    let Value::Object(mut envelope) = value else {
        return Err(Rejection(format!(
            "body is JSON {}, not an object",
            kind(&value)
        )));
    };
    if is_probe(&envelope) {
        return Ok(None);
    }
    let id = required_string(&envelope, "id")?;
    let event_type = required_string(&envelope, "type")?;
    // Postgres jsonb cannot hold U+0000; catch it here rather than fail a whole batch later.
    if contains_nul(&envelope) {
        return Err(Rejection(
            "body contains a \\u0000 character, which Postgres jsonb cannot store".into(),
        ));
    }
    let version = match envelope.get("version") {
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    };
    let event_ts = envelope.get("event_ts").and_then(epoch_seconds);
    let payload = envelope.remove("payload").unwrap_or(Value::Null);
    let raw = String::from_utf8(bytes.to_vec()).expect("serde_json accepted it, so it is UTF-8");
    Ok(Some(Event {
        id,
        event_type,
        version,
        event_ts,
        payload,
        raw,
    }))
}

fn is_probe(envelope: &Map<String, Value>) -> bool {
    envelope.len() == 1 && envelope.get("test").and_then(Value::as_str) == Some("test")
}

fn required_string(envelope: &Map<String, Value>, key: &str) -> Result<String, Rejection> {
    match envelope.get(key) {
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(s.clone()),
        Some(Value::String(_)) => Err(Rejection(format!("envelope `{key}` is empty"))),
        Some(other) => Err(Rejection(format!(
            "envelope `{key}` is {}, not a string",
            kind(other)
        ))),
        None => Err(Rejection(format!("envelope has no `{key}`"))),
    }
}

/// Epoch seconds from a number or a numeric string (Daily sends both), within timestamptz range.
pub fn epoch_seconds(value: &Value) -> Option<f64> {
    let seconds = match value {
        Value::Number(n) => n.as_f64()?,
        Value::String(s) => s.trim().parse::<f64>().ok()?,
        _ => return None,
    };
    // Year 1970 to about year 5000: outside that it is not a Daily timestamp.
    (seconds.is_finite() && (0.0..1e11).contains(&seconds)).then_some(seconds)
}

fn contains_nul(map: &Map<String, Value>) -> bool {
    map.iter()
        .any(|(k, v)| k.contains('\0') || value_contains_nul(v))
}

fn value_contains_nul(value: &Value) -> bool {
    match value {
        Value::String(s) => s.contains('\0'),
        Value::Array(items) => items.iter().any(value_contains_nul),
        Value::Object(map) => contains_nul(map),
        _ => false,
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
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
        assert_eq!(e.payload["a"], 1);
        assert_eq!(e.raw, body);
    }

    #[test]
    fn missing_optional_fields_are_tolerated() {
        let e = event(r#"{"type":"x","id":"e1"}"#);
        assert_eq!(
            (e.version, e.event_ts, e.payload),
            (None, None, Value::Null)
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
