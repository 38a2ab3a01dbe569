//! The durable spool: request bodies fsync'd to local segment files while Postgres cannot take
//! them, and the drainer that moves them into Postgres later.
//!
//! One thread appends and fsyncs many bodies at once (one fsync per group of requests). Each line
//! of a segment is one body in base64, so any bytes frame safely; the first line, which base64
//! never looks like, names the database the events are for. Segments are named
//! `<seq>-<created ms>.spool`; the drainer seals the active segment, stores the sealed ones that
//! are for the current database, sets the others aside, and deletes a segment only once stored.

mod depth;
mod drainer;
mod header;
mod segment;
pub mod set_aside;
mod writer;

use std::{
    fs::{self, File},
    io,
    path::{Path, PathBuf},
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
};

use tokio::sync::{mpsc, oneshot};

pub use self::{
    depth::{SetAsideDepth, SpoolDepth},
    drainer::{Tally, mark_up_if_ready, run as drain_forever, store_segment},
    segment::{Contents, now_ms, parse_segment, read_segment},
};
use self::{
    header::Header,
    segment::segments,
    set_aside::SetAsideIndex,
    writer::{Request, SegmentWriter},
};
use crate::db::{Server, Target, Verdict};

#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    #[error("spool is full ({max_bytes} bytes)")]
    Full { max_bytes: u64 },
    #[error("spool write failed: {0}")]
    Io(#[from] io::Error),
    #[error("spool writer has stopped")]
    Stopped,
}

#[derive(Clone)]
pub struct Spool {
    tx: mpsc::Sender<Request>,
    dir: Arc<PathBuf>,
    pub depth: Arc<SpoolDepth>,
    /// The database new segments are for; the drainer adds the server's identity once connected.
    target: Arc<Mutex<Target>>,
    set_aside: Arc<Mutex<SetAsideIndex>>,
    /// Held for the spool's life: two processes draining one directory would race.
    _lock: Arc<File>,
}

/// A sealed segment, ready to drain.
struct Segment {
    path: PathBuf,
    seq: u64,
    bytes: u64,
}

impl Segment {
    /// Its file name, which dead letters cite as their source.
    fn name(&self) -> String {
        self.path
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned())
    }
}

impl Spool {
    /// Creates the directory if needed, sets aside what an earlier run left for another
    /// database, counts the rest, and starts the writer thread; new segments are for `target`.
    pub fn open(dir: &Path, max_bytes: u64, target: Target) -> io::Result<Self> {
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
            next_seq = next_seq.max(segment.seq + 1);
            if set_aside_if_configured_elsewhere(dir, &segment, &target) {
                continue;
            }
            // An unreadable leftover must not stop the service; the drainer sets it aside.
            let records = segment::count_records(&segment.path).unwrap_or_else(|e| {
                tracing::error!(path = %segment.path.display(), error = %e, "unreadable spool segment");
                0
            });
            depth.records.fetch_add(records, Ordering::Relaxed);
            depth.bytes.fetch_add(segment.bytes, Ordering::Relaxed);
        }
        let mut set_aside = SetAsideIndex::default();
        if let Err(e) = set_aside.refresh(dir, &depth.set_aside) {
            tracing::error!(error = %e, "cannot read the set-aside spool segments");
        }
        next_seq = next_seq.max(set_aside.highest_seq() + 1);
        segment::refresh_oldest(dir, &depth)?;
        let target = Arc::new(Mutex::new(target));
        let (tx, rx) = mpsc::channel(writer::GROUP * 4);
        let writer = SegmentWriter::new(
            dir.to_owned(),
            max_bytes,
            depth.clone(),
            next_seq,
            target.clone(),
        );
        std::thread::Builder::new()
            .name("spool-writer".into())
            .spawn(move || writer.run(rx))?;
        Ok(Self {
            tx,
            dir: Arc::new(dir.to_owned()),
            depth,
            target,
            set_aside: Arc::new(Mutex::new(set_aside)),
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

    /// Removes a drained segment (its events have committed) or one that cannot be read (renamed
    /// to `<name>.failed`, out of the spool's counts, for a human), then updates the depth.
    fn remove(&self, segment: &Segment, records: u64, unreadable: bool) -> io::Result<()> {
        if unreadable {
            fs::rename(&segment.path, segment.path.with_extension("failed"))?;
        } else {
            fs::remove_file(&segment.path)?;
        }
        saturating_sub(&self.depth.records, records);
        saturating_sub(&self.depth.bytes, segment.bytes);
        segment::refresh_oldest(&self.dir, &self.depth)
    }

    /// Moves a segment written for another database into `set-aside/`, intact, and counts it
    /// there instead.
    fn set_aside(&self, segment: &Segment, records: u64) -> io::Result<PathBuf> {
        let to = set_aside::move_in(&self.dir, &segment.path)?;
        saturating_sub(&self.depth.records, records);
        saturating_sub(&self.depth.bytes, segment.bytes);
        segment::refresh_oldest(&self.dir, &self.depth)?;
        self.refresh_set_aside()?;
        Ok(to)
    }

    /// Re-reads `set-aside/` if its listing changed (an operator drained some of it).
    fn refresh_set_aside(&self) -> io::Result<()> {
        let mut index = self.set_aside.lock().expect("set-aside lock");
        index.refresh(&self.dir, &self.depth.set_aside)
    }

    /// Records the server's identity of the database segments are for, so that segments opened
    /// from now on carry it; returns the whole current target.
    fn learn(&self, server: Server) -> Target {
        let mut target = self.target.lock().expect("target lock");
        if target.server.as_ref() != Some(&server) {
            if target.server.is_some() {
                tracing::warn!(
                    was = %target,
                    now_system = server.system_identifier.as_deref().unwrap_or("unknown"),
                    now_database_oid = server.database_oid,
                    "DATABASE_URL now reaches another database; segments spooled for the one before will be set aside"
                );
            }
            target.server = Some(server);
        }
        target.clone()
    }

    fn dir(&self) -> &Path {
        &self.dir
    }

    /// Whether any segment to drain, even an empty one, waits (set-aside ones do not count).
    pub fn is_empty(&self) -> bool {
        self.depth.records.load(Ordering::Relaxed) == 0
            && self.depth.oldest_ms.load(Ordering::Relaxed) == 0
    }
}

/// At startup, sets aside a segment whose header names another host, port or database and no
/// server identity: no answer from the server could make it this database's. One that recorded
/// the server's identity waits for the drainer, which compares it with the server's own.
fn set_aside_if_configured_elsewhere(dir: &Path, segment: &Segment, current: &Target) -> bool {
    let Ok(Header::For(target)) = header::read(&segment.path) else {
        return false;
    };
    if target.server.is_some() {
        return false;
    }
    let Verdict::Different(why) = target.verdict(current) else {
        return false;
    };
    match set_aside::move_in(dir, &segment.path) {
        Ok(to) => {
            set_aside::report(&to, &target, current, &why);
            true
        }
        Err(e) => {
            tracing::error!(path = %segment.path.display(), written_for = %target, error = %e, "cannot set aside a spool segment written for another database; it stays where it is, not drained");
            false
        }
    }
}

fn saturating_sub(counter: &AtomicU64, n: u64) {
    let _ = counter.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| {
        Some(v.saturating_sub(n))
    });
}
