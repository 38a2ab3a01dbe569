//! The upserts of a batch as parts of a larger statement: the store's, whose raw insert decides
//! in the same statement which rows go in (a row goes in when every event behind it is new).

use sqlx::{postgres::PgArguments, query::Query};

use super::{
    Fact,
    tables::{TABLES, upsert_sql},
    upserts::{bind_columns, merge},
};

/// A batch's facts merged into one row per table and key, each with the ids of its events.
#[derive(Debug)]
pub struct BatchRows<'e> {
    rows: Vec<(Fact, Vec<&'e str>)>,
}

/// The events behind the rows, as three arrays: event id, table number and 1-based row number
/// in that table's arrays (as [`upsert_ctes`] numbers them).
#[derive(Debug, Default)]
pub struct Contributors<'e> {
    pub event_ids: Vec<&'e str>,
    pub tables: Vec<i32>,
    pub rows: Vec<i64>,
}

impl<'e> BatchRows<'e> {
    /// Merges the facts of a batch, each given with the id of its event.
    pub fn new(facts: Vec<(&'e str, Fact)>) -> Self {
        Self { rows: merge(facts) }
    }

    /// Which tables have rows: bit `n` for the table numbered `n`.
    pub fn tables(&self) -> usize {
        self.rows
            .iter()
            .fold(0, |mask, (fact, _)| mask | 1 << table_number(fact))
    }

    pub fn contributors(&self) -> Contributors<'e> {
        let mut out = Contributors::default();
        let mut row_in_table = [0i64; TABLES.len()];
        for (fact, event_ids) in self.rows_in_statement_order() {
            let table = table_number(fact);
            row_in_table[table] += 1;
            for id in event_ids {
                out.event_ids.push(id);
                out.tables.push(table as i32);
                out.rows.push(row_in_table[table]);
            }
        }
        out
    }

    /// Binds the arrays of each table that has rows, in the order [`upsert_ctes`] numbers them.
    pub fn bind<'q>(
        &'q self,
        mut query: Query<'q, sqlx::Postgres, PgArguments>,
    ) -> Query<'q, sqlx::Postgres, PgArguments> {
        for (n, table) in TABLES.iter().enumerate() {
            let rows: Vec<&Fact> = self
                .rows
                .iter()
                .map(|(fact, _)| fact)
                .filter(|fact| table_number(fact) == n)
                .collect();
            if !rows.is_empty() {
                query = bind_columns(query, table, &rows);
            }
        }
        query
    }

    fn rows_in_statement_order(&self) -> impl Iterator<Item = (&Fact, &[&'e str])> {
        (0..TABLES.len()).flat_map(move |n| {
            self.rows
                .iter()
                .filter(move |(fact, _)| table_number(fact) == n)
                .map(|(fact, ids)| (fact, ids.as_slice()))
        })
    }
}

fn table_number(fact: &Fact) -> usize {
    TABLES
        .iter()
        .position(|t| std::ptr::eq(*t, fact.table))
        .expect("a fact's table is one of TABLES")
}

/// Common table expressions upserting the tables in `tables` (a mask as [`BatchRows::tables`]
/// gives it), their arrays bound from `$first` on. With `held`, a relation of `(tab, row_no)`,
/// each leaves out the rows it names; the keys of the session rows upserted are marked for the
/// rollups, in the same statement. Begins with a comma: it follows the caller's own CTEs.
pub fn upsert_ctes(tables: usize, first: usize, held: Option<&str>) -> String {
    let mut sql = String::new();
    let mut next = first;
    let mut marked = Vec::new();
    for (n, table) in TABLES.iter().enumerate() {
        if tables & 1 << n == 0 {
            continue;
        }
        let skip =
            held.map(|held| format!("r.row_no in (select row_no from {held} where tab = {n})"));
        let upsert = upsert_sql(table, next, skip.as_deref(), table.marks_knocks);
        sql.push_str(&format!(", upserted_{n} as ({upsert})"));
        if table.marks_knocks {
            marked.push(format!("select room, session_id from upserted_{n}"));
        }
        next += table.array_count();
    }
    if !marked.is_empty() {
        sql.push_str(&format!(
            ", marked as (insert into knock_rollup_marks (rooms, session_ids) \
             select array_agg(room), array_agg(session_id) from ({}) as k having count(*) > 0)",
            marked.join(" union all ")
        ));
    }
    sql
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ctes_number_their_arrays_on_from_the_first_and_mark_only_session_keys() {
        let both = upsert_ctes(0b101, 11, Some("held"));
        assert!(both.starts_with(", upserted_0 as (insert into waiting_sessions"));
        assert!(both.contains("$11::text[]") && both.contains("$24::text[]"));
        assert!(both.contains(", upserted_2 as (insert into meetings"));
        assert!(both.contains("$25::text[]") && both.contains("$32::text[]"));
        assert!(!both.contains("$33") && !both.contains("$10:"));
        assert!(both.contains("where tab = 2") && both.contains("from upserted_0) as k"));
        assert!(!upsert_ctes(0b100, 1, Some("held")).contains("knock_rollup_marks"));
        let all = upsert_ctes(0b001, 8, None);
        assert!(!all.contains("row_no") && all.contains("$8::text[]"));
    }
}
