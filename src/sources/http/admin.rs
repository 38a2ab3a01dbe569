//! Operators' endpoints: Prometheus metrics.

use axum::{
    extract::State,
    http::header,
    response::{IntoResponse, Response},
};

use super::AppState;

pub(super) async fn metrics(State(app): State<AppState>) -> Response {
    let content_type = "application/openmetrics-text; version=1.0.0; charset=utf-8";
    (
        [(header::CONTENT_TYPE, content_type)],
        app.metrics.render(app.fallback.levels()),
    )
        .into_response()
}
