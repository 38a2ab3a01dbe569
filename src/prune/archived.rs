//! The prune that archives first: whole UTC days of receipt that ended before the cutoff, each
//! exported, read back and only then deleted (see `export::archive_and_delete`); dead letters
//! as a plain prune deletes them.

use std::sync::atomic::AtomicBool;

use sqlx::{PgConnection, PgPool};

use super::{Cutoff, Pruned, Table, prune_dead_letters};
use crate::{
    export::{self, Target},
    store::{event_days, retention},
};

/// Archives and deletes the events received on days that ended by `cutoff`, then deletes the dead
/// letters older than it; `conn` holds the retention lock. Returns the export's report (its
/// `deleted` events) and the rows deleted. Nothing is deleted once an archive fails.
pub async fn prune_archived(
    pool: &PgPool,
    conn: &mut PgConnection,
    cutoff: &Cutoff,
    to: &Target,
    batch_size: i64,
    stop: &AtomicBool,
    mut deleted: impl FnMut(Table, u64),
) -> anyhow::Result<(export::Report, Pruned)> {
    let last = event_days::last_day_ended_by(&mut *conn, &cutoff.at).await?;
    // The horizon moves first, past every event that may go, so it is past every deleted one at
    // all times (ahead of the rest, should an archive fail: reproject then keeps more as it was).
    let end = event_days::day_start(last) + time::Duration::DAY;
    if let Some(horizon) = event_days::horizon_past_received(&mut *conn, end).await? {
        retention::advance_horizon(&mut *conn, &horizon).await?;
    }
    let report = export::archive_and_delete(pool, to, last, stop).await?;
    deleted(Table::WebhookEvents, report.deleted);
    let mut pruned = Pruned {
        events: report.deleted,
        dead_letters: 0,
        interrupted: report.interrupted,
    };
    if !pruned.interrupted {
        let (rows, stopped) =
            prune_dead_letters(conn, cutoff, batch_size, stop, &mut deleted).await?;
        pruned.dead_letters = rows;
        pruned.interrupted = stopped;
    }
    Ok((report, pruned))
}

/// What `prune_archived` would delete: (events, days), with nothing written.
pub async fn count_archived(
    conn: &mut PgConnection,
    cutoff: &Cutoff,
) -> anyhow::Result<(u64, u64)> {
    let last = event_days::last_day_ended_by(&mut *conn, &cutoff.at).await?;
    let days = event_days::days_with_events(&mut *conn, None, last).await?;
    let events = days.iter().map(|&(_, events)| events as u64).sum();
    Ok((events, days.len() as u64))
}
