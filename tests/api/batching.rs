//! Group commit: concurrent requests share transactions without changing any outcome; a batch
//! wait that would miss the commit deadline is refused.

use std::{
    io::Read,
    time::{Duration, Instant},
};

use lobbylog::{
    store::{self, Outcome},
    triage::{self, Item, Origin},
};
use serde_json::Value;

use crate::{
    daily,
    helpers::{SECRET, TestDb, lobbylog, spawn_app, spawn_app_with},
};

fn knock(i: usize) -> Vec<u8> {
    let session = format!("{i:08}-0000-4000-8000-000000000000");
    daily::waiting_left("batch", &session, 1.7e9 + i as f64, 12.5)
        .to_string()
        .into_bytes()
}

/// Knock `i` as the store gets it from line `i + 1` of an archive.
fn item(i: usize) -> Item {
    let origin = Origin::Archive {
        file: "batch.ndjson".into(),
        line: i as u64 + 1,
    };
    triage::item(&knock(i), origin).expect("an event")
}

#[tokio::test]
async fn concurrent_requests_share_batches_and_duplicates_stay_single() {
    let app =
        spawn_app_with(|s| s.group_commit.max_wait = std::time::Duration::from_millis(5)).await;
    let mut bodies: Vec<Vec<u8>> = (0..150).map(knock).collect();
    bodies.extend((0..50).map(knock)); // a third are duplicates, some in the same batch
    let responses = futures::future::join_all(bodies.iter().map(|b| app.post_signed(b))).await;
    let mut stored = 0;
    for r in responses {
        assert_eq!(r.status(), 200);
        let status = r.json::<Value>().await.unwrap()["status"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(status == "stored" || status == "duplicate", "{status}");
        stored += usize::from(status == "stored");
    }
    assert_eq!(stored, 150);
    assert_eq!(app.count("webhook_events").await, 150);
    assert_eq!(app.count("knocks").await, 150);
    let metrics = app.get_admin("/metrics").await.text().await.unwrap();
    let batches: f64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("lobbylog_batch_events_count "))
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        batches < 200.0,
        "200 requests should share fewer than 200 transactions: {batches}"
    );
}

#[tokio::test]
async fn one_event_postgres_refuses_does_not_fail_its_batch() {
    let app = spawn_app().await;
    // A constraint stands in for whatever Postgres might refuse in one event.
    sqlx::query("alter table webhook_events add constraint test_refuse check (event_id <> '1-w-ptcpt-left-00000003-0000-4000-8000-000000000000')")
        .execute(&app.pool)
        .await
        .unwrap();
    let items: Vec<Item> = (0..6).chain([1]).map(item).collect();
    let outcomes = store::write(&app.pool, &items).await.unwrap();
    use Outcome::*;
    assert_eq!(
        outcomes,
        vec![Stored, Stored, Stored, Refused, Stored, Stored, Duplicate]
    );
    assert_eq!(app.count("webhook_events").await, 5);
    assert_eq!(app.count("waiting_sessions").await, 5);
    let (source, reason): (String, String) =
        sqlx::query_as("select source, reason from dead_letters")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(source, "backfill:batch.ndjson:4");
    assert!(reason.contains("test_refuse"), "{reason}");
}

#[tokio::test]
async fn with_group_commit_off_each_request_commits_alone_with_the_same_results() {
    let app = spawn_app_with(|s| s.group_commit.enabled = false).await;
    let bodies: Vec<Vec<u8>> = (0..20).chain(0..5).map(knock).collect();
    let responses = futures::future::join_all(bodies.iter().map(|b| app.post_signed(b))).await;
    assert!(responses.iter().all(|r| r.status() == 200));
    assert_eq!(app.count("webhook_events").await, 20);
    let metrics = app.get_admin("/metrics").await.text().await.unwrap();
    assert!(
        metrics
            .lines()
            .any(|l| l == "lobbylog_batch_events_count 25"),
        "{metrics}"
    );
}

#[tokio::test]
async fn an_id_too_long_for_the_index_is_dead_lettered_with_200() {
    let app = spawn_app().await;
    // Random text: Postgres cannot compress it under the btree entry limit (~2.7 kB).
    use rand::{Rng, SeedableRng};
    let mut rng = rand::rngs::StdRng::seed_from_u64(3);
    let id: String = (0..6000)
        .map(|_| char::from(rng.random_range(b'a'..=b'z')))
        .collect();
    let body = daily::envelope("participant.joined", &id, 1.0, serde_json::json!({})).to_string();
    let response = app.post_signed(body.as_bytes()).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.json::<Value>().await.unwrap()["status"],
        "dead_lettered"
    );
    assert_eq!(app.count("webhook_events").await, 0);
    assert_eq!(app.count("dead_letters").await, 1);
}

#[tokio::test]
async fn a_batch_failing_for_a_reason_other_than_its_data_is_returned_not_dead_lettered() {
    let app = spawn_app().await;
    // Stands in for a schema this binary does not expect (or any non-data failure).
    sqlx::query("alter table webhook_events rename column body to payload_json")
        .execute(&app.pool)
        .await
        .unwrap();
    let items: Vec<Item> = (0..3).map(item).collect();
    assert!(store::write(&app.pool, &items).await.is_err());
    assert_eq!(
        app.count("dead_letters").await,
        0,
        "the events must be kept for a retry"
    );
}

#[tokio::test]
async fn an_event_whose_projection_postgres_refuses_keeps_its_raw_row() {
    let app = spawn_app().await;
    // A constraint stands in for whatever Postgres might refuse in a projected row.
    sqlx::query("alter table waiting_sessions add constraint test_refuse check (session_id <> '00000002-0000-4000-8000-000000000000')")
        .execute(&app.pool)
        .await
        .unwrap();
    let items: Vec<Item> = (0..5).map(item).collect();
    let outcomes = store::write(&app.pool, &items).await.unwrap();
    assert!(
        outcomes.iter().all(|o| *o == Outcome::Stored),
        "{outcomes:?}"
    );
    assert_eq!(app.count("webhook_events").await, 5);
    assert_eq!(app.count("waiting_sessions").await, 4);
    let error: String = sqlx::query_scalar(
        "select projection_error from webhook_events where projection_error is not null",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert!(
        error.contains("postgres refused the projection") && error.contains("test_refuse"),
        "{error}"
    );
    assert_eq!(app.count("dead_letters").await, 0);
}

#[tokio::test]
async fn a_batch_wait_not_below_the_commit_deadline_is_refused_at_startup() {
    let (db, spool) = (TestDb::fresh().await, tempfile::tempdir().unwrap());
    for (wait, deadline) in [("2000", "2000"), ("5000", "300")] {
        let mut command = lobbylog(db.url(), &["serve"]);
        command
            .env("DAILY_WEBHOOK_SECRET", SECRET)
            .env("LOBBYLOG_LISTEN", "127.0.0.1:0")
            .env("LOBBYLOG_ADMIN_LISTEN", "127.0.0.1:0")
            .env("LOBBYLOG_SPOOL_DIR", spool.path())
            .env("LOBBYLOG_BATCH_MAX_WAIT_MS", wait)
            .env("LOBBYLOG_COMMIT_DEADLINE_MS", deadline);
        let mut child = command.spawn().unwrap();
        let started = Instant::now();
        while child.try_wait().unwrap().is_none() {
            if started.elapsed() > Duration::from_secs(10) {
                child.kill().unwrap();
                child.wait().unwrap();
                panic!("serve started with a batch wait of {wait} ms, deadline {deadline} ms");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let mut stderr = String::new();
        child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut stderr)
            .unwrap();
        let says = format!(
            "LOBBYLOG_BATCH_MAX_WAIT_MS ({wait}) must be below LOBBYLOG_COMMIT_DEADLINE_MS ({deadline})"
        );
        assert!(stderr.contains(&says), "{stderr}");
    }
}

#[tokio::test]
async fn a_batch_with_a_stored_event_and_a_new_one_of_the_same_session_projects_the_new_one() {
    let app = spawn_app().await;
    let at = |body: serde_json::Value, line: u64| {
        let origin = Origin::Archive {
            file: "batch.ndjson".into(),
            line,
        };
        triage::item(body.to_string().as_bytes(), origin).expect("an event")
    };
    let joined = at(daily::waiting_joined("batch", "00000001-aaaa", 1.7e9), 1);
    let left = at(
        daily::waiting_left("batch", "00000001-aaaa", 1.7e9, 12.5),
        2,
    );
    let other = at(daily::waiting_joined("batch", "00000002-aaaa", 1.7e9), 3);
    store::write(&app.pool, std::slice::from_ref(&joined))
        .await
        .unwrap();
    let outcomes = store::write(&app.pool, &[joined, left, other])
        .await
        .unwrap();
    assert_eq!(
        outcomes,
        vec![Outcome::Duplicate, Outcome::Stored, Outcome::Stored]
    );
    let (joined_at, left_at): (Option<f64>, Option<f64>) = sqlx::query_as(
        "select extract(epoch from joined_at)::float8, extract(epoch from left_at)::float8 \
         from waiting_sessions where session_id = '00000001-aaaa'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!((joined_at, left_at), (Some(1.7e9), Some(1.7e9 + 12.5)));
    assert_eq!(app.count("waiting_sessions").await, 2);
    assert_eq!(app.count("webhook_events").await, 3);
}

#[tokio::test]
async fn a_batch_repeating_a_stored_event_stores_the_rest_and_so_do_the_batches_after_it() {
    let app = spawn_app().await;
    store::write(&app.pool, &[item(0)]).await.unwrap();
    // Goes first as all new, fails on the stored id, and goes again skipping it.
    let outcomes = store::write(&app.pool, &[item(1), item(0), item(2)])
        .await
        .unwrap();
    assert_eq!(
        outcomes,
        vec![Outcome::Stored, Outcome::Duplicate, Outcome::Stored]
    );
    let outcomes = store::write(&app.pool, &[item(3), item(4)]).await.unwrap();
    assert_eq!(outcomes, vec![Outcome::Stored, Outcome::Stored]);
    assert_eq!(app.count("webhook_events").await, 5);
    assert_eq!(app.count("knocks").await, 5);
    assert_eq!(app.count("dead_letters").await, 0);
    let unprojected: i64 = sqlx::query_scalar(
        "select count(*) from webhook_events where projection_error is not null",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(unprojected, 0);
}
