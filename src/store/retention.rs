//! Retention: deleting raw events and dead letters older than a cutoff, and the horizon it leaves.
//!
//! Cutoffs and keyset positions travel as `timestamptz` text: exact both ways, unlike epoch floats.

use sqlx::{PgConnection, PgExecutor, PgPool};

/// The session-level advisory lock held by whoever prunes or reprojects ("lblprune" in ASCII).
const LOCK_KEY: i64 = 0x6c62_6c70_7275_6e65;

/// One batch of a prune: rows found, rows this statement deleted, and where the next batch starts.
#[derive(Debug, Clone, Default)]
pub struct Batch {
    pub selected: u64,
    pub deleted: u64,
    pub last: Option<String>,
}

/// Takes the retention lock for this session if no other session holds it.
pub async fn try_lock(conn: &mut PgConnection) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("select pg_try_advisory_lock($1)")
        .bind(LOCK_KEY)
        .fetch_one(conn)
        .await
}

pub async fn unlock(conn: &mut PgConnection) -> Result<(), sqlx::Error> {
    sqlx::query("select pg_advisory_unlock($1)")
        .bind(LOCK_KEY)
        .execute(conn)
        .await?;
    Ok(())
}

/// The instant `seconds` before Postgres' clock: as `timestamptz` text to bind, and in UTC to show.
pub async fn cutoff(
    db: impl PgExecutor<'_>,
    seconds: u64,
) -> Result<(String, String), sqlx::Error> {
    sqlx::query_as(
        "select c::text, to_char(c at time zone 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')
         from (select now() - make_interval(secs => $1::float8) as c) as cutoff",
    )
    .bind(seconds as f64)
    .fetch_one(db)
    .await
}

/// The distinct event types, one index probe each rather than a scan of the table.
const TYPES: &str = "with recursive types(t) as (
    select min(event_type) from webhook_events
    union all
    select (select min(event_type) from webhook_events where event_type > t)
    from types where t is not null
)";

/// Every stored event type, found by skipping through the `(event_type, event_ts)` index.
pub async fn event_types(db: impl PgExecutor<'_>) -> Result<Vec<String>, sqlx::Error> {
    let sql = format!("{TYPES} select t from types where t is not null");
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .fetch_all(db)
        .await
}

/// How many events of `event_type` are older than `cutoff` (`event_ts`, else `received_at`).
pub async fn count_events_before(
    db: impl PgExecutor<'_>,
    event_type: &str,
    cutoff: &str,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "select (select count(*) from webhook_events
                 where event_type = $1 and event_ts < $2::timestamptz)
              + (select count(*) from webhook_events
                 where event_type = $1 and event_ts is null and received_at < $2::timestamptz)",
    )
    .bind(event_type)
    .bind(cutoff)
    .fetch_one(db)
    .await
}

pub async fn count_dead_letters_before(
    db: impl PgExecutor<'_>,
    cutoff: &str,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("select count(*) from dead_letters where received_at < $1::timestamptz")
        .bind(cutoff)
        .fetch_one(db)
        .await
}

/// Deletes the next `limit` events of `event_type` sent before `cutoff`, oldest first, from
/// `after` on (inclusive: rows already deleted there are simply not found again).
///
/// The index on `(event_type, event_ts)` finds them without a scan of the table; they are
/// deleted by `ctid`, in the same statement, so no id needs a second index lookup.
pub async fn delete_events_before(
    db: impl PgExecutor<'_>,
    event_type: &str,
    after: Option<&str>,
    cutoff: &str,
    limit: i64,
) -> Result<Batch, sqlx::Error> {
    let sql = batch_sql(
        "select ctid, event_ts as at from webhook_events
         where event_type = $1 and event_ts >= coalesce($2::timestamptz, '-infinity')
           and event_ts < $3::timestamptz
         order by event_ts limit $4",
        "webhook_events",
    );
    sqlx::query_as::<_, BatchRow>(sqlx::AssertSqlSafe(sql))
        .bind(event_type)
        .bind(after)
        .bind(cutoff)
        .bind(limit)
        .fetch_one(db)
        .await
        .map(Batch::from)
}

/// The same for events without `event_ts` (rare: Daily always sends one), by `received_at`.
/// No keyset: these rows come in no useful order, and there are few of them.
pub async fn delete_unstamped_events_before(
    db: impl PgExecutor<'_>,
    event_type: &str,
    cutoff: &str,
    limit: i64,
) -> Result<Batch, sqlx::Error> {
    let sql = batch_sql(
        "select ctid, received_at as at from webhook_events
         where event_type = $1 and event_ts is null and received_at < $2::timestamptz
         limit $3",
        "webhook_events",
    );
    sqlx::query_as::<_, BatchRow>(sqlx::AssertSqlSafe(sql))
        .bind(event_type)
        .bind(cutoff)
        .bind(limit)
        .fetch_one(db)
        .await
        .map(Batch::from)
}

/// Deletes the next `limit` dead letters received before `cutoff`, oldest first, from `after` on.
pub async fn delete_dead_letters_before(
    db: impl PgExecutor<'_>,
    after: Option<&str>,
    cutoff: &str,
    limit: i64,
) -> Result<Batch, sqlx::Error> {
    let sql = batch_sql(
        "select ctid, received_at as at from dead_letters
         where received_at >= coalesce($1::timestamptz, '-infinity')
           and received_at < $2::timestamptz
         order by received_at limit $3",
        "dead_letters",
    );
    sqlx::query_as::<_, BatchRow>(sqlx::AssertSqlSafe(sql))
        .bind(after)
        .bind(cutoff)
        .bind(limit)
        .fetch_one(db)
        .await
        .map(Batch::from)
}

type BatchRow = (i64, i64, Option<String>);

impl From<BatchRow> for Batch {
    fn from((selected, deleted, last): BatchRow) -> Self {
        Self {
            selected: selected as u64,
            deleted: deleted as u64,
            last,
        }
    }
}

/// One statement that deletes what `doomed` selects (`ctid` and `at`, its time). A row updated
/// meanwhile has a new `ctid` and is left for the next prune; counting `doomed` rather than
/// `gone` keeps that from ending a run early.
fn batch_sql(doomed: &str, table: &str) -> String {
    format!(
        "with doomed as ({doomed}),
         gone as (delete from {table} where ctid = any(array(select ctid from doomed)) returning 1)
         select (select count(*) from doomed), (select count(*) from gone),
                (select max(at)::text from doomed)"
    )
}

/// Moves the horizon to `cutoff` unless it is already past it.
pub async fn advance_horizon(db: impl PgExecutor<'_>, cutoff: &str) -> Result<(), sqlx::Error> {
    sqlx::query(
        "insert into retention_horizon (pruned_before) values ($1::timestamptz)
         on conflict (only_row) do update
         set pruned_before = excluded.pruned_before, moved_at = now()
         where retention_horizon.pruned_before < excluded.pruned_before",
    )
    .bind(cutoff)
    .execute(db)
    .await?;
    Ok(())
}

/// Raw events before this may have been pruned; `None` if nothing ever was.
pub async fn horizon(db: impl PgExecutor<'_>) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar("select pruned_before::text from retention_horizon")
        .fetch_optional(db)
        .await
}

/// When the oldest stored event was sent (epoch seconds), `None` when there is none. One index
/// probe per event type, so it stays cheap however many events are stored.
pub async fn oldest_event(db: impl PgExecutor<'_>) -> Result<Option<f64>, sqlx::Error> {
    let sql = format!(
        "{TYPES}
         select extract(epoch from min(least(
             (select min(event_ts) from webhook_events where event_type = t),
             (select min(received_at) from webhook_events where event_type = t and event_ts is null)
         )))::float8
         from types where t is not null"
    );
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .fetch_one(db)
        .await
}

/// When the newest stored event was sent (epoch seconds), `None` when there is none; one index
/// probe per event type.
pub async fn newest_event(db: impl PgExecutor<'_>) -> Result<Option<f64>, sqlx::Error> {
    let sql = format!(
        "{TYPES}
         select extract(epoch from max((select max(event_ts) from webhook_events where event_type = t)))::float8
         from types where t is not null"
    );
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .fetch_one(db)
        .await
}

/// The normalized tables and the columns naming the events a row was built from. The attributes
/// slot needs no check: its event is always the one of the left (ended) slot, or, without one,
/// of the joined (started) slot.
const BUILT_FROM: [(&str, [&str; 2]); 3] = [
    ("waiting_sessions", ["joined_event_id", "left_event_id"]),
    ("participant_sessions", ["joined_event_id", "left_event_id"]),
    ("meetings", ["started_event_id", "ended_event_id"]),
];

/// Before a reproject after a prune: deletes the rows that began at or after `horizon` and whose
/// events are all still stored, so reproject rebuilds them whole. Every other row is kept, and
/// reproject merges the events that remain into it. Returns the rows deleted.
pub async fn clear_rebuildable(pool: &PgPool, horizon: &str) -> Result<u64, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let mut deleted = 0;
    for (table, events) in BUILT_FROM {
        // `collate "default"` lets the primary key of webhook_events serve the lookup.
        let stored = events.map(|column| {
            format!(
                "(t.{column} is null or exists (select 1 from webhook_events e \
                 where e.event_id = t.{column} collate \"default\"))"
            )
        });
        let sql = format!(
            "delete from {table} t where t.started_at >= $1::timestamptz and {} and {}",
            stored[0], stored[1]
        );
        deleted += sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(horizon)
            .execute(&mut *tx)
            .await?
            .rows_affected();
    }
    tx.commit().await?;
    Ok(deleted)
}
