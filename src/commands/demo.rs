//! `lobbylog demo`: fill the database with a realistic recent month of knocks, through the same
//! triage and store as live events, so the dashboard has something to show.

use std::{
    process::ExitCode,
    time::{Instant, SystemTime, UNIX_EPOCH},
};

use anyhow::Context;
use clap::Args;

use crate::{
    config::GlobalArgs,
    db,
    demo_data::{self, ID_PREFIX},
    store::{self, Outcome},
    triage::{self, Origin},
};

/// Events written per transaction.
const BATCH: usize = 1000;

#[derive(Debug, Clone, Args)]
pub struct DemoArgs {
    /// Days of knocks, ending now.
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u32).range(1..=366))]
    pub days: u32,

    /// Seed of the generator: the same seed and day give the same knocks.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,

    /// Write the demo even though the database holds events that are not the demo's.
    #[arg(long)]
    pub force: bool,
}

pub async fn run(global: &GlobalArgs, args: DemoArgs) -> anyhow::Result<ExitCode> {
    let pool = db::open(&global.database_url, 2).await?;
    let real = store::reads::count_events_not_prefixed(&pool, ID_PREFIX)
        .await
        .context("counting the events already stored")?;
    if real > 0 && !args.force {
        anyhow::bail!(
            "{} already holds {real} events that are not the demo's: demo data would mix with \
             them in every chart; use a database of its own (DATABASE_URL), or --force",
            global.database_url
        );
    }
    let started = Instant::now();
    let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs_f64();
    let month = demo_data::month(now, args.days, args.seed);
    let (mut stored, mut duplicates) = (0, 0);
    for (n, chunk) in month.bodies.chunks(BATCH).enumerate() {
        let items: Vec<_> = chunk
            .iter()
            .enumerate()
            .filter_map(|(i, body)| {
                let origin = Origin::Archive {
                    file: "demo".into(),
                    line: (n * BATCH + i + 1) as u64,
                };
                triage::item(body, origin)
            })
            .collect();
        let outcomes = store::write(&pool, &items)
            .await
            .context("storing the demo events")?;
        stored += outcomes.iter().filter(|&&o| o == Outcome::Stored).count();
        duplicates += outcomes
            .iter()
            .filter(|&&o| o == Outcome::Duplicate)
            .count();
    }
    store::rollups::refresh(&pool)
        .await
        .context("rolling up the demo's knocks")?;
    println!(
        "demo: {} knocks in 4 rooms over {} days",
        month.knocks, args.days
    );
    println!("  stored       {stored}");
    println!("  duplicates   {duplicates}");
    println!("  elapsed      {:.1} s", started.elapsed().as_secs_f64());
    println!("open the dashboard on the admin listener: http://127.0.0.1:9090/dashboard");
    Ok(ExitCode::SUCCESS)
}
