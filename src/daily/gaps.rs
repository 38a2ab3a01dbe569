//! Delivery gaps on record: opened when a webhook is found not active, closed when it is again or
//! when Daily no longer lists it.

use anyhow::Context;
use sqlx::PgPool;
use time::OffsetDateTime;

use super::webhooks::Webhook;
use crate::store::daily_api::{self as rows, GapStart};

/// Who found the gap, as `delivery_gaps.detected_by` says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finder {
    Watchdog,
    Reactivate,
}

impl Finder {
    fn as_str(self) -> &'static str {
        match self {
            Self::Watchdog => "watchdog",
            Self::Reactivate => "reactivate",
        }
    }
}

/// Opens a gap for a webhook found not active at `detected_at`, unless one is open; says
/// whether it opened one.
pub async fn record_inactive(
    pool: &PgPool,
    webhook: &Webhook,
    finder: Finder,
    detected_at: OffsetDateTime,
) -> anyhow::Result<bool> {
    let open = rows::has_open_gap(pool, &webhook.uuid)
        .await
        .context("reading delivery_gaps")?;
    if open {
        return Ok(false);
    }
    let last_event_at = rows::last_event_received(pool, detected_at)
        .await
        .context("finding the last event received")?;
    let gap = GapStart {
        webhook_uuid: &webhook.uuid,
        webhook_url: &webhook.url,
        state: &webhook.state.to_string(),
        failed_count: webhook.failed_count().min(i64::MAX as u64) as i64,
        last_event_at,
        detected_at,
        detected_by: finder.as_str(),
    };
    rows::open_gap(pool, &gap)
        .await
        .context("writing delivery_gaps")
}

/// Closes the open gap of a webhook now active. `reported`: when Daily says it changed, if known.
pub async fn record_active(
    pool: &PgPool,
    webhook: &Webhook,
    reported: Option<OffsetDateTime>,
) -> anyhow::Result<bool> {
    rows::close_gap(pool, &webhook.uuid, reported)
        .await
        .context("closing the gap in delivery_gaps")
}

/// Closes the open gaps of webhooks Daily no longer lists (deleted, or replaced by a new
/// registration); returns their uuids.
pub async fn record_gone(pool: &PgPool, listed: &[Webhook]) -> anyhow::Result<Vec<String>> {
    let uuids: Vec<&str> = listed.iter().map(|w| w.uuid.as_str()).collect();
    rows::close_gaps_of_gone(pool, &uuids)
        .await
        .context("closing the gaps of webhooks gone from Daily in delivery_gaps")
}
