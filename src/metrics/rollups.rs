//! The rollups' metrics: how far they lag behind the sessions, and the refreshes.

use std::sync::atomic::AtomicU64;

use prometheus_client::{
    metrics::{counter::Counter, family::Family, gauge::Gauge},
    registry::Registry,
};

use super::labels::OutcomeLabels;

#[derive(Debug, Default)]
pub struct RollupMetrics {
    lag: Gauge<f64, AtomicU64>,
    refreshes: Family<OutcomeLabels, Counter>,
    days: Counter,
}

impl RollupMetrics {
    pub(super) fn registered(registry: &mut Registry) -> Self {
        let me = Self::default();
        registry.register(
            "rollup_lag_seconds",
            "Age of the oldest knock change not yet in the rollups, read before each refresh; 0 when none",
            me.lag.clone(),
        );
        registry.register(
            "rollup_refreshes",
            "Rollup refreshes by outcome (finished, failed)",
            me.refreshes.clone(),
        );
        registry.register(
            "rollup_days_recomputed",
            "(room, day) rollups recomputed by the refreshes",
            me.days.clone(),
        );
        me
    }

    pub fn set_lag(&self, seconds: f64) {
        self.lag.set(seconds);
    }

    pub fn refresh(&self, outcome: &'static str, days: u64) {
        self.refreshes
            .get_or_create(&OutcomeLabels { outcome })
            .inc();
        self.days.inc_by(days);
    }
}
