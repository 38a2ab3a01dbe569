//! Reads over every room, from the rollups: they cost the window's days and rooms, never the
//! history's knocks.

use sqlx::PgPool;

use super::{DayTally, RoomRow, RoomSummary, Window};

/// The window's days over every room, from `knock_days`.
pub async fn tally_days(pool: &PgPool, window: &Window) -> sqlx::Result<Vec<DayTally>> {
    sqlx::query_as(
        "select to_char(day, 'YYYY-MM-DD') as day, admitted, abandoned,
                knock_waiting(day, pending_knocked_at) as waiting,
                cardinality(pending_knocked_at) - knock_waiting(day, pending_knocked_at) as unresolved,
                abandoned_by_hour, abandoned_wait_ranges as abandoned_waits,
                admitted_wait_ranges as admitted_waits
         from knock_days
         where day >= (to_timestamp($1) at time zone 'UTC')::date
         order by day",
    )
    .bind(window.since)
    .fetch_all(pool)
    .await
}

/// The window's busiest rooms, most knocks first, at most `limit` of them: counts summed from
/// `knock_room_days`, then percentiles from the wait histograms of those rooms only.
pub async fn summarize_rooms(
    pool: &PgPool,
    window: &Window,
    limit: i64,
) -> sqlx::Result<Vec<RoomSummary>> {
    let rows: Vec<RoomRow> = sqlx::query_as(
        "with top as (
             select room, sum(knocks)::bigint as knocks, sum(admitted)::bigint as admitted,
                    sum(abandoned)::bigint as abandoned, count(*) over () as rooms
             from knock_room_days
             where day >= (to_timestamp($1) at time zone 'UTC')::date
             group by room
             order by knocks desc, room
             limit $2
         ), histogram as (
             select d.room, 'abandoned' as outcome, u.bucket, sum(u.knocks) as knocks
             from knock_room_days d join top using (room),
                  unnest(d.abandoned_wait_buckets, d.abandoned_wait_counts) u(bucket, knocks)
             where d.day >= (to_timestamp($1) at time zone 'UTC')::date
             group by 1, 3
             union all
             select d.room, 'admitted', u.bucket, sum(u.knocks)
             from knock_room_days d join top using (room),
                  unnest(d.admitted_wait_buckets, d.admitted_wait_counts) u(bucket, knocks)
             where d.day >= (to_timestamp($1) at time zone 'UTC')::date
             group by 1, 3
         ), percentiles as (
             select room, outcome,
                    knock_wait_percentiles(array_agg(bucket order by bucket),
                                           array_agg(knocks order by bucket), '{0.5,0.9}') as waits
             from histogram
             group by room, outcome
         )
         select top.room, top.knocks, top.admitted, top.abandoned, top.rooms,
                ab.waits as abandoned_waits, ad.waits as admitted_waits
         from top
         left join percentiles ab on ab.room = top.room and ab.outcome = 'abandoned'
         left join percentiles ad on ad.room = top.room and ad.outcome = 'admitted'
         order by top.knocks desc, top.room",
    )
    .bind(window.since)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(RoomSummary::from).collect())
}
