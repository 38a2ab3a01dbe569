//! One object read as a plain `std::io::Read`, for the blocking readers (decompression, record
//! splitting): the GET's body arrives as a stream of chunks and only the current one is held.

use std::io::{self, Read};

use bytes::Bytes;
use futures_util::{StreamExt, stream::BoxStream};
use object_store::path::Path;
use tokio::runtime::Handle;

use super::{Bucket, redact};

/// The body of one object, read chunk by chunk. Must be used off the runtime's worker threads
/// (a thread of its own, `spawn_blocking`): each new chunk is waited for with `block_on`.
pub struct ObjectReader {
    runtime: Handle,
    name: String,
    chunks: BoxStream<'static, object_store::Result<Bytes>>,
    chunk: Bytes,
}

impl ObjectReader {
    /// Starts the GET of `path`; fails at once if the object is missing or refused.
    pub fn open(runtime: Handle, bucket: &Bucket, path: &Path) -> io::Result<Self> {
        let name = bucket.url_of(path);
        let result = runtime
            .block_on(bucket.store().get(path))
            .map_err(|e| failed(&name, e))?;
        Ok(Self {
            runtime,
            name,
            chunks: result.into_stream(),
            chunk: Bytes::new(),
        })
    }
}

impl Read for ObjectReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.chunk.is_empty() {
            match self.runtime.block_on(self.chunks.next()) {
                Some(Ok(chunk)) => self.chunk = chunk,
                Some(Err(e)) => return Err(failed(&self.name, e)),
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.chunk.len());
        buf[..n].copy_from_slice(&self.chunk.split_to(n));
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
