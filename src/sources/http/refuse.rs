//! Answers to requests for anything but the public listener's routes, recorded as refusals.

use axum::{
    Json,
    extract::{Request, State},
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};
use serde_json::json;

use super::AppState;
use crate::{edge::Peer, refused::Refusal, signature::SIGNATURE_HEADER};

pub(super) async fn not_found(State(app): State<AppState>, request: Request) -> Response {
    refuse(&app, &request, StatusCode::NOT_FOUND, "not_found")
}

pub(super) async fn method_not_allowed(State(app): State<AppState>, request: Request) -> Response {
    refuse(
        &app,
        &request,
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
    )
}

fn refuse(app: &AppState, request: &Request, status: StatusCode, reason: &'static str) -> Response {
    let headers = request.headers();
    app.metrics.door.refused(reason);
    app.refusals.record(Refusal::new(
        request.extensions().get::<Peer>().map(|p| p.0),
        request.method().as_str(),
        request.uri().path(),
        status.as_u16(),
        reason,
        0,
        headers.get(header::USER_AGENT).map(|v| v.as_bytes()),
        headers.contains_key(SIGNATURE_HEADER),
    ));
    (status, Json(json!({ "error": reason }))).into_response()
}
