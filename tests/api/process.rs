//! The real `lobbylog` binary: killed with a non-empty spool, restarted, and stopped by SIGTERM.

use std::time::Duration;

use serde_json::Value;

use crate::{
    daily,
    helpers::{
        SECRET, Service, TestDb, count_events, eventually, free_port, ready, signed_headers, via,
    },
    proxy::Proxy,
};

#[tokio::test]
async fn a_killed_service_with_a_spool_restarts_and_loses_nothing_then_stops_on_sigterm() {
    let db = TestDb::fresh().await;
    let direct = db.pool.clone();
    let proxy = Proxy::in_front_of(&db.url).await;
    let proxied = via(db.url(), proxy.port);
    let spool = tempfile::tempdir().unwrap();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();

    let mut first = Service::start(&proxied, spool.path(), port);
    assert!(ready(&client, &base).await, "lobbylog did not become ready");
    proxy.cut();
    for i in 0..25 {
        let body = daily::waiting_joined(
            "killed",
            &format!("kill{i:04}-0000-4000-8000-000000000000"),
            1.7e9 + i as f64,
        )
        .to_string();
        let mut request = client
            .post(format!("{base}/webhooks/daily"))
            .body(body.clone());
        for (name, value) in signed_headers(SECRET, body.as_bytes()) {
            request = request.header(name, value);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.json::<Value>().await.unwrap()["status"], "spooled");
    }
    first.child.kill().unwrap(); // SIGKILL: no graceful shutdown
    first.child.wait().unwrap();
    assert_eq!(count_events(&direct).await, 0);

    proxy.restore();
    let mut second = Service::start(&proxied, spool.path(), port);
    let landed = eventually(30, || async { count_events(&direct).await == 25 }).await;
    assert!(
        landed,
        "{} of 25 events landed after the restart",
        count_events(&direct).await
    );

    let metrics = client
        .get(format!("{}/metrics", second.admin))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("lobbylog_spool_drained_events_total 25"),
        "{metrics}"
    );

    second.terminate();
    let status = tokio::task::spawn_blocking(move || second.child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(
        status.success(),
        "SIGTERM should stop lobbylog cleanly: {status:?}"
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(count_events(&direct).await, 25);
}
