//! The open connections of a listener: where each stands (waiting for a request's headers,
//! reading its body, handling it, idle between requests) and since when, and which one to cut.

use std::{
    collections::HashMap,
    sync::{
        Arc, LazyLock, Mutex, Weak,
        atomic::{AtomicU8, AtomicU64, AtomicUsize, Ordering},
    },
    time::Duration,
};

use tokio::{sync::Notify, time::Instant};
use tokio_util::sync::CancellationToken;

/// What a connection is doing; each phase but `Handling` has a deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Opened, or past its first byte of a request, and waiting for the end of the headers.
    Head,
    /// Headers read; the body is arriving.
    Body,
    /// Body read; storing the event (bounded by the commit deadline and the spool instead).
    Handling,
    /// Between two requests on a kept-alive connection.
    Idle,
}

impl Phase {
    fn from_u8(value: u8) -> Self {
        match value {
            0 => Self::Head,
            1 => Self::Body,
            2 => Self::Handling,
            _ => Self::Idle,
        }
    }
}

/// Why a connection was closed by us rather than by its client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cut {
    HeaderTimeout,
    BodyTimeout,
    IdleTimeout,
    /// Closed to make room for a new connection while at the connection limit.
    Evicted,
    /// Still open when the shutdown grace ran out.
    Shutdown,
}

impl Cut {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::HeaderTimeout => "header_timeout",
            Self::BodyTimeout => "body_timeout",
            Self::IdleTimeout => "idle_timeout",
            Self::Evicted => "evicted",
            Self::Shutdown => "shutdown",
        }
    }
}

/// Every phase change moves a connection's clock; the deadlines of its phase run from there.
pub struct ConnWatch {
    phase: AtomicU8,
    /// Milliseconds since `BASE` when the phase began.
    since_ms: AtomicU64,
    pub(super) generation: AtomicU64,
    cut_reason: AtomicU8,
    /// Cancelled to close the connection now (eviction, end of the shutdown grace).
    pub cut: CancellationToken,
    /// Bytes of the body budget this connection's request holds.
    pub budget_held: AtomicUsize,
    /// Told of every phase change, so a shorter deadline is not slept through on a longer one.
    pub(super) moved: Notify,
    registry: Weak<Registry>,
}

static BASE: LazyLock<Instant> = LazyLock::new(Instant::now);

impl ConnWatch {
    /// A new connection of `registry`: waiting for its first request's headers from now.
    pub fn new(registry: &Arc<Registry>) -> Arc<Self> {
        let watch = Self {
            phase: AtomicU8::new(Phase::Head as u8),
            since_ms: AtomicU64::new(0),
            generation: AtomicU64::new(0),
            cut_reason: AtomicU8::new(u8::MAX),
            cut: CancellationToken::new(),
            budget_held: AtomicUsize::new(0),
            moved: Notify::new(),
            registry: Arc::downgrade(registry),
        };
        watch.enter(Phase::Head);
        Arc::new(watch)
    }

    pub fn enter(&self, phase: Phase) {
        self.since_ms
            .store(BASE.elapsed().as_millis() as u64, Ordering::Relaxed);
        self.phase.store(phase as u8, Ordering::Relaxed);
        self.generation.fetch_add(1, Ordering::Release);
        self.moved.notify_one();
    }

    pub fn phase(&self) -> Phase {
        Phase::from_u8(self.phase.load(Ordering::Relaxed))
    }

    /// When the current phase began.
    pub fn since(&self) -> Instant {
        *BASE + Duration::from_millis(self.since_ms.load(Ordering::Relaxed))
    }

    /// Closes the connection now, for `why`.
    pub fn cut(&self, why: Cut) {
        self.cut_reason.store(why as u8, Ordering::Relaxed);
        self.cut.cancel();
    }

    /// The body budget is spent: makes room by cutting the longest-reading other connection.
    pub fn evict_for_budget(&self) -> bool {
        self.registry
            .upgrade()
            .is_some_and(|registry| registry.evict_oldest_reader(self))
    }

    /// Why `cut` was called.
    pub fn cut_reason(&self) -> Cut {
        match self.cut_reason.load(Ordering::Relaxed) {
            3 => Cut::Evicted,
            _ => Cut::Shutdown,
        }
    }
}

/// The open connections of one listener.
pub struct Registry {
    next_id: AtomicU64,
    open: Mutex<HashMap<u64, Arc<ConnWatch>>>,
}

impl Registry {
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            next_id: AtomicU64::new(0),
            open: Mutex::new(HashMap::new()),
        })
    }

    pub fn add(&self, watch: Arc<ConnWatch>) -> u64 {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        self.open.lock().expect("not poisoned").insert(id, watch);
        id
    }

    pub fn remove(&self, id: u64) {
        self.open.lock().expect("not poisoned").remove(&id);
    }

    /// At the connection cap, with a new connection accepted: cuts the connection that has
    /// waited longest without a request in progress (headers not complete, or idle), else the one
    /// reading its body longest (a body Daily sends arrives whole in milliseconds); false if every
    /// connection is having its request handled.
    pub fn make_room(&self) -> bool {
        let open = self.open.lock().expect("not poisoned");
        let live = || open.values().filter(|w| !w.cut.is_cancelled());
        let oldest = live()
            .filter(|w| matches!(w.phase(), Phase::Head | Phase::Idle))
            .min_by_key(|w| w.since())
            .or_else(|| {
                live()
                    .filter(|w| w.phase() == Phase::Body)
                    .min_by_key(|w| w.since())
            });
        match oldest {
            Some(watch) => {
                watch.cut(Cut::Evicted);
                true
            }
            None => false,
        }
    }

    /// Under budget pressure: cuts the connection that has been reading its body longest while
    /// holding part of the budget (a legitimate body arrives whole in milliseconds), other than
    /// `asking`; false if there is none.
    pub fn evict_oldest_reader(&self, asking: &ConnWatch) -> bool {
        let open = self.open.lock().expect("not poisoned");
        let oldest = open
            .values()
            .filter(|w| {
                w.phase() == Phase::Body
                    && w.budget_held.load(Ordering::Relaxed) > 0
                    && !std::ptr::eq(Arc::as_ptr(w), asking)
                    && !w.cut.is_cancelled()
            })
            .min_by_key(|w| w.since());
        match oldest {
            Some(watch) => {
                watch.cut(Cut::Evicted);
                true
            }
            None => false,
        }
    }

    pub fn cut_all(&self, why: Cut) -> usize {
        let open = self.open.lock().expect("not poisoned");
        open.values().for_each(|w| w.cut(why));
        open.len()
    }
}
