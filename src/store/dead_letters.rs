//! Dead letters: bodies that could not be stored as events, where they came from and why; the
//! newest of them for `lobbylog dead-letters list`, and those a retry triages again and marks.

use sqlx::PgPool;
use time::OffsetDateTime;

use crate::triage::{Origin, Reject};

/// Keeps dead letters. Except for the intake's, one already kept with the same source and body is
/// skipped, so a backfill rerun or a replayed spool segment adds nothing. A reject of a dead letter
/// being retried ([`Origin::DeadLetter`]) adds no row: that row takes the new reason.
pub(super) async fn write(pool: &PgPool, rejects: &[&Reject]) -> Result<(), sqlx::Error> {
    let (retried, new): (Vec<&Reject>, Vec<&Reject>) = rejects
        .iter()
        .partition(|r| matches!(r.origin, Origin::DeadLetter { .. }));
    insert(pool, &new).await?;
    give_new_reasons(pool, &retried).await
}

/// Inserts dead letters in one statement, skipping those already kept (see [`write`]).
async fn insert(pool: &PgPool, rejects: &[&Reject]) -> Result<(), sqlx::Error> {
    if rejects.is_empty() {
        return Ok(());
    }
    let sources: Vec<String> = rejects.iter().map(|r| r.origin.to_string()).collect();
    let reasons: Vec<&str> = rejects.iter().map(|r| r.reason.as_str()).collect();
    let bodies: Vec<&[u8]> = rejects.iter().map(|r| r.body.as_slice()).collect();
    sqlx::query(
        "insert into dead_letters (source, reason, body)
         select * from unnest($1::text[], $2::text[], $3::bytea[])
         on conflict do nothing",
    )
    .bind(sources)
    .bind(reasons)
    .bind(bodies)
    .execute(pool)
    .await?;
    Ok(())
}

/// Gives retried dead letters that are still rejected their new reason, in one statement; one a
/// concurrent retry marked meanwhile, or a prune deleted, is left alone.
async fn give_new_reasons(pool: &PgPool, rejects: &[&Reject]) -> Result<(), sqlx::Error> {
    let (ids, reasons): (Vec<i64>, Vec<&str>) = rejects
        .iter()
        .filter_map(|r| match r.origin {
            Origin::DeadLetter { id } => Some((id, r.reason.as_str())),
            _ => None,
        })
        .unzip();
    if ids.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "update dead_letters d set reason = u.reason
         from unnest($1::int8[], $2::text[]) as u(id, reason)
         where d.id = u.id and d.retried_at is null",
    )
    .bind(ids)
    .bind(reasons)
    .execute(pool)
    .await?;
    Ok(())
}

/// A dead letter as `lobbylog dead-letters list` shows it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Listed {
    pub id: i64,
    pub received_at: OffsetDateTime,
    pub source: String,
    pub reason: String,
    /// The body's length in bytes.
    pub bytes: i32,
    pub retried_at: Option<OffsetDateTime>,
    pub retried_event_id: Option<String>,
    /// The body, when asked for.
    pub body: Option<Vec<u8>>,
}

/// The `limit` newest dead letters (by `received_at`, then id), newest first; their bodies only
/// if `with_bodies`.
pub async fn newest(
    pool: &PgPool,
    limit: i64,
    with_bodies: bool,
) -> Result<Vec<Listed>, sqlx::Error> {
    sqlx::query_as(
        "select id, received_at, source, reason, length(body) as bytes, retried_at,
                retried_event_id, case when $2 then body end as body
         from dead_letters
         order by received_at desc, id desc
         limit $1",
    )
    .bind(limit)
    .bind(with_bodies)
    .fetch_all(pool)
    .await
}

/// A dead letter's body, to triage again.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Retriable {
    pub id: i64,
    pub body: Vec<u8>,
}

/// The highest dead letter id now (0 when there is none): where a retry of all of them stops,
/// so bad requests the intake keeps meanwhile cannot keep it going.
pub async fn last_id(pool: &PgPool) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("select coalesce(max(id), 0) from dead_letters")
        .fetch_one(pool)
        .await
}

/// Up to `limit` dead letters not yet retried with ids in `after + 1 ..= upto`, by id.
pub async fn not_retried(
    pool: &PgPool,
    after: i64,
    upto: i64,
    limit: i64,
) -> Result<Vec<Retriable>, sqlx::Error> {
    sqlx::query_as(
        "select id, body from dead_letters
         where id > $1 and id <= $2 and retried_at is null
         order by id
         limit $3",
    )
    .bind(after)
    .bind(upto)
    .bind(limit)
    .fetch_all(pool)
    .await
}

/// Dead letter `id`, retried or not; `None` when there is none.
pub async fn one(pool: &PgPool, id: i64) -> Result<Option<Retriable>, sqlx::Error> {
    sqlx::query_as("select id, body from dead_letters where id = $1")
        .bind(id)
        .fetch_optional(pool)
        .await
}

/// Marks dead letters retried, each with the event id it became (`None` for Daily's probe), in
/// one statement. One already marked keeps its mark, so concurrent or repeated retries agree.
pub async fn mark_retried(
    pool: &PgPool,
    marks: &[(i64, Option<&str>)],
) -> Result<u64, sqlx::Error> {
    if marks.is_empty() {
        return Ok(0);
    }
    let (ids, event_ids): (Vec<i64>, Vec<Option<&str>>) = marks.iter().copied().unzip();
    let done = sqlx::query(
        "update dead_letters d set retried_at = now(), retried_event_id = u.event_id
         from unnest($1::int8[], $2::text[]) as u(id, event_id)
         where d.id = u.id and d.retried_at is null",
    )
    .bind(ids)
    .bind(event_ids)
    .execute(pool)
    .await?;
    Ok(done.rows_affected())
}
