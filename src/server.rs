//! Running the service: from configuration to a listening server, and its one shutdown path.

use std::{future::Future, sync::Arc};

use anyhow::Context;
use tokio::net::TcpListener;

use crate::{
    config::{GlobalArgs, ServeArgs},
    db,
    intake::{self, AppState, Verification},
};

/// Serves on a listener the caller bound, until `shutdown` completes and in-flight requests end.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, intake::router(state))
        .with_graceful_shutdown(shutdown)
        .await
}

/// `lobbylog serve`: prepare the database, bind, serve until SIGINT or SIGTERM.
pub async fn run(global: &GlobalArgs, args: ServeArgs) -> anyhow::Result<()> {
    let verification = verification(&args)?;
    let pool = db::prepare(&global.database_url, global.db_max_connections).await?;
    let listener = TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    tracing::info!(address = %listener.local_addr()?, "listening for Daily webhooks on POST /webhooks/daily");
    let state = AppState {
        pool: pool.clone(),
        verification,
        body_limit: args.body_limit,
    };
    serve(listener, state, shutdown_signal()).await?;
    pool.close().await;
    tracing::info!("stopped");
    Ok(())
}

fn verification(args: &ServeArgs) -> anyhow::Result<Verification> {
    match (args.webhook_secrets.0.is_empty(), args.allow_unsigned) {
        (false, allow_unsigned) => {
            if allow_unsigned {
                tracing::warn!("LOBBYLOG_ALLOW_UNSIGNED ignored: a webhook secret is set");
            }
            Ok(Verification::Secrets(Arc::from(
                args.webhook_secrets.0.clone(),
            )))
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
