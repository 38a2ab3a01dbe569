//! What every command shares: the database URL and the log format, parsed once at startup.

mod database_url;

use clap::{Args, ValueEnum};

pub use self::database_url::DatabaseUrl;

#[derive(Debug, Clone, Args)]
pub struct GlobalArgs {
    /// Postgres connection URL; `serve` and `migrate` create the database if it does not exist.
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
