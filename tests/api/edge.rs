//! The public edge under hostile clients: deadlines per connection, the connection cap, bodies
//! refused before they are read, bounded metric labels, and what hyper answers by itself.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::{
    daily,
    helpers::{
        TestApp,
        attack::{closed_after, silent, slow_body, slow_header, status_line},
        fixture, markdown, spawn_app, spawn_app_with,
    },
};

/// The value of a metric line starting with `prefix`, 0 when absent.
pub async fn metric(app: &TestApp, prefix: &str) -> f64 {
    let text = app.get_admin("/metrics").await.text().await.unwrap();
    text.lines()
        .find(|l| l.starts_with(prefix))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
        .unwrap_or(0.0)
}

pub fn cut(reason: &str) -> String {
    format!("lobbylog_connections_cut_total{{listener=\"public\",reason=\"{reason}\"}}")
}

async fn short_deadlines() -> TestApp {
    spawn_app_with(|s| {
        s.http.header_timeout = Duration::from_millis(400);
        s.http.body_timeout = Duration::from_millis(600);
        s.http.idle_timeout = Duration::from_millis(800);
    })
    .await
}

#[tokio::test]
async fn slow_header_and_silent_connections_are_cut_at_the_header_deadline() {
    let app = short_deadlines().await;
    let mut stalled = slow_header(&app.address).await;
    let mut quiet = silent(&app.address).await;
    for stream in [&mut stalled, &mut quiet] {
        let after = closed_after(stream, Duration::from_secs(3)).await;
        let after = after.expect("cut within the header deadline");
        assert!(after < Duration::from_millis(1500), "{after:?}");
    }
    assert_eq!(metric(&app, &cut("header_timeout")).await, 2.0);
}

#[tokio::test]
async fn a_kept_alive_connection_is_cut_after_the_idle_deadline_not_before() {
    use tokio::io::AsyncWriteExt;
    let app = short_deadlines().await;
    let mut stream = silent(&app.address).await;
    let body = fixture("meeting.started__1.json");
    let mut request = b"POST /webhooks/daily HTTP/1.1\r\nhost: x\r\n".to_vec();
    for (name, value) in crate::helpers::signed_headers(crate::helpers::SECRET, &body) {
        request.extend(format!("{name}: {value}\r\n").as_bytes());
    }
    request.extend(format!("content-length: {}\r\n\r\n", body.len()).as_bytes());
    request.extend(&body);
    stream.write_all(&request).await.unwrap();
    let status = status_line(&mut stream, Duration::from_secs(3)).await;
    assert_eq!(status, "HTTP/1.1 200 OK");
    let started = Instant::now();
    let after = closed_after(&mut stream, Duration::from_secs(3)).await;
    let after = after.expect("cut after the idle deadline");
    assert!(
        after >= Duration::from_millis(600) && started.elapsed() < Duration::from_millis(2000),
        "{after:?}"
    );
    assert_eq!(metric(&app, &cut("idle_timeout")).await, 1.0);
}

#[tokio::test]
async fn signed_events_get_through_quickly_while_attackers_hold_connections() {
    let app = spawn_app_with(|s| s.http.max_in_flight = 4).await;
    let mut held = Vec::new();
    for _ in 0..100 {
        held.push(slow_body(&app.address).await);
    }
    for _ in 0..50 {
        held.push(slow_header(&app.address).await);
        held.push(silent(&app.address).await);
    }
    for i in 0..10 {
        let event = daily::waiting_joined("edge", &format!("edge{i:04}-0000-4000-8000-0"), 1.7e9);
        let started = Instant::now();
        let response = app.post_signed(event.to_string().as_bytes()).await;
        assert_eq!(response.status(), 200);
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "{:?}",
            started.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(app.count("webhook_events").await, 10);
    drop(held);
}

#[tokio::test]
async fn at_the_connection_cap_the_longest_waiting_connection_makes_room() {
    let app = spawn_app_with(|s| s.http.max_connections = 20).await;
    let mut held = Vec::new();
    for _ in 0..20 {
        held.push(silent(&app.address).await);
    }
    let started = Instant::now();
    let response = app.post_signed(&fixture("meeting.started__1.json")).await;
    assert_eq!(response.status(), 200);
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    assert!(metric(&app, &cut("evicted")).await >= 1.0);
    // One of them (the longest waiting) was closed to make room.
    let mut closed = 0;
    for stream in &mut held {
        if closed_after(stream, Duration::from_millis(50))
            .await
            .is_some()
        {
            closed += 1;
        }
    }
    assert!(closed >= 1, "no held connection was closed");
}

#[tokio::test]
async fn a_stalled_body_holding_the_budget_is_cut_to_make_room_for_a_signed_event() {
    use tokio::io::AsyncWriteExt;
    let app = spawn_app_with(|s| s.http.body_budget = 64 * 1024).await;
    // Most of the budget, then silence: the body is never finished.
    let mut hog = silent(&app.address).await;
    let head = "POST /webhooks/daily HTTP/1.1\r\nhost: x\r\ncontent-length: 60000\r\n\
                x-webhook-timestamp: 1\r\nx-webhook-signature: AAAA\r\n\r\n";
    hog.write_all(head.as_bytes()).await.unwrap();
    hog.write_all(&[b' '; 59_000]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let body = daily::waiting_joined("budget", "b0d9e700-0000-4000-8000-0", 1.7e9).to_string();
    let padded = format!("{body:<20000}");
    let started = Instant::now();
    let response = app.post_signed(padded.as_bytes()).await;
    assert_eq!(response.status(), 200);
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    assert!(
        closed_after(&mut hog, Duration::from_millis(500))
            .await
            .is_some()
    );
    assert_eq!(metric(&app, &cut("evicted")).await, 1.0);
}

#[tokio::test]
async fn bodies_are_refused_before_they_are_read_when_unsigned_or_too_large() {
    use tokio::io::AsyncWriteExt;
    let app = spawn_app_with(|_| {}).await;
    let cases = [
        ("content-length: 60000\r\n\r\n", "HTTP/1.1 401 Unauthorized"),
        (
            "content-length: 10000000\r\nx-webhook-timestamp: 1\r\nx-webhook-signature: AAAA\r\n\r\n",
            "HTTP/1.1 413 Payload Too Large",
        ),
    ];
    for (headers, expected) in cases {
        let mut stream = silent(&app.address).await;
        let head = format!("POST /webhooks/daily HTTP/1.1\r\nhost: x\r\n{headers}");
        stream.write_all(head.as_bytes()).await.unwrap();
        // No byte of the body is sent: the answer cannot have waited for it.
        assert_eq!(
            status_line(&mut stream, Duration::from_secs(2)).await,
            expected
        );
    }
}

#[tokio::test]
async fn a_conflicting_redelivery_is_answered_as_a_duplicate_and_counted() {
    let app = spawn_app_with(|_| {}).await;
    let first = daily::waiting_left("room", "c0ff1c70-0000-4000-8000-0", 1.7e9, 10.0);
    let mut restamped = first.clone();
    restamped["event_ts"] = serde_json::json!(1.8e9);
    let mut changed = first.clone();
    changed["payload"]["duration"] = serde_json::json!(99.0);
    for (event, status) in [
        (&first, "stored"),
        (&restamped, "duplicate"),
        (&changed, "duplicate"),
    ] {
        let response = app.post_signed(event.to_string().as_bytes()).await;
        assert_eq!(response.status(), 200);
        assert_eq!(response.json::<Value>().await.unwrap()["status"], status);
    }
    let prefix = "lobbylog_events_total{event_type=\"waiting-participant.left\"";
    assert_eq!(
        metric(&app, &format!("{prefix},outcome=\"duplicate\"}}")).await,
        1.0
    );
    assert_eq!(
        metric(&app, &format!("{prefix},outcome=\"conflict\"}}")).await,
        1.0
    );
    let kept: f64 =
        sqlx::query_scalar("select (body->'payload'->>'duration')::float8 from webhook_events")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(kept, 10.0, "the first body is kept");
}

#[tokio::test]
async fn an_unknown_event_type_is_labelled_other_however_long() {
    let app = spawn_app_with(|_| {}).await;
    let event_type = "x".repeat(50_000);
    let event = daily::envelope(&event_type, "long-type-1", 1.7e9, serde_json::json!({}));
    let response = app.post_signed(event.to_string().as_bytes()).await;
    assert_eq!(response.status(), 200);
    let text = app.get_admin("/metrics").await.text().await.unwrap();
    assert!(text.len() < 20_000, "metrics grew to {} bytes", text.len());
    assert!(
        text.contains("lobbylog_events_total{event_type=\"other\",outcome=\"stored\"} 1"),
        "{text}"
    );
}

/// Everything the server answers to `request` until it closes the connection.
async fn whole_answer(base: &str, request: &[u8]) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = silent(base).await;
    stream.write_all(request).await.unwrap();
    let mut answer = Vec::new();
    let read = stream.read_to_end(&mut answer);
    tokio::time::timeout(Duration::from_secs(5), read)
        .await
        .expect("the connection stayed open")
        .unwrap();
    String::from_utf8(answer).unwrap()
}

#[tokio::test]
async fn requests_hyper_refuses_itself_get_the_bodiless_answers_the_docs_list() {
    let app = spawn_app().await;
    let head = "POST /webhooks/daily HTTP/1.1\r\nhost: x\r\nx-padding: ";
    // Exactly the 16 KiB read buffer, so the server has read everything when it answers.
    let over_the_buffer = format!("{head}{}", "a".repeat(16 * 1024 - head.len()));
    let too_many_headers = format!("{head}a\r\n{}\r\n", "x-a: 1\r\n".repeat(100));
    let cases = [
        (over_the_buffer.as_str(), "431"),
        (too_many_headers.as_str(), "431"),
        ("P\x01ST /webhooks/daily HTTP/1.1\r\nhost: x\r\n\r\n", "400"),
        (
            "POST /webhooks/daily HTTP/1.1\r\ncontent-length: x\r\n\r\n",
            "400",
        ),
    ];
    let operations = markdown::read("docs/operations.md");
    let documented = operations
        .lines()
        .find(|l| l.contains("hyper") && l.starts_with('|'))
        .expect("no row for hyper's own answers in docs/operations.md");
    for (request, status) in cases {
        let answer = whole_answer(&app.address, request.as_bytes()).await;
        let (head, body) = answer.split_once("\r\n\r\n").expect("a whole head");
        assert!(head.starts_with(&format!("HTTP/1.1 {status} ")), "{answer}");
        assert!(
            head.contains("content-length: 0") && body.is_empty(),
            "{answer}"
        );
        assert!(documented.contains(status), "{documented}");
    }
}
