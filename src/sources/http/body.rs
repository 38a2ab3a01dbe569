//! Reading a webhook's body: within a deadline for the whole body and a global budget of
//! buffered bytes, checked against its signature before it is put together.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use http_body_util::BodyExt;
use tokio::{
    sync::{OwnedSemaphorePermit, Semaphore},
    time::Instant,
};

use crate::signature::{SignatureError, Verifier};

/// Budget is counted in blocks of this many bytes.
const BLOCK: usize = 1024;

/// Bytes of request bodies held in memory at once, all requests together. A request waits for
/// its share (within its body deadline) rather than pushing memory past the bound.
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

/// A body read whole, with its share of the budget held until it is dropped.
pub struct ReadBody {
    pub bytes: Bytes,
    _budget: Option<OwnedSemaphorePermit>,
}

/// What a body may be.
pub struct BodyRules<'a> {
    pub limit: usize,
    pub budget: &'a BodyBudget,
    /// When the body must have arrived whole.
    pub deadline: Instant,
    pub timeout: std::time::Duration,
}

/// Reads `body` by its rules, then checks it with `verifier` (if any); the chunks are put
/// together only once the signature is known good.
pub async fn read(
    body: Body,
    declared: Option<u64>,
    rules: BodyRules<'_>,
    verifier: Option<Verifier>,
) -> Result<ReadBody, BodyError> {
    if declared.is_some_and(|length| length > rules.limit as u64) {
        return Err(BodyError::TooLarge { limit: rules.limit });
    }
    let (chunks, budget) = tokio::time::timeout_at(rules.deadline, collect(body, &rules))
        .await
        .map_err(|_| BodyError::Timeout(rules.timeout))??;
    if let Some(mut verifier) = verifier {
        chunks.iter().for_each(|chunk| verifier.update(chunk));
        verifier.finish()?;
    }
    let bytes = match chunks.len() {
        0 => Bytes::new(),
        1 => chunks.into_iter().next().expect("one chunk"),
        _ => chunks.concat().into(),
    };
    Ok(ReadBody {
        bytes,
        _budget: budget,
    })
}

type Collected = (Vec<Bytes>, Option<OwnedSemaphorePermit>);

async fn collect(mut body: Body, rules: &BodyRules<'_>) -> Result<Collected, BodyError> {
    let mut chunks = Vec::new();
    let mut held: Option<OwnedSemaphorePermit> = None;
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
            let permit = rules
                .budget
                .0
                .clone()
                .acquire_many_owned(blocks as u32)
                .await
                .expect("never closed");
            reserved += blocks;
            match held.as_mut() {
                Some(all) => all.merge(permit),
                None => held = Some(permit),
            }
        }
        chunks.push(chunk);
    }
    Ok((chunks, held))
}
