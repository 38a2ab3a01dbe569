//! Group commit: the events of concurrent requests share one transaction, within a deadline.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use sqlx::PgPool;
use tokio::sync::{Semaphore, mpsc, oneshot};

use crate::{
    event::Event,
    metrics::Metrics,
    store::{self, Outcome},
};

/// Batches committing at once: two keep Postgres busy while the next batch forms; more only
/// make each batch smaller and each event dearer (measured with bench/intake.sh).
const IN_FLIGHT_BATCHES: usize = 2;

#[derive(Debug, Clone)]
pub struct GroupCommit {
    /// Off: one transaction per request.
    pub enabled: bool,
    pub max_events: usize,
    pub max_wait: Duration,
    /// A request whose event has not committed by then is spooled instead.
    pub deadline: Duration,
}

/// Why an event could not be stored in Postgres now (the caller spools it).
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct Unavailable(pub String);

type Reply = oneshot::Sender<Result<Outcome, Unavailable>>;

#[derive(Clone)]
pub struct Writer {
    pool: PgPool,
    metrics: Arc<Metrics>,
    jobs: Option<mpsc::Sender<(Event, Reply)>>,
    deadline: Duration,
    healthy: Arc<AtomicBool>,
}

impl Writer {
    /// Starts the batching task when group commit is on. Starts unhealthy: see `set_healthy`.
    pub fn start(pool: PgPool, settings: &GroupCommit, metrics: Arc<Metrics>) -> Self {
        let healthy = Arc::new(AtomicBool::new(false));
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
            healthy,
        }
    }

    /// Whether Postgres is believed to take writes; while it is not, callers spool at once.
    pub fn is_healthy(&self) -> bool {
        self.healthy.load(Ordering::Relaxed)
    }

    pub fn set_healthy(&self, healthy: bool) {
        if self.healthy.swap(healthy, Ordering::Relaxed) != healthy {
            if healthy {
                tracing::info!("postgres takes writes again");
            } else {
                tracing::warn!("postgres is not taking writes: spooling events");
            }
        }
    }

    /// Stores one event, in a shared batch when group commit is on.
    pub async fn store(&self, event: Event) -> Result<Outcome, Unavailable> {
        self.within_deadline(async {
            match &self.jobs {
                Some(jobs) => {
                    let (reply, answer) = oneshot::channel();
                    jobs.send((event, reply))
                        .await
                        .map_err(|_| Unavailable("writer stopped".into()))?;
                    answer
                        .await
                        .map_err(|_| Unavailable("writer stopped".into()))?
                }
                None => {
                    let started = Instant::now();
                    let outcomes =
                        store::write_batch(&self.pool, "intake", std::slice::from_ref(&event))
                            .await
                            .map_err(|e| Unavailable(e.to_string()))?;
                    self.metrics.batch(1, started.elapsed().as_secs_f64());
                    Ok(outcomes[0])
                }
            }
        })
        .await
    }

    pub async fn dead_letter(&self, reason: &str, body: &[u8]) -> Result<(), Unavailable> {
        self.within_deadline(async {
            store::write_dead_letter(&self.pool, "intake", reason, body)
                .await
                .map_err(|e| Unavailable(e.to_string()))
        })
        .await
    }

    async fn within_deadline<T>(
        &self,
        work: impl Future<Output = Result<T, Unavailable>>,
    ) -> Result<T, Unavailable> {
        if !self.is_healthy() {
            return Err(Unavailable("postgres is marked unavailable".into()));
        }
        let result = match tokio::time::timeout(self.deadline, work).await {
            Ok(result) => result,
            Err(_) => Err(Unavailable(format!(
                "not committed within {:?}",
                self.deadline
            ))),
        };
        if result.is_err() {
            self.set_healthy(false);
        }
        result
    }
}

/// Gathers jobs into batches and commits them, at most `IN_FLIGHT_BATCHES` at once.
///
/// A batch is formed only when a commit slot is free, so while Postgres is busy the queue grows
/// into the next batch: no wait under light load, large batches under heavy load. `max_wait`
/// optionally holds a batch open for latecomers.
async fn dispatch(
    mut rx: mpsc::Receiver<(Event, Reply)>,
    pool: PgPool,
    settings: GroupCommit,
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

async fn commit(pool: &PgPool, batch: Vec<(Event, Reply)>, metrics: &Metrics) {
    let (events, replies): (Vec<Event>, Vec<Reply>) = batch.into_iter().unzip();
    let started = Instant::now();
    match store::write_batch(pool, "intake", &events).await {
        Ok(outcomes) => {
            metrics.batch(events.len(), started.elapsed().as_secs_f64());
            for (reply, outcome) in replies.into_iter().zip(outcomes) {
                let _ = reply.send(Ok(outcome));
            }
        }
        Err(e) => {
            tracing::error!(
                error = &e as &dyn std::error::Error,
                events = events.len(),
                "batch not committed"
            );
            for reply in replies {
                let _ = reply.send(Err(Unavailable(e.to_string())));
            }
        }
    }
}
