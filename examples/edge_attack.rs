//! Edge drill: hostile connections held against a running lobbylog while a signed event is sent
//! every 200 ms, then a flood of unsigned large bodies while its memory is watched.
//!
//! Prints how long each kind of attacking connection stayed open, the signed events' latencies,
//! and the receiver's resident memory before, during and after the flood.

use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use clap::Parser;
use lobbylog::signature;
use serde_json::json;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

#[derive(Debug, Parser)]
struct Args {
    /// `host:port` of the webhook listener.
    #[arg(long, default_value = "127.0.0.1:8080")]
    address: String,
    /// Webhook secret (base64), as given to the receiver.
    #[arg(long, env = "DAILY_WEBHOOK_SECRET")]
    secret: String,
    /// The receiver's process id, to read its memory from /proc.
    #[arg(long)]
    pid: u32,
    #[arg(long, default_value_t = 1000)]
    slow_body: usize,
    #[arg(long, default_value_t = 500)]
    slow_header: usize,
    #[arg(long, default_value_t = 500)]
    idle: usize,
    /// How long to send signed events while the attackers hold on, in seconds.
    #[arg(long, default_value_t = 15)]
    seconds: u64,
    /// Concurrent unsigned 1 MiB bodies in the flood.
    #[arg(long, default_value_t = 1000)]
    flood: usize,
}

type Lifetimes = Arc<Mutex<Vec<f64>>>;

/// Holds `stream` open until the server closes it, trickling a byte every second if `trickle`;
/// records how long it stayed open.
async fn hold(mut stream: TcpStream, trickle: bool, opened: Instant, lifetimes: Lifetimes) {
    let mut buf = [0u8; 512];
    loop {
        tokio::select! {
            read = stream.read(&mut buf) => match read {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            },
            () = tokio::time::sleep(Duration::from_secs(1)), if trickle => {
                if stream.write_all(b" ").await.is_err() {
                    break;
                }
            }
        }
    }
    lifetimes
        .lock()
        .unwrap()
        .push(opened.elapsed().as_secs_f64());
}

async fn attackers(address: &str, n: usize, head: &'static [u8], trickle: bool) -> Lifetimes {
    let lifetimes: Lifetimes = Arc::default();
    for _ in 0..n {
        let Ok(mut stream) = TcpStream::connect(address).await else {
            continue;
        };
        let opened = Instant::now();
        if !head.is_empty() && stream.write_all(head).await.is_err() {
            continue;
        }
        tokio::spawn(hold(stream, trickle, opened, lifetimes.clone()));
    }
    lifetimes
}

fn rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .unwrap_or(0.0)
        / 1024.0
}

async fn signed_events(address: &str, key: &[u8], seconds: u64) -> Vec<(u16, f64)> {
    let client = reqwest::Client::new();
    let mut results = Vec::new();
    let until = Instant::now() + Duration::from_secs(seconds);
    let mut i = 0;
    while Instant::now() < until {
        i += 1;
        let body = json!({"version": "1.0.0", "type": "meeting.started", "id": format!("edge-drill-{i}-{}", std::process::id()),
            "payload": {"room": "edge", "meeting_id": format!("m{i}"), "start_ts": 1.7e9}, "event_ts": 1.7e9})
        .to_string();
        let timestamp = "1719586628431";
        let sent = Instant::now();
        let status = client
            .post(format!("http://{address}/webhooks/daily"))
            .header("x-webhook-timestamp", timestamp)
            .header(
                "x-webhook-signature",
                signature::sign(key, timestamp, body.as_bytes()),
            )
            .body(body)
            .timeout(Duration::from_secs(5))
            .send()
            .await
            .map_or(0, |r| r.status().as_u16());
        results.push((status, sent.elapsed().as_secs_f64() * 1000.0));
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    results
}

async fn unsigned_megabyte(address: String) {
    let Ok(mut stream) = TcpStream::connect(&address).await else {
        return;
    };
    let head = b"POST /webhooks/daily HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\
                 x-webhook-timestamp: 1\r\nx-webhook-signature: AAAA\r\n\r\n";
    if stream.write_all(head).await.is_err() {
        return;
    }
    let chunk = [
        format!("{:x}\r\n", 65536).into_bytes(),
        vec![b'x'; 65536],
        b"\r\n".to_vec(),
    ]
    .concat();
    for _ in 0..16 {
        if stream.write_all(&chunk).await.is_err() {
            return;
        }
    }
    let _ = stream.write_all(b"0\r\n\r\n").await;
    let mut sink = [0u8; 512];
    while let Ok(n) = stream.read(&mut sink).await {
        if n == 0 {
            break;
        }
    }
}

fn summary(label: &str, lifetimes: &Lifetimes, expected: usize) {
    let mut l = lifetimes.lock().unwrap().clone();
    l.sort_by(f64::total_cmp);
    let max = l.last().copied().unwrap_or(0.0);
    let median = l.get(l.len() / 2).copied().unwrap_or(0.0);
    println!(
        "{}",
        json!({"attack": label, "connections": expected, "cut": l.len(), "median_open_s": median, "max_open_s": max})
    );
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let _ = rlimit::increase_nofile_limit(u64::MAX);
    let key: lobbylog::signature::WebhookSecret = args.secret.parse().expect("base64 secret");
    let baseline = rss_mib(args.pid);
    let slow_body = attackers(
        &args.address,
        args.slow_body,
        b"POST /webhooks/daily HTTP/1.1\r\nhost: x\r\ncontent-length: 1000\r\nx-webhook-timestamp: 1\r\nx-webhook-signature: AAAA\r\n\r\n{",
        true,
    )
    .await;
    let slow_header = attackers(
        &args.address,
        args.slow_header,
        b"POST /webhooks/daily HTTP/1.1\r\nhost: x\r\nx-webhook-",
        false,
    )
    .await;
    let idle = attackers(&args.address, args.idle, b"", false).await;
    let events = signed_events(&args.address, key.key(), args.seconds).await;
    let ok = events.iter().filter(|(s, _)| *s == 200).count();
    let max_ms = events.iter().map(|(_, ms)| *ms).fold(0.0, f64::max);
    let under_1s = events
        .iter()
        .filter(|(s, ms)| *s == 200 && *ms < 1000.0)
        .count();
    println!(
        "{}",
        json!({"signed_events": events.len(), "ok_200": ok, "under_1s": under_1s, "max_latency_ms": max_ms})
    );
    summary("slow_body", &slow_body, args.slow_body);
    summary("slow_header", &slow_header, args.slow_header);
    summary("idle", &idle, args.idle);

    let before = rss_mib(args.pid);
    let flood: Vec<_> = (0..args.flood)
        .map(|_| tokio::spawn(unsigned_megabyte(args.address.clone())))
        .collect();
    let mut peak = before;
    while flood.iter().any(|t| !t.is_finished()) {
        peak = peak.max(rss_mib(args.pid));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    let after = rss_mib(args.pid);
    println!(
        "{}",
        json!({"flood_bodies": args.flood, "rss_baseline_mib": baseline, "rss_before_flood_mib": before, "rss_peak_mib": peak, "rss_after_mib": after})
    );
}
