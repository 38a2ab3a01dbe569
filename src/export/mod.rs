//! Export: the stored raw events, day by day of receipt (UTC), into one zstd NDJSON file per day
//! that `lobbylog backfill` reads as it is; never more than a page of bodies in memory.

mod day_file;

use std::{
    fmt,
    path::{Path, PathBuf},
    sync::atomic::{AtomicBool, Ordering},
    time::{Duration, Instant},
};

use anyhow::Context;
use sqlx::PgPool;
use time::Date;

use self::day_file::DayFile;
pub use self::day_file::{LEVEL, Written};
use crate::{
    progress::Progress,
    store::event_days::{self, DayBodies},
};

/// Bodies fetched from the cursor at a time.
pub const PAGE: i64 = 1000;

/// What an export wrote.
#[derive(Debug, Clone)]
pub struct Report {
    pub to: PathBuf,
    pub days: u64,
    pub written: Written,
    pub elapsed: Duration,
    pub interrupted: bool,
}

/// Writes a file for every day from `first` (`None`: the oldest event's) to `last`, both
/// included, that has events, oldest first. Stops between pages once `stop` is set; the day in
/// progress is then left as it was before.
pub async fn export(
    pool: &PgPool,
    to: &Path,
    first: Option<Date>,
    last: Date,
    stop: &AtomicBool,
) -> anyhow::Result<Report> {
    let started = Instant::now();
    let days = event_days::days_with_events(pool, first, last)
        .await
        .context("cannot list the days that have events")?;
    let total = days.iter().map(|&(_, events)| events as u64).sum();
    let mut progress = Progress::new("export", Some(total), false);
    let mut report = Report {
        to: to.to_owned(),
        days: 0,
        written: Written::default(),
        elapsed: Duration::ZERO,
        interrupted: false,
    };
    let mut outcome = Ok(());
    for (day, _) in days {
        progress.set_message(day.to_string());
        match export_day(pool, to, day, stop, &mut progress).await {
            Ok(Some(written)) => report.add(written),
            Ok(None) => report.interrupted = true,
            Err(e) => outcome = Err(e),
        }
        if report.interrupted || outcome.is_err() {
            break;
        }
    }
    progress.finish();
    outcome?;
    report.elapsed = started.elapsed();
    Ok(report)
}

/// One day's file, or `None` when `stop` was set before it was whole.
async fn export_day(
    pool: &PgPool,
    to: &Path,
    day: Date,
    stop: &AtomicBool,
    progress: &mut Progress,
) -> anyhow::Result<Option<Written>> {
    let mut file = DayFile::create(to, day)?;
    let reading = || format!("cannot read the events received on {day}");
    let mut bodies = DayBodies::open(pool, day, PAGE)
        .await
        .with_context(reading)?;
    loop {
        let page = bodies.next_page().await.with_context(reading)?;
        if page.is_empty() {
            break;
        }
        if stop.load(Ordering::Relaxed) {
            return Ok(None);
        }
        // Plain blocking writes: a page compresses in milliseconds, and nothing else runs here.
        for body in &page {
            file.write_line(body)?;
        }
        progress.advance(page.len() as u64);
    }
    bodies.close().await.with_context(reading)?;
    file.finish().map(Some)
}

impl Report {
    fn add(&mut self, day: Written) {
        self.days += 1;
        self.written.events += day.events;
        self.written.bytes += day.bytes;
        self.written.raw_bytes += day.raw_bytes;
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let seconds = self.elapsed.as_secs_f64();
        let w = &self.written;
        match self.interrupted {
            true => writeln!(f, "export interrupted")?,
            false => writeln!(f, "export finished")?,
        }
        writeln!(f, "  to           {}", self.to.display())?;
        writeln!(f, "  days         {} written", self.days)?;
        writeln!(f, "  events       {}", w.events)?;
        writeln!(
            f,
            "  bytes        {} written (zstd level {LEVEL}; {} uncompressed)",
            w.bytes, w.raw_bytes
        )?;
        writeln!(f, "  elapsed      {seconds:.2} s")?;
        write!(
            f,
            "  rate         {:.0} events/s",
            w.events as f64 / seconds.max(1e-9)
        )
    }
}
