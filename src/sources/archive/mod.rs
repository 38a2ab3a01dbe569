//! `lobbylog backfill`: load saved webhook archives through the same store as live events.

mod files;
mod loader;
mod reader;
mod records;
mod report;
mod values;

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

pub use self::report::Report;
use self::{files::Input, loader::Loader};
use crate::{
    config::{BackfillArgs, GlobalArgs},
    db,
    progress::Progress,
    shutdown,
};

/// Runs the subcommand: the database first (unless a dry run), then the run, then the summary.
pub async fn command(global: &GlobalArgs, args: BackfillArgs) -> anyhow::Result<ExitCode> {
    // Every PATH is found before the database is touched.
    let inputs = files::expand(&args.paths)?;
    let pool = match args.dry_run {
        true => None,
        false => Some(db::prepare(&global.database_url, loader::LOADERS as u32).await?),
    };
    let report = run(pool, inputs, &args).await?;
    println!("{report}");
    Ok(ExitCode::from(report.exit_code()))
}

/// Reads every input and stores its events (writes nothing when `pool` is `None`).
/// Stops reading on SIGINT or SIGTERM, once the batches in flight have committed.
async fn run(
    pool: Option<PgPool>,
    inputs: Vec<Input>,
    args: &BackfillArgs,
) -> anyhow::Result<Report> {
    let started = Instant::now();
    let mut progress = Progress::new("backfill", files::total_bytes(&inputs), true);
    let stop = Arc::new(AtomicBool::new(false));
    let interrupted = Arc::new(Notify::new());
    let watcher = tokio::spawn(watch_signals(stop.clone(), interrupted.clone()));
    let mut chunks = reader::spawn(inputs, args.batch_size as usize, stop.clone())
        .context("cannot start the reader thread")?;
    let mut loader = Loader::new(pool, &mut progress);
    loop {
        let chunk = tokio::select! {
            biased;
            () = interrupted.notified() => None,
            chunk = chunks.recv() => chunk,
        };
        match chunk {
            Some(chunk) if !stop.load(Ordering::Relaxed) => loader.load(chunk).await?,
            _ => break,
        }
    }
    loader.finish().await?;
    watcher.abort();
    let mut report = loader.report;
    report.interrupted = stop.load(Ordering::Relaxed);
    report.elapsed = started.elapsed();
    progress.finish();
    Ok(report)
}

async fn watch_signals(stop: Arc<AtomicBool>, interrupted: Arc<Notify>) {
    shutdown::signal().await;
    stop.store(true, Ordering::Relaxed);
    interrupted.notify_one();
}
