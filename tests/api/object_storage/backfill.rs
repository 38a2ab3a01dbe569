//! `lobbylog backfill s3://...`: every object under the prefix (more than a page of listing,
//! nested prefixes, a single object), gzip, zstd and plain, in key order; an object cut short.

use futures::{StreamExt, stream};

use super::with_s3;
use crate::{
    backfill::{gzip, ndjson, pretty_array, sample, zstd},
    helpers::{TestDb, count_events, s3::S3Server},
};

/// More than S3's 1,000 keys per listing page.
const OBJECTS: usize = 1_050;

#[tokio::test]
async fn every_object_under_a_prefix_is_loaded_whatever_its_depth_and_compression() {
    let s3 = S3Server::start();
    let db = TestDb::fresh().await;
    let events = sample("bucket", OBJECTS);
    let uploads = events.iter().enumerate().map(|(i, event)| {
        let body = ndjson(std::slice::from_ref(event));
        let (key, bytes) = match i % 3 {
            0 => (
                format!("archive/2024/{:02}/{i:05}.ndjson", i % 12 + 1),
                body,
            ),
            1 => (
                format!("archive/2024/{:02}/{i:05}.gz", i % 12 + 1),
                gzip(&body),
            ),
            _ => (format!("archive/deep/a/b/c/{i:05}.zst"), zstd(&body)),
        };
        let s3 = &s3;
        async move { s3.put(&key, bytes).await }
    });
    stream::iter(uploads)
        .buffer_unordered(16)
        .collect::<Vec<()>>()
        .await;
    // Repeats of the first 100, as a pretty JSON array, gzipped: counted as duplicates.
    s3.put(
        "archive/zz/repeats.json.gz",
        gzip(&pretty_array(&events[..100])),
    )
    .await;
    // A sibling prefix: `archive` must not take in `archive-old`.
    let old = sample("old", 7);
    s3.put("archive-old/x.ndjson", ndjson(&old)).await;

    let run = with_s3(&s3, db.url(), &["backfill", &s3.url("archive")]).await;
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(run.count("files"), OBJECTS as u64 + 1, "{run:?}");
    assert_eq!(run.count("inserted"), OBJECTS as u64, "{run:?}");
    assert_eq!(run.count("duplicates"), 100, "{run:?}");
    assert_eq!(count_events(&db.pool).await, OBJECTS as i64);

    let single = with_s3(
        &s3,
        db.url(),
        &["backfill", &s3.url("archive-old/x.ndjson")],
    )
    .await;
    assert_eq!(single.code, 0, "{single:?}");
    assert_eq!(single.count("inserted"), 7, "{single:?}");
}

#[tokio::test]
async fn an_object_cut_short_is_named_and_skipped_and_the_others_are_loaded() {
    let s3 = S3Server::start();
    let db = TestDb::fresh().await;
    let whole = gzip(&ndjson(&sample("a", 50)));
    s3.put("cut/a.ndjson.gz", whole).await;
    let cut = gzip(&ndjson(&sample("b", 2_000)));
    s3.put("cut/b.ndjson.gz", cut[..cut.len() / 2].to_vec())
        .await;
    s3.put("cut/c.ndjson.zst", zstd(&ndjson(&sample("c", 30))))
        .await;

    let run = with_s3(&s3, db.url(), &["backfill", &s3.url("cut")]).await;
    assert_eq!(run.code, 2, "{run:?}");
    let said = format!("{}{}", run.stdout, run.stderr);
    assert!(
        said.contains("s3://lobbylog/cut/b.ndjson.gz: unreadable or corrupt"),
        "{run:?}"
    );
    let stored: i64 = sqlx::query_scalar(
        "select count(*) from webhook_events where event_id like '%join-a-%' or event_id like '%join-c-%'",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(stored, 80, "the whole objects before and after are loaded");
}
