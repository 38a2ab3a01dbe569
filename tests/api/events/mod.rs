//! Finding stored events: `GET /events/{id}` and `GET /events` on the admin listener only, and
//! `lobbylog events show|list` against the same database.

mod cli;

use serde_json::{Value, json};

use crate::{
    daily::{envelope, participant_joined, session_payload, waiting_joined, waiting_left},
    helpers::{TestApp, now, spawn_app},
};

/// Two knocks in `lobby` (the second admitted) and one in `other`, minutes apart, oldest first.
pub async fn app_with_knocks() -> (TestApp, f64) {
    let app = spawn_app().await;
    let t = (now() - 3600.0).floor();
    app.post_all(&[
        waiting_joined("lobby", "aaaa-1", t),
        waiting_left("lobby", "aaaa-1", t, 30.0),
        waiting_joined("lobby", "bbbb-2", t + 600.0),
        participant_joined("lobby", "bbbb-2", t + 660.0),
        waiting_joined("other", "cccc-3", t + 1200.0),
    ])
    .await;
    (app, t)
}

pub async fn get_json(app: &TestApp, path: &str) -> (u16, Value) {
    let response = app.get_admin(path).await;
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

pub fn ids(list: &Value) -> Vec<&str> {
    let events = list["events"].as_array().expect("an events array");
    events
        .iter()
        .map(|e| e["event_id"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn an_event_is_found_by_id_with_its_body_and_the_row_it_fills() {
    let (app, t) = app_with_knocks().await;
    let (status, event) = get_json(&app, "/events/1-w-ptcpt-left-aaaa-1").await;
    assert_eq!(status, 200, "{event}");
    assert_eq!(event["event_id"], "1-w-ptcpt-left-aaaa-1");
    assert_eq!(event["event_type"], "waiting-participant.left");
    assert_eq!(event["version"], "1.0.0");
    assert_eq!(event["body"], waiting_left("lobby", "aaaa-1", t, 30.0));
    assert_eq!(event["projection_error"], Value::Null);
    assert!(
        event["event_ts"].as_str().unwrap().ends_with('Z'),
        "{event}"
    );
    assert!(event["received_at"].is_string(), "{event}");
    assert_eq!(
        event["projection"],
        json!({"table": "waiting_sessions", "key": {"room": "lobby", "session_id": "aaaa-1"},
               "exists": true, "holds": ["left_event_id", "attrs_key"]})
    );
    let (_, joined) = get_json(&app, "/events/1-w-ptcpt-join-aaaa-1").await;
    assert_eq!(joined["projection"]["holds"], json!(["joined_event_id"]));
}

#[tokio::test]
async fn call_session_and_meeting_events_name_their_rows_and_a_room_lists_meetings_too() {
    let (app, t) = app_with_knocks().await;
    let started = json!({"meeting_id": "m-1", "room": "lobby", "start_ts": t + 900.0});
    app.post_all(&[envelope("meeting.started", "meet-1", t + 900.0, started)])
        .await;
    let (_, list) = get_json(&app, "/events?room=lobby&type=participant.joined").await;
    let call = ids(&list)[0].to_owned();
    let (_, event) = get_json(&app, &format!("/events/{call}")).await;
    assert_eq!(
        event["projection"],
        json!({"table": "participant_sessions", "key": {"room": "lobby", "session_id": "bbbb-2"},
               "exists": true, "holds": ["joined_event_id", "attrs_key"]})
    );
    let (_, event) = get_json(&app, "/events/meet-1").await;
    assert_eq!(
        event["projection"],
        json!({"table": "meetings", "key": {"meeting_id": "m-1"},
               "exists": true, "holds": ["started_event_id", "attrs_key"]})
    );
    let (_, list) = get_json(&app, "/events?room=lobby&limit=1").await;
    assert_eq!(ids(&list), ["meet-1"]);
}

#[tokio::test]
async fn an_event_that_could_not_be_projected_shows_why() {
    let app = spawn_app().await;
    let mut payload = session_payload("lobby", "dddd-4", now(), None);
    payload["joined_at"] = json!("soon");
    app.post_all(&[envelope("participant.joined", "bad-1", now(), payload)])
        .await;
    let (status, event) = get_json(&app, "/events/bad-1").await;
    assert_eq!(status, 200, "{event}");
    assert!(
        event["projection_error"]
            .as_str()
            .unwrap()
            .contains("joined_at"),
        "{event}"
    );
    assert_eq!(event["projection"], Value::Null);
}

#[tokio::test]
async fn an_unknown_id_is_a_404_and_a_bad_one_a_400() {
    let app = spawn_app().await;
    let (status, body) = get_json(&app, "/events/no-such-event").await;
    assert_eq!(status, 404);
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("no stored event with this id")
    );
    assert_eq!(body["event_id"], "no-such-event");
    let long = "e".repeat(513);
    for (id, says) in [
        (long.as_str(), "513 bytes long; at most 512"),
        ("a%0Ab", "control character (U+000A)"),
        ("%00", "control character (U+0000)"),
        ("%1B%5B31m", "control character (U+001B)"),
        ("%FF", "cannot be read"),
    ] {
        let (status, body) = get_json(&app, &format!("/events/{id}")).await;
        assert_eq!(status, 400, "{id}");
        assert!(
            body["error"].as_str().unwrap().contains(says),
            "{id}: {body}"
        );
    }
    assert_eq!(
        get_json(&app, &format!("/events/{}", "e".repeat(512)))
            .await
            .0,
        404
    );
}

#[tokio::test]
async fn a_room_lists_the_events_behind_its_knocks_and_call_sessions_newest_first() {
    let (app, _) = app_with_knocks().await;
    let (status, list) = get_json(&app, "/events?room=lobby").await;
    assert_eq!(status, 200, "{list}");
    let expected = [
        "ptcpt-join-bbbb-2-",
        "1-w-ptcpt-join-bbbb-2",
        "1-w-ptcpt-left-aaaa-1",
        "1-w-ptcpt-join-aaaa-1",
    ];
    let got = ids(&list);
    assert_eq!(got.len(), expected.len(), "{got:?}");
    for (id, prefix) in got.iter().zip(expected) {
        assert!(id.starts_with(prefix), "{got:?}");
    }
    assert_eq!(list["limit"], 50);
    let (_, list) = get_json(&app, "/events?room=lobby&limit=2").await;
    assert_eq!(ids(&list).len(), 2);
}

#[tokio::test]
async fn a_room_and_session_list_the_knocks_joined_and_left_events() {
    let (app, t) = app_with_knocks().await;
    let (status, list) = get_json(&app, "/events?room=lobby&session_id=aaaa-1").await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(
        ids(&list),
        ["1-w-ptcpt-left-aaaa-1", "1-w-ptcpt-join-aaaa-1"]
    );
    assert_eq!(
        list["events"][1]["body"],
        waiting_joined("lobby", "aaaa-1", t)
    );
    let (_, list) = get_json(&app, "/events?room=other&session_id=aaaa-1").await;
    assert_eq!(ids(&list), Vec::<&str>::new());
    let query = "room=lobby&session_id=aaaa-1&type=waiting-participant.joined";
    let (_, list) = get_json(&app, &format!("/events?{query}")).await;
    assert_eq!(ids(&list), ["1-w-ptcpt-join-aaaa-1"]);
}

#[tokio::test]
async fn a_type_and_a_time_window_list_the_events_sent_in_it_newest_first() {
    let (app, t) = app_with_knocks().await;
    let joined = "type=waiting-participant.joined";
    let (_, list) = get_json(&app, &format!("/events?{joined}")).await;
    let all = [
        "1-w-ptcpt-join-cccc-3",
        "1-w-ptcpt-join-bbbb-2",
        "1-w-ptcpt-join-aaaa-1",
    ];
    assert_eq!(ids(&list), all);
    // since is inclusive, until exclusive; epoch seconds or RFC 3339.
    let (since, until) = (t + 600.0, t + 1200.0);
    let (status, list) = get_json(
        &app,
        &format!("/events?{joined}&since={since}&until={until}"),
    )
    .await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(ids(&list), ["1-w-ptcpt-join-bbbb-2"]);
    let rfc = time::OffsetDateTime::from_unix_timestamp(since as i64).unwrap();
    let rfc = rfc
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let (_, list) = get_json(&app, &format!("/events?{joined}&since={rfc}")).await;
    assert_eq!(ids(&list), &all[..2]);
    let (_, list) = get_json(&app, &format!("/events?since={since}&limit=3")).await;
    let got = ids(&list);
    assert_eq!(got.len(), 3, "{got:?}");
    assert_eq!(got[0], "1-w-ptcpt-join-cccc-3");
    let ts: Vec<&str> = list["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event_ts"].as_str().unwrap())
        .collect();
    assert!(ts.windows(2).all(|w| w[0] >= w[1]), "{ts:?}");
}

#[tokio::test]
async fn bad_list_parameters_get_a_400_that_says_which() {
    let app = spawn_app().await;
    for (query, says) in [
        ("limit=501", "limit must be a whole number from 1 to 500"),
        ("limit=0", "from 1 to 500"),
        ("limit=many", "from 1 to 500"),
        ("session_id=aaaa-1", "session_id needs room"),
        (
            "since=yesterday",
            "since \"yesterday\" is neither an RFC 3339 time",
        ),
        (
            "until=2024-05-01T12:00:00+02:00",
            "write the + of an offset as %2B",
        ),
        ("since=20&until=10", "since (20) must be before until (10)"),
        ("room=", "room is empty"),
        ("type=a%0Ab", "type holds a control character"),
        ("romo=lobby", "unknown field `romo`"),
    ] {
        let (status, body) = get_json(&app, &format!("/events?{query}")).await;
        assert_eq!(status, 400, "{query}");
        assert!(
            body["error"].as_str().unwrap().contains(says),
            "{query}: {body}"
        );
    }
    let (status, _) = get_json(&app, "/events?until=2024-05-01T12:00:00%2B02:00&limit=500").await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn events_are_not_served_on_the_public_port() {
    let (app, _) = app_with_knocks().await;
    for path in [
        "/events",
        "/events?room=lobby",
        "/events/1-w-ptcpt-join-aaaa-1",
    ] {
        assert_eq!(app.get(path).await.status(), 404, "{path}");
    }
}
