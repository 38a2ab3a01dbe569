//! The normalized tables, their slots, and the SQL that upserts a batch of rows into one of them.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
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
    pub(super) name: &'static str,
    pub(super) key: &'static [&'static str],
    pub(super) slots: &'static [&'static [(&'static str, Kind)]],
    /// Whether an upsert leaves its keys in `knock_rollup_marks` (see
    /// migrations/V9__knock_rollups.sql), in the same statement.
    pub(super) marks_knocks: bool,
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

pub(super) static WAITING_SESSIONS: Table = Table {
    name: "waiting_sessions",
    key: &["room", "session_id"],
    slots: SESSION_SLOTS,
    marks_knocks: true,
};

pub(super) static PARTICIPANT_SESSIONS: Table = Table {
    name: "participant_sessions",
    key: &["room", "session_id"],
    slots: SESSION_SLOTS,
    marks_knocks: true,
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
    marks_knocks: false,
};

/// Every table, in the order batches upsert them (so concurrent batches lock in one order).
pub(super) const TABLES: [&Table; 3] = [&WAITING_SESSIONS, &PARTICIPANT_SESSIONS, &MEETINGS];

impl Table {
    pub(super) fn name(&self) -> &'static str {
        self.name
    }

    pub(super) fn key_columns(&self) -> &'static [&'static str] {
        self.key
    }

    /// How many arrays an upsert binds: one per key column and one per slot column.
    pub(super) fn array_count(&self) -> usize {
        self.key.len() + self.slots.iter().map(|s| s.len()).sum::<usize>()
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

/// `insert .. select from unnest(arrays) on conflict (key) do update`, slot by slot, its arrays
/// bound from `$first` on. With `skip`, a condition on `r.row_no` (each row's 1-based position in
/// the arrays), the rows it holds are left out; with `returning`, the key columns come back.
pub(super) fn upsert_sql(
    table: &Table,
    first: usize,
    skip: Option<&str>,
    returning: bool,
) -> String {
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
            format!("${}::{ty}[]", first + i)
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
    let source = match skip {
        None => format!("unnest({}) as r({})", arrays.join(", "), names.join(", ")),
        Some(skip) => format!(
            "unnest({}) with ordinality as r({}, row_no) where not ({skip})",
            arrays.join(", "),
            names.join(", ")
        ),
    };
    let returned = match returning {
        true => format!(" returning {}", table.key.join(", ")),
        false => String::new(),
    };
    format!(
        "insert into {table} as t ({names}) select {selected} from {source} \
         on conflict ({key}) do update set {updates}{returned}",
        table = table.name,
        names = names.join(", "),
        selected = selected.join(", "),
        key = table.key.join(", "),
        updates = updates.join(", "),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upsert_sql_names_every_column_once() {
        let sql = upsert_sql(&MEETINGS, 1, None, false);
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
        assert_eq!(MEETINGS.array_count(), 8);
    }

    #[test]
    fn an_upsert_within_a_larger_statement_numbers_from_its_first_array_and_can_skip_rows() {
        let sql = upsert_sql(&MEETINGS, 10, Some("r.row_no = 1"), true);
        assert!(
            sql.contains("$10::text[]") && sql.contains("$17::text[]"),
            "{sql}"
        );
        assert!(!sql.contains("$9:") && !sql.contains("$18"), "{sql}");
        assert!(sql.contains("with ordinality as r(") && sql.contains("where not (r.row_no = 1)"));
        assert!(sql.ends_with(" returning meeting_id"), "{sql}");
    }
}
