//! `lobbylog reproject`: rebuild the normalized tables from the raw events, with a summary.

use std::{process::ExitCode, time::Instant};

use clap::Args;

use crate::{config::GlobalArgs, db, progress::Progress, store};

#[derive(Debug, Clone, Args)]
pub struct ReprojectArgs {
    /// Events re-projected per transaction.
    #[arg(long, default_value_t = 5000, value_parser = clap::value_parser!(i64).range(1..))]
    pub page_size: i64,
}

/// Opens the existing database, rebuilds, and prints what was done.
pub async fn run(global: &GlobalArgs, args: ReprojectArgs) -> anyhow::Result<ExitCode> {
    let pool = db::open(&global.database_url, 2).await?;
    let started = Instant::now();
    let mut progress: Option<Progress> = None;
    let done = store::rebuild_projection(&pool, args.page_size, |done, total| {
        let bar = progress.get_or_insert_with(|| Progress::new("reproject", Some(total), false));
        bar.set_position(done);
    })
    .await?;
    if let Some(bar) = progress {
        bar.finish();
    }
    let elapsed = started.elapsed().as_secs_f64();
    println!("reproject finished");
    println!("  events       {done}");
    println!("  elapsed      {elapsed:.1} s");
    println!(
        "  rate         {:.0} events/s",
        done as f64 / elapsed.max(1e-9)
    );
    Ok(ExitCode::SUCCESS)
}
