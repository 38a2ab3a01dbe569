//! The normalized tables and how facts are upserted into them, slot by slot.

use std::sync::LazyLock;

use sqlx::{PgConnection, postgres::PgArguments, query::Query};

use super::{Fact, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Text,
    Float,
    Bool,
    /// Epoch seconds in memory, timestamptz in Postgres.
    Timestamp,
    /// JSON text in memory, jsonb in Postgres.
    Json,
}

/// A normalized table: its key columns and its slots (the first column of a slot is its key).
pub(super) struct Table {
    name: &'static str,
    key: &'static [&'static str],
    slots: &'static [&'static [(&'static str, Kind)]],
    /// What the upsert also leaves in `knock_rollup_marks`, in the same statement.
    marks: Option<&'static str>,
}

use Kind::*;

const SESSION_SLOTS: &[&[(&str, Kind)]] = &[
    &[("joined_event_id", Text), ("joined_at", Timestamp)],
    &[
        ("left_event_id", Text),
        ("left_joined_at", Timestamp),
        ("duration_seconds", Float),
        ("left_at", Timestamp),
    ],
    &[
        ("attrs_key", Text),
        ("user_id", Text),
        ("user_name", Text),
        ("owner", Bool),
        ("will_eject_at", Timestamp),
        ("permissions", Json),
    ],
];

/// The keys a session upsert may have changed the knock of, marked for the rollups in the same
/// statement (see migrations/V9__knock_rollups.sql): `$1` and `$2` are its `room` and
/// `session_id` arrays.
const MARK_KNOCKS: &str = "insert into knock_rollup_marks (rooms, session_ids) values ($1, $2)";

pub(super) static WAITING_SESSIONS: Table = Table {
    name: "waiting_sessions",
    key: &["room", "session_id"],
    slots: SESSION_SLOTS,
    marks: Some(MARK_KNOCKS),
};

pub(super) static PARTICIPANT_SESSIONS: Table = Table {
    name: "participant_sessions",
    key: &["room", "session_id"],
    slots: SESSION_SLOTS,
    marks: Some(MARK_KNOCKS),
};

pub(super) static MEETINGS: Table = Table {
    name: "meetings",
    key: &["meeting_id"],
    slots: &[
        &[("started_event_id", Text), ("started_start_at", Timestamp)],
        &[
            ("ended_event_id", Text),
            ("ended_start_at", Timestamp),
            ("ended_at", Timestamp),
        ],
        &[("attrs_key", Text), ("room", Text)],
    ],
    marks: None,
};

const TABLES: [&Table; 3] = [&WAITING_SESSIONS, &PARTICIPANT_SESSIONS, &MEETINGS];

impl Table {
    pub(super) fn name(&self) -> &'static str {
        self.name
    }

    pub(super) fn key_columns(&self) -> &'static [&'static str] {
        self.key
    }
}

impl std::fmt::Debug for Table {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name)
    }
}

impl PartialEq for Table {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

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
pub async fn apply(conn: &mut PgConnection, mut facts: Vec<Fact>) -> Result<(), sqlx::Error> {
    // Sorted, so concurrent batches lock rows in the same order and cannot deadlock.
    facts.sort_by(|a, b| (a.table.name, &a.key).cmp(&(b.table.name, &b.key)));
    let mut rows: Vec<Fact> = Vec::with_capacity(facts.len());
    for fact in facts {
        match rows.last_mut() {
            Some(last) if last.table == fact.table && last.key == fact.key => last.merge(fact),
            _ => rows.push(fact),
        }
    }
    for (table, sql) in TABLES.iter().zip(UPSERTS.iter()) {
        let batch: Vec<&Fact> = rows
            .iter()
            .filter(|f| std::ptr::eq(f.table, *table))
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

/// Binds one array per column, in the order `upsert_sql` lists them.
fn bind_columns<'q>(
    mut query: Query<'q, sqlx::Postgres, PgArguments>,
    table: &Table,
    rows: &[&Fact],
) -> Query<'q, sqlx::Postgres, PgArguments> {
    for k in 0..table.key.len() {
        query = query.bind(rows.iter().map(|r| r.key[k].clone()).collect::<Vec<_>>());
    }
    for (s, slot) in table.slots.iter().enumerate() {
        query = query.bind(
            rows.iter()
                .map(|r| r.slots[s].as_ref().map(|x| x.key.clone()))
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
                            Some(Value::Text(t)) => t.clone(),
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
    LazyLock::new(|| TABLES.iter().map(|t| upsert_sql(t)).collect());

/// `insert .. select from unnest(arrays) on conflict (key) do update`, slot by slot.
fn upsert_sql(table: &Table) -> String {
    let mut columns: Vec<(&str, Kind)> = table.key.iter().map(|k| (*k, Text)).collect();
    columns.extend(table.slots.iter().flat_map(|s| s.iter().copied()));
    let names: Vec<&str> = columns.iter().map(|(n, _)| *n).collect();
    let arrays: Vec<String> = columns
        .iter()
        .enumerate()
        .map(|(i, (_, kind))| {
            let ty = match kind {
                Text | Json => "text",
                Float | Timestamp => "float8",
                Bool => "bool",
            };
            format!("${}::{ty}[]", i + 1)
        })
        .collect();
    let selected: Vec<String> = columns
        .iter()
        .map(|(name, kind)| match kind {
            Timestamp => format!("to_timestamp(r.{name})"),
            Json => format!("r.{name}::jsonb"),
            _ => format!("r.{name}"),
        })
        .collect();
    let updates: Vec<String> = table
        .slots
        .iter()
        .flat_map(|slot| {
            let winner = slot[0].0;
            // The incoming slot wins when it is present and its key is not larger.
            slot.iter().map(move |(name, _)| {
                format!(
                    "{name} = case when coalesce(excluded.{winner} <= t.{winner}, excluded.{winner} is not null) \
                     then excluded.{name} else t.{name} end"
                )
            })
        })
        .collect();
    let upsert = format!(
        "insert into {table} as t ({names}) select {selected} from unnest({arrays}) as r({names}) \
         on conflict ({key}) do update set {updates}",
        table = table.name,
        names = names.join(", "),
        selected = selected.join(", "),
        arrays = arrays.join(", "),
        key = table.key.join(", "),
        updates = updates.join(", "),
    );
    match table.marks {
        Some(marks) => format!("with upsert as ({upsert}) {marks}"),
        None => upsert,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upsert_sql_names_every_column_once() {
        let sql = upsert_sql(&MEETINGS);
        assert!(
            sql.starts_with(
                "insert into meetings as t (meeting_id, started_event_id, started_start_at,"
            ),
            "{sql}"
        );
        assert!(
            sql.contains("$8::text[]) as r(") && !sql.contains("$9"),
            "{sql}"
        );
        assert!(
            sql.contains("room = case when coalesce(excluded.attrs_key <= t.attrs_key"),
            "{sql}"
        );
    }

    #[test]
    fn session_upserts_mark_their_knocks_for_the_rollups_in_the_same_statement() {
        for table in [&WAITING_SESSIONS, &PARTICIPANT_SESSIONS] {
            let sql = upsert_sql(table);
            assert!(sql.starts_with("with upsert as (insert into "), "{sql}");
            assert!(
                sql.ends_with(
                    ") insert into knock_rollup_marks (rooms, session_ids) values ($1, $2)"
                ),
                "{sql}"
            );
            assert_eq!(&table.key[..2], ["room", "session_id"]);
        }
        assert!(!upsert_sql(&MEETINGS).contains("knock_rollup_marks"));
    }
}
