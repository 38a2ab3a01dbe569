//! `GET /events/{id}` and `GET /events` on the admin listener: stored events as JSON. Each request
//! is checked before any query, and every query is bounded by an index and a limit.

use axum::{
    Json,
    extract::{
        Path, Query, State,
        rejection::{PathRejection, QueryRejection},
    },
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::Deserialize;
use serde_json::{Value, json};

use super::AdminState;
use crate::store::event_lookup::{self, EventFilter, FilterInput};

/// The filters of `GET /events`; any other parameter is refused, so a typo is not ignored.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ListParams {
    room: Option<String>,
    session_id: Option<String>,
    #[serde(rename = "type")]
    event_type: Option<String>,
    since: Option<String>,
    until: Option<String>,
    limit: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub(super) enum EventsError {
    #[error("{0}")]
    BadRequest(String),
    #[error("no stored event with this id")]
    NotFound(String),
    #[error("the database did not answer")]
    Unavailable(#[source] sqlx::Error),
}

impl IntoResponse for EventsError {
    fn into_response(self) -> Response {
        let (status, body) = match &self {
            Self::BadRequest(why) => (StatusCode::BAD_REQUEST, json!({ "error": why })),
            Self::NotFound(id) => (
                StatusCode::NOT_FOUND,
                json!({
                    "error": "no stored event with this id (dead letters are not searched)",
                    "event_id": id,
                }),
            ),
            Self::Unavailable(e) => {
                tracing::error!(error = e as &dyn std::error::Error, "event lookup failed");
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    json!({ "error": "the database did not answer; try again in a moment" }),
                )
            }
        };
        answer(status, body)
    }
}

fn answer(status: StatusCode, body: Value) -> Response {
    (status, [(header::CACHE_CONTROL, "no-store")], Json(body)).into_response()
}

/// One event by id: its row, its body and the projected row it fills.
pub(super) async fn show(
    State(app): State<AdminState>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Response, EventsError> {
    let Path(id) = id.map_err(|e| {
        EventsError::BadRequest(format!("the event id cannot be read: {}", e.body_text()))
    })?;
    let id = event_lookup::check_text("the event id", &id).map_err(EventsError::BadRequest)?;
    match event_lookup::find(&app.reads, &id).await {
        Ok(Some(found)) => Ok(answer(StatusCode::OK, found.to_json())),
        Ok(None) => Err(EventsError::NotFound(id)),
        Err(e) => Err(EventsError::Unavailable(e)),
    }
}

/// Events newest first, filtered by room, session, type and time.
pub(super) async fn list(
    State(app): State<AdminState>,
    params: Result<Query<ListParams>, QueryRejection>,
) -> Result<Response, EventsError> {
    let Query(p) = params.map_err(|e| {
        EventsError::BadRequest(format!(
            "the query string cannot be read: {}",
            e.body_text()
        ))
    })?;
    let filter = EventFilter::parse(&FilterInput {
        room: p.room.as_deref(),
        session_id: p.session_id.as_deref(),
        event_type: p.event_type.as_deref(),
        since: p.since.as_deref(),
        until: p.until.as_deref(),
        limit: p.limit.as_deref(),
    })
    .map_err(EventsError::BadRequest)?;
    let events = event_lookup::list(&app.reads, &filter)
        .await
        .map_err(EventsError::Unavailable)?;
    Ok(answer(
        StatusCode::OK,
        event_lookup::list_json(&events, &filter),
    ))
}
