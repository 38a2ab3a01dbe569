//! `lobbylog demo` and the commands that must not create a database: the real binary against a
//! fresh database.

use crate::helpers::{admin_url, count, database_url, lobbylog, run, spawn_app};

#[tokio::test]
async fn demo_fills_a_month_of_knocks_with_every_outcome_and_a_rerun_adds_nothing() {
    let app = spawn_app().await;
    let first = run(lobbylog(&app.database_url(), &["demo"]), None).await;
    assert_eq!(first.code, 0, "{first:?}");
    assert!(first.count("duplicates") > 0, "{first:?}");
    let stored = first.count("stored");
    assert_eq!(app.count("webhook_events").await as u64, stored);
    let outcomes: Vec<(String, i64)> = sqlx::query_as(
        "select outcome, count(*) from knocks
         where knocked_at > now() - interval '31 days' group by 1 order by 1",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    let names: Vec<&str> = outcomes.iter().map(|(o, _)| o.as_str()).collect();
    assert_eq!(names, ["abandoned", "admitted", "waiting"], "{outcomes:?}");
    assert!(outcomes.iter().map(|(_, n)| n).sum::<i64>() > 1000);
    let again = run(lobbylog(&app.database_url(), &["demo"]), None).await;
    assert_eq!(again.code, 0, "{again:?}");
    assert_eq!(again.count("stored"), 0);
    assert_eq!(app.count("webhook_events").await as u64, stored);
}

#[tokio::test]
async fn demo_refuses_a_database_holding_real_events_unless_forced() {
    let app = spawn_app().await;
    let event = crate::daily::waiting_joined("real", "5ea10000-0000-4000-8000-0", 1.7e9);
    assert_eq!(
        app.post_signed(event.to_string().as_bytes()).await.status(),
        200
    );
    let refused = run(lobbylog(&app.database_url(), &["demo"]), None).await;
    assert_eq!(refused.code, 1, "{refused:?}");
    assert!(
        refused.stderr.contains("1 events that are not the demo's"),
        "{}",
        refused.stderr
    );
    assert_eq!(app.count("webhook_events").await, 1);
    let forced = run(lobbylog(&app.database_url(), &["demo", "--force"]), None).await;
    assert_eq!(forced.code, 0, "{forced:?}");
    assert!(app.count("webhook_events").await > 1000);
}

#[tokio::test]
async fn commands_other_than_serve_and_migrate_refuse_a_database_that_does_not_exist() {
    let name = format!("lobbylog_typo_{}", uuid::Uuid::new_v4().simple());
    let url = database_url(&admin_url(), &name);
    let commands: [&[&str]; 4] = [
        &["prune", "--dry-run", "--older-than", "30d"],
        &["reproject"],
        &["demo"],
        &[
            "daily",
            "pull-meetings",
            "--since",
            "2026-01-01",
            "--daily-api-key",
            "k",
        ],
    ];
    for args in commands {
        let result = run(lobbylog(&url, args), None).await;
        assert_eq!(result.code, 1, "{args:?}: {result:?}");
        assert!(
            result
                .stderr
                .contains(&format!("database {name} does not exist")),
            "{args:?}: {}",
            result.stderr
        );
    }
    let admin = sqlx::PgPool::connect(&admin_url()).await.unwrap();
    let exists: bool =
        sqlx::query_scalar("select exists (select 1 from pg_database where datname = $1)")
            .bind(&name)
            .fetch_one(&admin)
            .await
            .unwrap();
    assert!(!exists, "a command created {name}");
}

#[tokio::test]
async fn reproject_prints_a_summary_of_what_it_rebuilt() {
    let app = spawn_app().await;
    for i in 0..3 {
        let event =
            crate::daily::waiting_joined("sum", &format!("5000000{i}-0000-4000-8000-0"), 1.7e9);
        app.post_signed(event.to_string().as_bytes()).await;
    }
    let result = run(lobbylog(&app.database_url(), &["reproject"]), None).await;
    assert_eq!(result.code, 0, "{result:?}");
    assert_eq!(result.count("events"), 3, "{result:?}");
    assert_eq!(count(&app.pool, "waiting_sessions").await, 3);
}
