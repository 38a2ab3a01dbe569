//! The arguments of `lobbylog serve`.

use std::{net::SocketAddr, path::PathBuf};

use clap::Args;

use crate::{
    commands::{daily::WatchdogArgs, spool_dir},
    prune::Retention,
    signature::WebhookSecrets,
};

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
    #[arg(long, env = "LOBBYLOG_BODY_LIMIT", default_value_t = 256 * 1024, value_parser = clap::value_parser!(u32).range(1..))]
    pub body_limit: u32,

    /// Bytes of request bodies being read at once, all requests together; when spent, the connection reading longest is cut.
    #[arg(long, env = "LOBBYLOG_BODY_BUDGET", default_value_t = 16 * 1024 * 1024, value_parser = clap::value_parser!(u32).range(1..))]
    pub body_budget: u32,

    /// Connections open at once on the webhook port (lowered to fit the file-descriptor limit).
    #[arg(long, env = "LOBBYLOG_MAX_CONNECTIONS", default_value_t = 4096, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections: u32,

    /// Longest time, in milliseconds, from a request's first byte (or a new connection) to the end of its headers.
    #[arg(long, env = "LOBBYLOG_HEADER_TIMEOUT_MS", default_value_t = 5_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub header_timeout_ms: u64,

    /// Longest time, in milliseconds, a kept-alive connection may wait for its next request.
    #[arg(long, env = "LOBBYLOG_IDLE_TIMEOUT_MS", default_value_t = 60_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub idle_timeout_ms: u64,

    /// After SIGTERM, milliseconds requests in progress may take before their connections are cut.
    #[arg(long, env = "LOBBYLOG_SHUTDOWN_TIMEOUT_MS", default_value_t = 8_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub shutdown_timeout_ms: u64,

    /// Share transactions between concurrent requests (`false`: one transaction per request).
    #[arg(long, env = "LOBBYLOG_GROUP_COMMIT", default_value_t = true, action = clap::ArgAction::Set)]
    pub group_commit: bool,

    /// Most events committed in one shared transaction.
    #[arg(long, env = "LOBBYLOG_BATCH_MAX_EVENTS", default_value_t = 500, value_parser = clap::value_parser!(u32).range(1..))]
    pub batch_max_events: u32,

    /// Most batches committing at once (each on a pooled connection, never more than the pool but one).
    #[arg(long, env = "LOBBYLOG_BATCH_MAX_CONCURRENT", default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..))]
    pub batch_max_concurrent: u32,

    /// Longest wait, in milliseconds, for more events to join a batch after its first; below the commit deadline.
    #[arg(long, env = "LOBBYLOG_BATCH_MAX_WAIT_MS", default_value_t = 0)]
    pub batch_max_wait_ms: u64,

    /// An event not committed within this many milliseconds is spooled to disk instead.
    #[arg(long, env = "LOBBYLOG_COMMIT_DEADLINE_MS", default_value_t = 2000, value_parser = clap::value_parser!(u64).range(1..))]
    pub commit_deadline_ms: u64,

    /// Directory of the durable spool used while Postgres cannot take writes [default:
    /// $STATE_DIRECTORY/spool, else $XDG_STATE_HOME/lobbylog/spool, else ~/.local/state/lobbylog/spool].
    #[arg(long, env = "LOBBYLOG_SPOOL_DIR", value_name = "DIR", value_parser = spool_dir::parser())]
    pub spool_dir: Option<PathBuf>,

    /// Most bytes the spool may hold; past that, requests get 503.
    #[arg(long, env = "LOBBYLOG_SPOOL_MAX_BYTES", default_value_t = 1024 * 1024 * 1024)]
    pub spool_max_bytes: u64,

    /// Longest time, in milliseconds, from a request's first byte to the end of its body (then 408).
    #[arg(long, env = "LOBBYLOG_BODY_TIMEOUT_MS", default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub body_timeout_ms: u64,

    /// Signed webhook requests being stored at once; more wait their turn.
    #[arg(long, env = "LOBBYLOG_MAX_IN_FLIGHT", default_value_t = 1024, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_in_flight: u32,

    /// Most Postgres connections held open at once.
    #[arg(long, env = "LOBBYLOG_DB_MAX_CONNECTIONS", default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..))]
    pub db_max_connections: u32,

    /// Milliseconds between refreshes of the knock rollups the dashboards read (longer while a
    /// refresh is slow: it waits 50 times as long as the last one took).
    #[arg(long, env = "LOBBYLOG_ROLLUP_INTERVAL_MS", default_value_t = 2000, value_parser = clap::value_parser!(u64).range(100..=3_600_000))]
    pub rollup_interval_ms: u64,

    #[command(flatten)]
    pub daily: WatchdogArgs,

    /// Prune raw events and dead letters older than this once a day (`90d`, `12h`...); unset or
    /// empty keeps everything.
    #[arg(
        long,
        env = "LOBBYLOG_RETENTION",
        value_name = "DURATION",
        default_value = "",
        hide_default_value = true
    )]
    pub retention: Retention,

    /// With `--retention`: export the events to this folder or bucket prefix (`s3://bucket/prefix`,
    /// `gs://`, `az://`) before deleting them, whole UTC days of receipt, each read back first;
    /// unset or empty deletes without archiving.
    #[arg(long, env = "LOBBYLOG_RETENTION_ARCHIVE", value_name = "DIR|URL")]
    pub retention_archive: Option<String>,
}
