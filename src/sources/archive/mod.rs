//! Archives: saved webhooks read from files, folders and object storage, compressed or not,
//! through the same triage and store as live events.

mod files;
mod json_values;
mod loader;
mod ndjson_lines;
mod objects;
mod reader;
mod record_shape;
mod records;
mod report;

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Instant,
};

use anyhow::Context;
use sqlx::PgPool;
use tokio::sync::Notify;

use self::loader::Loader;
pub use self::{files::Input, objects::inputs, report::Report};
use crate::{progress::Progress, shutdown};

/// The records of one archive's bytes, decompressed and split as `load` does: each with its line
/// and whether it was cut at `MAX_RECORD` bytes. Stops at the first error.
pub fn scan(bytes: &[u8]) -> std::io::Result<Vec<(u64, Vec<u8>, bool)>> {
    let mut records = records::open(files::decompress(bytes)?)?;
    let mut out = Vec::new();
    while let Some(r) = records.next_record()? {
        out.push((r.line, r.bytes.to_vec(), r.too_large));
    }
    Ok(out)
}

/// Batches written at once, each in its own transaction on its own connection, so Postgres works
/// on one while the other commits. Results are still counted in input order.
pub const LOADERS: usize = 2;

/// Reads every input and stores its events (writes nothing when `pool` is `None`).
/// Stops reading on SIGINT or SIGTERM, once the batches in flight have committed.
pub async fn load(
    pool: Option<PgPool>,
    inputs: Vec<Input>,
    batch_size: usize,
) -> anyhow::Result<Report> {
    let started = Instant::now();
    let mut progress = Progress::new("backfill", files::total_bytes(&inputs), true);
    let stop = Arc::new(AtomicBool::new(false));
    let interrupted = Arc::new(Notify::new());
    let watcher = tokio::spawn(watch_signals(stop.clone(), interrupted.clone()));
    let mut chunks = reader::spawn(inputs, batch_size, stop.clone())
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
