//! `lobbylog export`: the stored raw events into `YYYY/MM/DD.ndjson.zst` under a folder or a bucket
//! prefix, one archive per UTC day of receipt, with a summary; exit 0, 1 (failed), 2 (bad arguments) or 130 (interrupted).

use std::{
    process::ExitCode,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
};

use clap::Args;
use time::{Date, OffsetDateTime, UtcOffset};

use crate::{
    config::GlobalArgs,
    daily::timestamps,
    db,
    export::{self, Target},
    shutdown,
};

#[derive(Debug, Clone, Args)]
pub struct ExportArgs {
    /// Directory or object storage prefix (`s3://bucket/prefix`, `gs://...`, `az://...`) to write
    /// `YYYY/MM/DD.ndjson.zst` into (folders created if missing); the archives of the days exported
    /// are replaced whole, others are left alone.
    #[arg(long, value_name = "DIR|URL")]
    pub to: String,

    /// First day exported: the UTC day of T: RFC 3339 (2024-06-01T12:00:00Z), a date (2024-06-01)
    /// or Unix seconds [default: the oldest event's].
    #[arg(long, value_name = "T", value_parser = timestamps::parse_cli)]
    pub since: Option<OffsetDateTime>,

    /// Last day exported, included: the UTC day of T (same forms as --since) [default: today].
    #[arg(long, value_name = "T", value_parser = timestamps::parse_cli)]
    pub until: Option<OffsetDateTime>,
}

/// Runs the subcommand: the days with events, one file each, then the summary.
pub async fn run(global: &GlobalArgs, args: ExportArgs) -> anyhow::Result<ExitCode> {
    let first = args.since.map(utc_day);
    let last = utc_day(args.until.unwrap_or_else(OffsetDateTime::now_utc));
    if let Some(first) = first
        && first > last
    {
        eprintln!("--since (day {first}) is after --until (day {last}): nothing to export");
        return Ok(ExitCode::from(2));
    }
    let to = Target::parse(&args.to)?;
    let pool = db::open(&global.database_url, 2).await?;
    let stop = Arc::new(AtomicBool::new(false));
    let watcher = tokio::spawn(watch_signals(stop.clone()));
    let report = export::export(&pool, &to, first, last, &stop).await;
    watcher.abort();
    pool.close().await;
    let report = report?;
    println!("{report}");
    Ok(ExitCode::from(if report.interrupted { 130 } else { 0 }))
}

fn utc_day(at: OffsetDateTime) -> Date {
    at.to_offset(UtcOffset::UTC).date()
}

async fn watch_signals(stop: Arc<AtomicBool>) {
    shutdown::signal().await;
    stop.store(true, Ordering::Relaxed);
}
