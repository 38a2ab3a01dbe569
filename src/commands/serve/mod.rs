//! `lobbylog serve`: check the settings, bind both listeners, start the pipeline, the watchdog,
//! retention and the rollups, serve until SIGINT or SIGTERM.

mod args;

use std::{path::PathBuf, process::ExitCode, sync::Arc, time::Duration};

use anyhow::Context;
use tokio::net::TcpListener;

pub use self::args::ServeArgs;
use super::spool_dir;
use crate::{
    config::GlobalArgs,
    daily::watchdog::Watchdog,
    db,
    edge::MIN_CONNECTIONS,
    export::Target,
    pipeline::Listeners,
    pipeline::{self, Settings},
    prune, rollups, shutdown,
    signature::Verification,
    sources::http::HttpSettings,
    store::GroupCommitSettings,
    supervise,
};

/// Binds, serves until SIGINT or SIGTERM. The database is prepared in the background, so webhooks
/// are accepted (and spooled) even while Postgres is down at startup.
pub async fn run(global: &GlobalArgs, args: ServeArgs) -> anyhow::Result<ExitCode> {
    let spool = spool_dir::resolve(args.spool_dir.as_deref())?;
    tracing::info!(spool = %spool.path.display(), from = spool.from, "spool directory");
    let settings = settings(&args, spool.path.clone())?;
    let retention_archive = retention_archive(&args)?;
    let pool = db::lazy_pool(&global.database_url, args.db_max_connections)?;
    let listeners = Listeners {
        public: bind(args.listen).await?,
        admin: bind(args.admin_listen).await?,
    };
    let pipeline = pipeline::start(pool.clone(), settings)
        .with_context(|| format!("cannot open the spool in {}", spool.path.display()))?;
    tokio::spawn(pipeline::bring_up(
        global.database_url.clone(),
        pipeline.spool.clone(),
        pool.clone(),
        pipeline.availability.clone(),
    ));
    let metrics = pipeline.state.metrics.clone();
    let daily = &args.daily;
    let every = Duration::from_secs(daily.poll_seconds);
    let watchdog = Watchdog::new(
        &daily.api.api(),
        every,
        daily.reactivate,
        pool.clone(),
        metrics,
    )?;
    if let Some(watchdog) = watchdog {
        let start = move || watchdog.clone().run();
        tokio::spawn(supervise::restart_on_panic("daily watchdog", every, start));
    }
    let (metrics, ready) = (
        pipeline.state.metrics.clone(),
        pipeline.availability.clone(),
    );
    tokio::spawn(prune::schedule::run(
        pool.clone(),
        metrics,
        ready.clone(),
        args.retention,
        retention_archive,
    ));
    let every = Duration::from_millis(args.rollup_interval_ms);
    let (rollup_pool, metrics) = (pool.clone(), pipeline.state.metrics.clone());
    let start = move || rollups::run(rollup_pool.clone(), metrics.clone(), ready.clone(), every);
    tokio::spawn(supervise::restart_on_panic("knock rollups", every, start));
    tracing::info!(
        address = %listeners.public.local_addr()?,
        admin = %listeners.admin.local_addr()?,
        "listening for Daily webhooks on POST /webhooks/daily; metrics and readiness on the admin address"
    );
    let reads = db::lazy_read_pool(&global.database_url)?;
    pipeline::serve(listeners, pipeline.state, reads.clone(), shutdown::signal()).await;
    reads.close().await;
    pool.close().await;
    tracing::info!("stopped");
    Ok(ExitCode::SUCCESS)
}

async fn bind(address: std::net::SocketAddr) -> anyhow::Result<TcpListener> {
    TcpListener::bind(address)
        .await
        .with_context(|| format!("cannot listen on {address}"))
}

fn settings(args: &ServeArgs, spool_dir: PathBuf) -> anyhow::Result<Settings> {
    anyhow::ensure!(
        args.body_budget >= args.body_limit,
        "LOBBYLOG_BODY_BUDGET ({}) must be at least LOBBYLOG_BODY_LIMIT ({})",
        args.body_budget,
        args.body_limit
    );
    anyhow::ensure!(
        args.batch_max_wait_ms < args.commit_deadline_ms,
        "LOBBYLOG_BATCH_MAX_WAIT_MS ({}) must be below LOBBYLOG_COMMIT_DEADLINE_MS ({}): a batch \
         waiting that long misses the deadline, so every event would be spooled and Postgres \
         marked down",
        args.batch_max_wait_ms,
        args.commit_deadline_ms
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
            max_batches: args
                .batch_max_concurrent
                .min(args.db_max_connections.saturating_sub(1))
                .max(1) as usize,
            max_wait: Duration::from_millis(args.batch_max_wait_ms),
            deadline: Duration::from_millis(args.commit_deadline_ms),
        },
        spool_dir,
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
        requested >= MIN_CONNECTIONS,
        "LOBBYLOG_MAX_CONNECTIONS is {requested}: at least {} are needed, or a few stalled \
         clients would lock Daily's deliveries out",
        MIN_CONNECTIONS
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
        fits >= MIN_CONNECTIONS,
        "the file-descriptor limit ({fd_limit}) leaves room for {fits} webhook connections, \
         fewer than the {} needed: raise it (`ulimit -n`, or LimitNOFILE= in a systemd unit)",
        MIN_CONNECTIONS
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

/// Where the scheduled prune archives, checked before anything starts.
fn retention_archive(args: &ServeArgs) -> anyhow::Result<Option<Target>> {
    let Some(to) = args.retention_archive.as_deref().map(str::trim) else {
        return Ok(None);
    };
    if to.is_empty() {
        return Ok(None);
    }
    if args.retention.0.is_none() {
        tracing::warn!(
            archive = to,
            "LOBBYLOG_RETENTION_ARCHIVE is set without LOBBYLOG_RETENTION: nothing is pruned, so nothing is archived"
        );
    }
    let target = Target::parse(to).context("LOBBYLOG_RETENTION_ARCHIVE")?;
    Ok(Some(target))
}
