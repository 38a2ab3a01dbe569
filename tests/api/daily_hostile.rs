//! A misbehaving Daily API: an endless Retry-After, a huge answer, the key echoed back, control
//! characters in what it says.

use std::time::{Duration, Instant};

use lobbylog::daily::{client::RateLimit, webhooks};

use crate::{
    daily_api::{command, lobbylog},
    daily_watchdog::client,
    fake_daily::{API_KEY, Encoding, FakeDaily, Fault},
    helpers::eventually,
};

/// The first whole second a `Duration` cannot hold.
const TWO_TO_THE_64: &str = "18446744073709551616";

fn has_controls(text: &str) -> bool {
    text.chars().any(|c| c.is_control() && c != '\n')
}

#[tokio::test]
async fn status_waits_out_a_retry_after_of_2_to_the_64_seconds_without_crashing() {
    let fake = FakeDaily::start(Encoding::Strings).await;
    fake.misbehave([Fault::RateLimited(TWO_TO_THE_64)]);
    let mut child = command(&fake, &[], &["daily", "status"]).spawn().unwrap();
    assert!(eventually(30, || async { !fake.requests().is_empty() }).await);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let exited = child.try_wait().unwrap();
    let _ = child.kill();
    let output = child.wait_with_output().unwrap();
    assert_eq!(
        exited.map(|s| s.code()),
        None,
        "status ended instead of waiting: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[tokio::test]
async fn the_client_waits_a_retry_after_of_2_to_the_64_seconds_at_its_cap_then_goes_on() {
    let fake = FakeDaily::start(Encoding::Strings).await;
    fake.add_webhook("https://lobbylog.example.com/webhooks/daily", true);
    fake.misbehave([Fault::RateLimited(TWO_TO_THE_64)]);
    let client = client(&fake.url, API_KEY).with_rate_limit(RateLimit {
        attempts: 2,
        longest_wait: Duration::from_millis(50),
    });
    let started = Instant::now();
    let listed = webhooks::list(&client).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[tokio::test]
async fn an_answer_past_the_size_limit_is_refused_quickly_naming_the_limit() {
    let fake = FakeDaily::start(Encoding::Strings).await;
    fake.misbehave([Fault::Huge(64 << 20)]);
    let started = Instant::now();
    let run = lobbylog(&fake, &[], &["daily", "status"]).await;
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("larger than 8 MiB"), "{}", run.stderr);
    assert!(started.elapsed() < Duration::from_secs(20));
}

#[tokio::test]
async fn the_api_key_daily_echoes_back_is_never_shown() {
    let fake = FakeDaily::start(Encoding::Strings).await;
    fake.misbehave([Fault::EchoedKey, Fault::EchoedKey]);
    let run = lobbylog(&fake, &[], &["daily", "status"]).await;
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let shown = format!("{}{}", run.stdout, run.stderr);
    assert!(
        shown.contains("Bearer [redacted]") && !shown.contains(API_KEY),
        "{shown}"
    );
    let error = webhooks::list(&client(&fake.url, API_KEY))
        .await
        .unwrap_err();
    // As the watchdog in `serve` logs it.
    let logged = format!("{:#}", anyhow::Error::from(error));
    assert!(
        logged.contains("Bearer [redacted]") && !logged.contains(API_KEY),
        "{logged}"
    );
}

#[tokio::test]
async fn status_shows_control_characters_from_daily_escaped() {
    let fake = FakeDaily::start(Encoding::Strings).await;
    fake.add_webhook(
        "https://x.example.com/\u{1b}[2J\u{1b}]0;owned\u{7}\r\u{9b}31m",
        true,
    );
    let run = lobbylog(&fake, &[], &["daily", "status"]).await;
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(!has_controls(&run.stdout), "{:?}", run.stdout);
    assert!(
        run.stdout.contains(r"https://x.example.com/\u{1b}[2J"),
        "{}",
        run.stdout
    );
    fake.misbehave([Fault::Raw(500, "boom\r\u{1b}[2J\u{9b}2Jhidden")]);
    let run = lobbylog(&fake, &[], &["daily", "status"]).await;
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(!has_controls(&run.stderr), "{:?}", run.stderr);
    assert!(run.stderr.contains("boom"), "{}", run.stderr);
}
