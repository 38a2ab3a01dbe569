//! The one writer of events: idempotent raw insert and projection, in one transaction per batch.

mod raw;

use std::{collections::HashSet, pin::Pin};

use sqlx::{PgConnection, PgPool};

use crate::{
    event::{self, Event, Parsed},
    projection::{self, Fact},
};

/// What became of one event of a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// New: its raw row (and projection) committed.
    Stored,
    /// Its id was already stored, or came earlier in the same batch.
    Duplicate,
    /// Postgres refused it; its bytes and the reason are in `dead_letters`.
    DeadLettered,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Stored => "stored",
            Self::Duplicate => "duplicate",
            Self::DeadLettered => "dead_lettered",
        }
    }
}

/// Stores a batch in one transaction and returns each event's outcome, in input order.
///
/// If Postgres refuses the batch because of one event's data, the batch is split in halves until
/// that event stands alone, so it cannot fail its neighbours (a few transactions, not one per
/// event); it is then stored raw without its projection, or dead-lettered if even that is
/// refused. Any other error (connection lost, deadlock, shutdown, a schema this binary does not
/// expect) is returned: nothing of the batch was committed, and the caller keeps the events.
pub async fn write_batch(
    pool: &PgPool,
    source: &str,
    events: &[Event],
) -> Result<Vec<Outcome>, sqlx::Error> {
    match write_in_transaction(pool, events, None).await {
        Err(e) if refuses_data(&e) => {
            tracing::warn!(error = %e, batch = events.len(), "batch refused, isolating the event");
            isolate(pool, source, events).await
        }
        other => other,
    }
}

/// Halves a refused batch until the refused event is alone; the halves are stored in order, so
/// a repeated id still counts as a duplicate after its first occurrence.
fn isolate<'a>(
    pool: &'a PgPool,
    source: &'a str,
    events: &'a [Event],
) -> Pin<Box<dyn Future<Output = Result<Vec<Outcome>, sqlx::Error>> + Send + 'a>> {
    Box::pin(async move {
        if let [event] = events {
            return write_one(pool, source, event).await.map(|o| vec![o]);
        }
        let (first, second) = events.split_at(events.len() / 2);
        let mut outcomes = Vec::with_capacity(events.len());
        for half in [first, second] {
            match write_in_transaction(pool, half, None).await {
                Err(e) if refuses_data(&e) => outcomes.extend(isolate(pool, source, half).await?),
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
async fn write_one(pool: &PgPool, source: &str, event: &Event) -> Result<Outcome, sqlx::Error> {
    let alone = std::slice::from_ref(event);
    let refusal = match write_in_transaction(pool, alone, None).await {
        Err(e) if refuses_data(&e) => e.to_string(),
        other => return other.map(|outcomes| outcomes[0]),
    };
    let unprojected = format!("postgres refused the projection: {refusal}");
    match write_in_transaction(pool, alone, Some(&unprojected)).await {
        Err(e) if refuses_data(&e) => {
            Ok(dead_letter_refused(pool, source, event, &e.to_string()).await?[0])
        }
        other => other.map(|outcomes| outcomes[0]),
    }
}

async fn dead_letter_refused(
    pool: &PgPool,
    source: &str,
    event: &Event,
    error: &str,
) -> Result<Vec<Outcome>, sqlx::Error> {
    tracing::warn!(event_id = %event.id, error, "postgres refused an event; dead-lettered");
    let reason = format!("postgres refused the event: {error}");
    write_dead_letter(pool, source, &reason, event.raw.as_bytes()).await?;
    Ok(vec![Outcome::DeadLettered])
}

/// The raw insert and the projection of the new events, in one transaction; with `unprojected`,
/// the events are stored raw with that as their projection error.
async fn write_in_transaction(
    pool: &PgPool,
    events: &[Event],
    unprojected: Option<&str>,
) -> Result<Vec<Outcome>, sqlx::Error> {
    let first_index = first_occurrences(events);
    let mut unique: Vec<&Event> = first_index.iter().map(|&i| &events[i]).collect();
    // Inserted in id order, so concurrent batches lock ids in the same order and cannot deadlock.
    unique.sort_unstable_by(|a, b| a.id.cmp(&b.id));
    let projected: Vec<Result<Option<Fact>, String>> = match unprojected {
        None => unique.iter().map(|e| projection::facts(e)).collect(),
        Some(reason) => unique.iter().map(|_| Err(reason.to_owned())).collect(),
    };
    let mut tx = pool.begin().await?;
    let inserted = raw::insert(&mut tx, &unique, &projected).await?;
    let mut facts = Vec::with_capacity(unique.len());
    for (event, fact) in unique.iter().zip(projected) {
        if !inserted.contains(event.id.as_str()) {
            continue;
        }
        match fact {
            Ok(Some(fact)) => facts.push(fact),
            Ok(None) => {}
            Err(error) => tracing::warn!(
                event_id = %event.id,
                event_type = %event.event_type,
                error,
                "event stored raw but not projected"
            ),
        }
    }
    projection::apply(&mut tx, facts).await?;
    tx.commit().await?;
    let mut outcomes = vec![Outcome::Duplicate; events.len()];
    for &i in &first_index {
        if inserted.contains(events[i].id.as_str()) {
            outcomes[i] = Outcome::Stored;
        }
    }
    Ok(outcomes)
}

/// Indexes of the first event of each id, in input order.
fn first_occurrences(events: &[Event]) -> Vec<usize> {
    let mut seen = HashSet::with_capacity(events.len());
    (0..events.len())
        .filter(|&i| seen.insert(events[i].id.as_str()))
        .collect()
}

/// Keeps an authentic body we could not use, with the reason.
pub async fn write_dead_letter(
    pool: &PgPool,
    source: &str,
    reason: &str,
    body: &[u8],
) -> Result<(), sqlx::Error> {
    write_dead_letters(
        pool,
        &[DeadLetter {
            source,
            reason,
            body,
        }],
    )
    .await
}

/// A record that could not be stored as an event, with where it came from and why.
#[derive(Debug, Clone, Copy)]
pub struct DeadLetter<'a> {
    pub source: &'a str,
    pub reason: &'a str,
    pub body: &'a [u8],
}

/// Keeps many dead letters in one statement. Except for the intake's, one already kept with the
/// same source and body is skipped, so a backfill rerun or a replayed spool segment adds nothing.
pub async fn write_dead_letters(
    pool: &PgPool,
    letters: &[DeadLetter<'_>],
) -> Result<(), sqlx::Error> {
    if letters.is_empty() {
        return Ok(());
    }
    let sources: Vec<&str> = letters.iter().map(|l| l.source).collect();
    let reasons: Vec<&str> = letters.iter().map(|l| l.reason).collect();
    let bodies: Vec<&[u8]> = letters.iter().map(|l| l.body).collect();
    sqlx::query(
        "insert into dead_letters (source, reason, body)
         select * from unnest($1::text[], $2::text[], $3::bytea[])
         on conflict do nothing",
    )
    .bind(sources)
    .bind(reasons)
    .bind(bodies)
    .execute(pool)
    .await?;
    Ok(())
}

/// How many events are stored.
pub async fn count_events(pool: &PgPool) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("select count(*) from webhook_events")
        .fetch_one(pool)
        .await
}

/// Empties the normalized tables (before a `reproject`); raw events are untouched.
pub async fn clear_projection(pool: &PgPool) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    projection::clear(&mut tx).await?;
    tx.commit().await
}

/// Re-projects the stored events after `after` (by event id), at most `limit` of them, in one
/// transaction. Returns how many were read and the last id, or `None` when there are no more.
pub async fn reproject_page(
    pool: &PgPool,
    after: &str,
    limit: i64,
) -> Result<Option<(usize, String)>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let rows: Vec<(String, String)> = sqlx::query_as(
        "select event_id, body::text from webhook_events
         where event_id > $1 order by event_id limit $2",
    )
    .bind(after)
    .bind(limit)
    .fetch_all(&mut *tx)
    .await?;
    let Some((last, _)) = rows.last() else {
        return Ok(None);
    };
    let last = last.clone();
    let mut facts = Vec::new();
    let mut ids = Vec::with_capacity(rows.len());
    let mut errors = Vec::with_capacity(rows.len());
    for (id, body) in &rows {
        let error = match event::parse(body.as_bytes()) {
            Ok(Parsed::Event(event)) => match projection::facts(&event) {
                Ok(fact) => {
                    facts.extend(fact);
                    None
                }
                Err(error) => Some(error),
            },
            Ok(Parsed::Probe) => None,
            Err(rejection) => Some(rejection.0),
        };
        ids.push(id.as_str());
        errors.push(error);
    }
    set_projection_errors(&mut tx, &ids, &errors).await?;
    projection::apply(&mut tx, facts).await?;
    tx.commit().await?;
    Ok(Some((rows.len(), last)))
}

async fn set_projection_errors(
    conn: &mut PgConnection,
    ids: &[&str],
    errors: &[Option<String>],
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "update webhook_events w set projection_error = e.err
         from unnest($1::text[], $2::text[]) as e(id, err)
         where w.event_id = e.id and w.projection_error is distinct from e.err",
    )
    .bind(ids)
    .bind(errors)
    .execute(conn)
    .await?;
    Ok(())
}
