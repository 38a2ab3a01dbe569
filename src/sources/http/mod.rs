//! The HTTP intake: `POST /webhooks/daily` and health on the public listener; metrics, the
//! detailed readiness and the dashboard on the admin listener. Every byte before the signature
//! check is hostile, so connections, bodies and time are bounded per connection and overall.

mod admin;
mod body;
mod connections;
mod dashboard;
mod health;
mod watch;
mod webhook;

use std::{future::Future, pin::Pin, sync::Arc, time::Duration};

use axum::{
    Router,
    routing::{get, post},
};
use sqlx::PgPool;
use tokio::{net::TcpListener, sync::Semaphore};
use tokio_util::sync::CancellationToken;

use self::{body::BodyBudget, connections::ConnectionLimits, watch::Deadlines};
use crate::{
    metrics::{Metrics, SpoolLevels},
    signature::Verification,
    store::GroupCommitWriter,
};

/// Connections the admin listener keeps open at once; it serves a few scrapers and operators.
const ADMIN_MAX_CONNECTIONS: usize = 64;
/// The listeners' names in metrics.
const PUBLIC_LISTENER: &str = "public";
const ADMIN_LISTENER: &str = "admin";
/// The fewest connections the public listener may be capped at: below this a few stalled
/// clients, or a burst of Daily's own deliveries, would fill it.
pub const MIN_CONNECTIONS: usize = 32;

/// How the intake treats requests and connections.
#[derive(Debug, Clone)]
pub struct HttpSettings {
    pub verification: Verification,
    /// Largest body accepted, in bytes.
    pub body_limit: usize,
    /// Bytes of bodies held in memory at once, all requests together.
    pub body_budget: usize,
    /// Signed requests being stored at once; more wait, their bodies read.
    pub max_in_flight: usize,
    /// Connections open at once on the public listener.
    pub max_connections: usize,
    /// From a request's first byte (or the connection's opening) to the end of its headers.
    pub header_timeout: Duration,
    /// From a request's first byte to the end of its body.
    pub body_timeout: Duration,
    /// How long a kept-alive connection may wait for its next request.
    pub idle_timeout: Duration,
    /// After SIGTERM, how long requests in progress may take before their connections are cut.
    pub shutdown_grace: Duration,
}

impl HttpSettings {
    fn deadlines(&self) -> Deadlines {
        Deadlines {
            header: self.header_timeout,
            body: self.body_timeout,
            idle: self.idle_timeout,
        }
    }
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
    /// The dashboard's reads: the intake's pool unless `reading_from` gave one of its own.
    pub reads: PgPool,
    pub settings: Arc<HttpSettings>,
    pub writer: GroupCommitWriter,
    pub fallback: Arc<dyn Fallback>,
    pub metrics: Arc<Metrics>,
    budget: BodyBudget,
    in_flight: Arc<Semaphore>,
}

impl AppState {
    pub fn new(
        pool: PgPool,
        settings: HttpSettings,
        writer: GroupCommitWriter,
        fallback: Arc<dyn Fallback>,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            budget: BodyBudget::new(settings.body_budget),
            in_flight: Arc::new(Semaphore::new(settings.max_in_flight)),
            reads: pool.clone(),
            pool,
            settings: Arc::new(settings),
            writer,
            fallback,
            metrics,
        }
    }

    /// The dashboard reads through `reads` instead of the intake's pool.
    pub fn reading_from(self, reads: PgPool) -> Self {
        Self { reads, ..self }
    }
}

/// What the internet reaches: the webhook, liveness, and a readiness that tells nothing more
/// than ready or not.
pub fn public_router(state: AppState) -> Router {
    Router::new()
        .route("/webhooks/daily", post(webhook::receive))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .with_state(state)
}

/// What operators reach, on a listener of its own: metrics, the detailed readiness, the dashboard.
pub fn admin_router(state: AppState) -> Router {
    Router::new()
        .route("/metrics", get(admin::metrics))
        .route("/readyz", get(admin::readyz))
        .route("/dashboard", get(dashboard::show))
        .with_state(state)
}

/// The two listeners, bound by the caller (port 0 in tests).
pub struct Listeners {
    pub public: TcpListener,
    pub admin: TcpListener,
}

/// Serves both listeners until `shutdown` completes; then requests in progress finish within
/// the shutdown grace, and whatever connection is left is cut.
pub async fn serve(
    listeners: Listeners,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let stop = CancellationToken::new();
    let trigger = stop.clone();
    tokio::spawn(async move {
        shutdown.await;
        trigger.cancel();
    });
    let settings = &state.settings;
    let public = ConnectionLimits {
        max_connections: settings.max_connections,
        deadlines: settings.deadlines(),
        shutdown_grace: settings.shutdown_grace,
    };
    let admin = ConnectionLimits {
        max_connections: ADMIN_MAX_CONNECTIONS,
        ..public
    };
    let metrics = state.metrics.clone();
    tokio::join!(
        connections::serve(
            listeners.public,
            public_router(state.clone()),
            public,
            stop.clone(),
            metrics.clone(),
            PUBLIC_LISTENER,
        ),
        connections::serve(
            listeners.admin,
            admin_router(state),
            admin,
            stop,
            metrics,
            ADMIN_LISTENER,
        ),
    );
}
