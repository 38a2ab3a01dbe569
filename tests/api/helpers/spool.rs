//! Spool tests through the real binary: posting until spooled, the segment files, the admin
//! answers and the JSON logs of a service.

use std::{
    fs,
    path::{Path, PathBuf},
};

use base64::Engine;
use serde_json::Value;

use super::{SECRET, Service, TestDb, admin_url, eventually, signed_headers};
use crate::daily;

/// Posts a signed event to the service on `port`; returns the answer's `status`.
pub async fn post(client: &reqwest::Client, port: u16, body: &str) -> String {
    let mut request = client
        .post(format!("http://127.0.0.1:{port}/webhooks/daily"))
        .body(body.to_owned());
    for (name, value) in signed_headers(SECRET, body.as_bytes()) {
        request = request.header(name, value);
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), 200);
    let answer: Value = response.json().await.unwrap();
    answer["status"].as_str().unwrap().to_owned()
}

/// Posts `n` signed events to the service on `port`, each answered `200 spooled`.
pub async fn post_spooled(client: &reqwest::Client, port: u16, n: usize, tag: &str) {
    let healthz = format!("http://127.0.0.1:{port}/healthz");
    let listening = eventually(20, || async { client.get(&healthz).send().await.is_ok() }).await;
    assert!(listening, "lobbylog is not listening on {port}");
    for i in 0..n {
        let session = format!("{tag}{i:04}-0000-4000-8000-000000000000");
        let body = daily::waiting_joined("spool", &session, 1.7e9 + i as f64).to_string();
        assert_eq!(post(client, port, &body).await, "spooled");
    }
}

/// Waits until the service stores events (it has then asked the server which database it is)
/// and its spool is empty.
pub async fn wait_until_storing(client: &reqwest::Client, port: u16, spool: &Path) {
    let body = daily::waiting_joined("spool", "ffff0000-0000-4000-8000-000000000000", 1.7e9);
    let body = body.to_string();
    let storing = eventually(20, || async {
        matches!(
            post(client, port, &body).await.as_str(),
            "stored" | "duplicate"
        )
    })
    .await;
    assert!(storing, "lobbylog does not store events");
    assert!(eventually(10, || async { segment_files(spool).is_empty() }).await);
}

/// The segments waiting to be drained in `dir` (not those set aside).
pub fn segment_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "spool"))
        .collect();
    files.sort();
    files
}

pub fn set_aside_files(dir: &Path) -> Vec<PathBuf> {
    match dir.join("set-aside").is_dir() {
        true => segment_files(&dir.join("set-aside")),
        false => Vec::new(),
    }
}

pub fn first_line(path: &Path) -> String {
    let text = fs::read_to_string(path).unwrap();
    text.lines().next().unwrap_or_default().to_owned()
}

/// The body of a GET on the admin listener; empty while it does not answer yet.
pub async fn admin_get(client: &reqwest::Client, service: &Service, path: &str) -> String {
    let url = format!("{}{path}", service.admin);
    match client.get(url).send().await {
        Ok(response) => response.text().await.unwrap_or_default(),
        Err(_) => String::new(),
    }
}

pub async fn spool_readiness(client: &reqwest::Client, service: &Service) -> Value {
    let text = admin_get(client, service, "/readyz").await;
    serde_json::from_str::<Value>(&text).unwrap_or_default()["spool"].clone()
}

/// The JSON log lines of `level` the service wrote to `log`.
pub fn log_lines(log: &Path, level: &str) -> Vec<Value> {
    fs::read_to_string(log)
        .unwrap()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|l| l["level"] == level)
        .collect()
}

pub fn message(line: &Value) -> &str {
    line["message"].as_str().unwrap_or_default()
}

/// A segment as the version before wrote it: base64 bodies, no header.
pub fn legacy_segment(bodies: &[String]) -> String {
    let engine = base64::engine::general_purpose::STANDARD;
    bodies.iter().map(|b| engine.encode(b) + "\n").collect()
}

/// Drops the test database and creates it again under the same name: a new OID.
pub async fn recreate(db: &TestDb) {
    db.pool.close().await;
    let mut admin = lobbylog::db::connect(&admin_url().parse().unwrap())
        .await
        .unwrap();
    let name = lobbylog::db::quote_ident(&db.name);
    for sql in [
        format!("drop database {name} with (force)"),
        format!("create database {name}"),
    ] {
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(&mut admin)
            .await
            .unwrap();
    }
    lobbylog::db::migrate(&db.url).await.unwrap();
}

/// `lobbylog spool ARGS --spool-dir DIR` against `database_url`, run to its end.
pub async fn spool_command(database_url: &str, dir: &Path, args: &[&str]) -> super::Run {
    let dir = dir.to_str().unwrap();
    let args = [&["spool"], args, &["--spool-dir", dir]].concat();
    super::run(super::lobbylog(database_url, &args), None).await
}
