//! Databases for tests: a fresh one per test on the server `LOBBYLOG_TEST_DATABASE_URL` names,
//! dropped afterwards, and the reads tests make of it.

use std::{str::FromStr, time::Duration};

use lobbylog::{config::DatabaseUrl, db};
use sqlx::{Connection, PgConnection, PgPool, postgres::PgConnectOptions};

use crate::daily::Expected;

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
             The tests need a real Postgres. Start one (`pg_ctlcluster <version> main start`), \
             or point LOBBYLOG_TEST_DATABASE_URL at one: `docker compose up -d postgres` \
             publishes one at postgres://postgres:postgres@localhost:5433/postgres."
        ),
        Err(_) => panic!("timed out connecting to Postgres at {url}; is it running?"),
    }
}

/// A fresh, migrated database of its own; the caller drops it with [`drop_database`].
pub async fn fresh_database() -> (DatabaseUrl, String) {
    crate::helpers::show_logs_if_asked();
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

/// A fresh, migrated database with a small pool; dropped with the value.
pub struct TestDb {
    pub url: DatabaseUrl,
    pub name: String,
    pub pool: PgPool,
}

impl TestDb {
    pub async fn fresh() -> Self {
        let (url, name) = fresh_database().await;
        let pool = db::lazy_pool(&url, 2).expect("test pool");
        Self { url, name, pool }
    }

    /// The URL as text, for running the `lobbylog` binary against this database.
    pub fn url(&self) -> &str {
        self.url.expose()
    }

    pub async fn count(&self, table: &str) -> i64 {
        count(&self.pool, table).await
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        drop_database(admin_url(), self.name.clone());
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

/// Rows in `table`.
pub async fn count(pool: &PgPool, table: &str) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(format!("select count(*) from {table}")))
        .fetch_one(pool)
        .await
        .unwrap()
}

pub async fn count_events(pool: &PgPool) -> i64 {
    count(pool, "webhook_events").await
}

#[derive(sqlx::FromRow)]
struct KnockRow {
    room: String,
    session_id: String,
    knocked_at: f64,
    resolved_at: Option<f64>,
    wait_seconds: Option<f64>,
    outcome: String,
}

/// The `knocks` view, one row per knock, sorted; the wait of a `waiting` knock is left out.
pub async fn knocks(pool: &PgPool) -> Vec<Expected> {
    let rows: Vec<KnockRow> = sqlx::query_as(
        "select room, session_id, extract(epoch from knocked_at)::float8 as knocked_at,
                extract(epoch from resolved_at)::float8 as resolved_at, wait_seconds, outcome
         from knocks order by room, session_id",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    rows.into_iter()
        .map(|r| Expected {
            wait_seconds: if r.outcome == "waiting" {
                None
            } else {
                r.wait_seconds
            },
            outcome: ["admitted", "abandoned", "waiting", "unresolved"]
                .into_iter()
                .find(|o| *o == r.outcome)
                .unwrap(),
            room: r.room,
            session_id: r.session_id,
            knocked_at: r.knocked_at,
            resolved_at: r.resolved_at,
        })
        .collect()
}
