//! `lobbylog dead-letters list|retry`, the real binary beside the service on a fresh database:
//! dead letters an older version rejected become events once, the rest keep their new reason.

use serde_json::Value;
use sqlx::PgPool;

use crate::{
    daily,
    helpers::{Run, TestApp, knocks, lobbylog, now, run, spawn_app},
};

/// Runs `lobbylog dead-letters ARGS` against the app's database.
async fn dead_letters(app: &TestApp, args: &[&str]) -> Run {
    let args: Vec<&str> = std::iter::once("dead-letters")
        .chain(args.iter().copied())
        .collect();
    run(lobbylog(&app.database_url(), &args), None).await
}

/// Keeps `body` as a dead letter, as a version with other rules would have; returns its id.
async fn dead_letter(pool: &PgPool, source: &str, reason: &str, body: &[u8]) -> i64 {
    sqlx::query_scalar(
        "insert into dead_letters (source, reason, body) values ($1, $2, $3) returning id",
    )
    .bind(source)
    .bind(reason)
    .bind(body)
    .fetch_one(pool)
    .await
    .unwrap()
}

/// A knock dated now, as Daily sends it.
fn knock(session: &str) -> (String, Vec<u8>) {
    let event = daily::waiting_joined("lobby", session, now().floor());
    (
        event["id"].as_str().unwrap().to_owned(),
        event.to_string().into_bytes(),
    )
}

#[derive(Debug, PartialEq, sqlx::FromRow)]
struct Row {
    reason: String,
    retried: bool,
    retried_event_id: Option<String>,
}

async fn row(pool: &PgPool, id: i64) -> Row {
    sqlx::query_as(
        "select reason, retried_at is not null as retried, retried_event_id
         from dead_letters where id = $1",
    )
    .bind(id)
    .fetch_one(pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn a_dead_letter_an_older_version_rejected_becomes_a_projected_event_once() {
    let app = spawn_app().await;
    let (event_id, body) = knock("00000001-0000-4000-8000-000000000000");
    let id = dead_letter(&app.pool, "intake", "envelope `id` is not a UUID", &body).await;
    let first = dead_letters(&app, &["retry"]).await;
    assert_eq!(first.code, 0, "{first:?}");
    assert_eq!((first.count("examined"), first.count("stored")), (1, 1));
    let stored: Vec<String> = sqlx::query_scalar("select event_id from webhook_events")
        .fetch_all(&app.pool)
        .await
        .unwrap();
    assert_eq!(stored, [event_id.as_str()]);
    let knocks = knocks(&app.pool).await;
    assert_eq!(knocks.len(), 1, "{knocks:?}");
    assert_eq!(knocks[0].outcome, "waiting");
    assert_eq!(app.count("knock_rollup_marks").await, 0, "rolled up");
    assert!(app.count("knock_room_days").await > 0);
    let marked = row(&app.pool, id).await;
    assert!(marked.retried, "{marked:?}");
    assert_eq!(marked.retried_event_id.as_deref(), Some(event_id.as_str()));
    assert_eq!(app.count("dead_letters").await, 1, "kept, marked");
    let second = dead_letters(&app, &["retry"]).await;
    assert_eq!(second.code, 0, "{second:?}");
    assert_eq!((second.count("examined"), second.count("stored")), (0, 0));
    assert_eq!(row(&app.pool, id).await, marked);
    assert_eq!(app.count("webhook_events").await, 1);
}

#[tokio::test]
async fn a_body_still_unusable_stays_with_its_new_reason_and_the_retry_exits_2() {
    let app = spawn_app().await;
    let (_, good) = knock("00000002-0000-4000-8000-000000000000");
    let good = dead_letter(&app.pool, "intake", "old rule", &good).await;
    // The same bad bytes from two sources: V3's unique (source, md5(body)) index must hold.
    let mut bad = Vec::new();
    for source in ["intake", "backfill:old.ndjson:3"] {
        bad.push(dead_letter(&app.pool, source, "old rule", b"{\"id\":").await);
    }
    let retry = dead_letters(&app, &["retry"]).await;
    assert_eq!(retry.code, 2, "{retry:?}");
    assert_eq!(
        (retry.count("stored"), retry.count("still rejected")),
        (1, 2)
    );
    assert!(row(&app.pool, good).await.retried);
    for id in bad {
        let kept = row(&app.pool, id).await;
        assert!(kept.reason.starts_with("body is not JSON"), "{kept:?}");
        assert_eq!((kept.retried, kept.retried_event_id), (false, None));
    }
    assert_eq!(app.count("dead_letters").await, 3);
    let again = dead_letters(&app, &["retry"]).await;
    assert_eq!(again.code, 2, "{again:?}");
    assert_eq!(
        (again.count("examined"), again.count("still rejected")),
        (2, 2)
    );
    assert_eq!(app.count("dead_letters").await, 3);
}

#[tokio::test]
async fn an_event_postgres_still_refuses_keeps_its_dead_letter_with_the_refusal() {
    let app = spawn_app().await;
    // Random text: Postgres cannot compress it under the btree entry limit (~2.7 kB).
    use rand::{Rng, SeedableRng};
    let mut rng = rand::rngs::StdRng::seed_from_u64(5);
    let long_id: String = (0..6000)
        .map(|_| char::from(rng.random_range(b'a'..=b'z')))
        .collect();
    let body = daily::envelope("participant.joined", &long_id, 1.0, serde_json::json!({}));
    let id = dead_letter(&app.pool, "intake", "old", body.to_string().as_bytes()).await;
    let retry = dead_letters(&app, &["retry"]).await;
    assert_eq!(retry.code, 2, "{retry:?}");
    assert_eq!(retry.count("still rejected"), 1);
    let kept = row(&app.pool, id).await;
    assert!(
        kept.reason.starts_with("postgres refused the event"),
        "{kept:?}"
    );
    assert!(!kept.retried);
    assert_eq!(app.count("dead_letters").await, 1, "no second dead letter");
    assert_eq!(app.count("webhook_events").await, 0);
}

#[tokio::test]
async fn a_dry_run_says_what_would_happen_and_writes_nothing() {
    let app = spawn_app().await;
    let (_, new) = knock("00000003-0000-4000-8000-000000000000");
    let (_, present) = knock("00000004-0000-4000-8000-000000000000");
    assert_eq!(app.post_signed(&present).await.status(), 200);
    let ids = [
        dead_letter(&app.pool, "intake", "old", &new).await,
        dead_letter(&app.pool, "intake", "old", &present).await,
        dead_letter(&app.pool, "intake", "old", b"[]").await,
    ];
    let dry = dead_letters(&app, &["retry", "--dry-run"]).await;
    assert_eq!(dry.code, 2, "{dry:?}");
    assert!(dry.stdout.contains("nothing written"), "{dry:?}");
    let counts = [
        "examined",
        "would store",
        "already stored",
        "still rejected",
    ];
    assert_eq!(counts.map(|c| dry.count(c)), [3, 1, 1, 1], "{dry:?}");
    assert_eq!(app.count("webhook_events").await, 1);
    for id in ids {
        let untouched = row(&app.pool, id).await;
        assert_eq!(
            (untouched.reason.as_str(), untouched.retried),
            ("old", false)
        );
    }
}

#[tokio::test]
async fn a_dead_letter_whose_event_is_already_stored_is_a_duplicate_and_is_marked() {
    let app = spawn_app().await;
    let (event_id, body) = knock("00000005-0000-4000-8000-000000000000");
    assert_eq!(app.post_signed(&body).await.status(), 200);
    let id = dead_letter(&app.pool, "intake", "old", &body).await;
    let retry = dead_letters(&app, &["retry"]).await;
    assert_eq!(retry.code, 0, "{retry:?}");
    assert_eq!(
        (retry.count("stored"), retry.count("already stored")),
        (0, 1)
    );
    let marked = row(&app.pool, id).await;
    assert_eq!(marked.retried_event_id, Some(event_id));
    assert_eq!(app.count("webhook_events").await, 1);
}

#[tokio::test]
async fn retry_with_an_id_touches_that_dead_letter_only_and_an_unknown_id_fails() {
    let app = spawn_app().await;
    let (_, first) = knock("00000006-0000-4000-8000-000000000000");
    let (_, second) = knock("00000007-0000-4000-8000-000000000000");
    let first = dead_letter(&app.pool, "intake", "old", &first).await;
    let second = dead_letter(&app.pool, "intake", "old", &second).await;
    let one = dead_letters(&app, &["retry", "--id", &second.to_string()]).await;
    assert_eq!((one.code, one.count("stored")), (0, 1), "{one:?}");
    assert!(!row(&app.pool, first).await.retried);
    assert!(row(&app.pool, second).await.retried);
    let unknown = dead_letters(&app, &["retry", "--id", "999999"]).await;
    assert_eq!(unknown.code, 1, "{unknown:?}");
    assert!(
        unknown.stderr.contains("no dead letter 999999"),
        "{unknown:?}"
    );
}

#[tokio::test]
async fn list_json_shows_every_field_newest_first_and_the_table_no_body() {
    let app = spawn_app().await;
    let (event_id, knock) = knock("00000008-0000-4000-8000-000000000000");
    let retried = dead_letter(&app.pool, "intake", "old", &knock).await;
    assert_eq!(dead_letters(&app, &["retry"]).await.code, 0);
    let binary = dead_letter(&app.pool, "backfill:a.ndjson:2", "not UTF-8", b"\xff\x00x").await;
    let text = dead_letter(&app.pool, "intake", "not JSON", b"secret-ish text").await;
    let list = dead_letters(&app, &["list", "--json"]).await;
    assert_eq!(list.code, 0, "{list:?}");
    let lines: Vec<Value> = list
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let ids: Vec<i64> = lines.iter().map(|l| l["id"].as_i64().unwrap()).collect();
    assert_eq!(ids, [text, binary, retried], "newest first");
    assert_eq!(lines[0]["source"], "intake");
    assert_eq!(lines[0]["reason"], "not JSON");
    assert_eq!(lines[0]["bytes"], 15);
    assert_eq!(
        (&lines[0]["body"], &lines[0]["body_encoding"]),
        (&"secret-ish text".into(), &"text".into())
    );
    assert!(lines[0]["received_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(lines[0]["retried_at"], Value::Null);
    assert_eq!(
        (&lines[1]["body"], &lines[1]["body_encoding"]),
        (&"/wB4".into(), &"base64".into())
    );
    assert!(lines[2]["retried_at"].is_string(), "{:?}", lines[2]);
    assert_eq!(lines[2]["retried_event_id"], event_id.as_str());
    let limited = dead_letters(&app, &["list", "--json", "--limit", "1"]).await;
    assert_eq!(limited.stdout.lines().count(), 1, "{limited:?}");
    let table = dead_letters(&app, &["list"]).await;
    assert_eq!(table.code, 0, "{table:?}");
    assert!(table.stdout.contains(&event_id), "{table:?}");
    assert!(table.stdout.contains("backfill:a.ndjson:2"), "{table:?}");
    assert!(!table.stdout.contains("secret-ish"), "{table:?}");
}

#[tokio::test]
async fn two_retries_at_once_store_each_event_once_and_mark_every_dead_letter() {
    let app = spawn_app().await;
    for i in 0..40 {
        let (_, body) = knock(&format!("{i:08}-0000-4000-8000-000000000000"));
        dead_letter(&app.pool, "intake", "old", &body).await;
    }
    let (a, b) = tokio::join!(
        dead_letters(&app, &["retry"]),
        dead_letters(&app, &["retry"])
    );
    assert_eq!((a.code, b.code), (0, 0), "{a:?}\n{b:?}");
    assert_eq!(a.count("stored") + b.count("stored"), 40, "{a:?}\n{b:?}");
    assert_eq!(app.count("webhook_events").await, 40);
    assert_eq!(app.count("waiting_sessions").await, 40);
    let unmarked: i64 = sqlx::query_scalar(
        "select count(*) from dead_letters where retried_event_id is null or retried_at is null",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(unmarked, 0);
}

#[tokio::test]
async fn daily_s_probe_kept_by_an_older_version_is_marked_with_no_event() {
    let app = spawn_app().await;
    let id = dead_letter(
        &app.pool,
        "intake",
        "envelope has no `id`",
        br#"{"test":"test"}"#,
    )
    .await;
    let retry = dead_letters(&app, &["retry"]).await;
    assert_eq!((retry.code, retry.count("probes")), (0, 1), "{retry:?}");
    let marked = row(&app.pool, id).await;
    assert_eq!((marked.retried, marked.retried_event_id), (true, None));
    assert_eq!(app.count("webhook_events").await, 0);
}
