//! The arguments of `lobbylog daily ...` and of the watchdog in `serve`: flags and environment.

use clap::{Args, Subcommand};
use time::OffsetDateTime;

use crate::{
    daily::{Api, ApiKey, timestamps},
    signature::WebhookSecrets,
};

/// How to reach Daily's REST API; every `daily` subcommand and `serve` take these.
#[derive(Debug, Clone, Args)]
pub struct ApiArgs {
    /// Daily REST API key (Developers page of Daily's dashboard); `serve` watches the webhook when set.
    #[arg(
        long = "daily-api-key",
        env = "DAILY_API_KEY",
        default_value = "",
        hide_env_values = true,
        hide_default_value = true
    )]
    pub api_key: ApiKey,

    /// Base URL of Daily's REST API.
    #[arg(
        long = "daily-api-url",
        env = "DAILY_API_URL",
        default_value = "https://api.daily.co/v1"
    )]
    pub api_url: String,
}

impl ApiArgs {
    pub fn api(&self) -> Api {
        Api {
            key: self.api_key.clone(),
            url: self.api_url.clone(),
        }
    }
}

/// The watchdog's settings, part of `serve`.
#[derive(Debug, Clone, Args)]
pub struct WatchdogArgs {
    #[command(flatten)]
    pub api: ApiArgs,

    /// Seconds between two looks at the webhook's state (only with DAILY_API_KEY).
    #[arg(long = "daily-poll-seconds", env = "LOBBYLOG_DAILY_POLL_SECONDS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub poll_seconds: u64,

    /// Re-activate a webhook Daily stopped (FAILED) as soon as the watchdog sees it.
    #[arg(long = "daily-reactivate", env = "LOBBYLOG_DAILY_REACTIVATE", default_value_t = false, action = clap::ArgAction::Set)]
    pub reactivate: bool,
}

#[derive(Debug, Clone, Args)]
pub struct DailyArgs {
    #[command(subcommand)]
    pub command: DailyCommand,
}

#[derive(Debug, Clone, Subcommand)]
pub enum DailyCommand {
    /// Show every webhook of the domain; exit 0 when all are active, 3 when one is not, 1 on error.
    Status(StatusArgs),
    /// Create the webhook for URL, or update the one Daily already has for it.
    Register(RegisterArgs),
    /// Re-activate every webhook that is not active (or the one for URL) and record the gap.
    Reactivate(ReactivateArgs),
    /// Copy meetings and their participants from Daily's REST API into daily_meetings.
    PullMeetings(PullMeetingsArgs),
}

#[derive(Debug, Clone, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub api: ApiArgs,

    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Args)]
pub struct RegisterArgs {
    #[command(flatten)]
    pub api: ApiArgs,

    /// Where Daily should send events: lobbylog's public `.../webhooks/daily` URL, already serving.
    #[arg(long)]
    pub url: String,

    /// Event types to subscribe to, comma-separated [default on creation: the six lobbylog projects].
    #[arg(long, value_delimiter = ',', value_name = "TYPE,...")]
    pub event_types: Option<Vec<String>>,

    /// The webhook secrets `serve` uses; the first becomes the webhook's `hmac`. None: Daily makes one.
    #[arg(
        long = "webhook-secret",
        env = "DAILY_WEBHOOK_SECRET",
        default_value = "",
        hide_env_values = true,
        hide_default_value = true
    )]
    pub webhook_secrets: WebhookSecrets,
}

#[derive(Debug, Clone, Args)]
pub struct ReactivateArgs {
    #[command(flatten)]
    pub api: ApiArgs,

    /// Re-post only the webhook with this URL, whatever its state.
    #[arg(long)]
    pub url: Option<String>,
}

#[derive(Debug, Clone, Args)]
pub struct PullMeetingsArgs {
    #[command(flatten)]
    pub api: ApiArgs,

    /// Meetings that started at or after T: RFC 3339 (2024-06-01T12:00:00Z), a date (2024-06-01, midnight UTC) or Unix seconds.
    #[arg(long, value_name = "T", value_parser = timestamps::parse_cli)]
    pub since: OffsetDateTime,

    /// Meetings that started before T (same forms as --since) [default: now].
    #[arg(long, value_name = "T", value_parser = timestamps::parse_cli)]
    pub until: Option<OffsetDateTime>,
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, Parser};

    use crate::commands::{Cli, Command};

    #[test]
    fn the_api_key_is_hidden_from_help_and_debug_everywhere() {
        fn walk(command: &clap::Command, found: &mut usize) {
            for arg in command.get_arguments() {
                if arg.get_id() == "api_key" {
                    assert!(arg.is_hide_env_values_set(), "{}", command.get_name());
                    *found += 1;
                }
            }
            command.get_subcommands().for_each(|c| walk(c, found));
        }
        let mut found = 0;
        walk(&Cli::command(), &mut found);
        assert!(
            found >= 5,
            "the key is read by serve and four daily commands: {found}"
        );
        let cli = Cli::try_parse_from([
            "lobbylog",
            "daily",
            "status",
            "--daily-api-key",
            "k3y-s3cr3t",
        ]);
        let debug = format!("{:?}", cli.unwrap());
        assert!(!debug.contains("k3y-s3cr3t"), "{debug}");
    }

    #[test]
    fn a_blank_key_means_no_key() {
        let cli = Cli::try_parse_from(["lobbylog", "daily", "status", "--daily-api-key", "  "]);
        let (_, command) = cli.unwrap().into_command();
        let Command::Daily(daily) = command else {
            panic!("not daily")
        };
        let super::DailyCommand::Status(status) = daily.command else {
            panic!("not status")
        };
        assert_eq!(status.api.api_key.get(), None);
    }

    #[test]
    fn pull_meetings_refuses_a_time_it_cannot_read() {
        let err =
            Cli::try_parse_from(["lobbylog", "daily", "pull-meetings", "--since", "yesterday"])
                .unwrap_err()
                .to_string();
        assert!(err.contains("RFC 3339"), "{err}");
    }
}
