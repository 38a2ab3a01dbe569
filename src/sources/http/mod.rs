//! The HTTP intake on the public listener: `POST /webhooks/daily`, liveness and a bare readiness.
//! Every byte before the signature check is hostile: bodies are bounded in size, time and memory.

mod body;
mod health;
mod receipt;
mod refuse;
mod webhook;

use std::{future::Future, pin::Pin, sync::Arc, time::Duration};

use axum::{
    Router,
    routing::{get, post},
};
use sqlx::PgPool;
use tokio::sync::Semaphore;

use self::body::BodyBudget;
use crate::{
    edge::Deadlines,
    metrics::{Metrics, SpoolLevels},
    refused::Refusals,
    signature::Verification,
    store::{Availability, GroupCommitWriter},
};

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
    pub fn deadlines(&self) -> Deadlines {
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
    pub settings: Arc<HttpSettings>,
    pub writer: GroupCommitWriter,
    pub fallback: Arc<dyn Fallback>,
    pub metrics: Arc<Metrics>,
    /// Whether the writer sends events to Postgres now: what readiness reports.
    pub availability: Availability,
    /// The last requests answered with anything but 200.
    pub refusals: Arc<Refusals>,
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
        availability: Availability,
        refusals: Arc<Refusals>,
    ) -> Self {
        Self {
            budget: BodyBudget::new(settings.body_budget),
            in_flight: Arc::new(Semaphore::new(settings.max_in_flight)),
            pool,
            settings: Arc::new(settings),
            writer,
            fallback,
            metrics,
            availability,
            refusals,
        }
    }
}

/// What the internet reaches: the webhook, liveness, and a readiness that tells nothing more
/// than ready or not.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/webhooks/daily", post(webhook::receive))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .fallback(refuse::not_found)
        .method_not_allowed_fallback(refuse::method_not_allowed)
        .with_state(state)
}
