//! `lobbylog spool`: list the segments set aside for another database, and drain them on purpose.

use std::{
    fmt::Write,
    fs,
    path::{Path, PathBuf},
    process::ExitCode,
};

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use serde_json::json;
use sqlx::Connection;

use super::spool_dir;
use crate::{
    config::GlobalArgs,
    db::{self, Target, Verdict},
    sources::spool::{
        Tally, now_ms, read_segment,
        set_aside::{self, Entry},
        store_segment,
    },
};

#[derive(Debug, Clone, Args)]
pub struct SpoolArgs {
    /// Directory of the durable spool (the one `serve` uses, with the same default; it may be running).
    #[arg(long, env = "LOBBYLOG_SPOOL_DIR", value_name = "DIR", value_parser = spool_dir::parser(), global = true)]
    pub spool_dir: Option<PathBuf>,

    #[command(subcommand)]
    pub action: SpoolAction,
}

#[derive(Debug, Clone, Subcommand)]
pub enum SpoolAction {
    /// List set-aside segments: the database each was written for, its events and its age.
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Store set-aside segments in DATABASE_URL's database, only those written for it unless
    /// --into-current; each is deleted once its events committed.
    Drain {
        /// Store them even though they were written for another database.
        #[arg(long)]
        into_current: bool,

        /// Segment file names to drain (default: every set-aside segment).
        #[arg(value_name = "SEGMENT")]
        segments: Vec<String>,
    },
}

pub async fn run(global: &GlobalArgs, args: SpoolArgs) -> anyhow::Result<ExitCode> {
    let dir = spool_dir::resolve(args.spool_dir.as_deref())?.path;
    if !dir.is_dir() {
        bail!("no spool directory at {}", dir.display());
    }
    match args.action {
        SpoolAction::List { json } => list(&dir, json),
        SpoolAction::Drain {
            into_current,
            segments,
        } => drain(global, &dir, into_current, &segments).await,
    }
}

fn list(dir: &Path, json: bool) -> anyhow::Result<ExitCode> {
    let entries = set_aside::scan(dir)
        .with_context(|| format!("cannot read {}", set_aside::dir(dir).display()))?;
    if json {
        println!("{:#}", as_json(dir, &entries));
    } else {
        print!("{}", table(dir, &entries));
    }
    Ok(ExitCode::SUCCESS)
}

fn written_for(entry: &Entry) -> String {
    entry
        .target
        .as_ref()
        .map_or_else(|| "(no database recorded)".to_owned(), Target::to_string)
}

fn age_seconds(entry: &Entry) -> u64 {
    now_ms().saturating_sub(entry.created_ms) / 1000
}

fn table(dir: &Path, entries: &[Entry]) -> String {
    let shown = set_aside::dir(dir);
    if entries.is_empty() {
        return format!("nothing set aside in {}\n", shown.display());
    }
    let events: u64 = entries.iter().map(|e| e.events).sum();
    let mut out = format!(
        "{} segment(s), {events} event(s) set aside in {}: written for another database, not drained automatically\n",
        entries.len(),
        shown.display()
    );
    let _ = writeln!(
        out,
        "{:<32}  {:>7}  {:>8}  WRITTEN FOR",
        "SEGMENT", "EVENTS", "AGE"
    );
    for entry in entries {
        let _ = writeln!(
            out,
            "{:<32}  {:>7}  {:>8}  {}",
            entry.name,
            entry.events,
            human_age(age_seconds(entry)),
            written_for(entry)
        );
    }
    out
}

fn as_json(dir: &Path, entries: &[Entry]) -> serde_json::Value {
    let segments: Vec<_> = entries
        .iter()
        .map(|e| {
            json!({
                "segment": e.name,
                "events": e.events,
                "bytes": e.bytes,
                "created_ms": e.created_ms,
                "age_seconds": age_seconds(e),
                "written_for": e.target,
            })
        })
        .collect();
    json!({ "dir": set_aside::dir(dir), "segments": segments })
}

/// `95` -> `1m 35s`, `7300` -> `2h 1m`, `200000` -> `2d 7h`.
fn human_age(seconds: u64) -> String {
    let (d, h, m, s) = (
        seconds / 86_400,
        seconds / 3600 % 24,
        seconds / 60 % 60,
        seconds % 60,
    );
    match (d, h, m) {
        (0, 0, 0) => format!("{s}s"),
        (0, 0, _) => format!("{m}m {s}s"),
        (0, _, _) => format!("{h}h {m}m"),
        _ => format!("{d}d {h}h"),
    }
}

/// Stores the chosen set-aside segments in DATABASE_URL's database, deleting each once its
/// events committed. Refuses, writing nothing, when none of them (or not every one named) was
/// written for that database, unless `into_current`.
async fn drain(
    global: &GlobalArgs,
    dir: &Path,
    into_current: bool,
    names: &[String],
) -> anyhow::Result<ExitCode> {
    let _lock = set_aside::lock(dir)?;
    let entries = select(set_aside::scan(dir)?, names)?;
    if entries.is_empty() {
        println!("nothing set aside in {}", set_aside::dir(dir).display());
        return Ok(ExitCode::SUCCESS);
    }
    let url = &global.database_url;
    let mut conn = db::connect(url).await?;
    let server = db::server_identity(&mut conn)
        .await
        .with_context(|| format!("cannot ask {url} which database it is"))?;
    let _ = conn.close().await;
    let pool = db::lazy_pool(url, 2)?;
    let current = Target::of(&pool).with_server(server);
    let (chosen, refused) = choose(entries, &current, into_current);
    for (entry, why) in &refused {
        eprintln!(
            "not drained: {} was written for {}: {why}",
            entry.name,
            written_for(entry)
        );
    }
    if chosen.is_empty() || (!names.is_empty() && !refused.is_empty()) {
        bail!(
            "nothing drained: DATABASE_URL reaches {current}, not the database the segment(s) above \
             were written for. Point DATABASE_URL at that database, or pass --into-current to store \
             them in this one anyway"
        );
    }
    db::migrate(url).await?;
    let mut total = (0, 0);
    for entry in &chosen {
        let tally = drain_one(&pool, entry).await?;
        println!(
            "drained {}: {} stored, {} duplicate(s), {} conflicting duplicate(s), {} dead-lettered",
            entry.name, tally.stored, tally.duplicates, tally.conflicts, tally.dead_lettered
        );
        total = (total.0 + 1, total.1 + tally.events());
    }
    println!(
        "drained {} segment(s), {} event(s) into {current}",
        total.0, total.1
    );
    if !refused.is_empty() {
        println!(
            "{} segment(s) left set aside, written for another database",
            refused.len()
        );
    }
    pool.close().await;
    Ok(ExitCode::SUCCESS)
}

/// The entries named, every one of them if none is; a name not set aside is an error.
fn select(entries: Vec<Entry>, names: &[String]) -> anyhow::Result<Vec<Entry>> {
    if let Some(missing) = names
        .iter()
        .find(|n| !entries.iter().any(|e| &e.name == *n))
    {
        bail!("no set-aside segment named {missing:?} (see `lobbylog spool list`)");
    }
    Ok(entries
        .into_iter()
        .filter(|e| names.is_empty() || names.contains(&e.name))
        .collect())
}

/// Splits the entries into those to drain into `current` and those refused, with why.
fn choose(
    entries: Vec<Entry>,
    current: &Target,
    into_current: bool,
) -> (Vec<Entry>, Vec<(Entry, String)>) {
    let mut chosen = Vec::new();
    let mut refused = Vec::new();
    for entry in entries {
        let verdict = match &entry.target {
            Some(target) => target.verdict(current),
            None => Verdict::Different("it records no database".into()),
        };
        match verdict {
            Verdict::Same => chosen.push(entry),
            Verdict::Different(why) if into_current => {
                println!(
                    "storing {} (written for {}) into {current}, as --into-current asks: {why}",
                    entry.name,
                    written_for(&entry)
                );
                chosen.push(entry);
            }
            Verdict::Different(why) => refused.push((entry, why)),
        }
    }
    (chosen, refused)
}

/// Stores one segment; deletes it only once every event committed, so a rerun after a failure
/// stores nothing twice.
async fn drain_one(pool: &sqlx::PgPool, entry: &Entry) -> anyhow::Result<Tally> {
    let path = entry.path.clone();
    let contents = tokio::task::spawn_blocking(move || read_segment(&path))
        .await?
        .with_context(|| format!("cannot read {}", entry.path.display()))?;
    let tally = store_segment(pool, &entry.name, &contents.bodies)
        .await
        .with_context(|| format!("storing {}", entry.name))?;
    fs::remove_file(&entry.path)
        .with_context(|| format!("cannot delete {}", entry.path.display()))?;
    if let Some(parent) = entry.path.parent() {
        fs::File::open(parent)?.sync_all()?;
    }
    Ok(tally)
}

#[cfg(test)]
mod tests {
    #[test]
    fn ages_read_like_a_human_would_say_them() {
        let cases = [
            (0, "0s"),
            (95, "1m 35s"),
            (7300, "2h 1m"),
            (200_000, "2d 7h"),
        ];
        for (seconds, shown) in cases {
            assert_eq!(super::human_age(seconds), shown);
        }
    }
}
