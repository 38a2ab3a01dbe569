//! Reading a webhook's body: within a deadline for the whole body and a global budget of
//! buffered bytes, checked against its signature before it is put together.

use std::sync::{
    Arc,
    atomic::{AtomicUsize, Ordering},
};

use axum::body::{Body, Bytes};
use http_body_util::BodyExt;
use hyper::body::Body as _;
use tokio::{
    sync::{OwnedSemaphorePermit, Semaphore},
    time::Instant,
};

use crate::{
    edge::ConnWatch,
    signature::{SignatureError, Verifier},
};

/// Budget is counted in blocks of this many bytes.
const BLOCK: usize = 1024;

/// Bytes of request bodies being read at once, all requests together. When it is spent, the
/// connection that has been reading its body longest is cut to make room: a body Daily sends
/// arrives whole in milliseconds, so whoever holds budget long is stalling.
#[derive(Debug, Clone)]
pub struct BodyBudget(Arc<Semaphore>);

impl BodyBudget {
    pub fn new(bytes: usize) -> Self {
        Self(Arc::new(Semaphore::new(bytes.div_ceil(BLOCK))))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    #[error("request body is larger than {limit} bytes")]
    TooLarge { limit: usize },
    #[error("request body not received within {0:?}")]
    Timeout(std::time::Duration),
    #[error("request body could not be read: {0}")]
    Unreadable(String),
    #[error(transparent)]
    Signature(#[from] SignatureError),
}

/// What a body may be.
pub struct BodyRules<'a> {
    pub limit: usize,
    pub budget: &'a BodyBudget,
    /// When the body must have arrived whole.
    pub deadline: Instant,
    pub timeout: std::time::Duration,
    /// The connection it arrives on, to account its share of the budget.
    pub watch: Option<&'a ConnWatch>,
    /// Bytes of the body received so far, for the record of a refused request.
    pub received: &'a AtomicUsize,
}

/// Reads `body` by its rules, then checks it with `verifier` (if any). The budget is given back
/// once the signature is known good: an authentic body counts against `LOBBYLOG_MAX_IN_FLIGHT`
/// instead.
pub async fn read(
    body: Body,
    declared: Option<u64>,
    rules: BodyRules<'_>,
    verifier: Option<Verifier>,
) -> Result<Bytes, BodyError> {
    if declared.is_some_and(|length| length > rules.limit as u64) {
        return Err(BodyError::TooLarge { limit: rules.limit });
    }
    let mut held = Held {
        permit: None,
        watch: rules.watch,
    };
    let body = tokio::time::timeout_at(rules.deadline, collect(body, &rules, &mut held))
        .await
        .map_err(|_| BodyError::Timeout(rules.timeout))??;
    if let Some(mut verifier) = verifier {
        verifier.update(&body);
        verifier.finish()?;
    }
    drop(held);
    Ok(body)
}

/// The budget a request holds, given back (and its connection's count cleared) when dropped.
struct Held<'a> {
    permit: Option<OwnedSemaphorePermit>,
    watch: Option<&'a ConnWatch>,
}

impl Held<'_> {
    fn add(&mut self, permit: OwnedSemaphorePermit, bytes: usize) {
        match self.permit.as_mut() {
            Some(all) => all.merge(permit),
            None => self.permit = Some(permit),
        }
        if let Some(watch) = self.watch {
            watch.budget_held.fetch_add(bytes, Ordering::Relaxed);
        }
    }
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        if let Some(watch) = self.watch {
            watch.budget_held.store(0, Ordering::Relaxed);
        }
    }
}

/// Reads the body's frames into one buffer. A body that arrives in one frame is kept as it is;
/// otherwise each frame is copied and let go at once, because a frame split off the connection's
/// read buffer pins the whole of that buffer: a body trickled a byte at a time would otherwise
/// hold a buffer per byte, outside the budget. The budget is charged for the buffer's capacity.
async fn collect(
    mut body: Body,
    rules: &BodyRules<'_>,
    held: &mut Held<'_>,
) -> Result<Bytes, BodyError> {
    let mut whole: Option<Bytes> = None;
    let mut copied: Vec<u8> = Vec::new();
    let mut reserved_blocks = 0usize;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| BodyError::Unreadable(e.to_string()))?;
        let Ok(chunk) = frame.into_data() else {
            continue;
        };
        let received = whole.as_ref().map_or(copied.len(), Bytes::len) + chunk.len();
        rules.received.store(received, Ordering::Relaxed);
        if received > rules.limit {
            return Err(BodyError::TooLarge { limit: rules.limit });
        }
        let capacity = if whole.is_none() && copied.is_empty() && body.is_end_stream() {
            whole = Some(chunk);
            received
        } else {
            grow(&mut copied, received, rules.limit);
            if let Some(first) = whole.take() {
                copied.extend_from_slice(&first);
            }
            copied.extend_from_slice(&chunk);
            copied.capacity()
        };
        let blocks = capacity.div_ceil(BLOCK).saturating_sub(reserved_blocks);
        if blocks > 0 {
            let permit = reserve(rules, blocks as u32).await;
            reserved_blocks += blocks;
            held.add(permit, blocks * BLOCK);
        }
    }
    Ok(whole.unwrap_or_else(|| copied.into()))
}

/// Makes room in `buffer` for `needed` bytes, doubling at most up to `limit`, so its capacity
/// (what the budget is charged) never passes the body limit.
fn grow(buffer: &mut Vec<u8>, needed: usize, limit: usize) {
    if needed <= buffer.capacity() {
        return;
    }
    let target = needed.max(buffer.capacity() * 2).max(BLOCK).min(limit);
    buffer.reserve_exact(target - buffer.len());
}

/// Takes `blocks` of the budget, first making room if it is spent.
async fn reserve(rules: &BodyRules<'_>, blocks: u32) -> OwnedSemaphorePermit {
    let budget = &rules.budget.0;
    if let Ok(permit) = budget.clone().try_acquire_many_owned(blocks) {
        return permit;
    }
    if let Some(watch) = rules.watch {
        watch.evict_for_budget();
    }
    budget
        .clone()
        .acquire_many_owned(blocks)
        .await
        .expect("never closed")
}
