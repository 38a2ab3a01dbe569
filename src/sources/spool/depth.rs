//! What the spool holds now, segments to drain and segments set aside, for metrics and readiness.

use std::sync::atomic::{AtomicU64, Ordering};

use super::segment::now_ms;
use crate::metrics::SpoolLevels;

/// Counters the writer, the drainer and the set-aside index keep up to date.
#[derive(Debug, Default)]
pub struct SpoolDepth {
    /// Events in segments waiting to be drained.
    pub records: AtomicU64,
    pub bytes: AtomicU64,
    /// Creation time (ms since epoch) of the oldest segment to drain, 0 when none.
    pub oldest_ms: AtomicU64,
    /// Segments set aside: written for another database, never drained automatically.
    pub set_aside: SetAsideDepth,
}

#[derive(Debug, Default)]
pub struct SetAsideDepth {
    pub segments: AtomicU64,
    pub records: AtomicU64,
    pub bytes: AtomicU64,
    pub oldest_ms: AtomicU64,
}

impl SpoolDepth {
    /// Everything on disk, set-aside segments included: the spool's size limit is about the disk.
    pub fn total_bytes(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed) + self.set_aside.bytes.load(Ordering::Relaxed)
    }

    /// The spool's levels; events, bytes and age count set-aside segments too, so that they are
    /// not forgotten.
    pub fn levels(&self) -> SpoolLevels {
        let set_aside = &self.set_aside;
        let oldest = [&self.oldest_ms, &set_aside.oldest_ms]
            .iter()
            .map(|ms| ms.load(Ordering::Relaxed))
            .filter(|ms| *ms != 0)
            .min();
        let set_aside_events = set_aside.records.load(Ordering::Relaxed);
        SpoolLevels {
            events: self.records.load(Ordering::Relaxed) + set_aside_events,
            bytes: self.total_bytes(),
            oldest_age_seconds: oldest
                .map_or(0.0, |ms| now_ms().saturating_sub(ms) as f64 / 1000.0),
            set_aside_segments: set_aside.segments.load(Ordering::Relaxed),
            set_aside_events,
        }
    }
}
