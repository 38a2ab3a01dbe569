//! Moves spooled events into Postgres through the store once it takes writes again.

use std::{sync::Arc, time::Duration};

use sqlx::PgPool;

use super::{Segment, Spool, read_segment};
use crate::{
    db,
    metrics::Metrics,
    store::{self, Availability, Item, Origin},
};

const TICK: Duration = Duration::from_millis(500);
/// Items written per transaction while draining.
const CHUNK: usize = 1000;

/// Every tick: while Postgres is marked unavailable, probe it (reachable and migrated); once it
/// is available and the spool holds segments, drain them. Runs until the process ends; a crash
/// between commit and delete only replays events, which the store skips as duplicates.
pub async fn run(spool: Spool, pool: PgPool, availability: Availability, metrics: Arc<Metrics>) {
    loop {
        tokio::time::sleep(TICK).await;
        if !availability.is_up() {
            if db::check_ready(&pool).await.is_err() {
                continue;
            }
            availability.mark_up();
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
                availability.mark_down(&e.to_string());
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
        let (bodies, lines) = match tokio::task::spawn_blocking(move || read_segment(&path)).await {
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
        moved += store_segment(pool, &segment, bodies).await?;
        spool
            .remove(&segment, lines, false)
            .map_err(|e| Stop::Failed(e.into()))?;
    }
    Ok(moved)
}

/// Stores a segment's events and dead letters; repeating it (after a crash) adds nothing.
async fn store_segment(
    pool: &PgPool,
    segment: &Segment,
    bodies: Vec<Vec<u8>>,
) -> Result<u64, Stop> {
    let name: Arc<str> = segment
        .path
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned())
        .into();
    let items: Vec<Item> = bodies
        .iter()
        .enumerate()
        .filter_map(|(i, body)| {
            let origin = Origin::Spool {
                segment: name.clone(),
                line: i as u64 + 1,
            };
            Item::from_body(body, origin)
        })
        .collect();
    for chunk in items.chunks(CHUNK) {
        store::write(pool, chunk).await?;
    }
    Ok(items
        .iter()
        .filter(|item| matches!(item, Item::Event { .. }))
        .count() as u64)
}
