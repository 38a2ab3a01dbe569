//! Liveness and readiness.

use axum::{
    Json,
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde_json::json;

use super::AppState;
use crate::db;

pub(super) async fn healthz() -> Json<serde_json::Value> {
    Json(json!({ "status": "ok" }))
}

pub(super) async fn readyz(State(app): State<AppState>) -> Response {
    let levels = app.fallback.levels();
    let spool = json!({
        "events": levels.events,
        "bytes": levels.bytes,
        "oldest_age_seconds": levels.oldest_age_seconds,
    });
    match db::check_ready(&app.pool).await {
        Ok(()) => Json(json!({ "status": "ready", "spool": spool })).into_response(),
        Err(detail) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "unavailable", "detail": detail, "spool": spool })),
        )
            .into_response(),
    }
}
