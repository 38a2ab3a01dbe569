//! `lobbylog daily pull-meetings`: every page, 429s waited out, and reruns without duplicates.

use serde_json::{Value, json};

use crate::{
    daily_api::lobbylog,
    fake_daily::{Encoding, FakeDaily},
    helpers::spawn_app,
};

/// 2024-06-01T00:00:00Z
pub const JUNE_1: i64 = 1_717_200_000;

/// A meeting as Daily lists it, with two participants.
pub fn meeting(id: &str, room: &str, start: i64, participants: &[(&str, i64)]) -> Value {
    let participants: Vec<Value> = participants
        .iter()
        .map(|(pid, join)| {
            json!({"user_id": null, "participant_id": pid, "user_name": format!("guest {pid}"),
                   "join_time": join, "duration": 600})
        })
        .collect();
    json!({"id": id, "room": room, "start_time": start, "duration": 1800, "ongoing": false,
           "max_participants": participants.len(), "participants": participants})
}

fn load_meetings(fake: &FakeDaily, count: i64) {
    let mut state = fake.state.lock().unwrap();
    for i in 0..count {
        let start = JUNE_1 + i * 3_600;
        let (a, b) = (format!("p-{i}-a"), format!("p-{i}-b"));
        let id = format!("m-{i:04}");
        state.meetings.push(meeting(
            &id,
            "lobby",
            start,
            &[(&a, start), (&b, start + 60)],
        ));
    }
    // Outside the window asked for: never stored.
    state.meetings.push(meeting(
        "m-before",
        "lobby",
        JUNE_1 - 86_400,
        &[("p-x", JUNE_1 - 86_400)],
    ));
}

#[tokio::test]
async fn pull_meetings_reads_every_page_and_a_rerun_adds_no_duplicates() {
    let app = spawn_app().await;
    for encoding in [Encoding::Numbers, Encoding::Strings] {
        let fake = FakeDaily::start(encoding).await;
        load_meetings(&fake, 230);
        fake.state.lock().unwrap().rate_limit_next = 1;
        let url = app.database_url();
        let env = [("DATABASE_URL", url.as_str())];
        let args = [
            "daily",
            "pull-meetings",
            "--since",
            "2024-06-01",
            "--until",
            "2024-07-01T00:00:00Z",
        ];

        let first = lobbylog(&fake, &env, &args).await;
        assert_eq!(
            first.code, 0,
            "{encoding:?}: {}{}",
            first.stdout, first.stderr
        );
        assert!(
            first.stderr.contains("rate limiting"),
            "the 429 was waited out: {}",
            first.stderr
        );
        let second = lobbylog(&fake, &env, &args).await;
        assert_eq!(second.code, 0, "{}", second.stderr);
        assert!(
            second
                .stdout
                .contains("meetings      230 (0 new, 230 updated)"),
            "{}",
            second.stdout
        );
        assert!(
            second
                .stdout
                .contains("participants  460 (0 new, 460 updated)"),
            "{}",
            second.stdout
        );

        assert_eq!(app.count("daily_meetings").await, 230);
        assert_eq!(app.count("daily_meeting_participants").await, 460);
        let cursors: Vec<Option<String>> = fake
            .requests()
            .iter()
            .filter(|r| r.path == "/v1/meetings")
            .map(|r| r.query.get("starting_after").cloned())
            .collect();
        // A 429, then three pages newest first, for each run.
        let pages = [
            None,
            None,
            Some("m-0130".to_owned()),
            Some("m-0030".to_owned()),
        ];
        assert_eq!(cursors[..4], pages, "{encoding:?}");
        assert_eq!(cursors.len(), 7, "{cursors:?}");
        let query = &fake.requests()[0].query;
        assert_eq!(
            (query["timeframe_start"].as_str(), query["limit"].as_str()),
            ("1717200000", "100")
        );
        assert_eq!(query["timeframe_end"], "1719792000");
    }
    let (start, joined): (i64, i64) = sqlx::query_as(
        "select extract(epoch from m.start_time)::int8, extract(epoch from p.join_time)::int8
         from daily_meetings m join daily_meeting_participants p on p.meeting_id = m.id
         where m.id = 'm-0002' and p.participant_id = 'p-2-b'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!((start, joined), (JUNE_1 + 7_200, JUNE_1 + 7_260));
}

#[tokio::test]
async fn pull_meetings_refuses_a_window_that_ends_before_it_starts() {
    let fake = FakeDaily::start(Encoding::Numbers).await;
    let args = [
        "daily",
        "pull-meetings",
        "--since",
        "2024-06-02",
        "--until",
        "1717200000",
    ];
    let run = lobbylog(&fake, &[], &args).await;
    assert_eq!(run.code, 1);
    assert!(
        run.stderr
            .contains("--since (2024-06-02T00:00:00Z) must come before --until"),
        "{}",
        run.stderr
    );
    assert!(fake.requests().is_empty());
}
