//! What a backfill did: the counts, the closing summary and the exit status they mean.

use std::{fmt, time::Duration};

/// Exit status when every record was stored or already present.
pub const EXIT_OK: u8 = 0;
/// Exit status when some records were rejected or refused, or files failed, and the rest stored.
pub const EXIT_REJECTED: u8 = 2;
/// Exit status after SIGINT or SIGTERM (128 + SIGINT, as shells do).
pub const EXIT_INTERRUPTED: u8 = 130;

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Report {
    /// Inputs read to their end.
    pub files: u64,
    /// Inputs that could not be opened or were cut short (corrupt, truncated).
    pub failed_files: u64,
    /// Records met: envelopes, probes and rejects together.
    pub read: u64,
    /// Envelopes new to `webhook_events` (in a dry run: envelopes that would be stored).
    pub inserted: u64,
    /// Envelopes whose id was already stored, or came earlier in the archive.
    pub duplicates: u64,
    /// Like duplicates, but saying something else than the event kept (the first one).
    pub conflicts: u64,
    /// Records that are not usable envelopes: dead-lettered.
    pub rejected: u64,
    /// Envelopes Postgres refused to store: dead-lettered.
    pub refused: u64,
    /// Daily's `{"test":"test"}` probes, skipped.
    pub probes: u64,
    pub elapsed: Duration,
    pub interrupted: bool,
    pub dry_run: bool,
}

impl Report {
    pub fn exit_code(&self) -> u8 {
        if self.interrupted {
            EXIT_INTERRUPTED
        } else if self.rejected > 0 || self.refused > 0 || self.failed_files > 0 {
            EXIT_REJECTED
        } else {
            EXIT_OK
        }
    }

    pub fn events_per_second(&self) -> f64 {
        self.read as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let title = match (self.interrupted, self.dry_run) {
            (true, _) => "backfill interrupted",
            (false, true) => "backfill dry run (nothing written)",
            (false, false) => "backfill finished",
        };
        writeln!(f, "{title}")?;
        writeln!(
            f,
            "  files        {} read, {} failed",
            self.files, self.failed_files
        )?;
        writeln!(f, "  events read  {}", self.read)?;
        if self.dry_run {
            writeln!(
                f,
                "  would store  {} (new or already present)",
                self.inserted
            )?;
        } else {
            writeln!(f, "  inserted     {}", self.inserted)?;
            writeln!(f, "  duplicates   {}", self.duplicates)?;
            writeln!(f, "  conflicts    {}", self.conflicts)?;
        }
        writeln!(f, "  rejected     {}", self.rejected)?;
        if !self.dry_run {
            writeln!(f, "  refused      {}", self.refused)?;
        }
        writeln!(f, "  probes       {}", self.probes)?;
        writeln!(f, "  elapsed      {:.2} s", self.elapsed.as_secs_f64())?;
        write!(f, "  rate         {:.0} events/s", self.events_per_second())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_exit_status_says_interrupted_then_rejected_then_ok() {
        let mut report = Report::default();
        assert_eq!(report.exit_code(), EXIT_OK);
        report.failed_files = 1;
        assert_eq!(report.exit_code(), EXIT_REJECTED);
        report = Report {
            rejected: 1,
            ..Report::default()
        };
        assert_eq!(report.exit_code(), EXIT_REJECTED);
        report.interrupted = true;
        assert_eq!(report.exit_code(), EXIT_INTERRUPTED);
    }

    #[test]
    fn a_dry_run_summary_says_would_store() {
        let report = Report {
            read: 3,
            inserted: 2,
            probes: 1,
            dry_run: true,
            elapsed: Duration::from_secs(1),
            ..Report::default()
        };
        let text = report.to_string();
        assert!(text.contains("would store  2"), "{text}");
        assert!(!text.contains("duplicates"), "{text}");
        assert!(text.contains("rate         3 events/s"), "{text}");
    }
}
