//! `lobbylog daily status|register|reactivate` against a fake of Daily's REST API.

use std::process::Command;

use lobbylog::signature::Verification;
use reqwest::Method;
use serde_json::{Value, json};

use crate::{
    fake_daily::{API_KEY, Encoding, FakeDaily},
    helpers::{self, OLD_SECRET, Run, SECRET, TestApp, spawn_app, spawn_app_with},
};

/// Where commands that need no database are pointed: nothing listens there.
const NO_DATABASE: &str = "postgres://postgres@127.0.0.1:9/unused";

/// Runs the real binary against `fake`, with `env` on top of a clean Daily configuration.
pub async fn lobbylog(fake: &FakeDaily, env: &[(&str, &str)], args: &[&str]) -> Run {
    helpers::run(command(fake, env, args), None).await
}

/// The real binary pointed at `fake`, not yet started.
pub fn command(fake: &FakeDaily, env: &[(&str, &str)], args: &[&str]) -> Command {
    let mut command = helpers::lobbylog(NO_DATABASE, args);
    command
        .env("DAILY_API_URL", &fake.url)
        .env("DAILY_API_KEY", API_KEY)
        .env_remove("DAILY_WEBHOOK_SECRET")
        .env("NO_COLOR", "1");
    for (name, value) in env {
        command.env(name, value);
    }
    command
}

fn endpoint(app: &TestApp) -> String {
    format!("{}/webhooks/daily", app.address)
}

#[tokio::test]
async fn status_exits_0_when_every_webhook_is_active_in_either_encoding() {
    for encoding in [Encoding::Strings, Encoding::Numbers] {
        let fake = FakeDaily::start(encoding).await;
        let uuid = fake.add_webhook("https://lobbylog.example.com/webhooks/daily", true);
        let run = lobbylog(&fake, &[], &["daily", "status"]).await;
        assert_eq!(run.code, 0, "{encoding:?}: {}{}", run.stdout, run.stderr);
        let line = run.stdout.lines().find(|l| l.starts_with(&uuid)).unwrap();
        for shown in [
            "ACTIVE",
            "2024-06-28T14:57:08Z",
            "https://lobbylog.example.com/webhooks/daily",
            "waiting-participant.left",
        ] {
            assert!(line.contains(shown), "{encoding:?}: {line}");
        }
    }
}

#[tokio::test]
async fn status_exits_3_and_says_which_webhook_failed_in_either_encoding() {
    for encoding in [Encoding::Strings, Encoding::Numbers] {
        let fake = FakeDaily::start(encoding).await;
        fake.add_webhook("https://a.example.com/webhooks/daily", true);
        let failed = fake.add_webhook("https://b.example.com/webhooks/daily", false);
        let run = lobbylog(&fake, &[], &["daily", "status", "--json"]).await;
        assert_eq!(run.code, 3, "{encoding:?}: {}{}", run.stdout, run.stderr);
        let report: Value = serde_json::from_str(&run.stdout).unwrap();
        assert_eq!(report["all_active"], false);
        let failed = report["webhooks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|w| w["uuid"] == failed.as_str())
            .unwrap();
        assert_eq!(
            (&failed["state"], &failed["active"], &failed["failed_count"]),
            (&json!("FAILED"), &json!(false), &json!(3)),
            "{encoding:?}"
        );
        assert_eq!(failed["last_moment_pushed"], "2024-06-28T14:57:08Z");
    }
}

#[tokio::test]
async fn status_exits_3_when_the_domain_has_no_webhook() {
    let fake = FakeDaily::start(Encoding::Numbers).await;
    let run = lobbylog(&fake, &[], &["daily", "status"]).await;
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert!(run.stdout.contains("no webhook"), "{}", run.stdout);
}

#[tokio::test]
async fn a_bad_api_key_is_reported_as_such_without_showing_it() {
    let fake = FakeDaily::start(Encoding::Strings).await;
    let run = lobbylog(
        &fake,
        &[("DAILY_API_KEY", "wrong-key-do-not-print")],
        &["daily", "status"],
    )
    .await;
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("401") && run.stderr.contains("DAILY_API_KEY"),
        "{}",
        run.stderr
    );
    assert!(
        !run.stderr.contains("wrong-key-do-not-print"),
        "{}",
        run.stderr
    );
    let run = lobbylog(&fake, &[("DAILY_API_KEY", "")], &["daily", "status"]).await;
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("DAILY_API_KEY is not set"),
        "{}",
        run.stderr
    );
}

#[tokio::test]
async fn an_unreachable_api_is_reported_as_a_network_error() {
    let fake = FakeDaily::start(Encoding::Strings).await;
    let env = [("DAILY_API_URL", "http://127.0.0.1:9/v1")];
    let run = lobbylog(&fake, &env, &["daily", "status"]).await;
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("network error talking to Daily's API"),
        "{}",
        run.stderr
    );
}

#[tokio::test]
async fn register_creates_the_webhook_with_the_first_secret_as_its_hmac() {
    let app = spawn_app().await;
    let fake = FakeDaily::start(Encoding::Strings).await;
    let secrets = format!("{SECRET},{OLD_SECRET}");
    let env = [("DAILY_WEBHOOK_SECRET", secrets.as_str())];
    let run = lobbylog(
        &fake,
        &env,
        &["daily", "register", "--url", &endpoint(&app)],
    )
    .await;
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("created webhook"), "{}", run.stdout);
    assert!(
        !run.stdout.contains(SECRET),
        "the configured secret is not printed"
    );
    let hooks = fake.webhooks();
    assert_eq!(hooks.len(), 1);
    assert_eq!((hooks[0].hmac.as_str(), hooks[0].active), (SECRET, true));
    assert_eq!(hooks[0].event_types.len(), 6, "{:?}", hooks[0].event_types);
    assert!(
        hooks[0]
            .event_types
            .contains(&"waiting-participant.left".to_owned())
    );
}

#[tokio::test]
async fn register_updates_the_webhook_daily_has_for_that_url() {
    let app = spawn_app().await;
    let fake = FakeDaily::start(Encoding::Numbers).await;
    let uuid = fake.add_webhook(&endpoint(&app), false);
    let env = [("DAILY_WEBHOOK_SECRET", SECRET)];
    let args = [
        "daily",
        "register",
        "--url",
        &endpoint(&app),
        "--event-types",
        "meeting.started,meeting.ended",
    ];
    let run = lobbylog(&fake, &env, &args).await;
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains(&format!("updated webhook {uuid}")),
        "{}",
        run.stdout
    );
    let posts = fake.posts();
    assert_eq!(posts.len(), 1);
    assert_eq!(posts[0].path, format!("/v1/webhooks/{uuid}"));
    assert_eq!(
        posts[0].body["eventTypes"],
        json!(["meeting.started", "meeting.ended"])
    );
    let hooks = fake.webhooks();
    assert_eq!((hooks.len(), hooks[0].active), (1, true));
}

#[tokio::test]
async fn register_without_a_secret_prints_the_one_daily_generates_once() {
    let app = spawn_app_with(|s| s.http.verification = Verification::Disabled).await;
    let fake = FakeDaily::start(Encoding::Strings).await;
    let run = lobbylog(&fake, &[], &["daily", "register", "--url", &endpoint(&app)]).await;
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(fake.posts()[0].body.get("hmac").is_none(), "no hmac sent");
    let generated = fake.webhooks()[0].hmac.clone();
    let line = format!("DAILY_WEBHOOK_SECRET={generated}");
    assert_eq!(run.stdout.matches(&line).count(), 1, "{}", run.stdout);
    assert!(run.stdout.contains("restart"), "{}", run.stdout);
}

#[tokio::test]
async fn register_says_plainly_that_the_service_must_answer_daily_s_probe() {
    let fake = FakeDaily::start(Encoding::Strings).await;
    let env = [("DAILY_WEBHOOK_SECRET", SECRET)];
    let url = "http://127.0.0.1:9/webhooks/daily";
    let run = lobbylog(&fake, &env, &["daily", "register", "--url", url]).await;
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(run.stderr.contains("400"), "{}", run.stderr);
    assert!(
        run.stderr
            .contains("lobbylog must already be serving at that URL"),
        "{}",
        run.stderr
    );
    assert!(fake.webhooks().is_empty());
}

#[tokio::test]
async fn register_refuses_a_url_that_is_not_http() {
    let fake = FakeDaily::start(Encoding::Strings).await;
    let run = lobbylog(
        &fake,
        &[],
        &["daily", "register", "--url", "lobbylog.example.com"],
    )
    .await;
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("is not a URL"), "{}", run.stderr);
    assert!(fake.requests().is_empty(), "nothing was asked of Daily");
}

#[tokio::test]
async fn reactivate_reposts_only_failed_webhooks_and_records_their_gap() {
    let app = spawn_app().await;
    let event = crate::daily::waiting_joined("lobby", "gap00001-0000", 1.7e9);
    app.post_all(&[event]).await;
    let fake = FakeDaily::start(Encoding::Numbers).await;
    let failed = fake.add_webhook(&endpoint(&app), false);
    fake.add_webhook("https://other.example.com/webhooks/daily", true);
    let env = [("DATABASE_URL", app.database_url())];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let run = lobbylog(&fake, &env, &["daily", "reactivate"]).await;
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains(&format!(
            "{failed}  {}  FAILED (3 failed) -> ACTIVE",
            endpoint(&app)
        )),
        "{}",
        run.stdout
    );
    let posts = fake.posts();
    assert_eq!(posts.len(), 1);
    assert_eq!(
        (posts[0].path.as_str(), &posts[0].body),
        (
            format!("/v1/webhooks/{failed}").as_str(),
            &json!({"url": endpoint(&app)})
        )
    );
    let gap: (String, String, bool, bool, String) = sqlx::query_as(
        "select webhook_uuid, state, last_event_at = (select max(received_at) from webhook_events),
                reactivated_at is not null, detected_by from delivery_gaps",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(
        gap,
        (failed, "FAILED".into(), true, true, "reactivate".into())
    );

    let run = lobbylog(&fake, &env, &["daily", "reactivate"]).await;
    assert_eq!(run.code, 0);
    assert!(
        run.stdout.contains("every webhook is active"),
        "{}",
        run.stdout
    );
    assert_eq!(app.count("delivery_gaps").await, 1);
}

#[tokio::test]
async fn reactivate_with_a_url_daily_does_not_know_says_so() {
    let app = spawn_app().await;
    let fake = FakeDaily::start(Encoding::Strings).await;
    fake.add_webhook(&endpoint(&app), false);
    let url = app.database_url();
    let args = [
        "daily",
        "reactivate",
        "--url",
        "https://nowhere.example.com/webhooks/daily",
    ];
    let run = lobbylog(&fake, &[("DATABASE_URL", &url)], &args).await;
    assert_eq!(run.code, 1);
    assert!(
        run.stderr
            .contains("no webhook for https://nowhere.example.com"),
        "{}",
        run.stderr
    );
    assert!(fake.posts().is_empty());
    assert!(fake.requests().iter().all(|r| r.method == Method::GET));
}
