//! `GET /dashboard` on the admin listener: filters, escaping, empty states, and the same numbers
//! as the queries of docs/analytics.md.

use lobbylog::{
    store,
    triage::{self, Item, Origin},
};
use rand::{SeedableRng, rngs::StdRng};
use serde_json::Value;

use crate::{
    analytics::{analytics_queries, run},
    daily,
    helpers::{Service, TestApp, TestDb, eventually, free_port, now, spawn_app},
    markup::{section, tags_with},
};

/// Stores events through the store (as the intake would), in batches.
pub async fn store_events(app: &TestApp, events: &[Value]) {
    let items: Vec<Item> = events
        .iter()
        .map(|e| triage::item(e.to_string().as_bytes(), Origin::Intake).expect("an event"))
        .collect();
    for batch in items.chunks(500) {
        store::write(&app.pool, batch).await.unwrap();
    }
    app.roll_up().await;
}

/// `histories` random knock histories over the last 30 days, in four rooms.
pub async fn store_random_knocks(app: &TestApp, seed: u64, histories: usize) {
    let mut rng = StdRng::seed_from_u64(seed);
    let now = now();
    let events: Vec<Value> = (0..histories)
        .flat_map(|i| daily::random_history(&mut rng, i, now).0)
        .collect();
    store_events(app, &events).await;
}

/// The page's HTML, asserting a 200.
pub async fn page(app: &TestApp, query: &str) -> String {
    let response = app.get_admin(&format!("/dashboard{query}")).await;
    assert_eq!(response.status(), 200, "GET /dashboard{query}");
    response.text().await.unwrap()
}

#[tokio::test]
async fn the_dashboard_is_on_the_admin_listener_only_and_loads_nothing_from_elsewhere() {
    let app = spawn_app().await;
    assert_eq!(app.get("/dashboard").await.status(), 404);
    let response = app.get_admin("/dashboard").await;
    assert_eq!(response.status(), 200);
    let header = |name: &str| response.headers()[name].to_str().unwrap().to_owned();
    assert_eq!(header("content-type"), "text/html; charset=utf-8");
    let csp = header("content-security-policy");
    assert!(
        csp.contains("default-src 'none'") && csp.contains("style-src 'sha256-"),
        "{csp}"
    );
    let html = response.text().await.unwrap();
    assert!(html.contains(r#"<meta name="viewport""#));
    for remote in ["<script", "src=\"http", "href=\"http", "@import", "url("] {
        assert!(!html.contains(remote), "the page refers to {remote}");
    }
}

#[tokio::test]
async fn with_no_knocks_the_page_says_so_instead_of_drawing_empty_charts() {
    let app = spawn_app().await;
    let html = page(&app, "").await;
    assert!(section(&html, "empty").contains("No knocks yet"), "{html}");
    assert_eq!(html.matches(r#"<svg class="chart""#).count(), 0);
    assert!(html.contains(r#"<dd id="knocks">0</dd>"#));
}

#[tokio::test]
async fn with_knocks_the_page_draws_every_chart_and_table() {
    let app = spawn_app().await;
    store_random_knocks(&app, 7, 120).await;
    let html = page(&app, "").await;
    assert!(!html.contains(r#"id="empty""#));
    for chart in [
        "knocks-per-day",
        "abandon-rate-per-day",
        "wait-before-abandoning",
        "wait-before-admission",
        "abandons-by-hour",
    ] {
        let svg = section(&html, chart);
        assert!(svg.contains("<rect"), "chart {chart} has no bar");
        assert!(
            svg.contains(r#"class="axis-title""#),
            "chart {chart} has no axis title"
        );
    }
    let days = tags_with(section(&html, "knocks-per-day"), "data-x");
    let total: f64 = days.iter().map(|t| t.number("data-value")).sum();
    // The page's window: whole UTC days, from the day 30 days ago.
    let knocks: i64 = sqlx::query_scalar(
        "select count(*) from knocks
         where knocked_at >= ((now() - interval '30 days') at time zone 'UTC')::date::timestamp at time zone 'UTC'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(total as i64, knocks);
    assert_eq!(tags_with(section(&html, "rooms"), "data-room").len(), 4);
    assert!(!tags_with(section(&html, "waiting"), "data-session").is_empty());
}

#[tokio::test]
async fn the_page_shows_the_numbers_of_the_analytics_queries() {
    let app = spawn_app().await;
    store_random_knocks(&app, 42, 200).await;
    let queries = analytics_queries();

    // Abandon rate per room, last 7 days.
    let html = page(&app, "?days=7").await;
    let rooms = tags_with(section(&html, "rooms"), "data-room");
    let mut expected = run(&app, &queries[0]).await;
    expected.retain(|r| r["resolved"].as_i64().unwrap() > 0);
    for row in &expected {
        let room = rooms
            .iter()
            .find(|t| t.get("data-room") == row["room"].as_str().unwrap())
            .unwrap_or_else(|| panic!("{row} not on the page"));
        let resolved = room.number("data-admitted") + room.number("data-abandoned");
        assert_eq!(
            room.number("data-abandoned"),
            row["abandoned"].as_f64().unwrap()
        );
        assert_eq!(resolved, row["resolved"].as_f64().unwrap());
        let rate = room.maybe("data-abandon-rate").unwrap();
        assert!(
            (rate - row["abandon_rate"].as_f64().unwrap()).abs() < 5e-4,
            "{row}"
        );
    }

    let html = page(&app, "").await;
    // Waits before giving up, last 30 days: the same buckets with the same counts.
    let bars: Vec<(String, f64)> = tags_with(section(&html, "wait-before-abandoning"), "data-x")
        .iter()
        .map(|t| (t.get("data-x").to_owned(), t.number("data-value")))
        .collect();
    let rows: Vec<(String, f64)> = run(&app, &queries[1])
        .await
        .iter()
        .map(|r| {
            (
                r["waited"].as_str().unwrap().to_owned(),
                r["abandoned"].as_f64().unwrap(),
            )
        })
        .collect();
    assert_eq!(bars, rows);

    // Busiest hours for abandoning.
    let hours: Vec<(f64, f64)> = tags_with(section(&html, "busiest-hours"), "data-hour")
        .iter()
        .map(|t| (t.number("data-hour"), t.number("data-abandoned")))
        .collect();
    let rows: Vec<(f64, f64)> = run(&app, &queries[2])
        .await
        .iter()
        .map(|r| {
            (
                r["hour_utc"].as_f64().unwrap(),
                r["abandoned"].as_f64().unwrap(),
            )
        })
        .collect();
    assert_eq!(hours, rows);

    // Knocking right now, longest wait first.
    let waiting: Vec<String> = tags_with(section(&html, "waiting"), "data-session")
        .iter()
        .map(|t| t.get("data-session").to_owned())
        .collect();
    let rows: Vec<String> = run(&app, &queries[3])
        .await
        .iter()
        .map(|r| r["session_id"].as_str().unwrap().to_owned())
        .collect();
    assert!(!rows.is_empty());
    assert_eq!(waiting, rows);
}

#[tokio::test]
async fn a_room_filter_narrows_the_page_and_lists_the_rooms_days_as_the_analytics_query_does() {
    let app = spawn_app().await;
    store_random_knocks(&app, 9, 150).await;
    let html = page(&app, "?room=room-1&days=14").await;
    let rooms = tags_with(section(&html, "rooms"), "data-room");
    assert_eq!(rooms.len(), 1);
    assert_eq!(rooms[0].get("data-room"), "room-1");
    let days = tags_with(section(&html, "room-days"), "data-day");
    let query = analytics_queries()[4].replace("'lobby'", "'room-1'");
    let rows = run(&app, &query).await;
    assert!(!rows.is_empty());
    assert_eq!(days.len(), rows.len());
    for (tag, row) in days.iter().zip(&rows) {
        assert_eq!(tag.get("data-day"), row["day"].as_str().unwrap());
        for column in ["knocks", "admitted", "abandoned"] {
            assert_eq!(
                tag.number(&format!("data-{column}")),
                row[column].as_f64().unwrap()
            );
        }
        let close = |attr: &str, column: &str| match (tag.maybe(attr), row[column].as_f64()) {
            (Some(a), Some(b)) => (a - b).abs() < 1e-5,
            (a, b) => a.is_none() && b.is_none(),
        };
        assert!(close("data-abandon-rate", "abandon_rate"), "{row}");
        assert!(
            close("data-abandoned-wait-p50", "abandoned_wait_p50"),
            "{row}"
        );
        assert!(
            close("data-admitted-wait-p90", "admitted_wait_p90"),
            "{row}"
        );
    }
}

#[tokio::test]
async fn a_room_name_with_markup_is_shown_as_text_and_linked_encoded() {
    let app = spawn_app().await;
    let room = r#"<script>alert("x")</script>&co"#;
    let t = now() - 600.0;
    store_events(
        &app,
        &[
            daily::waiting_joined(room, "evil-1", t),
            daily::waiting_left(room, "evil-1", t, 12.0),
        ],
    )
    .await;
    let html = page(&app, "").await;
    assert!(
        !html.contains("<script"),
        "markup from the database reached the page"
    );
    assert!(html.contains("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;co"));
    let href = "?room=%3Cscript%3Ealert%28%22x%22%29%3C%2Fscript%3E%26co&amp;days=30";
    assert!(html.contains(href), "{html}");

    let filtered = page(&app, &href.replace("&amp;", "&")).await;
    assert!(!filtered.contains("<script"));
    let rooms = tags_with(section(&filtered, "rooms"), "data-room");
    assert_eq!(rooms.len(), 1);
    assert_eq!(rooms[0].get("data-room"), room);
}

#[tokio::test]
async fn an_unknown_room_gets_an_empty_state_that_names_it() {
    let app = spawn_app().await;
    store_random_knocks(&app, 3, 20).await;
    let html = page(&app, "?room=nowhere%20%3Cb%3E").await;
    let empty = section(&html, "empty");
    assert!(
        empty.contains("No knocks yet") && empty.contains("nowhere &lt;b&gt;"),
        "{empty}"
    );
    assert!(
        empty.contains(r#"href="?days=30""#),
        "no way back to every room: {empty}"
    );
}

#[tokio::test]
async fn the_service_binary_serves_the_dashboard_on_its_admin_address_only() {
    let db = TestDb::fresh().await;
    let (port, spool) = (free_port(), tempfile::tempdir().unwrap());
    let service = Service::start(db.url(), spool.path(), port);
    let client = reqwest::Client::new();
    let status = |url: String| {
        let client = client.clone();
        async move {
            client
                .get(url)
                .send()
                .await
                .map(|r| r.status().as_u16())
                .ok()
        }
    };
    let dashboard = format!("{}/dashboard", service.admin);
    let served = eventually(30, || async {
        status(dashboard.clone()).await == Some(200)
    })
    .await;
    let public = status(format!("http://127.0.0.1:{port}/dashboard")).await;
    drop(service);
    assert!(served, "no dashboard on the admin address");
    assert_eq!(public, Some(404), "the webhook port serves the dashboard");
}
