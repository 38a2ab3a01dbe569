//! What `serve` runs, wired: the spool, the group-commit writer, the drainer, the HTTP intake and
//! the admin pages on their two listeners; and the database prepared in the background.

use std::{future::Future, path::PathBuf, pin::Pin, sync::Arc, time::Duration};

use sqlx::PgPool;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::{
    admin::{self, AdminState},
    config::DatabaseUrl,
    db,
    edge::{self, ADMIN_LISTENER, ConnectionLimits, PUBLIC_LISTENER},
    metrics::{Metrics, SpoolLevels},
    refused::Refusals,
    sources::{
        http::{self, AppState, Fallback, HttpSettings},
        spool::{self, Spool},
    },
    store::{Availability, GroupCommitSettings, GroupCommitWriter},
    telemetry,
};

/// Connections the admin listener keeps open at once; it serves a few scrapers and operators.
const ADMIN_MAX_CONNECTIONS: usize = 64;

/// Everything `serve` is configured with, once parsed.
#[derive(Debug, Clone)]
pub struct Settings {
    pub http: HttpSettings,
    pub group_commit: GroupCommitSettings,
    pub spool_dir: PathBuf,
    pub spool_max_bytes: u64,
}

/// The running pipeline behind the listener.
pub struct Pipeline {
    pub state: AppState,
    pub spool: Spool,
    /// Whether Postgres takes writes; the drainer's probe raises it once the database is ready.
    pub availability: Availability,
}

/// Opens the spool and starts the group-commit writer and the spool drainer. Until the drainer
/// finds the database reachable and migrated, events go to the spool.
pub fn start(pool: PgPool, settings: Settings) -> std::io::Result<Pipeline> {
    let spool = Spool::open(
        &settings.spool_dir,
        settings.spool_max_bytes,
        db::Target::of(&pool),
    )?;
    let metrics = Arc::new(Metrics::default());
    let availability = Availability::new();
    let writer = GroupCommitWriter::start(
        pool.clone(),
        &settings.group_commit,
        availability.clone(),
        metrics.clone(),
    );
    tokio::spawn(spool::drain_forever(
        spool.clone(),
        pool.clone(),
        availability.clone(),
        metrics.clone(),
    ));
    let state = AppState::new(
        pool,
        settings.http,
        writer,
        Arc::new(spool.clone()),
        metrics,
        availability.clone(),
        Arc::new(Refusals::default()),
    );
    Ok(Pipeline {
        state,
        spool,
        availability,
    })
}

impl Fallback for Spool {
    fn keep<'a>(
        &'a self,
        body: &'a [u8],
    ) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'a>> {
        Box::pin(async move { self.append(body).await.map_err(|e| e.to_string()) })
    }

    fn levels(&self) -> SpoolLevels {
        self.depth.levels()
    }
}

/// Creates and migrates the database, retrying with backoff until Postgres answers; then the
/// intake writes to it at once, without waiting for the drainer's next look.
pub async fn bring_up(url: DatabaseUrl, spool: Spool, pool: PgPool, availability: Availability) {
    let mut delay = Duration::from_secs(1);
    loop {
        let prepared = async {
            db::ensure_database(&url).await?;
            db::migrate(&url).await
        };
        match prepared.await {
            Ok(()) => {
                spool::mark_up_if_ready(&spool, &pool, &availability).await;
                return;
            }
            Err(e) => {
                tracing::error!(
                    error = telemetry::chain(&e),
                    retry_in_s = delay.as_secs(),
                    "database not ready; spooling meanwhile"
                );
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(30));
            }
        }
    }
}

/// The two listeners, bound by the caller (port 0 in tests).
pub struct Listeners {
    pub public: TcpListener,
    pub admin: TcpListener,
}

/// Serves the intake on the public listener and the admin pages (reading through `reads`) on the
/// admin one until `shutdown` completes; then requests in progress finish within
/// the shutdown grace, and whatever connection is left is cut.
pub async fn serve(
    listeners: Listeners,
    state: AppState,
    reads: PgPool,
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
    let fallback = state.fallback.clone();
    let admin_state = AdminState {
        pool: state.pool.clone(),
        reads,
        metrics: metrics.clone(),
        availability: state.availability.clone(),
        spool_levels: Arc::new(move || fallback.levels()),
        refusals: state.refusals.clone(),
    };
    tokio::join!(
        edge::serve(
            listeners.public,
            http::router(state),
            public,
            stop.clone(),
            metrics.clone(),
            PUBLIC_LISTENER,
        ),
        edge::serve(
            listeners.admin,
            admin::router(admin_state),
            admin,
            stop,
            metrics,
            ADMIN_LISTENER,
        ),
    );
}
