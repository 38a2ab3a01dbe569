//! `lobbylog reproject`: rebuild the normalized tables from the raw events.

use std::{process::ExitCode, sync::atomic::AtomicBool, time::Instant};

use anyhow::Context;
use sqlx::PgPool;

use crate::{
    config::{GlobalArgs, ReprojectArgs},
    db,
    progress::Progress,
    prune::RetentionLock,
    store::{self, retention},
};

/// Runs the subcommand: prepares the database, then rebuilds.
pub async fn command(global: &GlobalArgs, args: ReprojectArgs) -> anyhow::Result<ExitCode> {
    let pool = db::prepare(&global.database_url, 2).await?;
    run(&pool, args.page_size).await?;
    Ok(ExitCode::SUCCESS)
}

/// Empties the normalized tables of what the raw events can rebuild, then re-projects every
/// stored event, page by page.
///
/// Safe while the intake serves: every page and every live event upsert with the same
/// order-independent rules, so an event projected by both lands the same way. Between the clear
/// and the end of the run, dashboards see the tables refilling. Holds the retention lock, so no
/// prune deletes events between the clear and their re-projection.
pub async fn run(pool: &PgPool, page_size: i64) -> anyhow::Result<u64> {
    let Some(lock) = RetentionLock::take(pool, "reproject", &AtomicBool::new(false)).await? else {
        anyhow::bail!("reproject gave up waiting for the retention lock");
    };
    let started = Instant::now();
    let total = store::count_events(pool)
        .await
        .context("counting stored events")?;
    clear(pool).await?;
    let mut progress = Progress::new("reproject", Some(total as u64), false);
    let (mut after, mut done) = (String::new(), 0u64);
    while let Some((read, last)) = store::reproject_page(pool, &after, page_size)
        .await
        .with_context(|| format!("re-projecting events after {after:?}"))?
    {
        done += read as u64;
        progress.advance(read as u64);
        after = last;
    }
    progress.finish();
    lock.release().await?;
    let elapsed = started.elapsed().as_secs_f64();
    tracing::info!(
        events = done,
        elapsed_s = elapsed,
        rate = (done as f64 / elapsed.max(1e-9)).round(),
        "reproject finished"
    );
    Ok(done)
}

/// Everything if nothing was ever pruned; otherwise only the rows that began at or after the
/// retention horizon and whose events are all still stored. The rest are kept: the stored events
/// merge into them as they always merge into existing rows.
async fn clear(pool: &PgPool) -> anyhow::Result<()> {
    let horizon = retention::horizon(pool)
        .await
        .context("reading the retention horizon")?;
    let Some(horizon) = horizon else {
        return store::clear_projection(pool)
            .await
            .context("clearing the normalized tables");
    };
    let cleared = retention::clear_rebuildable(pool, &horizon)
        .await
        .context("clearing the rows the stored events can rebuild")?;
    tracing::info!(
        cleared,
        pruned_before = horizon,
        "raw events were pruned: rows that began before the horizon, or lost an event, are kept"
    );
    Ok(())
}
