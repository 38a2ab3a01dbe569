//! Export: the stored raw events, day by day of receipt (UTC), into one zstd NDJSON archive per
//! day, in a folder or a bucket, that `lobbylog backfill` reads as it is; never more than a page
//! of bodies in memory. The prune that archives goes through here too: each day exported, read
//! back, then deleted.

mod day_file;
mod day_object;
mod day_writer;
mod report;
mod target;

use std::{
    sync::atomic::{AtomicBool, Ordering},
    time::Instant,
};

use anyhow::Context;
use sqlx::PgPool;
use time::Date;

use self::day_writer::DayWriter;
pub use self::{
    day_writer::{LEVEL, Written},
    report::Report,
    target::{Target, day_key},
};
use crate::{
    progress::Progress,
    store::event_days::{self, DayBodies},
};

/// Bodies fetched from the cursor at a time.
pub const PAGE: i64 = 4000;

/// What happens to a day's events once its archive is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Then {
    Keep,
    /// Read the archive back, and delete the events it holds if it holds them all.
    Delete,
}

/// Writes an archive for every day from `first` (`None`: the oldest event's) to `last`, both
/// included, that has events, oldest first. Stops between pages once `stop` is set; the day in
/// progress is then left as it was before.
pub async fn export(
    pool: &PgPool,
    to: &Target,
    first: Option<Date>,
    last: Date,
    stop: &AtomicBool,
) -> anyhow::Result<Report> {
    run(pool, to, first, last, Then::Keep, stop).await
}

/// Archives every day of receipt up to `last` (included), then deletes its events: only those the
/// archive was written from, and only once it was read back whole. A failure (an unreachable
/// bucket, a short read) deletes nothing of that day and stops there.
pub async fn archive_and_delete(
    pool: &PgPool,
    to: &Target,
    last: Date,
    stop: &AtomicBool,
) -> anyhow::Result<Report> {
    run(pool, to, None, last, Then::Delete, stop).await
}

async fn run(
    pool: &PgPool,
    to: &Target,
    first: Option<Date>,
    last: Date,
    then: Then,
    stop: &AtomicBool,
) -> anyhow::Result<Report> {
    let started = Instant::now();
    let days = event_days::days_with_events(pool, first, last)
        .await
        .context("cannot list the days that have events")?;
    let total = days.iter().map(|&(_, events)| events as u64).sum();
    let mut progress = Progress::new("export", Some(total), false);
    let mut report = Report::new(to);
    let mut outcome = Ok(());
    // The next day's cursor is opened, and its first page fetched (Postgres reads and sorts the
    // whole day for it), while this day compresses and is made durable.
    let open = |i: usize| {
        let day = days.get(i).map(|&(day, _)| day)?;
        Some(tokio::spawn(open_day(pool.clone(), day, then)))
    };
    let mut next = open(0);
    for (i, &(day, _)) in days.iter().enumerate() {
        let opened = next.take().expect("each day is opened ahead");
        next = open(i + 1);
        progress.set_message(day.to_string());
        let exported = match opened.await.context("a day's reader panicked")? {
            Ok(opened) => export_day(opened, to, day, then, stop, &mut progress).await,
            Err(e) => Err(e.context(format!("cannot read the events received on {day}"))),
        };
        match exported {
            Ok(Some(written)) => report.add(written, then == Then::Delete),
            Ok(None) => report.interrupted = true,
            Err(e) => outcome = Err(e),
        }
        if report.interrupted || outcome.is_err() {
            break;
        }
    }
    if let Some(next) = next {
        // Its transaction rolls back as its connection goes back to the pool.
        next.abort();
    }
    progress.finish();
    outcome?;
    report.elapsed = started.elapsed();
    Ok(report)
}

/// A day's cursor with its first page.
struct OpenDay {
    bodies: DayBodies,
    first: Vec<String>,
}

async fn open_day(pool: PgPool, day: Date, then: Then) -> anyhow::Result<OpenDay> {
    let mut bodies = match then {
        Then::Keep => DayBodies::open(&pool, day, PAGE).await?,
        Then::Delete => DayBodies::open_to_delete(&pool, day, PAGE).await?,
    };
    let first = bodies.next_page().await?;
    Ok(OpenDay { bodies, first })
}

/// One day's archive, or `None` when `stop` was set before it was whole.
async fn export_day(
    open: OpenDay,
    to: &Target,
    day: Date,
    then: Then,
    stop: &AtomicBool,
    progress: &mut Progress,
) -> anyhow::Result<Option<Written>> {
    let reading = || format!("cannot read the events received on {day}");
    let OpenDay { mut bodies, first } = open;
    let mut writer = DayWriter::new(to.create(day)?)?;
    match write_pages(&mut bodies, first, &mut writer, stop, progress).await {
        Ok(true) => {}
        Ok(false) => {
            writer.abort().await;
            return Ok(None);
        }
        Err(e) => {
            writer.abort().await;
            return Err(e.context(format!("cannot export {}", to.name_of(day))));
        }
    }
    let written = writer.finish().await?;
    if then == Then::Keep {
        bodies.close().await.with_context(reading)?;
        return Ok(Some(written));
    }
    let read_back = to.count_events(day).await?;
    anyhow::ensure!(
        read_back == written.events,
        "{} holds {read_back} events where {} were written: nothing of {day} deleted",
        to.name_of(day),
        written.events
    );
    let deleted = bodies
        .delete_and_commit(day, written.events)
        .await
        .with_context(|| format!("cannot delete the events received on {day}"))?;
    anyhow::ensure!(
        deleted == written.events,
        "{deleted} events of {day} were to be deleted where {} were archived: nothing deleted",
        written.events
    );
    Ok(Some(written))
}

/// Every page of the day, from `first` on, into the writer: `false` if `stop` was set first.
async fn write_pages(
    bodies: &mut DayBodies,
    first: Vec<String>,
    writer: &mut DayWriter,
    stop: &AtomicBool,
    progress: &mut Progress,
) -> anyhow::Result<bool> {
    let mut page = first;
    loop {
        if page.is_empty() {
            return Ok(true);
        }
        if stop.load(Ordering::Relaxed) {
            return Ok(false);
        }
        progress.advance(page.len() as u64);
        writer.write_page(page).await?;
        page = bodies.next_page().await.context("cannot read the events")?;
    }
}
