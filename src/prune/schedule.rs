//! Retention inside `serve`: a prune once a day when `LOBBYLOG_RETENTION` is set (archiving first
//! with `LOBBYLOG_RETENTION_ARCHIVE`), and the gauges of the oldest and the newest stored events.

use std::{
    sync::{Arc, atomic::AtomicBool},
    time::{Duration, Instant},
};

use sqlx::PgPool;

use super::{Age, Cutoff, Retention, prune, prune_archived};
use crate::{
    export::Target,
    metrics::Metrics,
    store::{Availability, RetentionLock, retention},
    telemetry,
};

const EVERY: Duration = Duration::from_secs(24 * 3600);
/// After a failed prune (Postgres unreachable, ...): sooner than a day.
const RETRY: Duration = Duration::from_secs(3600);
const GAUGE_EVERY: Duration = Duration::from_secs(30);
const BATCH_SIZE: i64 = 5000;

/// Runs until the process ends. Once Postgres is up and migrated: prunes right away, then every
/// 24 hours, unless another process holds the retention lock (that run is skipped: the holder is
/// pruning, or reprojecting, which must not lose its events); refreshes the oldest-event gauge
/// every 30 seconds.
pub async fn run(
    pool: PgPool,
    metrics: Arc<Metrics>,
    availability: Availability,
    retention: Retention,
    archive: Option<Target>,
) {
    while !availability.is_up() {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let gauge = refresh_gauge_every(&pool, &metrics);
    match retention.0 {
        Some(age) => {
            tokio::join!(gauge, prune_daily(&pool, &metrics, age, archive.as_ref()));
        }
        None => gauge.await,
    }
}

async fn refresh_gauge_every(pool: &PgPool, metrics: &Metrics) {
    loop {
        refresh_gauge(pool, metrics).await;
        tokio::time::sleep(GAUGE_EVERY).await;
    }
}

async fn refresh_gauge(pool: &PgPool, metrics: &Metrics) {
    match retention::oldest_event(pool).await {
        Ok(sent_at) => metrics.retention.set_oldest_event(sent_at),
        Err(e) => tracing::debug!(error = %e, "cannot read the oldest event's age"),
    }
    // Events stored by another process (a replica, a backfill) count for the silence alert too.
    match retention::newest_event(pool).await {
        Ok(sent_at) => metrics.door.event_at(sent_at.unwrap_or(0.0)),
        Err(e) => tracing::debug!(error = %e, "cannot read the newest event's time"),
    }
}

async fn prune_daily(pool: &PgPool, metrics: &Metrics, age: Age, archive: Option<&Target>) {
    let mut next = Instant::now();
    loop {
        tokio::time::sleep_until(next.into()).await;
        next = match prune_once(pool, metrics, age, archive).await {
            Ok(outcome) => {
                metrics.retention.run(outcome);
                refresh_gauge(pool, metrics).await;
                Instant::now() + EVERY
            }
            Err(e) => {
                metrics.retention.run("failed");
                let retry_in_s = RETRY.as_secs();
                tracing::error!(
                    error = telemetry::chain(&e),
                    retry_in_s,
                    "retention prune failed"
                );
                Instant::now() + RETRY
            }
        };
    }
}

/// One scheduled run: `finished`, or `skipped` when another process holds the lock.
async fn prune_once(
    pool: &PgPool,
    metrics: &Metrics,
    age: Age,
    archive: Option<&Target>,
) -> anyhow::Result<&'static str> {
    let Some(mut lock) = RetentionLock::try_take(pool).await? else {
        tracing::info!(
            "retention prune skipped: another process holds the retention lock \
             (a prune or a reproject); next try in 24 h"
        );
        return Ok("skipped");
    };
    let started = Instant::now();
    let cutoff = Cutoff::before(lock.conn(), age).await?;
    let never = AtomicBool::new(false);
    let deleted = |table: super::Table, rows| metrics.retention.pruned(table.as_str(), rows);
    let pruned = match archive {
        Some(to) => {
            let (export, pruned) =
                prune_archived(pool, lock.conn(), &cutoff, to, BATCH_SIZE, &never, deleted).await?;
            tracing::info!(
                to = %to,
                days = export.days,
                bytes = export.written.bytes,
                "retention archived the days it prunes"
            );
            pruned
        }
        None => prune(lock.conn(), &cutoff, BATCH_SIZE, &never, deleted).await?,
    };
    lock.release().await?;
    tracing::info!(
        events = pruned.events,
        dead_letters = pruned.dead_letters,
        older_than = %age,
        cutoff = %cutoff.shown,
        elapsed_s = started.elapsed().as_secs_f64(),
        "retention prune finished"
    );
    Ok("finished")
}
