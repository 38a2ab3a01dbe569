//! Command line and environment configuration, parsed once at startup.

use std::{net::SocketAddr, path::PathBuf};

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::{db::DatabaseUrl, signature::WebhookSecrets};

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
}

#[derive(Debug, Clone, Args)]
pub struct BackfillArgs {
    /// Files or directories to load (directories are walked in sorted order); `-` reads stdin.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<std::path::PathBuf>,

    /// Events stored per transaction.
    #[arg(long, default_value_t = 5000, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
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

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on for webhooks.
    #[arg(long, env = "LOBBYLOG_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

    /// Address of the admin listener (metrics, detailed readiness); keep it off the internet.
    #[arg(long, env = "LOBBYLOG_ADMIN_LISTEN", default_value = "127.0.0.1:9090")]
    pub admin_listen: SocketAddr,

    /// Daily's webhook `hmac` secret (base64); several, comma-separated, are all accepted during a rotation.
    #[arg(
        long = "webhook-secret",
        env = "DAILY_WEBHOOK_SECRET",
        default_value = "",
        hide_env_values = true,
        hide_default_value = true
    )]
    pub webhook_secrets: WebhookSecrets,

    /// Accept unsigned requests when no secret is set. For local experiments only.
    #[arg(long, env = "LOBBYLOG_ALLOW_UNSIGNED")]
    pub allow_unsigned: bool,

    /// Largest request body accepted, in bytes; larger ones get 413.
    #[arg(long, env = "LOBBYLOG_BODY_LIMIT", default_value_t = 1024 * 1024)]
    pub body_limit: usize,

    /// Share transactions between concurrent requests (`false`: one transaction per request).
    #[arg(long, env = "LOBBYLOG_GROUP_COMMIT", default_value_t = true, action = clap::ArgAction::Set)]
    pub group_commit: bool,

    /// Most events committed in one shared transaction.
    #[arg(long, env = "LOBBYLOG_BATCH_MAX_EVENTS", default_value_t = 500, value_parser = clap::value_parser!(u32).range(1..))]
    pub batch_max_events: u32,

    /// Longest wait, in milliseconds, for more events to join a batch after its first.
    #[arg(long, env = "LOBBYLOG_BATCH_MAX_WAIT_MS", default_value_t = 0)]
    pub batch_max_wait_ms: u64,

    /// An event not committed within this many milliseconds is spooled to disk instead.
    #[arg(long, env = "LOBBYLOG_COMMIT_DEADLINE_MS", default_value_t = 2000, value_parser = clap::value_parser!(u64).range(1..))]
    pub commit_deadline_ms: u64,

    /// Directory of the durable spool used while Postgres cannot take writes.
    #[arg(long, env = "LOBBYLOG_SPOOL_DIR", default_value = "spool")]
    pub spool_dir: PathBuf,

    /// Most bytes the spool may hold; past that, requests get 503.
    #[arg(long, env = "LOBBYLOG_SPOOL_MAX_BYTES", default_value_t = 1024 * 1024 * 1024)]
    pub spool_max_bytes: u64,

    /// Longest time, in milliseconds, a client may take to send a request body (then 400).
    #[arg(long, env = "LOBBYLOG_BODY_TIMEOUT_MS", default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub body_timeout_ms: u64,

    /// Webhook requests handled at once; more wait their turn unread.
    #[arg(long, env = "LOBBYLOG_MAX_IN_FLIGHT", default_value_t = 1024, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_in_flight: u32,

    /// Most Postgres connections held open at once.
    #[arg(long, env = "LOBBYLOG_DB_MAX_CONNECTIONS", default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..))]
    pub db_max_connections: u32,
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
