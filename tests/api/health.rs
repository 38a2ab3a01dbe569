//! Liveness, readiness (terse on the public port, detailed on the admin one), and what the intake
//! answers when the database is gone.

use serde_json::Value;
use sqlx::postgres::PgPoolOptions;

use crate::helpers::{TestDb, fixture, free_port, spawn_app, start, via};

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
