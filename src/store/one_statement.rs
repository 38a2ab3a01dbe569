//! A live batch as one statement: the raw insert, the projection's upserts of the new events and
//! the rollup marks go to Postgres in one round trip and commit together (a statement is a
//! transaction of its own).

use std::sync::LazyLock;

use sqlx::{PgPool, Row, postgres::PgRow};

use super::raw::{self, INSERT_RETURNING_IDS, INSERTED_IDS_UNLESS_ALL, Inserted};
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

/// One statement for each set of tables a batch may upsert (see [`BatchRows::tables`]).
static STATEMENTS: LazyLock<Vec<String>> = LazyLock::new(|| (0..8).map(statement).collect());

/// A row whose events are all new is upserted; one whose events were all stored before is left
/// as it is (they were projected when stored). A row with both cannot be merged here, since the
/// merge in memory took every event: the statement then fails (a scalar subquery of two rows),
/// and the batch is written again in a transaction, which projects only the new events.
fn statement(tables: usize) -> String {
    if tables == 0 {
        return format!(
            "with inserted as ({INSERT_RETURNING_IDS}) select {INSERTED_IDS_UNLESS_ALL} from inserted"
        );
    }
    let upserts = upsert_ctes(tables, 12, "held");
    format!(
        "with inserted as ({INSERT_RETURNING_IDS}){CONTRIBUTORS}{upserts} \
         select case when exists (select from held where some_new) \
                     then (select null::text[] from generate_series(1, 2)) \
                     else {INSERTED_IDS_UNLESS_ALL} end \
         from inserted"
    )
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
    let tables = rows.tables();
    let sql = STATEMENTS[tables].as_str();
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

    #[test]
    fn every_statement_numbers_its_arrays_without_gaps() {
        for (tables, sql) in STATEMENTS.iter().enumerate() {
            let last = match tables {
                0 => 8,
                _ => {
                    11 + [14, 14, 8]
                        .iter()
                        .enumerate()
                        .filter(|(n, _)| tables & 1 << n != 0)
                        .map(|(_, count)| count)
                        .sum::<usize>()
                }
            };
            for n in 1..=last {
                assert!(
                    sql.contains(&format!("${n}:")) || sql.contains(&format!("${n} ")),
                    "${n} in {sql}"
                );
            }
            assert!(!sql.contains(&format!("${}", last + 1)), "{sql}");
        }
    }
}
