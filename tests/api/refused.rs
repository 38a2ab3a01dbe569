//! What the door refused: `GET /refused` on the admin listener, the refusals metric, the
//! dashboard's table, and the gauges the alerting rules read.

use serde_json::Value;

use crate::{
    daily,
    dashboard::page,
    helpers::{SECRET, TestApp, now, signed_headers, spawn_app},
};

async fn refused(app: &TestApp, query: &str) -> (u16, Value) {
    let response = app.get_admin(&format!("/refused{query}")).await;
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

async fn metric(app: &TestApp, name: &str) -> Option<f64> {
    let text = app.get_admin("/metrics").await.text().await.unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
}

#[tokio::test]
async fn a_flood_of_bad_signatures_shows_in_refused_without_bodies_and_in_the_metric() {
    let app = spawn_app().await;
    let agent = format!("flooder/{}", "a".repeat(500));
    for i in 0..40 {
        let body = format!(r#"{{"secret-body-marker": {i}}}"#);
        let mut headers = signed_headers("d3Jvbmctc2VjcmV0", body.as_bytes());
        headers.push(("user-agent", agent.clone()));
        let response = app.post_webhook(body.as_bytes(), &headers).await;
        assert_eq!(response.status(), 401);
    }
    let unsigned = app
        .post_webhook(b"{}", &[("content-type", "application/json".into())])
        .await;
    assert_eq!(unsigned.status(), 401);
    // A signed event is no refusal.
    app.post_all(&[daily::waiting_joined("lobby", "door-0001", now() - 5.0)])
        .await;

    let (status, all) = refused(&app, "").await;
    assert_eq!(status, 200);
    let text = all.to_string();
    assert!(
        !text.contains("secret-body-marker"),
        "a body was kept: {text}"
    );
    let signature = signed_headers("d3Jvbmctc2VjcmV0", br#"{"secret-body-marker": 39}"#)
        .into_iter()
        .find(|(name, _)| *name == "x-webhook-signature")
        .unwrap()
        .1;
    assert!(!text.contains(&signature), "a signature was kept");
    let rows = all["refused"].as_array().unwrap();
    assert_eq!(rows.len(), 41);
    assert_eq!(rows[0]["reason"], "missing_signature");
    assert_eq!(rows[0]["signature_header"], false);
    let newest_bad = &rows[1];
    assert_eq!(newest_bad["reason"], "bad_signature");
    assert_eq!(newest_bad["status"], 401);
    assert_eq!(newest_bad["path"], "/webhooks/daily");
    assert_eq!(newest_bad["signature_header"], true);
    assert_eq!(
        newest_bad["body_bytes"],
        r#"{"secret-body-marker": 39}"#.len()
    );
    assert_eq!(
        newest_bad["user_agent"].as_str().unwrap().chars().count(),
        200
    );
    assert!(
        newest_bad["remote"]
            .as_str()
            .unwrap()
            .starts_with("127.0.0.1:")
    );
    assert_eq!(all["summary"][0]["reason"], "bad_signature");
    assert_eq!(all["summary"][0]["requests"], 40);

    let (_, bad) = refused(&app, "?reason=bad_signature&limit=5").await;
    assert_eq!(bad["refused"].as_array().unwrap().len(), 5);
    let reasons = |v: &Value| -> Vec<String> {
        v["refused"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["reason"].as_str().unwrap().to_owned())
            .collect()
    };
    assert!(reasons(&bad).iter().all(|r| r == "bad_signature"));
    for query in ["?reason=nope", "?limit=0", "?limit=1001", "?limit=x"] {
        let (status, answer) = refused(&app, query).await;
        assert_eq!(status, 400, "{query}: {answer}");
        assert!(
            answer["message"].as_str().unwrap().contains("must be"),
            "{answer}"
        );
    }

    let name = "lobbylog_refused_requests_total{reason=\"bad_signature\"}";
    assert_eq!(metric(&app, name).await, Some(40.0));
    let name = "lobbylog_refused_requests_total{reason=\"missing_signature\"}";
    assert_eq!(metric(&app, name).await, Some(1.0));

    // The dashboard sums them up, linking to the list.
    let html = page(&app, "").await;
    assert!(
        html.contains(r#"<tr data-reason="bad_signature" data-requests="40">"#),
        "{html}"
    );
    assert!(html.contains(r#"href="/refused?reason=bad_signature""#));
}

#[tokio::test]
async fn other_paths_and_methods_are_refused_and_recorded_and_refused_is_admin_only() {
    let app = spawn_app().await;
    assert_eq!(app.get("/refused").await.status(), 404);
    assert_eq!(app.get("/webhooks/daily").await.status(), 405);
    let (_, all) = refused(&app, "").await;
    let rows = all["refused"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(
        (rows[0]["reason"].as_str(), rows[0]["method"].as_str()),
        (Some("method_not_allowed"), Some("GET"))
    );
    assert_eq!(
        (rows[1]["reason"].as_str(), rows[1]["path"].as_str()),
        (Some("not_found"), Some("/refused"))
    );
    assert_eq!(rows[1]["status"], 404);
}

#[tokio::test]
async fn the_last_event_and_postgres_gauges_say_when_events_were_stored() {
    let app = spawn_app().await;
    let gauge = "lobbylog_last_event_timestamp_seconds";
    assert_eq!(metric(&app, gauge).await, Some(0.0));
    assert_eq!(metric(&app, "lobbylog_postgres_up").await, Some(1.0));
    let before = now();
    let body = daily::waiting_joined("lobby", "door-0002", now() - 5.0).to_string();
    let response = app
        .post_webhook(body.as_bytes(), &signed_headers(SECRET, body.as_bytes()))
        .await;
    assert_eq!(response.status(), 200);
    let at = metric(&app, gauge).await.unwrap();
    assert!(at >= before - 1.0 && at <= now() + 1.0, "{at}");
}
