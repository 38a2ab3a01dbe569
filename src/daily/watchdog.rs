//! The watchdog in `serve`: polls Daily's webhooks, exports their state, re-activates, records gaps.

use std::{
    collections::{HashMap, HashSet},
    sync::Arc,
    time::Duration,
};

use sqlx::PgPool;
use time::OffsetDateTime;

use super::{
    Api,
    client::{ApiError, Client},
    gaps::{self, Finder},
    timestamps,
    webhooks::{self, Webhook},
};
use crate::{metrics::Metrics, telemetry};

/// Longest wait after repeated API errors, unless the poll interval is longer.
const LONGEST_BACKOFF: Duration = Duration::from_secs(300);

#[derive(Clone)]
pub struct Watchdog {
    pub client: Client,
    pub pool: PgPool,
    pub metrics: Arc<Metrics>,
    pub every: Duration,
    pub reactivate: bool,
}

/// What the watchdog remembers between two looks.
#[derive(Default)]
struct Memory {
    /// Webhooks Daily listed last time, to drop the metrics of one that disappears.
    listed: HashSet<String>,
    /// Active webhooks whose gap, if they had one, is known to be closed.
    settled: HashSet<String>,
    /// Gaps seen but not yet fully on record (the database was down, say), by webhook.
    unrecorded: HashMap<String, Unrecorded>,
    /// `listed` when the gaps of the webhooks it lacks were last closed; None before the first time.
    gone_closed_for: Option<HashSet<String>>,
}

struct Unrecorded {
    webhook: Webhook,
    detected_at: OffsetDateTime,
    opened: bool,
    reactivated_at: Option<OffsetDateTime>,
}

impl Watchdog {
    /// The watchdog `serve` runs, looking every `every`; None when no API key is set.
    pub fn new(
        api: &Api,
        every: Duration,
        reactivate: bool,
        pool: PgPool,
        metrics: Arc<Metrics>,
    ) -> Result<Option<Self>, ApiError> {
        if api.key.get().is_none() {
            return Ok(None);
        }
        Ok(Some(Self {
            client: Client::new(api)?,
            pool,
            metrics,
            every,
            reactivate,
        }))
    }

    /// Looks every `every` until the process ends; an API error only delays the next look.
    pub async fn run(self) {
        tracing::info!(
            every_s = self.every.as_secs_f64(),
            reactivate = self.reactivate,
            "watching Daily's webhooks"
        );
        let mut memory = Memory::default();
        let mut failures = 0;
        loop {
            let delay = match self.look(&mut memory).await {
                Ok(()) => {
                    failures = 0;
                    self.every
                }
                Err(e) => {
                    failures += 1;
                    let delay = backoff(failures, self.every);
                    tracing::error!(
                        error = telemetry::chain(&e.into()),
                        retry_in_s = delay.as_secs_f64(),
                        "cannot check Daily's webhooks"
                    );
                    delay
                }
            };
            tokio::time::sleep(delay).await;
        }
    }

    async fn look(&self, memory: &mut Memory) -> Result<(), ApiError> {
        let listed = webhooks::list(&self.client).await;
        self.record(memory).await;
        let listed = listed?;
        let uuids: HashSet<String> = listed.iter().map(|w| w.uuid.clone()).collect();
        for gone in memory.listed.difference(&uuids) {
            self.metrics.forget_daily_webhook(gone);
        }
        memory.listed = uuids;
        self.close_gone(&listed, memory).await;
        if listed.is_empty() {
            tracing::warn!("Daily lists no webhook for this domain: nothing is being delivered");
        }
        for webhook in &listed {
            self.watch(webhook, memory).await?;
        }
        self.record(memory).await;
        Ok(())
    }

    /// Closes the gaps of webhooks Daily no longer lists: they will never be seen active again.
    /// Asks the database only when the list changed since it last did so, or a gap of a gone
    /// webhook waits to be written, not at every look.
    async fn close_gone(&self, listed: &[Webhook], memory: &mut Memory) {
        let waiting = memory.unrecorded.keys().any(|u| !memory.listed.contains(u));
        if !waiting && memory.gone_closed_for.as_ref() == Some(&memory.listed) {
            return;
        }
        match gaps::record_gone(&self.pool, listed).await {
            Ok(closed) => {
                for uuid in closed {
                    tracing::info!(
                        uuid = %uuid,
                        "closing a delivery gap: Daily no longer lists the webhook"
                    );
                }
                let listed = &memory.listed;
                memory
                    .unrecorded
                    .retain(|uuid, gap| !gap.opened || listed.contains(uuid));
                memory.settled.retain(|uuid| listed.contains(uuid));
                memory.gone_closed_for = Some(memory.listed.clone());
            }
            Err(e) => tracing::error!(
                error = format!("{e:#}"),
                "closing the delivery gaps of webhooks gone from Daily failed; retried at the next look"
            ),
        }
    }

    async fn watch(&self, webhook: &Webhook, memory: &mut Memory) -> Result<(), ApiError> {
        self.export(webhook);
        if webhook.is_active() {
            match memory.unrecorded.get_mut(&webhook.uuid) {
                Some(gap) => {
                    let now = OffsetDateTime::now_utc();
                    gap.reactivated_at
                        .get_or_insert(webhook.updated_at.unwrap_or(now));
                }
                None if !memory.settled.contains(&webhook.uuid) => {
                    let closed = gaps::record_active(&self.pool, webhook, webhook.updated_at).await;
                    if noted(closed, webhook, "closing") {
                        memory.settled.insert(webhook.uuid.clone());
                    }
                }
                None => {}
            }
            return Ok(());
        }
        tracing::error!(
            uuid = %webhook.uuid,
            url = %webhook.url,
            state = %webhook.state,
            failed_count = webhook.failed_count(),
            last_moment_pushed = webhook.last_moment_pushed.map(timestamps::rfc3339),
            "Daily's webhook is not active: Daily delivers nothing until it is re-activated"
        );
        memory.settled.remove(&webhook.uuid);
        memory
            .unrecorded
            .entry(webhook.uuid.clone())
            .or_insert_with(|| Unrecorded {
                webhook: webhook.clone(),
                detected_at: OffsetDateTime::now_utc(),
                opened: false,
                reactivated_at: None,
            });
        if self.reactivate {
            self.reactivate(webhook, memory).await?;
        }
        Ok(())
    }

    async fn reactivate(&self, webhook: &Webhook, memory: &mut Memory) -> Result<(), ApiError> {
        let now = webhooks::reactivate(&self.client, webhook).await?;
        self.export(&now);
        if !now.is_active() {
            tracing::error!(uuid = %now.uuid, state = %now.state, "re-posted, still not active");
            return Ok(());
        }
        tracing::info!(uuid = %now.uuid, url = %now.url, "re-activated Daily's webhook");
        if let Some(gap) = memory.unrecorded.get_mut(&now.uuid) {
            gap.reactivated_at = Some(OffsetDateTime::now_utc());
        }
        Ok(())
    }

    /// Writes what is known of each gap; what cannot be written now is kept for the next look,
    /// so a database outage delays the record but never stops a re-activation.
    async fn record(&self, memory: &mut Memory) {
        let mut done = Vec::new();
        for (uuid, gap) in &mut memory.unrecorded {
            if !gap.opened {
                let opened = gaps::record_inactive(
                    &self.pool,
                    &gap.webhook,
                    Finder::Watchdog,
                    gap.detected_at,
                )
                .await;
                gap.opened = noted(opened, &gap.webhook, "opening");
            }
            let Some(at) = gap.reactivated_at.filter(|_| gap.opened) else {
                continue;
            };
            let closed = gaps::record_active(&self.pool, &gap.webhook, Some(at)).await;
            if noted(closed, &gap.webhook, "closing") {
                done.push(uuid.clone());
            }
        }
        for uuid in done {
            memory.unrecorded.remove(&uuid);
            memory.settled.insert(uuid);
        }
    }

    fn export(&self, webhook: &Webhook) {
        self.metrics
            .daily_webhook(&webhook.uuid, webhook.is_active(), webhook.failed_count());
    }
}

/// Logs a gap that could not be written; says whether it was.
fn noted(result: anyhow::Result<bool>, webhook: &Webhook, doing: &str) -> bool {
    match result {
        Ok(changed) => {
            if changed {
                tracing::info!(uuid = %webhook.uuid, "{doing} a delivery gap");
            }
            true
        }
        Err(e) => {
            tracing::error!(
                uuid = %webhook.uuid,
                error = telemetry::chain(&e),
                "{doing} a delivery gap failed; retried at the next look"
            );
            false
        }
    }
}

/// 1 s, 2 s, 4 s... after consecutive failures, up to the poll interval or 5 minutes.
fn backoff(failures: u32, every: Duration) -> Duration {
    let doubling = Duration::from_secs(1 << failures.clamp(1, 16).saturating_sub(1));
    doubling.min(every.max(LONGEST_BACKOFF))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_back_off_by_doubling_up_to_a_cap() {
        let every = Duration::from_secs(60);
        let waits: Vec<u64> = (1..=11).map(|n| backoff(n, every).as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300]);
        assert_eq!(backoff(40, Duration::from_secs(3600)).as_secs(), 3600);
    }
}
