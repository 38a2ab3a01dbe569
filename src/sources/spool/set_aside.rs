//! Segments written for another database: kept intact in `set-aside/`, and counted there.

use std::{
    collections::{BTreeMap, HashSet},
    fs::{self, File},
    io,
    path::{Path, PathBuf},
    sync::atomic::Ordering,
};

use super::{
    Segment,
    depth::SetAsideDepth,
    header::{self, Header},
    segment::{count_records, parse_name, segments},
};
use crate::db::Target;

const DIR: &str = "set-aside";

/// One set-aside segment.
#[derive(Debug, Clone)]
pub struct Entry {
    pub path: PathBuf,
    pub name: String,
    pub seq: u64,
    /// The database it was written for; `None` when its header records none or cannot be read.
    pub target: Option<Target>,
    pub events: u64,
    pub bytes: u64,
    /// When the segment was created, in ms since the epoch.
    pub created_ms: u64,
}

pub fn dir(spool_dir: &Path) -> PathBuf {
    spool_dir.join(DIR)
}

/// Every set-aside segment, oldest first; none while the directory does not exist.
pub fn scan(spool_dir: &Path) -> io::Result<Vec<Entry>> {
    let mut entries = Vec::new();
    for segment in listed(spool_dir)? {
        match read_entry(segment) {
            Ok(entry) => entries.push(entry),
            // Drained by another command meanwhile.
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    Ok(entries)
}

fn listed(spool_dir: &Path) -> io::Result<Vec<Segment>> {
    match segments(&dir(spool_dir)) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Vec::new()),
        listed => listed,
    }
}

fn read_entry(segment: Segment) -> io::Result<Entry> {
    let target = match header::read(&segment.path) {
        Ok(Header::For(target)) => Some(target),
        Ok(Header::Legacy) => None,
        Err(e) if e.kind() == io::ErrorKind::InvalidData => None,
        Err(e) => return Err(e),
    };
    let events = count_records(&segment.path)?;
    let name = segment
        .path
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    Ok(Entry {
        created_ms: parse_name(&segment.path).map_or(0, |(_, ms)| ms),
        name,
        seq: segment.seq,
        target,
        events,
        bytes: segment.bytes,
        path: segment.path,
    })
}

/// Moves a segment, intact and under its own name, into `set-aside/`.
pub(super) fn move_in(spool_dir: &Path, path: &Path) -> io::Result<PathBuf> {
    let dir = dir(spool_dir);
    fs::create_dir_all(&dir)?;
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::other("a segment path without a file name"))?;
    let to = dir.join(name);
    if to.exists() {
        return Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!("{} already exists", to.display()),
        ));
    }
    fs::rename(path, &to)?;
    File::open(&dir)?.sync_all()?;
    File::open(spool_dir)?.sync_all()?;
    Ok(to)
}

/// Held while `lobbylog spool drain` works, so two of them do not drain the same segments.
pub fn lock(spool_dir: &Path) -> io::Result<File> {
    let dir = dir(spool_dir);
    fs::create_dir_all(&dir)?;
    let lock = File::create(dir.join(".lock"))?;
    lock.try_lock().map_err(|_| {
        io::Error::other(format!(
            "another `lobbylog spool drain` is working on {}",
            dir.display()
        ))
    })?;
    Ok(lock)
}

/// Serve's view of `set-aside/`, re-read when its listing changes: `lobbylog spool drain` removes
/// segments from it while serve runs.
#[derive(Debug, Default)]
pub(super) struct SetAsideIndex {
    known: BTreeMap<PathBuf, Entry>,
}

impl SetAsideIndex {
    /// Lists the directory, reads segments not seen before, and updates `depth`; fails only when
    /// the directory cannot be listed.
    pub(super) fn refresh(&mut self, spool_dir: &Path, depth: &SetAsideDepth) -> io::Result<()> {
        let listed = listed(spool_dir)?;
        let paths: HashSet<&PathBuf> = listed.iter().map(|s| &s.path).collect();
        self.known.retain(|path, _| paths.contains(path));
        for segment in listed {
            if self.known.contains_key(&segment.path) {
                continue;
            }
            let (path, bytes) = (segment.path.clone(), segment.bytes);
            let entry = match read_entry(segment) {
                Ok(entry) => entry,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                // Counted by its size, so that it is not forgotten either; said once.
                Err(e) => {
                    tracing::error!(path = %path.display(), error = %e, "unreadable set-aside spool segment");
                    Entry {
                        name: String::new(),
                        seq: parse_name(&path).map_or(0, |(seq, _)| seq),
                        created_ms: parse_name(&path).map_or(0, |(_, ms)| ms),
                        target: None,
                        events: 0,
                        bytes,
                        path,
                    }
                }
            };
            self.known.insert(entry.path.clone(), entry);
        }
        let entries = self.known.values();
        depth
            .segments
            .store(self.known.len() as u64, Ordering::Relaxed);
        depth
            .records
            .store(entries.clone().map(|e| e.events).sum(), Ordering::Relaxed);
        depth
            .bytes
            .store(entries.clone().map(|e| e.bytes).sum(), Ordering::Relaxed);
        let oldest = entries.map(|e| e.created_ms).min().unwrap_or(0);
        depth.oldest_ms.store(oldest, Ordering::Relaxed);
        Ok(())
    }

    /// The highest sequence number set aside, so new segments never take a name already there.
    pub(super) fn highest_seq(&self) -> u64 {
        self.known.values().map(|e| e.seq).max().unwrap_or(0)
    }
}

/// The error line for a segment just set aside.
pub(super) fn report(path: &Path, written_for: &Target, current: &Target, why: &str) {
    tracing::error!(
        segment = %path.display(),
        written_for = %written_for,
        current = %current,
        why,
        "spool segment written for another database: set aside, not drained; \
         see `lobbylog spool list` and `lobbylog spool drain`"
    );
}
