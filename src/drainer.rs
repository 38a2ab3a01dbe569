//! Moves spooled events into Postgres through the store once it takes writes again.

use std::{sync::Arc, time::Duration};

use anyhow::Context;
use sqlx::PgPool;

use crate::{
    event::{self, Parsed},
    metrics::Metrics,
    spool::{self, Spool},
    store,
    writer::Writer,
};

const TICK: Duration = Duration::from_millis(500);
const CHUNK: usize = 1000;

/// Every tick: if Postgres was marked down, probe it; if it answers and the spool holds events,
/// drain them. Runs until the process ends; a crash between commit and delete only replays
/// events, which the store skips as duplicates.
pub async fn run(spool: Spool, pool: PgPool, writer: Writer, metrics: Arc<Metrics>) {
    loop {
        tokio::time::sleep(TICK).await;
        if !writer.is_healthy() {
            if ping(&pool).await.is_err() {
                continue;
            }
            writer.set_healthy(true);
        }
        if spool
            .depth
            .records
            .load(std::sync::atomic::Ordering::Relaxed)
            == 0
        {
            continue;
        }
        match drain(&spool, &pool).await {
            Ok(events) => {
                metrics.drained(events);
                tracing::info!(events, "spool drained");
            }
            Err(e) => {
                tracing::warn!(
                    error = format!("{e:#}"),
                    "spool drain interrupted; will retry"
                );
                writer.set_healthy(false);
            }
        }
    }
}

async fn ping(pool: &PgPool) -> anyhow::Result<()> {
    tokio::time::timeout(
        Duration::from_secs(2),
        sqlx::query("select 1").execute(pool),
    )
    .await
    .context("postgres did not answer")??;
    Ok(())
}

/// Stores every sealed segment and removes it once committed; returns the events moved.
pub async fn drain(spool: &Spool, pool: &PgPool) -> anyhow::Result<u64> {
    let mut moved = 0;
    for segment in spool.sealed().await? {
        let bodies = spool::read_segment(&segment.path)
            .with_context(|| format!("reading {}", segment.path.display()))?;
        let mut events = Vec::with_capacity(bodies.len());
        for body in &bodies {
            match event::parse(body) {
                Ok(Parsed::Event(event)) => events.push(event),
                Ok(Parsed::Probe) => {}
                Err(rejection) => {
                    store::write_dead_letter(pool, "intake", &rejection.0, body).await?
                }
            }
        }
        for chunk in events.chunks(CHUNK) {
            store::write_batch(pool, "spool", chunk).await?;
        }
        spool.remove(&segment, bodies.len() as u64)?;
        moved += events.len() as u64;
    }
    Ok(moved)
}
