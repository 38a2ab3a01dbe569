//! Structured logs: human-readable on a terminal, JSON for collectors.

mod json;

use std::io::IsTerminal;

use tracing_subscriber::{EnvFilter, fmt};

use self::json::JsonLines;
use crate::config::LogFormat;

/// The filter without `RUST_LOG`: lobbylog's own lines from INFO, its dependencies' from WARN, so
/// refinery and the Postgres drivers do not narrate every command (migrations are logged by
/// `db::migrate`, once).
const DEFAULT_FILTER: &str = "lobbylog=info,warn";

/// Installs the global subscriber; `RUST_LOG` replaces `DEFAULT_FILTER`.
pub fn init(format: LogFormat) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let builder = fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(colour());
    match format {
        LogFormat::Human => builder.init(),
        LogFormat::Json => builder.event_format(JsonLines).init(),
    }
}

/// Colour codes only for a person at a terminal: in a file or a pipe they are noise
/// (https://no-color.org: a non-empty `NO_COLOR` turns them off).
fn colour() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}
