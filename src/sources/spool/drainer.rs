//! Moves each spooled segment, once Postgres takes writes, into the database it was written for.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use sqlx::PgPool;

use super::{Segment, Spool, header::Header, read_segment, segment::Contents, set_aside};
use crate::{
    db::{self, Server, Target, Verdict},
    metrics::Metrics,
    store::{self, Availability, Outcome},
    telemetry,
    triage::{self, Item, Origin},
};

const TICK: Duration = Duration::from_millis(500);
/// Items written per transaction while draining.
const CHUNK: usize = 1000;
/// How often the error about set-aside segments is repeated while any remain.
const REMIND_EVERY: Duration = Duration::from_secs(600);

/// Every tick: while Postgres is marked unavailable, probe it (reachable and migrated); once it
/// is available and the spool holds segments, drain them. Runs until the process ends; a crash
/// between commit and delete only replays events, which the store skips as duplicates.
pub async fn run(spool: Spool, pool: PgPool, availability: Availability, metrics: Arc<Metrics>) {
    let mut reminded = None;
    loop {
        tokio::time::sleep(TICK).await;
        remind(&spool, &mut reminded);
        if !availability.is_up() && !mark_up_if_ready(&spool, &pool, &availability).await {
            continue;
        }
        if spool.is_empty() {
            continue;
        }
        match drain(&spool, &pool).await {
            Ok(0) => {}
            Ok(events) => {
                metrics.drained(events);
                metrics.door.event_stored();
                tracing::info!(events, "spool drained");
            }
            Err(Stop::Unavailable(e)) => {
                tracing::warn!(error = %e, "spool drain interrupted: postgres unavailable");
                availability.mark_down(&e.to_string());
            }
            // Not Postgres being down: the live intake keeps writing, the drain retries next tick.
            Err(Stop::Failed(e)) => {
                tracing::error!(
                    error = telemetry::chain(&e),
                    "spool drain failed; will retry"
                )
            }
        }
    }
}

/// Marks Postgres as taking writes if it is reachable and carries every migration; false if not.
pub async fn mark_up_if_ready(spool: &Spool, pool: &PgPool, availability: &Availability) -> bool {
    if db::check_ready(pool).await.is_err() {
        return false;
    }
    // So that segments of the next outage name the database as precisely as possible.
    if let Ok(server) = server_identity(pool).await {
        spool.learn(server);
    }
    availability.mark_up();
    true
}

/// Says, at startup and then every `REMIND_EVERY`, that set-aside segments wait for an operator.
fn remind(spool: &Spool, last: &mut Option<Instant>) {
    let refreshed = spool.refresh_set_aside();
    let levels = spool.depth.levels();
    if levels.set_aside_segments == 0 {
        *last = None;
        return;
    }
    if last.is_some_and(|at| at.elapsed() < REMIND_EVERY) {
        return;
    }
    *last = Some(Instant::now());
    tracing::error!(
        segments = levels.set_aside_segments,
        events = levels.set_aside_events,
        dir = %set_aside::dir(spool.dir()).display(),
        refresh_error = refreshed.err().map(|e| e.to_string()),
        "spool segments written for another database are set aside and will not be drained \
         automatically; `lobbylog spool list` shows them, `lobbylog spool drain` stores them"
    );
}

enum Stop {
    Unavailable(sqlx::Error),
    Failed(anyhow::Error),
}

impl From<sqlx::Error> for Stop {
    fn from(e: sqlx::Error) -> Self {
        if store::is_unavailable(&e) {
            Self::Unavailable(e)
        } else {
            Self::Failed(e.into())
        }
    }
}

async fn server_identity(pool: &PgPool) -> Result<Server, sqlx::Error> {
    db::server_identity(&mut *pool.acquire().await?).await
}

fn failed(e: impl Into<anyhow::Error>) -> Stop {
    Stop::Failed(e.into())
}

/// Stores every sealed segment written for the current database and removes it once committed;
/// sets aside those written for another. Returns the events moved.
async fn drain(spool: &Spool, pool: &PgPool) -> Result<u64, Stop> {
    // Asked on every pass: the database behind the URL may have changed during the outage.
    let current = spool.learn(server_identity(pool).await?);
    let mut moved = 0;
    for segment in spool.sealed().await.map_err(failed)? {
        let path = segment.path.clone();
        let contents = match tokio::task::spawn_blocking(move || read_segment(&path)).await {
            Ok(Ok(contents)) => contents,
            failed_read => {
                // An unreadable segment must not hold back the others; it stays on disk for a human.
                tracing::error!(path = %segment.path.display(), error = ?failed_read.err(), "spool segment unreadable; renamed to .failed");
                spool.remove(&segment, 0, true).map_err(failed)?;
                continue;
            }
        };
        if !belongs(spool, &segment, &contents, &current).map_err(failed)? {
            continue;
        }
        moved += store_segment(pool, &segment.name(), &contents.bodies)
            .await?
            .events();
        spool
            .remove(&segment, contents.records, false)
            .map_err(failed)?;
    }
    Ok(moved)
}

/// Whether a segment's events are for `current`; if not, the segment is set aside.
fn belongs(
    spool: &Spool,
    segment: &Segment,
    contents: &Contents,
    current: &Target,
) -> std::io::Result<bool> {
    let written_for = match &contents.header {
        Header::For(target) => target,
        Header::Legacy => {
            if !contents.bodies.is_empty() {
                tracing::warn!(
                    segment = %segment.path.display(),
                    current = %current,
                    "spool segment written by an earlier version records no database; \
                     draining it into the current one, as that version would"
                );
            }
            return Ok(true);
        }
    };
    match written_for.verdict(current) {
        Verdict::Same => Ok(true),
        Verdict::Different(why) => {
            let to = spool.set_aside(segment, contents.records)?;
            set_aside::report(&to, written_for, current, &why);
            Ok(false)
        }
    }
}

/// What storing a segment did.
#[derive(Debug, Default, Clone, Copy)]
pub struct Tally {
    pub stored: u64,
    pub duplicates: u64,
    /// Duplicates whose content differs from the event kept.
    pub conflicts: u64,
    /// Rejected or refused: kept in `dead_letters`.
    pub dead_lettered: u64,
    refused: u64,
}

impl Tally {
    /// Events moved: every envelope, stored, duplicate or refused.
    pub fn events(&self) -> u64 {
        self.stored + self.duplicates + self.conflicts + self.refused
    }
}

/// Stores a segment's events and dead letters; repeating it (after a crash) adds nothing.
pub async fn store_segment(
    pool: &PgPool,
    name: &str,
    bodies: &[(u64, Vec<u8>)],
) -> Result<Tally, sqlx::Error> {
    let name: Arc<str> = name.into();
    let items: Vec<Item> = bodies
        .iter()
        .filter_map(|(line, body)| {
            let origin = Origin::Spool {
                segment: name.clone(),
                line: *line,
            };
            triage::item(body, origin)
        })
        .collect();
    let mut tally = Tally::default();
    for chunk in items.chunks(CHUNK) {
        for outcome in store::write(pool, chunk).await? {
            match outcome {
                Outcome::Stored => tally.stored += 1,
                Outcome::Duplicate => tally.duplicates += 1,
                Outcome::Conflict => tally.conflicts += 1,
                Outcome::Rejected => tally.dead_lettered += 1,
                Outcome::Refused => {
                    tally.refused += 1;
                    tally.dead_lettered += 1;
                }
            }
        }
    }
    Ok(tally)
}
