//! The loading side: stores chunks through `store::write`, two batches in flight, and keeps the
//! counts.

use std::collections::VecDeque;

use anyhow::Context;
use sqlx::PgPool;
use tokio::task::JoinHandle;

use super::{LOADERS, reader::Chunk, report::Report};
use crate::{
    progress::Progress,
    store::{self, Outcome},
    triage::{Item, Origin},
};

/// Rejected and refused records printed on screen; all of them go to `dead_letters`.
const SHOWN_REJECTS: u64 = 10;

/// A chunk once stored: the outcome of each of its items (`None` in a dry run).
struct Loaded {
    chunk: Chunk,
    outcomes: Option<Vec<Outcome>>,
}

pub struct Loader<'p> {
    pool: Option<PgPool>,
    pub report: Report,
    progress: &'p mut Progress,
    in_flight: VecDeque<JoinHandle<anyhow::Result<Loaded>>>,
}

impl<'p> Loader<'p> {
    /// Writes to `pool`, or nothing at all when it is `None` (a dry run).
    pub fn new(pool: Option<PgPool>, progress: &'p mut Progress) -> Self {
        let report = Report {
            dry_run: pool.is_none(),
            ..Report::default()
        };
        Self {
            pool,
            report,
            progress,
            in_flight: VecDeque::with_capacity(LOADERS),
        }
    }

    /// Starts storing a chunk, first waiting for the oldest one if `LOADERS` are in flight.
    pub async fn load(&mut self, chunk: Chunk) -> anyhow::Result<()> {
        if self.in_flight.len() >= LOADERS {
            self.settle_oldest().await?;
        }
        let pool = self.pool.clone();
        self.in_flight
            .push_back(tokio::spawn(store_chunk(pool, chunk)));
        Ok(())
    }

    /// Waits for every chunk in flight and counts it.
    pub async fn finish(&mut self) -> anyhow::Result<()> {
        while !self.in_flight.is_empty() {
            self.settle_oldest().await?;
        }
        Ok(())
    }

    async fn settle_oldest(&mut self) -> anyhow::Result<()> {
        if let Some(task) = self.in_flight.pop_front() {
            let loaded = task.await.context("a batch loader panicked")??;
            self.count(loaded);
        }
        Ok(())
    }

    fn count(&mut self, Loaded { chunk, outcomes }: Loaded) {
        let report = &mut self.report;
        report.files += chunk.files_done;
        report.failed_files += chunk.failures.len() as u64;
        report.probes += chunk.probes;
        report.duplicates += chunk.repeats;
        report.read += chunk.items.len() as u64 + chunk.probes + chunk.repeats;
        for (file, error) in &chunk.failures {
            self.progress.println(format!(
                "{file}: unreadable or corrupt, skipped the rest: {error}"
            ));
        }
        for (i, item) in chunk.items.iter().enumerate() {
            let outcome = match (&outcomes, item) {
                (Some(outcomes), _) => outcomes[i],
                // A dry run: what the store would do, short of asking Postgres.
                (None, Item::Event { .. }) => Outcome::Stored,
                (None, Item::Reject(_)) => Outcome::Rejected,
            };
            self.count_outcome(item, outcome);
        }
        self.progress.set_position(chunk.bytes_read);
        self.progress.set_message(format!(
            "{} inserted, {} duplicates, {} rejected",
            self.report.inserted,
            self.report.duplicates,
            self.report.rejected + self.report.refused
        ));
    }

    fn count_outcome(&mut self, item: &Item, outcome: Outcome) {
        match (outcome, item) {
            (Outcome::Stored, _) => self.report.inserted += 1,
            (Outcome::Duplicate, _) => self.report.duplicates += 1,
            (Outcome::Conflict, _) => self.report.conflicts += 1,
            (Outcome::Rejected, Item::Reject(reject)) => {
                self.report.rejected += 1;
                self.show(&reject.origin, &reject.reason);
            }
            (Outcome::Rejected | Outcome::Refused, _) => {
                self.report.refused += 1;
                self.show(
                    item.origin(),
                    "postgres refused the event (see dead_letters)",
                );
            }
        }
    }

    /// Shows the first few rejected or refused records.
    fn show(&mut self, origin: &Origin, reason: &str) {
        let shown = self.report.rejected + self.report.refused;
        let location = match origin {
            Origin::Archive { file, line } => format!("{file}:{line}"),
            other => other.to_string(),
        };
        if shown <= SHOWN_REJECTS {
            self.progress.println(format!("{location}: {reason}"));
        }
        if shown == SHOWN_REJECTS + 1 {
            let kept = match self.pool {
                Some(_) => "; all are kept in dead_letters",
                None => "",
            };
            self.progress
                .println(format!("further rejected records are not shown{kept}"));
        }
    }
}

/// Stores a chunk's items: its events in one transaction, its rejects as dead letters.
async fn store_chunk(pool: Option<PgPool>, chunk: Chunk) -> anyhow::Result<Loaded> {
    let Some(pool) = pool else {
        return Ok(Loaded {
            chunk,
            outcomes: None,
        });
    };
    let outcomes = match chunk.items.first() {
        Some(first) => store::load(&pool, &chunk.items)
            .await
            .with_context(|| format!("storing the batch that starts at {}", first.origin()))?,
        None => Vec::new(),
    };
    Ok(Loaded {
        chunk,
        outcomes: Some(outcomes),
    })
}
