//! What an export wrote, and the summary it prints.

use std::{fmt, time::Duration};

use super::{LEVEL, Target, Written};

#[derive(Debug, Clone)]
pub struct Report {
    pub to: String,
    pub days: u64,
    pub written: Written,
    /// Events deleted once archived (a prune that archives).
    pub deleted: u64,
    pub elapsed: Duration,
    pub interrupted: bool,
}

impl Report {
    pub fn new(to: &Target) -> Self {
        Self {
            to: to.to_string(),
            days: 0,
            written: Written::default(),
            deleted: 0,
            elapsed: Duration::ZERO,
            interrupted: false,
        }
    }

    pub fn add(&mut self, day: Written, deleted: bool) {
        self.days += 1;
        self.written.events += day.events;
        self.written.bytes += day.bytes;
        self.written.raw_bytes += day.raw_bytes;
        if deleted {
            self.deleted += day.events;
        }
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
        writeln!(f, "  to           {}", self.to)?;
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
