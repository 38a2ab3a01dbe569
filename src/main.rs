use std::process::ExitCode;

use clap::Parser;
use lobbylog::{
    backfill,
    config::{Cli, Command},
    db, reproject, server, telemetry,
};

#[tokio::main]
async fn main() -> ExitCode {
    // A missing .env is normal; a malformed one is reported by clap on the variables it sets.
    let _ = dotenvy::dotenv();
    let (global, command) = Cli::parse().into_command();
    telemetry::init(global.log_format);
    let result = match command {
        Command::Serve(args) => server::run(&global, args).await.map(|()| ExitCode::SUCCESS),
        Command::Migrate => db::prepare(&global.database_url, 1)
            .await
            .map(|_| ExitCode::SUCCESS),
        Command::Reproject(args) => match db::prepare(&global.database_url, 2).await {
            Ok(pool) => reproject::run(&pool, args.page_size)
                .await
                .map(|_| ExitCode::SUCCESS),
            Err(e) => Err(e),
        },
        Command::Backfill(args) => backfill::command(&global, args).await,
    };
    result.unwrap_or_else(|e| {
        tracing::error!(error = format!("{e:#}"), "lobbylog failed");
        ExitCode::FAILURE
    })
}
