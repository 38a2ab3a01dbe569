//! `lobbylog backfill`: load saved webhook archives like live events, with a progress bar and a
//! summary; exit 0, 2 (some records were bad), 1 (failed) or 130 (interrupted).

use std::process::ExitCode;

use clap::Args;

use anyhow::Context;

use crate::{config::GlobalArgs, db, sources::archive, store};

#[derive(Debug, Clone, Args)]
pub struct BackfillArgs {
    /// Files, directories (walked in sorted order) or object storage prefixes (`s3://bucket/prefix`,
    /// `gs://...`, `az://...`: every object under it, in key order) to load; `-` reads stdin.
    #[arg(required = true, value_name = "PATH|URL")]
    pub paths: Vec<std::path::PathBuf>,

    /// Events stored per transaction.
    #[arg(long, default_value_t = 2000, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub batch_size: u32,

    /// Read and validate everything, write nothing, and say what would be stored.
    #[arg(long)]
    pub dry_run: bool,
}

/// Runs the subcommand: the database first (unless a dry run), then the run, then the summary.
pub async fn run(global: &GlobalArgs, args: BackfillArgs) -> anyhow::Result<ExitCode> {
    // Every PATH is found, and every bucket listed, before the database is touched.
    let inputs = archive::inputs(&args.paths).await?;
    let pool = match args.dry_run {
        true => None,
        false => Some(db::open(&global.database_url, archive::LOADERS as u32).await?),
    };
    let report = archive::load(pool.clone(), inputs, args.batch_size as usize).await?;
    println!("{report}");
    if let Some(pool) = pool {
        // The days the backfill touched, rolled up once now rather than piecemeal by `serve`.
        let days = store::rollups::refresh(&pool)
            .await
            .context("the events are stored, but rolling up their knocks failed (`lobbylog serve` retries it)")?;
        println!("  rollups      {days} (room, day) recomputed");
    }
    Ok(ExitCode::from(report.exit_code()))
}
