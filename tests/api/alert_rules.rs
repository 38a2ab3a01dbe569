//! The alerting rules of dashboards/prometheus/: valid, unit-tested with `promtool test rules`,
//! and reading only series the service registers and the docs describe.

use std::process::Command;

use crate::helpers::spawn_app;

const RULES: &str = "dashboards/prometheus/lobbylog.rules.yml";
const RULE_TESTS: &str = "dashboards/prometheus/lobbylog.rules.test.yml";

/// Runs promtool with `args`, failing with its output; saying how to get it when it is missing.
fn promtool(args: &[&str]) {
    let binary = std::env::var("PROMTOOL").unwrap_or_else(|_| "promtool".into());
    let output = Command::new(&binary)
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "this test runs Prometheus' promtool ({binary}: {e}): install it (`apt-get install -y \
                 prometheus` on Debian; .ci/run does it) or set PROMTOOL to its path"
            )
        });
    assert!(
        output.status.success(),
        "promtool {args:?} failed:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn the_rules_are_valid_and_their_unit_tests_pass() {
    promtool(&["check", "rules", RULES]);
    promtool(&["test", "rules", RULE_TESTS]);
}

/// The `lobbylog_...` series a text names, `_total` of counters cut off.
fn series(text: &str) -> Vec<String> {
    let mut names: Vec<String> = text
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| w.starts_with("lobbylog_"))
        .map(|w| w.trim_end_matches("_total").to_owned())
        .collect();
    names.sort();
    names.dedup();
    names
}

/// The text of every file of src/metrics/, where each series is registered.
fn metrics_sources() -> String {
    let dir = format!("{}/src/metrics", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| std::fs::read_to_string(entry.unwrap().path()).unwrap())
        .collect()
}

#[tokio::test]
async fn the_rules_read_only_series_the_service_registers_and_the_docs_describe() {
    let root = env!("CARGO_MANIFEST_DIR");
    let rules = std::fs::read_to_string(format!("{root}/{RULES}")).unwrap();
    let docs = std::fs::read_to_string(format!("{root}/docs/operations.md")).unwrap();
    let registered = metrics_sources();
    // Series without labels show on /metrics from the start.
    let app = spawn_app().await;
    let exposed = app.get_admin("/metrics").await.text().await.unwrap();
    let named = series(&rules);
    assert!(named.len() >= 7, "{named:?}");
    for name in named {
        let short = name.trim_start_matches("lobbylog_");
        assert!(
            registered.contains(&format!("\"{short}\"")),
            "{name} is not registered in src/metrics/"
        );
        assert!(
            docs.contains(&format!("`{name}")),
            "{name} is not in docs/operations.md"
        );
    }
    for gauge in [
        "lobbylog_last_event_timestamp_seconds",
        "lobbylog_postgres_up",
    ] {
        assert!(
            exposed.contains(&format!("# TYPE {gauge} gauge")),
            "{gauge} not exposed"
        );
    }
}
