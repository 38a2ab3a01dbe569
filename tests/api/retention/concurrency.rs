//! Prunes while the intake writes, next to each other and to reproject, and interrupted.

use std::{process::Command, time::Duration};

use futures::future::join_all;
use lobbylog::store::RetentionLock;
use serde_json::Value;

use super::{backfill, days_ago, finish, lobbylog, start};
use crate::{
    daily,
    helpers::{TestApp, count_events, now, spawn_app},
};

/// `n` knocks from about 100 days ago, one event each.
fn old_knocks(n: usize) -> Vec<Value> {
    (0..n)
        .map(|i| daily::waiting_joined("room", &format!("old-{i:05}"), days_ago(100.0) + i as f64))
        .collect()
}

async fn count_like(app: &TestApp, pattern: &str) -> i64 {
    sqlx::query_scalar("select count(*) from webhook_events where event_id like $1")
        .bind(pattern)
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_prune_while_the_intake_stores_new_events_loses_none_of_them() {
    let app = spawn_app().await;
    backfill(&app, &old_knocks(4_000), "").await;
    let mut prune = start(
        &app.database_url(),
        &["prune", "--older-than", "90d", "--batch-size", "25"],
    );
    let (mut posted, mut posted_midway) = (0, false);
    loop {
        let batch: Vec<String> = (posted..posted + 10)
            .map(|i| daily::waiting_joined("room", &format!("new-{i:05}"), now()).to_string())
            .collect();
        let answers = join_all(batch.iter().map(|e| app.post_signed(e.as_bytes()))).await;
        assert!(answers.iter().all(|a| a.status() == 200));
        posted += batch.len();
        let old = count_like(&app, "%old-%").await;
        posted_midway |= 0 < old && old < 4_000;
        if prune.try_wait().unwrap().is_some() {
            break;
        }
    }
    assert!(
        posted_midway,
        "events must be posted while the prune deletes ({posted} posted)"
    );
    let run = finish(prune).await;
    assert_eq!((run.code, run.count("events")), (0, 4_000), "{run:?}");
    assert_eq!(count_like(&app, "%old-%").await, 0);
    assert_eq!(count_like(&app, "%new-%").await, posted as i64);
    assert_eq!(app.count("waiting_sessions").await, 4_000 + posted as i64);
}

#[tokio::test]
async fn prunes_and_a_reproject_started_together_wait_for_the_lock_and_delete_each_row_once() {
    let app = spawn_app().await;
    backfill(&app, &old_knocks(500), "").await;
    let url = app.database_url();
    let holder = RetentionLock::try_take(&app.pool).await.unwrap().unwrap();
    let prune_args = ["prune", "--older-than", "90d", "--batch-size", "50"];
    let mut runs = vec![
        start(&url, &prune_args),
        start(&url, &prune_args),
        start(&url, &["reproject"]),
    ];
    tokio::time::sleep(Duration::from_secs(2)).await;
    for run in &mut runs {
        assert!(
            run.try_wait().unwrap().is_none(),
            "it should wait for the lock"
        );
    }
    assert_eq!(
        count_events(&app.pool).await,
        500,
        "nothing deleted under another's lock"
    );

    holder.release().await.unwrap();
    let mut finished = Vec::new();
    for run in runs {
        finished.push(finish(run).await);
    }
    for run in &finished {
        assert_eq!(run.code, 0, "{run:?}");
        assert!(
            run.stderr
                .contains("holds the retention lock; waiting for it"),
            "{run:?}"
        );
    }
    assert_eq!(
        finished[0].count("events") + finished[1].count("events"),
        500
    );
    assert_eq!(count_events(&app.pool).await, 0);
    assert_eq!(app.count("knocks").await, 500);
}

#[tokio::test]
async fn an_interrupted_prune_keeps_what_it_deleted_exits_130_and_a_rerun_finishes() {
    let app = spawn_app().await;
    backfill(&app, &old_knocks(3_000), "").await;
    let url = app.database_url();
    let prune = start(&url, &["prune", "--older-than", "90d", "--batch-size", "5"]);
    let mut left = 3_000;
    for _ in 0..400 {
        left = count_events(&app.pool).await;
        if left < 2_900 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(left < 2_900, "the prune did not start");
    let pid = prune.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-INT", &pid])
            .status()
            .unwrap()
            .success()
    );
    let run = finish(prune).await;
    assert_eq!(run.code, 130, "{run:?}");
    assert!(run.stdout.starts_with("prune interrupted"), "{run:?}");
    let left = count_events(&app.pool).await;
    assert!(left > 0, "it should stop before the end");
    assert_eq!(run.count("events"), 3_000 - left as u64);

    let rerun = lobbylog(&url, &["prune", "--older-than", "90d"]).await;
    assert_eq!(
        (rerun.code, rerun.count("events")),
        (0, left as u64),
        "{rerun:?}"
    );
    assert_eq!(count_events(&app.pool).await, 0);
    assert_eq!(app.count("waiting_sessions").await, 3_000);
}
