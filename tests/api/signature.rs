//! Requests without a valid signature get 401 with a named reason and store nothing.

use lobbylog::signature::Verification;
use serde_json::Value;

use crate::helpers::{
    Headers, OLD_SECRET, SECRET, fixture, secrets, signed_headers, spawn_app, spawn_app_with,
};

#[tokio::test]
async fn bad_or_missing_signatures_get_401_naming_the_problem() {
    let app = spawn_app().await;
    let body = fixture("waiting-participant.left__1.json");
    let good = signed_headers(SECRET, &body);
    let without =
        |name: &str| -> Headers { good.iter().filter(|(n, _)| *n != name).cloned().collect() };
    let with = |name: &'static str, value: &str| -> Headers {
        let mut headers = without(name);
        headers.push((name, value.to_owned()));
        headers
    };
    let mut tampered = body.clone();
    let last = tampered.len() - 2;
    tampered[last] = b'9';

    let cases: Vec<(&str, Vec<u8>, Headers, &str)> = vec![
        (
            "wrong secret",
            body.clone(),
            signed_headers("d3Jvbmctc2VjcmV0", &body),
            "bad_signature",
        ),
        ("tampered body", tampered, good.clone(), "bad_signature"),
        (
            "tampered timestamp",
            body.clone(),
            with("x-webhook-timestamp", "1719586628432"),
            "bad_signature",
        ),
        (
            "no signature",
            body.clone(),
            without("x-webhook-signature"),
            "missing_signature",
        ),
        (
            "no timestamp",
            body.clone(),
            without("x-webhook-timestamp"),
            "missing_timestamp",
        ),
        (
            "signature not base64",
            body.clone(),
            with("x-webhook-signature", "%%%"),
            "signature_not_base64",
        ),
        (
            "no headers at all",
            body.clone(),
            vec![],
            "missing_signature",
        ),
    ];
    for (case, body, headers, code) in cases {
        let response = app.post_webhook(&body, &headers).await;
        assert_eq!(response.status(), 401, "{case}");
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["error"], code, "{case}: {error}");
        assert!(
            error["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{case}"
        );
    }
    assert_eq!(
        app.count("webhook_events").await + app.count("dead_letters").await,
        0
    );
}

#[tokio::test]
async fn an_unsigned_non_json_body_is_refused_not_dead_lettered() {
    let app = spawn_app().await;
    let response = app.post_webhook(b"garbage", &[]).await;
    assert_eq!(response.status(), 401);
    assert_eq!(app.count("dead_letters").await, 0);
}

#[tokio::test]
async fn during_a_rotation_old_and_new_secrets_are_both_accepted() {
    let app = spawn_app_with(|s| {
        s.http.verification = Verification::Secrets(secrets(&[SECRET, OLD_SECRET]))
    })
    .await;
    let body = fixture("meeting.started__1.json");
    for secret in [OLD_SECRET, SECRET] {
        let response = app
            .post_webhook(&body, &signed_headers(secret, &body))
            .await;
        assert_eq!(response.status(), 200, "{secret}");
    }
    let response = app
        .post_webhook(&body, &signed_headers("d3Jvbmctc2VjcmV0", &body))
        .await;
    assert_eq!(response.status(), 401);
    assert_eq!(app.count("webhook_events").await, 1);
}

#[tokio::test]
async fn with_checks_explicitly_disabled_unsigned_events_are_stored() {
    let app = spawn_app_with(|s| s.http.verification = Verification::Disabled).await;
    let response = app
        .post_webhook(&fixture("meeting.ended__1.json"), &[])
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(app.count("webhook_events").await, 1);
}
