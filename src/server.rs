//! Running the service: from configuration to a listening server, and its one shutdown path.

use std::{future::Future, sync::Arc, time::Duration};

use anyhow::Context;
use axum::serve::ListenerExt;
use tokio::net::TcpListener;

use crate::{
    config::{DatabaseUrl, GlobalArgs, ServeArgs},
    db,
    intake::{self, AppState, Settings, Verification},
    writer::GroupCommit,
};

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
    axum::serve(listener, intake::router(state))
        .with_graceful_shutdown(shutdown)
        .await
}

/// `lobbylog serve`: bind, serve until SIGINT or SIGTERM. The database is prepared in the
/// background, so webhooks are accepted (and spooled) even while Postgres is down at startup.
pub async fn run(global: &GlobalArgs, args: ServeArgs) -> anyhow::Result<()> {
    let settings = settings(&args)?;
    let pool = db::lazy_pool(&global.database_url, global.db_max_connections)?;
    let listener = TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let state = AppState::start(pool.clone(), settings)
        .with_context(|| format!("cannot open the spool in {}", args.spool_dir.display()))?;
    tokio::spawn(bring_up(global.database_url.clone(), state.clone()));
    tracing::info!(address = %listener.local_addr()?, "listening for Daily webhooks on POST /webhooks/daily");
    serve(listener, state, shutdown_signal()).await?;
    pool.close().await;
    tracing::info!("stopped");
    Ok(())
}

/// Creates and migrates the database, retrying with backoff until Postgres answers.
async fn bring_up(url: DatabaseUrl, state: AppState) {
    let mut delay = Duration::from_secs(1);
    loop {
        let prepared = async {
            db::ensure_database(&url).await?;
            db::migrate(&url).await
        };
        match prepared.await {
            Ok(()) => {
                state.mark_migrated();
                return;
            }
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
    Ok(Settings {
        verification: verification(args)?,
        body_limit: args.body_limit,
        group_commit: GroupCommit {
            enabled: args.group_commit,
            max_events: args.batch_max_events as usize,
            max_wait: Duration::from_millis(args.batch_max_wait_ms),
            deadline: Duration::from_millis(args.commit_deadline_ms),
        },
        spool_dir: args.spool_dir.clone(),
        spool_max_bytes: args.spool_max_bytes,
        max_in_flight: args.max_in_flight as usize,
        body_timeout: Duration::from_millis(args.body_timeout_ms),
    })
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

/// Completes on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let interrupt = async {
        tokio::signal::ctrl_c()
            .await
            .expect("cannot listen for SIGINT");
    };
    #[cfg(unix)]
    let terminate = async {
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("cannot listen for SIGTERM")
            .recv()
            .await;
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {},
        () = terminate => {},
    }
    tracing::info!("shutdown requested: finishing in-flight requests");
}
