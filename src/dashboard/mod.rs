//! `GET /dashboard`: the knock dashboard, read through the store and rendered on the server.

mod charts;
mod model;
mod page;
mod svg;
mod tables;
mod text;

use std::time::{SystemTime, UNIX_EPOCH};

use axum::{
    extract::{Query, State, rejection::QueryRejection},
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::Deserialize;
use sqlx::PgPool;

pub use model::{DEFAULT_DAYS, Dashboard, Filters, MAX_DAYS, Reads, utc_date};
pub use page::render;

use crate::store::reads::{self, Window};

/// Rows of the rooms table and of the knocking-now table, at most.
const ROOMS_SHOWN: i64 = 50;
const WAITING_SHOWN: i64 = 20;

#[derive(Debug, Deserialize)]
pub struct Params {
    room: Option<String>,
    days: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum DashboardError {
    #[error("{0}")]
    BadFilter(String),
    #[error("the database did not answer")]
    Unavailable(#[source] sqlx::Error),
}

impl IntoResponse for DashboardError {
    fn into_response(self) -> Response {
        let (status, message) = match &self {
            Self::BadFilter(why) => (StatusCode::BAD_REQUEST, why.clone()),
            Self::Unavailable(e) => {
                tracing::error!(error = e as &dyn std::error::Error, "dashboard read failed");
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "The database did not answer; try again in a moment.".into(),
                )
            }
        };
        html(status, page::error_page(&message))
    }
}

fn html(status: StatusCode, body: String) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (
                header::CONTENT_SECURITY_POLICY,
                page::CONTENT_SECURITY_POLICY.as_str(),
            ),
            (header::CACHE_CONTROL, "no-store"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::REFERRER_POLICY, "no-referrer"),
        ],
        body,
    )
        .into_response()
}

/// The handler: checks the filters, reads, renders.
pub async fn show(
    State(pool): State<PgPool>,
    params: Result<Query<Params>, QueryRejection>,
) -> Result<Response, DashboardError> {
    let Query(params) = params.map_err(|e| {
        DashboardError::BadFilter(format!(
            "the query string cannot be read: {}",
            e.body_text()
        ))
    })?;
    let filters = Filters::parse(params.room.as_deref(), params.days.as_deref())
        .map_err(DashboardError::BadFilter)?;
    let dashboard = load(&pool, filters)
        .await
        .map_err(DashboardError::Unavailable)?;
    Ok(html(StatusCode::OK, render(&dashboard)))
}

/// Runs the page's reads at once, each on its own connection, and folds them.
pub async fn load(pool: &PgPool, filters: Filters) -> sqlx::Result<Dashboard> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    let since = now - f64::from(filters.days) * 86_400.0;
    let window = Window {
        since,
        room: filters.room.clone(),
    };
    let room_days = async {
        match &filters.room {
            Some(room) => reads::list_room_days(pool, room, since).await,
            None => Ok(Vec::new()),
        }
    };
    let (tallies, rooms, waiting, room_days) = tokio::try_join!(
        reads::tally_knocks(pool, &window),
        reads::summarize_rooms(pool, &window, ROOMS_SHOWN),
        reads::list_waiting(pool, filters.room.as_deref(), WAITING_SHOWN),
        room_days,
    )?;
    let reads = Reads {
        tallies,
        rooms,
        waiting,
        room_days,
    };
    Ok(Dashboard::build(filters, since, now, reads))
}
