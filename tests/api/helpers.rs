//! `spawn_app`: the real service on port 0, against a fresh Postgres database per test.

use std::{str::FromStr, sync::Arc, time::Duration};

use lobbylog::{
    db::{self, DatabaseUrl},
    serve::{self, Settings},
    signature::{self, Verification, WebhookSecret},
    sources::{
        http::{self, HttpSettings},
        spool::Spool,
    },
    store::{Availability, GroupCommitSettings},
};
use sqlx::{
    Connection, PgConnection, PgPool,
    postgres::{PgConnectOptions, PgPoolOptions},
};
use tokio::{net::TcpListener, sync::oneshot};

use crate::proxy::Proxy;

/// base64("lobbylog-test-secret")
pub const SECRET: &str = "bG9iYnlsb2ctdGVzdC1zZWNyZXQ=";
/// base64("lobbylog-old-secret")
pub const OLD_SECRET: &str = "bG9iYnlsb2ctb2xkLXNlY3JldA==";
pub const BODY_LIMIT: usize = 64 * 1024;

pub struct TestApp {
    pub address: String,
    pub pool: PgPool,
    pub spool: Spool,
    pub availability: Availability,
    pub client: reqwest::Client,
    pub spool_dir: tempfile::TempDir,
    db_name: String,
    admin_url: String,
    shutdown: Option<oneshot::Sender<()>>,
}

/// The Postgres server tests create their databases on.
pub fn admin_url() -> String {
    std::env::var("LOBBYLOG_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres:postgres@localhost:5432/postgres".into())
}

async fn connect_admin(url: &str) -> PgConnection {
    let options =
        PgConnectOptions::from_str(url).expect("LOBBYLOG_TEST_DATABASE_URL is not a Postgres URL");
    match tokio::time::timeout(
        Duration::from_secs(10),
        PgConnection::connect_with(&options),
    )
    .await
    {
        Ok(Ok(conn)) => conn,
        Ok(Err(e)) => panic!(
            "cannot reach Postgres at {url}: {e}\n\
             The tests need a real Postgres. Start one (`docker compose up -d postgres`, or \
             `pg_ctlcluster <version> main start`), or point LOBBYLOG_TEST_DATABASE_URL at one."
        ),
        Err(_) => panic!("timed out connecting to Postgres at {url}; is it running?"),
    }
}

/// A fresh, migrated database of its own; dropped with the returned guard.
pub async fn fresh_database() -> (DatabaseUrl, String) {
    let admin = admin_url();
    connect_admin(&admin).await.close().await.ok();
    let db_name = format!("lobbylog_test_{}", uuid::Uuid::new_v4().simple());
    let url = DatabaseUrl::from_str(&database_url(&admin, &db_name)).unwrap();
    db::ensure_database(&url)
        .await
        .expect("creating the test database");
    db::migrate(&url)
        .await
        .expect("migrating the test database");
    (url, db_name)
}

/// The URL of database `db_name` on the server of `admin`.
pub fn database_url(admin: &str, db_name: &str) -> String {
    let base = admin.rsplit_once('/').map(|(b, _)| b).unwrap_or(admin);
    format!("{base}/{db_name}")
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
            max_in_flight: 256,
            body_timeout: Duration::from_secs(10),
        },
        group_commit: GroupCommitSettings {
            enabled: true,
            max_events: 100,
            max_wait: Duration::ZERO,
            deadline: Duration::from_secs(2),
        },
        spool_dir: "unused".into(),
        spool_max_bytes: 64 * 1024 * 1024,
    }
}

/// A migrated database of its own, the service on port 0, settings as `configure` leaves them.
pub async fn spawn_app_with(configure: impl FnOnce(&mut Settings)) -> TestApp {
    let (database_url, db_name) = fresh_database().await;
    let pool = db::lazy_pool(&database_url, 5).expect("test pool");
    let app = start(pool, db_name, configure).await;
    app.availability.mark_up();
    app
}

/// Serves on port 0 with `pool`; `db_name` is dropped when the app is. Postgres is not yet marked
/// available: the drainer's probe does that once the database is ready, or the test does.
pub async fn start(
    pool: PgPool,
    db_name: String,
    configure: impl FnOnce(&mut Settings),
) -> TestApp {
    let spool_dir = tempfile::tempdir().unwrap();
    let mut settings = test_settings();
    settings.spool_dir = spool_dir.path().to_owned();
    configure(&mut settings);
    let pipeline = serve::start(pool.clone(), settings).expect("starting the app");
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = oneshot::channel::<()>();
    tokio::spawn(http::serve(listener, pipeline.state.clone(), async {
        let _ = rx.await;
    }));
    TestApp {
        address,
        pool,
        spool: pipeline.spool,
        availability: pipeline.availability,
        client: reqwest::Client::new(),
        spool_dir,
        db_name,
        admin_url: admin_url(),
        shutdown: Some(tx),
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

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{path}", self.address))
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
        database_url(&self.admin_url, &self.db_name)
    }

    pub async fn count(&self, table: &str) -> i64 {
        sqlx::query_scalar(sqlx::AssertSqlSafe(format!("select count(*) from {table}")))
            .fetch_one(&self.pool)
            .await
            .unwrap()
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        drop_database(self.admin_url.clone(), self.db_name.clone());
    }
}

/// Drops a test database from a plain thread: Drop cannot await inside the test's runtime.
pub fn drop_database(admin_url: String, db_name: String) {
    let dropper = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let mut admin = connect_admin(&admin_url).await;
            let sql = format!(
                "drop database if exists {} with (force)",
                db::quote_ident(&db_name)
            );
            if let Err(e) = sqlx::query(sqlx::AssertSqlSafe(sql))
                .execute(&mut admin)
                .await
            {
                eprintln!("could not drop test database {db_name}: {e}");
            }
        });
    });
    let _ = dropper.join();
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
    let (database_url, db_name) = fresh_database().await;
    let options = PgConnectOptions::from_str(database_url.expose()).unwrap();
    let proxy = Proxy::in_front_of(&database_url).await;
    let proxied = PgPoolOptions::new()
        .max_connections(5)
        .acquire_timeout(Duration::from_secs(1))
        .connect_lazy_with(options.host("127.0.0.1").port(proxy.port));
    let direct = db::lazy_pool(&database_url, 2).unwrap();
    let app = start(proxied, db_name, configure).await;
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

pub async fn count_events(pool: &PgPool) -> i64 {
    sqlx::query_scalar("select count(*) from webhook_events")
        .fetch_one(pool)
        .await
        .unwrap()
}
