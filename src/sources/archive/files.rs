//! Where archives come from: paths walked in a stable order, stdin, objects in a bucket, and
//! decompression by magic.

use std::{
    fmt,
    fs::File,
    io::{self, BufRead, BufReader, Cursor, Read},
    path::{Path, PathBuf},
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
};

use anyhow::Context;
use tokio::runtime::Handle;

use crate::bucket::{Bucket, ObjectReader};

const GZIP_MAGIC: &[u8] = &[0x1f, 0x8b];
const ZSTD_MAGIC: &[u8] = &[0x28, 0xb5, 0x2f, 0xfd];
const BUFFER: usize = 256 * 1024;

/// One input to read.
#[derive(Debug, Clone)]
pub enum Input {
    Stdin,
    File {
        path: PathBuf,
        size: u64,
    },
    Object {
        bucket: Bucket,
        meta: object_store::ObjectMeta,
    },
}

impl fmt::Display for Input {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Stdin => f.write_str("stdin"),
            Self::File { path, .. } => write!(f, "{}", path.display()),
            Self::Object { bucket, meta } => f.write_str(&bucket.url_of(&meta.location)),
        }
    }
}

/// Expands the command-line paths: `-` is stdin, a directory is every file below it (sorted by
/// name, depth first), anything else a file. A path that does not exist is an error.
pub fn expand(paths: &[PathBuf]) -> anyhow::Result<Vec<Input>> {
    let mut inputs = Vec::new();
    for path in paths {
        if path.as_os_str() == "-" {
            inputs.push(Input::Stdin);
            continue;
        }
        let meta =
            std::fs::metadata(path).with_context(|| format!("cannot read {}", path.display()))?;
        if meta.is_dir() {
            walk(path, &mut inputs)?;
        } else {
            inputs.push(Input::File {
                path: path.clone(),
                size: meta.len(),
            });
        }
    }
    Ok(inputs)
}

/// Adds the files below `dir`; symbolic links to directories are not followed (no cycles).
fn walk(dir: &Path, inputs: &mut Vec<Input>) -> anyhow::Result<()> {
    let mut entries = std::fs::read_dir(dir)
        .and_then(|entries| entries.collect::<io::Result<Vec<_>>>())
        .with_context(|| format!("cannot list {}", dir.display()))?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        let file_type = entry
            .file_type()
            .with_context(|| format!("cannot read {}", path.display()))?;
        if file_type.is_dir() {
            walk(&path, inputs)?;
            continue;
        }
        match std::fs::metadata(&path) {
            Ok(meta) if meta.is_file() => inputs.push(Input::File {
                path,
                size: meta.len(),
            }),
            // A link to a directory, a dangling link, a socket...: not an archive.
            _ => tracing::debug!(path = %path.display(), "skipped: not a regular file"),
        }
    }
    Ok(())
}

/// The total size of the inputs in bytes, unless one of them is stdin.
pub fn total_bytes(inputs: &[Input]) -> Option<u64> {
    inputs
        .iter()
        .map(|input| match input {
            Input::Stdin => None,
            Input::File { size, .. } => Some(*size),
            Input::Object { meta, .. } => Some(meta.size),
        })
        .sum()
}

/// Counts the bytes read from an input before decompression, for progress.
#[derive(Debug, Clone, Default)]
pub struct Counter(Arc<AtomicU64>);

impl Counter {
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

struct Counted<R> {
    inner: R,
    counter: Counter,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.counter.0.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// Opens an input for reading, decompressed when its first bytes say gzip or zstd. An object is
/// fetched through `runtime`, from a thread that is not one of its workers.
pub fn open(input: &Input, counter: &Counter, runtime: &Handle) -> io::Result<Box<dyn BufRead>> {
    let raw: Box<dyn Read> = match input {
        Input::Stdin => Box::new(io::stdin().lock()),
        Input::File { path, .. } => Box::new(File::open(path)?),
        Input::Object { bucket, meta } => {
            Box::new(ObjectReader::new(runtime.clone(), bucket, meta.clone()))
        }
    };
    decompress(Counted {
        inner: raw,
        counter: counter.clone(),
    })
}

/// Wraps `raw` in the decoder its magic bytes call for; plain text passes through.
pub fn decompress<'r>(mut raw: impl Read + 'r) -> io::Result<Box<dyn BufRead + 'r>> {
    let mut head = [0u8; 4];
    let mut filled = 0;
    while filled < head.len() {
        match raw.read(&mut head[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    let head = &head[..filled];
    let whole = BufReader::with_capacity(BUFFER, Cursor::new(head.to_vec()).chain(raw));
    Ok(if head.starts_with(GZIP_MAGIC) {
        // Multi-member: `cat a.gz b.gz` is a valid gzip stream, as gzip(1) reads it.
        Box::new(BufReader::with_capacity(
            BUFFER,
            flate2::bufread::MultiGzDecoder::new(whole),
        ))
    } else if head.starts_with(ZSTD_MAGIC) {
        Box::new(BufReader::with_capacity(
            BUFFER,
            zstd::stream::read::Decoder::with_buffer(whole)?,
        ))
    } else {
        Box::new(whole)
    })
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn read_all(bytes: &[u8]) -> io::Result<String> {
        let mut text = String::new();
        decompress(bytes)?.read_to_string(&mut text)?;
        Ok(text)
    }

    fn gzip(text: &[u8]) -> Vec<u8> {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(text).unwrap();
        encoder.finish().unwrap()
    }

    #[test]
    fn compression_is_told_by_magic_bytes() {
        let text = b"{\"id\":\"a\"}\n";
        assert_eq!(read_all(text).unwrap(), "{\"id\":\"a\"}\n");
        assert_eq!(read_all(&gzip(text)).unwrap(), "{\"id\":\"a\"}\n");
        let zstd = zstd::encode_all(&text[..], 3).unwrap();
        assert_eq!(read_all(&zstd).unwrap(), "{\"id\":\"a\"}\n");
        assert_eq!(read_all(b"").unwrap(), "");
        assert_eq!(read_all(b"{").unwrap(), "{");
    }

    #[test]
    fn concatenated_gzip_members_are_read_whole_and_truncation_is_an_error() {
        let mut two = gzip(b"one\n");
        two.extend(gzip(b"two\n"));
        assert_eq!(read_all(&two).unwrap(), "one\ntwo\n");
        let whole = gzip(&b"x".repeat(10_000));
        assert!(read_all(&whole[..whole.len() - 6]).is_err());
    }
}
