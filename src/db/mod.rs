//! Postgres: creating and migrating the database, pools, readiness, which database a URL reaches.

use std::{str::FromStr, time::Duration};

use anyhow::Context;
use sqlx::{
    ConnectOptions, Connection, PgConnection, PgPool,
    postgres::{PgConnectOptions, PgPoolOptions},
};

mod readiness;
mod target;

pub use self::{
    readiness::check_ready,
    target::{Server, Target, Verdict, server_identity},
};
use crate::config::DatabaseUrl;

mod embedded {
    refinery::embed_migrations!("migrations");
}

/// Advisory lock keys ("lobbylog" in ASCII, then a purpose), so concurrent starts serialise.
const CREATE_LOCK: i64 = 0x6c6f_6262_796c_0001;
/// Held by whoever migrates the database; readiness reads it to tell "migrating" from "behind".
pub const MIGRATE_LOCK: i64 = 0x6c6f_6262_796c_0002;

/// Creates the database, applies migrations and opens a pool: what `serve` and `migrate` do.
pub async fn prepare(url: &DatabaseUrl, max_connections: u32) -> anyhow::Result<PgPool> {
    ensure_database(url).await?;
    migrate(url).await?;
    connect_pool(url, max_connections).await
}

/// Opens an existing database, applies any migration it lacks and opens a pool: what every other
/// command does. A database that does not exist is an error naming it, never created: a typo in
/// `DATABASE_URL` must not make a new, empty database.
pub async fn open(url: &DatabaseUrl, max_connections: u32) -> anyhow::Result<PgPool> {
    let options = connect_options(url)?;
    anyhow::ensure!(
        database_exists(url, &options).await?,
        "database {} does not exist at {url}: check DATABASE_URL, or create it with \
         `lobbylog migrate` (or `lobbylog serve`)",
        options.get_database().unwrap_or("postgres")
    );
    migrate(url).await?;
    // A command's large statements (a COPY of thousands of rows, the rollups of a whole backfill)
    // take seconds by design: sqlx's "slow statement" warning would only alarm; it stays at INFO.
    let options = options.log_slow_statements(tracing::log::LevelFilter::Info, SLOW_STATEMENT);
    connect_pool_with(url, options, max_connections).await
}

/// sqlx's default threshold for a slow statement.
const SLOW_STATEMENT: Duration = Duration::from_secs(1);

/// Whether the database `options` name exists, found by connecting to it.
async fn database_exists(url: &DatabaseUrl, options: &PgConnectOptions) -> anyhow::Result<bool> {
    match PgConnection::connect_with(options).await {
        Ok(conn) => conn.close().await.context("closing the probe connection")?,
        // invalid_catalog_name: the database does not exist.
        Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("3D000") => return Ok(false),
        Err(e) => return Err(e).with_context(|| format!("cannot connect to Postgres at {url}")),
    }
    Ok(true)
}

async fn connect_pool(url: &DatabaseUrl, max_connections: u32) -> anyhow::Result<PgPool> {
    connect_pool_with(url, connect_options(url)?, max_connections).await
}

async fn connect_pool_with(
    url: &DatabaseUrl,
    options: PgConnectOptions,
    max_connections: u32,
) -> anyhow::Result<PgPool> {
    PgPoolOptions::new()
        .max_connections(max_connections)
        // Fail fast: a request waiting on a dead database helps nobody.
        .acquire_timeout(Duration::from_secs(3))
        .connect_with(options)
        .await
        .with_context(|| format!("cannot connect to {url}"))
}

/// One connection, now: fails with the connection's own error (refused, no such database...).
pub async fn connect(url: &DatabaseUrl) -> anyhow::Result<PgConnection> {
    PgConnection::connect_with(&connect_options(url)?)
        .await
        .with_context(|| format!("cannot connect to {url}"))
}

/// A pool that connects on first use, so the service can start while Postgres is down.
pub fn lazy_pool(url: &DatabaseUrl, max_connections: u32) -> anyhow::Result<PgPool> {
    Ok(PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(3))
        .connect_lazy_with(connect_options(url)?))
}

/// A small pool of its own for the dashboard's reads, so a heavy page never takes the connections
/// webhooks need. Its sessions turn JIT off (compiling costs more than these reads take) and give
/// sorts and hashes room enough not to spill to disk.
pub fn lazy_read_pool(url: &DatabaseUrl) -> anyhow::Result<PgPool> {
    let options = connect_options(url)?.options([
        ("jit", "off"),
        ("work_mem", "32MB"),
        ("statement_timeout", "30s"),
    ]);
    Ok(PgPoolOptions::new()
        .max_connections(4)
        .acquire_timeout(Duration::from_secs(3))
        .connect_lazy_with(options))
}

fn connect_options(url: &DatabaseUrl) -> anyhow::Result<PgConnectOptions> {
    PgConnectOptions::from_str(url.expose())
        .map(|o| o.log_statements(tracing::log::LevelFilter::Trace))
        .with_context(|| format!("DATABASE_URL is not a valid Postgres URL: {url}"))
}

/// Creates the database named in the URL if it does not exist yet.
pub async fn ensure_database(url: &DatabaseUrl) -> anyhow::Result<()> {
    let options = connect_options(url)?;
    let name = options.get_database().unwrap_or("postgres").to_owned();
    if database_exists(url, &options).await? {
        return Ok(());
    }
    let mut admin = PgConnection::connect_with(&options.clone().database("postgres"))
        .await
        .with_context(|| format!("cannot connect to Postgres at {url}"))?;
    // Processes starting together wait for each other here; the lock goes with the connection.
    sqlx::query("select pg_advisory_lock($1)")
        .bind(CREATE_LOCK)
        .execute(&mut admin)
        .await
        .context("waiting for the database-creation lock")?;
    let exists: bool =
        sqlx::query_scalar("select exists (select 1 from pg_database where datname = $1)")
            .bind(&name)
            .fetch_one(&mut admin)
            .await
            .context("looking up the database")?;
    if !exists {
        create_database(&mut admin, &name).await?;
    }
    admin.close().await.context("closing the admin connection")
}

async fn create_database(admin: &mut PgConnection, name: &str) -> anyhow::Result<()> {
    // The name is quoted as an identifier; it comes from our own configuration.
    let created = sqlx::query(sqlx::AssertSqlSafe(format!(
        "create database {}",
        quote_ident(name)
    )))
    .execute(admin)
    .await;
    match created {
        Ok(_) => tracing::info!(database = %name, "created database"),
        // Created meanwhile by a process that did not take the lock (an older version).
        Err(sqlx::Error::Database(e)) if matches!(e.code().as_deref(), Some("42P04" | "23505")) => {
        }
        Err(e) => return Err(e).with_context(|| format!("cannot create database {name}")),
    }
    Ok(())
}

/// Applies the embedded refinery migrations over a short-lived tokio-postgres connection.
pub async fn migrate(url: &DatabaseUrl) -> anyhow::Result<()> {
    let (mut client, connection) = tokio_postgres::connect(url.expose(), tokio_postgres::NoTls)
        .await
        .with_context(|| format!("cannot connect to {url} to migrate"))?;
    let driver = tokio::spawn(connection);
    // One migrating process at a time per database; the others then find nothing left to do.
    client
        .execute("select pg_advisory_lock($1)", &[&MIGRATE_LOCK])
        .await
        .context("waiting for the migration lock")?;
    let report = embedded::migrations::runner()
        .run_async(&mut client)
        .await
        .context("cannot apply the migrations")?;
    for migration in report.applied_migrations() {
        tracing::info!(migration = %migration, "applied migration");
    }
    drop(client);
    let _ = driver.await;
    Ok(())
}

/// The newest migration version this binary carries.
fn latest_migration() -> i32 {
    embedded::migrations::runner()
        .get_migrations()
        .iter()
        .map(|m| m.version())
        .max()
        .unwrap_or(0)
}

pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    #[test]
    fn identifiers_are_quoted() {
        assert_eq!(super::quote_ident(r#"we"ird"#), r#""we""ird""#);
    }
}
