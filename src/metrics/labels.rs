//! The label sets of lobbylog's metric families; every value is bounded, so no client can mint a
//! label of its own.

use prometheus_client::encoding::EncodeLabelSet;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct EventLabels {
    pub(super) event_type: &'static str,
    pub(super) outcome: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct ListenerLabels {
    pub(super) listener: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct CutLabels {
    pub(super) listener: &'static str,
    pub(super) reason: &'static str,
}

/// Daily's documented event types: the only values the `event_type` label takes, so a signed
/// request cannot mint a label of its own.
const EVENT_TYPES: &[&str] = &[
    "meeting.started",
    "meeting.ended",
    "participant.joined",
    "participant.left",
    "waiting-participant.joined",
    "waiting-participant.left",
    "recording.started",
    "recording.ready-to-download",
    "recording.error",
    "transcript.started",
    "transcript.ready-to-download",
    "transcript.error",
    "streaming.started",
    "streaming.updated",
    "streaming.ended",
    "streaming.error",
    "batch-processor.job-finished",
    "batch-processor.error",
    "dialout.connected",
    "dialout.answered",
    "dialout.stopped",
    "dialout.warning",
    "dialout.error",
    "dialin.ready",
    "dialin.connected",
    "dialin.stopped",
    "dialin.warning",
    "dialin.error",
];

/// The label for `event_type`: itself when documented, `none` for bodies without one, `other`
/// for anything else.
pub(super) fn event_type_label(event_type: &str) -> &'static str {
    match event_type {
        "none" => "none",
        known => EVENT_TYPES
            .iter()
            .find(|t| **t == known)
            .copied()
            .unwrap_or("other"),
    }
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct StatusLabels {
    pub(super) status: u16,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct WebhookLabels {
    pub(super) uuid: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct TableLabels {
    pub(super) table: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct OutcomeLabels {
    pub(super) outcome: &'static str,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_type_labels_are_bounded_to_documented_types() {
        assert_eq!(
            event_type_label("waiting-participant.left"),
            "waiting-participant.left"
        );
        assert_eq!(event_type_label("none"), "none");
        assert_eq!(event_type_label(&"x".repeat(100_000)), "other");
        assert_eq!(event_type_label("participant.joined\n"), "other");
    }
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct ReasonLabels {
    pub(super) reason: &'static str,
}
