//! Stored events for operators: one by id with the projected row it fills, and bounded lists by
//! room, session, type and time, each through an index the intake already keeps up.

mod filter;
mod json;
mod list;

use sqlx::PgPool;
use time::OffsetDateTime;

pub use self::{
    filter::{DEFAULT_LIMIT, EventFilter, FilterInput, MAX_LIMIT, MAX_TEXT_BYTES, check_text},
    json::{list_json, rfc3339},
    list::list,
};
use crate::{
    projection,
    triage::{self, Triage},
};

/// One row of `webhook_events`.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct StoredEvent {
    pub event_id: String,
    pub event_type: String,
    pub version: Option<String>,
    pub event_ts: Option<OffsetDateTime>,
    pub received_at: OffsetDateTime,
    pub body: serde_json::Value,
    pub projection_error: Option<String>,
}

/// The projected row an event goes to, as it is now.
#[derive(Debug, Clone, PartialEq)]
pub struct ProjectedRow {
    /// `waiting_sessions`, `participant_sessions` or `meetings`.
    pub table: &'static str,
    /// The row's key, column by column.
    pub key: Vec<(&'static str, String)>,
    /// Whether the row exists (not when, say, a reproject is refilling the tables).
    pub exists: bool,
    /// The row's columns that name this event; empty when other events fill its slots (an event
    /// with a smaller id won them).
    pub holds: Vec<&'static str>,
}

/// A stored event, and the row its projection fills: none for a type that is not projected or a
/// payload that could not be (see `projection_error`).
#[derive(Debug, Clone, PartialEq)]
pub struct FoundEvent {
    pub event: StoredEvent,
    pub projection: Option<ProjectedRow>,
}

/// The event stored under `id` (by primary key), and its projected row (by that row's key).
pub async fn find(pool: &PgPool, id: &str) -> sqlx::Result<Option<FoundEvent>> {
    let event: Option<StoredEvent> = sqlx::query_as(
        "select event_id, event_type, version, event_ts, received_at, body, projection_error
         from webhook_events where event_id = $1",
    )
    .bind(id)
    .fetch_optional(pool)
    .await?;
    let Some(event) = event else {
        return Ok(None);
    };
    let projection = match row_of(&event) {
        Some((table, key)) => look_up_row(pool, &event.event_id, table, key).await?,
        None => None,
    };
    Ok(Some(FoundEvent { event, projection }))
}

/// The table and key the projection gives the stored body, read as `reproject` reads it.
fn row_of(event: &StoredEvent) -> Option<(&'static str, Vec<(&'static str, String)>)> {
    let Triage::Event(parsed) = triage::triage(event.body.to_string().as_bytes()) else {
        return None;
    };
    let fact = projection::facts(&parsed).ok()??;
    let (table, key) = fact.row();
    Some((
        table,
        key.into_iter().map(|(c, v)| (c, v.to_owned())).collect(),
    ))
}

/// Which slot columns of the row name `id`; `attrs_key` holds the id behind a one-letter prefix.
/// None for a table this read does not know.
async fn look_up_row(
    pool: &PgPool,
    id: &str,
    table: &'static str,
    key: Vec<(&'static str, String)>,
) -> sqlx::Result<Option<ProjectedRow>> {
    let (sql, columns): (&str, [&'static str; 3]) = match table {
        "waiting_sessions" => (
            "select joined_event_id = $3, left_event_id = $3, substr(attrs_key, 2) = $3
             from waiting_sessions where room = $1 and session_id = $2",
            ["joined_event_id", "left_event_id", "attrs_key"],
        ),
        "participant_sessions" => (
            "select joined_event_id = $3, left_event_id = $3, substr(attrs_key, 2) = $3
             from participant_sessions where room = $1 and session_id = $2",
            ["joined_event_id", "left_event_id", "attrs_key"],
        ),
        "meetings" => (
            "select started_event_id = $2, ended_event_id = $2, substr(attrs_key, 2) = $2
             from meetings where meeting_id = $1",
            ["started_event_id", "ended_event_id", "attrs_key"],
        ),
        _ => return Ok(None),
    };
    let mut query = sqlx::query_as::<_, (Option<bool>, Option<bool>, Option<bool>)>(sql);
    for (_, value) in &key {
        query = query.bind(value);
    }
    let found = query.bind(id).fetch_optional(pool).await?;
    let holds = found.map(|(a, b, c)| {
        columns
            .into_iter()
            .zip([a, b, c])
            .filter_map(|(column, holds)| holds.unwrap_or(false).then_some(column))
            .collect()
    });
    Ok(Some(ProjectedRow {
        table,
        key,
        exists: holds.is_some(),
        holds: holds.unwrap_or_default(),
    }))
}
