//! Object storage: a bucket and a prefix named by an `s3://`, `gs://` or `az://` URL, reached
//! through `object_store` with credentials and endpoint from the standard environment, and error
//! text that never carries a secret.

mod reader;
mod redact;

use std::{sync::Arc, time::Duration};

use anyhow::Context;
use futures_util::TryStreamExt;
use object_store::{
    BackoffConfig, ObjectMeta, ObjectStore, ObjectStoreScheme, RetryConfig, aws::AmazonS3Builder,
    azure::MicrosoftAzureBuilder, gcp::GoogleCloudStorageBuilder, path::Path,
};
use url::Url;

pub use self::{reader::ObjectReader, redact::redact};

/// The URL schemes read as object storage; anything else is a local path.
const SCHEMES: &[&str] = &["s3", "s3a", "gs", "az", "azure", "abfs", "abfss", "adl"];

/// Whether `text` names object storage (`s3://...`) rather than a local path.
pub fn is_url(text: &str) -> bool {
    text.split_once("://")
        .is_some_and(|(scheme, _)| SCHEMES.contains(&scheme.to_ascii_lowercase().as_str()))
}

/// A prefix in a bucket, and the client that reaches it.
#[derive(Debug, Clone)]
pub struct Bucket {
    store: Arc<dyn ObjectStore>,
    prefix: Path,
    /// `scheme://bucket`, for names shown to people.
    root: String,
}

impl Bucket {
    /// Opens the bucket of `url` (no request is made yet): S3 from `AWS_ACCESS_KEY_ID`,
    /// `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, `AWS_REGION`, `AWS_ENDPOINT_URL` and
    /// `AWS_ALLOW_HTTP`; GCS from `GOOGLE_*`; Azure from `AZURE_*`.
    pub fn open(url: &str) -> anyhow::Result<Self> {
        let parsed = Url::parse(url).with_context(|| format!("{url} is not a valid URL"))?;
        let (scheme, prefix) = ObjectStoreScheme::parse(&parsed)
            .map_err(|e| anyhow::anyhow!("{url} is not an object storage URL: {e}"))?;
        let store: Arc<dyn ObjectStore> = match scheme {
            ObjectStoreScheme::AmazonS3 => Arc::new(
                AmazonS3Builder::from_env()
                    .with_url(url)
                    .with_retry(retry())
                    .build()
                    .map_err(|e| unusable(url, e))?,
            ),
            ObjectStoreScheme::GoogleCloudStorage => Arc::new(
                GoogleCloudStorageBuilder::from_env()
                    .with_url(url)
                    .with_retry(retry())
                    .build()
                    .map_err(|e| unusable(url, e))?,
            ),
            ObjectStoreScheme::MicrosoftAzure => Arc::new(
                MicrosoftAzureBuilder::from_env()
                    .with_url(url)
                    .with_retry(retry())
                    .build()
                    .map_err(|e| unusable(url, e))?,
            ),
            _ => anyhow::bail!("{url}: only s3://, gs:// and az:// URLs name object storage"),
        };
        let host = parsed.host_str().unwrap_or_default();
        Ok(Self {
            store,
            prefix,
            root: format!("{}://{host}", parsed.scheme()),
        })
    }

    /// A bucket of `store`, for the unit tests.
    #[cfg(test)]
    fn of(store: Arc<dyn ObjectStore>, root: &str) -> Self {
        Self {
            store,
            prefix: Path::default(),
            root: root.to_owned(),
        }
    }

    pub fn store(&self) -> &Arc<dyn ObjectStore> {
        &self.store
    }

    /// `relative` (`2024/06/01.ndjson.zst`) under the bucket's prefix.
    pub fn join(&self, relative: &str) -> Path {
        let relative = Path::from(relative);
        Path::from_iter(self.prefix.parts().chain(relative.parts()))
    }

    /// The URL of the object at `path`, as people write it.
    pub fn url_of(&self, path: &Path) -> String {
        format!("{}/{path}", self.root)
    }

    /// The URL of the prefix itself.
    pub fn url(&self) -> String {
        match self.prefix.as_ref() {
            "" => self.root.clone(),
            prefix => format!("{}/{prefix}", self.root),
        }
    }

    /// Every object under the prefix, sorted by key; the object itself when the URL names one.
    /// A missing bucket, refused credentials or an unreachable endpoint is an error here.
    pub async fn list(&self) -> anyhow::Result<Vec<ObjectMeta>> {
        let listing = |e: object_store::Error| {
            anyhow::anyhow!("cannot list {}: {}", self.url(), redact(&e.to_string()))
        };
        let mut objects: Vec<ObjectMeta> = self
            .store
            .list(Some(&self.prefix))
            .try_collect()
            .await
            .map_err(listing)?;
        if objects.is_empty() && !self.prefix.as_ref().is_empty() {
            match self.store.head(&self.prefix).await {
                Ok(meta) => objects.push(meta),
                Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(listing(e)),
            }
        }
        objects.sort_by(|a, b| a.location.cmp(&b.location));
        Ok(objects)
    }

    /// What the bucket says of the object at `path`: its size and version.
    pub async fn head(&self, path: &Path) -> anyhow::Result<ObjectMeta> {
        self.store
            .head(path)
            .await
            .map_err(|e| self.failed("cannot read", path, e))
    }

    /// An error about the object at `path`, named, without secrets.
    pub fn failed(&self, what: &str, path: &Path, e: impl std::fmt::Display) -> anyhow::Error {
        anyhow::anyhow!("{what} {}: {}", self.url_of(path), redact(&e.to_string()))
    }
}

/// A few quick retries: an unreachable bucket fails in seconds, not the default three minutes.
fn retry() -> RetryConfig {
    RetryConfig {
        backoff: BackoffConfig {
            init_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(5),
            base: 2.0,
        },
        max_retries: 4,
        retry_timeout: Duration::from_secs(30),
    }
}

fn unusable(url: &str, e: object_store::Error) -> anyhow::Error {
    anyhow::anyhow!(
        "cannot use {url} (check the credentials and endpoint in the environment): {}",
        redact(&e.to_string())
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_object_storage_schemes_are_urls() {
        assert!(is_url("s3://bucket/prefix"));
        assert!(is_url("S3://bucket"));
        assert!(is_url("gs://bucket/a/b"));
        assert!(is_url("az://container/a"));
        assert!(!is_url("archive/2024"));
        assert!(!is_url("-"));
        assert!(!is_url("http://example.com/a"));
        assert!(!is_url("file:///tmp/a"));
    }

    #[test]
    fn keys_are_joined_under_the_prefix_and_shown_as_urls() {
        let bucket = Bucket::open("s3://archive/daily/webhooks").unwrap();
        let path = bucket.join("2024/06/01.ndjson.zst");
        assert_eq!(path.as_ref(), "daily/webhooks/2024/06/01.ndjson.zst");
        assert_eq!(
            bucket.url_of(&path),
            "s3://archive/daily/webhooks/2024/06/01.ndjson.zst"
        );
        assert_eq!(bucket.url(), "s3://archive/daily/webhooks");
        let root = Bucket::open("s3://archive").unwrap();
        assert_eq!(root.join("a.zst").as_ref(), "a.zst");
        assert_eq!(root.url(), "s3://archive");
    }

    #[test]
    fn a_url_of_another_kind_is_refused_with_its_name() {
        let e = Bucket::open("s3://").unwrap_err().to_string();
        assert!(e.contains("s3://"), "{e}");
    }
}
