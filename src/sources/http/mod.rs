//! The HTTP intake: `POST /webhooks/daily`, health and readiness, metrics.

mod admin;
mod health;
mod webhook;

use std::{future::Future, pin::Pin, sync::Arc, time::Duration};

use axum::{
    Router,
    extract::DefaultBodyLimit,
    routing::{get, post},
    serve::ListenerExt,
};
use sqlx::PgPool;
use tokio::net::TcpListener;

use crate::{
    metrics::{Metrics, SpoolLevels},
    signature::Verification,
    store::GroupCommitWriter,
};

/// How the intake treats requests.
#[derive(Debug, Clone)]
pub struct HttpSettings {
    pub verification: Verification,
    pub body_limit: usize,
    /// Webhook requests handled at once; more wait, unread, in the socket.
    pub max_in_flight: usize,
    /// Longest time a client may take to send its body, so slow clients cannot hold every slot.
    pub body_timeout: Duration,
}

/// Where a body goes when Postgres cannot take it in time: the spool, as `serve` wires it.
pub trait Fallback: Send + Sync + 'static {
    /// Makes `body` durable; succeeds only once it is.
    fn keep<'a>(
        &'a self,
        body: &'a [u8],
    ) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'a>>;

    /// What it holds now, for readiness and metrics.
    fn levels(&self) -> SpoolLevels;
}

#[derive(Clone)]
pub struct AppState {
    pub pool: PgPool,
    pub settings: Arc<HttpSettings>,
    pub writer: GroupCommitWriter,
    pub fallback: Arc<dyn Fallback>,
    pub metrics: Arc<Metrics>,
}

pub fn router(state: AppState) -> Router {
    let settings = &state.settings;
    let in_flight = tower::limit::GlobalConcurrencyLimitLayer::new(settings.max_in_flight);
    let body_timeout = tower_http::timeout::RequestBodyTimeoutLayer::new(settings.body_timeout);
    Router::new()
        .route("/webhooks/daily", post(webhook::receive))
        .layer(DefaultBodyLimit::max(settings.body_limit))
        .layer(body_timeout)
        .layer(in_flight)
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(admin::metrics))
        .with_state(state)
}

/// Serves on a listener the caller bound, until `shutdown` completes and in-flight requests end.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    // Small answers on kept-alive connections must not wait for Nagle and delayed ACKs.
    let listener = listener.tap_io(|stream| {
        if let Err(e) = stream.set_nodelay(true) {
            tracing::debug!(error = %e, "cannot set TCP_NODELAY");
        }
    });
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await
}
