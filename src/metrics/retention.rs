//! Retention's metrics: rows pruned, scheduled runs, the age of the oldest raw event.

use std::{
    sync::atomic::{AtomicU64, Ordering},
    time::{SystemTime, UNIX_EPOCH},
};

use prometheus_client::{
    metrics::{counter::Counter, family::Family, gauge::Gauge},
    registry::Registry,
};

use super::labels::{OutcomeLabels, TableLabels};

#[derive(Debug, Default)]
pub struct RetentionMetrics {
    pruned: Family<TableLabels, Counter>,
    runs: Family<OutcomeLabels, Counter>,
    /// When the oldest stored event was sent, in epoch milliseconds; 0 when none or not yet known.
    oldest_event_ms: AtomicU64,
    oldest_event_age: Gauge<f64, AtomicU64>,
}

impl RetentionMetrics {
    pub(super) fn registered(registry: &mut Registry) -> Self {
        let me = Self::default();
        registry.register(
            "pruned_rows",
            "Rows deleted by scheduled retention, by table (webhook_events, dead_letters)",
            me.pruned.clone(),
        );
        registry.register(
            "retention_runs",
            "Scheduled retention runs by outcome (finished, skipped, failed)",
            me.runs.clone(),
        );
        registry.register(
            "oldest_event_age_seconds",
            "Age of the oldest raw event stored (by event_ts, else received_at), 0 when none",
            me.oldest_event_age.clone(),
        );
        me
    }

    pub fn pruned(&self, table: &'static str, rows: u64) {
        self.pruned
            .get_or_create(&TableLabels { table })
            .inc_by(rows);
    }

    pub fn run(&self, outcome: &'static str) {
        self.runs.get_or_create(&OutcomeLabels { outcome }).inc();
    }

    /// When the oldest stored event was sent (epoch seconds), `None` when there is none.
    pub fn set_oldest_event(&self, sent_at: Option<f64>) {
        let ms = sent_at.map_or(0, |s| (s * 1000.0).max(1.0) as u64);
        self.oldest_event_ms.store(ms, Ordering::Relaxed);
    }

    /// Brings the age gauge up to now, before rendering.
    pub(super) fn refresh(&self) {
        self.oldest_event_age
            .set(seconds_since(self.oldest_event_ms.load(Ordering::Relaxed)));
    }
}

/// Seconds from `ms` (epoch milliseconds) to now; 0 for 0.
fn seconds_since(ms: u64) -> f64 {
    if ms == 0 {
        return 0.0;
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    now.saturating_sub(ms) as f64 / 1000.0
}
