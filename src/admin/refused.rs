//! `GET /refused` on the admin listener: the last requests the public listener refused, newest
//! first, as JSON; `?reason=` keeps one reason, `?limit=` at most that many.

use axum::{
    Json,
    extract::{Query, State, rejection::QueryRejection},
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde::Deserialize;
use serde_json::json;

use super::AdminState;
use crate::refused::{KEPT, REASONS};

#[derive(Debug, Deserialize)]
pub(super) struct Params {
    reason: Option<String>,
    limit: Option<String>,
}

pub(super) async fn list(
    State(app): State<AdminState>,
    params: Result<Query<Params>, QueryRejection>,
) -> Response {
    let Query(params) = match params {
        Ok(params) => params,
        Err(e) => {
            return bad(format!(
                "the query string cannot be read: {}",
                e.body_text()
            ));
        }
    };
    let reason = match params.reason.as_deref().filter(|r| !r.is_empty()) {
        None => None,
        Some(r) => match REASONS.iter().find(|known| **known == r) {
            Some(known) => Some(*known),
            None => {
                return bad(format!(
                    "reason must be one of {}, not {r:?}",
                    REASONS.join(", ")
                ));
            }
        },
    };
    let limit = match params.limit.as_deref().filter(|l| !l.is_empty()) {
        None => KEPT,
        Some(text) => match text
            .parse::<usize>()
            .ok()
            .filter(|l| (1..=KEPT).contains(l))
        {
            Some(limit) => limit,
            None => {
                return bad(format!(
                    "limit must be a whole number from 1 to {KEPT}, not {text:?}"
                ));
            }
        },
    };
    let refused = app.refusals.newest(reason, limit);
    Json(json!({
        "kept": KEPT,
        "summary": app.refusals.summary(),
        "refused": refused,
    }))
    .into_response()
}

fn bad(message: String) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({ "error": "bad_request", "message": message })),
    )
        .into_response()
}
