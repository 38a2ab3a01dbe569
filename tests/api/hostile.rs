//! Clients without the secret trying to make Daily's deliveries fail: bodies trickled a byte at a
//! time (memory), slow bodies holding the connection cap, and a cap too low to defend.

use std::time::{Duration, Instant};

use tokio::{io::AsyncWriteExt, net::TcpStream};

use crate::helpers::{
    SECRET, Service, TestDb, attack, free_port, lobbylog, ready, run, signed_headers,
    spawn_app_with,
};

const MIB: u64 = 1024 * 1024;
/// The documented bound for unauthenticated traffic: the body budget plus 16 KiB per connection.
const BODY_BUDGET: u64 = 16 * MIB;
const PER_CONNECTION: u64 = 16 * 1024;

fn knock(i: usize) -> Vec<u8> {
    crate::daily::waiting_joined("door", &format!("d00r{i:04}-0000-4000-8000-0"), 1.7e9)
        .to_string()
        .into_bytes()
}

/// Sends a head announcing a body of 100 KB, then `bytes` of it one byte at a time, each in its
/// own segment.
async fn trickle(address: String, bytes: usize, pause: Duration) -> Option<TcpStream> {
    let mut stream = TcpStream::connect(&address).await.ok()?;
    stream.set_nodelay(true).ok()?;
    let head = "POST /webhooks/daily HTTP/1.1\r\nhost: x\r\ncontent-length: 100000\r\n\
                x-webhook-timestamp: 1\r\nx-webhook-signature: AAAA\r\n\r\n";
    stream.write_all(head.as_bytes()).await.ok()?;
    for _ in 0..bytes {
        tokio::time::sleep(pause).await;
        stream.write_all(b" ").await.ok()?;
    }
    Some(stream)
}

#[tokio::test]
async fn memory_stays_within_the_documented_bound_under_400_trickled_bodies() {
    let db = TestDb::fresh().await;
    let spool = tempfile::tempdir().unwrap();
    let port = free_port();
    let service = Service::start(db.url(), spool.path(), port);
    let base = format!("http://127.0.0.1:{port}");
    assert!(ready(&reqwest::Client::new(), &base).await);
    let rest = service.rss();
    let address = attack::host_port(&base);
    let connections = 400;
    let trickles: Vec<_> = (0..connections)
        .map(|_| tokio::spawn(trickle(address.clone(), 600, Duration::from_millis(8))))
        .collect();
    let mut peak = 0;
    while trickles.iter().any(|task| !task.is_finished()) {
        peak = peak.max(service.rss());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    peak = peak.max(service.rss());
    // Before each frame was copied out of the read buffer it pinned, this took over 1 GiB.
    let bound = BODY_BUDGET + connections * PER_CONNECTION + 16 * MIB;
    let growth = peak.saturating_sub(rest);
    eprintln!(
        "RSS at rest {} MiB, growth {} MiB",
        rest / MIB,
        growth / MIB
    );
    assert!(
        growth < bound,
        "RSS grew by {} MiB under {connections} trickled bodies (bound {} MiB)",
        growth / MIB,
        bound / MIB
    );
    let client = reqwest::Client::new();
    let mut request = client.post(format!("{base}/webhooks/daily")).body(knock(0));
    for (name, value) in signed_headers(SECRET, &knock(0)) {
        request = request.header(name, value);
    }
    assert_eq!(request.send().await.unwrap().status(), 200);
    drop(trickles);
}

#[tokio::test]
async fn every_signed_event_is_answered_while_slow_bodies_hold_the_connection_cap() {
    let cap = 32;
    let app = spawn_app_with(|s| s.http.max_connections = cap).await;
    let mut held = Vec::new();
    for _ in 0..cap + 8 {
        held.push(attack::slow_body(&app.address).await);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    for i in 0..20 {
        // A fresh connection each time, as Daily opens them.
        let started = Instant::now();
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(0)
            .build()
            .unwrap();
        let body = knock(i);
        let mut request = client.post(format!("{}/webhooks/daily", app.address));
        for (name, value) in signed_headers(SECRET, &body) {
            request = request.header(name, value);
        }
        let response = request.body(body).send().await;
        let status = response.map(|r| r.status().as_u16());
        assert_eq!(status.ok(), Some(200), "event {i} not answered");
        assert!(started.elapsed() < Duration::from_secs(2), "event {i}");
        // The attacker takes the freed place back.
        held.push(attack::slow_body(&app.address).await);
    }
    assert_eq!(app.count("webhook_events").await, 20);
}

#[tokio::test]
async fn a_connection_cap_below_the_minimum_is_refused_at_startup() {
    let db = TestDb::fresh().await;
    let mut command = lobbylog(db.url(), &["serve"]);
    command
        .env("DAILY_WEBHOOK_SECRET", SECRET)
        .env("LOBBYLOG_LISTEN", "127.0.0.1:0")
        .env("LOBBYLOG_ADMIN_LISTEN", "127.0.0.1:0")
        .env("LOBBYLOG_MAX_CONNECTIONS", "1");
    let result = run(command, None).await;
    assert_eq!(result.code, 1, "{result:?}");
    assert!(
        result.stderr.contains("LOBBYLOG_MAX_CONNECTIONS is 1"),
        "{}",
        result.stderr
    );
}

#[tokio::test]
async fn a_file_descriptor_limit_too_low_for_the_minimum_cap_is_refused_at_startup() {
    let db = TestDb::fresh().await;
    let spool = tempfile::tempdir().unwrap();
    let log = spool.path().join("log.json");
    let mut service = Service::start_logging_to_with_nofile(db.url(), spool.path(), &log, 139);
    let started = Instant::now();
    let status = loop {
        if let Some(status) = service.child.try_wait().unwrap() {
            break status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "lobbylog kept running with 139 file descriptors"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(status.code(), Some(1));
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(logged.contains("file-descriptor limit (139)"), "{logged}");
}
