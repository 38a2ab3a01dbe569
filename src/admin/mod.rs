//! The admin listener, for operators only (never on the internet): an index, metrics, the
//! detailed readiness, the knock dashboard and stored events.

pub mod dashboard;
mod dashboard_handler;
mod events;
mod readiness;
mod refused;

use std::sync::Arc;

use axum::{Router, response::Html, routing::get};
use sqlx::PgPool;

use crate::{
    metrics::{Metrics, SpoolLevels},
    refused::Refusals,
    store::Availability,
};

/// What the admin pages read.
#[derive(Clone)]
pub struct AdminState {
    /// The intake's pool: readiness asks it.
    pub pool: PgPool,
    /// The dashboard's own small pool, so a heavy page never takes the intake's connections.
    pub reads: PgPool,
    pub metrics: Arc<Metrics>,
    /// Whether the writer sends events to Postgres now.
    pub availability: Availability,
    /// What the spool holds now.
    pub spool_levels: Arc<dyn Fn() -> SpoolLevels + Send + Sync>,
    /// The last requests the public listener refused.
    pub refusals: Arc<Refusals>,
}

pub fn router(state: AdminState) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/metrics", get(readiness::metrics))
        .route("/readyz", get(readiness::readyz))
        .route("/dashboard", get(dashboard_handler::show))
        .route("/refused", get(refused::list))
        .route("/events", get(events::list))
        .route("/events/{id}", get(events::show))
        .with_state(state)
}

/// The admin root: where each page is.
async fn index() -> Html<&'static str> {
    Html(concat!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">",
        "<title>lobbylog admin</title></head><body><h1>lobbylog admin</h1><ul>",
        "<li><a href=\"/dashboard\">/dashboard</a>: knocks and how they end</li>",
        "<li><a href=\"/metrics\">/metrics</a>: Prometheus metrics</li>",
        "<li><a href=\"/readyz\">/readyz</a>: readiness, with its reason and the spool's depth</li>",
        "<li><a href=\"/refused\">/refused</a>: the last requests the webhook port refused, and why</li>",
        "<li><a href=\"/events\">/events</a>: stored events, newest first (JSON; filters ",
        "<code>room</code>, <code>session_id</code>, <code>type</code>, <code>since</code>, ",
        "<code>until</code>, <code>limit</code>); <code>/events/ID</code>: one event by id</li>",
        "</ul></body></html>"
    ))
}
