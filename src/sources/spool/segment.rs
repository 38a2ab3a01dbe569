//! Segment files: the thread that appends and fsyncs them, and reading them back.

use std::{
    fs::{self, File, OpenOptions},
    io::{self, Write},
    path::{Path, PathBuf},
    sync::{Arc, atomic::Ordering},
    time::{SystemTime, UNIX_EPOCH},
};

use base64::{Engine, engine::general_purpose::STANDARD};
use tokio::sync::{mpsc, oneshot};

use super::{Segment, SpoolDepth, SpoolError};

const EXTENSION: &str = "spool";
/// Appends gathered under one fsync, at most.
pub(super) const GROUP: usize = 1024;
/// A segment is closed once it reaches this size, so draining reads bounded files.
const SEGMENT_BYTES: u64 = 32 * 1024 * 1024;

type AppendReply = oneshot::Sender<Result<(), SpoolError>>;

pub(super) enum Request {
    Append(Vec<u8>, AppendReply),
    /// Close the active segment; answers the highest sequence number that is now sealed.
    Seal(oneshot::Sender<u64>),
}

/// The bodies of a segment and its count of complete lines; a last line without its newline was
/// cut by a crash and never acknowledged.
pub(super) fn read_segment(path: &Path) -> io::Result<(Vec<Vec<u8>>, u64)> {
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

pub(super) fn count_records(path: &Path) -> io::Result<u64> {
    Ok(fs::read(path)?.iter().filter(|b| **b == b'\n').count() as u64)
}

pub(super) fn segments(dir: &Path) -> io::Result<Vec<Segment>> {
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

pub(super) fn refresh_oldest(dir: &Path, depth: &SpoolDepth) -> io::Result<()> {
    let oldest = segments(dir)?
        .first()
        .and_then(|s| parse_name(&s.path))
        .map_or(0, |(_, ms)| ms);
    depth.oldest_ms.store(oldest, Ordering::Relaxed);
    Ok(())
}

pub(super) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// The one thread that writes segments: appends groups of bodies under one fsync each.
pub(super) struct SegmentWriter {
    dir: PathBuf,
    max_bytes: u64,
    depth: Arc<SpoolDepth>,
    next_seq: u64,
    active: Option<(File, u64)>,
}

impl SegmentWriter {
    pub(super) fn new(dir: PathBuf, max_bytes: u64, depth: Arc<SpoolDepth>, next_seq: u64) -> Self {
        Self {
            dir,
            max_bytes,
            depth,
            next_seq,
            active: None,
        }
    }

    pub(super) fn run(mut self, mut rx: mpsc::Receiver<Request>) {
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
