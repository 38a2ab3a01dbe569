//! `lobbylog reproject`: rebuild the normalized tables from the raw events.

use std::{process::ExitCode, time::Instant};

use anyhow::Context;
use sqlx::PgPool;

use crate::{
    config::{GlobalArgs, ReprojectArgs},
    db,
    progress::Progress,
    store,
};

/// Runs the subcommand: prepares the database, then rebuilds.
pub async fn command(global: &GlobalArgs, args: ReprojectArgs) -> anyhow::Result<ExitCode> {
    let pool = db::prepare(&global.database_url, 2).await?;
    run(&pool, args.page_size).await?;
    Ok(ExitCode::SUCCESS)
}

/// Empties the normalized tables, then re-projects every stored event, page by page.
///
/// Safe while the intake serves: every page and every live event upsert with the same
/// order-independent rules, so an event projected by both lands the same way. Between the clear
/// and the end of the run, dashboards see the tables refilling.
pub async fn run(pool: &PgPool, page_size: i64) -> anyhow::Result<u64> {
    let started = Instant::now();
    let total = store::count_events(pool)
        .await
        .context("counting stored events")?;
    store::clear_projection(pool)
        .await
        .context("clearing the normalized tables")?;
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
    let elapsed = started.elapsed().as_secs_f64();
    tracing::info!(
        events = done,
        elapsed_s = elapsed,
        rate = (done as f64 / elapsed.max(1e-9)).round(),
        "reproject finished"
    );
    Ok(done)
}
