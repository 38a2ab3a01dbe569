//! The summary `lobbylog prune` prints at the end.

use std::{fmt, time::Duration};

use super::{Age, Cutoff, Pruned};

#[derive(Debug, Clone)]
pub struct Report {
    pub older_than: Age,
    pub dry_run: bool,
    /// The cutoff in UTC; `None` if the run stopped before computing it.
    pub cutoff: Option<String>,
    pub events: u64,
    pub dead_letters: u64,
    pub interrupted: bool,
    pub elapsed: Duration,
    /// Where the events were archived before they were deleted (`--archive-to`).
    pub archive: Option<Archived>,
}

/// The archives a prune wrote (a dry run: would write).
#[derive(Debug, Clone)]
pub struct Archived {
    pub to: String,
    pub days: u64,
    pub bytes: u64,
}

impl Report {
    pub fn new(older_than: Age, dry_run: bool) -> Self {
        Self {
            older_than,
            dry_run,
            cutoff: None,
            events: 0,
            dead_letters: 0,
            interrupted: false,
            elapsed: Duration::ZERO,
            archive: None,
        }
    }

    pub fn record(&mut self, cutoff: &Cutoff, pruned: Pruned) {
        self.cutoff = Some(cutoff.shown.clone());
        self.events = pruned.events;
        self.dead_letters = pruned.dead_letters;
        self.interrupted = pruned.interrupted;
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let title = match (self.dry_run, self.interrupted) {
            (true, _) => "prune dry run: nothing deleted",
            (false, true) => "prune interrupted: what was deleted stays deleted; rerun to go on",
            (false, false) => "prune finished",
        };
        writeln!(f, "{title}")?;
        let cutoff = self.cutoff.as_deref().unwrap_or("not reached");
        writeln!(f, "  older than    {} (before {cutoff})", self.older_than)?;
        let verb = if self.dry_run {
            "would be deleted"
        } else {
            "deleted"
        };
        writeln!(f, "  events        {} {verb}", self.events)?;
        if let Some(archive) = &self.archive {
            let (days, to) = (archive.days, &archive.to);
            match self.dry_run {
                true => writeln!(f, "  archive       {days} days would be written to {to}")?,
                false => writeln!(
                    f,
                    "  archived      {days} days to {to} ({} bytes), each read back before its events were deleted",
                    archive.bytes
                )?,
            }
        }
        writeln!(f, "  dead letters  {} {verb}", self.dead_letters)?;
        let seconds = self.elapsed.as_secs_f64();
        write!(f, "  elapsed       {seconds:.2} s")?;
        if !self.dry_run {
            let rate = (self.events + self.dead_letters) as f64 / seconds.max(1e-9);
            write!(f, "\n  rate          {rate:.0} rows/s")?;
        }
        Ok(())
    }
}
