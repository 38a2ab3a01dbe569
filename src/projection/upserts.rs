//! How the facts of a batch are merged per row and upserted, slot by slot.

use std::sync::LazyLock;

use sqlx::{PgConnection, postgres::PgArguments, query::Query};

use super::{
    BatchRows, Fact, Value,
    in_statement::upsert_ctes,
    tables::{Kind::*, TABLES, Table},
};

/// Deletes every projected row; a delete rather than a truncate keeps concurrent readers and
/// writers unblocked.
pub async fn clear(conn: &mut PgConnection) -> Result<(), sqlx::Error> {
    for table in TABLES {
        sqlx::query(sqlx::AssertSqlSafe(format!("delete from {}", table.name)))
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// Upserts the facts of a batch: merged in memory first (one row per key), then with stored rows,
/// every table in one statement (one round trip), the session tables' keys marked for the rollups.
pub async fn apply(conn: &mut PgConnection, facts: Vec<Fact>) -> Result<(), sqlx::Error> {
    let rows = BatchRows::new(facts.into_iter().map(|f| ("", f)).collect());
    let tables = rows.tables();
    if tables == 0 {
        return Ok(());
    }
    let sql = APPLY[tables].as_str();
    rows.bind(sqlx::query(sqlx::AssertSqlSafe(sql)))
        .execute(conn)
        .await
        .map(drop)
}

/// Merges facts into one row per table and key, sorted so that concurrent batches lock rows in
/// the same order and cannot deadlock; each row keeps the tags of the facts merged into it.
pub(super) fn merge<T>(mut facts: Vec<(T, Fact)>) -> Vec<(Fact, Vec<T>)> {
    facts.sort_by(|(_, a), (_, b)| (a.table.name, &a.key).cmp(&(b.table.name, &b.key)));
    let mut rows: Vec<(Fact, Vec<T>)> = Vec::with_capacity(facts.len());
    for (tag, fact) in facts {
        match rows.last_mut() {
            Some((last, tags)) if last.table == fact.table && last.key == fact.key => {
                last.merge(fact);
                tags.push(tag);
            }
            _ => rows.push((fact, vec![tag])),
        }
    }
    rows
}

/// Binds one array per column, in the order `upsert_sql` lists them.
pub(super) fn bind_columns<'q>(
    mut query: Query<'q, sqlx::Postgres, PgArguments>,
    table: &Table,
    rows: &[&'q Fact],
) -> Query<'q, sqlx::Postgres, PgArguments> {
    for k in 0..table.key.len() {
        query = query.bind(rows.iter().map(|r| r.key[k].as_str()).collect::<Vec<_>>());
    }
    for (s, slot) in table.slots.iter().enumerate() {
        query = query.bind(
            rows.iter()
                .map(|r| r.slots[s].as_ref().map(|x| x.key.as_str()))
                .collect::<Vec<_>>(),
        );
        for (c, (_, kind)) in slot.iter().enumerate().skip(1) {
            let values = rows
                .iter()
                .map(|r| r.slots[s].as_ref().map(|x| &x.values[c - 1]));
            query = match kind {
                Text | Json => query.bind(
                    values
                        .map(|v| match v {
                            Some(Value::Text(t)) => t.as_deref(),
                            _ => None,
                        })
                        .collect::<Vec<_>>(),
                ),
                Float | Timestamp => query.bind(
                    values
                        .map(|v| match v {
                            Some(Value::Float(f)) => *f,
                            _ => None,
                        })
                        .collect::<Vec<_>>(),
                ),
                Bool => query.bind(
                    values
                        .map(|v| match v {
                            Some(Value::Bool(b)) => *b,
                            _ => None,
                        })
                        .collect::<Vec<_>>(),
                ),
            };
        }
    }
    query
}

/// The statement of [`apply`] for each set of tables (a mask as [`BatchRows::tables`] gives it):
/// the upserts are data-modifying CTEs, run to completion though nothing reads them.
static APPLY: LazyLock<Vec<String>> = LazyLock::new(|| {
    (0..1 << TABLES.len())
        .map(|tables| {
            format!(
                "with batch as (select){} select",
                upsert_ctes(tables, 1, None)
            )
        })
        .collect()
});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_statement_upserts_the_tables_with_rows_and_marks_session_keys() {
        let sessions = APPLY[0b011].as_str();
        assert!(sessions.starts_with("with batch as (select), upserted_0 as (insert into "));
        assert!(
            sessions.contains("upserted_1 as (insert into "),
            "{sessions}"
        );
        assert!(
            sessions.contains("insert into knock_rollup_marks"),
            "{sessions}"
        );
        assert!(sessions.ends_with(" select"), "{sessions}");
        let meetings = APPLY[0b100].as_str();
        assert!(!meetings.contains("knock_rollup_marks"), "{meetings}");
        assert!(meetings.contains("$8::text[]") && !meetings.contains("$9"));
    }
}
