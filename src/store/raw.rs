//! The raw insert into `webhook_events`: bound arrays for live batches, COPY (`copy.rs`) for
//! large ones; and how duplicates compare with the stored rows.

use std::collections::{HashMap, HashSet};

use sqlx::{
    PgConnection, Postgres, Row,
    postgres::{PgArguments, PgRow},
    query::Query,
};

use crate::triage::{DIGEST_LEN, Event};

/// How a batch's raw rows go in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Insert {
    /// One statement with bound arrays: the fewest round trips, for live batches.
    Arrays,
    /// Binary COPY after a lookup of the ids already stored: about a third less work for
    /// Postgres per row, for the large batches of a backfill.
    Copy,
}

/// Which events of a batch were new.
pub(super) enum Inserted {
    All,
    Only(HashSet<String>),
}

impl Inserted {
    pub(super) fn contains(&self, id: &str) -> bool {
        match self {
            Self::All => true,
            Self::Only(ids) => ids.contains(id),
        }
    }
}

/// Which of `events`, whose ids are stored already, differ from the stored row in type or in
/// body (`event_ts` aside: Daily may restamp it on a retry).
pub(super) async fn conflicting<'c>(
    conn: impl sqlx::PgExecutor<'c>,
    events: &[&Event],
) -> Result<HashSet<String>, sqlx::Error> {
    let stored = compare_with_stored(conn, events).await?;
    Ok(stored
        .into_iter()
        .filter_map(|(id, differs)| differs.then_some(id))
        .collect())
}

/// Which of `events` are stored already, each with whether it differs from the stored row (as
/// [`conflicting`] tells): one indexed lookup per event. A stored digest equal to the event's
/// settles it without reading either body as jsonb.
pub(super) async fn compare_with_stored<'c>(
    conn: impl sqlx::PgExecutor<'c>,
    events: &[&Event],
) -> Result<HashMap<String, bool>, sqlx::Error> {
    if events.is_empty() {
        return Ok(HashMap::new());
    }
    let ids: Vec<&str> = events.iter().map(|e| e.id.as_str()).collect();
    let types: Vec<&str> = events.iter().map(|e| e.event_type.as_str()).collect();
    let bodies: Vec<&str> = events.iter().map(|e| e.raw.as_str()).collect();
    let digests: Vec<[u8; DIGEST_LEN]> = events.iter().map(|e| e.digest()).collect();
    let stored: Vec<(String, bool)> = sqlx::query_as(
        "select w.event_id,
                case when w.payload_digest = e.digest then false
                     else w.event_type <> e.typ
                          or (w.body - 'event_ts') <> (e.body::jsonb - 'event_ts') end
         from unnest($1::text[], $2::text[], $3::text[], $4::bytea[]) as e(id, typ, body, digest)
         join webhook_events w on w.event_id = e.id",
    )
    .bind(ids)
    .bind(types)
    .bind(bodies)
    .bind(digests)
    .fetch_all(conn)
    .await?;
    Ok(stored.into_iter().collect())
}

/// The raw insert of a batch's arrays, `$1` to `$7` (see [`bind_rows`]).
macro_rules! insert_rows {
    () => {
        "insert into webhook_events \
         (event_id, event_type, version, event_ts, body, projection_error, payload_digest) \
         select e.id, e.typ, e.ver, to_timestamp(e.ts), e.body::jsonb, e.err, e.digest \
         from unnest($1::text[], $2::text[], $3::text[], $4::float8[], $5::text[], $6::text[], \
                     $7::bytea[]) as e(id, typ, ver, ts, body, err, digest)"
    };
}

/// The raw insert of a batch, as a statement of its own or the first part of a larger one: the
/// ids it inserted come back; those stored already are skipped.
pub(super) const INSERT_RETURNING_IDS: &str = concat!(
    insert_rows!(),
    " on conflict (event_id) do nothing returning event_id"
);

/// The raw insert of a batch none of whose ids is stored, as the first part of a larger
/// statement: an id stored already fails it (`unique_violation` on [`PRIMARY_KEY`]), undoing
/// all of it. Cheaper than [`INSERT_RETURNING_IDS`] for Postgres: it does not look each id up
/// before inserting it (a speculative insertion), nor log the insertion's confirmation.
pub(super) const INSERT_NEW: &str = concat!(insert_rows!(), " returning event_id");

/// The name of `webhook_events`' primary key, as a unique violation names it.
pub(super) const PRIMARY_KEY: &str = "webhook_events_pkey";

/// Whether the error is the unique violation of an id stored already (or committed meanwhile by
/// another batch).
pub(super) fn names_stored_id(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(e)
        if e.code().as_deref() == Some("23505") && e.constraint() == Some(PRIMARY_KEY))
}

/// Binds the arrays of [`INSERT_RETURNING_IDS`], one element per event.
pub(super) fn bind_rows<'q>(
    query: Query<'q, Postgres, PgArguments>,
    events: &[&'q Event],
    errors: &[Option<&'q str>],
) -> Query<'q, Postgres, PgArguments> {
    let ids: Vec<&str> = events.iter().map(|e| e.id.as_str()).collect();
    let types: Vec<&str> = events.iter().map(|e| e.event_type.as_str()).collect();
    let versions: Vec<Option<&str>> = events.iter().map(|e| e.version.as_deref()).collect();
    let timestamps: Vec<Option<f64>> = events.iter().map(|e| e.event_ts).collect();
    let bodies: Vec<&str> = events.iter().map(|e| e.raw.as_str()).collect();
    let digests: Vec<[u8; DIGEST_LEN]> = events.iter().map(|e| e.digest()).collect();
    query
        .bind(ids)
        .bind(types)
        .bind(versions)
        .bind(timestamps)
        .bind(bodies)
        .bind(errors.to_vec())
        .bind(digests)
}

/// What the final select of a statement built on [`INSERT_RETURNING_IDS`] says of it, given the
/// batch's size as `$8`: null when every row went in, else the ids that did (rare: an id was
/// stored already).
pub(super) const INSERTED_IDS_UNLESS_ALL: &str =
    "case when count(*) = $8 then null else coalesce(array_agg(event_id), '{}') end";

impl Inserted {
    pub(super) fn from_ids(ids: Option<Vec<String>>) -> Self {
        match ids {
            None => Self::All,
            Some(ids) => Self::Only(ids.into_iter().collect()),
        }
    }
}

pub(super) async fn insert_by_arrays(
    conn: &mut PgConnection,
    events: &[&Event],
    errors: &[Option<&str>],
) -> Result<Inserted, sqlx::Error> {
    let sql = format!(
        "with inserted as ({INSERT_RETURNING_IDS}) select {INSERTED_IDS_UNLESS_ALL} from inserted"
    );
    let query = bind_rows(sqlx::query(sqlx::AssertSqlSafe(sql)), events, errors);
    let inserted: Option<Vec<String>> = query
        .bind(events.len() as i64)
        .try_map(|row: PgRow| row.try_get(0))
        .fetch_one(conn)
        .await?;
    Ok(Inserted::from_ids(inserted))
}

/// Which of `ids` are stored in `webhook_events` (one indexed query).
pub(super) async fn stored_ids<'c>(
    conn: impl sqlx::PgExecutor<'c>,
    ids: &[&str],
) -> Result<HashSet<String>, sqlx::Error> {
    let stored: Vec<String> =
        sqlx::query_scalar("select event_id from webhook_events where event_id = any($1)")
            .bind(ids)
            .fetch_all(conn)
            .await?;
    Ok(stored.into_iter().collect())
}

/// Which of `ids` are stored, each with its payload digest (null for rows stored before digests
/// were kept): one indexed query, no body sent or read.
pub(super) async fn stored_digests<'c>(
    conn: impl sqlx::PgExecutor<'c>,
    ids: &[&str],
) -> Result<HashMap<String, Option<Vec<u8>>>, sqlx::Error> {
    let stored: Vec<(String, Option<Vec<u8>>)> = sqlx::query_as(
        "select event_id, payload_digest from webhook_events where event_id = any($1)",
    )
    .bind(ids)
    .fetch_all(conn)
    .await?;
    Ok(stored.into_iter().collect())
}
