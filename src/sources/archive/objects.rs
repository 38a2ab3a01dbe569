//! The inputs named on the command line: local paths as `files::expand` finds them, and every
//! object under an `s3://`, `gs://` or `az://` prefix, in key order.

use std::path::PathBuf;

use super::files::{self, Input};
use crate::bucket::{self, Bucket};

/// The inputs of `paths`, in the order given. Every local path is found and every bucket listed
/// before anything is read: a missing bucket, refused credentials or a prefix without objects is
/// an error that names it.
pub async fn inputs(paths: &[PathBuf]) -> anyhow::Result<Vec<Input>> {
    let mut inputs = Vec::new();
    for path in paths {
        match path.to_str().filter(|p| bucket::is_url(p)) {
            Some(url) => inputs.extend(objects_under(url).await?),
            None => inputs.extend(files::expand(std::slice::from_ref(path))?),
        }
    }
    Ok(inputs)
}

async fn objects_under(url: &str) -> anyhow::Result<Vec<Input>> {
    let bucket = Bucket::open(url)?;
    let objects = bucket.list().await?;
    anyhow::ensure!(!objects.is_empty(), "no objects under {}", bucket.url());
    Ok(objects
        .into_iter()
        .map(|meta| Input::Object {
            bucket: bucket.clone(),
            meta,
        })
        .collect())
}
