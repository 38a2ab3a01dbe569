//! Group commit: the items of concurrent requests share one transaction, within a deadline.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use sqlx::PgPool;
use tokio::sync::{Semaphore, mpsc, oneshot};

use super::{Availability, Item, Outcome};
use crate::metrics::Metrics;

/// Batches committing at once: two keep Postgres busy while the next batch forms; more only
/// make each batch smaller and each event dearer (measured with bench/intake.sh).
const IN_FLIGHT_BATCHES: usize = 2;

#[derive(Debug, Clone)]
pub struct GroupCommitSettings {
    /// Off: one transaction per request.
    pub enabled: bool,
    pub max_events: usize,
    pub max_wait: Duration,
    /// A request whose item has not committed by then is spooled instead.
    pub deadline: Duration,
}

/// Why an item could not be written to Postgres now (the caller spools it).
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct Unavailable(pub String);

type Reply = oneshot::Sender<Result<Outcome, Unavailable>>;

/// Hands items to a batching task that writes them through `store::write`.
#[derive(Clone)]
pub struct GroupCommitWriter {
    pool: PgPool,
    metrics: Arc<Metrics>,
    jobs: Option<mpsc::Sender<(Item, Reply)>>,
    deadline: Duration,
    availability: Availability,
}

impl GroupCommitWriter {
    /// Starts the batching task when group commit is on.
    pub fn start(
        pool: PgPool,
        settings: &GroupCommitSettings,
        availability: Availability,
        metrics: Arc<Metrics>,
    ) -> Self {
        let jobs = settings.enabled.then(|| {
            let (tx, rx) = mpsc::channel(settings.max_events * IN_FLIGHT_BATCHES);
            tokio::spawn(dispatch(
                rx,
                pool.clone(),
                settings.clone(),
                metrics.clone(),
            ));
            tx
        });
        Self {
            pool,
            metrics,
            jobs,
            deadline: settings.deadline,
            availability,
        }
    }

    /// Writes one item, in a shared batch when group commit is on. Fails at once while Postgres
    /// is marked unavailable, and marks it so when the write fails or misses the deadline.
    pub async fn write(&self, item: Item) -> Result<Outcome, Unavailable> {
        if !self.availability.is_up() {
            return Err(Unavailable("postgres is marked unavailable".into()));
        }
        let result = match tokio::time::timeout(self.deadline, self.submit(item)).await {
            Ok(result) => result,
            Err(_) => Err(Unavailable(format!(
                "not committed within {:?}",
                self.deadline
            ))),
        };
        if let Err(Unavailable(why)) = &result {
            self.availability.mark_down(why);
        }
        result
    }

    async fn submit(&self, item: Item) -> Result<Outcome, Unavailable> {
        let Some(jobs) = &self.jobs else {
            let started = Instant::now();
            let outcomes = super::write(&self.pool, std::slice::from_ref(&item))
                .await
                .map_err(|e| Unavailable(e.to_string()))?;
            self.metrics.batch(1, started.elapsed().as_secs_f64());
            return Ok(outcomes[0]);
        };
        let (reply, answer) = oneshot::channel();
        jobs.send((item, reply))
            .await
            .map_err(|_| Unavailable("writer stopped".into()))?;
        answer
            .await
            .map_err(|_| Unavailable("writer stopped".into()))?
    }
}

/// Gathers jobs into batches and commits them, at most `IN_FLIGHT_BATCHES` at once.
///
/// A batch is formed only when a commit slot is free, so while Postgres is busy the queue grows
/// into the next batch: no wait under light load, large batches under heavy load. `max_wait`
/// optionally holds a batch open for latecomers.
async fn dispatch(
    mut rx: mpsc::Receiver<(Item, Reply)>,
    pool: PgPool,
    settings: GroupCommitSettings,
    metrics: Arc<Metrics>,
) {
    let slots = Arc::new(Semaphore::new(IN_FLIGHT_BATCHES));
    loop {
        let slot = slots.clone().acquire_owned().await.expect("never closed");
        let Some(first) = rx.recv().await else { return };
        let mut batch = vec![first];
        let until = tokio::time::Instant::now() + settings.max_wait;
        while batch.len() < settings.max_events {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) if settings.max_wait.is_zero() => break,
                Err(_) => match tokio::time::timeout_at(until, rx.recv()).await {
                    Ok(Some(job)) => batch.push(job),
                    _ => break,
                },
            }
        }
        let (pool, metrics) = (pool.clone(), metrics.clone());
        tokio::spawn(async move {
            commit(&pool, batch, &metrics).await;
            drop(slot);
        });
    }
}

async fn commit(pool: &PgPool, batch: Vec<(Item, Reply)>, metrics: &Metrics) {
    let (items, replies): (Vec<Item>, Vec<Reply>) = batch.into_iter().unzip();
    let started = Instant::now();
    match super::write(pool, &items).await {
        Ok(outcomes) => {
            metrics.batch(items.len(), started.elapsed().as_secs_f64());
            for (reply, outcome) in replies.into_iter().zip(outcomes) {
                let _ = reply.send(Ok(outcome));
            }
        }
        Err(e) => {
            tracing::error!(
                error = &e as &dyn std::error::Error,
                items = items.len(),
                "batch not committed"
            );
            for reply in replies {
                let _ = reply.send(Err(Unavailable(e.to_string())));
            }
        }
    }
}
