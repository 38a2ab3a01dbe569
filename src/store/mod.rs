//! The only writer of rows. Every source hands its bodies here as items: events are stored raw
//! and projected in one transaction, bodies that are not usable envelopes become dead letters.

mod availability;
mod batch;
pub mod daily;
mod dead_letters;
mod group_commit;
mod raw;
pub mod reads;
mod reproject;
pub mod retention;

use sqlx::PgPool;

use self::raw::Insert;

pub use self::{
    availability::Availability,
    batch::is_unavailable,
    dead_letters::{Origin, Reject},
    group_commit::{GroupCommitSettings, GroupCommitWriter, Unavailable},
    reproject::{clear_projection, count_events, reproject_page},
};
use crate::event::{self, Event, Triage};

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

/// One thing to write: an event, or a body that is not a usable envelope.
#[derive(Debug)]
pub enum Item {
    Event { event: Event, origin: Origin },
    Reject(Reject),
}

impl Item {
    /// Triages `body` into what the store takes; `None` for Daily's probe, which is not kept.
    pub fn from_body(body: &[u8], origin: Origin) -> Option<Self> {
        match event::triage(body) {
            Triage::Probe => None,
            Triage::Event(event) => Some(Self::Event { event, origin }),
            Triage::Reject(rejection) => Some(Self::Reject(Reject {
                origin,
                reason: rejection.0,
                body: body.to_vec(),
            })),
        }
    }

    pub fn origin(&self) -> &Origin {
        match self {
            Self::Event { origin, .. } => origin,
            Self::Reject(reject) => &reject.origin,
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
