//! What goes wrong with a bucket: it does not exist, the credentials are refused, the endpoint
//! does not answer, the prefix is empty. Each fails saying which bucket, never printing a
//! secret, and a prune that cannot archive deletes nothing.

use std::time::{Duration, Instant};

use super::with_s3;
use crate::{
    export::stored_over_days,
    helpers::{Run, TestDb, count_events, free_port, lobbylog, run, s3::S3Server, spawn_app},
};

/// A secret of the right shape that the server does not know.
const WRONG_SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYWRONGSECRET";

fn said(run: &Run) -> String {
    format!("{}{}", run.stdout, run.stderr)
}

#[tokio::test]
async fn a_missing_bucket_or_an_empty_prefix_fails_naming_it_before_anything_is_stored() {
    let s3 = S3Server::start();
    let db = TestDb::fresh().await;
    let cases = [
        (
            vec!["backfill", "s3://no-such-bucket/archive"],
            "s3://no-such-bucket",
        ),
        (
            vec!["export", "--to", "s3://no-such-bucket/x"],
            "s3://no-such-bucket",
        ),
        (
            vec!["backfill", "s3://lobbylog/nothing-here"],
            "no objects under s3://lobbylog/nothing-here",
        ),
    ];
    sqlx::query(
        "insert into webhook_events (event_id, event_type, version, event_ts, received_at, body)
         values ('one', 'recording.started', '1.0.0', now(), timestamptz '2024-06-01T00:00:00Z', '{\"id\":\"one\"}')",
    )
    .execute(&db.pool)
    .await
    .unwrap();
    for (args, named) in cases {
        let run = with_s3(&s3, db.url(), &args).await;
        assert_eq!(run.code, 1, "{args:?}: {run:?}");
        assert!(said(&run).contains(named), "{args:?}: {run:?}");
    }
    assert_eq!(count_events(&db.pool).await, 1);
}

#[tokio::test]
async fn refused_credentials_fail_without_printing_the_secret_and_a_prune_deletes_nothing() {
    let s3 = S3Server::start_authenticated();
    let app = spawn_app().await;
    let expected = stored_over_days(&app).await;
    let total: usize = expected.values().sum();
    s3.put("archive/a.ndjson", b"{}\n".to_vec()).await;
    let url = app.database_url();
    let wrong = |args: &[&str]| {
        let mut command = s3.apply(lobbylog(&url, args));
        command.env("AWS_SECRET_ACCESS_KEY", WRONG_SECRET);
        run(command, None)
    };

    let backfill = wrong(&["backfill", &s3.url("archive")]).await;
    assert_eq!(backfill.code, 1, "{backfill:?}");
    assert!(
        said(&backfill).contains("cannot list s3://lobbylog/archive"),
        "{backfill:?}"
    );
    let prune = wrong(&[
        "prune",
        "--older-than",
        "1s",
        "--archive-to",
        &s3.url("pruned"),
    ])
    .await;
    assert_eq!(prune.code, 1, "{prune:?}");
    assert!(
        said(&prune).contains("s3://lobbylog/pruned/2024/05/31.ndjson.zst"),
        "{prune:?}"
    );
    // The server does take its own key: the export it refused with the wrong secret, it stores.
    let export = with_s3(&s3, &url, &["export", "--to", &s3.url("pruned")]).await;
    assert_eq!(export.code, 0, "{export:?}");
    for run in [&backfill, &prune] {
        assert!(!said(run).contains(WRONG_SECRET), "{run:?}");
        assert!(!said(run).contains(&s3.secret), "{run:?}");
    }
    assert_eq!(
        count_events(&app.pool).await,
        total as i64,
        "nothing was deleted"
    );
}

#[tokio::test]
async fn an_unreachable_endpoint_fails_in_seconds_and_a_prune_deletes_nothing() {
    let s3 = S3Server::start();
    let app = spawn_app().await;
    let expected = stored_over_days(&app).await;
    let total: usize = expected.values().sum();
    let mut command = s3.apply(lobbylog(
        &app.database_url(),
        &[
            "prune",
            "--older-than",
            "1s",
            "--archive-to",
            "s3://lobbylog/pruned",
        ],
    ));
    command.env(
        "AWS_ENDPOINT_URL",
        format!("http://127.0.0.1:{}", free_port()),
    );
    let started = Instant::now();
    let prune = run(command, None).await;
    assert_eq!(prune.code, 1, "{prune:?}");
    assert!(
        said(&prune).contains("cannot upload s3://lobbylog/pruned/"),
        "{prune:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        count_events(&app.pool).await,
        total as i64,
        "nothing was deleted"
    );
}
