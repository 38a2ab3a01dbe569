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

/// An error and its causes, `: `-separated, each once. `{:#}` would print many causes twice:
/// sqlx's, tokio-postgres' and refinery's errors already end with the source they then report.
pub fn chain(error: &anyhow::Error) -> String {
    let mut text = error.to_string();
    for cause in error.chain().skip(1) {
        let cause = cause.to_string();
        if !text.contains(&cause) {
            text.push_str(": ");
            text.push_str(&cause);
        }
    }
    text
}

/// Colour codes only for a person at a terminal: in a file or a pipe they are noise
/// (https://no-color.org: a non-empty `NO_COLOR` turns them off).
fn colour() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

#[cfg(test)]
mod tests {
    use std::io;

    use anyhow::Context;

    #[test]
    fn a_cause_an_error_already_prints_is_not_repeated() {
        let refused = io::Error::new(io::ErrorKind::ConnectionRefused, "connection refused");
        let error = Err::<(), _>(sqlx::Error::Io(refused))
            .context("cannot connect to Postgres")
            .unwrap_err();
        assert_eq!(
            super::chain(&error),
            "cannot connect to Postgres: error communicating with database: connection refused"
        );
    }

    #[test]
    fn causes_an_error_does_not_print_are_all_kept() {
        let error = anyhow::anyhow!("disk full")
            .context("cannot append to the spool")
            .context("spool drain failed");
        assert_eq!(
            super::chain(&error),
            "spool drain failed: cannot append to the spool: disk full"
        );
    }
}
