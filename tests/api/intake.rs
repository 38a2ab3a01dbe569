//! Signed events are stored once; the probe and unusable bodies get 200 without an event row.

use serde_json::{Value, json};

use crate::helpers::{BODY_LIMIT, fixture, fixture_names, spawn_app};

#[tokio::test]
async fn every_daily_example_is_stored_with_its_envelope_fields() {
    let app = spawn_app().await;
    let events: Vec<String> = fixture_names()
        .into_iter()
        .filter(|n| !n.starts_with('_'))
        .collect();
    assert!(events.len() >= 7, "fixtures missing: {events:?}");
    for name in &events {
        let body = fixture(name);
        let response = app.post_signed(&body).await;
        assert_eq!(response.status(), 200, "{name}");
        assert_eq!(
            response.json::<Value>().await.unwrap()["status"],
            "stored",
            "{name}"
        );

        let envelope: Value = serde_json::from_slice(&body).unwrap();
        let (event_type, version, ts, stored): (String, String, f64, Value) = sqlx::query_as(
            "select event_type, version, extract(epoch from event_ts)::float8, body
             from webhook_events where event_id = $1",
        )
        .bind(envelope["id"].as_str().unwrap())
        .fetch_one(&app.pool)
        .await
        .unwrap();
        assert_eq!(event_type, envelope["type"].as_str().unwrap(), "{name}");
        assert_eq!(version, "1.0.0");
        assert!(
            (ts - envelope["event_ts"].as_f64().unwrap()).abs() < 1e-3,
            "{name}: {ts}"
        );
        assert_eq!(stored, envelope, "{name}");
    }
    assert_eq!(app.count("webhook_events").await, events.len() as i64);
}

#[tokio::test]
async fn the_creation_probe_gets_200_and_is_not_stored() {
    let app = spawn_app().await;
    let body = fixture("_verification-probe__1.json");
    assert_eq!(body, br#"{"test":"test"}"#);
    let response = app.post_signed(&body).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.json::<Value>().await.unwrap()["status"], "probe");
    assert_eq!(app.count("webhook_events").await, 0);
    assert_eq!(app.count("dead_letters").await, 0);
}

#[tokio::test]
async fn a_duplicate_sent_twice_in_sequence_leaves_one_row() {
    let app = spawn_app().await;
    let body = fixture("waiting-participant.left__1.json");
    let first = app.post_signed(&body).await;
    let second = app.post_signed(&body).await;
    assert_eq!(
        (first.status().as_u16(), second.status().as_u16()),
        (200, 200)
    );
    assert_eq!(second.json::<Value>().await.unwrap()["status"], "duplicate");
    assert_eq!(app.count("webhook_events").await, 1);
}

#[tokio::test]
async fn a_duplicate_sent_concurrently_leaves_one_row() {
    let app = spawn_app().await;
    let body = fixture("participant.joined__1.json");
    let requests = (0..16).map(|_| app.post_signed(&body));
    let responses = futures::future::join_all(requests).await;
    let mut statuses = Vec::new();
    for response in responses {
        assert_eq!(response.status(), 200);
        statuses.push(
            response.json::<Value>().await.unwrap()["status"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    assert_eq!(
        statuses.iter().filter(|s| *s == "stored").count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| *s == "duplicate").count(),
        15,
        "{statuses:?}"
    );
    assert_eq!(app.count("webhook_events").await, 1);
}

#[tokio::test]
async fn an_unknown_event_type_is_stored_raw() {
    let app = spawn_app().await;
    let body = json!({
        "version": "2.0.0", "type": "calltransfer.future-thing", "id": "ct-1",
        "payload": {"anything": [1, 2, {"deep": null}]}, "event_ts": 1719586628.431,
        "unexpected_top_level": "kept"
    });
    let response = app.post_signed(body.to_string().as_bytes()).await;
    assert_eq!(response.status(), 200);
    let stored: Value =
        sqlx::query_scalar("select body from webhook_events where event_id = 'ct-1'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(stored, body);
}

#[tokio::test]
async fn signed_bodies_that_are_not_envelopes_are_dead_lettered_with_200() {
    let app = spawn_app().await;
    let cases: &[(&[u8], &str)] = &[
        (b"this is not json", "not JSON"),
        (b"[{\"id\":\"a\",\"type\":\"b\"}]", "not an object"),
        (br#"{"type":"participant.joined","payload":{}}"#, "no `id`"),
        (
            br#"{"id":42,"type":"participant.joined"}"#,
            "`id` is a number",
        ),
        (
            br#"{"id":"x","type":"t","payload":{"s":"nul\u0000"}}"#,
            "\\u0000",
        ),
        (b"", "not JSON"),
    ];
    for (body, reason) in cases {
        let response = app.post_signed(body).await;
        assert_eq!(response.status(), 200, "{}", String::from_utf8_lossy(body));
        assert_eq!(
            response.json::<Value>().await.unwrap()["status"],
            "dead_lettered"
        );
        let (stored_reason, stored_body): (String, Vec<u8>) =
            sqlx::query_as("select reason, body from dead_letters order by id desc limit 1")
                .fetch_one(&app.pool)
                .await
                .unwrap();
        assert!(stored_reason.contains(reason), "{stored_reason}");
        assert_eq!(&stored_body, body);
    }
    assert_eq!(app.count("dead_letters").await, cases.len() as i64);
    assert_eq!(app.count("webhook_events").await, 0);
}

#[tokio::test]
async fn an_oversized_body_gets_413_and_nothing_is_stored() {
    let app = spawn_app().await;
    let padding = "x".repeat(BODY_LIMIT);
    let body = json!({"id": "big", "type": "t", "payload": {"pad": padding}}).to_string();
    let response = app.post_signed(body.as_bytes()).await;
    assert_eq!(response.status(), 413);
    assert_eq!(
        response.json::<Value>().await.unwrap()["error"],
        "body_too_large"
    );
    assert_eq!(
        app.count("webhook_events").await + app.count("dead_letters").await,
        0
    );
}

#[tokio::test]
async fn wrong_method_and_path_get_405_and_404() {
    let app = spawn_app().await;
    assert_eq!(app.get("/webhooks/daily").await.status(), 405);
    let response = app
        .client
        .post(format!("{}/webhooks/zoom", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
}

#[tokio::test]
async fn a_client_too_slow_to_send_its_body_gets_408_and_holds_up_no_one() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = crate::helpers::spawn_app_with(|s| {
        s.http.max_in_flight = 1;
        s.http.body_timeout = std::time::Duration::from_millis(600);
    })
    .await;
    let address = app.address.trim_start_matches("http://").to_owned();
    let mut slow = tokio::net::TcpStream::connect(&address).await.unwrap();
    // Signature headers are there (the body must be read to check them), but wrong.
    let head = "POST /webhooks/daily HTTP/1.1\r\nhost: x\r\ncontent-length: 100\r\n\
                x-webhook-timestamp: 1\r\nx-webhook-signature: AAAA\r\n\r\n{";
    slow.write_all(head.as_bytes()).await.unwrap();
    // Another request goes through at once, although the only storing slot exists once.
    let started = std::time::Instant::now();
    let response = app.post_signed(&fixture("meeting.started__1.json")).await;
    assert_eq!(response.status(), 200);
    assert!(
        started.elapsed() < std::time::Duration::from_millis(500),
        "{:?}",
        started.elapsed()
    );
    // A byte now and then does not buy more time: the deadline is for the whole body.
    let (mut reader, mut writer) = slow.into_split();
    let trickle = async move {
        for _ in 0..20 {
            tokio::time::sleep(std::time::Duration::from_millis(150)).await;
            if writer.write_all(b" ").await.is_err() {
                break;
            }
        }
    };
    let mut answer = vec![0; 512];
    let read = tokio::time::timeout(std::time::Duration::from_secs(3), reader.read(&mut answer));
    let (_, n) = tokio::join!(trickle, read);
    let n = n.expect("answered within the body deadline").unwrap();
    let answer = String::from_utf8_lossy(&answer[..n]);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("body_timeout"), "{answer}");
    assert_eq!(app.count("webhook_events").await, 1);
}
