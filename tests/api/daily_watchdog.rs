//! The watchdog in `serve`: metrics, re-activation, one gap per outage, and an intake it never slows.

use std::{sync::Arc, time::Duration};

use lobbylog::daily::{Api, client::Client, watchdog::Watchdog};

use crate::{
    daily,
    fake_daily::{API_KEY, Encoding, FakeDaily},
    helpers::{SECRET, Service, TestApp, TestDb, eventually, free_port, lobbylog, spawn_app},
};

pub fn client(url: &str, key: &str) -> Client {
    let api = Api {
        key: key.parse().unwrap(),
        url: url.to_owned(),
    };
    Client::new(&api).unwrap()
}

fn watch(app: &TestApp, fake: &FakeDaily, reactivate: bool) {
    let watchdog = Watchdog {
        client: client(&fake.url, API_KEY),
        pool: app.pool.clone(),
        metrics: Arc::clone(&app.metrics),
        every: Duration::from_millis(100),
        reactivate,
    };
    tokio::spawn(watchdog.run());
}

async fn metrics(app: &TestApp) -> String {
    app.get_admin("/metrics").await.text().await.unwrap()
}

async fn gaps(app: &TestApp) -> Vec<(String, bool, bool)> {
    sqlx::query_as(
        "select webhook_uuid, last_event_at = (select max(received_at) from webhook_events),
                reactivated_at is null
         from delivery_gaps order by id",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn the_watchdog_turns_a_failed_webhook_back_on_and_writes_one_gap() {
    let app = spawn_app().await;
    app.post_all(&[daily::waiting_joined("lobby", "wdog0001-0000", 1.7e9)])
        .await;
    let fake = FakeDaily::start(Encoding::Numbers).await;
    let uuid = fake.add_webhook(&format!("{}/webhooks/daily", app.address), false);
    watch(&app, &fake, true);
    let active = eventually(10, || async { fake.webhooks()[0].active }).await;
    assert!(active, "the watchdog did not re-activate the webhook");
    // Several more looks at an active webhook change nothing.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(gaps(&app).await, [(uuid.clone(), true, false)]);
    assert_eq!(fake.posts().len(), 1, "re-posted once");
    let text = metrics(&app).await;
    assert!(
        text.contains(&format!(
            "lobbylog_daily_webhook_active{{uuid=\"{uuid}\"}} 1"
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "lobbylog_daily_webhook_failed_count{{uuid=\"{uuid}\"}} 0"
        )),
        "{text}"
    );
}

#[tokio::test]
async fn without_reactivation_the_watchdog_reports_and_keeps_the_gap_open_until_someone_acts() {
    let app = spawn_app().await;
    let fake = FakeDaily::start(Encoding::Strings).await;
    let uuid = fake.add_webhook("https://lobbylog.example.com/webhooks/daily", false);
    watch(&app, &fake, false);
    let exported = format!("lobbylog_daily_webhook_active{{uuid=\"{uuid}\"}} 0");
    assert!(eventually(10, || async { metrics(&app).await.contains(&exported) }).await);
    let failed = format!("lobbylog_daily_webhook_failed_count{{uuid=\"{uuid}\"}} 3");
    assert!(metrics(&app).await.contains(&failed));
    tokio::time::sleep(Duration::from_millis(500)).await;
    // No event was ever received, so the gap has no start; still one row for many looks.
    let open: Vec<(String, Option<f64>, bool)> = sqlx::query_as(
        "select webhook_uuid, extract(epoch from last_event_at)::float8, reactivated_at is null from delivery_gaps",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(open, [(uuid.clone(), None, true)]);
    assert!(fake.posts().is_empty(), "nothing re-posted");

    fake.state.lock().unwrap().webhooks[0].active = true;
    let closed = eventually(10, || async {
        app.count("delivery_gaps where closed_because = 'active_again'")
            .await
            == 1
    })
    .await;
    assert!(closed, "the gap was not closed once Daily said active");
    assert_eq!(app.count("delivery_gaps").await, 1);
}

/// Each gap's webhook, whether it is open, and why it closed.
async fn closings(app: &TestApp) -> Vec<(String, bool, Option<String>)> {
    sqlx::query_as(
        "select webhook_uuid, reactivated_at is null, closed_because from delivery_gaps
         order by webhook_uuid",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn a_gap_closes_when_daily_no_longer_lists_its_webhook_and_stays_open_while_it_does() {
    let app = spawn_app().await;
    let fake = FakeDaily::start(Encoding::Strings).await;
    let gone = fake.add_webhook("https://old.example.com/webhooks/daily", false);
    let kept = fake.add_webhook("https://lobbylog.example.com/webhooks/daily", false);
    watch(&app, &fake, false);
    let opened = eventually(10, || async {
        app.count("delivery_gaps where reactivated_at is null")
            .await
            == 2
    })
    .await;
    assert!(opened, "{:?}", closings(&app).await);

    fake.state
        .lock()
        .unwrap()
        .webhooks
        .retain(|h| h.uuid != gone);
    let closed = eventually(10, || async {
        app.count("delivery_gaps where closed_because = 'webhook_gone'")
            .await
            == 1
    })
    .await;
    assert!(closed, "{:?}", closings(&app).await);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        closings(&app).await,
        [
            (gone, false, Some("webhook_gone".into())),
            (kept, true, None)
        ]
    );
}

#[tokio::test]
async fn a_gap_on_record_for_a_webhook_daily_does_not_list_is_closed_at_the_first_look() {
    let app = spawn_app().await;
    sqlx::query(
        "insert into delivery_gaps (webhook_uuid, webhook_url, state, failed_count, detected_by)
         values ('deleted-at-daily', 'https://old.example.com/webhooks/daily', 'FAILED', 3, 'reactivate')",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    let fake = FakeDaily::start(Encoding::Numbers).await;
    fake.add_webhook("https://lobbylog.example.com/webhooks/daily", true);
    watch(&app, &fake, false);
    let closed = eventually(10, || async {
        app.count("delivery_gaps where closed_because = 'webhook_gone'")
            .await
            == 1
    })
    .await;
    assert!(closed, "{:?}", closings(&app).await);
    let closed_after_found: bool =
        sqlx::query_scalar("select reactivated_at >= detected_at from delivery_gaps")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert!(closed_after_found);
}

#[tokio::test]
async fn api_errors_are_retried_and_never_touch_the_intake() {
    let app = spawn_app().await;
    let fake = FakeDaily::start(Encoding::Strings).await;
    let watchdog = Watchdog {
        client: client(&fake.url, "a-key-daily-refuses"),
        pool: app.pool.clone(),
        metrics: Arc::clone(&app.metrics),
        every: Duration::from_millis(100),
        reactivate: true,
    };
    tokio::spawn(watchdog.run());
    let events: Vec<_> = (0..20)
        .map(|i| daily::waiting_joined("lobby", &format!("err{i:05}-0000"), 1.7e9 + f64::from(i)))
        .collect();
    app.post_all(&events).await;
    assert_eq!(app.count("webhook_events").await, 20);
    let retried = eventually(10, || async { fake.requests().len() >= 2 }).await;
    assert!(retried, "the watchdog gave up after one error");
    assert_eq!(app.count("delivery_gaps").await, 0);
}

#[tokio::test]
async fn serve_runs_the_watchdog_when_an_api_key_is_set() {
    let db = TestDb::fresh().await;
    let (port, admin_port) = (free_port(), free_port());
    let fake = FakeDaily::start(Encoding::Numbers).await;
    let uuid = fake.add_webhook(&format!("http://127.0.0.1:{port}/webhooks/daily"), false);
    let spool = tempfile::tempdir().unwrap();
    let mut command = lobbylog(db.url(), &["serve"]);
    command
        .env("DAILY_WEBHOOK_SECRET", SECRET)
        .env("LOBBYLOG_LISTEN", format!("127.0.0.1:{port}"))
        .env("LOBBYLOG_ADMIN_LISTEN", format!("127.0.0.1:{admin_port}"))
        .env("LOBBYLOG_SPOOL_DIR", spool.path())
        .env("DAILY_API_URL", &fake.url)
        .env("DAILY_API_KEY", API_KEY)
        .env("LOBBYLOG_DAILY_POLL_SECONDS", "1")
        .env("LOBBYLOG_DAILY_REACTIVATE", "true")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let _service = Service {
        child: command.spawn().expect("starting lobbylog"),
        admin: format!("http://127.0.0.1:{admin_port}"),
    };
    let closed = "delivery_gaps where reactivated_at is not null";
    let recorded = eventually(30, || async { db.count(closed).await == 1 }).await;
    assert!(
        recorded,
        "serve did not re-activate the webhook and close its gap"
    );
    let gap: String = sqlx::query_scalar("select webhook_uuid from delivery_gaps")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(gap, uuid);
    assert!(fake.webhooks()[0].active);
}
