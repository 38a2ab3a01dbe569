//! One batch of events in one transaction: raw insert and projection, a refused event isolated.

use std::{
    collections::{HashMap, HashSet},
    pin::Pin,
};

use sqlx::PgPool;

use super::{
    Outcome, copy, dead_letters, one_statement,
    raw::{self, Insert},
};
use crate::{
    projection::{self, Fact},
    triage::{Event, Origin, Reject},
};

/// An event to store and where it came from (the dead letter's source if Postgres refuses it).
#[derive(Debug, Clone, Copy)]
pub(super) struct Pending<'a> {
    pub event: &'a Event,
    pub origin: &'a Origin,
}

/// Stores events in one transaction and returns each one's outcome, in input order.
///
/// If Postgres refuses the batch because of one event's data, the batch is split in halves until
/// that event stands alone, so it cannot fail its neighbours (a few transactions, not one per
/// event); it is then stored raw without its projection, or dead-lettered if even that is
/// refused. Any other error (connection lost, deadlock, shutdown, a schema this binary does not
/// expect) is returned: nothing of the batch was committed, and the caller keeps the events.
pub(super) async fn write_events(
    pool: &PgPool,
    events: &[Pending<'_>],
    how: Insert,
) -> Result<Vec<Outcome>, sqlx::Error> {
    if events.is_empty() {
        return Ok(Vec::new());
    }
    let written = match how {
        Insert::Arrays => write_in_one_statement(pool, events).await,
        Insert::Copy => match write_in_transaction(pool, events, None, how).await {
            // An id the lookup did not find was stored meanwhile, failing the COPY.
            Err(e) if raw::names_stored_id(&e) => {
                write_in_transaction(pool, events, None, Insert::Arrays).await
            }
            other => other,
        },
    };
    match written {
        Err(e) if refuses_data(&e) => {
            tracing::warn!(error = %e, batch = events.len(), "batch refused, isolating the event");
            isolate(pool, events).await
        }
        other => other,
    }
}

/// Halves a refused batch until the refused event is alone; the halves are stored in order, so
/// a repeated id still counts as a duplicate after its first occurrence.
fn isolate<'a>(
    pool: &'a PgPool,
    events: &'a [Pending<'a>],
) -> Pin<Box<dyn Future<Output = Result<Vec<Outcome>, sqlx::Error>> + Send + 'a>> {
    Box::pin(async move {
        if let [event] = events {
            return write_one(pool, *event).await.map(|o| vec![o]);
        }
        let (first, second) = events.split_at(events.len() / 2);
        let mut outcomes = Vec::with_capacity(events.len());
        for half in [first, second] {
            match write_in_transaction(pool, half, None, Insert::Arrays).await {
                Err(e) if refuses_data(&e) => outcomes.extend(isolate(pool, half).await?),
                other => outcomes.extend(other?),
            }
        }
        Ok(outcomes)
    })
}

/// Whether Postgres refused the data itself (data exception, constraint, size limit), as
/// opposed to not being able to take any write right now.
fn refuses_data(error: &sqlx::Error) -> bool {
    let sqlx::Error::Database(e) = error else {
        return false;
    };
    e.code()
        .is_some_and(|code| matches!(code.get(..2), Some("22" | "23" | "54")))
}

/// Whether the error says Postgres cannot take writes now (connection, shutdown, resources), as
/// opposed to something about what was written.
pub fn is_unavailable(error: &sqlx::Error) -> bool {
    use sqlx::Error::*;
    match error {
        Database(e) => e
            .code()
            .is_some_and(|code| matches!(code.get(..2), Some("08" | "53" | "57" | "58"))),
        Io(_) | Tls(_) | Protocol(_) | PoolTimedOut | PoolClosed | WorkerCrashed => true,
        _ => false,
    }
}

/// One event alone. If Postgres refuses its projection, the raw row is kept with the refusal as
/// its `projection_error`; only if it refuses the raw row too is the event dead-lettered.
async fn write_one(pool: &PgPool, event: Pending<'_>) -> Result<Outcome, sqlx::Error> {
    let alone = std::slice::from_ref(&event);
    let refusal = match write_in_transaction(pool, alone, None, Insert::Arrays).await {
        Err(e) if refuses_data(&e) => e.to_string(),
        other => return other.map(|outcomes| outcomes[0]),
    };
    let unprojected = format!("postgres refused the projection: {refusal}");
    match write_in_transaction(pool, alone, Some(&unprojected), Insert::Arrays).await {
        Err(e) if refuses_data(&e) => dead_letter_refused(pool, event, &e.to_string()).await,
        other => other.map(|outcomes| outcomes[0]),
    }
}

async fn dead_letter_refused(
    pool: &PgPool,
    Pending { event, origin }: Pending<'_>,
    error: &str,
) -> Result<Outcome, sqlx::Error> {
    tracing::warn!(event_id = %event.id, error, "postgres refused an event; dead-lettered");
    let refused = Reject {
        origin: origin.clone(),
        reason: format!("postgres refused the event: {error}"),
        body: event.raw.as_bytes().to_vec(),
    };
    dead_letters::write(pool, &[&refused]).await?;
    Ok(Outcome::Refused)
}

/// The raw insert and the projection of the new events in one statement, one round trip; in a
/// transaction instead when a projected row has both a new event and one stored before.
///
/// Duplicates are compared with what was stored after the commit: should that comparison fail,
/// the batch is stored all the same, and written again its events are duplicates.
async fn write_in_one_statement(
    pool: &PgPool,
    events: &[Pending<'_>],
) -> Result<Vec<Outcome>, sqlx::Error> {
    let unique = unique_in_id_order(events);
    let mut facts: Vec<(&str, Fact)> = Vec::with_capacity(unique.len());
    let mut refusals: Vec<Option<String>> = Vec::with_capacity(unique.len());
    for event in &unique {
        match projection::facts(event) {
            Ok(fact) => {
                facts.extend(fact.map(|f| (event.id.as_str(), f)));
                refusals.push(None);
            }
            Err(error) => refusals.push(Some(error)),
        }
    }
    let errors: Vec<Option<&str>> = refusals.iter().map(Option::as_deref).collect();
    let rows = projection::BatchRows::new(facts);
    let Some(inserted) = one_statement::write(pool, &unique, &errors, &rows).await? else {
        return write_in_transaction(pool, events, None, Insert::Arrays).await;
    };
    for (event, error) in unique.iter().zip(&errors) {
        if let Some(error) = error
            && inserted.contains(&event.id)
        {
            warn_unprojected(event, error);
        }
    }
    let stored_before: Vec<&Event> = unique
        .iter()
        .filter(|e| !inserted.contains(e.id.as_str()))
        .copied()
        .collect();
    let conflicts = raw::conflicting(pool, &stored_before).await?;
    Ok(outcomes(events, &inserted, &conflicts))
}

fn warn_unprojected(event: &Event, error: &str) {
    tracing::warn!(
        event_id = %event.id,
        event_type = %event.event_type,
        error,
        "event stored raw but not projected"
    );
}

/// The first event of each id, in id order: concurrent batches then lock ids in the same order
/// and cannot deadlock.
fn unique_in_id_order<'a>(events: &[Pending<'a>]) -> Vec<&'a Event> {
    let mut unique: Vec<&Event> = first_occurrences(events)
        .iter()
        .map(|&i| events[i].event)
        .collect();
    unique.sort_unstable_by(|a, b| a.id.cmp(&b.id));
    unique
}

/// The raw insert and the projection of the new events, in one transaction; with `unprojected`,
/// the events are stored raw with that as their projection error.
async fn write_in_transaction(
    pool: &PgPool,
    events: &[Pending<'_>],
    unprojected: Option<&str>,
    how: Insert,
) -> Result<Vec<Outcome>, sqlx::Error> {
    let unique = unique_in_id_order(events);
    let projected: Vec<Result<Option<Fact>, String>> = match unprojected {
        None => unique.iter().map(|e| projection::facts(e)).collect(),
        Some(reason) => unique.iter().map(|_| Err(reason.to_owned())).collect(),
    };
    let mut tx = pool.begin().await?;
    let errors: Vec<Option<&str>> = projected
        .iter()
        .map(|p| p.as_ref().err().map(String::as_str))
        .collect();
    // Which were new, and which of the others differ from what is stored if known already.
    let (inserted, compared) = match how {
        Insert::Copy => {
            let (inserted, conflicts) = copy::insert_by_copy(&mut tx, &unique, &errors).await?;
            (inserted, Some(conflicts))
        }
        Insert::Arrays => (
            raw::insert_by_arrays(&mut tx, &unique, &errors).await?,
            None,
        ),
    };
    let mut facts = Vec::with_capacity(unique.len());
    for (event, fact) in unique.iter().zip(projected) {
        if !inserted.contains(event.id.as_str()) {
            continue;
        }
        match fact {
            Ok(Some(fact)) => facts.push(fact),
            Ok(None) => {}
            Err(error) => warn_unprojected(event, &error),
        }
    }
    let stored_before: Vec<&Event> = unique
        .iter()
        .filter(|e| !inserted.contains(e.id.as_str()))
        .copied()
        .collect();
    let conflicts = match compared {
        Some(conflicts) => conflicts,
        None => raw::conflicting(&mut *tx, &stored_before).await?,
    };
    projection::apply(&mut tx, facts).await?;
    tx.commit().await?;
    Ok(outcomes(events, &inserted, &conflicts))
}

/// Each event's outcome: stored if inserted, else a duplicate of what was stored (or came first
/// in the batch), a conflict if its type or payload differs from that.
fn outcomes(
    events: &[Pending<'_>],
    inserted: &raw::Inserted,
    conflicts: &HashSet<String>,
) -> Vec<Outcome> {
    let mut first: HashMap<&str, &Event> = HashMap::with_capacity(events.len());
    events
        .iter()
        .map(|Pending { event, .. }| match first.get(event.id.as_str()) {
            None => {
                first.insert(&event.id, event);
                if inserted.contains(&event.id) {
                    Outcome::Stored
                } else if conflicts.contains(&event.id) {
                    Outcome::Conflict
                } else {
                    Outcome::Duplicate
                }
            }
            Some(earlier) if differs(earlier, event) => Outcome::Conflict,
            Some(_) => Outcome::Duplicate,
        })
        .collect()
}

/// Whether two events of one id say different things (`event_ts` aside: Daily may restamp it).
/// Payloads of different text are compared as JSON values, so layout and key order do not count.
fn differs(a: &Event, b: &Event) -> bool {
    let payloads_differ = a.payload().get() != b.payload().get() && {
        let value = |e: &Event| serde_json::from_str::<serde_json::Value>(e.payload().get()).ok();
        value(a) != value(b)
    };
    a.event_type != b.event_type || a.version != b.version || payloads_differ
}

/// Indexes of the first event of each id, in input order.
fn first_occurrences(events: &[Pending<'_>]) -> Vec<usize> {
    let mut seen = HashSet::with_capacity(events.len());
    (0..events.len())
        .filter(|&i| seen.insert(events[i].event.id.as_str()))
        .collect()
}
