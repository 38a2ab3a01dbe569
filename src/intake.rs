//! The HTTP intake: `POST /webhooks/daily`, health and readiness.

use std::{
    path::PathBuf,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use axum::{
    Json, Router,
    body::Bytes,
    extract::{DefaultBodyLimit, State, rejection::BytesRejection},
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use serde_json::json;
use sqlx::PgPool;

use crate::{
    config::WebhookSecret,
    db, drainer,
    event::{self, Parsed},
    metrics::{self, Metrics},
    signature::{self, SIGNATURE_HEADER, SignatureError, TIMESTAMP_HEADER},
    spool::{Spool, SpoolError},
    writer::{GroupCommit, Writer},
};

/// How requests are authenticated.
#[derive(Debug, Clone)]
pub enum Verification {
    /// Any one of these secrets must have signed the request.
    Secrets(Arc<[WebhookSecret]>),
    /// Unsigned requests are accepted (explicit opt-in, local use only).
    Disabled,
}

/// How the intake behaves; the rest of its state is built from this by `AppState::start`.
#[derive(Debug, Clone)]
pub struct Settings {
    pub verification: Verification,
    pub body_limit: usize,
    pub group_commit: GroupCommit,
    pub spool_dir: PathBuf,
    pub spool_max_bytes: u64,
    /// Webhook requests handled at once; more wait, unread, in the socket.
    pub max_in_flight: usize,
    /// Longest time a client may take to send its body, so slow clients cannot hold every slot.
    pub body_timeout: Duration,
}

#[derive(Clone)]
pub struct AppState {
    pub pool: PgPool,
    pub verification: Verification,
    pub body_limit: usize,
    pub max_in_flight: usize,
    pub body_timeout: Duration,
    pub writer: Writer,
    pub spool: Spool,
    pub metrics: Arc<Metrics>,
    /// Set once the database exists and carries our migrations.
    pub migrated: Arc<AtomicBool>,
}

impl AppState {
    /// Opens the spool and starts the group-commit writer and the spool drainer.
    ///
    /// Writes go to the spool until `mark_migrated` says the database is ready.
    pub fn start(pool: PgPool, settings: Settings) -> std::io::Result<Self> {
        let spool = Spool::open(&settings.spool_dir, settings.spool_max_bytes)?;
        let metrics = Arc::new(Metrics::default());
        let writer = Writer::start(pool.clone(), &settings.group_commit, metrics.clone());
        let migrated = Arc::new(AtomicBool::new(false));
        let state = Self {
            pool,
            verification: settings.verification,
            body_limit: settings.body_limit,
            max_in_flight: settings.max_in_flight,
            body_timeout: settings.body_timeout,
            writer,
            spool,
            metrics,
            migrated,
        };
        let drained = state.clone();
        tokio::spawn(async move {
            while !drained.migrated.load(Ordering::Relaxed) {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            drainer::run(drained.spool, drained.pool, drained.writer, drained.metrics).await;
        });
        Ok(state)
    }

    /// The database exists and is migrated: start writing to it (the drainer takes the spool).
    pub fn mark_migrated(&self) {
        self.migrated.store(true, Ordering::Relaxed);
        self.writer.set_healthy(true);
    }
}

pub fn router(state: AppState) -> Router {
    let body_limit = state.body_limit;
    let in_flight = tower::limit::GlobalConcurrencyLimitLayer::new(state.max_in_flight);
    let body_timeout = tower_http::timeout::RequestBodyTimeoutLayer::new(state.body_timeout);
    Router::new()
        .route("/webhooks/daily", post(receive_webhook))
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(body_timeout)
        .layer(in_flight)
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(render_metrics))
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
    #[error("event could not be stored nor spooled, try again")]
    Unavailable(#[source] SpoolError),
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
    if let Ok(receipt) = &result {
        let event_type = receipt.event_type.as_deref().unwrap_or("none");
        app.metrics.event(event_type, receipt.outcome);
    }
    let response = log_outcome(result, latency_ms);
    app.metrics.request(response.status().as_u16());
    response
}

fn log_outcome(result: Result<Receipt, IntakeError>, latency_ms: f64) -> Response {
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
            let (event_id, event_type) = (Some(event.id.clone()), Some(event.event_type.clone()));
            let outcome = match app.writer.store(event).await {
                Ok(outcome) => outcome.as_str(),
                Err(unavailable) => spool(app, &body, &unavailable.0).await?,
            };
            Ok(Receipt {
                outcome,
                event_id,
                event_type,
            })
        }
        Err(rejection) => {
            // Signed by Daily but unusable: keep it and answer 200 so our parser can never
            // trip Daily's circuit breaker.
            tracing::warn!(reason = %rejection, bytes = body.len(), "authentic body dead-lettered");
            let outcome = match app.writer.dead_letter(&rejection.0, &body).await {
                Ok(()) => "dead_lettered",
                Err(unavailable) => spool(app, &body, &unavailable.0).await?,
            };
            Ok(Receipt {
                outcome,
                event_id: None,
                event_type: None,
            })
        }
    }
}

/// Postgres could not take the body in time: make it durable on local disk instead.
async fn spool(app: &AppState, body: &[u8], why: &str) -> Result<&'static str, IntakeError> {
    tracing::debug!(why, "spooling");
    app.spool
        .append(body)
        .await
        .map_err(IntakeError::Unavailable)?;
    Ok("spooled")
}

async fn healthz() -> Json<serde_json::Value> {
    Json(json!({ "status": "ok" }))
}

async fn readyz(State(app): State<AppState>) -> Response {
    let depth = &app.spool.depth;
    let spool = json!({
        "events": depth.records.load(Ordering::Relaxed),
        "bytes": depth.bytes.load(Ordering::Relaxed),
        "oldest_age_seconds": metrics::oldest_age_seconds(depth),
    });
    match db::check_ready(&app.pool).await {
        Ok(()) => Json(json!({ "status": "ready", "spool": spool })).into_response(),
        Err(detail) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "unavailable", "detail": detail, "spool": spool })),
        )
            .into_response(),
    }
}

async fn render_metrics(State(app): State<AppState>) -> Response {
    let content_type = "application/openmetrics-text; version=1.0.0; charset=utf-8";
    (
        [(header::CONTENT_TYPE, content_type)],
        app.metrics.render(&app.spool.depth),
    )
        .into_response()
}
