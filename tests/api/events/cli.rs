//! `lobbylog events show|list` against the admin listener's database: the same JSON, a table, and
//! exit 1 when there is nothing to show.

use serde_json::Value;

use super::{app_with_knocks, get_json, ids};
use crate::helpers::{lobbylog, run};

#[tokio::test]
async fn the_cli_shows_and_lists_what_the_admin_listener_does() {
    let (app, _) = app_with_knocks().await;
    let url = app.database_url();
    let cli = |args: &[&str]| run(lobbylog(&url, args), None);
    let shown = cli(&["events", "show", "1-w-ptcpt-join-bbbb-2", "--json"]).await;
    assert_eq!(shown.code, 0, "{shown:?}");
    let (_, served) = get_json(&app, "/events/1-w-ptcpt-join-bbbb-2").await;
    assert_eq!(
        serde_json::from_str::<Value>(&shown.stdout).unwrap(),
        served
    );
    let text = cli(&["events", "show", "1-w-ptcpt-join-bbbb-2"]).await;
    assert_eq!(text.code, 0, "{text:?}");
    assert!(text.stdout.contains("waiting_sessions"), "{}", text.stdout);
    assert!(
        text.stdout.contains("holds it in joined_event_id"),
        "{}",
        text.stdout
    );

    let missing = cli(&["events", "show", "no-such-event"]).await;
    assert_eq!(missing.code, 1, "{missing:?}");
    assert!(
        missing
            .stderr
            .contains("no stored event with id \"no-such-event\""),
        "{missing:?}"
    );

    let args = [
        "events",
        "list",
        "--room",
        "lobby",
        "--session-id",
        "aaaa-1",
        "--json",
    ];
    let listed = cli(&args).await;
    assert_eq!(listed.code, 0, "{listed:?}");
    let listed: Value = serde_json::from_str(&listed.stdout).unwrap();
    let (_, served) = get_json(&app, "/events?room=lobby&session_id=aaaa-1").await;
    assert_eq!(listed, served);
    assert_eq!(
        ids(&listed),
        ["1-w-ptcpt-left-aaaa-1", "1-w-ptcpt-join-aaaa-1"]
    );

    let table = cli(&["events", "list", "--type", "waiting-participant.joined"]).await;
    assert_eq!(table.code, 0, "{table:?}");
    assert!(
        table.stdout.contains("3 event(s), newest first"),
        "{}",
        table.stdout
    );
    let refused = cli(&["events", "list", "--limit", "501"]).await;
    assert_eq!(refused.code, 1, "{refused:?}");
    assert!(refused.stderr.contains("from 1 to 500"), "{refused:?}");
}
