//! Command line and environment configuration, parsed once at startup.

mod serve;
mod spool;

use clap::{Args, Parser, Subcommand, ValueEnum};

pub use self::{
    serve::ServeArgs,
    spool::{SpoolAction, SpoolArgs},
};
use crate::{db::DatabaseUrl, prune::Age};

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
    Daily(crate::daily::args::DailyArgs),
    /// Inspect and drain spool segments set aside because they were written for another database.
    Spool(SpoolArgs),
    /// Delete raw events and dead letters older than a given age; knock tables are kept.
    Prune(PruneArgs),
}

#[derive(Debug, Clone, Args)]
pub struct PruneArgs {
    /// Delete raw events sent (`event_ts`, else `received_at`) and dead letters received longer
    /// ago than this: `90d`, `12h`, `30m`, `45s`.
    #[arg(long, value_name = "DURATION")]
    pub older_than: Age,

    /// Count what would be deleted; delete nothing.
    #[arg(long)]
    pub dry_run: bool,

    /// Rows deleted per statement (each its own transaction).
    #[arg(long, default_value_t = 5000, value_parser = clap::value_parser!(i64).range(1..=100_000))]
    pub batch_size: i64,
}

#[derive(Debug, Clone, Args)]
pub struct BackfillArgs {
    /// Files or directories to load (directories are walked in sorted order); `-` reads stdin.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<std::path::PathBuf>,

    /// Events stored per transaction.
    #[arg(long, default_value_t = 2000, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub batch_size: u32,

    /// Read and validate everything, write nothing, and say what would be stored.
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Clone, Args)]
pub struct ReprojectArgs {
    /// Events re-projected per transaction.
    #[arg(long, default_value_t = 5000, value_parser = clap::value_parser!(i64).range(1..))]
    pub page_size: i64,
}

#[derive(Debug, Clone, Args)]
pub struct GlobalArgs {
    /// Postgres connection URL; the database is created if it does not exist.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "postgres://postgres:postgres@localhost:5432/lobbylog",
        hide_env_values = true,
        global = true
    )]
    pub database_url: DatabaseUrl,

    /// Log output: `human` for terminals, `json` for log collectors.
    #[arg(long, env = "LOBBYLOG_LOG_FORMAT", value_enum, default_value_t = LogFormat::Human, global = true)]
    pub log_format: LogFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Human,
    Json,
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
