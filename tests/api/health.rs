//! Liveness, readiness (terse on the public port, detailed on the admin one), and what the intake
//! answers when the database is gone.

use std::str::FromStr;

use lobbylog::{config::DatabaseUrl, db};
use serde_json::Value;
use sqlx::{Connection, postgres::PgPoolOptions};

use crate::helpers::{
    SECRET, Service, TestApp, TestDb, admin_url, database_url, fixture, free_port, ready,
    signed_headers, spawn_app, spawn_app_behind_proxy, start, via,
};

/// The admin readiness' `detail`, once it says 503.
async fn unready_detail(app: &TestApp) -> String {
    let ready = app.get_admin("/readyz").await;
    assert_eq!(ready.status(), 503);
    let body: Value = ready.json().await.unwrap();
    body["detail"].as_str().unwrap().to_owned()
}

/// The app with the service's own pool (its timeouts) on `url`.
async fn app_on(url: &str) -> TestApp {
    let url = DatabaseUrl::from_str(url).unwrap();
    start(
        db::lazy_pool(&url, 5).unwrap(),
        TestDb::fresh().await,
        |_| {},
    )
    .await
}

#[tokio::test]
async fn healthz_and_readyz_answer_200_on_a_migrated_database() {
    let app = spawn_app().await;
    assert_eq!(app.get("/healthz").await.status(), 200);
    let ready = app.get("/readyz").await;
    assert_eq!(ready.status(), 200);
    assert_eq!(
        ready.json::<Value>().await.unwrap(),
        serde_json::json!({"status": "ready"})
    );
    let detailed: Value = app.get_admin("/readyz").await.json().await.unwrap();
    assert_eq!(detailed["status"], "ready");
    assert_eq!(detailed["spool"]["events"], 0, "{detailed}");
}

#[tokio::test]
async fn admin_endpoints_are_served_on_the_admin_listener_only() {
    let app = spawn_app().await;
    assert_eq!(app.get("/metrics").await.status(), 404);
    assert_eq!(app.get_admin("/metrics").await.status(), 200);
    assert_eq!(app.get_admin("/webhooks/daily").await.status(), 404);
}

#[tokio::test]
async fn with_the_database_unreachable_readiness_fails_and_events_are_spooled() {
    let db = TestDb::fresh().await;
    // A port nobody listens on.
    let pool = PgPoolOptions::new()
        .acquire_timeout(std::time::Duration::from_secs(1))
        .connect_lazy(&via(db.url(), free_port()))
        .unwrap();
    let app = start(pool, db, |_| {}).await;
    app.availability.mark_up();

    assert_eq!(app.get("/healthz").await.status(), 200);
    let ready = app.get("/readyz").await;
    assert_eq!(ready.status(), 503);
    // The public answer names no cause: Postgres' error text stays on the admin listener.
    assert_eq!(
        ready.json::<Value>().await.unwrap(),
        serde_json::json!({"status": "unavailable"})
    );
    let detailed = app.get_admin("/readyz").await;
    assert_eq!(detailed.status(), 503);
    let detail: Value = detailed.json().await.unwrap();
    assert!(
        detail["detail"].as_str().unwrap().contains("unreachable"),
        "{detail}"
    );

    let response = app.post_signed(&fixture("meeting.started__1.json")).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.json::<Value>().await.unwrap()["status"], "spooled");
    let ready: Value = app.get_admin("/readyz").await.json().await.unwrap();
    assert_eq!(ready["spool"]["events"], 1, "{ready}");
}

#[tokio::test]
async fn readiness_fails_on_an_unmigrated_database() {
    let app = spawn_app().await;
    sqlx::query("delete from refinery_schema_history")
        .execute(&app.pool)
        .await
        .unwrap();
    assert_eq!(app.get("/readyz").await.status(), 503);
    let ready = app.get_admin("/readyz").await;
    assert_eq!(ready.status(), 503);
    let detail: Value = ready.json().await.unwrap();
    assert!(
        detail["detail"].as_str().unwrap().contains("schema"),
        "{detail}"
    );
}

#[tokio::test]
async fn admin_readiness_says_postgres_is_unreachable_when_nothing_listens_on_its_port() {
    let port = free_port();
    let app = app_on(&format!("postgres://postgres@127.0.0.1:{port}/lobbylog")).await;
    let detail = unready_detail(&app).await;
    assert!(
        detail.starts_with(&format!("Postgres unreachable at 127.0.0.1:{port}: "))
            && detail.contains("refused"),
        "{detail}"
    );
}

#[tokio::test]
async fn admin_readiness_says_postgres_is_unreachable_when_its_connections_are_cut() {
    let (app, proxy, _) = spawn_app_behind_proxy(|_| {}).await;
    assert_eq!(app.get_admin("/readyz").await.status(), 200);
    proxy.cut();
    let detail = unready_detail(&app).await;
    let at = format!("Postgres unreachable at 127.0.0.1:{}: ", proxy.port);
    assert!(detail.starts_with(&at), "{detail}");
}

#[tokio::test]
async fn admin_readiness_names_a_database_that_does_not_exist() {
    let name = format!("lobbylog_test_{}", uuid::Uuid::new_v4().simple());
    let app = app_on(&database_url(&admin_url(), &name)).await;
    let detail = unready_detail(&app).await;
    assert!(
        detail.starts_with(&format!("database {name} does not exist on Postgres at ")),
        "{detail}"
    );
}

#[tokio::test]
async fn admin_readiness_says_a_database_without_the_migrations_table_is_not_migrated() {
    let app = spawn_app().await;
    sqlx::query("drop table refinery_schema_history")
        .execute(&app.pool)
        .await
        .unwrap();
    let detail = unready_detail(&app).await;
    assert!(
        detail.contains("is not migrated: no migration applied"),
        "{detail}"
    );
}

#[tokio::test]
async fn admin_readiness_says_migrations_are_running_while_the_migration_lock_is_held() {
    let app = spawn_app().await;
    sqlx::query(
        "delete from refinery_schema_history \
         where version = (select max(version) from refinery_schema_history)",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    let url = DatabaseUrl::from_str(&app.database_url()).unwrap();
    let mut migrating = db::connect(&url).await.unwrap();
    sqlx::query("select pg_advisory_lock($1)")
        .bind(db::MIGRATE_LOCK)
        .execute(&mut migrating)
        .await
        .unwrap();
    let detail = unready_detail(&app).await;
    assert!(
        detail.starts_with("migrations still running: database schema at version"),
        "{detail}"
    );
    migrating.close().await.unwrap();
    let detail = unready_detail(&app).await;
    assert!(detail.starts_with("database schema at version"), "{detail}");
}

#[tokio::test]
async fn once_readiness_says_ready_a_signed_event_is_stored_not_spooled() {
    for attempt in 0..3 {
        let db = TestDb::fresh().await;
        let spool = tempfile::tempdir().unwrap();
        let port = free_port();
        let service = Service::start(db.url(), spool.path(), port);
        let base = format!("http://127.0.0.1:{port}");
        let client = reqwest::Client::new();
        assert!(ready(&client, &base).await, "never ready");
        let body = crate::daily::waiting_joined(
            "ready",
            &format!("4ead{attempt}000-0000-4000-8000-0"),
            1.7e9,
        )
        .to_string()
        .into_bytes();
        let mut request = client.post(format!("{base}/webhooks/daily"));
        for (name, value) in signed_headers(SECRET, &body) {
            request = request.header(name, value);
        }
        let answer: Value = request
            .body(body)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(answer["status"], "stored", "attempt {attempt}");
        drop(service);
    }
}
