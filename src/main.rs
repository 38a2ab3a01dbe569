use std::process::ExitCode;

use clap::Parser;
use lobbylog::{
    config::{Cli, Command, GlobalArgs},
    daily, db, prune, reproject, serve,
    sources::{archive, spool},
    telemetry,
};

// jemalloc, with a background thread that returns freed pages to the system within about a second
// (its options are compiled in from .cargo/config.toml): glibc's arenas kept what a burst of
// connections had used, and mimalloc what a backfill's batches had.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[tokio::main]
async fn main() -> ExitCode {
    // A missing .env is normal; a malformed one is reported by clap on the variables it sets.
    let _ = dotenvy::dotenv();
    let (global, command) = Cli::parse().into_command();
    telemetry::init(global.log_format);
    run(&global, command).await.unwrap_or_else(|e| {
        tracing::error!(error = format!("{e:#}"), "lobbylog failed");
        ExitCode::FAILURE
    })
}

async fn run(global: &GlobalArgs, command: Command) -> anyhow::Result<ExitCode> {
    global.database_url.validate().map_err(anyhow::Error::msg)?;
    match command {
        Command::Serve(args) => serve::run(global, args).await.map(|()| ExitCode::SUCCESS),
        Command::Migrate => db::prepare(&global.database_url, 1)
            .await
            .map(|_| ExitCode::SUCCESS),
        Command::Reproject(args) => reproject::command(global, args).await,
        Command::Backfill(args) => archive::command(global, args).await,
        Command::Daily(args) => daily::command::run(global, args).await,
        Command::Spool(args) => spool::command(global, args).await,
        Command::Prune(args) => prune::command(global, args).await,
    }
}
