//! A realistic recent month of knocks for `lobbylog demo`: Daily-shaped events in a few rooms,
//! admitted, abandoned and still waiting, shuffled and partly repeated as deliveries are.

use serde_json::{Value, json};

/// Every demo event id starts with this, so the demo's events can be told from real ones.
pub const ID_PREFIX: &str = "demo-";
/// The rooms, and how many knocks each gets on a busy day.
const ROOMS: [(&str, u64); 4] = [
    ("demo-front-desk", 60),
    ("demo-sales", 35),
    ("demo-support", 45),
    ("demo-onboarding", 15),
];
const DAY: f64 = 86_400.0;

/// What [`month`] made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Month {
    /// Event bodies in delivery order: shuffled, some repeated.
    pub bodies: Vec<Vec<u8>>,
    pub knocks: u64,
    pub repeats: u64,
}

/// The `days` before `now` (epoch seconds) of knocks in the demo rooms, the same for the same
/// `seed`. Knocks follow office hours (UTC), most are admitted within a minute or two, some give
/// up, and a few are knocking right now.
pub fn month(now: f64, days: u32, seed: u64) -> Month {
    let mut rng = SplitMix(seed);
    let mut events = Vec::new();
    let mut knocks = 0;
    let today = (now / DAY).floor() * DAY;
    for day in (0..=days).rev() {
        let midnight = today - f64::from(day) * DAY;
        for (room, busy) in ROOMS {
            // 1970-01-01 was a Thursday: day 3 of a week that starts on Monday.
            let weekend = ((midnight / DAY) as i64 + 3) % 7 >= 5;
            let count = if weekend { busy / 5 } else { busy } * (70 + rng.below(60)) / 100;
            for _ in 0..count {
                let at = midnight + office_hour(&mut rng) * 3600.0;
                if at >= now - 600.0 || at < now - f64::from(days) * DAY {
                    continue;
                }
                knocks += 1;
                events.extend(knock(&mut rng, room, knocks, at, now));
            }
        }
    }
    for (room, _) in ROOMS.iter().take(3) {
        knocks += 1;
        let at = now - 30.0 - rng.below(240) as f64;
        events.push(waiting_joined(room, &session(knocks), at));
    }
    let repeats = events.len() as u64 / 20;
    for _ in 0..repeats {
        let again = events[rng.below(events.len() as u64) as usize].clone();
        events.push(again);
    }
    shuffle(&mut events, &mut rng);
    Month {
        bodies: events.iter().map(|e| e.to_string().into_bytes()).collect(),
        knocks,
        repeats,
    }
}

/// An hour of the day (fractional), mostly 08:00-18:00.
fn office_hour(rng: &mut SplitMix) -> f64 {
    let minutes = if rng.below(10) < 9 {
        8 * 60 + rng.below(10 * 60)
    } else {
        rng.below(24 * 60)
    };
    minutes as f64 / 60.0 + rng.below(60) as f64 / 3600.0
}

/// One knock's events: admitted (the participant joins, then leaves), or abandoned.
fn knock(rng: &mut SplitMix, room: &str, n: u64, at: f64, now: f64) -> Vec<Value> {
    let id = session(n);
    let mut events = vec![waiting_joined(room, &id, at)];
    if rng.below(100) < 78 {
        let wait = (5 + rng.below(110)) as f64;
        let stay = (300 + rng.below(2700)) as f64;
        events.push(participant(
            "participant.joined",
            room,
            &id,
            at + wait,
            None,
        ));
        events.push(waiting_left(room, &id, at, wait));
        if at + wait + stay < now {
            let left = participant("participant.left", room, &id, at + wait, Some(stay));
            events.push(left);
        }
    } else {
        let wait = (20 + rng.below(400)) as f64;
        events.push(waiting_left(room, &id, at, wait.min(now - at - 1.0)));
    }
    events
}

fn session(n: u64) -> String {
    format!("{n:08x}-de00-4000-8000-000000000000")
}

/// A name for the knocker of `session`, the same for every event of the session.
fn guest_name(session: &str) -> String {
    const NAMES: [&str; 12] = [
        "Ada", "Bea", "Chen", "Dana", "Emil", "Femi", "Gus", "Hana", "Ines", "Jon", "Kai", "Lea",
    ];
    let n = u64::from_str_radix(&session[..8], 16).unwrap_or(0);
    format!("{} ({n})", NAMES[(n % 12) as usize])
}

fn envelope(event_type: &str, id: String, at: f64, payload: Value) -> Value {
    json!({"version": "1.0.0", "type": event_type, "id": id, "event_ts": at, "payload": payload})
}

fn payload(room: &str, session: &str, joined_at: f64, duration: Option<f64>) -> Value {
    json!({
        "room": room, "session_id": session, "user_id": null,
        "user_name": guest_name(session), "joined_at": joined_at,
        "will_eject_at": null, "owner": false, "duration": duration,
        "permissions": {"hasPresence": true, "canSend": true, "canAdmin": false}
    })
}

fn waiting_joined(room: &str, session: &str, at: f64) -> Value {
    let id = format!("{ID_PREFIX}wj-{session}");
    let body = payload(room, session, at, None);
    envelope("waiting-participant.joined", id, at, body)
}

fn waiting_left(room: &str, session: &str, at: f64, waited: f64) -> Value {
    let id = format!("{ID_PREFIX}wl-{session}");
    let body = payload(room, session, at, Some(waited));
    envelope("waiting-participant.left", id, at + waited, body)
}

fn participant(event_type: &str, room: &str, session: &str, at: f64, stay: Option<f64>) -> Value {
    let kind = if stay.is_some() { "pl" } else { "pj" };
    let id = format!("{ID_PREFIX}{kind}-{session}");
    let sent = at + stay.unwrap_or(0.0);
    envelope(event_type, id, sent, payload(room, session, at, stay))
}

/// Fisher-Yates with the demo's own generator: the same seed, the same order.
fn shuffle(events: &mut [Value], rng: &mut SplitMix) {
    for i in (1..events.len()).rev() {
        events.swap(i, rng.below(i as u64 + 1) as usize);
    }
}

/// SplitMix64: small, seedable and good enough to scatter demo data.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: f64 = 1_780_000_000.0;

    #[test]
    fn the_same_seed_gives_the_same_month() {
        assert_eq!(month(NOW, 30, 7), month(NOW, 30, 7));
        assert_ne!(month(NOW, 30, 7).bodies, month(NOW, 30, 8).bodies);
    }

    #[test]
    fn a_month_is_recent_shuffled_repeated_and_all_demo() {
        let month = month(NOW, 30, 1);
        assert!(month.knocks > 1000, "{}", month.knocks);
        assert!(month.repeats > 0);
        let events: Vec<Value> = month
            .bodies
            .iter()
            .map(|b| serde_json::from_slice(b).unwrap())
            .collect();
        for event in &events {
            assert!(event["id"].as_str().unwrap().starts_with(ID_PREFIX));
            let at = event["event_ts"].as_f64().unwrap();
            assert!(at > NOW - 31.0 * DAY && at < NOW + 3600.0 * 3.0, "{event}");
        }
        let sent: Vec<f64> = events
            .iter()
            .map(|e| e["event_ts"].as_f64().unwrap())
            .collect();
        assert!(sent.windows(2).any(|w| w[0] > w[1]), "not shuffled");
    }
}
