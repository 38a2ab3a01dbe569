//! Postgres outages and stalls: every authentic event gets 200 and lands exactly once.

use lobbylog::{
    store,
    triage::{Item, Origin, Reject},
};
use serde_json::Value;

use crate::{
    daily,
    helpers::{count_events, eventually, fixture, spawn_app, spawn_app_behind_proxy},
};

fn events(n: usize, tag: &str) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| {
            let session = format!("{tag}{i:04}-0000-4000-8000-000000000000");
            daily::waiting_joined("outage", &session, 1719586614.0 + i as f64)
                .to_string()
                .into_bytes()
        })
        .collect()
}

async fn statuses(app: &crate::helpers::TestApp, bodies: &[Vec<u8>]) -> Vec<(u16, String)> {
    let responses = futures::future::join_all(bodies.iter().map(|b| app.post_signed(b))).await;
    let mut out = Vec::new();
    for r in responses {
        let status = r.status().as_u16();
        let body: Value = r.json().await.unwrap_or(Value::Null);
        out.push((status, body["status"].as_str().unwrap_or("").to_owned()));
    }
    out
}

#[tokio::test]
async fn events_posted_while_postgres_is_cut_are_spooled_then_land_exactly_once() {
    let (app, proxy, direct) = spawn_app_behind_proxy(|_| {}).await;
    let before = events(10, "aaaa");
    assert!(
        statuses(&app, &before)
            .await
            .iter()
            .all(|(s, o)| *s == 200 && o == "stored")
    );

    proxy.cut();
    let during = events(40, "bbbb");
    let answers = statuses(&app, &during).await;
    assert!(
        answers.iter().all(|(s, o)| *s == 200 && o == "spooled"),
        "{answers:?}"
    );
    assert_eq!(
        count_events(&direct).await,
        10,
        "nothing reached Postgres while cut"
    );
    assert_eq!(app.spooled(), 40);

    proxy.restore();
    let landed = eventually(20, || async { count_events(&direct).await == 50 }).await;
    assert!(
        landed,
        "only {} of 50 events landed",
        count_events(&direct).await
    );
    let drained = eventually(5, || async { app.spooled() == 0 }).await;
    assert!(drained, "spool not emptied");
    assert_eq!(
        std::fs::read_dir(app.spool_dir.path())
            .unwrap()
            .filter(|e| e
                .as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "spool"))
            .count(),
        0
    );
    // Spooled events are projected like live ones.
    let knocks: i64 = sqlx::query_scalar("select count(*) from knocks")
        .fetch_one(&direct)
        .await
        .unwrap();
    assert_eq!(knocks, 50);
}

#[tokio::test]
async fn duplicates_split_between_spool_and_database_leave_one_row() {
    let (app, proxy, direct) = spawn_app_behind_proxy(|_| {}).await;
    let stored_first = fixture("waiting-participant.left__1.json");
    assert_eq!(
        statuses(&app, std::slice::from_ref(&stored_first)).await[0].1,
        "stored"
    );
    proxy.cut();
    let only_spooled = fixture("participant.joined__1.json");
    let copies = vec![
        stored_first.clone(),
        stored_first,
        only_spooled.clone(),
        only_spooled.clone(),
        only_spooled,
    ];
    let answers = statuses(&app, &copies).await;
    assert!(
        answers.iter().all(|(s, o)| *s == 200 && o == "spooled"),
        "{answers:?}"
    );
    proxy.restore();
    assert!(eventually(20, || async { app.spooled() == 0 }).await);
    assert_eq!(count_events(&direct).await, 2);
}

#[tokio::test]
async fn a_batch_stalled_past_the_deadline_is_spooled_and_lands_once() {
    let app = spawn_app_with_deadline().await;
    // Hold a lock that blocks every insert, as a long migration or vacuum full would.
    let mut blocker = app.pool.begin().await.unwrap();
    sqlx::query("lock table webhook_events in exclusive mode")
        .execute(&mut *blocker)
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let answers = statuses(&app, &events(3, "cccc")).await;
    assert!(
        answers.iter().all(|(s, o)| *s == 200 && o == "spooled"),
        "{answers:?}"
    );
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
    blocker.rollback().await.unwrap();
    assert!(eventually(20, || async { count_events(&app.pool).await == 3 }).await);
    assert!(eventually(10, || async { app.spooled() == 0 }).await);
    assert_eq!(count_events(&app.pool).await, 3);
}

async fn spawn_app_with_deadline() -> crate::helpers::TestApp {
    crate::helpers::spawn_app_with(|s| {
        s.group_commit.deadline = std::time::Duration::from_millis(300)
    })
    .await
}

#[tokio::test]
async fn with_postgres_down_and_the_spool_unwritable_the_answer_is_503() {
    let (app, proxy, direct) = spawn_app_behind_proxy(|_| {}).await;
    proxy.cut();
    // Even root cannot create a file inside a path that is a regular file.
    std::fs::remove_dir_all(app.spool_dir.path()).unwrap();
    std::fs::write(app.spool_dir.path(), b"not a directory").unwrap();
    let answers = statuses(&app, &events(2, "dddd")).await;
    assert!(answers.iter().all(|(s, _)| *s == 503), "{answers:?}");
    let response = app.post_signed(&events(1, "eeee")[0]).await;
    let error: Value = response.json().await.unwrap();
    assert_eq!(error["error"], "storage_unavailable", "{error}");
    proxy.restore();
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    assert_eq!(
        count_events(&direct).await,
        0,
        "a 503 must not be taken for stored"
    );
    std::fs::remove_file(app.spool_dir.path()).unwrap();
}

#[tokio::test]
async fn a_full_spool_answers_503_rather_than_dropping_events() {
    let (app, proxy, _direct) = spawn_app_behind_proxy(|s| s.spool_max_bytes = 2_000).await;
    proxy.cut();
    let answers = statuses(&app, &events(1, "ffff")).await;
    assert_eq!(answers[0], (200, "spooled".into()));
    let big = fixture("participant.joined__2.json");
    let mut last = (0, String::new());
    for _ in 0..10 {
        last = statuses(&app, std::slice::from_ref(&big)).await.remove(0);
        if last.0 == 503 {
            break;
        }
    }
    assert_eq!(last.0, 503, "the spool never filled up");
}

#[tokio::test]
async fn metrics_count_events_requests_batches_and_the_spool() {
    let app = spawn_app().await;
    app.post_signed(&fixture("participant.joined__1.json"))
        .await;
    app.post_signed(&fixture("participant.joined__1.json"))
        .await;
    app.post_webhook(b"{}", &[]).await;
    let response = app.get_admin("/metrics").await;
    assert_eq!(response.status(), 200);
    let text = response.text().await.unwrap();
    for line in [
        r#"lobbylog_events_total{event_type="participant.joined",outcome="stored"} 1"#,
        r#"lobbylog_events_total{event_type="participant.joined",outcome="duplicate"} 1"#,
        r#"lobbylog_webhook_requests_total{status="200"} 2"#,
        r#"lobbylog_webhook_requests_total{status="401"} 1"#,
        "lobbylog_batch_events_count 2",
        "lobbylog_spool_events 0",
        "lobbylog_spool_oldest_age_seconds 0.0",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "missing {line:?} in\n{text}"
        );
    }
    assert!(text.contains("lobbylog_commit_seconds_bucket"), "{text}");
}

/// A spool segment as the writer lays it out: one base64 body per line.
fn segment(bodies: &[&[u8]]) -> String {
    use base64::Engine;
    bodies
        .iter()
        .map(|b| base64::engine::general_purpose::STANDARD.encode(b) + "\n")
        .collect()
}

#[tokio::test]
async fn a_spool_left_by_an_earlier_run_is_drained_at_start_without_repeated_dead_letters() {
    let dir = tempfile::tempdir().unwrap();
    let event = fixture("meeting.started__1.json");
    let content = segment(&[&event, b"not json", br#"{"test":"test"}"#]);
    std::fs::write(
        dir.path().join("000000000007-1700000000000.spool"),
        &content,
    )
    .unwrap();
    // A segment that cannot be read at all must not hold back the others.
    std::fs::create_dir(dir.path().join("000000000003-1600000000000.spool")).unwrap();

    let app = crate::helpers::spawn_app_with(|s| s.spool_dir = dir.path().to_owned()).await;
    assert!(eventually(10, || async { app.spooled() == 0 && app.spool.is_empty() }).await);
    assert_eq!(count_events(&app.pool).await, 1);
    let sources: Vec<String> = sqlx::query_scalar("select source from dead_letters")
        .fetch_all(&app.pool)
        .await
        .unwrap();
    assert_eq!(
        sources,
        vec!["spool:000000000007-1700000000000.spool:2".to_owned()]
    );
    assert!(
        dir.path()
            .join("000000000003-1600000000000.failed")
            .is_dir(),
        "the unreadable segment is set aside"
    );

    // As after a crash between commit and delete, the same dead letter again adds nothing...
    let reject = |origin: Origin, body: &[u8]| {
        Item::Reject(Reject {
            origin,
            reason: "again".into(),
            body: body.to_vec(),
        })
    };
    let again = Origin::Spool {
        segment: "000000000007-1700000000000.spool".into(),
        line: 2,
    };
    store::write(&app.pool, &[reject(again, b"not json")])
        .await
        .unwrap();
    assert_eq!(app.count("dead_letters").await, 1);
    // ...while the intake keeps every bad request it receives.
    let twice = [reject(Origin::Intake, b"x"), reject(Origin::Intake, b"x")];
    store::write(&app.pool, &twice).await.unwrap();
    assert_eq!(app.count("dead_letters").await, 3);
}
