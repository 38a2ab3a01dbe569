//! Prometheus metrics: events by outcome, requests by status, batches, commits, the spool and
//! retention.

use std::sync::atomic::AtomicU64;

pub mod door;
mod labels;
pub mod retention;
pub mod rollups;

use prometheus_client::{
    encoding::text::encode,
    metrics::{counter::Counter, family::Family, gauge::Gauge, histogram::Histogram},
    registry::Registry,
};

use self::labels::{
    CutLabels, EventLabels, ListenerLabels, StatusLabels, WebhookLabels, event_type_label,
};

/// What the spool holds, read when metrics are rendered. Events, bytes and age include the
/// segments set aside.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct SpoolLevels {
    pub events: u64,
    pub bytes: u64,
    /// Age of the oldest segment, 0 when the spool is empty.
    pub oldest_age_seconds: f64,
    /// Segments written for another database, kept aside until an operator drains them.
    pub set_aside_segments: u64,
    pub set_aside_events: u64,
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
    connections_open: Family<ListenerLabels, Gauge>,
    connections_cut: Family<CutLabels, Counter>,
    daily_webhook_active: Family<WebhookLabels, Gauge>,
    daily_webhook_failed_count: Family<WebhookLabels, Gauge>,
    spool_set_aside_segments: Gauge,
    spool_set_aside_events: Gauge,
    pub retention: retention::RetentionMetrics,
    pub rollups: rollups::RollupMetrics,
    pub door: door::DoorMetrics,
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
        let connections_open = Family::<ListenerLabels, Gauge>::default();
        registry.register(
            "connections_open",
            "Open connections by listener (public, admin)",
            connections_open.clone(),
        );
        let connections_cut = Family::<CutLabels, Counter>::default();
        registry.register(
            "connections_cut",
            "Connections closed by lobbylog: header_timeout, body_timeout, idle_timeout, evicted, shutdown",
            connections_cut.clone(),
        );
        let daily_webhook_active = Family::<WebhookLabels, Gauge>::default();
        registry.register(
            "daily_webhook_active",
            "1 when Daily says the webhook is active, 0 otherwise (watchdog)",
            daily_webhook_active.clone(),
        );
        let daily_webhook_failed_count = Family::<WebhookLabels, Gauge>::default();
        registry.register(
            "daily_webhook_failed_count",
            "Consecutive failed deliveries Daily counts for the webhook (watchdog)",
            daily_webhook_failed_count.clone(),
        );
        let spool_set_aside_segments = Gauge::default();
        registry.register(
            "spool_set_aside_segments",
            "Spool segments set aside because they were written for another database",
            spool_set_aside_segments.clone(),
        );
        let spool_set_aside_events = Gauge::default();
        registry.register(
            "spool_set_aside_events",
            "Events in set-aside spool segments (also counted in spool_events)",
            spool_set_aside_events.clone(),
        );
        let retention = retention::RetentionMetrics::registered(&mut registry);
        let rollups = rollups::RollupMetrics::registered(&mut registry);
        let door = door::DoorMetrics::registered(&mut registry);
        Self {
            rollups,
            door,
            registry,
            retention,
            connections_open,
            connections_cut,
            events,
            requests,
            batch_size,
            commit_seconds,
            drained,
            spool_events,
            spool_bytes,
            spool_oldest_age,
            daily_webhook_active,
            daily_webhook_failed_count,
            spool_set_aside_segments,
            spool_set_aside_events,
        }
    }
}

impl Metrics {
    pub fn event(&self, event_type: &str, outcome: &'static str) {
        let labels = EventLabels {
            event_type: event_type_label(event_type),
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

    pub fn connection_opened(&self, listener: &'static str) {
        self.connections_open
            .get_or_create(&ListenerLabels { listener })
            .inc();
    }

    pub fn connection_closed(&self, listener: &'static str) {
        self.connections_open
            .get_or_create(&ListenerLabels { listener })
            .dec();
    }

    pub fn connection_cut(&self, listener: &'static str, reason: &'static str) {
        self.connections_cut
            .get_or_create(&CutLabels { listener, reason })
            .inc();
    }

    pub fn drained(&self, events: u64) {
        self.drained.inc_by(events);
    }

    /// What Daily last said of a webhook.
    pub fn daily_webhook(&self, uuid: &str, active: bool, failed_count: u64) {
        let labels = WebhookLabels {
            uuid: uuid.to_owned(),
        };
        self.daily_webhook_active
            .get_or_create(&labels)
            .set(i64::from(active));
        self.daily_webhook_failed_count
            .get_or_create(&labels)
            .set(failed_count.min(i64::MAX as u64) as i64);
    }

    /// A webhook Daily no longer lists.
    pub fn forget_daily_webhook(&self, uuid: &str) {
        let labels = WebhookLabels {
            uuid: uuid.to_owned(),
        };
        self.daily_webhook_active.remove(&labels);
        self.daily_webhook_failed_count.remove(&labels);
    }

    /// The text exposition, with the spool's gauges as given.
    pub fn render(&self, spool: SpoolLevels) -> String {
        self.spool_events.set(spool.events as i64);
        self.spool_bytes.set(spool.bytes as i64);
        self.spool_oldest_age.set(spool.oldest_age_seconds);
        self.spool_set_aside_segments
            .set(spool.set_aside_segments as i64);
        self.spool_set_aside_events
            .set(spool.set_aside_events as i64);
        self.retention.refresh();
        let mut text = String::new();
        encode(&mut text, &self.registry).expect("writing to a String cannot fail");
        text
    }
}
