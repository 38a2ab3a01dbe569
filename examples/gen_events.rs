//! Synthetic Daily webhooks as NDJSON on stdout, for benchmarks: knock histories
//! (waiting-participant.joined/left, participant.joined/left) and meetings (started/ended).
//!
//! cargo run --release --example gen_events -- --events 200000 [--seed 1] > events.ndjson

use std::io::{self, BufWriter, Write};

use rand::{Rng, SeedableRng, rngs::StdRng};
use serde_json::{Value, json};

fn main() -> io::Result<()> {
    let (events, seed) = arguments();
    let mut rng = StdRng::seed_from_u64(seed);
    let mut out = BufWriter::with_capacity(1 << 20, io::stdout().lock());
    let mut written = 0;
    let mut index = 0u64;
    while written < events {
        for event in history(&mut rng, index) {
            if written == events {
                break;
            }
            serde_json::to_writer(&mut out, &event)?;
            out.write_all(b"\n")?;
            written += 1;
        }
        index += 1;
    }
    out.flush()
}

fn arguments() -> (usize, u64) {
    let mut args = std::env::args().skip(1);
    let (mut events, mut seed) = (200_000, 1);
    while let Some(flag) = args.next() {
        let value = args.next().unwrap_or_default();
        match flag.as_str() {
            "--events" => events = value.parse().expect("--events takes a number"),
            "--seed" => seed = value.parse().expect("--seed takes a number"),
            _ => panic!("usage: gen_events [--events N] [--seed S]"),
        }
    }
    (events, seed)
}

fn envelope(event_type: &str, id: String, event_ts: f64, payload: Value) -> Value {
    json!({"version": "1.0.0", "type": event_type, "id": id, "payload": payload, "event_ts": event_ts})
}

fn session(room: &str, session: &str, joined_at: f64, duration: Option<f64>) -> Value {
    let mut p = json!({
        "room": room, "session_id": session, "user_name": format!("guest-{}", &session[..6]),
        "joined_at": joined_at, "will_eject_at": null, "owner": false,
        "permissions": {"hasPresence": true, "canSend": true, "canReceive": {"base": true}, "canAdmin": false}
    });
    if let Some(d) = duration {
        p["duration"] = json!(d);
    }
    p
}

/// One room visit: a knock and what became of it, or a meeting's start and end.
fn history(rng: &mut StdRng, index: u64) -> Vec<Value> {
    let room = format!("room-{}", rng.random_range(0..200));
    let id = format!(
        "{:08x}-{:04x}-4000-8000-{index:012x}",
        rng.random::<u32>(),
        index % 65536
    );
    let t0 = 1_717_200_000.0 + index as f64 * 7.0 + rng.random_range(0.0..5.0);
    let wait = (rng.random_range(0.5..600.0_f64) * 1000.0).round() / 1000.0;
    let stay = (rng.random_range(1.0..3600.0_f64) * 1000.0).round() / 1000.0;
    let ms = |t: f64| (t * 1000.0) as i64;
    let waiting_joined = || {
        let p = session(&room, &id, t0, Some(0.0));
        envelope(
            "waiting-participant.joined",
            format!("1-w-ptcpt-join-{id}"),
            t0,
            p,
        )
    };
    let waiting_left = || {
        let p = session(&room, &id, t0, Some(wait));
        envelope(
            "waiting-participant.left",
            format!("1-w-ptcpt-left-{id}"),
            t0 + wait,
            p,
        )
    };
    let (at, left_at) = (t0 + wait, t0 + wait + stay);
    let joined = || {
        let p = session(&room, &id, at, None);
        envelope(
            "participant.joined",
            format!("ptcpt-join-{id}-{}", ms(at)),
            at,
            p,
        )
    };
    let left = || {
        let p = session(&room, &id, at, Some(stay));
        envelope(
            "participant.left",
            format!("ptcpt-left-{id}-{}", ms(left_at)),
            left_at,
            p,
        )
    };
    match rng.random_range(0..10) {
        0..=2 => vec![waiting_joined(), waiting_left(), joined(), left()],
        3..=4 => vec![waiting_joined(), waiting_left()],
        5 => vec![waiting_joined()],
        6..=7 => vec![joined(), left()],
        _ => {
            let started = json!({"start_ts": t0, "meeting_id": id, "room": room});
            let ended = json!({"start_ts": t0, "end_ts": left_at, "meeting_id": id, "room": room});
            vec![
                envelope(
                    "meeting.started",
                    format!("met-start-{id}-{}", t0 as i64),
                    t0,
                    started,
                ),
                envelope(
                    "meeting.ended",
                    format!("met-end-{id}-{}", left_at as i64),
                    left_at + 20.0,
                    ended,
                ),
            ]
        }
    }
}
