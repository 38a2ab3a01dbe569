//! What `serve` runs, wired: the spool, the group-commit writer, the drainer and the HTTP intake's
//! state; and the database prepared in the background.

use std::{future::Future, path::PathBuf, pin::Pin, sync::Arc, time::Duration};

use sqlx::PgPool;

use crate::{
    config::DatabaseUrl,
    db,
    metrics::{Metrics, SpoolLevels},
    sources::{
        http::{AppState, Fallback, HttpSettings},
        spool::{self, Spool},
    },
    store::{Availability, GroupCommitSettings, GroupCommitWriter},
};

/// Everything `serve` is configured with, once parsed.
#[derive(Debug, Clone)]
pub struct Settings {
    pub http: HttpSettings,
    pub group_commit: GroupCommitSettings,
    pub spool_dir: PathBuf,
    pub spool_max_bytes: u64,
}

/// The running pipeline behind the listener.
pub struct Pipeline {
    pub state: AppState,
    pub spool: Spool,
    /// Whether Postgres takes writes; the drainer's probe raises it once the database is ready.
    pub availability: Availability,
}

/// Opens the spool and starts the group-commit writer and the spool drainer. Until the drainer
/// finds the database reachable and migrated, events go to the spool.
pub fn start(pool: PgPool, settings: Settings) -> std::io::Result<Pipeline> {
    let spool = Spool::open(
        &settings.spool_dir,
        settings.spool_max_bytes,
        db::Target::of(&pool),
    )?;
    let metrics = Arc::new(Metrics::default());
    let availability = Availability::new();
    let writer = GroupCommitWriter::start(
        pool.clone(),
        &settings.group_commit,
        availability.clone(),
        metrics.clone(),
    );
    tokio::spawn(spool::drain_forever(
        spool.clone(),
        pool.clone(),
        availability.clone(),
        metrics.clone(),
    ));
    let state = AppState::new(
        pool,
        settings.http,
        writer,
        Arc::new(spool.clone()),
        metrics,
    );
    Ok(Pipeline {
        state,
        spool,
        availability,
    })
}

impl Fallback for Spool {
    fn keep<'a>(
        &'a self,
        body: &'a [u8],
    ) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'a>> {
        Box::pin(async move { self.append(body).await.map_err(|e| e.to_string()) })
    }

    fn levels(&self) -> SpoolLevels {
        self.depth.levels()
    }
}

/// Creates and migrates the database, retrying with backoff until Postgres answers.
pub async fn bring_up(url: DatabaseUrl) {
    let mut delay = Duration::from_secs(1);
    loop {
        let prepared = async {
            db::ensure_database(&url).await?;
            db::migrate(&url).await
        };
        match prepared.await {
            Ok(()) => return,
            Err(e) => {
                tracing::error!(
                    error = format!("{e:#}"),
                    retry_in_s = delay.as_secs(),
                    "database not ready; spooling meanwhile"
                );
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(30));
            }
        }
    }
}
