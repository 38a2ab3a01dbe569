//! What a source hands the store for one body: an event, or a reject, with where it came from.

use std::{fmt, sync::Arc};

use super::{Event, Triage, triage};

/// Triages `body` into what the store takes; `None` for Daily's probe, which is not kept.
pub fn item(body: &[u8], origin: Origin) -> Option<Item> {
    match triage(body) {
        Triage::Probe => None,
        Triage::Event(event) => Some(Item::Event { event, origin }),
        Triage::Reject(rejection) => Some(Item::Reject(Reject {
            origin,
            reason: rejection.0,
            body: body.to_vec(),
        })),
    }
}

/// One thing to write: an event, or a body that is not a usable envelope.
#[derive(Debug)]
pub enum Item {
    Event { event: Event, origin: Origin },
    Reject(Reject),
}

impl Item {
    pub fn origin(&self) -> &Origin {
        match self {
            Self::Event { origin, .. } => origin,
            Self::Reject(reject) => &reject.origin,
        }
    }
}

/// Where a body came from; the store writes it as the dead letter's `source`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// A webhook request. Every bad request is kept, repeats included.
    Intake,
    /// Line `line` of the spool segment named `segment`.
    Spool { segment: Arc<str>, line: u64 },
    /// Line `line` of an archive: `file` as given on the command line, `stdin` for `-`.
    Archive { file: Arc<str>, line: u64 },
    /// Row `id` of `dead_letters`, triaged again by `lobbylog dead-letters retry`. Its row is kept
    /// as it is, source included: a reject of this origin only gives that row its new reason.
    DeadLetter { id: i64 },
}

impl fmt::Display for Origin {
    /// The `source` column: `intake`, `spool:<segment>:<line>` or `backfill:<file>:<line>`;
    /// `dead_letter:<id>` names a retried dead letter in logs, never in that column.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Intake => f.write_str("intake"),
            Self::Spool { segment, line } => write!(f, "spool:{segment}:{line}"),
            Self::Archive { file, line } => write!(f, "backfill:{file}:{line}"),
            Self::DeadLetter { id } => write!(f, "dead_letter:{id}"),
        }
    }
}

/// A body that is not a usable envelope, or an event Postgres refused, with the reason.
#[derive(Debug, Clone)]
pub struct Reject {
    pub origin: Origin,
    pub reason: String,
    pub body: Vec<u8>,
}
