//! `lobbylog prune`, the real binary: what goes, what stays, dry runs, bad durations; the other
//! files: history through reproject, concurrency, and the daily prune inside `serve`.

mod concurrency;
mod history;
mod serve;

use std::process::{Child, Stdio};

use serde_json::Value;
use sqlx::PgPool;

use crate::{
    daily,
    helpers::{self, Run, TestApp, now, spawn_app},
};

const DAY: f64 = 86_400.0;

/// `lobbylog ARGS` against `url`, started but not waited for, its info logs on stderr.
pub fn start(url: &str, args: &[&str]) -> Child {
    helpers::lobbylog(url, args)
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .spawn()
        .expect("starting lobbylog")
}

/// Waits for a started run to end.
pub async fn finish(child: Child) -> Run {
    tokio::task::spawn_blocking(move || {
        let output = child.wait_with_output().unwrap();
        Run {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    })
    .await
    .unwrap()
}

/// Runs `lobbylog ARGS` against `url` to its end.
pub async fn lobbylog(url: &str, args: &[&str]) -> Run {
    finish(start(url, args)).await
}

/// Loads `events` (and `extra` raw lines) through `lobbylog backfill`.
pub async fn backfill(app: &TestApp, events: &[Value], extra: &str) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("archive.ndjson");
    let mut text: String = events.iter().map(|e| format!("{e}\n")).collect();
    text.push_str(extra);
    std::fs::write(&path, text).unwrap();
    let run = lobbylog(&app.database_url(), &["backfill", path.to_str().unwrap()]).await;
    assert!(run.code == 0 || run.code == 2, "{run:?}");
    assert_eq!(run.count("inserted"), events.len() as u64, "{run:?}");
}

/// Seconds since the epoch, `days` ago.
pub fn days_ago(days: f64) -> f64 {
    now() - days * DAY
}

pub async fn ids(pool: &PgPool, sql: &str) -> Vec<String> {
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_owned()))
        .fetch_all(pool)
        .await
        .unwrap()
}

/// Events of several types and ages, and the ids of those a 90-day prune keeps.
fn events_of_several_ages() -> (Vec<Value>, Vec<String>) {
    let recording = |id: &str, days: f64| {
        daily::envelope(
            "recording.started",
            id,
            days_ago(days),
            serde_json::json!({}),
        )
    };
    let mut unstamped = daily::waiting_joined("room", "unstamped-new", days_ago(0.0));
    unstamped.as_object_mut().unwrap().remove("event_ts");
    let mut old_unstamped = daily::waiting_joined("room", "unstamped-old", days_ago(0.0));
    old_unstamped.as_object_mut().unwrap().remove("event_ts");
    let events = vec![
        daily::waiting_joined("room", "old-knock-200d", days_ago(200.0)),
        daily::participant_joined("room", "old-session-100d", days_ago(100.0)),
        recording("rec-old-95d", 95.0),
        daily::waiting_joined("room", "new-knock-89d", days_ago(89.0)),
        daily::waiting_joined("room", "new-knock-10d", days_ago(10.0)),
        daily::participant_joined("room", "new-session-1h", days_ago(1.0 / 24.0)),
        recording("rec-new-1d", 1.0),
        unstamped,
        old_unstamped,
    ];
    let kept = [3, 4, 5, 6, 7].map(|i| events[i]["id"].as_str().unwrap().to_owned());
    let mut kept = kept.to_vec();
    kept.sort();
    (events, kept)
}

/// Two dead letters from the backfill, one of them made 100 days old.
const BAD_LINES: &str = "not json, old\nnot json, new\n";

async fn age_the_old_unstamped_event_and_dead_letter(pool: &PgPool) {
    sqlx::query(
        "update webhook_events set received_at = now() - interval '100 days'
         where event_id like '%unstamped-old'",
    )
    .execute(pool)
    .await
    .unwrap();
    sqlx::query(
        "update dead_letters set received_at = now() - interval '100 days'
         where body = 'not json, old'",
    )
    .execute(pool)
    .await
    .unwrap();
}

#[tokio::test]
async fn a_prune_deletes_raw_events_and_dead_letters_older_than_the_cutoff_and_keeps_the_rest() {
    let app = spawn_app().await;
    let (events, kept) = events_of_several_ages();
    backfill(&app, &events, BAD_LINES).await;
    age_the_old_unstamped_event_and_dead_letter(&app.pool).await;

    let run = lobbylog(&app.database_url(), &["prune", "--older-than", "90d"]).await;
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stdout.starts_with("prune finished"), "{run:?}");
    assert_eq!((run.count("events"), run.count("dead letters")), (4, 1));

    let stored = ids(&app.pool, "select event_id from webhook_events order by 1").await;
    assert_eq!(stored, kept);
    let letters = ids(
        &app.pool,
        "select convert_from(body, 'UTF8') from dead_letters",
    )
    .await;
    assert_eq!(letters, ["not json, new"]);
    let horizon_age_days: f64 = sqlx::query_scalar(
        "select extract(epoch from now() - pruned_before)::float8 / 86400 from retention_horizon",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert!(
        (90.0..90.01).contains(&horizon_age_days),
        "{horizon_age_days}"
    );
    assert_eq!(
        app.count("waiting_sessions").await,
        5,
        "knocks are never pruned"
    );
    assert_eq!(app.count("participant_sessions").await, 2);

    let again = lobbylog(&app.database_url(), &["prune", "--older-than", "90d"]).await;
    assert_eq!((again.code, again.count("events")), (0, 0), "{again:?}");
}

#[tokio::test]
async fn a_dry_run_counts_what_a_prune_would_delete_and_changes_nothing() {
    let app = spawn_app().await;
    let (events, _) = events_of_several_ages();
    backfill(&app, &events, BAD_LINES).await;
    age_the_old_unstamped_event_and_dead_letter(&app.pool).await;
    let everything = "select event_id from webhook_events
                      union all select id::text from dead_letters order by 1";
    let before = ids(&app.pool, everything).await;

    let dry = lobbylog(
        &app.database_url(),
        &["prune", "--older-than", "90d", "--dry-run"],
    )
    .await;
    assert_eq!(dry.code, 0, "{dry:?}");
    assert!(dry.stdout.contains("nothing deleted"), "{dry:?}");
    assert!(dry.stdout.contains("4 would be deleted"), "{dry:?}");
    assert_eq!(ids(&app.pool, everything).await, before);
    assert_eq!(app.count("retention_horizon").await, 0);

    let real = lobbylog(&app.database_url(), &["prune", "--older-than", "90d"]).await;
    assert_eq!(
        (real.count("events"), real.count("dead letters")),
        (dry.count("events"), dry.count("dead letters"))
    );
}

#[tokio::test]
async fn bad_durations_are_refused_with_the_reason_before_anything_is_deleted() {
    let app = spawn_app().await;
    backfill(
        &app,
        &[daily::waiting_joined("room", "kept-0001", 1.0e9)],
        "",
    )
    .await;
    for (duration, reason) in [
        ("90", "has no unit"),
        ("ninety days", "is not a duration"),
        ("0d", "more than 0"),
        ("1.5d", "is not a duration"),
    ] {
        let run = lobbylog(&app.database_url(), &["prune", "--older-than", duration]).await;
        assert_eq!(run.code, 2, "{duration}: {run:?}");
        assert!(run.stderr.contains(reason), "{duration}: {}", run.stderr);
    }
    let run = lobbylog(&app.database_url(), &["prune"]).await;
    assert!(run.stderr.contains("--older-than"), "{run:?}");
    assert_eq!(app.count("webhook_events").await, 1);
}
