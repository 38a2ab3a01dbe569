use std::process::ExitCode;

use clap::Parser;
use lobbylog::{commands, telemetry};

// jemalloc, with a background thread that returns freed pages to the system within about a second
// (its options are compiled in from .cargo/config.toml): glibc's arenas kept what a burst of
// connections had used, and mimalloc what a backfill's batches had.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[tokio::main]
async fn main() -> ExitCode {
    // A missing .env is normal; a malformed one is reported by clap on the variables it sets.
    let _ = dotenvy::dotenv();
    let (global, command) = commands::Cli::parse().into_command();
    telemetry::init(global.log_format);
    commands::run(&global, command).await.unwrap_or_else(|e| {
        tracing::error!(error = telemetry::chain(&e), "lobbylog failed");
        ExitCode::FAILURE
    })
}
