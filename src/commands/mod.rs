//! The door of the house: the command line, one module per subcommand, each with its arguments
//! and its `run`. The only place that reads the command line.

mod backfill;
mod daily;
mod dead_letters;
mod demo;
mod events;
mod export;
mod migrate;
mod prune;
mod reproject;
mod serve;
mod spool;
mod spool_dir;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

pub use self::serve::ServeArgs;
use self::{
    backfill::BackfillArgs, daily::DailyArgs, dead_letters::DeadLettersArgs, demo::DemoArgs,
    events::EventsArgs, export::ExportArgs, prune::PruneArgs, reproject::ReprojectArgs,
    spool::SpoolArgs,
};
use crate::config::GlobalArgs;

/// Turns Daily.co webhooks into Postgres rows.
#[derive(Debug, Parser)]
#[command(
    name = "lobbylog",
    version,
    about,
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,

    /// Settings for `serve`, also accepted without a subcommand.
    #[command(flatten)]
    pub serve: ServeArgs,

    #[command(flatten)]
    pub global: GlobalArgs,
}

impl Cli {
    /// The subcommand to run; no subcommand means `serve`.
    pub fn into_command(self) -> (GlobalArgs, Command) {
        let command = self.command.unwrap_or(Command::Serve(self.serve));
        (self.global, command)
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create the database if needed, apply migrations, serve the webhook endpoint (the default).
    Serve(ServeArgs),
    /// Create the database if needed, apply migrations and exit.
    Migrate,
    /// Rebuild the knock tables from the stored raw events (after an upgrade changes the projection).
    Reproject(ReprojectArgs),
    /// Load saved webhooks (NDJSON, JSON arrays, one envelope per file; gzip or zstd) like live ones.
    Backfill(BackfillArgs),
    /// Daily's REST API: the webhook's state, registration, re-activation, and meetings.
    Daily(DailyArgs),
    /// Inspect and drain spool segments set aside because they were written for another database.
    Spool(SpoolArgs),
    /// Write the stored raw events to DIR/YYYY/MM/DD.ndjson.zst, one file per UTC day of receipt.
    Export(ExportArgs),
    /// Delete raw events and dead letters older than a given age; knock tables are kept.
    Prune(PruneArgs),
    /// List dead letters, and retry them with this version's triage (after an upgrade).
    DeadLetters(DeadLettersArgs),
    /// Fill the database with a realistic recent month of knocks, to see the dashboard at work.
    Demo(DemoArgs),
    /// Show one stored event by id, or list stored events by room, session, type and time.
    Events(EventsArgs),
}

/// Runs `command`; its exit code, or the error that stopped it.
pub async fn run(global: &GlobalArgs, command: Command) -> anyhow::Result<ExitCode> {
    global.database_url.validate().map_err(anyhow::Error::msg)?;
    match command {
        Command::Serve(args) => serve::run(global, args).await,
        Command::Migrate => migrate::run(global).await,
        Command::Reproject(args) => reproject::run(global, args).await,
        Command::Backfill(args) => backfill::run(global, args).await,
        Command::Daily(args) => daily::run(global, args).await,
        Command::Spool(args) => spool::run(global, args).await,
        Command::Export(args) => export::run(global, args).await,
        Command::Prune(args) => prune::run(global, args).await,
        Command::DeadLetters(args) => dead_letters::run(global, args).await,
        Command::Demo(args) => demo::run(global, args).await,
        Command::Events(args) => events::run(global, args).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_subcommand_means_serve() {
        let cli = Cli::try_parse_from(["lobbylog", "--listen", "127.0.0.1:9999"]).unwrap();
        let (_, command) = cli.into_command();
        assert!(matches!(command, Command::Serve(args) if args.listen.port() == 9999));
    }

    #[test]
    fn serve_settings_belong_to_serve() {
        let cli = Cli::try_parse_from(["lobbylog", "serve", "--db-max-connections", "3"]).unwrap();
        let (_, command) = cli.into_command();
        assert!(matches!(command, Command::Serve(args) if args.db_max_connections == 3));
        assert!(Cli::try_parse_from(["lobbylog", "migrate", "--db-max-connections", "3"]).is_err());
    }

    #[test]
    fn help_never_prints_secret_values() {
        use clap::CommandFactory;
        let cli = Cli::command();
        let commands = std::iter::once(&cli).chain(cli.get_subcommands());
        for arg in commands.flat_map(|c| c.get_arguments()) {
            if matches!(arg.get_id().as_str(), "webhook_secrets" | "database_url") {
                assert!(arg.is_hide_env_values_set(), "{}", arg.get_id());
            }
        }
    }
}
