//! `lobbylog events show|list`: stored events from the command line, as the admin listener's
//! `/events` pages give them (the same JSON with `--json`).

use std::{borrow::Cow, fmt::Write, process::ExitCode};

use anyhow::Context;
use clap::{Args, Subcommand};

use crate::{
    config::GlobalArgs,
    db,
    store::event_lookup::{self, EventFilter, FilterInput, FoundEvent, StoredEvent, rfc3339},
};

#[derive(Debug, Clone, Args)]
pub struct EventsArgs {
    #[command(subcommand)]
    pub action: EventsAction,
}

#[derive(Debug, Clone, Subcommand)]
pub enum EventsAction {
    /// One stored event by id: its row, its body and the projected row it fills; exit 1 if none.
    Show {
        /// Daily's event id.
        #[arg(value_name = "ID")]
        id: String,

        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Stored events, newest first by `event_ts`, at most --limit.
    List(ListArgs),
}

#[derive(Debug, Clone, Args)]
pub struct ListArgs {
    /// The events behind the room's newest knocks, call sessions and meetings.
    #[arg(long)]
    pub room: Option<String>,

    /// With --room: the events behind that knock and call session.
    #[arg(long, value_name = "SESSION_ID")]
    pub session_id: Option<String>,

    /// Only events of this type, e.g. `waiting-participant.left`.
    #[arg(long = "type", value_name = "TYPE")]
    pub event_type: Option<String>,

    /// Events sent at or after this time: RFC 3339 (`2024-05-01T12:00:00Z`) or epoch seconds.
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,

    /// Events sent before this time: RFC 3339 or epoch seconds.
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,

    /// At most this many events, 1 to 500 (default 50).
    #[arg(long, value_name = "N")]
    pub limit: Option<String>,

    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

pub async fn run(global: &GlobalArgs, args: EventsArgs) -> anyhow::Result<ExitCode> {
    match args.action {
        EventsAction::Show { id, json } => show(global, &id, json).await,
        EventsAction::List(args) => list(global, &args).await,
    }
}

async fn show(global: &GlobalArgs, id: &str, json: bool) -> anyhow::Result<ExitCode> {
    let id = event_lookup::check_text("the event id", id).map_err(anyhow::Error::msg)?;
    let pool = db::open(&global.database_url, 1).await?;
    let found = event_lookup::find(&pool, &id)
        .await
        .with_context(|| format!("cannot look event {id:?} up"))?;
    pool.close().await;
    let Some(found) = found else {
        eprintln!("no stored event with id {id:?} (dead letters are not searched)");
        return Ok(ExitCode::FAILURE);
    };
    match json {
        true => println!("{:#}", found.to_json()),
        false => print!("{}", describe(&found)),
    }
    Ok(ExitCode::SUCCESS)
}

async fn list(global: &GlobalArgs, args: &ListArgs) -> anyhow::Result<ExitCode> {
    let filter = EventFilter::parse(&FilterInput {
        room: args.room.as_deref(),
        session_id: args.session_id.as_deref(),
        event_type: args.event_type.as_deref(),
        since: args.since.as_deref(),
        until: args.until.as_deref(),
        limit: args.limit.as_deref(),
    })
    .map_err(anyhow::Error::msg)?;
    let pool = db::open(&global.database_url, 1).await?;
    let events = event_lookup::list(&pool, &filter)
        .await
        .context("cannot list events")?;
    pool.close().await;
    match args.json {
        true => println!("{:#}", event_lookup::list_json(&events, &filter)),
        false => print!("{}", table(&events, filter.limit)),
    }
    Ok(ExitCode::SUCCESS)
}

/// `text` as is, or quoted and escaped when it holds a control character (ids come from the
/// network, and a terminal obeys escape sequences).
fn shown(text: &str) -> Cow<'_, str> {
    match text.chars().any(char::is_control) {
        true => Cow::Owned(format!("{text:?}")),
        false => Cow::Borrowed(text),
    }
}

fn time_or_none(at: Option<time::OffsetDateTime>) -> String {
    at.map_or_else(|| "none".to_owned(), rfc3339)
}

fn describe(found: &FoundEvent) -> String {
    let e = &found.event;
    let mut out = String::new();
    let mut line = |label: &str, value: &str| {
        let _ = writeln!(out, "{label:<18}{value}");
    };
    line("event_id", &shown(&e.event_id));
    line("event_type", &shown(&e.event_type));
    line("version", &shown(e.version.as_deref().unwrap_or("none")));
    line("event_ts", &time_or_none(e.event_ts));
    line("received_at", &rfc3339(e.received_at));
    line(
        "projection_error",
        &shown(e.projection_error.as_deref().unwrap_or("none")),
    );
    let projection = match &found.projection {
        None => "none (not a projected type, or not projectable)".to_owned(),
        Some(row) => {
            let key: Vec<String> = row.key.iter().map(|(c, v)| format!("{c}={v:?}")).collect();
            let holds = match (row.exists, row.holds.is_empty()) {
                (false, _) => "no such row".to_owned(),
                (true, true) => "the row exists; other events fill its slots".to_owned(),
                (true, false) => format!("holds it in {}", row.holds.join(", ")),
            };
            format!("{} {}: {holds}", row.table, key.join(" "))
        }
    };
    line("projection", &projection);
    let body = serde_json::to_string_pretty(&e.body).unwrap_or_default();
    let _ = writeln!(out, "body\n{body}");
    out
}

fn table(events: &[StoredEvent], limit: i64) -> String {
    if events.is_empty() {
        return "no stored event matches\n".to_owned();
    }
    let mut out = format!("{:<27}  {:<28}  EVENT_ID\n", "EVENT_TS", "TYPE");
    for e in events {
        let error = match &e.projection_error {
            Some(why) => format!("  (projection error: {})", shown(why)),
            None => String::new(),
        };
        let _ = writeln!(
            out,
            "{:<27}  {:<28}  {}{error}",
            time_or_none(e.event_ts),
            shown(&e.event_type),
            shown(&e.event_id)
        );
    }
    let _ = writeln!(
        out,
        "{} event(s), newest first{}",
        events.len(),
        match events.len() as i64 >= limit {
            true => format!(" (the limit, {limit}: there may be more)"),
            false => String::new(),
        }
    );
    out
}
