//! A live batch as one statement: the raw insert, the projection's upserts of the new events and
//! the rollup marks go to Postgres in one round trip and commit together (a statement is a
//! transaction of its own).
//!
//! A batch goes first as if all its events were new (nearly always so live: a repeat is Daily's
//! retry), in a statement that is cheaper for Postgres; should an id be stored already, that
//! statement fails and the batch goes again in one that skips what is stored, as do the next
//! [`CAREFUL_AFTER_REPEAT`] batches (retries come in bursts).

use std::sync::{
    LazyLock,
    atomic::{AtomicU32, Ordering},
};

use sqlx::{PgPool, Row, postgres::PgRow};

use super::raw::{self, INSERT_NEW, INSERT_RETURNING_IDS, INSERTED_IDS_UNLESS_ALL, Inserted};
use crate::{
    projection::{BatchRows, upsert_ctes},
    triage::Event,
};

/// The arrays of the events behind each projected row follow the raw insert's eight parameters.
const CONTRIBUTORS: &str = ", contributed as (\
     select c.tab, c.row_no, bool_and(i.event_id is not null) as all_new, \
            bool_or(i.event_id is not null) as some_new \
     from unnest($9::text[], $10::int4[], $11::int8[]) as c(event_id, tab, row_no) \
     left join inserted as i using (event_id) \
     group by c.tab, c.row_no), \
     held as (select tab, row_no, some_new from contributed where not all_new)";

/// SQLSTATE of a scalar subquery that returned more than one row: how the statement fails on
/// purpose, undoing all of it, when a row has both a new and a stored event.
const GAVE_WAY: &str = "21000";

/// Batches that go straight to the statement that skips stored ids after one found an id stored.
const CAREFUL_AFTER_REPEAT: u32 = 64;

/// Batches left to go straight to the careful statement (process-wide: a burst of retries is
/// Daily's, whichever pool stores it).
static CAREFUL_LEFT: AtomicU32 = AtomicU32::new(0);

/// One statement for each set of tables a batch may upsert (see [`BatchRows::tables`]): those
/// that skip stored ids, and those for batches of new events only.
static CAREFUL: LazyLock<Vec<String>> = LazyLock::new(|| (0..8).map(careful_statement).collect());
static NEW_ONLY: LazyLock<Vec<String>> = LazyLock::new(|| (0..8).map(new_only_statement).collect());

/// A row whose events are all new is upserted; one whose events were all stored before is left
/// as it is (they were projected when stored). A row with both cannot be merged here, since the
/// merge in memory took every event: the statement then fails (a scalar subquery of two rows),
/// and the batch is written again in a transaction, which projects only the new events.
fn careful_statement(tables: usize) -> String {
    if tables == 0 {
        return format!(
            "with inserted as ({INSERT_RETURNING_IDS}) select {INSERTED_IDS_UNLESS_ALL} from inserted"
        );
    }
    let upserts = upsert_ctes(tables, 12, Some("held"));
    format!(
        "with inserted as ({INSERT_RETURNING_IDS}){CONTRIBUTORS}{upserts} \
         select case when exists (select from held where some_new) \
                     then (select null::text[] from generate_series(1, 2)) \
                     else {INSERTED_IDS_UNLESS_ALL} end \
         from inserted"
    )
}

/// Every event new: the raw rows and every projected row go in, the upserts' arrays from `$8`.
fn new_only_statement(tables: usize) -> String {
    let upserts = upsert_ctes(tables, 8, None);
    format!("with inserted as ({INSERT_NEW}){upserts} select count(*) from inserted")
}

/// Stores `events` (unique ids, in id order) raw, with `rows` (their facts merged) for those of
/// them that are new, in one statement; says which were new. `None`: nothing was written, since
/// a row has both a new event and one stored before (rare: a retry beside a new event of the
/// same session); the caller writes the batch in a transaction instead.
pub(super) async fn write(
    pool: &PgPool,
    events: &[&Event],
    errors: &[Option<&str>],
    rows: &BatchRows<'_>,
) -> Result<Option<Inserted>, sqlx::Error> {
    let careful = CAREFUL_LEFT
        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
        .is_ok();
    if !careful {
        match write_new_only(pool, events, errors, rows).await {
            Ok(()) => return Ok(Some(Inserted::All)),
            Err(e) if raw::names_stored_id(&e) => {
                tracing::debug!(batch = events.len(), "a batch repeats a stored event");
                CAREFUL_LEFT.store(CAREFUL_AFTER_REPEAT, Ordering::Relaxed);
            }
            Err(e) => return Err(e),
        }
    }
    write_careful(pool, events, errors, rows).await
}

async fn write_new_only(
    pool: &PgPool,
    events: &[&Event],
    errors: &[Option<&str>],
    rows: &BatchRows<'_>,
) -> Result<(), sqlx::Error> {
    let tables = rows.tables();
    let sql = NEW_ONLY[tables].as_str();
    let query = raw::bind_rows(sqlx::query(sqlx::AssertSqlSafe(sql)), events, errors);
    let query = match tables {
        0 => query,
        _ => rows.bind(query),
    };
    let inserted: i64 = query
        .try_map(|row: PgRow| row.try_get(0))
        .fetch_one(pool)
        .await?;
    debug_assert_eq!(
        inserted,
        events.len() as i64,
        "a plain insert inserts every row"
    );
    Ok(())
}

async fn write_careful(
    pool: &PgPool,
    events: &[&Event],
    errors: &[Option<&str>],
    rows: &BatchRows<'_>,
) -> Result<Option<Inserted>, sqlx::Error> {
    let tables = rows.tables();
    let sql = CAREFUL[tables].as_str();
    let query = raw::bind_rows(sqlx::query(sqlx::AssertSqlSafe(sql)), events, errors)
        .bind(events.len() as i64);
    let contributors = rows.contributors();
    let query = match tables {
        0 => query,
        _ => rows.bind(
            query
                .bind(contributors.event_ids)
                .bind(contributors.tables)
                .bind(contributors.rows),
        ),
    };
    let result = query
        .try_map(|row: PgRow| row.try_get::<Option<Vec<String>>, _>(0))
        .fetch_one(pool)
        .await;
    match result {
        Ok(ids) => Ok(Some(Inserted::from_ids(ids))),
        Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some(GAVE_WAY) => Ok(None),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The last parameter each statement numbers, from the arrays each table binds.
    fn last_parameter(tables: usize, first: usize) -> usize {
        first - 1
            + [14, 14, 8]
                .iter()
                .enumerate()
                .filter(|(n, _)| tables & 1 << n != 0)
                .map(|(_, count)| count)
                .sum::<usize>()
    }

    fn numbers_without_gaps(sql: &str, last: usize) {
        for n in 1..=last {
            assert!(
                sql.contains(&format!("${n}:")) || sql.contains(&format!("${n} ")),
                "${n} in {sql}"
            );
        }
        assert!(!sql.contains(&format!("${}", last + 1)), "{sql}");
    }

    #[test]
    fn every_statement_numbers_its_arrays_without_gaps() {
        for (tables, sql) in CAREFUL.iter().enumerate() {
            let last = match tables {
                0 => 8,
                _ => last_parameter(tables, 12),
            };
            numbers_without_gaps(sql, last);
        }
        for (tables, sql) in NEW_ONLY.iter().enumerate() {
            numbers_without_gaps(sql, last_parameter(tables, 8));
            assert!(!sql.contains("on conflict (event_id)"), "{sql}");
        }
    }
}
