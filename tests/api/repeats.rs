//! Repeats of stored events, by the real binary against a fresh database: a repeat with the
//! stored payload digest is a duplicate by the id lookup alone, any other is compared with the
//! stored body as jsonb, so a repeat in another layout is still a duplicate and one that says
//! something else a conflict, whichever path stored the first.

use serde_json::{Value, json};

use crate::{
    backfill::{ndjson, pretty_array, sample},
    helpers::{Run, TestDb, lobbylog, run, spawn_app},
};

async fn backfill(url: &str, path: &str) -> Run {
    run(lobbylog(url, &["backfill", path]), None).await
}

fn write(dir: &tempfile::TempDir, name: &str, bytes: &[u8]) -> String {
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).unwrap();
    path.to_str().unwrap().to_owned()
}

/// `event` as JSON text with the keys of its payload in reverse order.
fn payload_keys_reversed(event: &Value) -> String {
    let payload = event["payload"].as_object().unwrap();
    let members: Vec<String> = payload
        .iter()
        .rev()
        .map(|(k, v)| format!("{}:{v}", Value::from(k.as_str())))
        .collect();
    let mut rest = event.clone();
    rest.as_object_mut().unwrap().remove("payload");
    let rest = rest.to_string();
    format!(
        "{},\"payload\":{{{}}}}}",
        &rest[..rest.len() - 1],
        members.join(",")
    )
}

/// What a run says it did: (inserted, duplicates, conflicts).
fn outcomes(run: &Run) -> (u64, u64, u64) {
    (
        run.count("inserted"),
        run.count("duplicates"),
        run.count("conflicts"),
    )
}

async fn execute(db: &TestDb, sql: &str) {
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .execute(&db.pool)
        .await
        .unwrap();
}

async fn stored_duration(db: &TestDb, id: &str) -> f64 {
    sqlx::query_scalar(
        "select (body->'payload'->>'duration')::float8 from webhook_events where event_id = $1",
    )
    .bind(id)
    .fetch_one(&db.pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn repeats_in_any_layout_are_duplicates_and_those_that_say_otherwise_conflicts() {
    let dir = tempfile::tempdir().unwrap();
    let events = sample("repeat", 4);
    let db = TestDb::fresh().await;
    let first = backfill(db.url(), &write(&dir, "first.ndjson", &ndjson(&events))).await;
    assert_eq!((first.code, first.count("inserted")), (0, 4), "{first:?}");
    let digests: i64 =
        sqlx::query_scalar("select count(*) from webhook_events where length(payload_digest) = 16")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(digests, 4);

    let mut restamped = events[0].clone();
    restamped["event_ts"] = json!(1.9e9);
    let mut changed = events[3].clone();
    changed["payload"]["duration"] = json!(99.0);
    let repeats = format!(
        "{restamped}\n{}\n{changed}\n",
        payload_keys_reversed(&events[2])
    );
    write(&dir, "pretty.json", &pretty_array(&events[1..2]));
    write(&dir, "repeats.ndjson", repeats.as_bytes());
    std::fs::remove_file(dir.path().join("first.ndjson")).unwrap();
    let second = backfill(db.url(), dir.path().to_str().unwrap()).await;
    assert_eq!(second.code, 0, "{second:?}");
    assert_eq!(outcomes(&second), (0, 3, 1), "{second:?}");
    let id = events[3]["id"].as_str().unwrap();
    assert_eq!(stored_duration(&db, id).await, 0.0, "the first one is kept");
}

#[tokio::test]
async fn rows_stored_without_a_digest_are_compared_by_their_bodies() {
    let dir = tempfile::tempdir().unwrap();
    let events = sample("undigested", 3);
    let db = TestDb::fresh().await;
    let first = backfill(db.url(), &write(&dir, "a.ndjson", &ndjson(&events))).await;
    assert_eq!(first.count("inserted"), 3, "{first:?}");
    // As rows stored before digests were kept.
    execute(&db, "update webhook_events set payload_digest = null").await;
    let mut restamped = events[0].clone();
    restamped["event_ts"] = json!(1.9e9);
    let mut changed = events[1].clone();
    changed["payload"]["duration"] = json!(42.0);
    let again = [restamped, changed, events[2].clone()];
    let second = backfill(db.url(), &write(&dir, "a.ndjson", &ndjson(&again))).await;
    assert_eq!(outcomes(&second), (0, 2, 1), "{second:?}");
}

#[tokio::test]
async fn the_intake_and_the_backfill_keep_the_same_digest_for_an_event() {
    let event = sample("both-paths", 1).remove(0);
    let app = spawn_app().await;
    app.post_all(std::slice::from_ref(&event)).await;
    let dir = tempfile::tempdir().unwrap();
    let db = TestDb::fresh().await;
    let loaded = backfill(db.url(), &write(&dir, "one.ndjson", &ndjson(&[event]))).await;
    assert_eq!(loaded.count("inserted"), 1, "{loaded:?}");
    let digest = "select payload_digest from webhook_events";
    let live: Vec<u8> = sqlx::query_scalar(digest)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let archived: Vec<u8> = sqlx::query_scalar(digest)
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(live.len(), 16);
    assert_eq!(live, archived);
}

#[tokio::test]
async fn a_repeat_with_the_stored_digest_is_told_without_reading_the_stored_body() {
    let dir = tempfile::tempdir().unwrap();
    let events = sample("by-digest", 2);
    let path = write(&dir, "a.ndjson", &ndjson(&events));
    let db = TestDb::fresh().await;
    assert_eq!(backfill(db.url(), &path).await.count("inserted"), 2);
    // A stored body changed behind the digest's back: a comparison of bodies would now call
    // both repeats conflicts; the digest, still the archive's, calls them duplicates.
    execute(
        &db,
        "update webhook_events set body = jsonb_set(body, '{payload,duration}', '5')",
    )
    .await;
    let again = backfill(db.url(), &path).await;
    assert_eq!(
        (again.count("duplicates"), again.count("conflicts")),
        (2, 0),
        "{again:?}"
    );
    execute(&db, "update webhook_events set payload_digest = null").await;
    let compared = backfill(db.url(), &path).await;
    assert_eq!(
        (compared.count("duplicates"), compared.count("conflicts")),
        (0, 2),
        "{compared:?}"
    );
}

#[tokio::test]
async fn an_event_committed_while_a_batch_copies_is_a_duplicate_and_the_rest_are_stored() {
    let dir = tempfile::tempdir().unwrap();
    let events = sample("meanwhile", 50);
    let path = write(&dir, "a.ndjson", &ndjson(&events));
    let db = TestDb::fresh().await;
    // Another writer holds one of the archive's events, not yet committed: the backfill's id
    // lookup cannot see it, and its COPY waits for that transaction, then finds the id taken.
    let taken = &events[20];
    let mut other = db.pool.begin().await.unwrap();
    sqlx::query("insert into webhook_events (event_id, event_type, body) values ($1, $2, $3)")
        .bind(taken["id"].as_str().unwrap())
        .bind(taken["type"].as_str().unwrap())
        .bind(taken)
        .execute(&mut *other)
        .await
        .unwrap();
    let url = db.url().to_owned();
    let loading = tokio::spawn(async move { backfill(&url, &path).await });
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while waiting_for_locks(&db).await == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the COPY never waited"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    other.commit().await.unwrap();
    let run = loading.await.unwrap();
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(outcomes(&run), (49, 1, 0), "{run:?}");
    // Written again skipping stored ids, not taken for an event Postgres refuses.
    assert!(!run.stderr.contains("refused"), "{run:?}");
    assert_eq!(db.count("webhook_events").await, 50);
    assert_eq!(db.count("waiting_sessions").await, 49);
}

/// Backends of the test's database waiting for a lock.
async fn waiting_for_locks(db: &TestDb) -> i64 {
    sqlx::query_scalar(
        "select count(*) from pg_stat_activity \
         where datname = current_database() and wait_event_type = 'Lock'",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap()
}
