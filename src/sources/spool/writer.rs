//! The one thread that writes segments: groups of bodies appended under one fsync each.

use std::{
    fs::{self, File, OpenOptions},
    io::{self, Write},
    path::PathBuf,
    sync::{Arc, Mutex, atomic::Ordering},
};

use base64::{Engine, engine::general_purpose::STANDARD};
use tokio::sync::{mpsc, oneshot};

use super::{
    SpoolDepth, SpoolError, header,
    segment::{EXTENSION, now_ms},
};
use crate::db::Target;

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

/// Appends groups of bodies to the active segment, opening a new one when needed.
pub(super) struct SegmentWriter {
    dir: PathBuf,
    max_bytes: u64,
    depth: Arc<SpoolDepth>,
    next_seq: u64,
    /// The database new segments are for, read when one is opened.
    target: Arc<Mutex<Target>>,
    active: Option<Active>,
}

struct Active {
    file: File,
    path: PathBuf,
    /// When it was opened, as its name says.
    created: u64,
    written: u64,
    /// What its header says.
    target: Target,
}

impl SegmentWriter {
    pub(super) fn new(
        dir: PathBuf,
        max_bytes: u64,
        depth: Arc<SpoolDepth>,
        next_seq: u64,
        target: Arc<Mutex<Target>>,
    ) -> Self {
        Self {
            dir,
            max_bytes,
            depth,
            next_seq,
            target,
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
        let header = self.header_to_write();
        let size = (buffer.len() + header.as_ref().map_or(0, |(_, h)| h.len())) as u64;
        let result = if self.depth.total_bytes() + size > self.max_bytes {
            Err(SpoolError::Full {
                max_bytes: self.max_bytes,
            })
        } else {
            self.append(header, buffer.as_bytes())
                .map_err(SpoolError::from)
        };
        if result.is_ok() {
            self.depth
                .records
                .fetch_add(appends.len() as u64, Ordering::Relaxed);
            self.depth.bytes.fetch_add(size, Ordering::Relaxed);
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

    /// The header of the segment the next group opens, if it opens one. A segment holds the
    /// events of one target: once the target is known better, the next group starts a new one.
    fn header_to_write(&mut self) -> Option<(Target, Vec<u8>)> {
        let target = self.target.lock().expect("target lock").clone();
        if self.active.as_ref().is_some_and(|a| a.target == target) {
            return None;
        }
        self.active = None;
        let line = header::encode(&target);
        Some((target, line))
    }

    fn append(&mut self, header: Option<(Target, Vec<u8>)>, buffer: &[u8]) -> io::Result<()> {
        let mut head = Vec::new();
        if let Some((target, line)) = header {
            let (file, path, created) = self.open_segment()?;
            self.active = Some(Active {
                file,
                path,
                created,
                written: 0,
                target,
            });
            head = line;
        }
        let active = self.active.as_mut().expect("opened above");
        // The header goes under the same fsync as the first bodies, before any is acknowledged.
        let written = active
            .file
            .write_all(&head)
            .and_then(|()| active.file.write_all(buffer))
            .and_then(|()| active.file.sync_data());
        if let Err(e) = written {
            if active.written == 0 {
                // Nothing in it was acknowledged; kept, a full disk would gain a file per refusal.
                let _ = fs::remove_file(&active.path);
            } else {
                // Cut off what this failed group left: the segment holds only acknowledged lines.
                let _ = active
                    .file
                    .set_len(active.written)
                    .and_then(|()| active.file.sync_data());
            }
            return Err(e);
        }
        // Counted once it holds events, so a refused first write leaves the spool empty.
        if active.written == 0 {
            let _ = self.depth.oldest_ms.compare_exchange(
                0,
                active.created,
                Ordering::Relaxed,
                Ordering::Relaxed,
            );
        }
        active.written += (head.len() + buffer.len()) as u64;
        if active.written >= SEGMENT_BYTES {
            self.active = None;
        }
        Ok(())
    }

    fn open_segment(&mut self) -> io::Result<(File, PathBuf, u64)> {
        let created = now_ms();
        let path = self
            .dir
            .join(format!("{:012}-{created}.{EXTENSION}", self.next_seq));
        let file = OpenOptions::new()
            .create_new(true)
            .append(true)
            .open(&path)?;
        self.next_seq += 1;
        // The new file's name must survive a crash too.
        if let Err(e) = File::open(&self.dir).and_then(|dir| dir.sync_all()) {
            let _ = fs::remove_file(&path);
            return Err(e);
        }
        Ok((file, path, created))
    }
}
