//! The HTTP intake: `POST /webhooks/daily`, health and readiness.

use std::{sync::Arc, time::Instant};

use axum::{
    Json, Router,
    body::Bytes,
    extract::{DefaultBodyLimit, State, rejection::BytesRejection},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use serde_json::json;
use sqlx::PgPool;

use crate::{
    config::WebhookSecret,
    db,
    event::{self, Parsed},
    signature::{self, SIGNATURE_HEADER, SignatureError, TIMESTAMP_HEADER},
    store,
};

/// How requests are authenticated.
#[derive(Debug, Clone)]
pub enum Verification {
    /// Any one of these secrets must have signed the request.
    Secrets(Arc<[WebhookSecret]>),
    /// Unsigned requests are accepted (explicit opt-in, local use only).
    Disabled,
}

#[derive(Clone)]
pub struct AppState {
    pub pool: PgPool,
    pub verification: Verification,
    pub body_limit: usize,
}

pub fn router(state: AppState) -> Router {
    let body_limit = state.body_limit;
    Router::new()
        .route("/webhooks/daily", post(receive_webhook))
        .layer(DefaultBodyLimit::max(body_limit))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .with_state(state)
}

/// What a 200 answer tells Daily (and whoever reads the logs).
#[derive(Debug)]
struct Receipt {
    outcome: &'static str,
    event_id: Option<String>,
    event_type: Option<String>,
}

#[derive(Debug, thiserror::Error)]
enum IntakeError {
    #[error("request body is larger than {limit} bytes")]
    TooLarge { limit: usize },
    #[error("request body could not be read: {0}")]
    BodyUnreadable(String),
    #[error(transparent)]
    Signature(#[from] SignatureError),
    #[error("storage is unavailable, try again")]
    Unavailable(#[source] sqlx::Error),
}

impl IntoResponse for IntakeError {
    fn into_response(self) -> Response {
        let (status, code) = match &self {
            Self::TooLarge { .. } => (StatusCode::PAYLOAD_TOO_LARGE, "body_too_large"),
            Self::BodyUnreadable(_) => (StatusCode::BAD_REQUEST, "body_unreadable"),
            Self::Signature(e) => (StatusCode::UNAUTHORIZED, e.code()),
            Self::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "storage_unavailable"),
        };
        (
            status,
            Json(json!({ "error": code, "message": self.to_string() })),
        )
            .into_response()
    }
}

async fn receive_webhook(
    State(app): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let started = Instant::now();
    let result = accept(&app, &headers, body).await;
    let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
    match result {
        Ok(receipt) => {
            tracing::info!(
                event_type = receipt.event_type.as_deref(),
                event_id = receipt.event_id.as_deref(),
                outcome = receipt.outcome,
                latency_ms,
                "webhook accepted"
            );
            (StatusCode::OK, Json(json!({ "status": receipt.outcome }))).into_response()
        }
        Err(IntakeError::Unavailable(e)) => {
            tracing::error!(
                error = &e as &dyn std::error::Error,
                latency_ms,
                "webhook not stored"
            );
            IntakeError::Unavailable(e).into_response()
        }
        Err(e) => {
            tracing::warn!(error = %e, latency_ms, "webhook refused");
            e.into_response()
        }
    }
}

async fn accept(
    app: &AppState,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Receipt, IntakeError> {
    let body = body.map_err(|rejection| match rejection.status() {
        StatusCode::PAYLOAD_TOO_LARGE => IntakeError::TooLarge {
            limit: app.body_limit,
        },
        _ => IntakeError::BodyUnreadable(rejection.body_text()),
    })?;
    if let Verification::Secrets(secrets) = &app.verification {
        let header = |name| headers.get(name).map(|v| v.as_bytes());
        signature::verify(
            secrets,
            header(TIMESTAMP_HEADER),
            header(SIGNATURE_HEADER),
            &body,
        )?;
    }
    match event::parse(&body) {
        Ok(Parsed::Probe) => Ok(Receipt {
            outcome: "probe",
            event_id: None,
            event_type: None,
        }),
        Ok(Parsed::Event(event)) => {
            let outcomes = store::write_batch(&app.pool, "intake", std::slice::from_ref(&event))
                .await
                .map_err(IntakeError::Unavailable)?;
            Ok(Receipt {
                outcome: outcomes[0].as_str(),
                event_id: Some(event.id),
                event_type: Some(event.event_type),
            })
        }
        Err(rejection) => {
            // Signed by Daily but unusable: keep it and answer 200 so our parser can never
            // trip Daily's circuit breaker.
            tracing::warn!(reason = %rejection, bytes = body.len(), "authentic body dead-lettered");
            store::write_dead_letter(&app.pool, "intake", &rejection.0, &body)
                .await
                .map_err(IntakeError::Unavailable)?;
            Ok(Receipt {
                outcome: "dead_lettered",
                event_id: None,
                event_type: None,
            })
        }
    }
}

async fn healthz() -> Json<serde_json::Value> {
    Json(json!({ "status": "ok" }))
}

async fn readyz(State(app): State<AppState>) -> Response {
    match db::check_ready(&app.pool).await {
        Ok(()) => Json(json!({ "status": "ready" })).into_response(),
        Err(detail) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "unavailable", "detail": detail })),
        )
            .into_response(),
    }
}
