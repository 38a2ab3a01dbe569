//! Prometheus metrics: events by outcome, requests by status, batches, commits and the spool.

use std::sync::atomic::AtomicU64;

use prometheus_client::{
    encoding::{EncodeLabelSet, text::encode},
    metrics::{counter::Counter, family::Family, gauge::Gauge, histogram::Histogram},
    registry::Registry,
};

/// What the spool holds, read when metrics are rendered.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct SpoolLevels {
    pub events: u64,
    pub bytes: u64,
    /// Age of the oldest segment, 0 when the spool is empty.
    pub oldest_age_seconds: f64,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EventLabels {
    event_type: String,
    outcome: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StatusLabels {
    status: u16,
}

pub struct Metrics {
    registry: Registry,
    events: Family<EventLabels, Counter>,
    requests: Family<StatusLabels, Counter>,
    batch_size: Histogram,
    commit_seconds: Histogram,
    drained: Counter,
    spool_events: Gauge,
    spool_bytes: Gauge,
    spool_oldest_age: Gauge<f64, AtomicU64>,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("lobbylog");
        let events = Family::<EventLabels, Counter>::default();
        registry.register(
            "events",
            "Events by type and outcome (stored, duplicate, rejected, refused, probe, spooled)",
            events.clone(),
        );
        let requests = Family::<StatusLabels, Counter>::default();
        registry.register(
            "webhook_requests",
            "Webhook requests by HTTP status",
            requests.clone(),
        );
        let batch_size =
            Histogram::new([1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0]);
        registry.register(
            "batch_events",
            "Events per committed batch",
            batch_size.clone(),
        );
        let commit_seconds = Histogram::new([
            0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
        ]);
        registry.register(
            "commit_seconds",
            "Time to store and commit one batch",
            commit_seconds.clone(),
        );
        let drained = Counter::default();
        registry.register(
            "spool_drained_events",
            "Events moved from the spool into Postgres",
            drained.clone(),
        );
        let spool_events = Gauge::default();
        registry.register(
            "spool_events",
            "Events waiting in the spool",
            spool_events.clone(),
        );
        let spool_bytes = Gauge::default();
        registry.register(
            "spool_bytes",
            "Bytes of spool segments on disk",
            spool_bytes.clone(),
        );
        let spool_oldest_age = Gauge::<f64, AtomicU64>::default();
        registry.register(
            "spool_oldest_age_seconds",
            "Age of the oldest spool segment, 0 when empty",
            spool_oldest_age.clone(),
        );
        Self {
            registry,
            events,
            requests,
            batch_size,
            commit_seconds,
            drained,
            spool_events,
            spool_bytes,
            spool_oldest_age,
        }
    }
}

impl Metrics {
    pub fn event(&self, event_type: &str, outcome: &'static str) {
        let labels = EventLabels {
            event_type: event_type.to_owned(),
            outcome,
        };
        self.events.get_or_create(&labels).inc();
    }

    pub fn request(&self, status: u16) {
        self.requests.get_or_create(&StatusLabels { status }).inc();
    }

    pub fn batch(&self, events: usize, seconds: f64) {
        self.batch_size.observe(events as f64);
        self.commit_seconds.observe(seconds);
    }

    pub fn drained(&self, events: u64) {
        self.drained.inc_by(events);
    }

    /// The text exposition, with the spool's gauges as given.
    pub fn render(&self, spool: SpoolLevels) -> String {
        self.spool_events.set(spool.events as i64);
        self.spool_bytes.set(spool.bytes as i64);
        self.spool_oldest_age.set(spool.oldest_age_seconds);
        let mut text = String::new();
        encode(&mut text, &self.registry).expect("writing to a String cannot fail");
        text
    }
}
