//! The provisioned Grafana dashboard: every panel's SQL, with the time macros expanded as Grafana
//! expands them, runs on generated knocks, returns the columns its panel reads, and agrees with
//! the queries of docs/analytics.md.

use serde_json::Value;
use yaml_rust2::{Yaml, YamlLoader};

use crate::{
    analytics::{analytics_queries, run},
    dashboard::store_random_knocks,
    helpers::{TestApp, now, spawn_app},
};

fn read(path: &str) -> String {
    let path = format!("{}/{path}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Each panel's title, format and SQL.
fn panels() -> Vec<(String, String, String)> {
    let dashboard: Value =
        serde_json::from_str(&read("dashboards/grafana/dashboards/lobbylog.json")).unwrap();
    dashboard["panels"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| {
            let title = p["title"].as_str().unwrap().to_owned();
            p["targets"].as_array().unwrap().iter().map(move |t| {
                (
                    title.clone(),
                    t["format"].as_str().unwrap().to_owned(),
                    t["rawSql"].as_str().unwrap().to_owned(),
                )
            })
        })
        .collect()
}

/// The calls of `$__name(...)` in `sql`, each replaced by `expand(arguments)`.
fn expand_macro(sql: &str, name: &str, expand: impl Fn(&str) -> String) -> String {
    let call = format!("$__{name}(");
    let mut out = String::new();
    let mut rest = sql;
    while let Some(start) = rest.find(&call) {
        out.push_str(&rest[..start]);
        let args_start = start + call.len();
        let close = args_start + rest[args_start..].find(')').expect("unclosed macro");
        out.push_str(&expand(&rest[args_start..close]));
        rest = &rest[close + 1..];
    }
    out.push_str(rest);
    out
}

/// An RFC 3339 UTC time, as Grafana writes `$__timeFrom()`.
fn rfc3339(epoch: f64) -> String {
    let day = (epoch / 86_400.0).floor();
    let second = (epoch - day * 86_400.0) as i64;
    let date = lobbylog::admin::dashboard::utc_date(day as i64);
    let (h, m, s) = (second / 3_600, second % 3_600 / 60, second % 60);
    format!("'{date}T{h:02}:{m:02}:{s:02}Z'")
}

/// The SQL Grafana's Postgres data source sends for a range of the last `days` days and the room
/// variable at "All" (every room, quoted).
fn as_grafana_sends(sql: &str, days: f64, rooms: &[String]) -> String {
    let (from, to) = (rfc3339(now() - days * 86_400.0), rfc3339(now() + 1.0));
    let sql = expand_macro(sql, "timeFilter", |col| {
        format!("{col} BETWEEN {from} AND {to}")
    });
    let sql = expand_macro(&sql, "timeGroupAlias", |args| {
        let (col, interval) = args.split_once(',').unwrap();
        let seconds = match interval.trim().trim_matches('\'') {
            "1d" => 86_400,
            "1h" => 3_600,
            other => panic!("interval {other} not expected"),
        };
        format!(r#"floor(extract(epoch from {col})/{seconds})*{seconds} AS "time""#)
    });
    let sql = expand_macro(&sql, "timeFrom", |_| from.clone());
    let sql = expand_macro(&sql, "timeTo", |_| to.clone());
    let all: Vec<String> = rooms
        .iter()
        .map(|r| format!("'{}'", r.replace('\'', "''")))
        .collect();
    let sql = sql.replace("$room", &all.join(","));
    assert!(!sql.contains('$'), "a macro or variable was left: {sql}");
    sql
}

/// The columns each panel reads (its fields, overrides and x axis name them).
fn expected_columns(title: &str) -> &'static [&'static str] {
    match title {
        "Knocks per day, by outcome" => &["time", "admitted", "abandoned", "waiting", "unresolved"],
        "Abandon rate per day" => &["time", "abandon_rate"],
        "How long people waited before giving up" => &["waited", "abandoned"],
        "How long people waited before being admitted" => &["waited", "admitted"],
        "Abandoned knocks by hour of the day (UTC)" => &["hour_utc", "abandoned"],
        "Knocking right now" => &[
            "room",
            "session_id",
            "user_name",
            "knocked_at",
            "waiting_seconds",
        ],
        "Rooms" => &[
            "room",
            "knocks",
            "abandoned",
            "resolved",
            "abandon_rate",
            "gave_up_after_p50",
            "gave_up_after_p90",
            "admitted_after_p50",
            "admitted_after_p90",
        ],
        "Days of each room" => &[
            "day",
            "room",
            "knocks",
            "admitted",
            "abandoned",
            "abandon_rate",
            "abandoned_wait_p50",
            "admitted_wait_p90",
        ],
        other => panic!("a panel this test does not know: {other}"),
    }
}

async fn rooms(app: &TestApp) -> Vec<String> {
    sqlx::query_scalar("select distinct room from knocks order by 1")
        .fetch_all(&app.pool)
        .await
        .unwrap()
}

/// The rows of one panel's query over the last `days` days.
pub async fn panel_rows(app: &TestApp, title: &str, days: f64) -> Vec<Value> {
    let (_, _, sql) = panels().into_iter().find(|(t, _, _)| t == title).unwrap();
    run(app, &as_grafana_sends(&sql, days, &rooms(app).await)).await
}

#[tokio::test]
async fn every_panel_returns_rows_with_the_columns_it_reads() {
    let app = spawn_app().await;
    store_random_knocks(&app, 11, 150).await;
    let panels = panels();
    assert_eq!(panels.len(), 8, "panels changed: update this test");
    for (title, format, _) in &panels {
        let rows = panel_rows(&app, title, 30.0).await;
        assert!(!rows.is_empty(), "panel {title:?} has no rows");
        let mut columns: Vec<&str> = rows[0]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        let mut expected = expected_columns(title).to_vec();
        columns.sort();
        expected.sort();
        assert_eq!(columns, expected, "columns of panel {title:?}");
        if format == "time_series" {
            assert!(rows.iter().all(|r| r["time"].is_number()), "{title}: time");
        }
    }
}

#[tokio::test]
async fn the_grafana_panels_show_the_numbers_of_the_analytics_queries() {
    let app = spawn_app().await;
    store_random_knocks(&app, 12, 200).await;
    let queries = analytics_queries();
    let pick = |rows: &[Value], columns: &[&str]| -> Vec<Vec<Value>> {
        rows.iter()
            .map(|r| columns.iter().map(|c| r[*c].clone()).collect())
            .collect()
    };

    let panel = panel_rows(&app, "Rooms", 7.0).await;
    let columns = ["room", "abandoned", "resolved", "abandon_rate"];
    let mut expected = pick(&run(&app, &queries[0]).await, &columns);
    let mut shown = pick(&panel, &columns);
    expected.sort_by_key(|r| r[0].to_string());
    shown.sort_by_key(|r| r[0].to_string());
    assert_eq!(shown, expected);

    let panel = panel_rows(&app, "How long people waited before giving up", 30.0).await;
    assert_eq!(panel, run(&app, &queries[1]).await);

    let mut hours: Vec<(i64, i64)> =
        panel_rows(&app, "Abandoned knocks by hour of the day (UTC)", 30.0)
            .await
            .iter()
            .map(|r| {
                (
                    r["hour_utc"].as_str().unwrap().parse().unwrap(),
                    r["abandoned"].as_i64().unwrap(),
                )
            })
            .collect();
    hours.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    hours.truncate(5);
    let top: Vec<(i64, i64)> = run(&app, &queries[2])
        .await
        .iter()
        .map(|r| {
            (
                r["hour_utc"].as_i64().unwrap(),
                r["abandoned"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(hours, top);

    let panel = panel_rows(&app, "Knocking right now", 30.0).await;
    let columns = ["room", "session_id", "user_name"];
    assert_eq!(
        pick(&panel, &columns),
        pick(&run(&app, &queries[3]).await, &columns)
    );

    let panel = panel_rows(&app, "Days of each room", 14.0).await;
    let room_days: Vec<Value> = panel
        .into_iter()
        .filter(|r| r["room"] == "room-2")
        .collect();
    let days = run(&app, &queries[4].replace("'lobby'", "'room-2'")).await;
    let columns = [
        "day",
        "knocks",
        "admitted",
        "abandoned",
        "abandon_rate",
        "abandoned_wait_p50",
        "admitted_wait_p90",
    ];
    assert!(!days.is_empty());
    assert_eq!(pick(&room_days, &columns), pick(&days, &columns));
}

#[test]
fn compose_runs_grafana_with_the_provisioning_behind_the_dashboards_profile() {
    let compose = YamlLoader::load_from_str(&read("docker-compose.yml")).unwrap();
    let grafana = &compose[0]["services"]["grafana"];
    assert_eq!(grafana["profiles"][0].as_str(), Some("dashboards"));
    let mounts: Vec<&str> = grafana["volumes"]
        .as_vec()
        .unwrap()
        .iter()
        .filter_map(Yaml::as_str)
        .collect();
    for dir in [
        "./dashboards/grafana/provisioning",
        "./dashboards/grafana/dashboards",
    ] {
        assert!(
            mounts.iter().any(|m| m.starts_with(&format!("{dir}:"))),
            "{dir} not mounted"
        );
        assert!(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join(dir)
                .is_dir()
        );
    }
    let datasource = read("dashboards/grafana/provisioning/datasources/lobbylog.yaml");
    let datasource = &YamlLoader::load_from_str(&datasource).unwrap()[0]["datasources"][0];
    let environment = &grafana["environment"];
    for field in [
        &datasource["url"],
        &datasource["user"],
        &datasource["secureJsonData"]["password"],
        &datasource["jsonData"]["database"],
    ] {
        let var = field.as_str().unwrap().trim_start_matches('$');
        assert!(
            !environment[var].is_badvalue(),
            "compose does not set {var} for Grafana"
        );
    }
}
