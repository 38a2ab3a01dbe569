//! The real binary against hostile or unlucky conditions: memory under a flood of unsigned large
//! bodies, SIGTERM with slow clients, a low file-descriptor limit, concurrent starts, and a
//! database URL that is not one.

use std::time::{Duration, Instant};

use tokio::io::AsyncWriteExt;

use crate::helpers::{
    SECRET, Service, TestDb, admin_url, attack, database_url, drop_database, eventually, lobbylog,
    ready, run, signed_headers,
};

const MIB: u64 = 1024 * 1024;

async fn post_signed(client: &reqwest::Client, base: &str, body: &[u8]) -> reqwest::Response {
    let mut request = client
        .post(format!("{base}/webhooks/daily"))
        .body(body.to_vec());
    for (name, value) in signed_headers(SECRET, body) {
        request = request.header(name, value);
    }
    request.send().await.expect("request failed")
}

fn knock(i: usize) -> Vec<u8> {
    crate::daily::waiting_joined("hard", &format!("hard{i:04}-0000-4000-8000-0"), 1.7e9)
        .to_string()
        .into_bytes()
}

/// Sends a 1 MiB chunked body with a signature that cannot match, as fast as the server reads.
async fn unsigned_megabyte(base: String) {
    let Ok(mut stream) = tokio::net::TcpStream::connect(attack::host_port(&base)).await else {
        return;
    };
    let head = "POST /webhooks/daily HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\
                x-webhook-timestamp: 1\r\nx-webhook-signature: AAAA\r\n\r\n";
    if stream.write_all(head.as_bytes()).await.is_err() {
        return;
    }
    let chunk = [b'x'; 64 * 1024];
    for _ in 0..16 {
        let framed = [format!("{:x}\r\n", chunk.len()).as_bytes(), &chunk, b"\r\n"].concat();
        if stream.write_all(&framed).await.is_err() {
            return;
        }
    }
    let _ = stream.write_all(b"0\r\n\r\n").await;
    let _ = attack::closed_after(&mut stream, Duration::from_secs(10)).await;
}

#[tokio::test]
async fn memory_stays_bounded_under_a_flood_of_unsigned_large_bodies() {
    let db = TestDb::fresh().await;
    let spool = tempfile::tempdir().unwrap();
    let port = crate::helpers::free_port();
    let service = Service::start(db.url(), spool.path(), port);
    let base = format!("http://127.0.0.1:{port}");
    assert!(ready(&reqwest::Client::new(), &base).await);
    let rest = service.rss();
    let flood: Vec<_> = (0..300)
        .map(|_| tokio::spawn(unsigned_megabyte(base.clone())))
        .collect();
    let mut peak = 0;
    while flood.iter().any(|task| !task.is_finished()) {
        peak = peak.max(service.rss());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Bounds on the growth, not absolute figures: a debug build's own footprint varies. Without
    // the body budget, 300 bodies of 1 MiB took over 300 MiB and kept it.
    let growth = |rss: u64| rss.saturating_sub(rest) / MIB;
    assert!(
        growth(peak) < 64,
        "RSS grew by {} MiB during the flood",
        growth(peak)
    );
    let settled = eventually(5, || async { growth(service.rss()) < 32 }).await;
    assert!(
        settled,
        "RSS still {} MiB above rest after the flood",
        growth(service.rss())
    );
    let client = reqwest::Client::new();
    assert_eq!(post_signed(&client, &base, &knock(1)).await.status(), 200);
}

#[tokio::test]
async fn sigterm_with_idle_and_slow_connections_open_exits_0_in_time() {
    let db = TestDb::fresh().await;
    let spool = tempfile::tempdir().unwrap();
    let port = crate::helpers::free_port();
    let grace = [("LOBBYLOG_SHUTDOWN_TIMEOUT_MS", "1500")];
    let mut service = Service::start_with(db.url(), spool.path(), port, &grace, None);
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    assert!(ready(&client, &base).await);
    // A kept-alive connection, idle after its request, and stalled ones in every phase.
    assert_eq!(post_signed(&client, &base, &knock(1)).await.status(), 200);
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(attack::silent(&base).await);
        held.push(attack::slow_header(&base).await);
        held.push(attack::slow_body(&base).await);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = Instant::now();
    service.terminate();
    let status = tokio::task::spawn_blocking(move || {
        let status = service.child.wait();
        (status, service)
    });
    let (status, _service) = tokio::time::timeout(Duration::from_secs(5), status)
        .await
        .expect("lobbylog still running 5 s after SIGTERM")
        .unwrap();
    assert!(status.unwrap().success());
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
    drop(held);
}

#[tokio::test]
async fn a_low_file_descriptor_limit_and_many_idle_connections_do_not_stop_signed_events() {
    let db = TestDb::fresh().await;
    let spool = tempfile::tempdir().unwrap();
    let port = crate::helpers::free_port();
    let service = Service::start_with(db.url(), spool.path(), port, &[], Some(256));
    let base = format!("http://127.0.0.1:{port}");
    assert!(ready(&reqwest::Client::new(), &base).await);
    let mut held = Vec::new();
    for _ in 0..300 {
        held.push(attack::silent(&base).await);
    }
    for i in 0..5 {
        // A fresh connection each time: it must be accepted despite the idle ones.
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(0)
            .build()
            .unwrap();
        let started = Instant::now();
        let response = post_signed(&client, &base, &knock(i)).await;
        assert_eq!(response.status(), 200);
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "{:?}",
            started.elapsed()
        );
    }
    drop((held, service));
}

#[tokio::test]
async fn four_concurrent_migrations_of_a_fresh_database_all_succeed() {
    let name = format!("lobbylog_test_{}", uuid::Uuid::new_v4().simple());
    let url = database_url(&admin_url(), &name);
    let runs: Vec<_> = (0..4)
        .map(|_| tokio::spawn(run(lobbylog(&url, &["migrate"]), None)))
        .collect();
    for handle in runs {
        let result = handle.await.unwrap();
        assert_eq!(result.code, 0, "{result:?}");
        assert!(!result.stderr.contains("ERROR"), "{result:?}");
    }
    drop_database(admin_url(), name);
}

#[tokio::test]
async fn a_database_url_that_is_not_one_stops_the_process_without_showing_it() {
    for url in [
        "app:s3cret@db.example.com:5432/lobbylog",
        "mysql://app:s3cret@db.example.com/lobbylog",
        "postgres://app:s3cret@db.example.com:port/lobbylog",
        "postgres://app:s3cret@127.0.0.1:1/lobbylog",
    ] {
        let started = Instant::now();
        let result = run(lobbylog(url, &["migrate"]), None).await;
        assert_eq!(result.code, 1, "{url}: {result:?}");
        assert!(
            !result.stderr.contains("s3cret"),
            "{url}: {}",
            result.stderr
        );
        assert!(started.elapsed() < Duration::from_secs(10), "{url}");
    }
    let result = run(lobbylog("app:s3cret@db.example.com/x", &["migrate"]), None).await;
    assert!(result.stderr.contains("DATABASE_URL"), "{}", result.stderr);
}
