//! Dead letters: bodies that could not be stored as events, where they came from and why.

use sqlx::PgPool;

use crate::triage::Reject;

/// Keeps dead letters in one statement. Except for the intake's, one already kept with the same
/// source and body is skipped, so a backfill rerun or a replayed spool segment adds nothing.
pub(super) async fn write(pool: &PgPool, rejects: &[&Reject]) -> Result<(), sqlx::Error> {
    if rejects.is_empty() {
        return Ok(());
    }
    let sources: Vec<String> = rejects.iter().map(|r| r.origin.to_string()).collect();
    let reasons: Vec<&str> = rejects.iter().map(|r| r.reason.as_str()).collect();
    let bodies: Vec<&[u8]> = rejects.iter().map(|r| r.body.as_slice()).collect();
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
