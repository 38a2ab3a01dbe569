//! Dashboard reads: plain selects over the `knocks` and `knock_daily_stats` views, each bounded in time.

use sqlx::PgPool;

/// Which knocks a read covers: those knocked since `since` (seconds since the epoch), in one room
/// or in all of them.
#[derive(Debug, Clone, PartialEq)]
pub struct Window {
    pub since: f64,
    pub room: Option<String>,
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

/// The buckets of `wait_seconds` in docs/analytics.md's query, in the order of `wait_bucket` below.
pub const WAIT_BUCKETS: [&str; 5] = ["0-10 s", "10-30 s", "30-60 s", "1-5 min", "5 min or more"];

/// Knocks of one UTC day and hour with one outcome, and for admitted and abandoned ones, one
/// bucket of their wait (an index into `WAIT_BUCKETS`).
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct Tally {
    pub day: String,
    pub hour: i32,
    #[sqlx(try_from = "String")]
    pub outcome: KnockOutcome,
    pub wait_bucket: Option<i32>,
    pub knocks: i64,
}

/// Counts the window's knocks by UTC day, hour, outcome and wait bucket: one pass over the
/// window gives every chart's numbers.
pub async fn tally_knocks(pool: &PgPool, window: &Window) -> sqlx::Result<Vec<Tally>> {
    // width_bucket reads wait_seconds once where a CASE would compute it once per branch; a wait
    // that is null falls in the last bucket, as in docs/analytics.md.
    sqlx::query_as(
        "select to_char(day, 'YYYY-MM-DD') as day, hour, outcome, wait_bucket, knocks
         from (select (knocked_at at time zone 'UTC')::date as day,
                      date_part('hour', knocked_at at time zone 'UTC')::int as hour,
                      outcome,
                      case when outcome in ('admitted', 'abandoned') then
                          coalesce(width_bucket(wait_seconds, array[10, 30, 60, 300]::float8[]), 4)
                      end as wait_bucket,
                      count(*) as knocks
               from knocks
               where knocked_at >= to_timestamp($1) and ($2::text is null or room = $2)
               group by 1, 2, 3, 4) t",
    )
    .bind(window.since)
    .bind(window.room.as_deref())
    // Unnamed, so each run is planned for its own room: with or without the room index.
    .persistent(false)
    .fetch_all(pool)
    .await
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

/// The window's busiest rooms, most knocks first, at most `limit` of them.
pub async fn summarize_rooms(
    pool: &PgPool,
    window: &Window,
    limit: i64,
) -> sqlx::Result<Vec<RoomSummary>> {
    // One sort per room and outcome gives both percentiles.
    let rows: Vec<RoomRow> = sqlx::query_as(
        "select room, count(*) as knocks,
                count(*) filter (where outcome = 'admitted') as admitted,
                count(*) filter (where outcome = 'abandoned') as abandoned,
                percentile_cont(array[0.5, 0.9]) within group (order by wait_seconds)
                    filter (where outcome = 'abandoned') as abandoned_waits,
                percentile_cont(array[0.5, 0.9]) within group (order by wait_seconds)
                    filter (where outcome = 'admitted') as admitted_waits,
                count(*) over () as rooms
         from knocks
         where knocked_at >= to_timestamp($1) and ($2::text is null or room = $2)
         group by room
         order by knocks desc, room
         limit $3",
    )
    .bind(window.since)
    .bind(window.room.as_deref())
    .bind(limit)
    .persistent(false)
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(RoomSummary::from).collect())
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
    sqlx::query_as(
        "select room, session_id, user_name, coalesce(wait_seconds, 0) as waited_seconds,
                count(*) over () as waiting
         from knocks
         where outcome = 'waiting' and knocked_at >= now() - interval '24 hours'
           and ($1::text is null or room = $1)
         order by knocked_at, room, session_id
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
