//! The rollups inside `serve`: every few seconds, the knocks the intake (or a backfill) changed
//! are rolled up again, so dashboards read whole days without reading the sessions.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use sqlx::PgPool;

use crate::{
    metrics::Metrics,
    store::{Availability, rollups},
    telemetry,
};

/// A refresh waits at least this many times as long as the last one took, so refreshing never
/// takes more than about 1/50 of a Postgres connection's time away from the intake, whose load
/// makes the days it recomputes larger.
const PACE: u32 = 50;

/// Runs until the process ends: once Postgres is up and migrated, a refresh every `every` (or
/// `PACE` times the last refresh's duration, if longer). A failed refresh is logged once until one
/// succeeds again; its marks stay for the next try.
pub async fn run(pool: PgPool, metrics: Arc<Metrics>, availability: Availability, every: Duration) {
    let (mut failing, mut pause) = (false, every);
    loop {
        tokio::time::sleep(pause).await;
        if !availability.is_up() {
            continue;
        }
        let started = Instant::now();
        let outcome = refresh_once(&pool, &metrics).await;
        pause = every.max(started.elapsed() * PACE);
        match outcome {
            Ok(()) => {
                if std::mem::take(&mut failing) {
                    tracing::info!("knock rollups refreshed again");
                }
            }
            Err(e) => {
                metrics.rollups.refresh("failed", 0);
                if !std::mem::replace(&mut failing, true) {
                    tracing::error!(
                        error = telemetry::chain(&e),
                        retry_in_s = pause.as_secs_f64(),
                        "knock rollup refresh failed; dashboards show older numbers until one succeeds"
                    );
                }
            }
        }
    }
}

async fn refresh_once(pool: &PgPool, metrics: &Metrics) -> anyhow::Result<()> {
    metrics.rollups.set_lag(rollups::lag_seconds(pool).await?);
    let recomputed = rollups::refresh(pool).await?;
    metrics.rollups.refresh("finished", recomputed);
    Ok(())
}
