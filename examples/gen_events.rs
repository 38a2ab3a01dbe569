//! Synthetic Daily webhooks as NDJSON on stdout, for benchmarks: knock histories
//! (waiting-participant.joined/left, participant.joined/left) and meetings (started/ended).
//!
//! cargo run --release --example gen_events -- --events 200000 [--seed 1] [--csv] > events.ndjson
//!
//! `--csv` writes the same events as two CSV columns, event id and envelope, for `psql \copy`.

use std::io::{self, BufWriter, Write};

use clap::Parser;
use rand::{Rng, SeedableRng, rngs::StdRng};
use serde_json::{Value, json};

#[derive(Parser)]
struct Arguments {
    /// How many events to write.
    #[arg(long, default_value_t = 200_000)]
    events: usize,
    /// Seed of the random histories: the same seed gives the same events.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Write two CSV columns (event id, envelope) for `psql \copy` instead of NDJSON.
    #[arg(long)]
    csv: bool,
}

fn main() -> io::Result<()> {
    let args = Arguments::parse();
    let mut rng = StdRng::seed_from_u64(args.seed);
    let mut out = BufWriter::with_capacity(1 << 20, io::stdout().lock());
    let mut written = 0;
    let mut index = 0u64;
    while written < args.events {
        for event in history(&mut rng, index) {
            if written == args.events {
                break;
            }
            write_event(&mut out, &event, args.csv)?;
            written += 1;
        }
        index += 1;
    }
    out.flush()
}

/// One NDJSON line, or one CSV row `"<id>","<envelope>"` with quotes doubled.
fn write_event(out: &mut impl Write, event: &Value, csv: bool) -> io::Result<()> {
    let line = event.to_string();
    if csv {
        let quote = |s: &str| s.replace('"', "\"\"");
        let id = event["id"].as_str().unwrap_or_default();
        writeln!(out, "\"{}\",\"{}\"", quote(id), quote(&line))
    } else {
        writeln!(out, "{line}")
    }
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
