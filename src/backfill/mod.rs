//! `lobbylog backfill`: load saved webhook archives through the same store as live events.

pub mod reader;
pub mod records;
pub mod report;
pub mod sources;

use std::{
    process::ExitCode,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Instant,
};

use anyhow::Context;
use sqlx::PgPool;
use tokio::sync::Notify;

use self::{
    reader::{Chunk, Location},
    report::Report,
};
use crate::{
    config::{BackfillArgs, GlobalArgs},
    db,
    progress::Progress,
    server,
    store::{self, DeadLetter, Outcome},
};

/// Rejected records printed on screen; all of them go to `dead_letters`.
const SHOWN_REJECTS: u64 = 10;

/// Runs the subcommand: the database first (unless a dry run), then the run, then the summary.
pub async fn command(global: &GlobalArgs, args: BackfillArgs) -> anyhow::Result<ExitCode> {
    let pool = match args.dry_run {
        true => None,
        false => Some(db::prepare(&global.database_url, 2).await?),
    };
    let report = run(pool.as_ref(), &args).await?;
    println!("{report}");
    Ok(ExitCode::from(report.exit_code()))
}

/// Reads every input of `args` and stores its events (writes nothing when `pool` is `None`).
/// Stops reading on SIGINT or SIGTERM, after the batch in flight has committed.
pub async fn run(pool: Option<&PgPool>, args: &BackfillArgs) -> anyhow::Result<Report> {
    let started = Instant::now();
    let inputs = sources::expand(&args.paths)?;
    let mut progress = Progress::new("backfill", sources::total_bytes(&inputs), true);
    let stop = Arc::new(AtomicBool::new(false));
    let interrupted = Arc::new(Notify::new());
    let watcher = tokio::spawn(watch_signals(stop.clone(), interrupted.clone()));
    let mut chunks = reader::spawn(inputs, args.batch_size as usize, stop.clone())
        .context("cannot start the reader thread")?;
    let mut writer = Writer {
        pool,
        report: Report {
            dry_run: pool.is_none(),
            ..Report::default()
        },
        progress: &mut progress,
    };
    loop {
        let chunk = tokio::select! {
            biased;
            () = interrupted.notified() => None,
            chunk = chunks.recv() => chunk,
        };
        match chunk {
            Some(chunk) if !stop.load(Ordering::Relaxed) => writer.write(chunk).await?,
            _ => break,
        }
    }
    watcher.abort();
    let mut report = writer.report;
    report.interrupted = stop.load(Ordering::Relaxed);
    report.elapsed = started.elapsed();
    progress.finish();
    Ok(report)
}

async fn watch_signals(stop: Arc<AtomicBool>, interrupted: Arc<Notify>) {
    server::shutdown_signal().await;
    stop.store(true, Ordering::Relaxed);
    interrupted.notify_one();
}

/// The writing side: stores chunks and keeps the counts.
struct Writer<'a> {
    pool: Option<&'a PgPool>,
    report: Report,
    progress: &'a mut Progress,
}

impl Writer<'_> {
    async fn write(&mut self, chunk: Chunk) -> anyhow::Result<()> {
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
        self.write_events(&chunk.events, &chunk.locations).await?;
        self.write_rejects(&chunk.rejects).await?;
        self.progress.set_position(chunk.bytes_read);
        self.progress.set_message(format!(
            "{} inserted, {} duplicates, {} rejected",
            self.report.inserted, self.report.duplicates, self.report.rejected
        ));
        Ok(())
    }

    async fn write_events(
        &mut self,
        events: &[crate::event::Event],
        locations: &[Location],
    ) -> anyhow::Result<()> {
        let Some(pool) = self.pool else {
            self.report.inserted += events.len() as u64;
            return Ok(());
        };
        if events.is_empty() {
            return Ok(());
        }
        let outcomes = store::write_batch(pool, "backfill", events)
            .await
            .with_context(|| format!("storing the batch that starts at {}", locations[0]))?;
        for (outcome, location) in outcomes.into_iter().zip(locations) {
            match outcome {
                Outcome::Stored => self.report.inserted += 1,
                Outcome::Duplicate => self.report.duplicates += 1,
                Outcome::DeadLettered => {
                    self.show_reject(location, "postgres refused the event (see dead_letters)")
                }
            }
        }
        Ok(())
    }

    async fn write_rejects(&mut self, rejects: &[reader::Reject]) -> anyhow::Result<()> {
        for reject in rejects {
            self.show_reject(&reject.location, &reject.reason);
        }
        let Some(pool) = self.pool else {
            return Ok(());
        };
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

    /// Counts a rejected record and shows the first few of them.
    fn show_reject(&mut self, location: &Location, reason: &str) {
        self.report.rejected += 1;
        if self.report.rejected <= SHOWN_REJECTS {
            self.progress.println(format!("{location}: {reason}"));
        }
        if self.report.rejected == SHOWN_REJECTS + 1 {
            let kept = if self.pool.is_some() {
                "; all are kept in dead_letters"
            } else {
                ""
            };
            self.progress
                .println(format!("further rejected records are not shown{kept}"));
        }
    }
}
