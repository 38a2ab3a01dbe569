//! What the door saw: requests refused by reason, when an event was last stored, whether
//! Postgres takes writes. The series the alerting rules in `dashboards/prometheus/` read.

use std::sync::atomic::{AtomicU64, Ordering};

use prometheus_client::{
    metrics::{counter::Counter, family::Family, gauge::Gauge},
    registry::Registry,
};

use super::labels::ReasonLabels;

#[derive(Debug, Default)]
pub struct DoorMetrics {
    refused: Family<ReasonLabels, Counter>,
    last_event: Gauge<f64, AtomicU64>,
    postgres_up: Gauge,
}

impl DoorMetrics {
    pub(super) fn registered(registry: &mut Registry) -> Self {
        let me = Self::default();
        registry.register(
            "refused_requests",
            "Public requests answered with anything but 200, by reason (see GET /refused)",
            me.refused.clone(),
        );
        registry.register(
            "last_event_timestamp_seconds",
            "When the last authentic event was stored (or, read from the database every 30 s, sent); 0 before any",
            me.last_event.clone(),
        );
        registry.register(
            "postgres_up",
            "1 while the intake writes events to Postgres, 0 while it spools them",
            me.postgres_up.clone(),
        );
        me
    }

    /// `reason` is one of `refused::REASONS`.
    pub fn refused(&self, reason: &'static str) {
        self.refused.get_or_create(&ReasonLabels { reason }).inc();
    }

    /// An event stored (or known to have been) at `at`, in seconds since the epoch; the gauge
    /// only moves forward.
    pub fn event_at(&self, at: f64) {
        let _ =
            self.last_event
                .inner()
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |bits| {
                    (at > f64::from_bits(bits)).then(|| at.to_bits())
                });
    }

    /// An event stored now.
    pub fn event_stored(&self) {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        self.event_at(now);
    }

    pub fn set_postgres_up(&self, up: bool) {
        self.postgres_up.set(i64::from(up));
    }
}
