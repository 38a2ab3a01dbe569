//! Stored events as JSON, the same for the admin listener and `lobbylog events --json`.

use serde_json::{Map, Value, json};
use time::{OffsetDateTime, format_description::well_known::Rfc3339};

use super::{EventFilter, FoundEvent, ProjectedRow, StoredEvent};

/// A time as RFC 3339 in UTC, e.g. `2024-05-01T12:00:00.25Z`.
pub fn rfc3339(at: OffsetDateTime) -> String {
    at.to_offset(time::UtcOffset::UTC)
        .format(&Rfc3339)
        .unwrap_or_else(|_| at.to_string())
}

impl StoredEvent {
    pub fn to_json(&self) -> Value {
        json!({
            "event_id": self.event_id,
            "event_type": self.event_type,
            "version": self.version,
            "event_ts": self.event_ts.map(rfc3339),
            "received_at": rfc3339(self.received_at),
            "body": self.body,
            "projection_error": self.projection_error,
        })
    }
}

impl ProjectedRow {
    pub fn to_json(&self) -> Value {
        let key: Map<String, Value> = self
            .key
            .iter()
            .map(|(column, value)| ((*column).to_owned(), Value::from(value.as_str())))
            .collect();
        json!({
            "table": self.table,
            "key": key,
            "exists": self.exists,
            "holds": self.holds,
        })
    }
}

impl FoundEvent {
    /// The stored row, and `projection`: the row the event fills (null when none).
    pub fn to_json(&self) -> Value {
        let mut value = self.event.to_json();
        value["projection"] = self
            .projection
            .as_ref()
            .map_or(Value::Null, ProjectedRow::to_json);
        value
    }
}

/// A list's answer: the events, newest first, and the limit that bounded it.
pub fn list_json(events: &[StoredEvent], filter: &EventFilter) -> Value {
    json!({
        "events": events.iter().map(StoredEvent::to_json).collect::<Vec<_>>(),
        "limit": filter.limit,
    })
}
