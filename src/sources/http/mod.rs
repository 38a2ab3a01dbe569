//! The HTTP intake: `POST /webhooks/daily` and health on the public listener; metrics and the
//! detailed readiness on the admin listener.

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
use tokio_util::sync::CancellationToken;

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

/// What the internet reaches: the webhook, liveness, and a readiness that tells nothing more
/// than ready or not.
pub fn public_router(state: AppState) -> Router {
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
        .with_state(state)
}

/// What operators reach, on a listener of its own: metrics and the detailed readiness.
pub fn admin_router(state: AppState) -> Router {
    Router::new()
        .route("/metrics", get(admin::metrics))
        .route("/readyz", get(admin::readyz))
        .with_state(state)
}

/// The two listeners, bound by the caller (port 0 in tests).
pub struct Listeners {
    pub public: TcpListener,
    pub admin: TcpListener,
}

/// Serves both listeners until `shutdown` completes and in-flight requests end.
pub async fn serve(
    listeners: Listeners,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let stop = CancellationToken::new();
    let trigger = stop.clone();
    tokio::spawn(async move {
        shutdown.await;
        trigger.cancel();
    });
    let public = serve_one(listeners.public, public_router(state.clone()), stop.clone());
    let admin = serve_one(listeners.admin, admin_router(state), stop);
    tokio::try_join!(public, admin).map(|_| ())
}

async fn serve_one(
    listener: TcpListener,
    router: Router,
    stop: CancellationToken,
) -> std::io::Result<()> {
    // Small answers on kept-alive connections must not wait for Nagle and delayed ACKs.
    let listener = listener.tap_io(|stream| {
        if let Err(e) = stream.set_nodelay(true) {
            tracing::debug!(error = %e, "cannot set TCP_NODELAY");
        }
    });
    axum::serve(listener, router)
        .with_graceful_shutdown(stop.cancelled_owned())
        .await
}
