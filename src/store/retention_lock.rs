//! The retention lock: one prune or reproject at a time, across processes and replicas.

use std::{
    sync::atomic::{AtomicBool, Ordering},
    time::Duration,
};

use anyhow::Context;
use sqlx::{Connection, PgConnection, PgPool};

use super::retention;

const POLL: Duration = Duration::from_millis(500);

/// A Postgres advisory lock held by a connection of its own, taken out of the pool: if this
/// process dies, the session ends and Postgres releases the lock; no pooled connection can leak it.
pub struct RetentionLock {
    conn: PgConnection,
}

impl RetentionLock {
    /// Takes the lock if it is free.
    pub async fn try_take(pool: &PgPool) -> anyhow::Result<Option<Self>> {
        let mut conn = connect(pool).await?;
        if try_lock(&mut conn).await? {
            return Ok(Some(Self { conn }));
        }
        let _ = conn.close().await;
        Ok(None)
    }

    /// Waits for the lock, saying so once; `None` if `stop` is set first.
    pub async fn take(pool: &PgPool, who: &str, stop: &AtomicBool) -> anyhow::Result<Option<Self>> {
        let mut conn = connect(pool).await?;
        let mut said = false;
        while !try_lock(&mut conn).await? {
            if !said {
                tracing::info!(
                    "{who}: another prune or reproject holds the retention lock; waiting for it"
                );
                said = true;
            }
            if stop.load(Ordering::Relaxed) {
                let _ = conn.close().await;
                return Ok(None);
            }
            tokio::time::sleep(POLL).await;
        }
        Ok(Some(Self { conn }))
    }

    /// The connection holding the lock, for the work it protects.
    pub fn conn(&mut self) -> &mut PgConnection {
        &mut self.conn
    }

    pub async fn release(mut self) -> anyhow::Result<()> {
        retention::unlock(&mut self.conn)
            .await
            .context("cannot release the retention lock")?;
        self.conn
            .close()
            .await
            .context("closing the lock's connection")
    }
}

async fn connect(pool: &PgPool) -> anyhow::Result<PgConnection> {
    let conn = pool
        .acquire()
        .await
        .context("cannot connect to take the retention lock")?;
    Ok(conn.detach())
}

async fn try_lock(conn: &mut PgConnection) -> anyhow::Result<bool> {
    retention::try_lock(conn)
        .await
        .context("cannot take the retention lock")
}
