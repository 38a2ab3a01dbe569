//! The knock rollups agree with the `knocks` view: knock_daily_stats and the days over every room
//! exactly, the rooms' percentiles (from histograms) within 1 s or 2%; whatever order events
//! arrive in, with duplicates, after reproject and after prune; and a live knock shows on the
//! page of `serve` within 10 s.

use std::time::{Duration, Instant};

use lobbylog::store::reads::{self, Window};
use rand::{SeedableRng, rngs::StdRng, seq::SliceRandom};
use serde_json::Value;

use crate::{
    daily,
    dashboard::{page, store_events},
    grafana::panel_rows,
    helpers::{
        SECRET, Service, TestApp, TestDb, eventually, free_port, now, signed_headers, spawn_app,
    },
    retention::{days_ago, ids, lobbylog},
};

/// Rows of `knock_daily_stats` that differ from the same per (room, day) aggregate over the
/// `knocks` view, and days of `knock_days` that differ from it over every room.
const DISAGREEMENTS: &str = "
with exact as (
    select room, (knocked_at at time zone 'UTC')::date as day, count(*) as knocks,
           count(*) filter (where outcome = 'admitted') as admitted,
           count(*) filter (where outcome = 'abandoned') as abandoned,
           count(*) filter (where outcome = 'waiting') as waiting,
           count(*) filter (where outcome = 'unresolved') as unresolved,
           (count(*) filter (where outcome = 'abandoned'))::float8
               / nullif(count(*) filter (where outcome in ('admitted', 'abandoned')), 0) as abandon_rate,
           percentile_cont(0.5) within group (order by wait_seconds) filter (where outcome = 'abandoned') as abandoned_wait_p50,
           percentile_cont(0.9) within group (order by wait_seconds) filter (where outcome = 'abandoned') as abandoned_wait_p90,
           percentile_cont(0.5) within group (order by wait_seconds) filter (where outcome = 'admitted') as admitted_wait_p50,
           percentile_cont(0.9) within group (order by wait_seconds) filter (where outcome = 'admitted') as admitted_wait_p90
    from knocks group by 1, 2
), by_day as (
    select (knocked_at at time zone 'UTC')::date as day, count(*)::int as knocks,
           (count(*) filter (where outcome = 'admitted'))::int as admitted,
           (count(*) filter (where outcome = 'abandoned'))::int as abandoned,
           (count(*) filter (where outcome = 'waiting'))::int as waiting,
           knock_count_positions(array_agg(extract(hour from knocked_at at time zone 'UTC')::int)
                                 filter (where outcome = 'abandoned'), 24) as by_hour,
           knock_count_positions(array_agg(knock_wait_range(wait_seconds)) filter (where outcome = 'abandoned'), 5) as abandoned_ranges,
           knock_count_positions(array_agg(knock_wait_range(wait_seconds)) filter (where outcome = 'admitted'), 5) as admitted_ranges
    from knocks group by 1
)
select 'knock_daily_stats ' || coalesce(e.room, s.room) || ' ' || coalesce(e.day, s.day)
from exact e full join knock_daily_stats s on s.room = e.room and s.day = e.day
where (e.knocks, e.admitted, e.abandoned, e.waiting, e.unresolved)
          is distinct from (s.knocks, s.admitted, s.abandoned, s.waiting, s.unresolved)
   or abs(coalesce(e.abandon_rate, -1) - coalesce(s.abandon_rate, -1)) > 1e-9
   or abs(coalesce(e.abandoned_wait_p50, -1) - coalesce(s.abandoned_wait_p50, -1)) > 1e-9
   or abs(coalesce(e.abandoned_wait_p90, -1) - coalesce(s.abandoned_wait_p90, -1)) > 1e-9
   or abs(coalesce(e.admitted_wait_p50, -1) - coalesce(s.admitted_wait_p50, -1)) > 1e-9
   or abs(coalesce(e.admitted_wait_p90, -1) - coalesce(s.admitted_wait_p90, -1)) > 1e-9
union all
select 'knock_days ' || coalesce(e.day, d.day)
from by_day e full join knock_days d on d.day = e.day
where (e.knocks, e.admitted, e.abandoned, e.waiting, e.by_hour, e.abandoned_ranges, e.admitted_ranges)
   is distinct from (d.knocks, d.admitted, d.abandoned, knock_waiting(d.day, d.pending_knocked_at),
                     d.abandoned_by_hour, d.abandoned_wait_ranges, d.admitted_wait_ranges)
order by 1";

/// Asserts the rollups say what the `knocks` view says, and the rooms' percentiles over the last
/// 40 days are within 1 s or 2% of the exact ones.
async fn assert_rollups_agree(app: &TestApp, when: &str) {
    let wrong = ids(&app.pool, DISAGREEMENTS).await;
    assert!(
        wrong.is_empty(),
        "{when}: rollups differ from knocks: {wrong:#?}"
    );
    let window = Window {
        since: lobbylog::admin::dashboard::window_start(now(), 40),
    };
    let rolled = reads::summarize_rooms(&app.pool, &window, 50)
        .await
        .unwrap();
    assert!(!rolled.is_empty(), "{when}: no rooms");
    for room in &rolled {
        let exact = reads::summarize_room(&app.pool, &window, &room.room)
            .await
            .unwrap();
        let exact = &exact[0];
        assert_eq!(
            (room.knocks, room.admitted, room.abandoned),
            (exact.knocks, exact.admitted, exact.abandoned),
            "{when}: {}",
            room.room
        );
        for (estimate, exact) in [
            (room.abandoned_wait_p50, exact.abandoned_wait_p50),
            (room.abandoned_wait_p90, exact.abandoned_wait_p90),
            (room.admitted_wait_p50, exact.admitted_wait_p50),
            (room.admitted_wait_p90, exact.admitted_wait_p90),
        ] {
            let (estimate, exact) = (estimate.unwrap(), exact.unwrap());
            assert!(
                (estimate - exact).abs() <= (0.02 * exact).max(1.0),
                "{when}: {}: {estimate} from the histogram, {exact} exactly",
                room.room
            );
        }
    }
}

/// `histories` random knock histories, their events shuffled, one in five delivered twice.
fn shuffled_histories(seed: u64, histories: usize) -> Vec<Value> {
    let mut rng = StdRng::seed_from_u64(seed);
    let now = now();
    let mut events: Vec<Value> = (0..histories)
        .flat_map(|i| daily::random_history(&mut rng, i, now).0)
        .collect();
    let again: Vec<Value> = events.iter().step_by(5).cloned().collect();
    events.extend(again);
    events.shuffle(&mut rng);
    events
}

#[tokio::test]
async fn rollups_agree_with_the_knocks_view_whatever_the_order_and_however_often_refreshed() {
    let app = spawn_app().await;
    let events = shuffled_histories(19, 600);
    // Refreshed between batches, so knocks are rolled up half-told and must converge.
    for (i, batch) in events.chunks(37).enumerate() {
        app.post_all(batch).await;
        if i % 4 == 0 {
            app.roll_up().await;
        }
    }
    app.roll_up().await;
    assert_eq!(app.count("knock_rollup_marks").await, 0);
    assert_rollups_agree(&app, "after shuffled delivery").await;

    // The page over every room: its totals are the `knocks` view's over the window's days.
    let html = page(&app, "?days=40").await;
    let exact = ids(
        &app.pool,
        "select format('%s %s %s %s', count(*), count(*) filter (where outcome = 'admitted'),
                       count(*) filter (where outcome = 'abandoned'),
                       count(*) filter (where outcome = 'waiting'))
         from knocks
         where knocked_at >= ((now() - interval '40 days') at time zone 'UTC')::date::timestamp at time zone 'UTC'",
    )
    .await;
    let shown: Vec<String> = ["knocks", "admitted", "abandoned", "waiting-now"]
        .iter()
        .map(|id| {
            let start = format!(r#"<dd id="{id}">"#);
            let at = html.find(&start).unwrap_or_else(|| panic!("no {id}")) + start.len();
            html[at..at + html[at..].find('<').unwrap()].replace(',', "")
        })
        .collect();
    assert_eq!(shown.join(" "), exact[0]);

    // Grafana's knocks per day, over 40 days: the `knocks` view's, day by day.
    let panel = panel_rows(&app, "Knocks per day, by outcome", 40.0).await;
    let panel: Vec<String> = panel
        .iter()
        .map(|r| {
            let n = |k: &str| r[k].as_i64().unwrap();
            format!(
                "{} {} {} {} {}",
                r["time"],
                n("admitted"),
                n("abandoned"),
                n("waiting"),
                n("unresolved")
            )
        })
        .collect();
    let exact = ids(
        &app.pool,
        "select format('%s %s %s %s %s', extract(epoch from day::timestamp at time zone 'UTC')::bigint,
                       count(*) filter (where outcome = 'admitted'), count(*) filter (where outcome = 'abandoned'),
                       count(*) filter (where outcome = 'waiting'), count(*) filter (where outcome = 'unresolved'))
         from (select (knocked_at at time zone 'UTC')::date as day, outcome from knocks) k
         where day >= ((now() - interval '40 days') at time zone 'UTC')::date
         group by day order by day",
    )
    .await;
    assert_eq!(panel, exact);
}

#[tokio::test]
async fn reproject_rebuilds_the_rollups_and_prune_keeps_them() {
    let app = spawn_app().await;
    let mut events = shuffled_histories(23, 300);
    // Knocks from long ago, whose raw events a prune deletes.
    for i in 0..40 {
        let (room, session) = (format!("old-{}", i % 3), format!("old-knock-{i:04}"));
        let at = days_ago(200.0 + f64::from(i));
        events.push(daily::waiting_joined(&room, &session, at));
        if i % 2 == 0 {
            events.push(daily::waiting_left(&room, &session, at, f64::from(i) * 7.5));
        } else {
            events.push(daily::participant_joined(
                &room,
                &session,
                at + f64::from(i),
            ));
        }
    }
    store_events(&app, &events).await;
    assert_rollups_agree(&app, "after storing").await;
    const ROLLED: &str =
        "select (to_jsonb(r) - 'rolled_up_at')::text from knock_room_days r order by room, day";
    let before = ids(&app.pool, ROLLED).await;

    // A rollup wrong on purpose: reproject recomputes every one.
    sqlx::query("update knock_room_days set knocks = knocks + 5")
        .execute(&app.pool)
        .await
        .unwrap();
    let run = lobbylog(&app.database_url(), &["reproject"]).await;
    assert_eq!(run.code, 0, "{run:?}");
    assert_rollups_agree(&app, "after reproject").await;

    let run = lobbylog(&app.database_url(), &["prune", "--older-than", "90d"]).await;
    assert_eq!(run.code, 0, "{run:?}");
    assert!(app.count("webhook_events").await < events.len() as i64);
    let after_prune = ids(&app.pool, ROLLED).await;
    let old_days = |rows: &[String]| -> Vec<String> {
        rows.iter()
            .filter(|r| r.contains(r#""room": "old-"#))
            .cloned()
            .collect()
    };
    assert!(!old_days(&before).is_empty());
    assert_eq!(
        old_days(&after_prune),
        old_days(&before),
        "the old knocks' rollups after prune"
    );
    app.roll_up().await;
    assert_rollups_agree(&app, "after prune").await;

    let run = lobbylog(&app.database_url(), &["reproject"]).await;
    assert_eq!(run.code, 0, "{run:?}");
    assert_rollups_agree(&app, "after prune and reproject").await;
    assert_eq!(
        ids(
            &app.pool,
            "select count(*)::text from knock_room_days where room like 'old-%'"
        )
        .await,
        [old_days(&before).len().to_string()]
    );
}

#[tokio::test]
async fn a_knock_posted_to_serve_shows_on_the_page_within_ten_seconds() {
    let db = TestDb::fresh().await;
    let (port, spool) = (free_port(), tempfile::tempdir().unwrap());
    let service = Service::start(db.url(), spool.path(), port);
    let client = reqwest::Client::new();
    let page = || async {
        let url = format!("{}/dashboard", service.admin);
        match client.get(url).send().await {
            Ok(r) if r.status() == 200 => r.text().await.unwrap_or_default(),
            _ => String::new(),
        }
    };
    assert!(eventually(30, || async { page().await.contains("No knocks yet") }).await);

    let body = daily::waiting_joined("lobby", "live-knock-0001", now() - 5.0).to_string();
    let mut request = client.post(format!("http://127.0.0.1:{port}/webhooks/daily"));
    for (name, value) in signed_headers(SECRET, body.as_bytes()) {
        request = request.header(name, value);
    }
    let posted = Instant::now();
    assert_eq!(request.body(body).send().await.unwrap().status(), 200);
    let shown = eventually(10, || async {
        page().await.contains(r#"<dd id="knocks">1</dd>"#)
    })
    .await;
    let took = posted.elapsed();
    assert!(
        shown && took < Duration::from_secs(10),
        "not on the page after {took:?}"
    );

    let metrics = client
        .get(format!("{}/metrics", service.admin))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for name in [
        "lobbylog_rollup_lag_seconds ",
        "lobbylog_rollup_refreshes_total{outcome=\"finished\"} ",
    ] {
        assert!(metrics.contains(name), "{name} missing:\n{metrics}");
    }
}
