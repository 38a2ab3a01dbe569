//! Daily-shaped events for tests: knock histories with a known outcome.

use rand::{Rng, rngs::StdRng};
use serde_json::{Value, json};

/// An event envelope as Daily sends it.
pub fn envelope(event_type: &str, id: &str, event_ts: f64, payload: Value) -> Value {
    json!({"version": "1.0.0", "type": event_type, "id": id, "payload": payload, "event_ts": event_ts})
}

/// A participant-family payload; `user_id` is absent for tokenless knockers.
pub fn session_payload(room: &str, session: &str, joined_at: f64, duration: Option<f64>) -> Value {
    let mut p = json!({
        "room": room, "session_id": session, "user_name": format!("guest-{}", &session[..4]),
        "joined_at": joined_at, "will_eject_at": null, "owner": false,
        "permissions": {"hasPresence": true, "canSend": true, "canReceive": {"base": true}, "canAdmin": false}
    });
    if let Some(d) = duration {
        p["duration"] = json!(d);
    }
    p
}

pub fn waiting_joined(room: &str, session: &str, at: f64) -> Value {
    envelope(
        "waiting-participant.joined",
        &format!("1-w-ptcpt-join-{session}"),
        at,
        session_payload(room, session, at, Some(0.0)),
    )
}

pub fn waiting_left(room: &str, session: &str, at: f64, waited: f64) -> Value {
    envelope(
        "waiting-participant.left",
        &format!("1-w-ptcpt-left-{session}"),
        at + waited,
        session_payload(room, session, at, Some(waited)),
    )
}

pub fn participant_joined(room: &str, session: &str, at: f64) -> Value {
    envelope(
        "participant.joined",
        &format!("ptcpt-join-{session}-{}", (at * 1000.0) as i64),
        at,
        session_payload(room, session, at, None),
    )
}

pub fn participant_left(room: &str, session: &str, at: f64, stayed: f64) -> Value {
    envelope(
        "participant.left",
        &format!("ptcpt-left-{session}-{}", ((at + stayed) * 1000.0) as i64),
        at + stayed,
        session_payload(room, session, at, Some(stayed)),
    )
}

/// What the `knocks` view must say of one knock.
#[derive(Debug, Clone, PartialEq)]
pub struct Expected {
    pub room: String,
    pub session_id: String,
    pub knocked_at: f64,
    pub resolved_at: Option<f64>,
    pub wait_seconds: Option<f64>,
    pub outcome: &'static str,
}

/// A random history: its events and, if it is a knock, the expected `knocks` row.
pub fn random_history(rng: &mut StdRng, index: usize, now: f64) -> (Vec<Value>, Option<Expected>) {
    let room = format!("room-{}", rng.random_range(0..4));
    let session = format!(
        "{:08x}-{index:04}-4000-8000-000000000000",
        rng.random::<u32>()
    );
    let t0 = now - rng.random_range(3_600.0..30.0 * 86_400.0);
    let wait = (rng.random_range(0.5..600.0_f64) * 1000.0).round() / 1000.0;
    let stay = rng.random_range(1.0..3_600.0);
    let expect = |knocked_at, resolved_at, wait_seconds, outcome| {
        Some(Expected {
            room: room.clone(),
            session_id: session.clone(),
            knocked_at,
            resolved_at,
            wait_seconds,
            outcome,
        })
    };
    match rng.random_range(0..7) {
        // Admitted after waiting, with a waiting-participant.left at admission too.
        0 => (
            vec![
                waiting_joined(&room, &session, t0),
                waiting_left(&room, &session, t0, wait),
                participant_joined(&room, &session, t0 + wait),
                participant_left(&room, &session, t0 + wait, stay),
            ],
            expect(t0, Some(t0 + wait), Some(wait), "admitted"),
        ),
        // Admitted, no waiting-participant.left, still in the call.
        1 => (
            vec![
                waiting_joined(&room, &session, t0),
                participant_joined(&room, &session, t0 + wait),
            ],
            expect(t0, Some(t0 + wait), Some(wait), "admitted"),
        ),
        // Gave up (or was denied).
        2 => (
            vec![
                waiting_joined(&room, &session, t0),
                waiting_left(&room, &session, t0, wait),
            ],
            expect(t0, Some(t0 + wait), Some(wait), "abandoned"),
        ),
        // Only the left event reached us: still a complete knock.
        3 => (
            vec![waiting_left(&room, &session, t0, wait)],
            expect(t0, Some(t0 + wait), Some(wait), "abandoned"),
        ),
        // Knocking for a few minutes, nothing else yet.
        4 => {
            let recent = now - rng.random_range(60.0..3_000.0);
            (
                vec![waiting_joined(&room, &session, recent)],
                expect(recent, None, None, "waiting"),
            )
        }
        // Knocked days ago; its resolution was lost.
        5 => (
            vec![waiting_joined(&room, &session, t0 - 86_400.0)],
            expect(t0 - 86_400.0, None, None, "unresolved"),
        ),
        // A participant with a token: never knocked.
        _ => (
            vec![
                participant_joined(&room, &session, t0),
                participant_left(&room, &session, t0, stay),
            ],
            None,
        ),
    }
}
