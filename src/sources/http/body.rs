//! Reading a webhook's body: within a deadline for the whole body and a global budget of
//! buffered bytes, checked against its signature before it is put together.

use std::sync::{Arc, atomic::Ordering};

use axum::body::{Body, Bytes};
use http_body_util::BodyExt;
use tokio::{
    sync::{OwnedSemaphorePermit, Semaphore},
    time::Instant,
};

use super::watch::ConnWatch;
use crate::signature::{SignatureError, Verifier};

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
}

/// Reads `body` by its rules, then checks it with `verifier` (if any). The chunks are put
/// together only once the signature is known good, and the budget is given back then: an
/// authentic body counts against `LOBBYLOG_MAX_IN_FLIGHT` instead.
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
    let chunks = tokio::time::timeout_at(rules.deadline, collect(body, &rules, &mut held))
        .await
        .map_err(|_| BodyError::Timeout(rules.timeout))??;
    if let Some(mut verifier) = verifier {
        chunks.iter().for_each(|chunk| verifier.update(chunk));
        verifier.finish()?;
    }
    drop(held);
    Ok(match chunks.len() {
        0 => Bytes::new(),
        1 => chunks.into_iter().next().expect("one chunk"),
        _ => chunks.concat().into(),
    })
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

async fn collect(
    mut body: Body,
    rules: &BodyRules<'_>,
    held: &mut Held<'_>,
) -> Result<Vec<Bytes>, BodyError> {
    let mut chunks = Vec::new();
    let (mut received, mut reserved) = (0usize, 0usize);
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| BodyError::Unreadable(e.to_string()))?;
        let Ok(chunk) = frame.into_data() else {
            continue;
        };
        received += chunk.len();
        if received > rules.limit {
            return Err(BodyError::TooLarge { limit: rules.limit });
        }
        let blocks = received.div_ceil(BLOCK) - reserved;
        if blocks > 0 {
            let permit = reserve(rules, blocks as u32).await;
            reserved += blocks;
            held.add(permit, blocks * BLOCK);
        }
        chunks.push(chunk);
    }
    Ok(chunks)
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
