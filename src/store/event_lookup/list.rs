//! Lists of stored events, newest first by `event_ts`, one query per shape of filter, each bounded
//! by an index and the limit (plans in docs/operations.md#finding-events). No index is added on
//! `webhook_events`: every one would cost each intake insert.

use sqlx::{PgPool, Postgres, postgres::PgArguments, query::QueryAs};

use super::{EventFilter, StoredEvent};

macro_rules! columns {
    () => {
        "e.event_id, e.event_type, e.version, e.event_ts, e.received_at, e.body, e.projection_error"
    };
}

/// The events of the rows in `keys` (a CTE of slot columns), by primary key, filtered by type
/// (`$1`) and time (`$2`, `$3`), at most `$4`; `keys` binds from `$5` on. `attrs_key` is the id
/// behind a one-letter prefix; the slots are `collate "C"`, so the ids are turned back to the
/// default collation of the primary key, or Postgres reads every event instead.
macro_rules! events_of_keys {
    () => {
        concat!(
            "select ",
            columns!(),
            " from webhook_events e
             where e.event_id = any (array(
                     select id collate \"default\"
                     from keys, unnest(array[joined_event_id, left_event_id, substr(attrs_key, 2)]) as id))
               and ($1::text is null or e.event_type = $1)
               and ($2::timestamptz is null or e.event_ts >= $2)
               and ($3::timestamptz is null or e.event_ts < $3)
             order by e.event_ts desc nulls last, e.event_id desc
             limit $4"
        )
    };
}

type EventsQuery<'q> = QueryAs<'q, Postgres, StoredEvent, PgArguments>;

/// Binds what `events_of_keys!` reads: `$1` to `$4`.
fn bind_filter<'q>(query: EventsQuery<'q>, filter: &'q EventFilter) -> EventsQuery<'q> {
    query
        .bind(filter.event_type.as_deref())
        .bind(filter.since)
        .bind(filter.until)
        .bind(filter.limit)
}

/// The events `filter` selects, newest first, at most `filter.limit`.
pub async fn list(pool: &PgPool, filter: &EventFilter) -> sqlx::Result<Vec<StoredEvent>> {
    match (&filter.room, &filter.session_id, &filter.event_type) {
        (Some(room), Some(session_id), _) => of_session(pool, room, session_id, filter).await,
        (Some(room), None, _) => of_room(pool, room, filter).await,
        (None, _, Some(event_type)) => of_type(pool, event_type, filter).await,
        (None, _, None) => of_any_type(pool, filter).await,
    }
}

/// The events behind one knock and one call session: their rows by primary key.
async fn of_session(
    pool: &PgPool,
    room: &str,
    session_id: &str,
    filter: &EventFilter,
) -> sqlx::Result<Vec<StoredEvent>> {
    let sql = concat!(
        "with keys as (
             select joined_event_id, left_event_id, attrs_key from waiting_sessions
             where room = $5 and session_id = $6
             union all
             select joined_event_id, left_event_id, attrs_key from participant_sessions
             where room = $5 and session_id = $6
         ) ",
        events_of_keys!()
    );
    bind_filter(sqlx::query_as(sql), filter)
        .bind(room)
        .bind(session_id)
        .fetch_all(pool)
        .await
}

/// The events behind the room's newest knocks, call sessions and meetings that began before
/// `until`, `limit` of each, by `(room, started_at)`.
async fn of_room(
    pool: &PgPool,
    room: &str,
    filter: &EventFilter,
) -> sqlx::Result<Vec<StoredEvent>> {
    let sql = concat!(
        "with keys as (
             (select joined_event_id, left_event_id, attrs_key from waiting_sessions
              where room = $5 and started_at < coalesce($3, 'infinity')
              order by started_at desc limit $4)
             union all
             (select joined_event_id, left_event_id, attrs_key from participant_sessions
              where room = $5 and started_at < coalesce($3, 'infinity')
              order by started_at desc limit $4)
             union all
             (select started_event_id, ended_event_id, attrs_key from meetings
              where room = $5 and started_at < coalesce($3, 'infinity')
              order by started_at desc limit $4)
         ) ",
        events_of_keys!()
    );
    bind_filter(sqlx::query_as(sql), filter)
        .bind(room)
        .fetch_all(pool)
        .await
}

/// One type's events in the window, by `(event_type, event_ts)` read backwards.
async fn of_type(
    pool: &PgPool,
    event_type: &str,
    filter: &EventFilter,
) -> sqlx::Result<Vec<StoredEvent>> {
    let sql = concat!(
        "select ",
        columns!(),
        " from webhook_events e
         where e.event_type = $1
           and e.event_ts >= coalesce($2, '-infinity') and e.event_ts < coalesce($3, 'infinity')
         order by e.event_ts desc, e.event_id desc
         limit $4"
    );
    sqlx::query_as(sql)
        .bind(event_type)
        .bind(filter.since)
        .bind(filter.until)
        .bind(filter.limit)
        .fetch_all(pool)
        .await
}

/// Every type's events in the window: the types stored, found by skipping through
/// `(event_type, event_ts)` one type at a time, then the newest `limit` of each from the same
/// index, then the newest `limit` of those.
async fn of_any_type(pool: &PgPool, filter: &EventFilter) -> sqlx::Result<Vec<StoredEvent>> {
    let sql = concat!(
        "with recursive types (event_type) as (
             (select event_type from webhook_events order by event_type limit 1)
             union all
             select (select w.event_type from webhook_events w
                     where w.event_type > t.event_type order by w.event_type limit 1)
             from types t where t.event_type is not null
         ), newest as (
             select n.event_id, n.event_ts
             from types t cross join lateral (
                 select w.event_id, w.event_ts from webhook_events w
                 where w.event_type = t.event_type
                   and w.event_ts >= coalesce($1, '-infinity') and w.event_ts < coalesce($2, 'infinity')
                 order by w.event_ts desc
                 limit $3) n
             where t.event_type is not null
             order by n.event_ts desc, n.event_id desc
             limit $3
         )
         select ",
        columns!(),
        " from newest n join webhook_events e on e.event_id = n.event_id
         order by e.event_ts desc, e.event_id desc"
    );
    sqlx::query_as(sql)
        .bind(filter.since)
        .bind(filter.until)
        .bind(filter.limit)
        .fetch_all(pool)
        .await
}
