//! Liveness and the public readiness: ready or not, nothing more (details are on the admin
//! listener).

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

/// Ready when the writer sends events to Postgres (so an event sent now is answered `stored`)
/// and Postgres answers.
pub(super) async fn readyz(State(app): State<AppState>) -> Response {
    let ready = app.availability.is_up() && db::check_ready(&app.pool).await.is_ok();
    match ready {
        true => Json(json!({ "status": "ready" })).into_response(),
        false => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "unavailable" })),
        )
            .into_response(),
    }
}
