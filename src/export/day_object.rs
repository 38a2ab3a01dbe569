//! One day's archive in a bucket: the bytes uploaded as they come (one PUT for a small day, a
//! multipart upload past `PART` bytes), so that the key only ever holds a whole day: S3, GCS and
//! Azure show an object once its upload completes, and an aborted one never.

use bytes::Bytes;
use object_store::{buffered::BufWriter, path::Path};
use tokio::io::AsyncWriteExt;

use crate::bucket::Bucket;

/// Bytes held before the upload turns multipart, and the size of each part (S3's minimum is
/// 5 MiB); with `PARTS_IN_FLIGHT`, this bounds the memory of an upload.
const PART: usize = 8 << 20;
const PARTS_IN_FLIGHT: usize = 2;

pub struct DayObject {
    bucket: Bucket,
    path: Path,
    upload: BufWriter,
}

impl DayObject {
    pub fn create(bucket: &Bucket, path: Path) -> Self {
        let upload = BufWriter::with_capacity(bucket.store().clone(), path.clone(), PART)
            .with_max_concurrency(PARTS_IN_FLIGHT);
        Self {
            bucket: bucket.clone(),
            path,
            upload,
        }
    }

    pub async fn write(&mut self, bytes: Vec<u8>) -> anyhow::Result<()> {
        self.upload
            .put(Bytes::from(bytes))
            .await
            .map_err(|e| self.bucket.failed("cannot upload", &self.path, e))
    }

    /// Completes the upload: the object appears whole, replacing an older one.
    pub async fn finish(mut self) -> anyhow::Result<()> {
        self.upload
            .shutdown()
            .await
            .map_err(|e| self.bucket.failed("cannot upload", &self.path, e))
    }

    /// Gives the upload up: its parts are deleted and the key keeps what it held.
    pub async fn abort(mut self) {
        if let Err(e) = self.upload.abort().await {
            let error = self
                .bucket
                .failed("cannot abort the upload of", &self.path, e);
            tracing::warn!(error = %error, "an unfinished upload may be left in the bucket");
        }
    }
}
