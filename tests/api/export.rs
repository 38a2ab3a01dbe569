//! `lobbylog export`, the real binary: one zstd NDJSON file per UTC day of receipt, read back by
//! `backfill` into the same bodies and knocks, byte-identical on a rerun, days chosen by
//! `--since`/`--until`, and failures that name the path and leave no partial file.

use std::{
    collections::BTreeMap,
    os::unix::fs::MetadataExt,
    path::{Path, PathBuf},
    time::Duration,
};

use rand::{SeedableRng, rngs::StdRng};
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::{
    daily,
    helpers::{Run, TestApp, TestDb, knocks, lobbylog, now, run, spawn_app},
};

/// The days events are received on, the first and last of a month among them.
pub const DAYS: [&str; 4] = ["2024-05-31", "2024-06-01", "2024-06-02", "2024-06-03"];

async fn export(url: &str, args: &[&str]) -> Run {
    let args: Vec<&str> = std::iter::once("export")
        .chain(args.iter().copied())
        .collect();
    run(lobbylog(url, &args), None).await
}

/// Posts knock histories and an event with awkward text, then dates their receipt over `DAYS`
/// (two of them a microsecond either side of midnight). Returns the events expected per file.
pub async fn stored_over_days(app: &TestApp) -> BTreeMap<String, usize> {
    let mut rng = StdRng::seed_from_u64(7);
    let mut events: Vec<Value> = (0..25)
        .flat_map(|i| daily::random_history(&mut rng, i, now()).0)
        .collect();
    events.push(daily::envelope(
        "recording.started",
        "awkward-text",
        now(),
        json!({"note": "Zoë \"quoted\"\nline two\t\u{2028}\\", "z": 1, "a": [1.50, 1e-7, null]}),
    ));
    app.post_all(&events).await;
    let ids: Vec<String> =
        sqlx::query_scalar("select event_id from webhook_events order by event_id")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert_eq!(ids.len(), events.len());
    let mut expected = BTreeMap::new();
    for (i, id) in ids.iter().enumerate() {
        let (day, at) = match i {
            0 => (DAYS[1], "23:59:59.999999".to_owned()),
            1 => (DAYS[2], "00:00:00".to_owned()),
            _ => (
                DAYS[i % 4],
                format!("{:02}:{:02}:{:02}", i % 24, i % 60, i % 7),
            ),
        };
        sqlx::query("update webhook_events set received_at = $2::timestamptz where event_id = $1")
            .bind(id)
            .bind(format!("{day}T{at}Z"))
            .execute(&app.pool)
            .await
            .unwrap();
        *expected.entry(file_of(day)).or_default() += 1;
    }
    expected
}

/// `2024-06-01` → `2024/06/01.ndjson.zst`
pub fn file_of(day: &str) -> String {
    format!("{}.ndjson.zst", day.replace('-', "/"))
}

/// Every file below `dir`, by its path relative to `dir`, with its bytes.
fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            match path.is_dir() {
                true => walk(root, &path, out),
                false => {
                    let name = path
                        .strip_prefix(root)
                        .unwrap()
                        .to_str()
                        .unwrap()
                        .to_owned();
                    out.insert(name, std::fs::read(&path).unwrap());
                }
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

/// The NDJSON lines of each file, each checked to be one JSON object.
fn lines_per_file(dir: &Path) -> BTreeMap<String, usize> {
    files(dir)
        .into_iter()
        .map(|(name, bytes)| {
            let text = String::from_utf8(zstd::decode_all(&bytes[..]).unwrap()).unwrap();
            for line in text.lines() {
                let value: Value = serde_json::from_str(line).expect(line);
                assert!(value.is_object(), "{name}: {line}");
            }
            assert!(text.ends_with('\n'), "{name}");
            (name, text.lines().count())
        })
        .collect()
}

/// Every stored body by event id, as Postgres prints the `jsonb`: equal text, equal `jsonb`.
pub async fn bodies(pool: &PgPool) -> Vec<(String, String)> {
    sqlx::query_as("select event_id, body::text from webhook_events order by event_id")
        .fetch_all(pool)
        .await
        .unwrap()
}

fn text(path: &Path) -> &str {
    path.to_str().unwrap()
}

#[tokio::test]
async fn an_export_read_back_by_backfill_stores_the_same_bodies_and_the_same_knocks() {
    let app = spawn_app().await;
    let expected = stored_over_days(&app).await;
    let total: usize = expected.values().sum();
    let dir = tempfile::tempdir().unwrap();

    let run = export(&app.database_url(), &["--to", text(dir.path())]).await;
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(run.count("days"), 4, "{run:?}");
    assert_eq!(run.count("events"), total as u64, "{run:?}");
    let on_disk: u64 = files(dir.path()).values().map(|b| b.len() as u64).sum();
    assert_eq!(run.count("bytes"), on_disk, "{run:?}");
    assert_eq!(lines_per_file(dir.path()), expected);

    // A fresh database stands for one whose raw events were all pruned: nothing to merge with.
    let restored = TestDb::fresh().await;
    let backfill = lobbylog(restored.url(), &["backfill", text(dir.path())]);
    let run = crate::helpers::run(backfill, None).await;
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(run.count("inserted"), total as u64, "{run:?}");
    let before = bodies(&app.pool).await;
    assert!(
        before
            .iter()
            .any(|(_, b)| b.contains("Zoë \\\"quoted\\\"\\nline two"))
    );
    assert_eq!(bodies(&restored.pool).await, before);
    assert_eq!(knocks(&restored.pool).await, knocks(&app.pool).await);
}

#[tokio::test]
async fn a_rerun_over_the_same_events_replaces_each_file_with_identical_bytes() {
    let app = spawn_app().await;
    stored_over_days(&app).await;
    let dir = tempfile::tempdir().unwrap();
    let inodes = |dir: &Path| -> Vec<u64> {
        DAYS.iter()
            .map(|d| std::fs::metadata(dir.join(file_of(d))).unwrap().ino())
            .collect()
    };

    let first = export(&app.database_url(), &["--to", text(dir.path())]).await;
    assert_eq!(first.code, 0, "{first:?}");
    let (before, first_inodes) = (files(dir.path()), inodes(dir.path()));
    let again = export(&app.database_url(), &["--to", text(dir.path())]).await;
    assert_eq!(again.code, 0, "{again:?}");
    let after = files(dir.path());
    assert_eq!(
        after.keys().collect::<Vec<_>>(),
        DAYS.map(file_of).iter().collect::<Vec<_>>(),
        "no temporary file is left beside them"
    );
    assert!(before == after, "a rerun wrote different bytes");
    let renamed = inodes(dir.path());
    assert!(
        first_inodes.iter().zip(&renamed).all(|(a, b)| a != b),
        "each file is replaced by a rename, not rewritten in place"
    );
}

#[tokio::test]
async fn since_and_until_select_whole_utc_days() {
    let app = spawn_app().await;
    let expected = stored_over_days(&app).await;
    let cases: [(&[&str], &[&str]); 5] = [
        (
            &["--since", "2024-06-01", "--until", "2024-06-02"],
            &[DAYS[1], DAYS[2]],
        ),
        (&["--since", "2024-06-02T23:30:00Z"], &[DAYS[2], DAYS[3]]),
        // Unix seconds for 2024-06-02T00:00Z; 01:00 at +02:00 is still June 2nd in UTC.
        (
            &[
                "--since",
                "1717286400",
                "--until",
                "2024-06-03T01:00:00+02:00",
            ],
            &[DAYS[2]],
        ),
        (&["--until", "2024-05-31T23:59:59Z"], &[DAYS[0]]),
        (&["--since", "2024-06-04"], &[]),
    ];
    for (args, days) in cases {
        let dir = tempfile::tempdir().unwrap();
        let mut full = vec!["--to", text(dir.path())];
        full.extend_from_slice(args);
        let run = export(&app.database_url(), &full).await;
        assert_eq!(run.code, 0, "{args:?}: {run:?}");
        assert_eq!(run.count("days"), days.len() as u64, "{args:?}");
        let want: BTreeMap<String, usize> = days
            .iter()
            .map(|d| (file_of(d), expected[&file_of(d)]))
            .collect();
        assert_eq!(lines_per_file(dir.path()), want, "{args:?}");
    }

    let dir = tempfile::tempdir().unwrap();
    for args in [
        &["--since", "2024-06-03", "--until", "2024-06-01"][..],
        &["--since", "yesterday"][..],
    ] {
        let mut full = vec!["--to", text(dir.path())];
        full.extend_from_slice(args);
        let run = export(&app.database_url(), &full).await;
        assert_eq!(run.code, 2, "{args:?}: {run:?}");
        assert!(run.stderr.contains("--since"), "{args:?}: {run:?}");
    }
    assert!(files(dir.path()).is_empty());
}

#[tokio::test]
async fn a_directory_that_cannot_be_written_fails_naming_it_and_leaves_no_partial_file() {
    let app = spawn_app().await;
    stored_over_days(&app).await;
    let dir = tempfile::tempdir().unwrap();

    // Below a regular file no directory can be made, whoever runs the test (root included).
    let blocker = dir.path().join("a-file");
    std::fs::write(&blocker, "not a directory").unwrap();
    let to: PathBuf = blocker.join("export");
    let run = export(&app.database_url(), &["--to", text(&to)]).await;
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stderr
            .contains(&format!("cannot create directory {}", text(&to))),
        "{run:?}"
    );

    // June 2nd's final name is taken by a directory: the rename fails once the file is whole.
    let to = dir.path().join("out");
    let taken = to.join(file_of(DAYS[2]));
    std::fs::create_dir_all(&taken).unwrap();
    let run = export(&app.database_url(), &["--to", text(&to)]).await;
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains(text(&taken)), "{run:?}");
    assert!(taken.is_dir(), "the final name is left as it was");
    let left: Vec<String> = files(&to).into_keys().collect();
    assert_eq!(
        left,
        [file_of(DAYS[0]), file_of(DAYS[1])],
        "the days before are whole, no temporary file is left, the days after are not begun"
    );
}

#[tokio::test]
async fn an_interrupt_keeps_the_days_written_and_leaves_no_part_of_the_day_in_progress() {
    let db = TestDb::fresh().await;
    // Ten events on May 31st, then enough on June 1st to still be writing it when interrupted.
    sqlx::query(
        "insert into webhook_events (event_id, event_type, version, event_ts, received_at, body)
         select 'bulk-' || g, 'recording.started', '1.0.0', to_timestamp(1.7e9 + g),
                case when g <= 10 then timestamptz '2024-05-31T12:00:00Z'
                     else timestamptz '2024-06-01T00:00:00Z' + g * interval '1 ms' end,
                jsonb_build_object('id', 'bulk-' || g, 'type', 'recording.started',
                                   'version', '1.0.0', 'event_ts', 1.7e9 + g,
                                   'payload', jsonb_build_object('pad', repeat('x', 200)))
         from generate_series(1, 300000) g",
    )
    .execute(&db.pool)
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let child = lobbylog(db.url(), &["export", "--to", text(dir.path())])
        .spawn()
        .unwrap();
    let june = dir.path().join("2024/06");
    let writing_june = || {
        std::fs::read_dir(&june).is_ok_and(|entries| {
            entries
                .flatten()
                .any(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        })
    };
    for _ in 0..1_000 {
        if writing_june() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(writing_june(), "June 1st was never begun");
    let killed = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let output = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(130), "{stdout}");
    assert!(stdout.contains("export interrupted"), "{stdout}");
    assert_eq!(
        lines_per_file(dir.path()),
        BTreeMap::from([(file_of(DAYS[0]), 10)]),
        "May 31st whole; of June 1st, not even a temporary file"
    );
}
