//! Deadlines per connection, not per chunk: each phase has its own, counted from when the phase
//! began; the stream tells the connection's watch when a new request's first byte arrives.

use std::{
    io,
    pin::Pin,
    sync::{Arc, atomic::Ordering},
    task::{Context, Poll},
    time::Duration,
};

use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::TcpStream,
    time::Instant,
};

use super::registry::{ConnWatch, Cut, Phase};

/// When a request began: its first byte, or the opening of its connection for the first one.
#[derive(Debug, Clone, Copy)]
pub struct RequestStart(pub Instant);

/// How long each phase may last.
#[derive(Debug, Clone, Copy)]
pub struct Deadlines {
    pub header: Duration,
    pub body: Duration,
    pub idle: Duration,
}

/// Past the body deadline the handler answers itself; this much later the connection is cut
/// whatever the handler does.
const BODY_GRACE: Duration = Duration::from_secs(1);
/// Completes when the connection overstays its phase, with the reason to cut it. Each phase
/// change wakes it, so the new phase's deadline counts from then, shorter or longer.
pub async fn overstay(watch: &ConnWatch, deadlines: Deadlines) -> Cut {
    loop {
        let generation = watch.generation.load(Ordering::Acquire);
        let limit = match watch.phase() {
            Phase::Head => Some((deadlines.header, Cut::HeaderTimeout)),
            Phase::Body => Some((deadlines.body + BODY_GRACE, Cut::BodyTimeout)),
            Phase::Idle => Some((deadlines.idle, Cut::IdleTimeout)),
            Phase::Handling => None,
        };
        let Some((limit, reason)) = limit else {
            watch.moved.notified().await;
            continue;
        };
        tokio::select! {
            () = tokio::time::sleep_until(watch.since() + limit) => {
                if watch.generation.load(Ordering::Acquire) == generation {
                    return reason;
                }
            }
            () = watch.moved.notified() => {}
        }
    }
}

/// The TCP stream, telling the watch when the first byte of a new request arrives.
pub struct WatchedIo {
    inner: TcpStream,
    watch: Arc<ConnWatch>,
}

impl WatchedIo {
    pub fn new(inner: TcpStream, watch: Arc<ConnWatch>) -> Self {
        Self { inner, watch }
    }
}

impl AsyncRead for WatchedIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before && self.watch.phase() == Phase::Idle {
            self.watch.enter(Phase::Head);
        }
        polled
    }
}

impl AsyncWrite for WatchedIo {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
