//! The only writer of rows. Every source hands the store what the triage made of its bodies:
//! events are stored raw and projected in one transaction, rejects become dead letters (a retried
//! dead letter's reject gives its row the new reason).

mod availability;
mod batch;
mod copy;
pub mod daily_api;
pub mod dead_letters;
pub mod event_days;
pub mod event_lookup;
mod group_commit;
mod one_statement;
mod raw;
pub mod reads;
mod rebuild;
pub mod retention;
mod retention_lock;
pub mod rollups;

use std::collections::HashSet;

use sqlx::PgPool;

use self::raw::Insert;

pub use self::{
    availability::Availability,
    batch::is_unavailable,
    group_commit::{GroupCommitSettings, GroupCommitWriter, Unavailable},
    rebuild::{clear_projection, count_events, rebuild_projection},
    retention_lock::RetentionLock,
};
use crate::triage::{Item, Reject};

/// What became of one item of a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// A new event: its raw row (and projection) committed.
    Stored,
    /// An event whose id was already stored, or came earlier in the same batch.
    Duplicate,
    /// A duplicate whose type or payload differs from the event kept (the first one).
    Conflict,
    /// Not a usable envelope: kept in `dead_letters` with the reason.
    Rejected,
    /// An event Postgres refused to store: kept in `dead_letters` with the refusal.
    Refused,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Stored => "stored",
            Self::Duplicate => "duplicate",
            Self::Conflict => "conflict",
            Self::Rejected => "rejected",
            Self::Refused => "refused",
        }
    }
}

/// Writes a live batch: its rejects as dead letters, then its events in one transaction. Returns
/// each item's outcome, in input order.
pub async fn write(pool: &PgPool, items: &[Item]) -> Result<Vec<Outcome>, sqlx::Error> {
    write_with(pool, items, Insert::Arrays).await
}

/// Like [`write`], for the large batches of a backfill: the raw rows go in by COPY.
pub async fn load(pool: &PgPool, items: &[Item]) -> Result<Vec<Outcome>, sqlx::Error> {
    write_with(pool, items, Insert::Copy).await
}

/// Which of `ids` are stored as events already: what a dry run would find duplicate.
pub async fn stored_event_ids(pool: &PgPool, ids: &[&str]) -> Result<HashSet<String>, sqlx::Error> {
    raw::stored_ids(pool, ids).await
}

/// Writes a batch: its rejects as dead letters, then its events in one transaction. Returns each
/// item's outcome, in input order.
///
/// An error means Postgres could not take the batch now (connection lost, deadlock, shutdown, a
/// schema this binary does not expect): the events were not committed and the caller keeps them.
/// Rejects are idempotent dead letters, so writing the batch again adds nothing twice (but for
/// the intake's, see [`Origin::Intake`]).
async fn write_with(
    pool: &PgPool,
    items: &[Item],
    how: Insert,
) -> Result<Vec<Outcome>, sqlx::Error> {
    let rejects: Vec<&Reject> = items
        .iter()
        .filter_map(|item| match item {
            Item::Reject(reject) => Some(reject),
            Item::Event { .. } => None,
        })
        .collect();
    dead_letters::write(pool, &rejects).await?;
    let events: Vec<batch::Pending<'_>> = items
        .iter()
        .filter_map(|item| match item {
            Item::Event { event, origin } => Some(batch::Pending { event, origin }),
            Item::Reject(_) => None,
        })
        .collect();
    let mut stored = batch::write_events(pool, &events, how).await?.into_iter();
    Ok(items
        .iter()
        .map(|item| match item {
            Item::Reject(_) => Outcome::Rejected,
            Item::Event { .. } => stored.next().expect("one outcome per event"),
        })
        .collect())
}
