//! The gap queries of docs/daily.md: abandon rates without gap days, REST against webhooks.

use lobbylog::store::daily_api::{self as rows, MeetingRow, ParticipantRow};
use serde_json::json;
use time::OffsetDateTime;

use crate::{
    analytics::run,
    daily,
    helpers::{TestApp, markdown, now, spawn_app},
};

const DAY: f64 = 86_400.0;

fn at(seconds: f64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos((seconds * 1e9) as i128).unwrap()
}

async fn insert_gap(app: &TestApp, from: f64, to: f64) {
    sqlx::query(
        "insert into delivery_gaps (webhook_uuid, webhook_url, state, failed_count, last_event_at,
                                    detected_at, reactivated_at, detected_by, closed_because)
         values ('0b7e9c2a', 'https://lobbylog.example.com/webhooks/daily', 'FAILED', 3, $1, $1, $2,
                 'watchdog', 'active_again')",
    )
    .bind(at(from))
    .bind(at(to))
    .execute(&app.pool)
    .await
    .unwrap();
}

#[tokio::test]
async fn the_documented_gap_queries_leave_gap_days_out_and_find_what_webhooks_missed() {
    let queries = markdown::sql_blocks(&markdown::read("docs/daily.md"));
    assert_eq!(
        queries.len(),
        2,
        "docs/daily.md queries changed: update this test"
    );
    let app = spawn_app().await;
    let today = (now() / DAY).floor() * DAY;
    let (gap_day, clean_day) = (today - 2.0 * DAY + 43_200.0, today - DAY + 43_200.0);
    // The gap's day: two knocks look abandoned (their admissions were never delivered).
    let mut events = vec![
        daily::waiting_left("lobby", "gap1-0001", gap_day, 30.0),
        daily::waiting_left("lobby", "gap2-0001", gap_day + 60.0, 30.0),
    ];
    events.push(daily::waiting_left("lobby", "cln1-0001", clean_day, 30.0));
    events.push(daily::waiting_joined(
        "lobby",
        "cln2-0001",
        clean_day + 60.0,
    ));
    events.push(daily::participant_joined(
        "lobby",
        "cln2-0001",
        clean_day + 90.0,
    ));
    app.post_all(&events).await;
    app.roll_up().await;
    insert_gap(&app, gap_day - 3_600.0, gap_day + 3_600.0).await;

    let rows = run(&app, &queries[0]).await;
    assert_eq!(
        rows,
        [json!({"room": "lobby", "abandoned": 1, "resolved": 2, "abandon_rate": 0.5})]
    );

    // Daily's REST API saw three participants in the gap; the webhooks delivered one of them.
    app.post_all(&[daily::participant_joined("lobby", "seen-0001", gap_day)])
        .await;
    let meeting = MeetingRow {
        id: "m-gap",
        room: "lobby",
        start_time: at(gap_day - 600.0),
        duration_seconds: Some(3_000.0),
        ongoing: false,
        max_participants: Some(4),
    };
    let joined = |id, offset: f64| ParticipantRow {
        meeting_id: "m-gap",
        participant_id: id,
        user_id: None,
        user_name: Some("guest"),
        join_time: at(gap_day + offset),
        duration_seconds: Some(600.0),
    };
    let participants = [
        joined("seen-0001", 0.0),
        joined("lost-0001", 120.0),
        joined("lost-0002", 240.0),
        joined("late-0001", 7_200.0), // after the gap closed
    ];
    rows::upsert_meetings(&app.pool, &[meeting], &participants)
        .await
        .unwrap();
    let rows = run(&app, &queries[1]).await;
    assert_eq!(
        rows,
        [
            json!({"room": "lobby", "rest_participants": 3, "in_webhook_sessions": 1, "missed_by_webhooks": 2})
        ]
    );
}
