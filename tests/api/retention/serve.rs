//! The daily prune inside `serve`: `LOBBYLOG_RETENTION`, the lock that keeps replicas from
//! pruning at once, and the retention metrics.

use lobbylog::store::RetentionLock;

use super::{BAD_LINES, DAY, age_the_old_unstamped_event_and_dead_letter, backfill, ids};
use crate::helpers::{Service, count_events, eventually, free_port, spawn_app};

/// A sample of the admin listener's `/metrics`, e.g. `lobbylog_pruned_rows_total{table="x"}`.
async fn metric(service: &Service, name: &str) -> Option<f64> {
    let url = format!("{}/metrics", service.admin);
    let text = reqwest::get(url).await.ok()?.text().await.ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
}

/// Waits until `name` reads within `range`.
async fn metric_within(service: &Service, name: &str, range: std::ops::Range<f64>) -> bool {
    eventually(40, || async {
        metric(service, name)
            .await
            .is_some_and(|v| range.contains(&v))
    })
    .await
}

fn runs(outcome: &str) -> String {
    format!("lobbylog_retention_runs_total{{outcome=\"{outcome}\"}}")
}

fn pruned(table: &str) -> String {
    format!("lobbylog_pruned_rows_total{{table=\"{table}\"}}")
}

const AGE: &str = "lobbylog_oldest_event_age_seconds";

#[tokio::test]
async fn serve_prunes_once_started_when_retention_is_set_and_skips_while_another_holds_the_lock() {
    let app = spawn_app().await;
    let (events, kept) = super::events_of_several_ages();
    backfill(&app, &events, BAD_LINES).await;
    age_the_old_unstamped_event_and_dead_letter(&app.pool).await;
    let url = app.database_url();
    let spool = tempfile::tempdir().unwrap();
    let start = |retention: &str| {
        let env = [("LOBBYLOG_RETENTION", retention)];
        Service::start_with(&url, spool.path(), free_port(), &env, None)
    };

    let unset = start("");
    assert!(metric_within(&unset, AGE, 200.0 * DAY..201.0 * DAY).await);
    assert_eq!(metric(&unset, &runs("finished")).await, None);
    drop(unset);

    let holder = RetentionLock::try_take(&app.pool).await.unwrap().unwrap();
    let blocked = start("90d");
    assert!(metric_within(&blocked, &runs("skipped"), 1.0..1.1).await);
    assert_eq!(count_events(&app.pool).await, events.len() as i64);
    drop(blocked);
    holder.release().await.unwrap();

    let pruning = start("90d");
    assert!(metric_within(&pruning, &runs("finished"), 1.0..1.1).await);
    let stored = ids(&app.pool, "select event_id from webhook_events order by 1").await;
    assert_eq!(stored, kept);
    assert_eq!(app.count("dead_letters").await, 1);
    assert_eq!(metric(&pruning, &pruned("webhook_events")).await, Some(4.0));
    assert_eq!(metric(&pruning, &pruned("dead_letters")).await, Some(1.0));
    assert!(metric_within(&pruning, AGE, 89.0 * DAY..89.1 * DAY).await);
}

#[tokio::test]
async fn serve_archives_whole_days_to_the_retention_archive_before_it_prunes_them() {
    let app = spawn_app().await;
    let per_day = crate::export::stored_over_days(&app).await;
    let total: usize = per_day.values().sum();
    // Received just now: its day is not over, so it stays.
    sqlx::query("update webhook_events set received_at = now() where event_id = (select min(event_id) from webhook_events)")
        .execute(&app.pool)
        .await
        .unwrap();
    let (spool, archive) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let to = archive.path().to_str().unwrap();
    let env = [
        ("LOBBYLOG_RETENTION", "1d"),
        ("LOBBYLOG_RETENTION_ARCHIVE", to),
    ];
    let url = app.database_url();
    let service = Service::start_with(&url, spool.path(), free_port(), &env, None);

    assert!(metric_within(&service, &runs("finished"), 1.0..1.1).await);
    assert_eq!(count_events(&app.pool).await, 1);
    let archived = (total - 1) as f64;
    assert_eq!(
        metric(&service, &pruned("webhook_events")).await,
        Some(archived)
    );
    let lines: usize = per_day
        .keys()
        .map(|file| {
            let bytes = std::fs::read(archive.path().join(file)).unwrap();
            let text = zstd::decode_all(&bytes[..]).unwrap();
            text.iter().filter(|&&b| b == b'\n').count()
        })
        .sum();
    assert_eq!(lines, total - 1, "every deleted event is in its day's file");
}
