//! The knock rollups (migrations/V9__knock_rollups.sql): refreshing what the intake marked,
//! rebuilding them all, and how far they lag.

use sqlx::PgPool;

/// Recomputes the (room, day) rollups the projection marked since the last refresh, in one
/// transaction; returns how many. Waits while another process refreshes.
pub async fn refresh(pool: &PgPool) -> Result<u64, sqlx::Error> {
    let recomputed: i32 = sqlx::query_scalar("select knock_rollups_refresh()")
        .fetch_one(pool)
        .await?;
    Ok(u64::try_from(recomputed).unwrap_or(0))
}

/// Recomputes every rollup from the sessions (after a reproject); returns how many.
pub async fn rebuild(pool: &PgPool) -> Result<u64, sqlx::Error> {
    let recomputed: i32 = sqlx::query_scalar("select knock_rollups_rebuild()")
        .fetch_one(pool)
        .await?;
    Ok(u64::try_from(recomputed).unwrap_or(0))
}

/// Seconds since the oldest change not yet rolled up was committed; 0 when none is waiting.
pub async fn lag_seconds(pool: &PgPool) -> Result<f64, sqlx::Error> {
    sqlx::query_scalar(
        "select coalesce(extract(epoch from now() - min(marked_at))::float8, 0) from knock_rollup_marks",
    )
    .fetch_one(pool)
    .await
}
