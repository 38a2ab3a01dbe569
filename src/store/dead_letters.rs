//! Dead letters: bodies that could not be stored as events, where they came from and why.

use std::{fmt, sync::Arc};

use sqlx::PgPool;

/// Where a body came from; the store writes it as the dead letter's `source`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// A webhook request. Every bad request is kept, repeats included.
    Intake,
    /// Line `line` of the spool segment named `segment`.
    Spool { segment: Arc<str>, line: u64 },
    /// Line `line` of an archive: `file` as given on the command line, `stdin` for `-`.
    Archive { file: Arc<str>, line: u64 },
}

impl fmt::Display for Origin {
    /// The `source` column: `intake`, `spool:<segment>:<line>` or `backfill:<file>:<line>`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Intake => f.write_str("intake"),
            Self::Spool { segment, line } => write!(f, "spool:{segment}:{line}"),
            Self::Archive { file, line } => write!(f, "backfill:{file}:{line}"),
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
