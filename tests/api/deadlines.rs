//! Each phase of a connection gets its own deadline, counted from when the phase began, whether it
//! is shorter or longer than the one before; a late body is answered and counted.

use std::time::{Duration, Instant};

use tokio::{io::AsyncWriteExt, net::TcpStream};

use crate::{
    edge::{cut, metric},
    helpers::{
        SECRET, TestApp,
        attack::{closed_after, silent, slow_body, status_line},
        fixture, signed_headers, spawn_app_with,
    },
};

async fn app_with(header_ms: u64, idle_ms: u64) -> TestApp {
    spawn_app_with(|s| {
        s.http.header_timeout = Duration::from_millis(header_ms);
        s.http.body_timeout = Duration::from_millis(600);
        s.http.idle_timeout = Duration::from_millis(idle_ms);
    })
    .await
}

/// Sends one signed request on `stream` and reads its 200, leaving the connection kept alive.
/// It waits first, so the connection has been waiting for headers under their deadline.
async fn one_request(stream: &mut TcpStream) {
    tokio::time::sleep(Duration::from_millis(200)).await;
    let body = fixture("meeting.started__1.json");
    let mut request = b"POST /webhooks/daily HTTP/1.1\r\nhost: x\r\n".to_vec();
    for (name, value) in signed_headers(SECRET, &body) {
        request.extend(format!("{name}: {value}\r\n").as_bytes());
    }
    request.extend(format!("content-length: {}\r\n\r\n", body.len()).as_bytes());
    request.extend(&body);
    stream.write_all(&request).await.unwrap();
    let status = status_line(stream, Duration::from_secs(3)).await;
    assert_eq!(status, "HTTP/1.1 200 OK");
}

#[tokio::test]
async fn a_half_sent_header_after_an_idle_spell_is_cut_at_the_header_deadline() {
    let app = app_with(400, 5_000).await;
    let mut stream = silent(&app.address).await;
    one_request(&mut stream).await;
    // Past the header deadline of the connection's opening: the idle one is running now.
    tokio::time::sleep(Duration::from_millis(600)).await;
    stream
        .write_all(b"POST /webhooks/daily HTTP/1.1\r\nhost: x\r\nx-webhook-")
        .await
        .unwrap();
    let after = closed_after(&mut stream, Duration::from_secs(4)).await;
    let after = after.expect("cut at the header deadline, not the idle one");
    assert!(after < Duration::from_millis(1500), "{after:?}");
    assert_eq!(metric(&app, &cut("header_timeout")).await, 1.0);
}

#[tokio::test]
async fn an_idle_deadline_shorter_than_the_header_deadline_counts_from_the_end_of_the_request() {
    let app = app_with(3_000, 400).await;
    let mut stream = silent(&app.address).await;
    one_request(&mut stream).await;
    let started = Instant::now();
    let after = closed_after(&mut stream, Duration::from_secs(4)).await;
    assert!(after.is_some(), "never cut");
    eprintln!("cut {:?} after the request", started.elapsed());
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(metric(&app, &cut("idle_timeout")).await, 1.0);
}

#[tokio::test]
async fn a_body_past_its_deadline_is_answered_408_and_counted_as_cut() {
    let app = app_with(400, 800).await;
    let mut stream = slow_body(&app.address).await;
    let status = status_line(&mut stream, Duration::from_secs(3)).await;
    assert_eq!(status, "HTTP/1.1 408 Request Timeout");
    let closed = closed_after(&mut stream, Duration::from_secs(3)).await;
    assert!(closed.is_some(), "the connection stayed open after the 408");
    assert_eq!(metric(&app, &cut("body_timeout")).await, 1.0);
}
