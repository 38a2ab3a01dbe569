//! What the binary writes to stderr: plain text in a pipe, its own lines only by default, and JSON
//! lines that name no source file, and each cause of a failure once.

use serde_json::Value;

use crate::helpers::{admin_url, database_url, drop_database, free_port, lobbylog, run, via};

/// A URL to a port nobody listens on: every command fails at once with an ERROR line.
fn unreachable_url() -> String {
    via("postgres://postgres@127.0.0.1:5432/lobbylog", free_port())
}

#[tokio::test]
async fn human_logs_written_to_a_pipe_carry_no_colour_codes() {
    let mut command = lobbylog(&unreachable_url(), &["migrate"]);
    command
        .env("LOBBYLOG_LOG_FORMAT", "human")
        .env_remove("NO_COLOR");
    let result = run(command, None).await;
    assert_eq!(result.code, 1, "{result:?}");
    assert!(result.stderr.contains("ERROR"), "{result:?}");
    assert!(!result.stderr.contains('\x1b'), "{:?}", result.stderr);
}

/// The migrations this binary carries, by name (`V1__webhook_events`, ...).
fn migration_names() -> Vec<String> {
    let dir = format!("{}/migrations", env!("CARGO_MANIFEST_DIR"));
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter_map(|n| n.strip_suffix(".sql").map(str::to_owned))
        .collect();
    names.sort();
    names
}

#[tokio::test]
async fn migrate_without_rust_log_logs_each_migration_once_and_no_line_of_a_dependency() {
    let name = format!("lobbylog_test_{}", uuid::Uuid::new_v4().simple());
    let mut command = lobbylog(&database_url(&admin_url(), &name), &["migrate"]);
    command
        .env_remove("RUST_LOG")
        .env("LOBBYLOG_LOG_FORMAT", "human");
    let result = run(command, None).await;
    drop_database(admin_url(), name);
    assert_eq!(result.code, 0, "{result:?}");
    // `<timestamp> <LEVEL> <target>: <message> <fields>`
    for line in result.stderr.lines() {
        let target = line.split_whitespace().nth(2).unwrap_or_default();
        assert!(target.starts_with("lobbylog"), "{line}");
    }
    let names = migration_names();
    assert!(names.len() >= 6, "{names:?}");
    for migration in names {
        let applied = format!("applied migration migration={migration}");
        let lines = result.stderr.lines().filter(|l| l.ends_with(&applied));
        assert_eq!(lines.count(), 1, "{migration}:\n{}", result.stderr);
        assert_eq!(
            result.stderr.matches(&migration).count(),
            1,
            "{}",
            result.stderr
        );
    }
}

#[tokio::test]
async fn json_log_lines_name_no_source_file_not_even_for_a_dependency() {
    let name = format!("lobbylog_test_{}", uuid::Uuid::new_v4().simple());
    let mut command = lobbylog(&database_url(&admin_url(), &name), &["migrate"]);
    // refinery logs through the `log` crate, whose bridge attaches the file of each line.
    command
        .env("RUST_LOG", "info")
        .env("LOBBYLOG_LOG_FORMAT", "json");
    let result = run(command, None).await;
    drop_database(admin_url(), name);
    assert_eq!(result.code, 0, "{result:?}");
    let lines: Vec<Value> = result
        .stderr
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let from_refinery = |l: &Value| {
        l["target"]
            .as_str()
            .is_some_and(|t| t.starts_with("refinery"))
    };
    assert!(lines.iter().any(from_refinery), "{}", result.stderr);
    for line in &lines {
        let text = line.to_string();
        assert!(!text.contains(".rs\"") && !text.contains("/src/"), "{text}");
        assert!(
            line["message"].is_string() && line["level"].is_string(),
            "{text}"
        );
    }
}

#[tokio::test]
async fn a_failure_names_each_cause_once() {
    let result = run(lobbylog(&unreachable_url(), &["migrate"]), None).await;
    assert_eq!(result.code, 1, "{result:?}");
    let failed: Vec<&str> = result.stderr.lines().collect();
    assert_eq!(failed.len(), 1, "{}", result.stderr);
    assert!(failed[0].contains("lobbylog failed"), "{}", failed[0]);
    assert!(failed[0].contains("cannot connect"), "{}", failed[0]);
    assert_eq!(failed[0].matches("refused").count(), 1, "{}", failed[0]);
}
