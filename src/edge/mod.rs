//! The edge of both listeners: accepting and driving connections under a cap on open connections,
//! deadlines per connection, and a shutdown that always ends. Every byte here may be hostile.

use std::{convert::Infallible, net::SocketAddr, sync::Arc, time::Duration};

use axum::{Router, body::Body};
use hyper::{Request, body::Incoming, server::conn::http1, service::service_fn};
use hyper_util::rt::TokioIo;
use tokio::{net::TcpListener, sync::Semaphore};
use tokio_util::{sync::CancellationToken, task::TaskTracker};
use tower::ServiceExt;

mod deadlines;
mod registry;

pub use self::{
    deadlines::{Deadlines, RequestStart},
    registry::{ConnWatch, Cut, Phase},
};
use self::{
    deadlines::{WatchedIo, overstay},
    registry::Registry,
};
use crate::metrics::Metrics;

/// Hyper's per-connection read buffer, at most: headers are small, and bodies are read chunk by
/// chunk, so a connection holds little memory whatever its client sends. A request head that does
/// not fit is answered 431 by hyper itself, with an empty body: hyper offers no way to shape it.
const MAX_BUFFER: usize = 16 * 1024;
/// The listeners' names in metrics.
pub const PUBLIC_LISTENER: &str = "public";
pub const ADMIN_LISTENER: &str = "admin";
/// The fewest connections the public listener may be capped at: below this a few stalled
/// clients, or a burst of Daily's own deliveries, would fill it.
pub const MIN_CONNECTIONS: usize = 32;

/// The address a request's connection came from, in its extensions.
#[derive(Debug, Clone, Copy)]
pub struct Peer(pub SocketAddr);
/// Pause after a failed `accept` (out of file descriptors, ...), so it does not spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// How one listener treats its connections.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    pub max_connections: usize,
    pub deadlines: Deadlines,
    /// After shutdown begins, how long open requests may take before their connections are cut.
    pub shutdown_grace: Duration,
}

/// Accepts on `listener` and serves `router` until `stop`, then lets open requests finish within
/// the grace and cuts whatever is left.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    stop: CancellationToken,
    metrics: Arc<Metrics>,
    name: &'static str,
) {
    let registry = Registry::new();
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let tracker = TaskTracker::new();
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    tracing::warn!(error = %e, listener = name, "accept failed; pausing");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                    continue;
                }
            },
            () = stop.cancelled() => break,
        };
        // Room is made once someone is actually waiting for it, and never at the expense of the
        // connection just accepted: it is not in the registry yet.
        let permit = match slots.clone().try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => {
                registry.make_room();
                tokio::select! {
                    permit = slots.clone().acquire_owned() => permit.expect("never closed"),
                    () = stop.cancelled() => break,
                }
            }
        };
        // Small answers on kept-alive connections must not wait for Nagle and delayed ACKs.
        let _ = stream.set_nodelay(true);
        let watch = ConnWatch::new(&registry);
        let id = registry.add(watch.clone());
        let (router, stop, metrics, registry) = (
            router.clone(),
            stop.clone(),
            metrics.clone(),
            registry.clone(),
        );
        tracker.spawn(async move {
            metrics.connection_opened(name);
            if let Some(cut) = drive(stream, peer, router, &watch, limits.deadlines, stop).await {
                metrics.connection_cut(name, cut.as_str());
            }
            metrics.connection_closed(name);
            registry.remove(id);
            drop(permit);
        });
    }
    tracker.close();
    if tokio::time::timeout(limits.shutdown_grace, tracker.wait())
        .await
        .is_err()
    {
        let cut = registry.cut_all(Cut::Shutdown);
        tracing::warn!(
            connections = cut,
            listener = name,
            "shutdown grace over: connections cut"
        );
        tracker.wait().await;
    }
}

/// Serves one connection until its client closes it, it overstays a deadline, or it is cut;
/// returns why we closed it, if we did.
async fn drive(
    stream: tokio::net::TcpStream,
    peer: SocketAddr,
    router: Router,
    watch: &Arc<ConnWatch>,
    deadlines: Deadlines,
    stop: CancellationToken,
) -> Option<Cut> {
    let service_watch = watch.clone();
    let service = service_fn(move |mut request: Request<Incoming>| {
        let (router, watch) = (router.clone(), service_watch.clone());
        async move {
            request.extensions_mut().insert(RequestStart(watch.since()));
            request.extensions_mut().insert(Peer(peer));
            watch.enter(Phase::Body);
            request.extensions_mut().insert(watch.clone());
            let response = router.oneshot(request.map(Body::new)).await;
            watch.enter(Phase::Idle);
            Ok::<_, Infallible>(response.unwrap_or_else(|never| match never {}))
        }
    });
    let io = TokioIo::new(WatchedIo::new(stream, watch.clone()));
    let connection = http1::Builder::new()
        .max_buf_size(MAX_BUFFER)
        .header_read_timeout(None)
        .serve_connection(io, service);
    tokio::pin!(connection);
    let mut stopping = false;
    loop {
        tokio::select! {
            _ = connection.as_mut() => return None,
            cut = overstay(watch, deadlines) => return Some(cut),
            () = watch.cut.cancelled() => return Some(watch.cut_reason()),
            () = stop.cancelled(), if !stopping => {
                // Idle connections close now; a request in progress finishes first.
                stopping = true;
                connection.as_mut().graceful_shutdown();
            }
        }
    }
}
