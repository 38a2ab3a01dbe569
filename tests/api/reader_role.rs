//! The `lobbylog_reader` role: it reads the two views and nothing else, and creating it is safe
//! from many databases of one cluster at once.

use std::str::FromStr;

use sqlx::{Connection, PgConnection, postgres::PgConnectOptions};

use crate::helpers::{TestDb, admin_url, spawn_app};

fn is_permission_denied(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.code().as_deref() == Some("42501"))
}

#[tokio::test]
async fn the_reader_role_selects_the_views_but_not_the_tables() {
    let app = spawn_app().await;
    let mut conn = app.pool.acquire().await.unwrap();
    sqlx::query("set role lobbylog_reader")
        .execute(&mut *conn)
        .await
        .unwrap();
    for view in ["knocks", "knock_daily_stats"] {
        let sql = format!("select count(*) from {view}");
        let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .fetch_one(&mut *conn)
            .await
            .unwrap_or_else(|e| panic!("{view}: {e}"));
        assert_eq!(n, 0);
    }
    for table in [
        "waiting_sessions",
        "participant_sessions",
        "webhook_events",
        "dead_letters",
    ] {
        let sql = format!("select count(*) from {table}");
        let denied = sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(&mut *conn)
            .await
            .unwrap_err();
        assert!(is_permission_denied(&denied), "{table}: {denied}");
    }
    let write = sqlx::query("delete from knocks").execute(&mut *conn).await;
    assert!(write.is_err(), "the reader deleted through a view");
    sqlx::query("reset role").execute(&mut *conn).await.unwrap();
}

#[tokio::test]
async fn creating_the_role_from_several_databases_at_once_never_fails() {
    // The migration's text, for a role of this test's own that no database has yet.
    let role = format!("lobbylog_reader_race_{}", uuid::Uuid::new_v4().simple());
    let migration = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/migrations/V6__reader_role.sql"
    ))
    .unwrap()
    .replace("lobbylog_reader", &role);
    let mut databases = Vec::new();
    for _ in 0..4 {
        databases.push(TestDb::fresh().await);
    }
    let runs = databases.iter().map(|db| {
        let migration = migration.clone();
        async move {
            let options = PgConnectOptions::from_str(db.url()).unwrap();
            let mut conn = PgConnection::connect_with(&options).await.unwrap();
            sqlx::raw_sql(sqlx::AssertSqlSafe(migration))
                .execute(&mut conn)
                .await
        }
    });
    let results = futures::future::join_all(runs).await;
    drop(databases);
    let options = PgConnectOptions::from_str(&admin_url()).unwrap();
    let mut admin = PgConnection::connect_with(&options).await.unwrap();
    let drop = format!("drop role {role}");
    sqlx::query(sqlx::AssertSqlSafe(drop))
        .execute(&mut admin)
        .await
        .unwrap();
    for result in results {
        result.expect("a concurrent creation of the role failed");
    }
}
