//! Archives in object storage, against moto's real S3 API: `backfill s3://...`, `export --to
//! s3://...`, `prune --archive-to`, and the failures (a missing bucket, refused credentials, an
//! unreachable endpoint, an object cut short).

mod backfill;
mod failures;
mod round_trip;

use crate::helpers::{Run, lobbylog, run, s3::S3Server};

/// `lobbylog ARGS` against `database_url`, with the server's environment.
async fn with_s3(s3: &S3Server, database_url: &str, args: &[&str]) -> Run {
    run(s3.apply(lobbylog(database_url, args)), None).await
}
