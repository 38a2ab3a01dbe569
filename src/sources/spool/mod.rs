//! The durable spool: request bodies fsync'd to local segment files while Postgres cannot take
//! them, and the drainer that moves them into Postgres later.
//!
//! One thread appends and fsyncs many bodies at once (one fsync per group of requests). Each line
//! of a segment is one body in base64, so any bytes frame safely. Segments are named
//! `<seq>-<created ms>.spool`; the drainer seals the active segment, stores the sealed ones and
//! only then deletes them.

mod drainer;
mod segment;

use std::{
    fs::{self, File},
    io,
    path::{Path, PathBuf},
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
};

use tokio::sync::{mpsc, oneshot};

pub use self::drainer::run as drain_forever;
use self::segment::{Request, SegmentWriter, now_ms, read_segment, segments};
use crate::metrics::SpoolLevels;

#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    #[error("spool is full ({max_bytes} bytes)")]
    Full { max_bytes: u64 },
    #[error("spool write failed: {0}")]
    Io(#[from] io::Error),
    #[error("spool writer has stopped")]
    Stopped,
}

/// What the spool holds now, for metrics and readiness.
#[derive(Debug, Default)]
pub struct SpoolDepth {
    pub records: AtomicU64,
    pub bytes: AtomicU64,
    /// Creation time (ms since epoch) of the oldest segment, 0 when empty.
    pub oldest_ms: AtomicU64,
}

impl SpoolDepth {
    pub fn levels(&self) -> SpoolLevels {
        let oldest_age_seconds = match self.oldest_ms.load(Ordering::Relaxed) {
            0 => 0.0,
            ms => now_ms().saturating_sub(ms) as f64 / 1000.0,
        };
        SpoolLevels {
            events: self.records.load(Ordering::Relaxed),
            bytes: self.bytes.load(Ordering::Relaxed),
            oldest_age_seconds,
        }
    }
}

#[derive(Clone)]
pub struct Spool {
    tx: mpsc::Sender<Request>,
    dir: Arc<PathBuf>,
    pub depth: Arc<SpoolDepth>,
    /// Held for the spool's life: two processes draining one directory would race.
    _lock: Arc<File>,
}

/// A sealed segment, ready to drain.
struct Segment {
    path: PathBuf,
    seq: u64,
    bytes: u64,
}

impl Spool {
    /// Creates the directory if needed, counts what an earlier run left, starts the writer thread.
    pub fn open(dir: &Path, max_bytes: u64) -> io::Result<Self> {
        fs::create_dir_all(dir)?;
        let lock = File::create(dir.join(".lock"))?;
        lock.try_lock().map_err(|_| {
            io::Error::other(format!(
                "spool {} is in use by another lobbylog process",
                dir.display()
            ))
        })?;
        let depth = Arc::new(SpoolDepth::default());
        let mut next_seq = 1;
        for segment in segments(dir)? {
            // An unreadable leftover must not stop the service; the drainer sets it aside.
            let records = segment::count_records(&segment.path).unwrap_or_else(|e| {
                tracing::error!(path = %segment.path.display(), error = %e, "unreadable spool segment");
                0
            });
            depth.records.fetch_add(records, Ordering::Relaxed);
            depth.bytes.fetch_add(segment.bytes, Ordering::Relaxed);
            next_seq = next_seq.max(segment.seq + 1);
        }
        segment::refresh_oldest(dir, &depth)?;
        let (tx, rx) = mpsc::channel(segment::GROUP * 4);
        let writer = SegmentWriter::new(dir.to_owned(), max_bytes, depth.clone(), next_seq);
        std::thread::Builder::new()
            .name("spool-writer".into())
            .spawn(move || writer.run(rx))?;
        Ok(Self {
            tx,
            dir: Arc::new(dir.to_owned()),
            depth,
            _lock: Arc::new(lock),
        })
    }

    /// Appends one body; returns once it is on disk.
    pub async fn append(&self, body: &[u8]) -> Result<(), SpoolError> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send(Request::Append(body.to_vec(), reply))
            .await
            .map_err(|_| SpoolError::Stopped)?;
        answer.await.map_err(|_| SpoolError::Stopped)?
    }

    /// Seals the active segment and lists every sealed one, oldest first.
    async fn sealed(&self) -> Result<Vec<Segment>, SpoolError> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send(Request::Seal(reply))
            .await
            .map_err(|_| SpoolError::Stopped)?;
        let upto = answer.await.map_err(|_| SpoolError::Stopped)?;
        let mut list = segments(&self.dir)?;
        list.retain(|s| s.seq <= upto);
        Ok(list)
    }

    /// Removes a drained segment (its events have committed) or sets aside one that cannot be
    /// drained (renamed to `<name>.failed`, out of the spool's counts), then updates the depth.
    fn remove(&self, segment: &Segment, records: u64, set_aside: bool) -> io::Result<()> {
        if set_aside {
            fs::rename(&segment.path, segment.path.with_extension("failed"))?;
        } else {
            fs::remove_file(&segment.path)?;
        }
        saturating_sub(&self.depth.records, records);
        saturating_sub(&self.depth.bytes, segment.bytes);
        segment::refresh_oldest(&self.dir, &self.depth)
    }

    /// Whether any segment, even an empty one, waits to be drained.
    pub fn is_empty(&self) -> bool {
        self.depth.records.load(Ordering::Relaxed) == 0
            && self.depth.oldest_ms.load(Ordering::Relaxed) == 0
    }
}

fn saturating_sub(counter: &AtomicU64, n: u64) {
    let _ = counter.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| {
        Some(v.saturating_sub(n))
    });
}
