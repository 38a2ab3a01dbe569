//! Load generator: signed, unique Daily events against a webhook receiver, then a row-count check.
//!
//! Closed loop (`--concurrency`, as fast as answers come, one kept-alive connection per worker) or
//! open loop (`--rate` per second, latency measured from the scheduled send time, so a stalled
//! server cannot hide its queue). It is kept lean (bodies from a template, bare HTTP/1
//! connections in the closed loop) so that on a small machine it leaves the CPU to the receiver.

use std::{
    collections::HashSet,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use base64::{Engine, engine::general_purpose::STANDARD};
use clap::{Parser, ValueEnum};
use lobbylog::signature;
use serde_json::json;

#[derive(Debug, Parser)]
struct Args {
    /// Receiver URL.
    #[arg(long, default_value = "http://127.0.0.1:8080/webhooks/daily")]
    url: String,
    /// Webhook secret (base64), as given to the receiver.
    #[arg(long, env = "DAILY_WEBHOOK_SECRET")]
    secret: String,
    /// Requests in flight at once (closed loop).
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Requests per second (open loop); 0 means closed loop.
    #[arg(long, default_value_t = 0.0)]
    rate: f64,
    /// How long to send, in seconds.
    #[arg(long, default_value_t = 10.0)]
    seconds: f64,
    /// Share of requests that resend an event already sent.
    #[arg(long, default_value_t = 0.0)]
    duplicates: f64,
    /// Which events: knock events (projected), knock histories (each session joined, then left
    /// later) or recording events (stored raw only).
    #[arg(long, value_enum, default_value_t = Mix::Knocks)]
    mix: Mix,
    /// Prefix making this run's event ids unique.
    #[arg(long, default_value = "load")]
    run_id: String,
    /// Postgres URL to count stored rows in after the run (skipped when absent).
    #[arg(long)]
    database_url: Option<String>,
    /// SQL giving the number of stored events.
    #[arg(long, default_value = "select count(*) from webhook_events")]
    count_sql: String,
    /// Seconds to wait for the row count to reach the acknowledged count (spooled events drain).
    #[arg(long, default_value_t = 60)]
    settle_seconds: u64,
    /// Label printed with the results.
    #[arg(long, default_value = "receiver")]
    label: String,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Mix {
    Knocks,
    Sessions,
    Raw,
}

/// In the `sessions` mix, how many sessions later a session's left event follows its joined one:
/// far enough apart that they land in different batches, so the left one updates a stored row,
/// as live knocks do.
const LEFT_LAG: u64 = 2000;

#[derive(Default)]
struct Tally {
    latencies_us: Vec<u64>,
    ok: u64,
    non_200: u64,
    errors: u64,
    acked: HashSet<u64>,
}

struct Shared {
    args: Args,
    key: Vec<u8>,
    client: reqwest::Client,
    next: AtomicU64,
    tally: Mutex<Tally>,
}

/// Event `n` as Daily would send it: compact JSON, the shape of Daily's documented examples.
fn body(args: &Args, n: u64) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let session = format!("{:08x}-{:04x}-4000-8000-{:012x}", n >> 16, n & 0xffff, n);
    let (room, id) = (n % 50, format!("{}-{n}", args.run_id));
    match args.mix {
        Mix::Knocks => format!(
            r#"{{"version":"1.0.0","type":"waiting-participant.left","id":"{id}","payload":{{"room":"room-{room}","session_id":"{session}","user_name":"guest","joined_at":{joined},"will_eject_at":null,"owner":false,"duration":30.0,"permissions":{{"hasPresence":true,"canSend":true,"canReceive":{{"base":true}},"canAdmin":false}}}},"event_ts":{now}}}"#,
            joined = now - 30.0
        ),
        Mix::Sessions => {
            // Even n: session n/2 knocks; odd n: an earlier session's wait ends.
            let pair = n / 2;
            let (kind, of) = match n % 2 {
                0 => ("joined", pair),
                _ => ("left", pair.saturating_sub(LEFT_LAG)),
            };
            let session = format!("{:08x}-{:04x}-4000-8000-{:012x}", of >> 16, of & 0xffff, of);
            let duration = match kind {
                "left" => "30.0",
                _ => "null",
            };
            format!(
                r#"{{"version":"1.0.0","type":"waiting-participant.{kind}","id":"{id}","payload":{{"room":"room-{room}","session_id":"{session}","user_name":"guest","joined_at":{joined},"will_eject_at":null,"owner":false,"duration":{duration},"permissions":{{"hasPresence":true,"canSend":true,"canReceive":{{"base":true}},"canAdmin":false}}}},"event_ts":{now}}}"#,
                room = of % 50,
                joined = now - 30.0
            )
        }
        Mix::Raw => format!(
            r#"{{"version":"1.0.0","type":"recording.ready-to-download","id":"{id}","payload":{{"recording_id":"{session}","room_name":"room-{room}","start_ts":{start},"status":"finished","max_participants":2,"duration":60,"s3_key":"bench/{session}"}},"event_ts":{now}}}"#,
            start = now as u64
        ),
    }
}

/// The next event to send (or a resend of an earlier one), its body, timestamp and signature.
fn next_event(shared: &Shared) -> (u64, String, String, String) {
    let fresh = shared.next.fetch_add(1, Ordering::Relaxed);
    let n = if fresh > 0 && rand_unit(fresh) < shared.args.duplicates {
        fresh / 2
    } else {
        fresh
    };
    let body = body(&shared.args, n);
    let timestamp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis()
        .to_string();
    let signature = signature::sign(&shared.key, &timestamp, body.as_bytes());
    (n, body, timestamp, signature)
}

/// Records the outcome of event `n`: its HTTP status, or `None` for a transport error.
fn record(shared: &Shared, n: u64, status: Option<u16>, scheduled: Instant) {
    let latency = scheduled.elapsed().as_micros() as u64;
    let mut tally = shared.tally.lock().unwrap();
    tally.latencies_us.push(latency);
    match status {
        Some(200) => {
            tally.ok += 1;
            tally.acked.insert(n);
        }
        Some(_) => tally.non_200 += 1,
        None => tally.errors += 1,
    }
}

/// Sends one event through the shared client (open loop) and records the outcome.
async fn send(shared: &Shared, scheduled: Instant) {
    let (n, body, timestamp, signature) = next_event(shared);
    let result = shared
        .client
        .post(&shared.args.url)
        .header("content-type", "application/json")
        .header("x-webhook-timestamp", timestamp)
        .header("x-webhook-signature", signature)
        .body(body)
        .send()
        .await;
    record(
        shared,
        n,
        result.ok().map(|r| r.status().as_u16()),
        scheduled,
    );
}

/// One closed-loop worker: a kept-alive connection of its own, a request after each answer.
async fn worker(shared: Arc<Shared>, until: Instant) {
    let uri: hyper::Uri = shared.args.url.parse().expect("--url is a URL");
    let authority = uri.authority().expect("--url has a host").to_string();
    let mut connection = None;
    while Instant::now() < until {
        if connection.is_none() {
            connection = connect(&authority).await;
        }
        let Some(sender) = connection.as_mut() else {
            record(&shared, 0, None, Instant::now());
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        let (n, body, timestamp, signature) = next_event(&shared);
        let request = hyper::Request::post(uri.clone())
            .header("host", &authority)
            .header("content-type", "application/json")
            .header("x-webhook-timestamp", timestamp)
            .header("x-webhook-signature", signature)
            .body(http_body_util::Full::new(hyper::body::Bytes::from(body)))
            .unwrap();
        let started = Instant::now();
        let status = match sender.send_request(request).await {
            Ok(response) => {
                let status = response.status().as_u16();
                let _ = http_body_util::BodyExt::collect(response.into_body()).await;
                Some(status)
            }
            Err(_) => {
                connection = None;
                None
            }
        };
        record(&shared, n, status, started);
    }
}

async fn connect(
    authority: &str,
) -> Option<hyper::client::conn::http1::SendRequest<http_body_util::Full<hyper::body::Bytes>>> {
    let stream = tokio::net::TcpStream::connect(authority).await.ok()?;
    stream.set_nodelay(true).ok()?;
    let io = hyper_util::rt::TokioIo::new(stream);
    let (sender, connection) = hyper::client::conn::http1::handshake(io).await.ok()?;
    tokio::spawn(connection);
    Some(sender)
}

/// A cheap deterministic pseudo-random number in [0, 1) for request `n`.
fn rand_unit(n: u64) -> f64 {
    let mut x = n.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    x ^= x >> 31;
    x = x.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    (x >> 11) as f64 / (1u64 << 53) as f64
}

async fn closed_loop(shared: Arc<Shared>, until: Instant) {
    let workers: Vec<_> = (0..shared.args.concurrency)
        .map(|_| tokio::spawn(worker(shared.clone(), until)))
        .collect();
    for w in workers {
        w.await.unwrap();
    }
}

async fn open_loop(shared: Arc<Shared>, until: Instant) {
    let interval = Duration::from_secs_f64(1.0 / shared.args.rate);
    let start = Instant::now();
    let mut tasks = Vec::new();
    for i in 0u32.. {
        let scheduled = start + interval * i;
        if scheduled >= until {
            break;
        }
        tokio::time::sleep_until(scheduled.into()).await;
        let shared = shared.clone();
        tasks.push(tokio::spawn(async move { send(&shared, scheduled).await }));
    }
    for t in tasks {
        t.await.unwrap();
    }
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i] as f64 / 1000.0
}

async fn stored_rows(args: &Args, expected: u64) -> Option<i64> {
    let url = args.database_url.as_ref()?;
    let pool = sqlx::PgPool::connect(url)
        .await
        .expect("connecting to count rows");
    let until = Instant::now() + Duration::from_secs(args.settle_seconds);
    loop {
        let count: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(args.count_sql.clone()))
            .fetch_one(&pool)
            .await
            .expect("counting rows");
        if count as u64 >= expected || Instant::now() >= until {
            return Some(count);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let key = STANDARD
        .decode(args.secret.trim())
        .expect("the secret is not base64");
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.concurrency.max(256))
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let shared = Arc::new(Shared {
        args,
        key,
        client,
        next: AtomicU64::new(0),
        tally: Mutex::default(),
    });
    let started = Instant::now();
    let until = started + Duration::from_secs_f64(shared.args.seconds);
    if shared.args.rate > 0.0 {
        open_loop(shared.clone(), until).await;
    } else {
        closed_loop(shared.clone(), until).await;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let mut tally = std::mem::take(&mut *shared.tally.lock().unwrap());
    tally.latencies_us.sort_unstable();
    let l = &tally.latencies_us;
    let acked = tally.acked.len() as u64;
    let rows = stored_rows(&shared.args, acked).await;
    let summary = json!({
        "label": shared.args.label,
        "requests": l.len(),
        "ok": tally.ok,
        "non_200": tally.non_200,
        "errors": tally.errors,
        "rps": (tally.ok as f64 / elapsed).round(),
        "p50_ms": percentile(l, 0.50),
        "p99_ms": percentile(l, 0.99),
        "max_ms": percentile(l, 1.0),
        "acked_events": acked,
        "stored_rows": rows,
        "rows_match": rows.map(|r| r as u64 == acked),
    });
    println!("{summary}");
}
