//! Moves spooled events into Postgres through the store once it takes writes again.

use std::{sync::Arc, time::Duration};

use sqlx::PgPool;

use crate::{
    db,
    event::{self, Parsed},
    metrics::Metrics,
    spool::{self, Segment, Spool},
    store::{self, DeadLetter},
    writer::Writer,
};

const TICK: Duration = Duration::from_millis(500);
const CHUNK: usize = 1000;

/// Every tick: if Postgres was marked down, probe it; if it answers and the spool holds segments,
/// drain them. Runs until the process ends; a crash between commit and delete only replays
/// events, which the store skips as duplicates.
pub async fn run(spool: Spool, pool: PgPool, writer: Writer, metrics: Arc<Metrics>) {
    loop {
        tokio::time::sleep(TICK).await;
        if !writer.is_healthy() {
            if db::ping(&pool).await.is_err() {
                continue;
            }
            writer.set_healthy(true);
        }
        if spool.is_empty() {
            continue;
        }
        match drain(&spool, &pool).await {
            Ok(0) => {}
            Ok(events) => {
                metrics.drained(events);
                tracing::info!(events, "spool drained");
            }
            Err(Stop::Unavailable(e)) => {
                tracing::warn!(error = %e, "spool drain interrupted: postgres unavailable");
                writer.set_healthy(false);
            }
            // Not Postgres being down: the live intake keeps writing, the drain retries next tick.
            Err(Stop::Failed(e)) => {
                tracing::error!(error = format!("{e:#}"), "spool drain failed; will retry")
            }
        }
    }
}

enum Stop {
    Unavailable(sqlx::Error),
    Failed(anyhow::Error),
}

impl From<sqlx::Error> for Stop {
    fn from(e: sqlx::Error) -> Self {
        if store::is_unavailable(&e) {
            Self::Unavailable(e)
        } else {
            Self::Failed(e.into())
        }
    }
}

/// Stores every sealed segment and removes it once committed; returns the events moved.
async fn drain(spool: &Spool, pool: &PgPool) -> Result<u64, Stop> {
    let mut moved = 0;
    let segments = spool.sealed().await.map_err(|e| Stop::Failed(e.into()))?;
    for segment in segments {
        let path = segment.path.clone();
        let (bodies, lines) = match tokio::task::spawn_blocking(move || spool::read_segment(&path))
            .await
        {
            Ok(Ok(read)) => read,
            failed => {
                // An unreadable segment must not hold back the others; it stays on disk for a human.
                tracing::error!(path = %segment.path.display(), error = ?failed.err(), "spool segment unreadable; set aside as .failed");
                spool
                    .remove(&segment, 0, true)
                    .map_err(|e| Stop::Failed(e.into()))?;
                continue;
            }
        };
        moved += store_segment(pool, &segment, &bodies).await?;
        spool
            .remove(&segment, lines, false)
            .map_err(|e| Stop::Failed(e.into()))?;
    }
    Ok(moved)
}

/// Stores a segment's events and dead letters; repeating it (after a crash) adds nothing.
async fn store_segment(pool: &PgPool, segment: &Segment, bodies: &[Vec<u8>]) -> Result<u64, Stop> {
    let name = segment
        .path
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    let mut events = Vec::with_capacity(bodies.len());
    let mut rejected = Vec::new();
    for (line, body) in bodies.iter().enumerate() {
        match event::parse(body) {
            Ok(Parsed::Event(event)) => events.push(event),
            Ok(Parsed::Probe) => {}
            Err(rejection) => {
                rejected.push((format!("spool:{name}:{}", line + 1), rejection.0, body))
            }
        }
    }
    let letters: Vec<DeadLetter> = rejected
        .iter()
        .map(|(source, reason, body)| DeadLetter {
            source,
            reason,
            body,
        })
        .collect();
    store::write_dead_letters(pool, &letters).await?;
    for chunk in events.chunks(CHUNK) {
        store::write_batch(pool, "spool", chunk).await?;
    }
    Ok(events.len() as u64)
}
