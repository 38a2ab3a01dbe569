//! History outlives its raw events: the knock tables and the `knocks` view through prune and
//! reproject, knocks that straddle the cutoff included.

use rand::{SeedableRng, rngs::StdRng};
use serde_json::{Value, json};

use super::{backfill, days_ago, ids, lobbylog};
use crate::{
    daily::{self, envelope, session_payload},
    helpers::{TestApp, now, spawn_app},
};

/// Every projected row and every `knocks` row, as text (a waiting knock's growing wait left out).
async fn history(app: &TestApp) -> Vec<String> {
    let mut rows = Vec::new();
    for sql in [
        "select 'waiting ' || to_jsonb(t)::text from waiting_sessions t",
        "select 'participant ' || to_jsonb(t)::text from participant_sessions t",
        "select 'meeting ' || to_jsonb(t)::text from meetings t",
        "select 'knock ' || (to_jsonb(k) - 'wait_seconds' || jsonb_build_object('wait',
             case when outcome <> 'waiting' then wait_seconds end))::text from knocks k",
    ] {
        rows.extend(ids(&app.pool, &format!("{sql} order by 1")).await);
    }
    rows
}

/// Fails with the rows that differ, rather than every row.
fn assert_same(now: &[String], before: &[String], when: &str) {
    let missing: Vec<&String> = before.iter().filter(|r| !now.contains(r)).collect();
    let added: Vec<&String> = now.iter().filter(|r| !before.contains(r)).collect();
    assert!(
        missing.is_empty() && added.is_empty(),
        "{when}: missing {missing:#?}\nadded {added:#?}"
    );
    assert_eq!(now.len(), before.len(), "{when}");
}

/// Knocks and a meeting whose events fall on both sides of a 90-day cutoff.
fn straddling_histories() -> Vec<Value> {
    let (room, edge) = ("edge", days_ago(90.0));
    let abandoned = "abandoned-straddle-0000";
    let admitted = "admitted-straddle-0000";
    let meeting = |kind: &str, ts: f64, payload: Value| {
        envelope(kind, &format!("{kind}-straddle"), ts, payload)
    };
    let (start, end) = (days_ago(91.0), days_ago(89.0));
    vec![
        // Knocked an hour before the cutoff, gave up two hours later.
        daily::waiting_joined(room, abandoned, edge - 3_600.0),
        daily::waiting_left(room, abandoned, edge - 3_600.0, 7_200.0),
        // Admitted across the cutoff.
        daily::waiting_joined(room, admitted, edge - 1_800.0),
        daily::participant_joined(room, admitted, edge + 1_800.0),
        // Sent before the cutoff, but its payload says the knock began after it (a skewed clock).
        envelope(
            "waiting-participant.joined",
            "1-w-ptcpt-join-skewed-straddle",
            edge - 600.0,
            session_payload(room, "skewed-straddle-0000", edge + 600.0, Some(0.0)),
        ),
        meeting(
            "meeting.started",
            start,
            json!({"start_ts": start, "meeting_id": "straddle", "room": room}),
        ),
        meeting(
            "meeting.ended",
            end + 20.0,
            json!({"start_ts": start, "end_ts": end, "meeting_id": "straddle", "room": room}),
        ),
    ]
}

#[tokio::test]
async fn knocks_and_sessions_are_the_same_before_a_prune_after_it_and_after_a_reproject() {
    let app = spawn_app().await;
    let mut rng = StdRng::seed_from_u64(13);
    // Histories from 75 to 105 days ago, around the cutoff, and recent ones (some still waiting).
    let mut events: Vec<Value> = Vec::new();
    for i in 0..80 {
        let around = if i < 60 { days_ago(75.0) } else { now() };
        events.extend(daily::random_history(&mut rng, i, around).0);
    }
    events.extend(straddling_histories());
    backfill(&app, &events, "").await;
    let before = history(&app).await;
    let url = app.database_url();

    let run = lobbylog(&url, &["prune", "--older-than", "90d"]).await;
    assert_eq!(run.code, 0, "{run:?}");
    let pruned = run.count("events") as usize;
    assert!(pruned > 20 && pruned < events.len() - 20, "{pruned} pruned");
    let orphans = ids(
        &app.pool,
        "select session_id from waiting_sessions t where not exists (select 1 from webhook_events e
         where e.event_id = t.joined_event_id collate \"default\"
            or e.event_id = t.left_event_id collate \"default\")",
    )
    .await;
    assert!(
        orphans.len() > 5,
        "some knocks must have lost every raw event"
    );
    assert!(orphans.contains(&"skewed-straddle-0000".to_owned()));
    assert_same(&history(&app).await, &before, "after the prune");

    let run = lobbylog(&url, &["reproject", "--page-size", "17"]).await;
    assert_eq!(run.code, 0, "{run:?}");
    assert_same(
        &history(&app).await,
        &before,
        "after the prune and a reproject",
    );
}

#[tokio::test]
async fn reproject_after_a_prune_rebuilds_only_rows_that_began_after_the_horizon_with_all_their_events()
 {
    let app = spawn_app().await;
    let recent = daily::waiting_joined("room", "recent-knock-0000", days_ago(1.0));
    backfill(&app, std::slice::from_ref(&recent), "").await;
    let run = lobbylog(&app.database_url(), &["prune", "--older-than", "90d"]).await;
    assert_eq!(run.code, 0, "{run:?}");
    // Rows the projection would never make: one it can rebuild (so it goes), and two it cannot.
    for (session, event, days) in [
        ("rebuildable", recent["id"].as_str().unwrap(), 1),
        ("before-the-horizon", recent["id"].as_str().unwrap(), 100),
        ("event-gone", "1-w-ptcpt-join-pruned", 1),
    ] {
        sqlx::query(
            "insert into waiting_sessions (room, session_id, joined_event_id, joined_at, attrs_key)
             values ('ghost', $1, $2, now() - make_interval(days => $3), '1' || $2)",
        )
        .bind(session)
        .bind(event)
        .bind(days)
        .execute(&app.pool)
        .await
        .unwrap();
    }

    let run = lobbylog(&app.database_url(), &["reproject"]).await;
    assert_eq!(run.code, 0, "{run:?}");
    let kept = ids(
        &app.pool,
        "select room || '/' || session_id from waiting_sessions order by 1",
    )
    .await;
    assert_eq!(
        kept,
        [
            "ghost/before-the-horizon",
            "ghost/event-gone",
            "room/recent-knock-0000"
        ]
    );
}
