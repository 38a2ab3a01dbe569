//! Metrics and the detailed readiness (why not ready, the spool's depth), for operators.

use axum::{
    Json,
    extract::State,
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};
use serde_json::json;

use super::AdminState;
use crate::db;

pub(super) async fn metrics(State(app): State<AdminState>) -> Response {
    let content_type = "application/openmetrics-text; version=1.0.0; charset=utf-8";
    app.metrics.door.set_postgres_up(app.availability.is_up());
    (
        [(header::CONTENT_TYPE, content_type)],
        app.metrics.render((app.spool_levels)()),
    )
        .into_response()
}

/// Postgres answers, but the writer has not yet been told: it is, within half a second.
const SPOOLING: &str =
    "Postgres is ready, but events are still spooled until the drainer's next look (0.5 s)";

/// Readiness with its reason and the spool's depth: ready when the writer sends events to
/// Postgres and Postgres answers.
pub(super) async fn readyz(State(app): State<AdminState>) -> Response {
    let levels = (app.spool_levels)();
    let spool = json!({
        "events": levels.events,
        "bytes": levels.bytes,
        "oldest_age_seconds": levels.oldest_age_seconds,
        "set_aside_segments": levels.set_aside_segments,
        "set_aside_events": levels.set_aside_events,
    });
    let checked = db::check_ready(&app.pool)
        .await
        .and_then(|()| match app.availability.is_up() {
            true => Ok(()),
            false => Err(SPOOLING.to_owned()),
        });
    match checked {
        Ok(()) => Json(json!({ "status": "ready", "spool": spool })).into_response(),
        Err(detail) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "unavailable", "detail": detail, "spool": spool })),
        )
            .into_response(),
    }
}
