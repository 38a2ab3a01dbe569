//! Rebuilding the normalized tables from the stored raw events, page by page (`lobbylog
//! reproject`).

use std::sync::atomic::AtomicBool;

use anyhow::Context;
use sqlx::{PgConnection, PgPool};

use super::{RetentionLock, retention};
use crate::{
    projection,
    triage::{self, Triage},
};

/// Empties the normalized tables of what the raw events can rebuild, then re-projects every
/// stored event, page by page, telling `on_page` how many are done of how many; then rebuilds
/// the knock rollups from the sessions.
///
/// Safe while the intake serves: every page and every live event upsert with the same
/// order-independent rules, so an event projected by both lands the same way. Between the clear
/// and the end of the run, dashboards see the tables refilling. Holds the retention lock, so no
/// prune deletes events between the clear and their re-projection.
pub async fn rebuild_projection(
    pool: &PgPool,
    page_size: i64,
    mut on_page: impl FnMut(u64, u64),
) -> anyhow::Result<u64> {
    let Some(lock) = RetentionLock::take(pool, "reproject", &AtomicBool::new(false)).await? else {
        anyhow::bail!("reproject gave up waiting for the retention lock");
    };
    let total = count_events(pool).await.context("counting stored events")?;
    clear(pool).await?;
    let (mut after, mut done) = (String::new(), 0u64);
    while let Some((read, last)) = reproject_page(pool, &after, page_size)
        .await
        .with_context(|| format!("re-projecting events after {after:?}"))?
    {
        done += read as u64;
        on_page(done, total as u64);
        after = last;
    }
    super::rollups::rebuild(pool)
        .await
        .context("rebuilding the knock rollups")?;
    lock.release().await?;
    Ok(done)
}

/// Everything if nothing was ever pruned; otherwise only the rows that began at or after the
/// retention horizon and whose events are all still stored. The rest are kept: the stored events
/// merge into them as they always merge into existing rows.
async fn clear(pool: &PgPool) -> anyhow::Result<()> {
    let horizon = retention::horizon(pool)
        .await
        .context("reading the retention horizon")?;
    let Some(horizon) = horizon else {
        return clear_projection(pool)
            .await
            .context("clearing the normalized tables");
    };
    let cleared = retention::clear_rebuildable(pool, &horizon)
        .await
        .context("clearing the rows the stored events can rebuild")?;
    tracing::info!(
        cleared,
        pruned_before = horizon,
        "raw events were pruned: rows that began before the horizon, or lost an event, are kept"
    );
    Ok(())
}

/// How many events are stored.
pub async fn count_events(pool: &PgPool) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("select count(*) from webhook_events")
        .fetch_one(pool)
        .await
}

/// Empties the normalized tables (before a `reproject`); raw events are untouched.
pub async fn clear_projection(pool: &PgPool) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    projection::clear(&mut tx).await?;
    tx.commit().await
}

/// Re-projects the stored events after `after` (by event id), at most `limit` of them, in one
/// transaction. Returns how many were read and the last id, or `None` when there are no more.
pub async fn reproject_page(
    pool: &PgPool,
    after: &str,
    limit: i64,
) -> Result<Option<(usize, String)>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let rows: Vec<(String, String)> = sqlx::query_as(
        "select event_id, body::text from webhook_events
         where event_id > $1 order by event_id limit $2",
    )
    .bind(after)
    .bind(limit)
    .fetch_all(&mut *tx)
    .await?;
    let Some((last, _)) = rows.last() else {
        return Ok(None);
    };
    let last = last.clone();
    let mut facts = Vec::new();
    let mut ids = Vec::with_capacity(rows.len());
    let mut errors = Vec::with_capacity(rows.len());
    for (id, body) in &rows {
        let error = match triage::triage(body.as_bytes()) {
            Triage::Event(event) => match projection::facts(&event) {
                Ok(fact) => {
                    facts.extend(fact);
                    None
                }
                Err(error) => Some(error),
            },
            Triage::Probe => None,
            Triage::Reject(rejection) => Some(rejection.0),
        };
        ids.push(id.as_str());
        errors.push(error);
    }
    set_projection_errors(&mut tx, &ids, &errors).await?;
    projection::apply(&mut tx, facts).await?;
    tx.commit().await?;
    Ok(Some((rows.len(), last)))
}

async fn set_projection_errors(
    conn: &mut PgConnection,
    ids: &[&str],
    errors: &[Option<String>],
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "update webhook_events w set projection_error = e.err
         from unnest($1::text[], $2::text[]) as e(id, err)
         where w.event_id = e.id and w.projection_error is distinct from e.err",
    )
    .bind(ids)
    .bind(errors)
    .execute(conn)
    .await?;
    Ok(())
}
