//! The writing side: stores chunks through `store`, two batches in flight, and keeps the counts.

use std::collections::VecDeque;

use anyhow::Context;
use sqlx::PgPool;
use tokio::task::JoinHandle;

use super::{
    reader::{Chunk, Location, Reject},
    report::Report,
};
use crate::{
    progress::Progress,
    store::{self, DeadLetter, Outcome},
};

/// Batches written at once, each in its own transaction on its own connection, so Postgres works
/// on one while the other commits. Results are still counted in input order.
pub const WRITERS: usize = 2;

/// Rejected records printed on screen; all of them go to `dead_letters`.
const SHOWN_REJECTS: u64 = 10;

/// A chunk once stored: the outcome of each of its events (`None` in a dry run).
struct Written {
    chunk: Chunk,
    outcomes: Option<Vec<Outcome>>,
}

pub struct Writer<'p> {
    pool: Option<PgPool>,
    pub report: Report,
    progress: &'p mut Progress,
    in_flight: VecDeque<JoinHandle<anyhow::Result<Written>>>,
}

impl<'p> Writer<'p> {
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
            in_flight: VecDeque::with_capacity(WRITERS),
        }
    }

    /// Starts storing a chunk, first waiting for the oldest one if `WRITERS` are in flight.
    pub async fn write(&mut self, chunk: Chunk) -> anyhow::Result<()> {
        if self.in_flight.len() >= WRITERS {
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
            let written = task.await.context("a batch writer panicked")??;
            self.count(written);
        }
        Ok(())
    }

    fn count(&mut self, Written { chunk, outcomes }: Written) {
        let report = &mut self.report;
        report.files += chunk.files_done;
        report.failed_files += chunk.failures.len() as u64;
        report.probes += chunk.probes;
        report.read += (chunk.events.len() + chunk.rejects.len()) as u64 + chunk.probes;
        for (file, error) in &chunk.failures {
            self.progress.println(format!(
                "{file}: unreadable or corrupt, skipped the rest: {error}"
            ));
        }
        match outcomes {
            Some(outcomes) => self.count_outcomes(&outcomes, &chunk.locations),
            None => self.report.inserted += chunk.events.len() as u64,
        }
        for reject in &chunk.rejects {
            self.show_reject(&reject.location, &reject.reason);
        }
        self.progress.set_position(chunk.bytes_read);
        self.progress.set_message(format!(
            "{} inserted, {} duplicates, {} rejected",
            self.report.inserted, self.report.duplicates, self.report.rejected
        ));
    }

    fn count_outcomes(&mut self, outcomes: &[Outcome], locations: &[Location]) {
        for (outcome, location) in outcomes.iter().zip(locations) {
            match outcome {
                Outcome::Stored => self.report.inserted += 1,
                Outcome::Duplicate => self.report.duplicates += 1,
                Outcome::DeadLettered => {
                    self.show_reject(location, "postgres refused the event (see dead_letters)")
                }
            }
        }
    }

    /// Counts a rejected record and shows the first few of them.
    fn show_reject(&mut self, location: &Location, reason: &str) {
        self.report.rejected += 1;
        if self.report.rejected <= SHOWN_REJECTS {
            self.progress.println(format!("{location}: {reason}"));
        }
        if self.report.rejected == SHOWN_REJECTS + 1 {
            let kept = match self.pool {
                Some(_) => "; all are kept in dead_letters",
                None => "",
            };
            self.progress
                .println(format!("further rejected records are not shown{kept}"));
        }
    }
}

/// Stores a chunk's events in one transaction, then its rejects as dead letters.
async fn store_chunk(pool: Option<PgPool>, chunk: Chunk) -> anyhow::Result<Written> {
    let Some(pool) = pool else {
        return Ok(Written {
            chunk,
            outcomes: None,
        });
    };
    let outcomes = match chunk.locations.first() {
        Some(first) => store::write_batch(&pool, "backfill", &chunk.events)
            .await
            .with_context(|| format!("storing the batch that starts at {first}"))?,
        None => Vec::new(),
    };
    write_rejects(&pool, &chunk.rejects).await?;
    Ok(Written {
        chunk,
        outcomes: Some(outcomes),
    })
}

async fn write_rejects(pool: &PgPool, rejects: &[Reject]) -> anyhow::Result<()> {
    let sources: Vec<String> = rejects
        .iter()
        .map(|r| format!("backfill:{}", r.location))
        .collect();
    let letters: Vec<DeadLetter<'_>> = rejects
        .iter()
        .zip(&sources)
        .map(|(r, source)| DeadLetter {
            source,
            reason: &r.reason,
            body: &r.body,
        })
        .collect();
    store::write_dead_letters(pool, &letters)
        .await
        .context("storing rejected records in dead_letters")
}
