//! `lobbylog prune`: delete raw events and dead letters older than a cutoff, archiving the events
//! first when asked, with a summary.

use std::{
    process::ExitCode,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Instant,
};

use anyhow::Context;
use clap::Args;
use sqlx::PgConnection;

use crate::{
    config::GlobalArgs,
    db,
    export::Target,
    progress::Progress,
    prune::{Age, Archived, Cutoff, Pruned, Report, count, count_archived, prune, prune_archived},
    shutdown,
    store::RetentionLock,
};

#[derive(Debug, Clone, Args)]
pub struct PruneArgs {
    /// Delete raw events sent (`event_ts`, else `received_at`) and dead letters received longer
    /// ago than this: `90d`, `12h`, `30m`, `45s`.
    #[arg(long, value_name = "DURATION")]
    pub older_than: Age,

    /// Export the events to this folder or bucket prefix (`s3://bucket/prefix`, `gs://`, `az://`)
    /// first, as `lobbylog export` does, and delete only what was archived and read back: whole
    /// UTC days of receipt that ended before the cutoff.
    #[arg(long, value_name = "DIR|URL", env = "LOBBYLOG_RETENTION_ARCHIVE")]
    pub archive_to: Option<String>,

    /// Count what would be deleted; delete (and write) nothing.
    #[arg(long)]
    pub dry_run: bool,

    /// Rows deleted per statement (each its own transaction).
    #[arg(long, default_value_t = 5000, value_parser = clap::value_parser!(i64).range(1..=100_000))]
    pub batch_size: i64,
}

/// Runs the subcommand: waits for the retention lock, prunes (or counts), prints the summary.
/// Exit status 130 when SIGINT or SIGTERM stopped it.
pub async fn run(global: &GlobalArgs, args: PruneArgs) -> anyhow::Result<ExitCode> {
    let archive = match args.archive_to.as_deref().map(str::trim) {
        Some(to) if !to.is_empty() => Some(Target::parse(to)?),
        _ => None,
    };
    let pool = db::open(&global.database_url, 3).await?;
    let stop = Arc::new(AtomicBool::new(false));
    let watcher = tokio::spawn(watch_signals(stop.clone()));
    let started = Instant::now();
    let mut report = Report::new(args.older_than, args.dry_run);
    if args.dry_run {
        let cutoff = Cutoff::before(&pool, args.older_than).await?;
        dry_run(
            &mut *pool.acquire().await?,
            &cutoff,
            archive.as_ref(),
            &mut report,
        )
        .await?;
    } else if let Some(mut lock) = RetentionLock::take(&pool, "prune", &stop).await? {
        let cutoff = Cutoff::before(lock.conn(), args.older_than).await?;
        // On an error the lock is dropped, not released: its session ends, and the lock with it.
        let pruned = match &archive {
            Some(to) => {
                let (export, pruned) = prune_archived(
                    &pool,
                    lock.conn(),
                    &cutoff,
                    to,
                    args.batch_size,
                    &stop,
                    |_, _| {},
                )
                .await?;
                report.archive = Some(Archived {
                    to: export.to,
                    days: export.days,
                    bytes: export.written.bytes,
                });
                pruned
            }
            None => prune_with_progress(lock.conn(), &cutoff, args.batch_size, &stop).await?,
        };
        lock.release().await?;
        report.record(&cutoff, pruned);
    } else {
        report.interrupted = true;
    }
    watcher.abort();
    report.elapsed = started.elapsed();
    println!("{report}");
    Ok(ExitCode::from(if report.interrupted { 130 } else { 0 }))
}

async fn dry_run(
    conn: &mut PgConnection,
    cutoff: &Cutoff,
    archive: Option<&Target>,
    report: &mut Report,
) -> anyhow::Result<()> {
    let (mut events, dead_letters) = count(conn, cutoff).await?;
    if let Some(to) = archive {
        let (archived, days) = count_archived(conn, cutoff).await?;
        events = archived;
        report.archive = Some(Archived {
            to: to.to_string(),
            days,
            bytes: 0,
        });
    }
    let pruned = Pruned {
        events,
        dead_letters,
        interrupted: false,
    };
    report.record(cutoff, pruned);
    Ok(())
}

async fn prune_with_progress(
    conn: &mut PgConnection,
    cutoff: &Cutoff,
    batch_size: i64,
    stop: &AtomicBool,
) -> anyhow::Result<Pruned> {
    let (events, dead_letters) = count(conn, cutoff).await?;
    let mut progress = Progress::new("prune", Some(events + dead_letters), false);
    let pruned = prune(conn, cutoff, batch_size, stop, |_, rows| {
        progress.advance(rows)
    })
    .await;
    progress.finish();
    pruned.with_context(|| format!("pruning rows older than {}", cutoff.shown))
}

async fn watch_signals(stop: Arc<AtomicBool>) {
    shutdown::signal().await;
    stop.store(true, Ordering::Relaxed);
}
