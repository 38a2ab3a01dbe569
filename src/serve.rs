//! `lobbylog serve`: wires the pipeline (spool, group-commit writer, drainer, HTTP intake), binds
//! the listener and prepares the database in the background.

use std::{future::Future, path::PathBuf, pin::Pin, sync::Arc, time::Duration};

use anyhow::Context;
use sqlx::PgPool;
use tokio::net::TcpListener;

use crate::{
    config::{GlobalArgs, ServeArgs},
    daily::watchdog::Watchdog,
    db::{self, DatabaseUrl},
    metrics::{Metrics, SpoolLevels},
    prune, shutdown,
    signature::Verification,
    sources::{
        http::{self, AppState, Fallback, HttpSettings, Listeners},
        spool::{self, Spool},
    },
    store::{Availability, GroupCommitSettings, GroupCommitWriter},
    supervise,
};

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

/// `lobbylog serve`: bind, serve until SIGINT or SIGTERM. The database is prepared in the
/// background, so webhooks are accepted (and spooled) even while Postgres is down at startup.
pub async fn run(global: &GlobalArgs, args: ServeArgs) -> anyhow::Result<()> {
    let settings = settings(&args)?;
    let pool = db::lazy_pool(&global.database_url, args.db_max_connections)?;
    let listeners = Listeners {
        public: bind(args.listen).await?,
        admin: bind(args.admin_listen).await?,
    };
    let pipeline = start(pool.clone(), settings)
        .with_context(|| format!("cannot open the spool in {}", args.spool_dir.display()))?;
    tokio::spawn(bring_up(global.database_url.clone()));
    let metrics = pipeline.state.metrics.clone();
    if let Some(watchdog) = Watchdog::from_args(&args.daily, pool.clone(), metrics)? {
        let pause = watchdog.every;
        let start = move || watchdog.clone().run();
        tokio::spawn(supervise::restart_on_panic("daily watchdog", pause, start));
    }
    let (metrics, ready) = (
        pipeline.state.metrics.clone(),
        pipeline.availability.clone(),
    );
    tokio::spawn(prune::schedule::run(
        pool.clone(),
        metrics,
        ready,
        args.retention,
    ));
    tracing::info!(
        address = %listeners.public.local_addr()?,
        admin = %listeners.admin.local_addr()?,
        "listening for Daily webhooks on POST /webhooks/daily; metrics and readiness on the admin address"
    );
    let reads = db::lazy_read_pool(&global.database_url)?;
    let state = pipeline.state.reading_from(reads.clone());
    http::serve(listeners, state, shutdown::signal()).await;
    reads.close().await;
    pool.close().await;
    tracing::info!("stopped");
    Ok(())
}

async fn bind(address: std::net::SocketAddr) -> anyhow::Result<TcpListener> {
    TcpListener::bind(address)
        .await
        .with_context(|| format!("cannot listen on {address}"))
}

/// Creates and migrates the database, retrying with backoff until Postgres answers.
async fn bring_up(url: DatabaseUrl) {
    let mut delay = Duration::from_secs(1);
    loop {
        let prepared = async {
            db::ensure_database(&url).await?;
            db::migrate(&url).await
        };
        match prepared.await {
            Ok(()) => return,
            Err(e) => {
                tracing::error!(
                    error = format!("{e:#}"),
                    retry_in_s = delay.as_secs(),
                    "database not ready; spooling meanwhile"
                );
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(30));
            }
        }
    }
}

fn settings(args: &ServeArgs) -> anyhow::Result<Settings> {
    anyhow::ensure!(
        args.body_budget >= args.body_limit,
        "LOBBYLOG_BODY_BUDGET ({}) must be at least LOBBYLOG_BODY_LIMIT ({})",
        args.body_budget,
        args.body_limit
    );
    Ok(Settings {
        http: HttpSettings {
            verification: verification(args)?,
            body_limit: args.body_limit as usize,
            body_budget: args.body_budget as usize,
            max_in_flight: args.max_in_flight as usize,
            max_connections: connection_cap(args.max_connections, args.db_max_connections)?,
            header_timeout: Duration::from_millis(args.header_timeout_ms),
            body_timeout: Duration::from_millis(args.body_timeout_ms),
            idle_timeout: Duration::from_millis(args.idle_timeout_ms),
            shutdown_grace: Duration::from_millis(args.shutdown_timeout_ms),
        },
        group_commit: GroupCommitSettings {
            enabled: args.group_commit,
            max_events: args.batch_max_events as usize,
            // One connection of the pool stays free for the drainer, readiness and the watchdog.
            max_batches: args.db_max_connections.saturating_sub(1).max(1) as usize,
            max_wait: Duration::from_millis(args.batch_max_wait_ms),
            deadline: Duration::from_millis(args.commit_deadline_ms),
        },
        spool_dir: args.spool_dir.clone(),
        spool_max_bytes: args.spool_max_bytes,
    })
}

/// File descriptors kept for everything but webhook connections: the admin listener and its
/// connections, the spool, logs, name lookups.
const FD_RESERVE: u64 = 128;

/// The connection cap, lowered if needed so that accepting never runs out of file descriptors
/// (raising the soft limit to the hard one first); refused below `MIN_CONNECTIONS`.
fn connection_cap(requested: u32, db_connections: u32) -> anyhow::Result<usize> {
    let requested = requested as usize;
    anyhow::ensure!(
        requested >= http::MIN_CONNECTIONS,
        "LOBBYLOG_MAX_CONNECTIONS is {requested}: at least {} are needed, or a few stalled \
         clients would lock Daily's deliveries out",
        http::MIN_CONNECTIONS
    );
    let fd_limit = match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => limit,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the file-descriptor limit");
            return Ok(requested);
        }
    };
    let fits = fd_limit.saturating_sub(FD_RESERVE + u64::from(db_connections));
    let fits = usize::try_from(fits).unwrap_or(usize::MAX);
    anyhow::ensure!(
        fits >= http::MIN_CONNECTIONS,
        "the file-descriptor limit ({fd_limit}) leaves room for {fits} webhook connections, \
         fewer than the {} needed: raise it (`ulimit -n`, or LimitNOFILE= in a systemd unit)",
        http::MIN_CONNECTIONS
    );
    if requested > fits {
        tracing::warn!(
            requested,
            fd_limit,
            using = fits,
            "LOBBYLOG_MAX_CONNECTIONS lowered to fit the file-descriptor limit"
        );
    }
    Ok(requested.min(fits))
}

fn verification(args: &ServeArgs) -> anyhow::Result<Verification> {
    let secrets = args.webhook_secrets.decode().map_err(anyhow::Error::msg)?;
    match (secrets.is_empty(), args.allow_unsigned) {
        (false, allow_unsigned) => {
            if allow_unsigned {
                tracing::warn!("LOBBYLOG_ALLOW_UNSIGNED ignored: a webhook secret is set");
            }
            Ok(Verification::Secrets(Arc::from(secrets)))
        }
        (true, true) => {
            tracing::error!(
                "SIGNATURE CHECKS ARE OFF: no DAILY_WEBHOOK_SECRET and LOBBYLOG_ALLOW_UNSIGNED=true; \
                 anyone who can reach this port can write events"
            );
            Ok(Verification::Disabled)
        }
        (true, false) => anyhow::bail!(
            "no webhook secret: set DAILY_WEBHOOK_SECRET to the `hmac` of your Daily webhook \
             (or LOBBYLOG_ALLOW_UNSIGNED=true to accept unsigned requests, for local experiments only)"
        ),
    }
}
