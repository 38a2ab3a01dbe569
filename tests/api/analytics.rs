//! The queries of docs/analytics.md, run against a known set of knocks.

use serde_json::{Value, json};

use crate::{
    daily,
    helpers::{TestApp, markdown, now, spawn_app},
};

/// The ```sql blocks of the Queries section of docs/analytics.md, in order.
pub fn analytics_queries() -> Vec<String> {
    markdown::sql_blocks(&markdown::section("docs/analytics.md", "## Queries"))
}

/// Runs a documented query as written; each row comes back as a JSON object.
pub async fn run(app: &TestApp, sql: &str) -> Vec<Value> {
    let wrapped = format!(
        "select to_jsonb(q) from ({}) q",
        sql.trim().trim_end_matches(';')
    );
    sqlx::query_scalar(sqlx::AssertSqlSafe(wrapped))
        .fetch_all(&app.pool)
        .await
        .unwrap_or_else(|e| panic!("documented query failed: {e}\n{sql}"))
}

/// Knocks with known outcomes, relative to now; returns the knock times of abandoned ones.
async fn load_knocks(app: &TestApp) -> Vec<f64> {
    let t = now() - 3_600.0;
    let day = 86_400.0;
    let mut events: Vec<Value> = Vec::new();
    let mut abandoned_at = Vec::new();
    let mut abandon = |room: &str, id: &str, at: f64, waited: f64, events: &mut Vec<Value>| {
        events.push(daily::waiting_joined(room, id, at));
        events.push(daily::waiting_left(room, id, at, waited));
        abandoned_at.push(at);
    };
    abandon("lobby", "aaa1-1", t - 100.0, 5.0, &mut events);
    abandon("lobby", "aaa2-1", t - 200.0, 20.0, &mut events);
    abandon("lobby", "aaa3-1", t - 2.0 * day, 400.0, &mut events);
    abandon("side0", "bbb1-1", t - 300.0, 50.0, &mut events);
    abandon("old00", "ccc1-1", t - 10.0 * day, 70.0, &mut events);
    events.push(daily::waiting_joined("lobby", "adm1-1", t - 400.0));
    events.push(daily::participant_joined("lobby", "adm1-1", t - 355.0));
    events.push(daily::waiting_joined("side0", "adm2-1", t - 500.0));
    events.push(daily::participant_joined("side0", "adm2-1", t - 490.0));
    events.push(daily::waiting_joined("lobby", "wait-1", now() - 120.0));
    events.push(daily::waiting_joined("side0", "lost-1", t - 3.0 * day));
    app.post_all(&events).await;
    app.roll_up().await;
    abandoned_at
}

#[tokio::test]
async fn the_documented_analytics_queries_return_the_expected_numbers() {
    let queries = analytics_queries();
    assert_eq!(
        queries.len(),
        5,
        "docs/analytics.md queries changed: update this test"
    );
    let app = spawn_app().await;
    let abandoned_at = load_knocks(&app).await;

    // Abandon rate per room, last 7 days: 'old00' is older, the waiting and lost knocks don't count.
    let rows = run(&app, &queries[0]).await;
    assert_eq!(
        rows,
        vec![
            json!({"room": "lobby", "abandoned": 3, "resolved": 4, "abandon_rate": 0.750}),
            json!({"room": "side0", "abandoned": 1, "resolved": 2, "abandon_rate": 0.500}),
        ]
    );

    // Waits before giving up, one per bucket, shortest first.
    let rows = run(&app, &queries[1]).await;
    let expected = ["0-10 s", "10-30 s", "30-60 s", "1-5 min", "5 min or more"];
    let expected: Vec<Value> = expected
        .iter()
        .map(|b| json!({"waited": b, "abandoned": 1}))
        .collect();
    assert_eq!(rows, expected);

    // Busiest hours for abandoning, last 30 days.
    let rows = run(&app, &queries[2]).await;
    let mut expected: Vec<(i64, i64)> = Vec::new();
    for at in abandoned_at
        .iter()
        .filter(|at| **at >= now() - 30.0 * 86_400.0)
    {
        let hour = (*at as i64).rem_euclid(86_400) / 3_600;
        match expected.iter_mut().find(|(h, _)| *h == hour) {
            Some((_, n)) => *n += 1,
            None => expected.push((hour, 1)),
        }
    }
    expected.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    expected.truncate(5);
    let expected: Vec<Value> = expected
        .iter()
        .map(|(h, n)| json!({"hour_utc": h, "abandoned": n}))
        .collect();
    assert_eq!(rows, expected);

    // Knocking right now.
    let rows = run(&app, &queries[3]).await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["session_id"], "wait-1");
    assert!(
        rows[0]["waiting_seconds"]
            .as_f64()
            .is_some_and(|w| (119.0..300.0).contains(&w)),
        "{rows:?}"
    );

    // The lobby's days: four resolved knocks plus the waiting one.
    let rows = run(&app, &queries[4]).await;
    let sum = |column: &str| {
        rows.iter()
            .map(|r| r[column].as_i64().unwrap())
            .sum::<i64>()
    };
    assert_eq!(
        (sum("knocks"), sum("admitted"), sum("abandoned")),
        (5, 1, 3),
        "{rows:?}"
    );
    let admitted_p90: Vec<f64> = rows
        .iter()
        .filter_map(|r| r["admitted_wait_p90"].as_f64())
        .collect();
    assert!(
        matches!(admitted_p90[..], [p] if (p - 45.0).abs() < 1e-3),
        "{rows:?}"
    );
}
