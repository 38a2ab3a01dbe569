//! Paging through the stored events to rebuild the normalized tables (`lobbylog reproject`).

use sqlx::{PgConnection, PgPool};

use crate::{
    event::{self, Triage},
    projection,
};

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
        let error = match event::triage(body.as_bytes()) {
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
