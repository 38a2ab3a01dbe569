//! The spool belongs to one database: the real binary sets aside segments written for another,
//! reports them, and drains them only when `lobbylog spool drain` is asked to.

use std::{fs, path::Path, time::Duration};

use serde_json::Value;

use crate::{
    daily,
    helpers::{
        Service, TestDb, admin_url, count_events, eventually, free_port, ready,
        spool::{
            admin_get, first_line, legacy_segment, log_lines, message, post_spooled, recreate,
            segment_files, set_aside_files, spool_command, spool_readiness, wait_until_storing,
        },
        via,
    },
    proxy::Proxy,
};

#[tokio::test]
async fn events_spooled_for_one_database_are_not_stored_in_another_and_the_command_drains_them_into_their_own()
 {
    let own = TestDb::fresh().await;
    let other = TestDb::fresh().await;
    // The first run's database: nothing listens on its port yet.
    let own_port = free_port();
    let own_url = via(own.url(), own_port);
    let spool = tempfile::tempdir().unwrap();
    let client = reqwest::Client::new();

    let port = free_port();
    let first = Service::start(&own_url, spool.path(), port);
    post_spooled(&client, port, 5, "aaaa").await;
    drop(first);
    let [segment] = &segment_files(spool.path())[..] else {
        panic!("expected one segment");
    };
    let written = fs::read(segment).unwrap();

    let logs = tempfile::tempdir().unwrap();
    let log = logs.path().join("serve.log");
    let second = Service::start_logging_to(other.url(), spool.path(), free_port(), &log);
    assert!(ready(&client, &second.admin).await, "lobbylog not ready");
    // Long enough for the drainer to have stored everything, as it did before.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let stored = count_events(&other.pool).await;
    assert_eq!(stored, 0, "drained into another database");
    let set_aside = spool
        .path()
        .join("set-aside")
        .join(segment.file_name().unwrap());
    assert_eq!(
        fs::read(&set_aside).unwrap(),
        written,
        "not set aside intact"
    );
    assert!(segment_files(spool.path()).is_empty());
    assert_reported(&client, &second, &log, &own.name).await;

    let listed = spool_command(other.url(), spool.path(), &["list", "--json"]).await;
    assert_eq!(listed.code, 0, "{listed:?}");
    let listed: Value = serde_json::from_str(&listed.stdout).unwrap();
    let segments = listed["segments"].as_array().unwrap();
    assert_eq!(segments.len(), 1, "{listed}");
    assert_eq!(segments[0]["events"], 5);
    assert_eq!(segments[0]["written_for"]["database"], own.name.as_str());
    assert_eq!(segments[0]["written_for"]["port"], own_port);

    let refused = spool_command(other.url(), spool.path(), &["drain"]).await;
    assert_eq!(refused.code, 1, "{refused:?}");
    assert!(refused.stderr.contains("not drained"), "{refused:?}");
    assert_eq!(count_events(&other.pool).await, 0);
    assert!(set_aside.exists());

    let _own_server = Proxy::on_port_in_front_of(own_port, &own.url).await;
    let drained = spool_command(&own_url, spool.path(), &["drain"]).await;
    assert_eq!(drained.code, 0, "{drained:?}");
    let said = drained.stdout.contains("drained 1 segment(s), 5 event(s)");
    assert!(said, "{drained:?}");
    assert_eq!(count_events(&own.pool).await, 5);
    assert_eq!(count_events(&other.pool).await, 0);
    assert!(!set_aside.exists(), "a drained segment is deleted");
    let noticed = eventually(5, || async {
        spool_readiness(&client, &second).await["set_aside_segments"] == 0
    })
    .await;
    assert!(noticed, "the service still counts the drained segment");

    let again = spool_command(&own_url, spool.path(), &["drain"]).await;
    assert_eq!(again.code, 0, "{again:?}");
    assert!(again.stdout.contains("nothing set aside"), "{again:?}");
}

/// The set-aside segment of 5 events shows in readiness, metrics and the error log.
async fn assert_reported(
    client: &reqwest::Client,
    service: &Service,
    log: &Path,
    written_for: &str,
) {
    let readiness = spool_readiness(client, service).await;
    assert_eq!(readiness["set_aside_segments"], 1, "{readiness}");
    assert_eq!(readiness["set_aside_events"], 5, "{readiness}");
    assert_eq!(
        readiness["events"], 5,
        "set-aside events count in the depth"
    );
    let metrics = admin_get(client, service, "/metrics").await;
    for line in [
        "lobbylog_spool_set_aside_segments 1",
        "lobbylog_spool_set_aside_events 5",
        "lobbylog_spool_events 5",
    ] {
        let found = metrics.lines().any(|l| l == line);
        assert!(found, "no {line:?} in\n{metrics}");
    }
    let errors = log_lines(log, "ERROR");
    let reported = errors.iter().any(|e| {
        message(e).contains("set aside")
            && e["written_for"]
                .as_str()
                .unwrap_or_default()
                .contains(written_for)
    });
    assert!(reported, "no error names the segment: {errors:?}");
    let summed = errors
        .iter()
        .any(|e| e["segments"] == 1 && e["events"] == 5);
    assert!(summed, "no error sums up what is set aside: {errors:?}");
}

#[tokio::test]
async fn a_restart_with_the_same_database_url_drains_everything_as_before() {
    let db = TestDb::fresh().await;
    let proxy = Proxy::in_front_of(&db.url).await;
    // Unreachable from the start: the segment can name its database by the URL alone.
    proxy.cut();
    let url = via(db.url(), proxy.port);
    let spool = tempfile::tempdir().unwrap();
    let client = reqwest::Client::new();

    let port = free_port();
    let first = Service::start(&url, spool.path(), port);
    post_spooled(&client, port, 5, "bbbb").await;
    drop(first);
    let [segment] = &segment_files(spool.path())[..] else {
        panic!("expected one segment");
    };
    let header = first_line(segment);
    assert!(header.starts_with("#lobbylog-spool 1 {"), "{header}");
    assert!(
        header.contains(&db.name) && !header.contains("server"),
        "{header}"
    );

    proxy.restore();
    let _second = Service::start(&url, spool.path(), free_port());
    let landed = eventually(60, || async { count_events(&db.pool).await == 5 }).await;
    assert!(
        landed,
        "{} of 5 events landed",
        count_events(&db.pool).await
    );
    assert!(eventually(5, || async { segment_files(spool.path()).is_empty() }).await);
    assert!(set_aside_files(spool.path()).is_empty());
}

#[tokio::test]
async fn segments_are_judged_one_by_one_and_an_old_one_without_a_target_drains_with_a_warning() {
    let db = TestDb::fresh().await;
    let spool = tempfile::tempdir().unwrap();
    let bodies: Vec<String> = (0..3)
        .map(|i| {
            daily::waiting_joined(
                "old",
                &format!("cccc{i:04}-0000-4000-8000-000000000000"),
                1.7e9,
            )
            .to_string()
        })
        .collect();
    let legacy = spool.path().join("000000000004-1700000000000.spool");
    fs::write(&legacy, legacy_segment(&bodies)).unwrap();
    let elsewhere = r#"#lobbylog-spool 1 {"host":"db.elsewhere","port":5432,"database":"staging","user":"app"}"#;
    let foreign = spool.path().join("000000000005-1700000001000.spool");
    fs::write(
        &foreign,
        format!("{elsewhere}\n{}", legacy_segment(&bodies[..1])),
    )
    .unwrap();

    let logs = tempfile::tempdir().unwrap();
    let log = logs.path().join("serve.log");
    let _service = Service::start_logging_to(db.url(), spool.path(), free_port(), &log);
    let landed = eventually(60, || async { count_events(&db.pool).await == 3 }).await;
    assert!(
        landed,
        "{} of 3 events landed",
        count_events(&db.pool).await
    );
    assert!(eventually(5, || async { segment_files(spool.path()).is_empty() }).await);
    assert_eq!(
        set_aside_files(spool.path()),
        vec![
            spool
                .path()
                .join("set-aside")
                .join(foreign.file_name().unwrap())
        ]
    );
    let warned: Vec<Value> = log_lines(&log, "WARN")
        .into_iter()
        .filter(|w| message(w).contains("records no database"))
        .collect();
    assert_eq!(
        warned.len(),
        1,
        "one warning for the one old segment: {warned:?}"
    );
}

#[tokio::test]
async fn a_recreated_database_of_the_same_name_is_told_apart_by_the_identity_the_segment_recorded()
{
    let db = TestDb::fresh().await;
    let proxy = Proxy::in_front_of(&db.url).await;
    let url = via(db.url(), proxy.port);
    let spool = tempfile::tempdir().unwrap();
    let client = reqwest::Client::new();

    let port = free_port();
    let first = Service::start(&url, spool.path(), port);
    assert!(ready(&client, &first.admin).await, "lobbylog not ready");
    wait_until_storing(&client, port, spool.path()).await;
    proxy.cut();
    post_spooled(&client, port, 3, "dddd").await;
    drop(first);
    let [segment] = &segment_files(spool.path())[..] else {
        panic!("expected one segment");
    };
    assert!(
        first_line(segment).contains("\"database_oid\":"),
        "{}",
        first_line(segment)
    );

    recreate(&db).await;
    proxy.restore();
    let logs = tempfile::tempdir().unwrap();
    let log = logs.path().join("serve.log");
    let second = Service::start_logging_to(&url, spool.path(), free_port(), &log);
    let set_aside = eventually(60, || async {
        spool_readiness(&client, &second).await["set_aside_segments"] == 1
    })
    .await;
    assert!(set_aside, "{}", spool_readiness(&client, &second).await);
    let fresh = lobbylog::db::lazy_pool(&db.url, 1).unwrap();
    assert_eq!(
        count_events(&fresh).await,
        0,
        "drained into the recreated database"
    );
    let errors = log_lines(&log, "ERROR");
    assert!(
        errors
            .iter()
            .any(|e| e["why"].as_str().is_some_and(|w| w.contains("recreated"))),
        "{errors:?}"
    );

    let refused = spool_command(&url, spool.path(), &["drain"]).await;
    assert_eq!(refused.code, 1, "{refused:?}");
    assert!(
        refused.stderr.contains("recreated or restored"),
        "{refused:?}"
    );
    let forced = spool_command(&url, spool.path(), &["drain", "--into-current"]).await;
    assert_eq!(forced.code, 0, "{forced:?}");
    assert_eq!(count_events(&fresh).await, 3);
}

#[tokio::test]
async fn the_spool_commands_say_what_they_cannot_find() {
    let spool = tempfile::tempdir().unwrap();
    let url = admin_url();
    let missing = spool.path().join("nope");
    let cases: [(&Path, &[&str], i32, &str); 3] = [
        (&missing, &["list"], 1, "no spool directory"),
        (spool.path(), &["list"], 0, "nothing set aside"),
        (
            spool.path(),
            &["drain", "000000000001-1.spool"],
            1,
            "no set-aside segment named",
        ),
    ];
    for (dir, args, code, said) in cases {
        let result = spool_command(&url, dir, args).await;
        assert_eq!(result.code, code, "{args:?}: {result:?}");
        let says = result.stdout.contains(said) || result.stderr.contains(said);
        assert!(says, "{args:?}: {result:?}");
    }
}
