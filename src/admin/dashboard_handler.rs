//! `GET /dashboard` on the admin listener: checks the filters, reads, answers with the page.

use axum::{
    extract::{Query, State, rejection::QueryRejection},
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::Deserialize;

use super::{
    AdminState,
    dashboard::{self, CONTENT_SECURITY_POLICY, Filters},
};

#[derive(Debug, Deserialize)]
pub(super) struct Params {
    room: Option<String>,
    days: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub(super) enum DashboardError {
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
        html(status, dashboard::error_page(&message))
    }
}

fn html(status: StatusCode, body: String) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (
                header::CONTENT_SECURITY_POLICY,
                CONTENT_SECURITY_POLICY.as_str(),
            ),
            (header::CACHE_CONTROL, "no-store"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::REFERRER_POLICY, "no-referrer"),
        ],
        body,
    )
        .into_response()
}

pub(super) async fn show(
    State(app): State<AdminState>,
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
    let mut page = dashboard::load(&app.reads, filters)
        .await
        .map_err(DashboardError::Unavailable)?;
    page.refused = app.refusals.summary();
    Ok(html(StatusCode::OK, dashboard::render(&page)))
}
