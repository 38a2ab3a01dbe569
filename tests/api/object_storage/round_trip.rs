//! Events live → archives in the bucket → deleted → loaded back: the same bodies, byte for byte,
//! and the same knocks; through `export` then `prune`, and through `prune --archive-to`.

use std::collections::BTreeMap;

use super::with_s3;
use crate::{
    export::{DAYS, bodies, file_of, stored_over_days},
    helpers::{TestApp, TestDb, count_events, knocks, s3::S3Server, spawn_app},
};

/// The NDJSON lines of each object under `prefix`, by key relative to it.
async fn lines_per_object(s3: &S3Server, prefix: &str) -> BTreeMap<String, usize> {
    s3.objects(prefix)
        .await
        .into_iter()
        .map(|(key, bytes)| {
            let text = String::from_utf8(zstd::decode_all(&bytes[..]).unwrap()).unwrap();
            let name = key.strip_prefix(&format!("{prefix}/")).unwrap().to_owned();
            (name, text.lines().count())
        })
        .collect()
}

/// A bucket, and the service holding events over `DAYS`: what each day holds, and the bodies and
/// knocks a restore must give back.
struct Before {
    s3: S3Server,
    app: TestApp,
    expected: BTreeMap<String, usize>,
    total: usize,
    bodies: Vec<(String, String)>,
    knocks: Vec<crate::daily::Expected>,
}

async fn before() -> Before {
    let s3 = S3Server::start();
    let app = spawn_app().await;
    let expected = stored_over_days(&app).await;
    let (bodies, knocks) = (bodies(&app.pool).await, knocks(&app.pool).await);
    Before {
        s3,
        total: expected.values().sum(),
        expected,
        bodies,
        knocks,
        app,
    }
}

#[tokio::test]
async fn export_to_a_bucket_then_prune_then_backfill_from_it_restores_bodies_and_knocks() {
    let Before {
        s3,
        app,
        expected,
        total,
        bodies: bodies_before,
        knocks: knocks_before,
    } = before().await;
    let url = app.database_url();

    let export = with_s3(&s3, &url, &["export", "--to", &s3.url("exports")]).await;
    assert_eq!(export.code, 0, "{export:?}");
    assert_eq!(export.count("events"), total as u64, "{export:?}");
    assert!(
        export.stdout.contains("s3://lobbylog/exports"),
        "{export:?}"
    );
    assert_eq!(lines_per_object(&s3, "exports").await, expected);
    let first = s3.objects("exports").await;
    let again = with_s3(&s3, &url, &["export", "--to", &s3.url("exports")]).await;
    assert_eq!(again.code, 0, "{again:?}");
    assert!(
        s3.objects("exports").await == first,
        "a rerun writes the same objects"
    );

    // One event was sent just now: once it is a second old, every event is.
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let prune = with_s3(&s3, &url, &["prune", "--older-than", "1s"]).await;
    assert_eq!(prune.code, 0, "{prune:?}");
    assert_eq!(count_events(&app.pool).await, 0);

    let backfill = with_s3(&s3, &url, &["backfill", &s3.url("exports")]).await;
    assert_eq!(backfill.code, 0, "{backfill:?}");
    assert_eq!(backfill.count("inserted"), total as u64, "{backfill:?}");
    assert_eq!(backfill.count("files"), DAYS.len() as u64, "{backfill:?}");
    assert_eq!(bodies(&app.pool).await, bodies_before);
    assert_eq!(knocks(&app.pool).await, knocks_before);
}

#[tokio::test]
async fn prune_archive_to_a_bucket_deletes_what_it_archived_and_backfill_restores_it() {
    let Before {
        s3,
        app,
        expected,
        total,
        bodies: bodies_before,
        knocks: knocks_before,
    } = before().await;
    let url = app.database_url();
    let archive = s3.url("pruned");

    let args = ["prune", "--older-than", "1s", "--archive-to", &archive];
    let dry = with_s3(&s3, &url, &[&args[..], &["--dry-run"]].concat()).await;
    assert_eq!(dry.code, 0, "{dry:?}");
    assert_eq!(dry.count("events"), total as u64, "{dry:?}");
    assert!(dry.stdout.contains("4 days would be written"), "{dry:?}");
    assert!(
        s3.objects("pruned").await.is_empty(),
        "a dry run writes nothing"
    );

    let prune = with_s3(&s3, &url, &args).await;
    assert_eq!(prune.code, 0, "{prune:?}");
    assert_eq!(prune.count("events"), total as u64, "{prune:?}");
    assert!(
        prune
            .stdout
            .contains("archived      4 days to s3://lobbylog/pruned"),
        "{prune:?}"
    );
    assert_eq!(count_events(&app.pool).await, 0);
    assert_eq!(lines_per_object(&s3, "pruned").await, expected);
    let horizon: Option<String> =
        sqlx::query_scalar("select pruned_before::text from retention_horizon")
            .fetch_optional(&app.pool)
            .await
            .unwrap();
    assert!(
        horizon.is_some(),
        "the retention horizon moved past the deleted events"
    );

    let restored = TestDb::fresh().await;
    let backfill = with_s3(&s3, restored.url(), &["backfill", &archive]).await;
    assert_eq!(backfill.code, 0, "{backfill:?}");
    assert_eq!(backfill.count("inserted"), total as u64, "{backfill:?}");
    assert_eq!(bodies(&restored.pool).await, bodies_before);
    assert_eq!(knocks(&restored.pool).await, knocks_before);
}

#[tokio::test]
async fn prune_archive_to_a_folder_keeps_the_days_not_yet_over_and_the_events_received_meanwhile() {
    let app = spawn_app().await;
    let expected = stored_over_days(&app).await;
    // Received today: its day is not over, so it is neither archived nor deleted.
    sqlx::query("update webhook_events set received_at = now() where event_id = (select min(event_id) from webhook_events)")
        .execute(&app.pool)
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let to = dir.path().to_str().unwrap();
    let run = crate::helpers::run(
        crate::helpers::lobbylog(
            &app.database_url(),
            &["prune", "--older-than", "1s", "--archive-to", to],
        ),
        None,
    )
    .await;
    assert_eq!(run.code, 0, "{run:?}");
    let total: usize = expected.values().sum();
    assert_eq!(run.count("events"), total as u64 - 1, "{run:?}");
    assert_eq!(count_events(&app.pool).await, 1);
    let archived: usize = DAYS
        .iter()
        .map(|d| {
            let bytes = std::fs::read(dir.path().join(file_of(d))).unwrap_or_default();
            let text = zstd::decode_all(&bytes[..]).unwrap_or_default();
            text.iter().filter(|&&b| b == b'\n').count()
        })
        .sum();
    assert_eq!(archived, total - 1);
}
