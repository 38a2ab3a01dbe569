//! The durable spool: request bodies fsync'd to local segment files while Postgres cannot take them.
//!
//! One writer thread appends and fsyncs many bodies at once (one fsync per group of requests).
//! Each line of a segment is one body in base64, so any bytes frame safely. Segments are named
//! `<seq>-<created ms>.spool`; the drainer seals the active segment, stores the sealed ones and
//! only then deletes them.

use std::{
    fs::{self, File, OpenOptions},
    io::{self, Write},
    path::{Path, PathBuf},
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{SystemTime, UNIX_EPOCH},
};

use base64::{Engine, engine::general_purpose::STANDARD};
use tokio::sync::{mpsc, oneshot};

const EXTENSION: &str = "spool";
/// Appends gathered under one fsync, at most.
const GROUP: usize = 1024;
/// A segment is closed once it reaches this size, so draining reads bounded files.
const SEGMENT_BYTES: u64 = 32 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    #[error("spool is full ({max_bytes} bytes)")]
    Full { max_bytes: u64 },
    #[error("spool write failed: {0}")]
    Io(#[from] io::Error),
    #[error("spool writer has stopped")]
    Stopped,
}

type AppendReply = oneshot::Sender<Result<(), SpoolError>>;

enum Request {
    Append(Vec<u8>, AppendReply),
    /// Close the active segment; answers the highest sequence number that is now sealed.
    Seal(oneshot::Sender<u64>),
}

/// What the spool holds now, for metrics and readiness.
#[derive(Debug, Default)]
pub struct Depth {
    pub records: AtomicU64,
    pub bytes: AtomicU64,
    /// Creation time (ms since epoch) of the oldest segment, 0 when empty.
    pub oldest_ms: AtomicU64,
}

#[derive(Clone)]
pub struct Spool {
    tx: mpsc::Sender<Request>,
    dir: Arc<PathBuf>,
    pub depth: Arc<Depth>,
    /// Held for the spool's life: two processes draining one directory would race.
    _lock: Arc<File>,
}

/// A sealed segment, ready to drain.
pub struct Segment {
    pub path: PathBuf,
    pub seq: u64,
    pub bytes: u64,
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
        let depth = Arc::new(Depth::default());
        let mut next_seq = 1;
        for segment in segments(dir)? {
            // An unreadable leftover must not stop the service; the drainer sets it aside.
            let records = count_records(&segment.path).unwrap_or_else(|e| {
                tracing::error!(path = %segment.path.display(), error = %e, "unreadable spool segment");
                0
            });
            depth.records.fetch_add(records, Ordering::Relaxed);
            depth.bytes.fetch_add(segment.bytes, Ordering::Relaxed);
            next_seq = next_seq.max(segment.seq + 1);
        }
        refresh_oldest(dir, &depth)?;
        let (tx, rx) = mpsc::channel(GROUP * 4);
        let writer = Writer {
            dir: dir.to_owned(),
            max_bytes,
            depth: depth.clone(),
            next_seq,
            active: None,
        };
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
    pub async fn sealed(&self) -> Result<Vec<Segment>, SpoolError> {
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
    pub fn remove(&self, segment: &Segment, records: u64, set_aside: bool) -> io::Result<()> {
        if set_aside {
            fs::rename(&segment.path, segment.path.with_extension("failed"))?;
        } else {
            fs::remove_file(&segment.path)?;
        }
        saturating_sub(&self.depth.records, records);
        saturating_sub(&self.depth.bytes, segment.bytes);
        refresh_oldest(&self.dir, &self.depth)
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

/// The bodies of a segment and its count of complete lines; a last line without its newline was
/// cut by a crash and never acknowledged.
pub fn read_segment(path: &Path) -> io::Result<(Vec<Vec<u8>>, u64)> {
    let text = fs::read(path)?;
    let complete = match text.iter().rposition(|b| *b == b'\n') {
        Some(end) => &text[..end],
        None => return Ok((Vec::new(), 0)),
    };
    let lines = complete.iter().filter(|b| **b == b'\n').count() as u64 + 1;
    let bodies = complete
        .split(|b| *b == b'\n')
        .filter_map(|line| match STANDARD.decode(line) {
            Ok(body) => Some(body),
            Err(e) => {
                tracing::error!(path = %path.display(), error = %e, "unreadable spool line skipped");
                None
            }
        })
        .collect();
    Ok((bodies, lines))
}

fn count_records(path: &Path) -> io::Result<u64> {
    Ok(fs::read(path)?.iter().filter(|b| **b == b'\n').count() as u64)
}

fn segments(dir: &Path) -> io::Result<Vec<Segment>> {
    let mut list = Vec::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        if path.extension().and_then(|e| e.to_str()) != Some(EXTENSION) {
            continue;
        }
        let Some((seq, _)) = parse_name(&path) else {
            continue;
        };
        list.push(Segment {
            seq,
            bytes: entry.metadata()?.len(),
            path,
        });
    }
    list.sort_by_key(|s| s.seq);
    Ok(list)
}

fn parse_name(path: &Path) -> Option<(u64, u64)> {
    let stem = path.file_stem()?.to_str()?;
    let (seq, created) = stem.split_once('-')?;
    Some((seq.parse().ok()?, created.parse().ok()?))
}

fn refresh_oldest(dir: &Path, depth: &Depth) -> io::Result<()> {
    let oldest = segments(dir)?
        .first()
        .and_then(|s| parse_name(&s.path))
        .map_or(0, |(_, ms)| ms);
    depth.oldest_ms.store(oldest, Ordering::Relaxed);
    Ok(())
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

struct Writer {
    dir: PathBuf,
    max_bytes: u64,
    depth: Arc<Depth>,
    next_seq: u64,
    active: Option<(File, u64)>,
}

impl Writer {
    fn run(mut self, mut rx: mpsc::Receiver<Request>) {
        while let Some(first) = rx.blocking_recv() {
            let mut appends = Vec::new();
            let mut request = Some(first);
            while let Some(r) = request.take() {
                match r {
                    Request::Append(body, reply) => appends.push((body, reply)),
                    Request::Seal(reply) => {
                        self.write(std::mem::take(&mut appends));
                        self.active = None;
                        let _ = reply.send(self.next_seq - 1);
                    }
                }
                if appends.len() < GROUP {
                    request = rx.try_recv().ok();
                }
            }
            self.write(appends);
        }
    }

    /// Writes a group of bodies and fsyncs once; every caller hears the same result.
    fn write(&mut self, appends: Vec<(Vec<u8>, AppendReply)>) {
        if appends.is_empty() {
            return;
        }
        let mut buffer = String::new();
        for (body, _) in &appends {
            STANDARD.encode_string(body, &mut buffer);
            buffer.push('\n');
        }
        let used = self.depth.bytes.load(Ordering::Relaxed);
        let result = if used + buffer.len() as u64 > self.max_bytes {
            Err(SpoolError::Full {
                max_bytes: self.max_bytes,
            })
        } else {
            self.append(buffer.as_bytes()).map_err(SpoolError::from)
        };
        if result.is_ok() {
            self.depth
                .records
                .fetch_add(appends.len() as u64, Ordering::Relaxed);
            self.depth
                .bytes
                .fetch_add(buffer.len() as u64, Ordering::Relaxed);
        } else {
            // Whatever half-written line is left is never acknowledged; start a fresh segment.
            self.active = None;
        }
        for (_, reply) in appends {
            let _ = reply.send(match &result {
                Ok(()) => Ok(()),
                Err(SpoolError::Full { max_bytes }) => Err(SpoolError::Full {
                    max_bytes: *max_bytes,
                }),
                Err(e) => Err(SpoolError::Io(io::Error::other(e.to_string()))),
            });
        }
    }

    fn append(&mut self, buffer: &[u8]) -> io::Result<()> {
        if self.active.is_none() {
            let created = now_ms();
            let path = self
                .dir
                .join(format!("{:012}-{created}.{EXTENSION}", self.next_seq));
            let file = OpenOptions::new()
                .create_new(true)
                .append(true)
                .open(&path)?;
            // The new file's name must survive a crash too.
            File::open(&self.dir)?.sync_all()?;
            self.active = Some((file, 0));
            self.next_seq += 1;
            if self.depth.oldest_ms.load(Ordering::Relaxed) == 0 {
                self.depth.oldest_ms.store(created, Ordering::Relaxed);
            }
        }
        let (file, written) = self.active.as_mut().expect("opened above");
        if let Err(e) = file.write_all(buffer).and_then(|()| file.sync_data()) {
            // Cut off what this failed group left, so the segment holds only acknowledged lines.
            let _ = file.set_len(*written).and_then(|()| file.sync_data());
            return Err(e);
        }
        *written += buffer.len() as u64;
        if *written >= SEGMENT_BYTES {
            self.active = None;
        }
        Ok(())
    }
}
