//! `spawn_app`: the real service on port 0, against a fresh Postgres database per test; and what
//! every feature file shares. `LOBBYLOG_TEST_LOG=1` shows the service's logs.

pub mod attack;
mod binary;
mod database;
pub mod markdown;
pub mod s3;
pub mod spool;

use std::{
    sync::{Arc, Once},
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use lobbylog::{
    db,
    metrics::Metrics,
    pipeline::{self, Listeners, Settings},
    signature::{self, Verification, WebhookSecret},
    sources::{http::HttpSettings, spool::Spool},
    store::{Availability, GroupCommitSettings},
};
use serde_json::Value;
use sqlx::{PgPool, postgres::PgPoolOptions};
use tokio::{net::TcpListener, sync::oneshot};

pub use self::{
    binary::{Run, Service, free_port, lobbylog, ready, run, via},
    database::{TestDb, admin_url, count, count_events, database_url, drop_database, knocks},
};
use crate::proxy::Proxy;

/// base64("lobbylog-test-secret")
pub const SECRET: &str = "bG9iYnlsb2ctdGVzdC1zZWNyZXQ=";
/// base64("lobbylog-old-secret")
pub const OLD_SECRET: &str = "bG9iYnlsb2ctb2xkLXNlY3JldA==";
pub const BODY_LIMIT: usize = 64 * 1024;

/// Whether `LOBBYLOG_TEST_LOG` asks for the logs of the service and of the binaries tests run.
pub fn logs_shown() -> bool {
    std::env::var_os("LOBBYLOG_TEST_LOG").is_some_and(|v| !v.is_empty() && v != "0")
}

/// Installs a log subscriber once, when `LOBBYLOG_TEST_LOG` is set (`RUST_LOG` filters it).
pub fn show_logs_if_asked() {
    static INIT: Once = Once::new();
    if logs_shown() {
        INIT.call_once(|| {
            let filter = tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
            let _ = tracing_subscriber::fmt()
                .with_env_filter(filter)
                .with_test_writer()
                .try_init();
        });
    }
}

pub struct TestApp {
    pub address: String,
    /// The admin listener: metrics and the detailed readiness.
    pub admin_address: String,
    pub pool: PgPool,
    pub spool: Spool,
    pub availability: Availability,
    pub metrics: Arc<Metrics>,
    pub client: reqwest::Client,
    pub spool_dir: tempfile::TempDir,
    shutdown: Option<oneshot::Sender<()>>,
    db: TestDb,
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

pub fn secrets(list: &[&str]) -> Arc<[WebhookSecret]> {
    list.iter().map(|s| s.parse().unwrap()).collect()
}

/// What the service runs with by default in tests; `start` points `spool_dir` at a temporary one.
pub fn test_settings() -> Settings {
    Settings {
        http: HttpSettings {
            verification: Verification::Secrets(secrets(&[SECRET])),
            body_limit: BODY_LIMIT,
            body_budget: 4 * 1024 * 1024,
            max_in_flight: 256,
            max_connections: 512,
            header_timeout: Duration::from_secs(5),
            body_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            shutdown_grace: Duration::from_secs(5),
        },
        group_commit: GroupCommitSettings {
            enabled: true,
            max_events: 100,
            max_batches: 4,
            max_wait: Duration::ZERO,
            deadline: Duration::from_secs(2),
        },
        spool_dir: "unused".into(),
        spool_max_bytes: 64 * 1024 * 1024,
    }
}

/// A migrated database of its own, the service on port 0, settings as `configure` leaves them.
pub async fn spawn_app_with(configure: impl FnOnce(&mut Settings)) -> TestApp {
    let db = TestDb::fresh().await;
    let pool = db::lazy_pool(&db.url, 5).expect("test pool");
    let app = start(pool, db, configure).await;
    app.availability.mark_up();
    app
}

/// Serves on port 0 with `pool`; `db` is dropped when the app is. Postgres is not yet marked
/// available: the drainer's probe does that once the database is ready, or the test does.
pub async fn start(pool: PgPool, db: TestDb, configure: impl FnOnce(&mut Settings)) -> TestApp {
    let spool_dir = tempfile::tempdir().unwrap();
    let mut settings = test_settings();
    settings.spool_dir = spool_dir.path().to_owned();
    configure(&mut settings);
    let pipeline = pipeline::start(pool.clone(), settings).expect("starting the app");
    let listeners = Listeners {
        public: TcpListener::bind("127.0.0.1:0").await.unwrap(),
        admin: TcpListener::bind("127.0.0.1:0").await.unwrap(),
    };
    let address = format!("http://{}", listeners.public.local_addr().unwrap());
    let admin_address = format!("http://{}", listeners.admin.local_addr().unwrap());
    let (tx, rx) = oneshot::channel::<()>();
    let (state, reads) = (pipeline.state.clone(), pool.clone());
    tokio::spawn(pipeline::serve(listeners, state, reads, async {
        let _ = rx.await;
    }));
    TestApp {
        address,
        admin_address,
        pool,
        spool: pipeline.spool,
        availability: pipeline.availability,
        metrics: pipeline.state.metrics.clone(),
        client: reqwest::Client::new(),
        spool_dir,
        shutdown: Some(tx),
        db,
    }
}

/// Request headers, as name and value.
pub type Headers = Vec<(&'static str, String)>;

/// Headers Daily would send for `body`, signed with `secret` (base64).
pub fn signed_headers(secret: &str, body: &[u8]) -> Headers {
    let key = secret.parse::<WebhookSecret>().unwrap();
    let timestamp = "1719586628431".to_string();
    let signature = signature::sign(key.key(), &timestamp, body);
    vec![
        ("content-type", "application/json".into()),
        ("x-webhook-timestamp", timestamp),
        ("x-webhook-signature", signature),
    ]
}

impl TestApp {
    pub async fn post_webhook(&self, body: &[u8], headers: &[(&str, String)]) -> reqwest::Response {
        let mut request = self
            .client
            .post(format!("{}/webhooks/daily", self.address))
            .body(body.to_vec());
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        request.send().await.expect("request failed")
    }

    pub async fn post_signed(&self, body: &[u8]) -> reqwest::Response {
        self.post_webhook(body, &signed_headers(SECRET, body)).await
    }

    /// Posts each event, signed, and expects 200 for each.
    pub async fn post_all(&self, events: &[Value]) {
        for event in events {
            let response = self.post_signed(event.to_string().as_bytes()).await;
            assert_eq!(response.status(), 200, "{event}");
        }
    }

    /// Rolls up what was stored so far, as `serve` does every few seconds.
    pub async fn roll_up(&self) {
        lobbylog::store::rollups::refresh(&self.pool)
            .await
            .expect("refreshing the knock rollups");
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{path}", self.address))
            .send()
            .await
            .expect("request failed")
    }

    /// A GET on the admin listener.
    pub async fn get_admin(&self, path: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{path}", self.admin_address))
            .send()
            .await
            .expect("request failed")
    }

    /// Events waiting in the spool now.
    pub fn spooled(&self) -> u64 {
        self.spool.depth.levels().events
    }

    /// The URL of this app's database, for running the `lobbylog` binary against it.
    pub fn database_url(&self) -> String {
        self.db.url().to_owned()
    }

    pub async fn count(&self, table: &str) -> i64 {
        count(&self.pool, table).await
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// Seconds since the Unix epoch, now.
pub fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// A Daily fixture from tests/fixtures/daily, compacted as Daily sends it on the wire.
pub fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/daily/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    match serde_json::from_slice::<serde_json::Value>(&text) {
        Ok(value) => serde_json::to_vec(&value).unwrap(),
        Err(_) => text,
    }
}

/// Every fixture file name, sorted.
pub fn fixture_names() -> Vec<String> {
    let dir = format!("{}/tests/fixtures/daily", env!("CARGO_MANIFEST_DIR"));
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

/// The app with its pool going through a proxy the test can cut; also returns a direct pool.
pub async fn spawn_app_behind_proxy(
    configure: impl FnOnce(&mut Settings),
) -> (TestApp, Proxy, PgPool) {
    let db = TestDb::fresh().await;
    let proxy = Proxy::in_front_of(&db.url).await;
    let proxied = PgPoolOptions::new()
        .max_connections(5)
        .acquire_timeout(Duration::from_secs(1))
        .connect_lazy(&via(db.url(), proxy.port))
        .unwrap();
    let direct = db.pool.clone();
    let app = start(proxied, db, configure).await;
    app.availability.mark_up();
    (app, proxy, direct)
}

/// Polls `check` every 100 ms until it holds or `seconds` pass.
pub async fn eventually<F: Future<Output = bool>>(
    seconds: u64,
    mut check: impl FnMut() -> F,
) -> bool {
    let until = std::time::Instant::now() + Duration::from_secs(seconds);
    while std::time::Instant::now() < until {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}
