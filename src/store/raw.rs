//! The raw insert into `webhook_events`: bound arrays for live batches, COPY for large ones.

use std::collections::HashSet;

use sqlx::{
    PgConnection, Postgres, Row,
    postgres::{PgArguments, PgRow},
    query::Query,
};

use crate::{projection::Fact, triage::Event};

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

/// Inserts raw rows, skipping ids already stored; says which were new.
pub(super) async fn insert(
    conn: &mut PgConnection,
    events: &[&Event],
    projected: &[Result<Option<Fact>, String>],
    how: Insert,
) -> Result<Inserted, sqlx::Error> {
    let errors: Vec<Option<&str>> = projected
        .iter()
        .map(|p| p.as_ref().err().map(String::as_str))
        .collect();
    match how {
        Insert::Copy => insert_by_copy(conn, events, &errors).await,
        Insert::Arrays => insert_by_arrays(conn, events, &errors).await,
    }
}

/// Which of `events`, whose ids are stored already, differ from the stored row in type or in
/// body (`event_ts` aside: Daily may restamp it on a retry).
pub(super) async fn conflicting<'c>(
    conn: impl sqlx::PgExecutor<'c>,
    events: &[&Event],
) -> Result<HashSet<String>, sqlx::Error> {
    if events.is_empty() {
        return Ok(HashSet::new());
    }
    let ids: Vec<&str> = events.iter().map(|e| e.id.as_str()).collect();
    let types: Vec<&str> = events.iter().map(|e| e.event_type.as_str()).collect();
    let bodies: Vec<&str> = events.iter().map(|e| e.raw.as_str()).collect();
    let conflicting: Vec<String> = sqlx::query_scalar(
        "select w.event_id
         from webhook_events w
         join unnest($1::text[], $2::text[], $3::text[]) as e(id, typ, body) on w.event_id = e.id
         where w.event_type <> e.typ or (w.body - 'event_ts') <> (e.body::jsonb - 'event_ts')",
    )
    .bind(ids)
    .bind(types)
    .bind(bodies)
    .fetch_all(conn)
    .await?;
    Ok(conflicting.into_iter().collect())
}

/// The raw insert of a batch, as a statement of its own or the first part of a larger one: its
/// arrays are `$1` to `$6` (see [`bind_rows`]), the ids it inserted come back.
pub(super) const INSERT_RETURNING_IDS: &str = "insert into webhook_events \
     (event_id, event_type, version, event_ts, body, projection_error) \
     select e.id, e.typ, e.ver, to_timestamp(e.ts), e.body::jsonb, e.err \
     from unnest($1::text[], $2::text[], $3::text[], $4::float8[], $5::text[], $6::text[]) \
          as e(id, typ, ver, ts, body, err) \
     on conflict (event_id) do nothing \
     returning event_id";

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
    query
        .bind(ids)
        .bind(types)
        .bind(versions)
        .bind(timestamps)
        .bind(bodies)
        .bind(errors.to_vec())
}

/// What the final select of a statement built on [`INSERT_RETURNING_IDS`] says of it, given the
/// batch's size as `$7`: null when every row went in, else the ids that did (rare: an id was
/// stored already).
pub(super) const INSERTED_IDS_UNLESS_ALL: &str =
    "case when count(*) = $7 then null else coalesce(array_agg(event_id), '{}') end";

impl Inserted {
    pub(super) fn from_ids(ids: Option<Vec<String>>) -> Self {
        match ids {
            None => Self::All,
            Some(ids) => Self::Only(ids.into_iter().collect()),
        }
    }
}

async fn insert_by_arrays(
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

/// A large batch: the ids already stored are looked up first (one indexed query), and the rest go
/// by binary COPY, the cheapest way into the table. Should an id be stored meanwhile (a batch
/// committing concurrently, the live intake), the COPY is undone to a savepoint and the batch
/// takes the array insert, which skips it.
async fn insert_by_copy(
    conn: &mut PgConnection,
    events: &[&Event],
    errors: &[Option<&str>],
) -> Result<Inserted, sqlx::Error> {
    let ids: Vec<&str> = events.iter().map(|e| e.id.as_str()).collect();
    let stored = stored_ids(&mut *conn, &ids).await?;
    let (new, new_errors): (Vec<&Event>, Vec<Option<&str>>) = events
        .iter()
        .zip(errors)
        .filter(|(e, _)| !stored.contains(e.id.as_str()))
        .map(|(e, err)| (*e, *err))
        .unzip();
    sqlx::query("savepoint direct_copy")
        .execute(&mut *conn)
        .await?;
    match copy(conn, &new, &new_errors).await {
        Ok(()) => {
            sqlx::query("release savepoint direct_copy")
                .execute(&mut *conn)
                .await?;
            Ok(match stored.is_empty() {
                true => Inserted::All,
                false => Inserted::Only(new.iter().map(|e| e.id.clone()).collect()),
            })
        }
        // unique_violation: an id was stored meanwhile.
        Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("23505") => {
            sqlx::query("rollback to savepoint direct_copy")
                .execute(&mut *conn)
                .await?;
            insert_by_arrays(conn, events, errors).await
        }
        Err(e) => Err(e),
    }
}

/// Rows sent to COPY at a time, so the buffer stays small whatever the batch.
const COPY_CHUNK: usize = 256 * 1024;

/// COPY of `events` into `webhook_events`, streamed in chunks of COPY's binary format.
async fn copy(
    conn: &mut PgConnection,
    events: &[&Event],
    errors: &[Option<&str>],
) -> Result<(), sqlx::Error> {
    let mut copy_in = conn
        .copy_in_raw(
            "copy webhook_events (event_id, event_type, version, event_ts, body, projection_error) \
             from stdin with (format binary)",
        )
        .await?;
    let mut buffer = Vec::with_capacity(COPY_CHUNK + 4096);
    buffer.extend_from_slice(b"PGCOPY\n\xff\r\n\0");
    buffer.extend_from_slice(&[0; 8]); // flags, header extension length
    for (event, error) in events.iter().zip(errors) {
        push_row(&mut buffer, event, *error);
        if buffer.len() >= COPY_CHUNK {
            if let Err(e) = copy_in.send(buffer.as_slice()).await {
                copy_in.abort(e.to_string()).await?;
                return Err(e);
            }
            buffer.clear();
        }
    }
    buffer.extend_from_slice(&(-1i16).to_be_bytes());
    if let Err(e) = copy_in.send(buffer.as_slice()).await {
        copy_in.abort(e.to_string()).await?;
        return Err(e);
    }
    copy_in.finish().await.map(|_| ())
}

/// Seconds between the Unix epoch and Postgres' (2000-01-01).
const POSTGRES_EPOCH: f64 = 946_684_800.0;

/// One row in COPY's binary format, columns as in [`copy`].
fn push_row(out: &mut Vec<u8>, event: &Event, error: Option<&str>) {
    out.extend_from_slice(&6i16.to_be_bytes());
    push_text(out, Some(&event.id));
    push_text(out, Some(&event.event_type));
    push_text(out, event.version.as_deref());
    match event.event_ts {
        // As Postgres' to_timestamp(float8) computes it, so both paths store the same instant.
        Some(ts) => {
            let micros = ((ts - POSTGRES_EPOCH) * 1e6).round_ties_even() as i64;
            out.extend_from_slice(&8i32.to_be_bytes());
            out.extend_from_slice(&micros.to_be_bytes());
        }
        None => out.extend_from_slice(&(-1i32).to_be_bytes()),
    }
    // jsonb's binary form: format version 1, then the JSON text.
    out.extend_from_slice(&(event.raw.len() as i32 + 1).to_be_bytes());
    out.push(1);
    out.extend_from_slice(event.raw.as_bytes());
    push_text(out, error);
}

fn push_text(out: &mut Vec<u8>, value: Option<&str>) {
    match value {
        Some(text) => {
            out.extend_from_slice(&(text.len() as i32).to_be_bytes());
            out.extend_from_slice(text.as_bytes());
        }
        None => out.extend_from_slice(&(-1i32).to_be_bytes()),
    }
}
