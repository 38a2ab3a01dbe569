//! Hostile clients for edge tests: connections that stall in each phase of a request.

use std::time::{Duration, Instant};

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

/// `host:port` of a base URL.
pub fn host_port(base: &str) -> String {
    base.trim_start_matches("http://").to_owned()
}

/// A connection that sends nothing at all.
pub async fn silent(base: &str) -> TcpStream {
    TcpStream::connect(host_port(base)).await.unwrap()
}

/// A connection that sends half a request head and stalls.
pub async fn slow_header(base: &str) -> TcpStream {
    let mut stream = silent(base).await;
    stream
        .write_all(b"POST /webhooks/daily HTTP/1.1\r\nhost: x\r\nx-webhook-")
        .await
        .unwrap();
    stream
}

/// A connection whose head is complete and signature headers present (so its body must be read),
/// that sends one byte of its body and stalls.
pub async fn slow_body(base: &str) -> TcpStream {
    let mut stream = silent(base).await;
    stream
        .write_all(
            b"POST /webhooks/daily HTTP/1.1\r\nhost: x\r\ncontent-length: 1000\r\n\
              x-webhook-timestamp: 1\r\nx-webhook-signature: AAAA\r\n\r\n{",
        )
        .await
        .unwrap();
    stream
}

/// How long the server took to close `stream` (reading and discarding whatever it answers),
/// or `None` if it was still open after `within`.
pub async fn closed_after(stream: &mut TcpStream, within: Duration) -> Option<Duration> {
    let started = Instant::now();
    let mut sink = [0u8; 1024];
    let closed = tokio::time::timeout(within, async {
        loop {
            match stream.read(&mut sink).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await;
    closed.ok().map(|()| started.elapsed())
}

/// The first line of the answer to what was sent so far, read within `within`.
pub async fn status_line(stream: &mut TcpStream, within: Duration) -> String {
    let mut answer = vec![0u8; 1024];
    let n = tokio::time::timeout(within, stream.read(&mut answer))
        .await
        .expect("no answer in time")
        .unwrap_or(0);
    String::from_utf8_lossy(&answer[..n])
        .lines()
        .next()
        .unwrap_or("")
        .to_owned()
}
