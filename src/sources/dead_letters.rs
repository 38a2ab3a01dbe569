//! Dead letters as a source: bodies kept in `dead_letters`, triaged again with the current code.
//! Those that are events now go to the store like live ones, and their dead letter is marked
//! retried; those still rejected stay, with the new reason.

use std::collections::HashSet;

use anyhow::Context;
use sqlx::PgPool;

use crate::{
    store::{
        self, Outcome,
        dead_letters::{self, Retriable},
    },
    triage::{self, Item, Origin},
};

/// Dead letters read, triaged and stored per round.
const PAGE: i64 = 500;

/// Which dead letters to retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Selection {
    /// Every one not yet retried, up to the newest there is when the retry starts.
    NotRetried,
    /// This one, retried or not.
    One(i64),
}

/// What a retry did (in a dry run: would do), one count per dead letter examined.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Tally {
    /// Dead letters triaged again.
    pub examined: u64,
    /// Events new to `webhook_events`: stored, and their dead letter marked.
    pub stored: u64,
    /// Events whose id was already stored (or came earlier in the retry): marked.
    pub duplicates: u64,
    /// Duplicates whose type or payload differs from the event kept (the first one): marked.
    pub conflicts: u64,
    /// Daily's `{"test":"test"}` probe, which is not kept: marked, with no event.
    pub probes: u64,
    /// Still not a usable envelope, or refused by Postgres: kept, with the new reason.
    pub rejected: u64,
}

/// Triages the selected dead letters again and stores what are events now; with `dry_run`,
/// writes nothing and counts what would happen. Each round commits its events before marking
/// their dead letters, so a retry stopped between the two marks them as duplicates next time.
pub async fn retry(pool: &PgPool, selection: Selection, dry_run: bool) -> anyhow::Result<Tally> {
    let mut retry = Retry {
        pool,
        dry_run,
        tally: Tally::default(),
        foreseen: HashSet::new(),
    };
    match selection {
        Selection::One(id) => {
            let letter = dead_letters::one(pool, id)
                .await?
                .with_context(|| format!("there is no dead letter {id}"))?;
            retry.round(&[letter]).await?;
        }
        Selection::NotRetried => {
            let upto = dead_letters::last_id(pool).await?;
            let mut after = 0;
            loop {
                let letters = dead_letters::not_retried(pool, after, upto, PAGE).await?;
                let Some(last) = letters.last() else { break };
                after = last.id;
                retry.round(&letters).await?;
            }
        }
    }
    Ok(retry.tally)
}

struct Retry<'a> {
    pool: &'a PgPool,
    dry_run: bool,
    tally: Tally,
    /// In a dry run, the event ids that would have been stored so far.
    foreseen: HashSet<String>,
}

impl Retry<'_> {
    /// One round: triage, store (or foresee), count, mark.
    async fn round(&mut self, letters: &[Retriable]) -> Result<(), sqlx::Error> {
        self.tally.examined += letters.len() as u64;
        let mut probes = Vec::new();
        let mut items = Vec::with_capacity(letters.len());
        for letter in letters {
            match triage::item(&letter.body, Origin::DeadLetter { id: letter.id }) {
                Some(item) => items.push(item),
                None => probes.push(letter.id),
            }
        }
        self.tally.probes += probes.len() as u64;
        let outcomes = match self.dry_run {
            true => self.foresee(&items).await?,
            false => store::write(self.pool, &items).await?,
        };
        let mut marks: Vec<(i64, Option<&str>)> = probes.into_iter().map(|id| (id, None)).collect();
        for (item, outcome) in items.iter().zip(outcomes) {
            match outcome {
                Outcome::Stored => self.tally.stored += 1,
                Outcome::Duplicate => self.tally.duplicates += 1,
                Outcome::Conflict => self.tally.conflicts += 1,
                Outcome::Rejected | Outcome::Refused => {
                    self.tally.rejected += 1;
                    continue;
                }
            }
            if let (Item::Event { event, .. }, Origin::DeadLetter { id }) = (item, item.origin()) {
                marks.push((*id, Some(event.id.as_str())));
            }
        }
        if !self.dry_run {
            dead_letters::mark_retried(self.pool, &marks).await?;
        }
        Ok(())
    }

    /// The outcomes storing `items` would have: an event whose id is stored, or would have been
    /// earlier in this dry run, is a duplicate (conflicts are not told apart).
    async fn foresee(&mut self, items: &[Item]) -> Result<Vec<Outcome>, sqlx::Error> {
        let ids: Vec<&str> = items
            .iter()
            .filter_map(|item| match item {
                Item::Event { event, .. } => Some(event.id.as_str()),
                Item::Reject(_) => None,
            })
            .collect();
        let stored = store::stored_event_ids(self.pool, &ids).await?;
        Ok(items
            .iter()
            .map(|item| match item {
                Item::Reject(_) => Outcome::Rejected,
                Item::Event { event, .. } => {
                    if !stored.contains(&event.id) && self.foreseen.insert(event.id.clone()) {
                        Outcome::Stored
                    } else {
                        Outcome::Duplicate
                    }
                }
            })
            .collect())
    }
}
