//! `lobbylog migrate`: create the database if needed, apply migrations, exit.

use std::process::ExitCode;

use crate::{config::GlobalArgs, db};

pub async fn run(global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    db::prepare(&global.database_url, 1).await?;
    Ok(ExitCode::SUCCESS)
}
