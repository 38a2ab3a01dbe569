//! Whether Postgres takes writes now: the one signal the intake and the spool drainer read.

use std::sync::{
    Arc,
    atomic::{AtomicBool, Ordering},
};

/// Down until the database is found reachable and migrated; marked down by a failed write,
/// up again by the drainer's probe.
#[derive(Debug, Clone, Default)]
pub struct Availability(Arc<AtomicBool>);

impl Availability {
    /// Starts down: nothing is written before the database is known to be ready.
    pub fn new() -> Self {
        Self::default()
    }

    pub fn is_up(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    /// Postgres answered a probe and carries our migrations.
    pub fn mark_up(&self) {
        if !self.0.swap(true, Ordering::Relaxed) {
            tracing::info!("postgres takes writes");
        }
    }

    /// A write failed for a reason that is not its data: spool until a probe succeeds.
    pub fn mark_down(&self, why: &str) {
        if self.0.swap(false, Ordering::Relaxed) {
            tracing::warn!(why, "postgres is not taking writes: spooling events");
        }
    }
}
