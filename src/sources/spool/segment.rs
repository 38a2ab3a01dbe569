//! Segment files: their names, listing them and reading them back.

use std::{
    fs, io,
    path::Path,
    sync::atomic::Ordering,
    time::{SystemTime, UNIX_EPOCH},
};

use base64::{Engine, engine::general_purpose::STANDARD};

use super::{
    Segment, SpoolDepth,
    header::{self, Header},
};

pub(super) const EXTENSION: &str = "spool";

/// What a segment holds. A last line without its newline was cut by a crash and never
/// acknowledged, so it is not part of it.
#[derive(Debug)]
pub struct Contents {
    pub header: Header,
    /// Each readable body with its line number in the file.
    pub bodies: Vec<(u64, Vec<u8>)>,
    /// Complete body lines, readable or not: what the spool's depth counted.
    pub records: u64,
}

pub fn read_segment(path: &Path) -> io::Result<Contents> {
    parse_segment(&fs::read(path)?, path)
}

/// A segment's bytes read back; `path` only names it in logs.
pub fn parse_segment(text: &[u8], path: &Path) -> io::Result<Contents> {
    let mut contents = Contents {
        header: Header::Legacy,
        bodies: Vec::new(),
        records: 0,
    };
    let Some(end) = text.iter().rposition(|b| *b == b'\n') else {
        return Ok(contents);
    };
    for (line, number) in text[..end].split(|b| *b == b'\n').zip(1u64..) {
        if number == 1 && header::is_header(line) {
            contents.header = header::parse(line)?;
            continue;
        }
        contents.records += 1;
        match STANDARD.decode(line) {
            Ok(body) => contents.bodies.push((number, body)),
            Err(e) => {
                tracing::error!(path = %path.display(), line = number, error = %e, "unreadable spool line skipped")
            }
        }
    }
    Ok(contents)
}

/// Complete body lines of a segment (its header line is not one).
pub(super) fn count_records(path: &Path) -> io::Result<u64> {
    let text = fs::read(path)?;
    let lines = text.iter().filter(|b| **b == b'\n').count() as u64;
    Ok(match header::is_header(&text) {
        true => lines.saturating_sub(1),
        false => lines,
    })
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

/// Sequence number and creation time (ms since epoch) from `<seq>-<created ms>.spool`.
pub(super) fn parse_name(path: &Path) -> Option<(u64, u64)> {
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

pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}
