//! Synthetic Daily webhooks as NDJSON on stdout, for benchmarks: knock histories
//! (waiting-participant.joined/left, participant.joined/left) and meetings (started/ended).
//!
//! cargo run --release --example gen_events -- --events 200000 [--seed 1] [--csv] > events.ndjson
//! cargo run --release --example gen_events -- --events 190000 --archive DIR [--duplicates 0.25] [--spread [--shuffled]]
//!
//! `--csv` writes the same events as two CSV columns, event id and envelope, for `psql \copy`.
//!
//! `--archive DIR` writes an archive as archives really are into `DIR/archive`: a share of the
//! events are repeats (Daily retries: most a few events later, some much later), and the files
//! are of every shape lobbylog reads: NDJSON, gzip'd NDJSON, zstd'd NDJSON, pretty-printed JSON
//! arrays, and one pretty envelope per file. `DIR/unique.csv` holds each distinct event once, for
//! `psql \copy`.

use std::{
    fs::{self, File},
    io::{self, BufWriter, Write},
    path::Path,
};

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
    /// Write an archive of mixed shapes and compressions into this directory instead.
    #[arg(long, value_name = "DIR")]
    archive: Option<std::path::PathBuf>,
    /// With --archive: the share of events that repeat an earlier one.
    #[arg(long, default_value_t = 0.25)]
    duplicates: f64,
    /// With --archive: repeats spread anywhere, in gzip'd NDJSON and three other files.
    #[arg(long)]
    spread: bool,
    /// With --spread: every record in random order, not only the repeats (a session's events
    /// far apart, as in archives merged record by record).
    #[arg(long, requires = "spread")]
    shuffled: bool,
}

fn main() -> io::Result<()> {
    let args = Arguments::parse();
    if let Some(dir) = &args.archive {
        return archive(&args, dir);
    }
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

/// Events as an archive holds them: `events` records, `duplicates` of them repeats.
fn archive_records(args: &Arguments, rng: &mut StdRng) -> (Vec<Value>, Vec<Value>) {
    let mut records = Vec::with_capacity(args.events);
    let mut unique: Vec<Value> = Vec::new();
    let mut fresh = std::collections::VecDeque::new();
    let mut index = 0u64;
    while records.len() < args.events {
        if !unique.is_empty() && rng.random_bool(args.duplicates.clamp(0.0, 1.0)) {
            // Most retries land within the next few hundred events; some come much later.
            let back = if rng.random_bool(0.8) {
                rng.random_range(1..=unique.len().min(500))
            } else {
                rng.random_range(1..=unique.len())
            };
            let mut again: Value = unique[unique.len() - back].clone();
            // A retry is stamped again when it is sent.
            again["event_ts"] = json!(again["event_ts"].as_f64().unwrap_or(0.0) + 30.0);
            records.push(again);
            continue;
        }
        if fresh.is_empty() {
            fresh.extend(history(rng, index));
            index += 1;
        }
        let event = fresh.pop_front().expect("refilled above");
        unique.push(event.clone());
        records.push(event);
    }
    (records, unique)
}

/// Writes the archive into `dir/archive`: consecutive runs of records in files of every shape;
/// then `dir/unique.csv`.
fn archive(args: &Arguments, dir: &Path) -> io::Result<()> {
    let mut rng = StdRng::seed_from_u64(args.seed);
    let (records, unique) = match args.spread {
        true => spread_records(args, &mut rng),
        false => archive_records(args, &mut rng),
    };
    let files = dir.join("archive");
    fs::create_dir_all(files.join("single"))?;
    if args.spread {
        write_spread(&files, &records)?;
    } else {
        write_parts(&files, &records)?;
    }
    let mut csv = BufWriter::new(File::create(dir.join("unique.csv"))?);
    for event in &unique {
        write_event(&mut csv, event, true)?;
    }
    csv.flush()
}

/// `events` records, `duplicates` of them repeats of any event: the events in the order Daily
/// sent them, each repeat anywhere, before its first too (with --shuffled, every record anywhere).
fn spread_records(args: &Arguments, rng: &mut StdRng) -> (Vec<Value>, Vec<Value>) {
    let repeats = (args.events as f64 * args.duplicates.clamp(0.0, 1.0)).round() as usize;
    let mut unique = Vec::with_capacity(args.events - repeats);
    let mut index = 0u64;
    while unique.len() < args.events - repeats {
        let wanted = args.events - repeats - unique.len();
        unique.extend(history(rng, index).into_iter().take(wanted));
        index += 1;
    }
    // Each record with where it goes: the events at their place, each repeat at a random one.
    let mut placed: Vec<(f64, Value)> = unique
        .iter()
        .enumerate()
        .map(|(i, event)| (i as f64, event.clone()))
        .collect();
    for _ in 0..repeats {
        let mut again: Value = unique[rng.random_range(0..unique.len())].clone();
        // A retry is stamped again when it is sent.
        again["event_ts"] = json!(again["event_ts"].as_f64().unwrap_or(0.0) + 30.0);
        placed.push((rng.random_range(0.0..unique.len() as f64), again));
    }
    if args.shuffled {
        for i in (1..placed.len()).rev() {
            placed.swap(i, rng.random_range(0..=i));
        }
    } else {
        placed.sort_by(|a, b| a.0.total_cmp(&b.0));
    }
    (
        placed.into_iter().map(|(_, record)| record).collect(),
        unique,
    )
}

/// The spread archive's files: 60% of the records in gzip'd NDJSON files of 5,000, then one
/// pretty-printed JSON array, one plain NDJSON file and one pretty envelope share the rest.
fn write_spread(dir: &Path, records: &[Value]) -> io::Result<()> {
    let gzipped = records.len() * 6 / 10;
    for (file, part) in records[..gzipped].chunks(5000).enumerate() {
        let mut gz = flate2::write::GzEncoder::new(
            File::create(dir.join(format!("{file:05}.ndjson.gz")))?,
            flate2::Compression::default(),
        );
        for event in part {
            writeln!(gz, "{event}")?;
        }
        gz.finish()?;
    }
    let rest = &records[gzipped..];
    let (array, rest) = rest.split_at(rest.len() / 2);
    fs::write(dir.join("array.json"), serde_json::to_string_pretty(array)?)?;
    if let Some((last, plain)) = rest.split_last() {
        let lines: String = plain.iter().map(|e| format!("{e}\n")).collect();
        fs::write(dir.join("plain.ndjson"), lines)?;
        fs::write(
            dir.join("single").join("last.json"),
            serde_json::to_string_pretty(last)?,
        )?;
    }
    Ok(())
}

/// Consecutive runs of records in files of every shape.
fn write_parts(files: &Path, records: &[Value]) -> io::Result<()> {
    let mut rest = records;
    let mut file = 0;
    while !rest.is_empty() {
        let take = rest.len().min(match file % 20 {
            19 => 200,
            _ => 5000,
        });
        let (part, tail) = rest.split_at(take);
        write_part(files, file, part)?;
        rest = tail;
        file += 1;
    }
    Ok(())
}

/// One file of the archive, its shape and compression chosen by its number.
fn write_part(dir: &Path, file: usize, part: &[Value]) -> io::Result<()> {
    let ndjson = || part.iter().map(|e| format!("{e}\n")).collect::<String>();
    match file % 20 {
        0..=7 => fs::write(dir.join(format!("{file:05}.ndjson")), ndjson()),
        8..=12 => {
            let mut gz = flate2::write::GzEncoder::new(
                File::create(dir.join(format!("{file:05}.ndjson.gz")))?,
                flate2::Compression::default(),
            );
            gz.write_all(ndjson().as_bytes())?;
            gz.finish().map(drop)
        }
        13..=14 => fs::write(
            dir.join(format!("{file:05}.ndjson.zst")),
            zstd::encode_all(ndjson().as_bytes(), 3)?,
        ),
        15..=18 => fs::write(
            dir.join(format!("{file:05}.json")),
            serde_json::to_string_pretty(part)?,
        ),
        _ => {
            for (i, event) in part.iter().enumerate() {
                fs::write(
                    dir.join("single").join(format!("{file:05}-{i}.json")),
                    serde_json::to_string_pretty(event)?,
                )?;
            }
            Ok(())
        }
    }
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
