//! Reads of one room, exact, from the sessions through the `knocks` view: one room's window is
//! small, and its numbers then include the last seconds.

use sqlx::PgPool;

use super::{DayTally, RoomRow, RoomSummary, Window};

/// The window's days in one room.
pub async fn tally_room_days(
    pool: &PgPool,
    window: &Window,
    room: &str,
) -> sqlx::Result<Vec<DayTally>> {
    sqlx::query_as(
        "select to_char(day, 'YYYY-MM-DD') as day,
                (count(*) filter (where outcome = 'admitted'))::int as admitted,
                (count(*) filter (where outcome = 'abandoned'))::int as abandoned,
                (count(*) filter (where outcome = 'waiting'))::int as waiting,
                (count(*) filter (where outcome = 'unresolved'))::int as unresolved,
                knock_count_positions(array_agg(hour) filter (where outcome = 'abandoned'), 24)
                    as abandoned_by_hour,
                knock_count_positions(array_agg(range) filter (where outcome = 'abandoned'), 5)
                    as abandoned_waits,
                knock_count_positions(array_agg(range) filter (where outcome = 'admitted'), 5)
                    as admitted_waits
         from (select (knocked_at at time zone 'UTC')::date as day,
                      extract(hour from knocked_at at time zone 'UTC')::int as hour,
                      knock_wait_range(wait_seconds) as range, outcome
               from knocks
               where knocked_at >= to_timestamp($1) and room = $2) k
         group by day
         order by day",
    )
    .bind(window.since)
    .bind(room)
    .fetch_all(pool)
    .await
}

/// The room's knocks over the window, with exact percentiles; none when it had none.
pub async fn summarize_room(
    pool: &PgPool,
    window: &Window,
    room: &str,
) -> sqlx::Result<Vec<RoomSummary>> {
    let rows: Vec<RoomRow> = sqlx::query_as(
        "select room, count(*) as knocks,
                count(*) filter (where outcome = 'admitted') as admitted,
                count(*) filter (where outcome = 'abandoned') as abandoned,
                percentile_cont(array[0.5, 0.9]) within group (order by wait_seconds)
                    filter (where outcome = 'abandoned') as abandoned_waits,
                percentile_cont(array[0.5, 0.9]) within group (order by wait_seconds)
                    filter (where outcome = 'admitted') as admitted_waits,
                1::bigint as rooms
         from knocks
         where knocked_at >= to_timestamp($1) and room = $2
         group by room",
    )
    .bind(window.since)
    .bind(room)
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(RoomSummary::from).collect())
}
