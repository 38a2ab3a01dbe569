//! Dashboard reads, each bounded in time: over every room from the rollups (`rollups`), over one
//! room exactly from the sessions (`exact`).

mod exact;
mod rollups;

use sqlx::PgPool;

pub use self::{
    exact::{summarize_room, tally_room_days},
    rollups::{summarize_rooms, tally_days},
};

/// Which knocks a read covers: those of the whole UTC days from that of `since` (seconds since the
/// epoch, the start of a UTC day) to today.
#[derive(Debug, Clone, PartialEq)]
pub struct Window {
    pub since: f64,
}

/// How a knock ended, as the `knocks` view says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KnockOutcome {
    Admitted,
    Abandoned,
    Waiting,
    Unresolved,
}

impl KnockOutcome {
    pub const ALL: [Self; 4] = [
        Self::Admitted,
        Self::Abandoned,
        Self::Waiting,
        Self::Unresolved,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Admitted => "admitted",
            Self::Abandoned => "abandoned",
            Self::Waiting => "waiting",
            Self::Unresolved => "unresolved",
        }
    }
}

impl TryFrom<String> for KnockOutcome {
    type Error = String;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::ALL
            .into_iter()
            .find(|o| o.as_str() == value)
            .ok_or_else(|| format!("unknown knock outcome {value:?}"))
    }
}

/// The wait ranges of `knock_wait_range` (docs/analytics.md), in order.
pub const WAIT_BUCKETS: [&str; 5] = ["0-10 s", "10-30 s", "30-60 s", "1-5 min", "5 min or more"];

/// One UTC day's knocks (in one room or in all), as the charts need them.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct DayTally {
    pub day: String,
    pub admitted: i32,
    pub abandoned: i32,
    pub waiting: i32,
    pub unresolved: i32,
    /// Abandoned knocks by UTC hour they began, 24 counts.
    pub abandoned_by_hour: Vec<i32>,
    /// Abandoned and admitted knocks by wait range (`WAIT_BUCKETS`), 5 counts each.
    pub abandoned_waits: Vec<i32>,
    pub admitted_waits: Vec<i32>,
}

/// One room's knocks over the window, and the percentiles of their waits.
#[derive(Debug, Clone, PartialEq)]
pub struct RoomSummary {
    pub room: String,
    pub knocks: i64,
    pub admitted: i64,
    pub abandoned: i64,
    pub abandoned_wait_p50: Option<f64>,
    pub abandoned_wait_p90: Option<f64>,
    pub admitted_wait_p50: Option<f64>,
    pub admitted_wait_p90: Option<f64>,
    /// Rooms with knocks in the window, `limit` or not.
    pub rooms: i64,
}

#[derive(sqlx::FromRow)]
struct RoomRow {
    room: String,
    knocks: i64,
    admitted: i64,
    abandoned: i64,
    abandoned_waits: Option<Vec<f64>>,
    admitted_waits: Option<Vec<f64>>,
    rooms: i64,
}

impl From<RoomRow> for RoomSummary {
    fn from(r: RoomRow) -> Self {
        let pair = |p: Option<Vec<f64>>| match p.as_deref() {
            Some(&[p50, p90]) => (Some(p50), Some(p90)),
            _ => (None, None),
        };
        let (abandoned_wait_p50, abandoned_wait_p90) = pair(r.abandoned_waits);
        let (admitted_wait_p50, admitted_wait_p90) = pair(r.admitted_waits);
        Self {
            room: r.room,
            knocks: r.knocks,
            admitted: r.admitted,
            abandoned: r.abandoned,
            abandoned_wait_p50,
            abandoned_wait_p90,
            admitted_wait_p50,
            admitted_wait_p90,
            rooms: r.rooms,
        }
    }
}

/// Someone knocking now.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct WaitingKnock {
    pub room: String,
    pub session_id: String,
    pub user_name: Option<String>,
    pub waited_seconds: f64,
    /// Knocks waiting now, `limit` or not.
    pub waiting: i64,
}

/// Who is knocking now, longest wait first, at most `limit` of them. `waiting` implies the last
/// 24 hours, so that bounds the read whatever the window.
pub async fn list_waiting(
    pool: &PgPool,
    room: Option<&str>,
    limit: i64,
) -> sqlx::Result<Vec<WaitingKnock>> {
    // The `knocks` view's 'waiting', read from the sessions: knocks of the last 24 hours without a
    // left event, less those admitted by a call session of the last 25 hours (one hashed pass),
    // then the few left are looked up among every call session, so the list stays exact.
    sqlx::query_as(
        "with candidate as (
             select room, session_id from waiting_sessions
             where started_at > now() - interval '24 hours' and left_event_id is null
               and ($1::text is null or room = $1)
             except
             select room, session_id from participant_sessions
             where started_at > now() - interval '25 hours' and ($1::text is null or room = $1)
         )
         select w.room, w.session_id, w.user_name,
                extract(epoch from now() - w.started_at)::float8 as waited_seconds,
                count(*) over () as waiting
         from candidate c
         join waiting_sessions w on w.room = c.room and w.session_id = c.session_id
         where w.started_at > now() - interval '24 hours' and w.left_event_id is null
           and not exists (select from participant_sessions p
                           where p.room = w.room and p.session_id = w.session_id)
         order by w.started_at, w.room, w.session_id
         limit $2",
    )
    .bind(room)
    .bind(limit)
    .persistent(false)
    .fetch_all(pool)
    .await
}

/// One UTC day of one room, as `knock_daily_stats` has it.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct RoomDay {
    pub day: String,
    pub knocks: i64,
    pub admitted: i64,
    pub abandoned: i64,
    pub waiting: i64,
    pub unresolved: i64,
    pub abandon_rate: Option<f64>,
    pub abandoned_wait_p50: Option<f64>,
    pub abandoned_wait_p90: Option<f64>,
    pub admitted_wait_p50: Option<f64>,
    pub admitted_wait_p90: Option<f64>,
}

/// One room's days from the UTC day of `since` on, oldest first.
pub async fn list_room_days(pool: &PgPool, room: &str, since: f64) -> sqlx::Result<Vec<RoomDay>> {
    sqlx::query_as(
        "select to_char(day, 'YYYY-MM-DD') as day, knocks, admitted, abandoned, waiting, unresolved,
                abandon_rate, abandoned_wait_p50, abandoned_wait_p90, admitted_wait_p50, admitted_wait_p90
         from knock_daily_stats
         where room = $1 and day >= (to_timestamp($2) at time zone 'UTC')::date
         order by day",
    )
    .bind(room)
    .bind(since)
    .fetch_all(pool)
    .await
}

/// How many stored events have an id that does not start with `prefix`.
pub async fn count_events_not_prefixed(pool: &PgPool, prefix: &str) -> sqlx::Result<i64> {
    sqlx::query_scalar("select count(*) from webhook_events where not starts_with(event_id, $1)")
        .bind(prefix)
        .fetch_one(pool)
        .await
}
