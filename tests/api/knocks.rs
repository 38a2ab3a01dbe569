//! The knock projection through the real intake: outcomes, order independence, reproject.

use lobbylog::store;
use rand::{Rng, SeedableRng, rngs::StdRng, seq::SliceRandom};
use serde_json::{Value, json};

use crate::{
    daily::{self, Expected},
    helpers::{TestApp, fixture, knocks, now, spawn_app},
};

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 2e-3
}

fn assert_knocks_match(actual: &[Expected], expected: &[Expected], context: &str) {
    assert_eq!(actual.len(), expected.len(), "{context}: row count");
    for (a, e) in actual.iter().zip(expected) {
        let same = a.room == e.room
            && a.session_id == e.session_id
            && a.outcome == e.outcome
            && close(a.knocked_at, e.knocked_at)
            && a.resolved_at.is_some() == e.resolved_at.is_some()
            && a.resolved_at
                .zip(e.resolved_at)
                .is_none_or(|(x, y)| close(x, y))
            && a.wait_seconds.is_some() == e.wait_seconds.is_some()
            && a.wait_seconds
                .zip(e.wait_seconds)
                .is_none_or(|(x, y)| close(x, y));
        assert!(same, "{context}:\n actual   {a:?}\n expected {e:?}");
    }
}

#[tokio::test]
async fn the_documented_waiting_left_alone_is_an_abandoned_knock() {
    let app = spawn_app().await;
    app.post_signed(&fixture("waiting-participant.left__1.json"))
        .await;
    let knocks = knocks(&app.pool).await;
    assert_knocks_match(
        &knocks,
        &[Expected {
            room: "knocking".into(),
            session_id: "c85f48f3-82ec-4648-b39c-edfce7acf062".into(),
            knocked_at: 1719586614.027,
            resolved_at: Some(1719586614.027 + 14.403000116348267),
            wait_seconds: Some(14.403000116348267),
            outcome: "abandoned",
        }],
        "documented example",
    );
    let (user_id, user_name): (Option<String>, Option<String>) =
        sqlx::query_as("select user_id, user_name from knocks")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!((user_id, user_name.as_deref()), (None, Some("bipol")));
}

#[tokio::test]
async fn admission_wins_over_a_waiting_left_in_any_order() {
    let t0 = now() - 7_200.0;
    let events = [
        daily::participant_joined("r", "aaaa-1", t0 + 30.0),
        daily::waiting_left("r", "aaaa-1", t0, 30.0),
        daily::waiting_joined("r", "aaaa-1", t0),
    ];
    let app = spawn_app().await;
    app.post_all(&events[..1]).await;
    assert_eq!(
        app.count("knocks").await,
        0,
        "a call session alone is not a knock"
    );
    for event in &events[1..] {
        app.post_all(std::slice::from_ref(event)).await;
        let outcome: String = sqlx::query_scalar("select outcome from knocks")
            .fetch_one(&app.pool)
            .await
            .unwrap();
        assert_eq!(outcome, "admitted", "after {}", event["type"]);
    }
    let (resolved, wait): (f64, f64) =
        sqlx::query_as("select extract(epoch from resolved_at)::float8, wait_seconds from knocks")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert!(
        close(resolved, t0 + 30.0) && close(wait, 30.0),
        "{resolved} {wait}"
    );
}

#[tokio::test]
async fn a_fresh_knock_is_waiting_and_an_old_one_unresolved() {
    let app = spawn_app().await;
    let t = now();
    app.post_all(&[
        daily::waiting_joined("r", "new0-1", t - 120.0),
        daily::waiting_joined("r", "old0-1", t - 90_000.0),
    ])
    .await;
    let rows: Vec<(String, String, Option<f64>)> =
        sqlx::query_as("select session_id, outcome, wait_seconds from knocks order by session_id")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert_eq!(
        (rows[0].0.as_str(), rows[0].1.as_str()),
        ("new0-1", "waiting")
    );
    assert!(
        rows[0].2.is_some_and(|w| (119.0..200.0).contains(&w)),
        "waiting so far: {:?}",
        rows[0].2
    );
    assert_eq!(
        (rows[1].0.as_str(), rows[1].1.as_str(), rows[1].2),
        ("old0-1", "unresolved", None)
    );
}

#[tokio::test]
async fn meetings_and_participant_sessions_are_projected() {
    let app = spawn_app().await;
    for name in [
        "meeting.ended__1.json",
        "meeting.started__1.json",
        "participant.joined__1.json",
    ] {
        app.post_signed(&fixture(name)).await;
    }
    let (room, started, ended): (String, f64, f64) = sqlx::query_as(
        "select room, extract(epoch from started_at)::float8, extract(epoch from ended_at)::float8
         from meetings where meeting_id = 'f2aa1ade-ff80-464c-b46e-50ffa577d48d'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(room, "TrPmUX1DzjSwDaAFDfNj");
    assert!(
        close(started, 1708526032.672) && close(ended, 1708526104.671),
        "{started} {ended}"
    );
    let (user_id, joined_event): (String, String) = sqlx::query_as(
        "select user_id, joined_event_id from participant_sessions where room = 'test'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(user_id, "6497c79b-f326-4942-aef8-c36a29140ad1");
    assert_eq!(
        joined_event,
        "ptcpt-join-6497c79b-f326-4942-aef8-c36a29140ad1-1708972279961"
    );
    assert_eq!(
        app.count("knocks").await,
        0,
        "a participant with a token never knocked"
    );
}

#[tokio::test]
async fn an_unprojectable_payload_is_stored_raw_with_its_error_and_gets_200() {
    let app = spawn_app().await;
    let event = daily::envelope(
        "waiting-participant.left",
        "bad-1",
        1.0,
        json!({"room": "r", "session_id": "s", "joined_at": "last tuesday"}),
    );
    let response = app.post_signed(event.to_string().as_bytes()).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.json::<Value>().await.unwrap()["status"], "stored");
    let error: Option<String> =
        sqlx::query_scalar("select projection_error from webhook_events where event_id = 'bad-1'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert!(
        error.as_deref().is_some_and(|e| e.contains("joined_at")),
        "{error:?}"
    );
    assert_eq!(app.count("waiting_sessions").await, 0);
}

/// Random knock histories, delivered shuffled and partly duplicated, two different ways.
#[tokio::test]
async fn random_histories_in_any_order_give_the_ground_truth_and_identical_tables() {
    for seed in [7_u64, 1_234, 99_999] {
        let mut rng = StdRng::seed_from_u64(seed);
        let t = now();
        let mut events = Vec::new();
        let mut expected = Vec::new();
        for i in 0..60 {
            let (history, knock) = daily::random_history(&mut rng, i, t);
            events.extend(history);
            expected.extend(knock);
        }
        expected.sort_by(|a, b| (&a.room, &a.session_id).cmp(&(&b.room, &b.session_id)));

        // Order A: shuffled, a third sent twice, one request each through HTTP.
        let mut order_a = events.clone();
        let dups: Vec<Value> = order_a
            .iter()
            .filter(|_| rng.random_bool(0.33))
            .cloned()
            .collect();
        order_a.extend(dups);
        order_a.shuffle(&mut rng);
        let a = spawn_app().await;
        a.post_all(&order_a).await;
        assert_knocks_match(
            &knocks(&a.pool).await,
            &expected,
            &format!("seed {seed}, one by one"),
        );

        // Order B: another shuffle, straight into the store in random-sized batches, repeated.
        let mut order_b = events.clone();
        order_b.extend(events.iter().take(events.len() / 2).cloned());
        order_b.shuffle(&mut rng);
        let b = spawn_app().await;
        let items: Vec<lobbylog::triage::Item> = order_b
            .iter()
            .map(|e| {
                lobbylog::triage::item(e.to_string().as_bytes(), lobbylog::triage::Origin::Intake)
            })
            .map(|item| item.expect("an event"))
            .collect();
        let mut rest = items.as_slice();
        while !rest.is_empty() {
            let (batch, tail) = rest.split_at(rng.random_range(1..=rest.len().min(40)));
            store::write(&b.pool, batch).await.unwrap();
            rest = tail;
        }
        assert_knocks_match(
            &knocks(&b.pool).await,
            &expected,
            &format!("seed {seed}, batches"),
        );
        for table in [
            "waiting_sessions",
            "participant_sessions",
            "meetings",
            "webhook_events",
        ] {
            assert_eq!(
                dump(&a, table).await,
                dump(&b, table).await,
                "seed {seed}: {table} differs"
            );
        }
    }
}

/// A table's rows as text, without columns that depend on when they were written.
async fn dump(app: &TestApp, table: &str) -> Vec<String> {
    let sql = format!("select (to_jsonb(t) - 'received_at')::text from {table} t order by 1");
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .fetch_all(&app.pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn reproject_rebuilds_truncated_tables_identically() {
    let app = spawn_app().await;
    let mut rng = StdRng::seed_from_u64(42);
    let t = now();
    let events: Vec<Value> = (0..40)
        .flat_map(|i| daily::random_history(&mut rng, i, t).0)
        .collect();
    app.post_all(&events).await;
    for name in ["meeting.started__1.json", "meeting.ended__1.json"] {
        app.post_signed(&fixture(name)).await;
    }
    let tables = [
        "waiting_sessions",
        "participant_sessions",
        "meetings",
        "webhook_events",
    ];
    let mut before = Vec::new();
    for table in tables {
        before.push(dump(&app, table).await);
    }
    sqlx::query("truncate waiting_sessions, participant_sessions, meetings")
        .execute(&app.pool)
        .await
        .unwrap();
    assert_eq!(app.count("knocks").await, 0);

    let read = store::rebuild_projection(&app.pool, 7, |_, _| {})
        .await
        .unwrap();
    assert_eq!(read as i64, app.count("webhook_events").await);
    for (table, rows) in tables.iter().zip(&before) {
        assert_eq!(&dump(&app, table).await, rows, "{table} after reproject");
    }
    // Running it again changes nothing.
    store::rebuild_projection(&app.pool, 1000, |_, _| {})
        .await
        .unwrap();
    assert_eq!(dump(&app, "waiting_sessions").await, before[0]);
}
