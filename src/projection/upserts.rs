//! How the facts of a batch are merged per row and upserted, slot by slot.

use std::sync::LazyLock;

use sqlx::{PgConnection, postgres::PgArguments, query::Query};

use super::{
    Fact, Value,
    tables::{Kind::*, TABLES, Table, standalone_upsert_sql},
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

/// Upserts the facts of a batch: merged in memory first (one row per key), then with stored rows.
pub async fn apply(conn: &mut PgConnection, facts: Vec<Fact>) -> Result<(), sqlx::Error> {
    let rows = merge(facts.into_iter().map(|f| ((), f)).collect());
    for (table, sql) in TABLES.iter().zip(UPSERTS.iter()) {
        let batch: Vec<&Fact> = rows
            .iter()
            .filter(|(f, _)| std::ptr::eq(f.table, *table))
            .map(|(f, _)| f)
            .collect();
        if !batch.is_empty() {
            bind_columns(
                sqlx::query(sqlx::AssertSqlSafe(sql.as_str())),
                table,
                &batch,
            )
            .execute(&mut *conn)
            .await?;
        }
    }
    Ok(())
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

static UPSERTS: LazyLock<Vec<String>> =
    LazyLock::new(|| TABLES.iter().map(|t| standalone_upsert_sql(t)).collect());
