//! The projection of whatever the triage makes an event: never a panic; a fact names its table
//! and a non-empty key. Inputs are payloads, wrapped in an envelope of each projected type.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lobbylog::{
    projection,
    triage::{self, Item, Origin},
};

const TYPES: [&str; 6] = [
    "waiting-participant.joined",
    "waiting-participant.left",
    "participant.joined",
    "participant.left",
    "meeting.started",
    "meeting.ended",
];

fuzz_target!(|data: &[u8]| {
    let Some((&which, payload)) = data.split_first() else {
        return;
    };
    let Ok(payload) = std::str::from_utf8(payload) else {
        return;
    };
    let event_type = TYPES[usize::from(which) % TYPES.len()];
    let body = format!(
        r#"{{"version":"1.0.0","type":"{event_type}","id":"fuzz-1","payload":{payload},"event_ts":1700000000}}"#
    );
    let Some(Item::Event { event, .. }) = triage::item(body.as_bytes(), Origin::Intake) else {
        return;
    };
    if let Ok(Some(fact)) = projection::facts(&event) {
        let (table, key) = fact.row();
        assert!(!table.is_empty());
        assert!(!key.is_empty() && key.iter().all(|(column, _)| !column.is_empty()));
    }
});
