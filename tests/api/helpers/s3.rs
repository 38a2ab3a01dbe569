//! A real S3 API for the tests: moto's server (`tests/s3_server.py`), one per test; and the
//! environment that points `lobbylog` at it.

use std::{
    io::{BufRead, BufReader},
    process::{Child, Command, Stdio},
    sync::Arc,
};

use object_store::{ObjectStore, PutPayload, aws::AmazonS3Builder, path::Path};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
struct Started {
    endpoint: String,
    key_id: String,
    secret: String,
    bucket: String,
}

/// A running S3 server with one bucket; stopped when dropped.
pub struct S3Server {
    child: Child,
    pub endpoint: String,
    pub key_id: String,
    pub secret: String,
    pub bucket: String,
}

impl S3Server {
    /// A server that takes any credentials.
    pub fn start() -> Self {
        Self::start_with(&[])
    }

    /// A server that refuses requests not signed with its key and secret. (It also refuses any
    /// listing with a `/` in its prefix: moto signs those differently.)
    pub fn start_authenticated() -> Self {
        Self::start_with(&["--auth"])
    }

    fn start_with(args: &[&str]) -> Self {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/s3_server.py");
        let mut child = Command::new("python3")
            .arg(script)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("python3 is needed to run moto's S3 server: install python3 and `pip install 'moto[server]'`");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let started: Started = serde_json::from_str(&line).unwrap_or_else(|_| {
            panic!("moto's S3 server did not start (pip install 'moto[server]'): {line:?}")
        });
        Self {
            child,
            endpoint: started.endpoint,
            key_id: started.key_id,
            secret: started.secret,
            bucket: started.bucket,
        }
    }

    /// `s3://bucket/prefix`.
    pub fn url(&self, prefix: &str) -> String {
        format!("s3://{}/{prefix}", self.bucket)
    }

    /// The variables `lobbylog` reads, pointing at this server with its valid key.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ACCESS_KEY_ID", self.key_id.clone()),
            ("AWS_SECRET_ACCESS_KEY", self.secret.clone()),
            ("AWS_REGION", "us-east-1".into()),
            ("AWS_ENDPOINT_URL", self.endpoint.clone()),
            ("AWS_ALLOW_HTTP", "true".into()),
        ]
    }

    /// `command` with the environment of `env`.
    pub fn apply(&self, mut command: Command) -> Command {
        for (name, value) in self.env() {
            command.env(name, value);
        }
        command
    }

    /// A client of the bucket, for putting fixtures and reading what `lobbylog` wrote.
    pub fn store(&self) -> Arc<dyn ObjectStore> {
        let store = AmazonS3Builder::new()
            .with_bucket_name(&self.bucket)
            .with_access_key_id(&self.key_id)
            .with_secret_access_key(&self.secret)
            .with_region("us-east-1")
            .with_endpoint(&self.endpoint)
            .with_allow_http(true)
            .build()
            .unwrap();
        Arc::new(store)
    }

    pub async fn put(&self, key: &str, bytes: Vec<u8>) {
        self.store()
            .put(&Path::from(key), PutPayload::from(bytes))
            .await
            .unwrap();
    }

    /// Every object under `prefix` by key, with its bytes.
    pub async fn objects(&self, prefix: &str) -> std::collections::BTreeMap<String, Vec<u8>> {
        use futures::TryStreamExt;
        let store = self.store();
        let metas: Vec<_> = store
            .list(Some(&Path::from(prefix)))
            .try_collect()
            .await
            .unwrap();
        let mut out = std::collections::BTreeMap::new();
        for meta in metas {
            let bytes = store.get(&meta.location).await.unwrap().bytes().await;
            out.insert(meta.location.to_string(), bytes.unwrap().to_vec());
        }
        out
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
