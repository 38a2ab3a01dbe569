//! The dashboard's filters: a bad one gets a 400 page saying what is wrong, before any read.

use crate::{
    helpers::{Service, TestDb, free_port, ready, spawn_app, spawn_app_behind_proxy},
    markup::section,
};

#[tokio::test]
async fn bad_filters_get_a_400_that_says_what_is_wrong() {
    let app = spawn_app().await;
    for (query, says) in [
        ("?days=0", "from 1 to 366"),
        ("?days=367", "from 1 to 366"),
        ("?days=abc", "from 1 to 366"),
        ("?days=-3", "from 1 to 366"),
        ("?days=%FF", "from 1 to 366"),
        ("?days=1&days=2", "cannot be read"),
        ("?room=%00", "control character (U+0000)"),
        ("?room=lobby%0A", "control character (U+000A)"),
        ("?room=%C2%85", "control character (U+0085)"),
    ] {
        let response = app.get_admin(&format!("/dashboard{query}")).await;
        assert_eq!(response.status(), 400, "{query}");
        let html = response.text().await.unwrap();
        assert!(section(&html, "error").contains(says), "{query}: {html}");
    }
    let long = "r".repeat(600);
    let response = app.get_admin(&format!("/dashboard?room={long}")).await;
    assert_eq!(response.status(), 400);
}

#[tokio::test]
async fn a_room_with_a_control_character_is_refused_without_asking_postgres() {
    let (app, proxy, _direct) = spawn_app_behind_proxy(|_| {}).await;
    proxy.cut();
    for room in ["%00", "a%01b", "%1B%5B31m", "%7F"] {
        let response = app.get_admin(&format!("/dashboard?room={room}")).await;
        assert_eq!(response.status(), 400, "room={room}");
    }
}

#[tokio::test]
async fn a_room_with_a_nul_byte_logs_no_error() {
    let db = TestDb::fresh().await;
    let (port, spool) = (free_port(), tempfile::tempdir().unwrap());
    let log = spool.path().join("log.json");
    let service = Service::start_logging_to(db.url(), spool.path(), port, &log);
    let client = reqwest::Client::new();
    assert!(ready(&client, &format!("http://127.0.0.1:{port}")).await);
    let url = format!("{}/dashboard?room=%00", service.admin);
    let response = client.get(url).send().await.unwrap();
    assert_eq!(response.status(), 400);
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(!logged.contains("ERROR"), "{logged}");
}
