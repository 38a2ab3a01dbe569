//! Group commit: the items of concurrent requests share one transaction, within a deadline.

use std::{
    collections::VecDeque,
    sync::Arc,
    time::{Duration, Instant},
};

use sqlx::PgPool;
use tokio::sync::{mpsc, oneshot};

use super::{Availability, Outcome};
use crate::metrics::Metrics;
use crate::triage::Item;

#[derive(Debug, Clone)]
pub struct GroupCommitSettings {
    /// Off: one transaction per request.
    pub enabled: bool,
    pub max_events: usize,
    /// Batches committing at once, at most (each on a connection of its own).
    pub max_batches: usize,
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
            let (tx, rx) = mpsc::channel(settings.max_events * settings.max_batches);
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

/// A batch starts while others are committing only once this many items wait: smaller ones
/// would cost more per event than they save in waiting.
const MIN_SHARED_BATCH: usize = 16;

type Job = (Item, Reply, Instant);

/// Gathers jobs into batches and commits them, as many at once as the pool allows.
///
/// With nothing committing, a batch starts at once with whatever waits (or after `max_wait`, if
/// set, for latecomers). While batches commit, another starts as soon as enough items wait to
/// make it worth a transaction of its own; so under load Postgres works on several batches at
/// once (on several cores, or across network round trips), and under light load a request waits
/// for nobody.
async fn dispatch(
    mut rx: mpsc::Receiver<(Item, Reply)>,
    pool: PgPool,
    settings: GroupCommitSettings,
    metrics: Arc<Metrics>,
) {
    let (done_tx, mut done) = mpsc::unbounded_channel::<()>();
    let mut queue: VecDeque<Job> = VecDeque::new();
    let mut in_flight = 0usize;
    let mut open = true;
    loop {
        let oldest = queue.front().map(|job| job.2);
        let flush_at = oldest.map(|t| tokio::time::Instant::from_std(t + settings.max_wait));
        tokio::select! {
            job = rx.recv(), if open => match job {
                Some((item, reply)) => queue.push_back((item, reply, Instant::now())),
                None => open = false,
            },
            Some(()) = done.recv() => in_flight -= 1,
            () = sleep_until_some(flush_at), if !settings.max_wait.is_zero() => {}
        }
        while let Ok((item, reply)) = rx.try_recv() {
            queue.push_back((item, reply, Instant::now()));
        }
        while let Some(size) = next_batch(&queue, in_flight, &settings) {
            let batch: Vec<Job> = queue.drain(..size).collect();
            in_flight += 1;
            let (pool, metrics, done_tx) = (pool.clone(), metrics.clone(), done_tx.clone());
            tokio::spawn(async move {
                commit(&pool, batch, &metrics).await;
                let _ = done_tx.send(());
            });
        }
        if !open && queue.is_empty() && in_flight == 0 {
            return;
        }
    }
}

/// How many queued items to commit now, if a batch should start.
fn next_batch(
    queue: &VecDeque<Job>,
    in_flight: usize,
    settings: &GroupCommitSettings,
) -> Option<usize> {
    let waiting = queue.len();
    if waiting == 0 || in_flight >= settings.max_batches {
        return None;
    }
    let waited = queue
        .front()
        .is_some_and(|job| job.2.elapsed() >= settings.max_wait);
    let full = waiting >= settings.max_events;
    let start = if in_flight == 0 {
        waited || full
    } else {
        waiting >= MIN_SHARED_BATCH || (waited && !settings.max_wait.is_zero())
    };
    if !start {
        return None;
    }
    // Share what waits among the free slots, so one batch does not take it all while others idle.
    let free = settings.max_batches - in_flight;
    let share = waiting.div_ceil(free).max(MIN_SHARED_BATCH);
    Some(share.min(waiting).min(settings.max_events))
}

async fn sleep_until_some(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

async fn commit(pool: &PgPool, batch: Vec<Job>, metrics: &Metrics) {
    let (items, replies): (Vec<Item>, Vec<Reply>) = batch
        .into_iter()
        .map(|(item, reply, _)| (item, reply))
        .unzip();
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
