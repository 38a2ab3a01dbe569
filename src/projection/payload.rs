//! Typed reads of participant and meeting payloads, tolerant of Daily's type drift, straight
//! from the payload's text.

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::triage::{boolean, epoch_seconds, is_null, kind, number, text};

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

/// The keys a session payload may carry, unread until asked for; others are skipped.
#[derive(Default, Deserialize)]
struct SessionKeys<'a> {
    #[serde(borrow)]
    room: Option<&'a RawValue>,
    #[serde(borrow)]
    session_id: Option<&'a RawValue>,
    #[serde(borrow)]
    joined_at: Option<&'a RawValue>,
    #[serde(borrow)]
    duration: Option<&'a RawValue>,
    #[serde(borrow)]
    user_id: Option<&'a RawValue>,
    #[serde(borrow)]
    user_name: Option<&'a RawValue>,
    #[serde(borrow)]
    owner: Option<&'a RawValue>,
    #[serde(borrow)]
    will_eject_at: Option<&'a RawValue>,
    #[serde(borrow)]
    permissions: Option<&'a RawValue>,
}

#[derive(Default, Deserialize)]
struct MeetingKeys<'a> {
    #[serde(borrow)]
    meeting_id: Option<&'a RawValue>,
    #[serde(borrow)]
    room: Option<&'a RawValue>,
    #[serde(borrow)]
    start_ts: Option<&'a RawValue>,
    #[serde(borrow)]
    end_ts: Option<&'a RawValue>,
}

/// The keys of a payload; a payload that is not an object has none.
fn keys<'a, T: Deserialize<'a> + Default>(payload: &'a RawValue) -> Result<T, String> {
    if kind(payload) != "an object" {
        return Ok(T::default());
    }
    serde_json::from_str(payload.get()).map_err(|e| format!("payload cannot be read: {e}"))
}

/// Reads a session payload; `need_duration` for waiting-participant.left, whose duration is the wait.
pub(super) fn session(payload: &RawValue, need_duration: bool) -> Result<Session, String> {
    let p: SessionKeys<'_> = keys(payload)?;
    let room = required_text(p.room, "room")?;
    let session_id = required_text(p.session_id, "session_id")?;
    let joined_at = epoch(p.joined_at, "joined_at")?.ok_or("payload has no usable `joined_at`")?;
    let duration = seconds(p.duration, "duration")?;
    if need_duration && duration.is_none() {
        return Err("payload has no usable `duration`".into());
    }
    Ok(Session {
        room,
        session_id,
        joined_at,
        duration,
        user_id: p.user_id.and_then(text),
        user_name: p.user_name.and_then(text),
        owner: p.owner.and_then(boolean),
        will_eject_at: epoch(p.will_eject_at, "will_eject_at")?,
        permissions: p
            .permissions
            .filter(|v| kind(v) == "an object")
            .map(|v| v.get().to_owned()),
    })
}

pub(super) fn meeting(payload: &RawValue, is_end: bool) -> Result<Meeting, String> {
    let p: MeetingKeys<'_> = keys(payload)?;
    let meeting = Meeting {
        meeting_id: required_text(p.meeting_id, "meeting_id")?,
        room: p.room.and_then(text),
        start_ts: epoch(p.start_ts, "start_ts")?,
        end_ts: epoch(p.end_ts, "end_ts")?,
    };
    match (is_end, meeting.start_ts, meeting.end_ts) {
        (false, None, _) => Err("payload has no usable `start_ts`".into()),
        (true, _, None) => Err("payload has no usable `end_ts`".into()),
        _ => Ok(meeting),
    }
}

fn required_text(value: Option<&RawValue>, key: &str) -> Result<String, String> {
    value
        .and_then(text)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| format!("payload has no usable `{key}`"))
}

/// An epoch time: absent or null is `None`; present but unreadable is an error.
fn epoch(value: Option<&RawValue>, key: &str) -> Result<Option<f64>, String> {
    match value {
        None => Ok(None),
        Some(v) if is_null(v) => Ok(None),
        Some(v) => epoch_seconds(v)
            .map(Some)
            .ok_or_else(|| format!("payload `{key}` is not an epoch time: {}", v.get())),
    }
}

/// Longest duration taken as real: ten years. Beyond it, `joined_at + duration` could leave the
/// range of a timestamp.
const MAX_SECONDS: f64 = 10.0 * 365.0 * 86_400.0;

/// A non-negative number of seconds, as a number or numeric string.
fn seconds(value: Option<&RawValue>, key: &str) -> Result<Option<f64>, String> {
    match value {
        None => Ok(None),
        Some(v) if is_null(v) => Ok(None),
        Some(v) => match number(v) {
            Some(s) if (0.0..=MAX_SECONDS).contains(&s) => Ok(Some(s)),
            _ => Err(format!(
                "payload `{key}` is not a duration in seconds: {}",
                v.get()
            )),
        },
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    fn raw(value: &Value) -> Box<RawValue> {
        RawValue::from_string(value.to_string()).unwrap()
    }

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
        let s = session(&raw(&knock()), true).unwrap();
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
        let s = session(&raw(&p), true).unwrap();
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
            let err = session(&raw(&p), true).unwrap_err();
            assert!(err.contains(expected), "{key}: {err}");
        }
    }

    #[test]
    fn meetings_need_their_own_time() {
        let started = json!({"start_ts": 1708526032.672, "meeting_id": "m", "room": "r"});
        assert_eq!(
            meeting(&raw(&started), false).unwrap().start_ts,
            Some(1708526032.672)
        );
        assert!(
            meeting(&raw(&started), true)
                .unwrap_err()
                .contains("end_ts")
        );
        assert!(
            meeting(&raw(&json!({"room": "r"})), false)
                .unwrap_err()
                .contains("meeting_id")
        );
    }
}
