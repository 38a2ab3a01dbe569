//! `lobbylog backfill`, the real binary against a fresh database: shapes, compression, duplicates,
//! bad records, broken files, reruns, dry runs, interrupts, and the same knocks as the intake.

use std::{io::Write, path::Path, process::Stdio, time::Duration};

use rand::{SeedableRng, rngs::StdRng, seq::SliceRandom};
use serde_json::Value;
use sqlx::PgPool;

use crate::{
    daily,
    helpers::{Run, TestDb, admin_url, database_url, knocks, lobbylog, now, run, spawn_app},
};

/// Runs `lobbylog backfill ARGS` against `url`, with `stdin` piped in if given.
async fn backfill(url: &str, args: &[&str], stdin: Option<Vec<u8>>) -> Run {
    let args: Vec<&str> = std::iter::once("backfill")
        .chain(args.iter().copied())
        .collect();
    run(lobbylog(url, &args), stdin).await
}

/// `n` distinct knocks starting with `prefix`, one event each.
pub fn sample(prefix: &str, n: usize) -> Vec<Value> {
    (0..n)
        .map(|i| daily::waiting_joined("room", &format!("{prefix}-{i:05}"), 1.7e9 + i as f64))
        .collect()
}

pub fn ndjson(events: &[Value]) -> Vec<u8> {
    events
        .iter()
        .map(|e| format!("{e}\n"))
        .collect::<String>()
        .into_bytes()
}

pub fn pretty_array(events: &[Value]) -> Vec<u8> {
    serde_json::to_vec_pretty(events).unwrap()
}

pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

pub fn zstd(bytes: &[u8]) -> Vec<u8> {
    zstd::encode_all(bytes, 3).unwrap()
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> String {
    let path = dir.join(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, bytes).unwrap();
    path.to_str().unwrap().to_owned()
}

#[tokio::test]
async fn every_shape_and_compression_is_read_by_content_whatever_the_file_name() {
    let dir = tempfile::tempdir().unwrap();
    let single = serde_json::to_vec_pretty(&sample("single", 1)[0]).unwrap();
    let cases: [(&str, Vec<u8>, usize); 7] = [
        ("lines.txt", ndjson(&sample("lines", 3)), 3),
        ("array.ndjson", pretty_array(&sample("array", 4)), 4),
        ("single.log", single.clone(), 1),
        ("lines-gz.json", gzip(&ndjson(&sample("lgz", 5))), 5),
        ("array.zst.gz", zstd(&pretty_array(&sample("azst", 6))), 6),
        ("single-gz", gzip(&single), 1),
        (
            "compact.json",
            serde_json::to_vec(&sample("compact", 2)).unwrap(),
            2,
        ),
    ];
    for (name, bytes, events) in cases {
        let db = TestDb::fresh().await;
        let path = write(dir.path(), name, &bytes);
        let run = backfill(db.url(), &[&path], None).await;
        assert_eq!(run.code, 0, "{name}: {run:?}");
        assert_eq!(run.count("inserted"), events as u64, "{name}: {run:?}");
        assert_eq!(db.count("webhook_events").await, events as i64, "{name}");
        assert_eq!(db.count("waiting_sessions").await, events as i64, "{name}");
    }
}

#[tokio::test]
async fn a_directory_is_walked_recursively_in_sorted_order() {
    let dir = tempfile::tempdir().unwrap();
    let bad = |n: usize| -> Vec<u8> { format!("not json {n}\n").into_bytes() };
    write(
        dir.path(),
        "b/z.ndjson",
        &[ndjson(&sample("bz", 2)), bad(2)].concat(),
    );
    write(
        dir.path(),
        "a/c/d.json.gz",
        &gzip(&[bad(1), ndjson(&sample("acd", 3))].concat()),
    );
    write(
        dir.path(),
        "c.json",
        &[bad(3), ndjson(&sample("c", 1))].concat(),
    );
    write(
        dir.path(),
        "a/b.json",
        &[ndjson(&sample("ab", 1)), bad(0)].concat(),
    );
    let db = TestDb::fresh().await;
    let run = backfill(db.url(), &[dir.path().to_str().unwrap()], None).await;
    assert_eq!(run.code, 2, "{run:?}");
    assert_eq!(
        (run.count("files"), run.count("inserted")),
        (4, 7),
        "{run:?}"
    );
    let sources: Vec<String> = sqlx::query_scalar("select source from dead_letters order by id")
        .fetch_all(&db.pool)
        .await
        .unwrap();
    let root = dir.path().to_str().unwrap();
    let expected = ["a/b.json:2", "a/c/d.json.gz:1", "b/z.ndjson:3", "c.json:1"]
        .map(|s| format!("backfill:{root}/{s}"));
    assert_eq!(sources, expected);
}

#[tokio::test]
async fn stdin_is_read_when_the_path_is_a_dash() {
    let db = TestDb::fresh().await;
    let archive = gzip(&ndjson(&sample("stdin", 70)));
    let run = backfill(db.url(), &["-"], Some(archive)).await;
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(run.count("inserted"), 70);
    assert_eq!(db.count("webhook_events").await, 70);
}

#[tokio::test]
async fn ids_repeated_inside_the_archive_and_across_files_are_duplicates() {
    let dir = tempfile::tempdir().unwrap();
    let events = sample("dup", 100);
    let first = [&events[..], &events[..10]].concat();
    write(dir.path(), "1.ndjson", &ndjson(&first));
    write(dir.path(), "2.json", &pretty_array(&events[50..]));
    let db = TestDb::fresh().await;
    let run = backfill(
        db.url(),
        &[dir.path().to_str().unwrap(), "--batch-size", "64"],
        None,
    )
    .await;
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(
        (run.count("events read"), run.count("inserted")),
        (160, 100)
    );
    assert_eq!(run.count("duplicates"), 60);
    assert_eq!(db.count("webhook_events").await, 100);
}

#[tokio::test]
async fn a_rerun_inserts_nothing_and_adds_no_dead_letters() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = ndjson(&sample("rerun", 150));
    text.extend_from_slice(b"{\"id\": \"no-type\"}\n{\"test\":\"test\"}\n");
    let path = write(dir.path(), "archive.ndjson", &text);
    let db = TestDb::fresh().await;
    let first = backfill(db.url(), &[&path], None).await;
    assert_eq!((first.code, first.count("inserted")), (2, 150), "{first:?}");
    assert_eq!((first.count("rejected"), first.count("probes")), (1, 1));
    let again = backfill(db.url(), &[&path], None).await;
    assert_eq!(again.code, 2, "{again:?}");
    assert_eq!(
        (again.count("inserted"), again.count("duplicates")),
        (0, 150)
    );
    assert_eq!(db.count("webhook_events").await, 150);
    assert_eq!(db.count("dead_letters").await, 1);
}

#[tokio::test]
async fn bad_records_are_shown_with_file_and_line_and_all_are_dead_lettered() {
    let dir = tempfile::tempdir().unwrap();
    let good = sample("bad", 20);
    let mut lines = ndjson(&good[..2]);
    lines.extend_from_slice(b"this is not json\n\n{\"type\": \"x\"}\n");
    lines.extend(ndjson(&good[2..]));
    let lines_path = write(dir.path(), "lines.ndjson", &lines);
    let array = format!("[\n{},\n  [1, 2],\n{}\n]", good[0], good[1]);
    let array_path = write(dir.path(), "array.json", array.as_bytes());
    let db = TestDb::fresh().await;
    let run = backfill(db.url(), &[&lines_path, &array_path], None).await;
    assert_eq!(run.code, 2, "{run:?}");
    assert_eq!(
        (run.count("inserted"), run.count("rejected")),
        (20, 3),
        "{run:?}"
    );
    assert_eq!(run.count("duplicates"), 2);
    for shown in [
        format!("{lines_path}:3: body is not JSON"),
        format!("{lines_path}:5: envelope has no `id`"),
        format!("{array_path}:3: body is JSON an array, not an object"),
    ] {
        assert!(run.stderr.contains(&shown), "{shown} not in {}", run.stderr);
    }
    let letters: Vec<(String, String, Vec<u8>)> =
        sqlx::query_as("select source, reason, body from dead_letters order by id")
            .fetch_all(&db.pool)
            .await
            .unwrap();
    let sources: Vec<&str> = letters.iter().map(|l| l.0.as_str()).collect();
    assert_eq!(
        sources,
        [
            format!("backfill:{lines_path}:3"),
            format!("backfill:{lines_path}:5"),
            format!("backfill:{array_path}:3"),
        ]
    );
    assert_eq!(letters[0].2, b"this is not json");
    assert!(letters[1].1.contains("no `id`"), "{}", letters[1].1);
}

#[tokio::test]
async fn a_pretty_record_cut_inside_a_string_costs_only_itself() {
    let dir = tempfile::tempdir().unwrap();
    let events = sample("cut", 6);
    let pretty: Vec<String> = events
        .iter()
        .map(|e| serde_json::to_string_pretty(e).unwrap())
        .collect();
    // The third record ends in the middle of a string, as a file cut and appended to would.
    let third = &pretty[2][..pretty[2].find("\"room\": \"").unwrap() + 12];
    let text = [
        &pretty[0], &pretty[1], third, &pretty[3], &pretty[4], &pretty[5],
    ]
    .map(|p| format!("{p}\n"));
    let path = write(dir.path(), "jq.json", text.concat().as_bytes());
    let db = TestDb::fresh().await;
    let run = backfill(db.url(), &[&path], None).await;
    assert_eq!(run.code, 2, "{run:?}");
    assert_eq!(
        (
            run.count("events read"),
            run.count("inserted"),
            run.count("rejected")
        ),
        (6, 5, 1),
        "{run:?}"
    );
    assert_eq!(db.count("dead_letters").await, 1);
}

#[tokio::test]
async fn a_truncated_gzip_file_is_reported_and_the_run_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let whole = gzip(&ndjson(&sample("cut", 3_000)));
    let cut = write(dir.path(), "a-cut.ndjson.gz", &whole[..whole.len() * 2 / 3]);
    write(dir.path(), "b-fine.ndjson", &ndjson(&sample("fine", 5)));
    let db = TestDb::fresh().await;
    let run = backfill(db.url(), &[dir.path().to_str().unwrap()], None).await;
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stderr
            .contains(&format!("{cut}: unreadable or corrupt")),
        "{}",
        run.stderr
    );
    assert!(run.stdout.contains("1 read, 1 failed"), "{}", run.stdout);
    let from_cut: i64 =
        sqlx::query_scalar("select count(*) from webhook_events where event_id like '%cut-%'")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert!((1_000..3_000).contains(&from_cut), "{from_cut} events kept");
    assert_eq!(db.count("webhook_events").await, from_cut + 5);
}

#[tokio::test]
async fn empty_files_are_read_as_no_records() {
    let dir = tempfile::tempdir().unwrap();
    let empty = write(dir.path(), "empty.json", b"");
    let blank = write(dir.path(), "blank.ndjson", b"\n  \n\t\n");
    let gz = write(dir.path(), "empty.gz", &gzip(b""));
    let db = TestDb::fresh().await;
    let run = backfill(db.url(), &[&empty, &blank, &gz], None).await;
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!((run.count("files"), run.count("events read")), (3, 0));
    assert_eq!(db.count("webhook_events").await, 0);
}

#[tokio::test]
async fn events_the_intake_already_stored_are_counted_as_duplicates() {
    let app = spawn_app().await;
    let events = sample("live", 120);
    app.post_all(&events[..30]).await;
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "archive.json.zst", &zstd(&ndjson(&events)));
    let run = backfill(&app.database_url(), &[&path], None).await;
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!((run.count("inserted"), run.count("duplicates")), (90, 30));
    assert_eq!(app.count("webhook_events").await, 120);
    assert_eq!(app.count("waiting_sessions").await, 120);
}

#[tokio::test]
async fn a_dry_run_reads_everything_and_needs_no_database() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = ndjson(&sample("dry", 12));
    text.extend_from_slice(b"nope\n");
    let path = write(dir.path(), "archive.ndjson", &text);
    let unreachable = "postgres://postgres@127.0.0.1:1/nothing";
    let run = backfill(unreachable, &["--dry-run", &path], None).await;
    assert_eq!(run.code, 2, "{run:?}");
    assert_eq!((run.count("would store"), run.count("rejected")), (12, 1));
    assert!(run.stderr.contains(&format!("{path}:13: body is not JSON")));

    let db = TestDb::fresh().await;
    let run = backfill(db.url(), &["--dry-run", &path], None).await;
    assert_eq!(run.count("would store"), 12, "{run:?}");
    assert_eq!(db.count("webhook_events").await, 0);
    assert_eq!(db.count("dead_letters").await, 0);
}

#[tokio::test]
async fn an_unreachable_database_is_a_fatal_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "a.ndjson", &ndjson(&sample("x", 1)));
    let run = backfill("postgres://postgres@127.0.0.1:1/nothing", &[&path], None).await;
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stdout.is_empty(), "{run:?}");
}

#[tokio::test]
async fn a_missing_path_stops_the_run_before_the_database_is_touched() {
    let name = format!("lobbylog_test_{}", uuid::Uuid::new_v4().simple());
    let url = database_url(&admin_url(), &name);
    let run = backfill(&url, &["/nonexistent/archive.ndjson"], None).await;
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stderr.contains("/nonexistent/archive.ndjson"),
        "{run:?}"
    );
    let admin: PgPool = PgPool::connect(&admin_url()).await.unwrap();
    let exists: bool =
        sqlx::query_scalar("select exists (select 1 from pg_database where datname = $1)")
            .bind(&name)
            .fetch_one(&admin)
            .await
            .unwrap();
    assert!(
        !exists,
        "the database was created although the run could not start"
    );
}

#[tokio::test]
async fn an_interrupt_stops_reading_keeps_committed_batches_and_exits_130() {
    let db = TestDb::fresh().await;
    let events = sample("int", 25);
    let mut child = lobbylog(db.url(), &["backfill", "--batch-size", "10", "-"])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(&ndjson(&events)).unwrap();
    stdin.flush().unwrap();
    for _ in 0..200 {
        if db.count("webhook_events").await >= 20 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let pid = child.id().to_string();
    let killed = std::process::Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .unwrap();
    assert!(killed.success());
    let output = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap();
    drop(stdin);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(130), "{stdout}");
    assert!(stdout.contains("backfill interrupted"), "{stdout}");
    assert_eq!(
        db.count("webhook_events").await,
        20,
        "the last 5 were never a full batch"
    );
}

#[tokio::test]
async fn the_knocks_after_a_backfill_equal_the_knocks_after_the_intake() {
    let mut rng = StdRng::seed_from_u64(2_024);
    let t = now();
    let mut events: Vec<Value> = (0..80)
        .flat_map(|i| daily::random_history(&mut rng, i, t).0)
        .collect();
    let live = spawn_app().await;
    live.post_all(&events).await;

    events.shuffle(&mut rng);
    let (first, second) = events.split_at(events.len() / 2);
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "part-1.ndjson.gz", &gzip(&ndjson(first)));
    write(dir.path(), "part-2.json", &pretty_array(second));
    let archived = spawn_app().await;
    let run = backfill(
        &archived.database_url(),
        &[dir.path().to_str().unwrap()],
        None,
    )
    .await;
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(run.count("inserted"), events.len() as u64);

    assert_eq!(knocks(&archived.pool).await, knocks(&live.pool).await);
    let stored = "select event_id, event_type, version, event_ts, body from webhook_events \
                  order by event_id";
    type Row = (String, String, Option<String>, Option<f64>, Value);
    let epoch = stored.replace("event_ts,", "extract(epoch from event_ts)::float8,");
    let live_rows: Vec<Row> = sqlx::query_as(sqlx::AssertSqlSafe(epoch.clone()))
        .fetch_all(&live.pool)
        .await
        .unwrap();
    let archived_rows: Vec<Row> = sqlx::query_as(sqlx::AssertSqlSafe(epoch))
        .fetch_all(&archived.pool)
        .await
        .unwrap();
    assert_eq!(archived_rows, live_rows);
}

#[tokio::test]
async fn a_statement_that_waits_for_seconds_is_not_warned_about() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "a.ndjson", &ndjson(&sample("slow", 10)));
    let db = TestDb::fresh().await;
    // The rollups' lock, held as another process refreshing would: the backfill's refresh waits.
    let lock = "hashtext('lobbylog.knock_rollups')";
    let mut holder = db.pool.acquire().await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "select pg_advisory_lock({lock})"
    )))
    .execute(&mut *holder)
    .await
    .unwrap();
    let release = async {
        let waiting = "select count(*) from pg_stat_activity \
                       where wait_event = 'advisory' and query like '%knock_rollups_refresh%'";
        while sqlx::query_scalar::<_, i64>(waiting)
            .fetch_one(&db.pool)
            .await
            .unwrap()
            == 0
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        tokio::time::sleep(Duration::from_millis(1500)).await;
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "select pg_advisory_unlock({lock})"
        )))
        .execute(&mut *holder)
        .await
        .unwrap();
    };
    let args = [path.as_str()];
    let (run, ()) = tokio::join!(backfill(db.url(), &args, None), release);
    assert_eq!((run.code, run.count("rollups")), (0, 1), "{run:?}");
    assert!(!run.stderr.contains("slow statement"), "{}", run.stderr);
}
