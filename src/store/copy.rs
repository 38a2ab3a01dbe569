//! The raw rows of a large batch by binary COPY, after a lookup of the ids stored already.

use std::collections::HashSet;

use sqlx::PgConnection;

use super::raw::{Inserted, conflicting, stored_digests};
use crate::triage::{DIGEST_LEN, Event};

/// A large batch: the ids already stored are looked up first, by id alone, with their payload
/// digests; a repeat with the digest of the stored row is a duplicate (it cost that lookup and
/// nothing else), and only the others found are compared with their stored rows as jsonb. The
/// rest go by binary COPY, the cheapest way into the table; with nothing new, nothing more is
/// sent. Should an id be stored meanwhile (a batch committing concurrently, the live intake),
/// the COPY fails with the unique violation of [`PRIMARY_KEY`](super::raw::PRIMARY_KEY), which
/// aborts the transaction; the caller then writes the batch again with the array insert, which
/// skips stored ids (nothing is lost: the transaction had only read before).
pub(super) async fn insert_by_copy(
    conn: &mut PgConnection,
    events: &[&Event],
    errors: &[Option<&str>],
) -> Result<(Inserted, HashSet<String>), sqlx::Error> {
    // Ids first: in a first load most are new, and their bodies need not travel twice.
    let ids: Vec<&str> = events.iter().map(|e| e.id.as_str()).collect();
    let found = stored_digests(&mut *conn, &ids).await?;
    let unsure: Vec<&Event> = events
        .iter()
        .filter(|e| match found.get(e.id.as_str()) {
            Some(stored) => stored.as_deref() != Some(&e.digest()[..]),
            None => false,
        })
        .copied()
        .collect();
    let conflicts = conflicting(&mut *conn, &unsure).await?;
    let (new, new_errors): (Vec<&Event>, Vec<Option<&str>>) = events
        .iter()
        .zip(errors)
        .filter(|(e, _)| !found.contains_key(e.id.as_str()))
        .map(|(e, err)| (*e, *err))
        .unzip();
    if new.is_empty() {
        return Ok((Inserted::Only(HashSet::new()), conflicts));
    }
    copy(conn, &new, &new_errors).await?;
    let inserted = match found.is_empty() {
        true => Inserted::All,
        false => Inserted::Only(new.iter().map(|e| e.id.clone()).collect()),
    };
    Ok((inserted, conflicts))
}

/// Rows sent to COPY at a time, so the buffer stays small whatever the batch.
const COPY_CHUNK: usize = 256 * 1024;

/// COPY of `events` into `webhook_events`, streamed in chunks of COPY's binary format.
async fn copy(
    conn: &mut PgConnection,
    events: &[&Event],
    errors: &[Option<&str>],
) -> Result<(), sqlx::Error> {
    let mut copy_in = conn
        .copy_in_raw(
            "copy webhook_events \
             (event_id, event_type, version, event_ts, body, projection_error, payload_digest) \
             from stdin with (format binary)",
        )
        .await?;
    let mut buffer = Vec::with_capacity(COPY_CHUNK + 4096);
    buffer.extend_from_slice(b"PGCOPY\n\xff\r\n\0");
    buffer.extend_from_slice(&[0; 8]); // flags, header extension length
    for (event, error) in events.iter().zip(errors) {
        push_row(&mut buffer, event, *error);
        if buffer.len() >= COPY_CHUNK {
            if let Err(e) = copy_in.send(buffer.as_slice()).await {
                copy_in.abort(e.to_string()).await?;
                return Err(e);
            }
            buffer.clear();
        }
    }
    buffer.extend_from_slice(&(-1i16).to_be_bytes());
    if let Err(e) = copy_in.send(buffer.as_slice()).await {
        copy_in.abort(e.to_string()).await?;
        return Err(e);
    }
    copy_in.finish().await.map(|_| ())
}

/// Seconds between the Unix epoch and Postgres' (2000-01-01).
const POSTGRES_EPOCH: f64 = 946_684_800.0;

/// One row in COPY's binary format, columns as in [`copy`].
fn push_row(out: &mut Vec<u8>, event: &Event, error: Option<&str>) {
    out.extend_from_slice(&7i16.to_be_bytes());
    push_text(out, Some(&event.id));
    push_text(out, Some(&event.event_type));
    push_text(out, event.version.as_deref());
    match event.event_ts {
        // As Postgres' to_timestamp(float8) computes it, so both paths store the same instant.
        Some(ts) => {
            let micros = ((ts - POSTGRES_EPOCH) * 1e6).round_ties_even() as i64;
            out.extend_from_slice(&8i32.to_be_bytes());
            out.extend_from_slice(&micros.to_be_bytes());
        }
        None => out.extend_from_slice(&(-1i32).to_be_bytes()),
    }
    // jsonb's binary form: format version 1, then the JSON text.
    out.extend_from_slice(&(event.raw.len() as i32 + 1).to_be_bytes());
    out.push(1);
    out.extend_from_slice(event.raw.as_bytes());
    push_text(out, error);
    out.extend_from_slice(&(DIGEST_LEN as i32).to_be_bytes());
    out.extend_from_slice(&event.digest());
}

fn push_text(out: &mut Vec<u8>, value: Option<&str>) {
    match value {
        Some(text) => {
            out.extend_from_slice(&(text.len() as i32).to_be_bytes());
            out.extend_from_slice(text.as_bytes());
        }
        None => out.extend_from_slice(&(-1i32).to_be_bytes()),
    }
}
