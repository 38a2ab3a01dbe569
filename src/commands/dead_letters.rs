//! `lobbylog dead-letters`: list the dead letters, and retry them with the current triage; exit
//! 0, 2 (some are still rejected) or 1 (failed).

use std::{fmt::Write, process::ExitCode};

use anyhow::Context;
use base64::{Engine, engine::general_purpose::STANDARD as BASE64};
use clap::{Args, Subcommand};
use serde_json::json;
use time::{OffsetDateTime, format_description::well_known::Rfc3339, macros::format_description};

use crate::{
    config::GlobalArgs,
    db,
    sources::dead_letters::{self, Selection, Tally},
    store::{self, dead_letters::Listed},
};

/// Exit status when some dead letters examined are still rejected (or would be, in a dry run).
const EXIT_STILL_REJECTED: u8 = 2;

#[derive(Debug, Clone, Args)]
pub struct DeadLettersArgs {
    #[command(subcommand)]
    pub action: DeadLettersAction,
}

#[derive(Debug, Clone, Subcommand)]
pub enum DeadLettersAction {
    /// The newest dead letters first: id, when, source, size, reason, and the event a retry made
    /// of it. Bodies only with --json.
    List {
        /// One JSON object per line, the body included.
        #[arg(long)]
        json: bool,

        /// How many to show.
        #[arg(long, value_name = "N", default_value_t = 50, value_parser = clap::value_parser!(i64).range(1..=1_000_000))]
        limit: i64,
    },
    /// Triage dead letters again with this version's code: store those that are events now (and
    /// mark them retried), give those still rejected their new reason.
    Retry {
        /// Only this dead letter (default: every one not yet retried).
        #[arg(long, value_name = "N")]
        id: Option<i64>,

        /// Triage, and say what would happen; write nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

pub async fn run(global: &GlobalArgs, args: DeadLettersArgs) -> anyhow::Result<ExitCode> {
    let pool = db::open(&global.database_url, 2).await?;
    let code = match args.action {
        DeadLettersAction::List { json, limit } => {
            let letters = store::dead_letters::newest(&pool, limit, json).await?;
            match json {
                true => letters.iter().for_each(|l| println!("{}", as_json(l))),
                false => print!("{}", table(&letters, limit)),
            }
            ExitCode::SUCCESS
        }
        DeadLettersAction::Retry { id, dry_run } => {
            let selection = id.map_or(Selection::NotRetried, Selection::One);
            let tally = dead_letters::retry(&pool, selection, dry_run).await?;
            print!("{}", summary(&tally, dry_run));
            if !dry_run && tally.stored > 0 {
                // The days the new events touched, rolled up now rather than by `serve` later.
                let days = store::rollups::refresh(&pool).await.context(
                    "the events are stored, but rolling up their knocks failed (`lobbylog serve` retries it)",
                )?;
                println!("  rollups         {days} (room, day) recomputed");
            }
            match tally.rejected {
                0 => ExitCode::SUCCESS,
                _ => ExitCode::from(EXIT_STILL_REJECTED),
            }
        }
    };
    pool.close().await;
    Ok(code)
}

/// One dead letter as a JSON object: the body as `text` when it is UTF-8, else `base64`, as
/// `body_encoding` says.
fn as_json(letter: &Listed) -> serde_json::Value {
    let rfc3339 = |at: &OffsetDateTime| at.format(&Rfc3339).ok();
    let body = letter.body.as_deref().unwrap_or_default();
    let (body, encoding) = match std::str::from_utf8(body) {
        Ok(text) => (text.to_owned(), "text"),
        Err(_) => (BASE64.encode(body), "base64"),
    };
    json!({
        "id": letter.id,
        "received_at": rfc3339(&letter.received_at),
        "source": letter.source,
        "reason": letter.reason,
        "bytes": letter.bytes,
        "retried_at": letter.retried_at.as_ref().map(rfc3339),
        "retried_event_id": letter.retried_event_id,
        "body": body,
        "body_encoding": encoding,
    })
}

/// The dead letters as a table, times in UTC, columns as wide as their widest cell; the reason
/// last, whole.
fn table(letters: &[Listed], limit: i64) -> String {
    if letters.is_empty() {
        return "no dead letters\n".to_owned();
    }
    let header = [
        "ID",
        "RECEIVED (UTC)",
        "SOURCE",
        "BYTES",
        "RETRIED (UTC)",
        "EVENT",
        "REASON",
    ];
    let rows: Vec<[String; 7]> = letters
        .iter()
        .map(|l| {
            [
                l.id.to_string(),
                utc(&l.received_at),
                cell(&l.source),
                l.bytes.to_string(),
                l.retried_at.as_ref().map_or_else(|| "-".into(), utc),
                l.retried_event_id
                    .as_deref()
                    .map_or_else(|| "-".into(), cell),
                cell(&l.reason),
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for row in &rows {
        for (width, text) in widths.iter_mut().zip(row) {
            *width = (*width).max(text.chars().count());
        }
    }
    let mut out = String::new();
    let lines = std::iter::once(header.map(str::to_owned)).chain(rows);
    for row in lines {
        let mut line = String::new();
        for (i, (text, width)) in row.iter().zip(widths).enumerate() {
            let _ = match i {
                0 | 3 => write!(line, "{text:>width$}  "),
                6 => write!(line, "{text}"),
                _ => write!(line, "{text:<width$}  "),
            };
        }
        let _ = writeln!(out, "{}", line.trim_end());
    }
    if letters.len() as i64 == limit {
        let _ = writeln!(out, "the {limit} newest; --limit N shows more");
    }
    out
}

fn utc(at: &OffsetDateTime) -> String {
    let shown = format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    at.to_offset(time::UtcOffset::UTC)
        .format(shown)
        .unwrap_or_else(|_| at.to_string())
}

/// Text for one cell on one line: control characters escaped (a source names a file, whatever
/// its name).
fn cell(text: &str) -> String {
    text.chars()
        .map(|c| match c.is_control() {
            true => c.escape_default().to_string(),
            false => c.to_string(),
        })
        .collect()
}

fn summary(tally: &Tally, dry_run: bool) -> String {
    let mut out = String::new();
    let title = match (dry_run, tally.examined) {
        (true, _) => "dead-letters retry dry run (nothing written)",
        (false, 0) => "dead-letters retry: nothing to retry",
        (false, _) => "dead-letters retry finished",
    };
    let _ = writeln!(out, "{title}");
    let _ = writeln!(out, "  examined        {}", tally.examined);
    if dry_run {
        let _ = writeln!(out, "  would store     {}", tally.stored);
        let _ = writeln!(out, "  already stored  {}", tally.duplicates);
    } else {
        let _ = writeln!(out, "  stored          {}", tally.stored);
        let _ = writeln!(out, "  already stored  {}", tally.duplicates);
        let _ = writeln!(out, "  conflicting     {}", tally.conflicts);
    }
    let _ = writeln!(out, "  probes          {}", tally.probes);
    let _ = writeln!(out, "  still rejected  {}", tally.rejected);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cell_stays_on_one_line() {
        assert_eq!(cell("backfill:a\nb.json:3"), "backfill:a\\nb.json:3");
        assert_eq!(cell("intake"), "intake");
    }

    #[test]
    fn a_dry_run_summary_says_would_store() {
        let tally = Tally {
            examined: 3,
            stored: 1,
            duplicates: 1,
            rejected: 1,
            ..Tally::default()
        };
        let text = summary(&tally, true);
        assert!(text.contains("would store     1"), "{text}");
        assert!(!text.contains("conflicting"), "{text}");
    }
}
