//! Typed reads of participant and meeting payloads, tolerant of Daily's type drift.

use serde_json::Value;

use crate::event::epoch_seconds;

/// A participant-family payload (participant.* and waiting-participant.*).
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Session {
    pub room: String,
    pub session_id: String,
    pub joined_at: f64,
    pub duration: Option<f64>,
    pub user_id: Option<String>,
    pub user_name: Option<String>,
    pub owner: Option<bool>,
    pub will_eject_at: Option<f64>,
    /// The `permissions` object as JSON text, kept whole (`canSend` may be a bool or a list).
    pub permissions: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub(super) struct Meeting {
    pub meeting_id: String,
    pub room: Option<String>,
    pub start_ts: Option<f64>,
    pub end_ts: Option<f64>,
}

/// Reads a session payload; `need_duration` for waiting-participant.left, whose duration is the wait.
pub(super) fn session(payload: &Value, need_duration: bool) -> Result<Session, String> {
    let room = required_text(payload, "room")?;
    let session_id = required_text(payload, "session_id")?;
    let joined_at = epoch(payload, "joined_at")?.ok_or("payload has no usable `joined_at`")?;
    let duration = seconds(payload, "duration")?;
    if need_duration && duration.is_none() {
        return Err("payload has no usable `duration`".into());
    }
    Ok(Session {
        room,
        session_id,
        joined_at,
        duration,
        user_id: text(payload, "user_id"),
        user_name: text(payload, "user_name"),
        owner: boolean(payload, "owner"),
        will_eject_at: epoch(payload, "will_eject_at")?,
        permissions: payload
            .get("permissions")
            .filter(|p| p.is_object())
            .map(Value::to_string),
    })
}

pub(super) fn meeting(payload: &Value, is_end: bool) -> Result<Meeting, String> {
    let meeting = Meeting {
        meeting_id: required_text(payload, "meeting_id")?,
        room: text(payload, "room"),
        start_ts: epoch(payload, "start_ts")?,
        end_ts: epoch(payload, "end_ts")?,
    };
    match (is_end, meeting.start_ts, meeting.end_ts) {
        (false, None, _) => Err("payload has no usable `start_ts`".into()),
        (true, _, None) => Err("payload has no usable `end_ts`".into()),
        _ => Ok(meeting),
    }
}

fn required_text(payload: &Value, key: &str) -> Result<String, String> {
    text(payload, key)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| format!("payload has no usable `{key}`"))
}

/// A string, or a number written as one; anything else is absent.
fn text(payload: &Value, key: &str) -> Option<String> {
    match payload.get(key)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn boolean(payload: &Value, key: &str) -> Option<bool> {
    match payload.get(key)? {
        Value::Bool(b) => Some(*b),
        Value::String(s) if s.eq_ignore_ascii_case("true") => Some(true),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    }
}

/// An epoch time: absent or null is `None`; present but unreadable is an error.
fn epoch(payload: &Value, key: &str) -> Result<Option<f64>, String> {
    match payload.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => epoch_seconds(v)
            .map(Some)
            .ok_or_else(|| format!("payload `{key}` is not an epoch time: {v}")),
    }
}

/// Longest duration taken as real: ten years. Beyond it, `joined_at + duration` could leave the
/// range of a timestamp.
const MAX_SECONDS: f64 = 10.0 * 365.0 * 86_400.0;

/// A non-negative number of seconds, as a number or numeric string.
fn seconds(payload: &Value, key: &str) -> Result<Option<f64>, String> {
    let parsed = match payload.get(key) {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Number(n)) => n.as_f64(),
        Some(Value::String(s)) => s.trim().parse::<f64>().ok(),
        Some(_) => None,
    };
    match parsed {
        Some(s) if (0.0..=MAX_SECONDS).contains(&s) => Ok(Some(s)),
        _ => Err(format!(
            "payload `{key}` is not a duration in seconds: {}",
            payload[key]
        )),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn knock() -> Value {
        json!({
            "room": "knocking", "session_id": "s1", "user_name": "bipol",
            "joined_at": 1719586614.027, "will_eject_at": null, "owner": false,
            "permissions": {"hasPresence": true, "canSend": true, "canReceive": {"base": true}, "canAdmin": false},
            "duration": 14.403000116348267
        })
    }

    #[test]
    fn the_documented_waiting_left_example_reads_whole() {
        let s = session(&knock(), true).unwrap();
        assert_eq!((s.room.as_str(), s.session_id.as_str()), ("knocking", "s1"));
        assert_eq!(s.joined_at, 1719586614.027);
        assert_eq!(s.duration, Some(14.403000116348267));
        assert_eq!((s.user_id, s.user_name.as_deref()), (None, Some("bipol")));
        assert_eq!((s.owner, s.will_eject_at), (Some(false), None));
        assert!(s.permissions.unwrap().contains("canAdmin"));
    }

    #[test]
    fn type_drift_is_tolerated() {
        let mut p = knock();
        p["joined_at"] = json!("1719586614");
        p["duration"] = json!("14.5");
        p["will_eject_at"] = json!(1719590000);
        p["user_name"] = Value::Null;
        p["permissions"]["canSend"] = json!(["video", "audio"]);
        p["permissions"]["canAdmin"] = json!(["participants"]);
        p["networkQualityState"] = json!("good");
        let s = session(&p, true).unwrap();
        assert_eq!(
            (s.joined_at, s.duration, s.will_eject_at),
            (1719586614.0, Some(14.5), Some(1719590000.0))
        );
        assert_eq!(s.user_name, None);
        assert!(s.permissions.unwrap().contains(r#"["video","audio"]"#));
    }

    #[test]
    fn unusable_payloads_say_which_field() {
        let cases = [
            ("room", Value::Null, "`room`"),
            ("session_id", json!(""), "`session_id`"),
            (
                "joined_at",
                json!("yesterday"),
                "`joined_at` is not an epoch",
            ),
            ("duration", json!(-3), "`duration` is not a duration"),
            ("duration", json!(1e13), "`duration` is not a duration"),
            ("duration", Value::Null, "no usable `duration`"),
        ];
        for (key, value, expected) in cases {
            let mut p = knock();
            p[key] = value;
            let err = session(&p, true).unwrap_err();
            assert!(err.contains(expected), "{key}: {err}");
        }
    }

    #[test]
    fn meetings_need_their_own_time() {
        let started = json!({"start_ts": 1708526032.672, "meeting_id": "m", "room": "r"});
        assert_eq!(
            meeting(&started, false).unwrap().start_ts,
            Some(1708526032.672)
        );
        assert!(meeting(&started, true).unwrap_err().contains("end_ts"));
        assert!(
            meeting(&json!({"room": "r"}), false)
                .unwrap_err()
                .contains("meeting_id")
        );
    }
}
