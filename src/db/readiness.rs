//! Readiness: whether the database answers and carries every migration, and if not, what is wrong.

use std::time::Duration;

use sqlx::{Connection, PgConnection, PgPool, postgres::PgConnectOptions};

use super::{MIGRATE_LOCK, latest_migration};

/// How long the readiness query may take before Postgres is asked, on a connection of its own,
/// why the pool gave none.
const ANSWER_WITHIN: Duration = Duration::from_secs(2);
const CONNECT_WITHIN: Duration = Duration::from_secs(1);
// Postgres' SQLSTATEs: invalid_catalog_name, undefined_table.
const NO_SUCH_DATABASE: &str = "3D000";
const NO_SUCH_TABLE: &str = "42P01";

/// Whether the database answers within 2 seconds and carries every migration this binary knows;
/// if not, what is wrong: Postgres unreachable, the database missing, migrations running or not
/// applied.
pub async fn check_ready(pool: &PgPool) -> Result<(), String> {
    let options = pool.connect_options();
    let query = sqlx::query_scalar("select max(version) from refinery_schema_history");
    let applied: Option<i32> =
        match tokio::time::timeout(ANSWER_WITHIN, query.fetch_one(pool)).await {
            Ok(Ok(version)) => version,
            Ok(Err(e)) if code(&e).as_deref() == Some(NO_SUCH_TABLE) => None,
            Ok(Err(e)) if code(&e).is_some() => return Err(refusal(&e, &options)),
            Ok(Err(_)) | Err(_) => return Err(why_no_answer(&options).await),
        };
    let latest = latest_migration();
    match applied {
        Some(v) if v >= latest => Ok(()),
        applied => Err(behind(pool, &options, applied, latest).await),
    }
}

/// Why the pool gave no answer in time: a connection of its own says what stops it (the pool
/// retries a refused connection until its own timeout, and keeps the error to itself).
async fn why_no_answer(options: &PgConnectOptions) -> String {
    match tokio::time::timeout(CONNECT_WITHIN, PgConnection::connect_with(options)).await {
        Ok(Ok(conn)) => {
            let _ = conn.close().await;
            format!(
                "Postgres at {} accepts connections, but the readiness query got no answer \
                 within {} s (every pooled connection busy, or Postgres stalled)",
                server(options),
                ANSWER_WITHIN.as_secs()
            )
        }
        Ok(Err(e)) if code(&e).is_some() => refusal(&e, options),
        Ok(Err(e)) => format!("Postgres unreachable at {}: {e}", server(options)),
        Err(_) => format!(
            "Postgres unreachable at {}: no answer within {} s",
            server(options),
            (ANSWER_WITHIN + CONNECT_WITHIN).as_secs()
        ),
    }
}

/// What Postgres answered instead of the readiness query's result.
fn refusal(e: &sqlx::Error, options: &PgConnectOptions) -> String {
    let sqlx::Error::Database(db) = e else {
        return e.to_string();
    };
    match db.code().as_deref() {
        Some(NO_SUCH_DATABASE) => format!(
            "database {} does not exist on Postgres at {}",
            database(options),
            server(options)
        ),
        _ => format!("Postgres at {} answered: {}", server(options), db.message()),
    }
}

/// A schema older than this binary's: still being migrated, or not migrated at all.
async fn behind(
    pool: &PgPool,
    options: &PgConnectOptions,
    applied: Option<i32>,
    latest: i32,
) -> String {
    let schema = match applied {
        Some(v) => format!("database schema at version {v}, expected {latest}"),
        None => format!(
            "database {} is not migrated: no migration applied, expected schema version {latest}",
            database(options)
        ),
    };
    match migrating(pool).await {
        Ok(true) => format!("migrations still running: {schema}"),
        _ => schema,
    }
}

/// Whether some process holds the migration lock on this database (`db::migrate` takes it).
async fn migrating(pool: &PgPool) -> sqlx::Result<bool> {
    // An advisory lock on a bigint key shows in pg_locks as its high half (classid) and its low
    // half (objid), with objsubid 1.
    sqlx::query_scalar(
        "select exists (
             select 1 from pg_locks
             where locktype = 'advisory' and granted and objsubid = 1
               and database = (select oid from pg_database where datname = current_database())
               and (classid::bigint << 32) | objid::bigint = $1
         )",
    )
    .bind(MIGRATE_LOCK)
    .fetch_one(pool)
    .await
}

fn code(e: &sqlx::Error) -> Option<String> {
    e.as_database_error()
        .and_then(|db| db.code())
        .map(|c| c.into_owned())
}

fn server(options: &PgConnectOptions) -> String {
    format!("{}:{}", options.get_host(), options.get_port())
}

fn database(options: &PgConnectOptions) -> &str {
    options.get_database().unwrap_or("postgres")
}
