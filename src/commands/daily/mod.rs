//! `lobbylog daily ...`: status, register, reactivate and pull-meetings, as a person runs them.

use std::process::ExitCode;

use anyhow::Context;
use serde_json::json;
use time::OffsetDateTime;

mod args;
mod register;

pub use self::args::{DailyArgs, WatchdogArgs};
use self::args::{DailyCommand, PullMeetingsArgs, ReactivateArgs, StatusArgs};
use crate::{
    config::GlobalArgs,
    daily::{
        answer::printable,
        client::Client,
        gaps::{self, Finder},
        meetings,
        timestamps::rfc3339,
        webhooks::{self, Webhook},
    },
    db,
};

/// Exit status when Daily answered and a webhook is not active (or none exists).
pub const NOT_ACTIVE: u8 = 3;

pub async fn run(global: &GlobalArgs, args: DailyArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        DailyCommand::Status(args) => status(args).await,
        DailyCommand::Register(args) => register::run(args).await,
        DailyCommand::Reactivate(args) => reactivate(global, args).await,
        DailyCommand::PullMeetings(args) => pull_meetings(global, args).await,
    }
}

fn exit(all_active: bool) -> ExitCode {
    if all_active {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(NOT_ACTIVE)
    }
}

async fn status(args: StatusArgs) -> anyhow::Result<ExitCode> {
    let client = Client::new(&args.api.api())?;
    let listed = webhooks::list(&client).await?;
    let all_active = !listed.is_empty() && listed.iter().all(Webhook::is_active);
    if args.json {
        let webhooks: Vec<_> = listed.iter().map(as_json).collect();
        let report = json!({ "all_active": all_active, "webhooks": webhooks });
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else if listed.is_empty() {
        println!(
            "no webhook: Daily delivers nothing for this domain. Run `lobbylog daily register --url URL`."
        );
    } else {
        print_table(&listed);
    }
    Ok(exit(all_active))
}

fn as_json(w: &Webhook) -> serde_json::Value {
    json!({
        "uuid": w.uuid,
        "url": w.url,
        "state": w.state.to_string(),
        "active": w.is_active(),
        "failed_count": w.failed_count(),
        "last_moment_pushed": w.last_moment_pushed.map(rfc3339),
        "event_types": w.event_types,
        "retry_type": w.retry_type,
        "created_at": w.created_at.map(rfc3339),
        "updated_at": w.updated_at.map(rfc3339),
    })
}

fn print_table(listed: &[Webhook]) {
    let rows: Vec<[String; 5]> = listed
        .iter()
        .map(|w| {
            [
                printable(&w.uuid),
                printable(&w.state.to_string()),
                w.failed_count().to_string(),
                w.last_moment_pushed.map_or_else(|| "never".into(), rfc3339),
                printable(&w.url),
            ]
        })
        .collect();
    let header = ["UUID", "STATE", "FAILED", "LAST PUSH", "URL"].map(String::from);
    let mut widths = header.clone().map(|h| h.len());
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    for (row, w) in std::iter::once(&header)
        .chain(&rows)
        .zip(std::iter::once(None).chain(listed.iter().map(Some)))
    {
        let cells: Vec<String> = row
            .iter()
            .zip(widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        let types = w.map_or("EVENT TYPES".into(), |w| {
            printable(&w.event_types.join(","))
        });
        println!("{}  {types}", cells.join("  "));
    }
}

async fn reactivate(global: &GlobalArgs, args: ReactivateArgs) -> anyhow::Result<ExitCode> {
    let client = Client::new(&args.api.api())?;
    let pool = db::open(&global.database_url, 2).await?;
    let listed = webhooks::list(&client).await?;
    let targets: Vec<&Webhook> = match &args.url {
        Some(url) => listed.iter().filter(|w| &w.url == url).collect(),
        None => listed.iter().filter(|w| !w.is_active()).collect(),
    };
    if targets.is_empty() {
        return match &args.url {
            Some(url) => Err(anyhow::anyhow!(
                "Daily has no webhook for {url}; `lobbylog daily status` lists the ones it has"
            )),
            None if listed.is_empty() => {
                println!("no webhook: run `lobbylog daily register --url URL` first");
                Ok(exit(false))
            }
            None => {
                println!("every webhook is active: nothing to re-activate");
                Ok(exit(true))
            }
        };
    }
    let mut all_active = true;
    for webhook in targets {
        if !webhook.is_active() {
            let now = OffsetDateTime::now_utc();
            gaps::record_inactive(&pool, webhook, Finder::Reactivate, now).await?;
        }
        let now = webhooks::reactivate(&client, webhook).await?;
        println!(
            "{}  {}  {} ({} failed) -> {}",
            printable(&now.uuid),
            printable(&now.url),
            printable(&webhook.state.to_string()),
            webhook.failed_count(),
            printable(&now.state.to_string())
        );
        if now.is_active() {
            gaps::record_active(&pool, &now, None).await?;
        }
        all_active &= now.is_active();
    }
    Ok(exit(all_active))
}

async fn pull_meetings(global: &GlobalArgs, args: PullMeetingsArgs) -> anyhow::Result<ExitCode> {
    let until = args.until.unwrap_or_else(OffsetDateTime::now_utc);
    anyhow::ensure!(
        args.since < until,
        "--since ({}) must come before --until ({})",
        rfc3339(args.since),
        rfc3339(until)
    );
    let client = Client::new(&args.api.api())?;
    let pool = db::open(&global.database_url, 2).await?;
    let pulled = meetings::pull(&client, &pool, args.since, until)
        .await
        .with_context(|| {
            format!(
                "pulling meetings from {} to {}",
                rfc3339(args.since),
                rfc3339(until)
            )
        })?;
    println!(
        "pulled meetings from {} to {}",
        rfc3339(args.since),
        rfc3339(until)
    );
    println!("  pages         {}", pulled.pages);
    println!(
        "  meetings      {} ({} new, {} updated)",
        pulled.meetings,
        pulled.meetings_new,
        pulled.meetings - pulled.meetings_new
    );
    println!(
        "  participants  {} ({} new, {} updated)",
        pulled.participants,
        pulled.participants_new,
        pulled.participants - pulled.participants_new
    );
    Ok(ExitCode::SUCCESS)
}
