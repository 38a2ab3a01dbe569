//! The real `lobbylog` binary: killed with a non-empty spool, restarted, and stopped by SIGTERM.

use std::{
    process::{Child, Command, Stdio},
    time::Duration,
};

use lobbylog::db;
use serde_json::Value;

use crate::{
    daily,
    helpers::{
        SECRET, admin_url, count_events, drop_database, eventually, fresh_database, signed_headers,
    },
    proxy::Proxy,
};

/// `url` with its host and port replaced.
fn via(url: &str, port: u16) -> String {
    let (scheme, rest) = url.split_once("://").unwrap();
    let (userinfo, hostpath) = match rest.rsplit_once('@') {
        Some((u, h)) => (format!("{u}@"), h),
        None => (String::new(), rest),
    };
    let path = hostpath.split_once('/').map(|(_, p)| p).unwrap_or("");
    format!("{scheme}://{userinfo}127.0.0.1:{port}/{path}")
}

struct Service(Child);

impl Service {
    fn start(database_url: &str, spool: &std::path::Path, port: u16) -> Self {
        let child = Command::new(env!("CARGO_BIN_EXE_lobbylog"))
            .arg("serve")
            .env("DATABASE_URL", database_url)
            .env("DAILY_WEBHOOK_SECRET", SECRET)
            .env("LOBBYLOG_LISTEN", format!("127.0.0.1:{port}"))
            .env("LOBBYLOG_SPOOL_DIR", spool)
            .env("LOBBYLOG_LOG_FORMAT", "json")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting lobbylog");
        Self(child)
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn ready(client: &reqwest::Client, base: &str) -> bool {
    eventually(30, || async {
        client
            .get(format!("{base}/readyz"))
            .send()
            .await
            .is_ok_and(|r| r.status() == 200)
    })
    .await
}

#[tokio::test]
async fn a_killed_service_with_a_spool_restarts_and_loses_nothing_then_stops_on_sigterm() {
    let (database_url, db_name) = fresh_database().await;
    let direct = db::lazy_pool(&database_url, 2).unwrap();
    let proxy = Proxy::in_front_of(&database_url).await;
    let proxied = via(database_url.expose(), proxy.port);
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
    first.0.kill().unwrap(); // SIGKILL: no graceful shutdown
    first.0.wait().unwrap();
    assert_eq!(count_events(&direct).await, 0);

    proxy.restore();
    let mut second = Service::start(&proxied, spool.path(), port);
    let landed = eventually(30, || async { count_events(&direct).await == 25 }).await;
    assert!(
        landed,
        "{} of 25 events landed after the restart",
        count_events(&direct).await
    );

    let pid = second.0.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let status = tokio::task::spawn_blocking(move || second.0.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(
        status.success(),
        "SIGTERM should stop lobbylog cleanly: {status:?}"
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(count_events(&direct).await, 25);
    direct.close().await;
    drop_database(admin_url(), db_name);
}
