//! Stored raw events by UTC day of `received_at`, for `lobbylog export` and the prune that
//! archives: the days that have some, one day's bodies read in pages through a server-side
//! cursor, and the deletion of exactly the rows that cursor read.
//!
//! Both filter on `received_at`, whose BRIN index lets Postgres skip the blocks outside the window
//! (rows lie roughly in order of receipt); no index is added that every insert would pay for.

use sqlx::{PgExecutor, PgPool, Postgres, Transaction};
use time::{Date, Duration, OffsetDateTime, Time};

/// The cursor a day is read through; one at a time per transaction.
const CURSOR: &str = "export_day";

/// The first instant of `day` (UTC).
pub fn day_start(day: Date) -> OffsetDateTime {
    day.with_time(Time::MIDNIGHT).assume_utc()
}

/// The days from `first` to `last` (inclusive, UTC) with at least one event received, oldest
/// first, each with its count of events. `None` for `first` means from the oldest event.
pub async fn days_with_events(
    db: impl PgExecutor<'_>,
    first: Option<Date>,
    last: Date,
) -> Result<Vec<(Date, i64)>, sqlx::Error> {
    sqlx::query_as(
        "select (received_at at time zone 'UTC')::date as day, count(*)
         from webhook_events
         where received_at >= coalesce($1, '-infinity'::timestamptz) and received_at < $2
         group by day order by day",
    )
    .bind(first.map(day_start))
    .bind(day_start(last) + Duration::DAY)
    .fetch_all(db)
    .await
}

/// The last UTC day that ended at or before `cutoff`: the last a prune that archives may delete.
pub async fn last_day_ended_by(db: impl PgExecutor<'_>, cutoff: &str) -> Result<Date, sqlx::Error> {
    sqlx::query_scalar("select ($1::timestamptz at time zone 'UTC')::date - 1")
        .bind(cutoff)
        .fetch_one(db)
        .await
}

/// A horizon past every event received before `end`: `end` itself, or later if one of them was
/// sent later (a clock ahead); `None` if there is none.
pub async fn horizon_past_received(
    db: impl PgExecutor<'_>,
    end: OffsetDateTime,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar(
        "select greatest($1, max(coalesce(event_ts, received_at)) + interval '1 microsecond')::text
         from webhook_events where received_at < $1 having count(*) > 0",
    )
    .bind(end)
    .fetch_optional(db)
    .await
}

/// One day's bodies, as Postgres prints the stored `jsonb`, in a fixed order: `received_at`, then
/// `event_id` byte by byte (the "C" collation, whatever the database's), so a rerun over the same
/// rows reads the same sequence.
pub struct DayBodies {
    tx: Transaction<'static, Postgres>,
    page: i64,
}

impl DayBodies {
    /// Opens the cursor over `day` in a read-only transaction of its own; `page` bodies per fetch.
    pub async fn open(pool: &PgPool, day: Date, page: i64) -> Result<Self, sqlx::Error> {
        Self::open_in(pool, "set transaction read only", day, page).await
    }

    /// The same in a repeatable-read transaction that `delete_and_commit` may end: its one
    /// snapshot is what the cursor reads and what the delete sees, so events stored meanwhile
    /// (the live intake, a backfill) are neither read nor deleted.
    pub async fn open_to_delete(pool: &PgPool, day: Date, page: i64) -> Result<Self, sqlx::Error> {
        Self::open_in(
            pool,
            "set transaction isolation level repeatable read",
            day,
            page,
        )
        .await
    }

    async fn open_in(
        pool: &PgPool,
        mode: &'static str,
        day: Date,
        page: i64,
    ) -> Result<Self, sqlx::Error> {
        let mut tx = pool.begin().await?;
        sqlx::query(mode).execute(&mut *tx).await?;
        // The day is sorted before its first row is sent: in memory up to this much, not on disk.
        sqlx::query("set local work_mem = '64MB'")
            .execute(&mut *tx)
            .await?;
        // DECLARE takes no bind parameters: the bounds are our own `timestamptz` literals.
        let sql = format!(
            "declare {CURSOR} no scroll cursor for
             select body::text from webhook_events
             where received_at >= '{}' and received_at < '{}'
             order by received_at, event_id collate \"C\"",
            midnight(day),
            midnight(day.next_day().unwrap_or(Date::MAX))
        );
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
            .execute(&mut *tx)
            .await?;
        Ok(Self { tx, page })
    }

    /// The next page of bodies; empty once the day is read.
    pub async fn next_page(&mut self) -> Result<Vec<String>, sqlx::Error> {
        let sql = format!("fetch forward {} from {CURSOR}", self.page);
        sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .fetch_all(&mut *self.tx)
            .await
    }

    /// Ends the transaction, changing nothing.
    pub async fn close(self) -> Result<(), sqlx::Error> {
        self.tx.rollback().await
    }

    /// Deletes the day's events the cursor read (the transaction's snapshot), then commits if
    /// they were `expected` in number and rolls back otherwise. Returns how many there were. The
    /// retention horizon must have been moved past them first (`retention::advance_horizon`).
    pub async fn delete_and_commit(mut self, day: Date, expected: u64) -> Result<u64, sqlx::Error> {
        let (start, end) = (day_start(day), day_start(day) + Duration::DAY);
        let deleted =
            sqlx::query("delete from webhook_events where received_at >= $1 and received_at < $2")
                .bind(start)
                .bind(end)
                .execute(&mut *self.tx)
                .await?
                .rows_affected();
        match deleted == expected {
            true => self.tx.commit().await?,
            false => self.tx.rollback().await?,
        }
        Ok(deleted)
    }
}

/// The first instant of `day` as a `timestamptz` literal.
fn midnight(day: Date) -> String {
    format!("{day} 00:00:00+00")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_day_starts_at_midnight_utc_and_prints_as_a_literal() {
        let day = Date::from_calendar_date(2024, time::Month::June, 1).unwrap();
        assert_eq!(day_start(day).unix_timestamp(), 1_717_200_000);
        assert_eq!(midnight(day), "2024-06-01 00:00:00+00");
    }
}
