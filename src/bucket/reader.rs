//! One object read as a plain `std::io::Read`, for the blocking readers (decompression, record
//! splitting): fetched in ranges of `RANGE` bytes, one at a time, each GET over in moments
//! however slowly the reader consumes it (a GET of a whole large object would time out while
//! Postgres takes its batches), and only the current range held.

use std::io::{self, Read};

use bytes::Bytes;
use object_store::{GetOptions, GetRange, ObjectMeta};
use tokio::runtime::Handle;

use super::{Bucket, redact};

/// Bytes fetched per request.
const RANGE: u64 = 8 << 20;

/// The body of one object, range by range. Must be used off the runtime's worker threads (a
/// thread of its own, `spawn_blocking`): each range is waited for with `block_on`. Every range
/// must come from the version listed (its ETag): an object replaced while being read is an
/// error, not a mix of two versions.
pub struct ObjectReader {
    runtime: Handle,
    bucket: Bucket,
    meta: ObjectMeta,
    name: String,
    offset: u64,
    range: Bytes,
}

impl ObjectReader {
    pub fn new(runtime: Handle, bucket: &Bucket, meta: ObjectMeta) -> Self {
        Self {
            runtime,
            name: bucket.url_of(&meta.location),
            bucket: bucket.clone(),
            meta,
            offset: 0,
            range: Bytes::new(),
        }
    }

    fn fetch(&mut self) -> io::Result<()> {
        let end = self.meta.size.min(self.offset + RANGE);
        let options = GetOptions {
            range: Some(GetRange::Bounded(self.offset..end)),
            if_match: self.meta.e_tag.clone(),
            ..GetOptions::default()
        };
        let store = self.bucket.store();
        let range = self
            .runtime
            .block_on(async {
                store
                    .get_opts(&self.meta.location, options)
                    .await?
                    .bytes()
                    .await
            })
            .map_err(|e| failed(&self.name, e))?;
        if range.is_empty() {
            let short = format!("reading {}: the object ended early", self.name);
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, short));
        }
        self.offset += range.len() as u64;
        self.range = range;
        Ok(())
    }
}

impl Read for ObjectReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.range.is_empty() {
            if self.offset >= self.meta.size {
                return Ok(0);
            }
            self.fetch()?;
        }
        let n = buf.len().min(self.range.len());
        buf[..n].copy_from_slice(&self.range.split_to(n));
        Ok(n)
    }
}

fn failed(name: &str, e: object_store::Error) -> io::Error {
    let kind = match e {
        object_store::Error::NotFound { .. } => io::ErrorKind::NotFound,
        _ => io::ErrorKind::Other,
    };
    io::Error::new(kind, format!("reading {name}: {}", redact(&e.to_string())))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use object_store::{ObjectStore, PutPayload, memory::InMemory, path::Path};

    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn an_object_larger_than_a_range_is_read_whole_range_by_range() {
        let store = Arc::new(InMemory::new());
        let body: Vec<u8> = (0..2 * RANGE + 3).map(|i| (i % 251) as u8).collect();
        let path = Path::from("a/b.bin");
        store
            .put(&path, PutPayload::from(body.clone()))
            .await
            .unwrap();
        let bucket = Bucket::of(store.clone(), "memory://test");
        let meta = bucket.head(&path).await.unwrap();
        let mut reader = ObjectReader::new(Handle::current(), &bucket, meta.clone());
        let read = tokio::task::spawn_blocking(move || {
            let mut out = Vec::new();
            reader.read_to_end(&mut out).map(|_| out)
        })
        .await
        .unwrap()
        .unwrap();
        assert!(read == body, "{} bytes read of {}", read.len(), body.len());

        // Replaced after it was listed: the next range is refused, not mixed with the old one.
        let mut reader = ObjectReader::new(Handle::current(), &bucket, meta);
        let first = tokio::task::spawn_blocking(move || {
            let mut buf = vec![0; 16];
            reader.read_exact(&mut buf).map(|()| reader)
        });
        let mut reader = first.await.unwrap().unwrap();
        store
            .put(&path, PutPayload::from(vec![1u8; 100]))
            .await
            .unwrap();
        let rest = tokio::task::spawn_blocking(move || reader.read_to_end(&mut Vec::new()));
        let error = rest.await.unwrap().unwrap_err();
        assert!(
            error.to_string().contains("memory://test/a/b.bin"),
            "{error}"
        );
    }
}
