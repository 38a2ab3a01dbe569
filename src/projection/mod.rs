//! The knock projection: events into waiting sessions, participant sessions and meetings.
//!
//! Each row is a key plus slots; every slot is filled by one event, and when two events compete
//! for a slot the smaller slot key wins. The same rule merges a batch in memory and merges with
//! stored rows in SQL, so any order and any repetition of events gives the same rows.

mod in_statement;
mod payload;
mod tables;
mod upserts;

use self::payload::{Meeting, Session};
use crate::triage::Event;

use self::tables::{MEETINGS, PARTICIPANT_SESSIONS, Table, WAITING_SESSIONS};
pub use self::{
    in_statement::{BatchRows, Contributors, upsert_ctes},
    upserts::{apply, clear},
};

/// One value of a slot column.
#[derive(Debug, Clone, PartialEq)]
enum Value {
    Text(Option<String>),
    Float(Option<f64>),
    Bool(Option<bool>),
}

/// A slot's content: its key (what decides between competitors) and its column values.
#[derive(Debug, Clone, PartialEq)]
struct Slot {
    key: String,
    values: Vec<Value>,
}

/// What one event contributes to one row.
#[derive(Debug, Clone, PartialEq)]
pub struct Fact {
    table: &'static Table,
    key: Vec<String>,
    slots: Vec<Option<Slot>>,
}

impl Fact {
    /// The row this fact goes to: its table, and its key column by column.
    pub fn row(&self) -> (&'static str, Vec<(&'static str, &str)>) {
        let columns = self.table.key_columns().iter().copied();
        let key = columns.zip(self.key.iter().map(String::as_str)).collect();
        (self.table.name(), key)
    }

    /// Folds `other` (same table and key) into `self`, slot by slot, smallest slot key winning.
    fn merge(&mut self, other: Fact) {
        for (mine, theirs) in self.slots.iter_mut().zip(other.slots) {
            if let Some(theirs) = theirs
                && mine.as_ref().is_none_or(|m| theirs.key <= m.key)
            {
                *mine = Some(theirs);
            }
        }
    }
}

/// What an event means for the normalized tables: `Ok(None)` for event types not projected.
pub fn facts(event: &Event) -> Result<Option<Fact>, String> {
    let id = &event.id;
    let fact = match event.event_type.as_str() {
        "waiting-participant.joined" => session(&WAITING_SESSIONS, id, false, event.payload())?,
        "waiting-participant.left" => session(&WAITING_SESSIONS, id, true, event.payload())?,
        "participant.joined" => session(&PARTICIPANT_SESSIONS, id, false, event.payload())?,
        "participant.left" => session(&PARTICIPANT_SESSIONS, id, true, event.payload())?,
        "meeting.started" => meeting(id, false, event.payload())?,
        "meeting.ended" => meeting(id, true, event.payload())?,
        _ => return Ok(None),
    };
    Ok(Some(fact))
}

/// Attributes prefer the later word (left/ended: "0") over the earlier one (joined/started: "1").
fn attrs_key(id: &str, is_end: bool) -> String {
    format!("{}{id}", if is_end { '0' } else { '1' })
}

fn session(
    table: &'static Table,
    id: &str,
    is_left: bool,
    payload: &serde_json::value::RawValue,
) -> Result<Fact, String> {
    let s: Session = payload::session(payload, is_left && std::ptr::eq(table, &WAITING_SESSIONS))?;
    let text = |v: &Option<String>| Value::Text(v.clone());
    let joined = (!is_left).then(|| Slot {
        key: id.to_owned(),
        values: vec![Value::Float(Some(s.joined_at))],
    });
    let left = is_left.then(|| Slot {
        key: id.to_owned(),
        values: vec![
            Value::Float(Some(s.joined_at)),
            Value::Float(s.duration),
            Value::Float(s.duration.map(|d| s.joined_at + d)),
        ],
    });
    let attrs = Slot {
        key: attrs_key(id, is_left),
        values: vec![
            text(&s.user_id),
            text(&s.user_name),
            Value::Bool(s.owner),
            Value::Float(s.will_eject_at),
            Value::Text(s.permissions),
        ],
    };
    Ok(Fact {
        table,
        key: vec![s.room, s.session_id],
        slots: vec![joined, left, Some(attrs)],
    })
}

fn meeting(id: &str, is_end: bool, payload: &serde_json::value::RawValue) -> Result<Fact, String> {
    let m: Meeting = payload::meeting(payload, is_end)?;
    let started = (!is_end).then(|| Slot {
        key: id.to_owned(),
        values: vec![Value::Float(m.start_ts)],
    });
    let ended = is_end.then(|| Slot {
        key: id.to_owned(),
        values: vec![Value::Float(m.start_ts), Value::Float(m.end_ts)],
    });
    let attrs = Slot {
        key: attrs_key(id, is_end),
        values: vec![Value::Text(m.room)],
    };
    Ok(Fact {
        table: &MEETINGS,
        key: vec![m.meeting_id],
        slots: vec![started, ended, Some(attrs)],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merging_keeps_the_smallest_slot_key_whatever_the_order() {
        let slot = |key: &str, v: f64| {
            Some(Slot {
                key: key.into(),
                values: vec![Value::Float(Some(v))],
            })
        };
        let a = Fact {
            table: &MEETINGS,
            key: vec!["m".into()],
            slots: vec![slot("b", 2.0), None, None],
        };
        let b = Fact {
            table: &MEETINGS,
            key: vec!["m".into()],
            slots: vec![slot("a", 1.0), slot("z", 9.0), None],
        };
        let mut ab = a.clone();
        ab.merge(b.clone());
        let mut ba = b;
        ba.merge(a);
        assert_eq!(ab, ba);
        assert_eq!(ab.slots[0], slot("a", 1.0));
    }
}
