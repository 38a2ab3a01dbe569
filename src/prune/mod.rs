//! Retention: deleting raw events and dead letters older than a cutoff, in small batches.

mod age;
mod archived;
pub mod schedule;
mod summary;

use std::sync::atomic::{AtomicBool, Ordering};

use sqlx::{PgConnection, PgExecutor};

pub use self::{
    age::{Age, Retention},
    archived::{count_archived, prune_archived},
    summary::{Archived, Report},
};
use crate::store::retention::{self, Batch};

/// A table retention deletes from; its name is the label of `lobbylog_pruned_rows_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Table {
    WebhookEvents,
    DeadLetters,
}

impl Table {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::WebhookEvents => "webhook_events",
            Self::DeadLetters => "dead_letters",
        }
    }
}

/// Rows older than this go: `at` to bind (Postgres' own text, exact), `shown` in UTC.
#[derive(Debug, Clone)]
pub struct Cutoff {
    pub at: String,
    pub shown: String,
}

impl Cutoff {
    /// `age` before Postgres' clock, the clock that stamped `received_at`.
    pub async fn before(db: impl PgExecutor<'_>, age: Age) -> Result<Self, sqlx::Error> {
        let (at, shown) = retention::cutoff(db, age.seconds()).await?;
        Ok(Self { at, shown })
    }
}

/// Rows one prune deleted, and whether it was stopped before the end.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pruned {
    pub events: u64,
    pub dead_letters: u64,
    pub interrupted: bool,
}

/// Raw events and dead letters older than `cutoff`, counted through the same indexes a prune uses.
pub async fn count(conn: &mut PgConnection, cutoff: &Cutoff) -> anyhow::Result<(u64, u64)> {
    let mut events = 0;
    for event_type in retention::event_types(&mut *conn).await? {
        events += retention::count_events_before(&mut *conn, &event_type, &cutoff.at).await?;
    }
    let dead_letters = retention::count_dead_letters_before(&mut *conn, &cutoff.at).await?;
    Ok((events as u64, dead_letters as u64))
}

/// What one run of batches deletes from.
enum Target<'a> {
    /// Events of one type, by `event_ts`, oldest first.
    Stamped(&'a str),
    /// Events of one type without `event_ts`, by `received_at`.
    Unstamped(&'a str),
    DeadLetters,
}

/// Moves the horizon to `cutoff`, then deletes what is older, `batch_size` rows per statement
/// (each its own short transaction), reporting each batch to `deleted`. Checks `stop` between
/// batches: what was deleted stays deleted, and a rerun carries on.
///
/// The horizon moves first, so that every deleted event is older than it at all times.
pub async fn prune(
    conn: &mut PgConnection,
    cutoff: &Cutoff,
    batch_size: i64,
    stop: &AtomicBool,
    mut deleted: impl FnMut(Table, u64),
) -> Result<Pruned, sqlx::Error> {
    retention::advance_horizon(&mut *conn, &cutoff.at).await?;
    let mut pruned = Pruned::default();
    for event_type in retention::event_types(&mut *conn).await? {
        for target in [Target::Stamped(&event_type), Target::Unstamped(&event_type)] {
            let (rows, stopped) =
                drain(conn, &target, cutoff, batch_size, stop, &mut deleted).await?;
            pruned.events += rows;
            if stopped {
                pruned.interrupted = true;
                return Ok(pruned);
            }
        }
    }
    let target = Target::DeadLetters;
    let (rows, stopped) = drain(conn, &target, cutoff, batch_size, stop, &mut deleted).await?;
    pruned.dead_letters = rows;
    pruned.interrupted = stopped;
    Ok(pruned)
}

/// Deletes the dead letters older than `cutoff` as `prune` does: (rows, stopped).
pub async fn prune_dead_letters(
    conn: &mut PgConnection,
    cutoff: &Cutoff,
    batch_size: i64,
    stop: &AtomicBool,
    mut deleted: impl FnMut(Table, u64),
) -> Result<(u64, bool), sqlx::Error> {
    let target = Target::DeadLetters;
    drain(conn, &target, cutoff, batch_size, stop, &mut deleted).await
}

/// Deletes batch after batch until one comes back short or `stop` is set: (rows, stopped).
async fn drain(
    conn: &mut PgConnection,
    target: &Target<'_>,
    cutoff: &Cutoff,
    batch_size: i64,
    stop: &AtomicBool,
    deleted: &mut impl FnMut(Table, u64),
) -> Result<(u64, bool), sqlx::Error> {
    let (mut after, mut rows) = (None, 0);
    loop {
        if stop.load(Ordering::Relaxed) {
            return Ok((rows, true));
        }
        let batch = delete_next(conn, target, after.as_deref(), cutoff, batch_size).await?;
        rows += batch.deleted;
        let table = match target {
            Target::DeadLetters => Table::DeadLetters,
            _ => Table::WebhookEvents,
        };
        deleted(table, batch.deleted);
        if batch.selected < batch_size as u64 {
            return Ok((rows, false));
        }
        after = batch.last;
    }
}

async fn delete_next(
    conn: &mut PgConnection,
    target: &Target<'_>,
    after: Option<&str>,
    cutoff: &Cutoff,
    limit: i64,
) -> Result<Batch, sqlx::Error> {
    match target {
        Target::Stamped(event_type) => {
            retention::delete_events_before(conn, event_type, after, &cutoff.at, limit).await
        }
        Target::Unstamped(event_type) => {
            retention::delete_unstamped_events_before(conn, event_type, &cutoff.at, limit).await
        }
        Target::DeadLetters => {
            retention::delete_dead_letters_before(conn, after, &cutoff.at, limit).await
        }
    }
}
