//! A segment's first line: the database its events are for.

use std::{
    fs::File,
    io::{self, BufRead, BufReader, Read},
    path::Path,
};

use crate::db::Target;

/// Starts every header. `#` is not in the base64 alphabet, so no body line starts like this.
const PREFIX: &[u8] = b"#lobbylog-spool 1 ";
/// Longer than any header this version writes; a first line past it is not a header.
const MAX_LINE: u64 = 64 * 1024;

/// What a segment says about the database its events are for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Header {
    /// Written for this target.
    For(Target),
    /// No header: written by a version that recorded no target.
    Legacy,
}

/// The header line for a segment of `target`, newline included.
pub(super) fn encode(target: &Target) -> Vec<u8> {
    let mut line = PREFIX.to_vec();
    serde_json::to_writer(&mut line, target).expect("a target always serializes");
    line.push(b'\n');
    line
}

/// Whether a first line is a header (and so not a body).
pub(super) fn is_header(line: &[u8]) -> bool {
    line.first() == Some(&b'#')
}

/// Parses a segment's first complete line (without its newline).
pub(super) fn parse(line: &[u8]) -> io::Result<Header> {
    if !is_header(line) {
        return Ok(Header::Legacy);
    }
    let json = line.strip_prefix(PREFIX).ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            "segment header of an unknown format",
        )
    })?;
    serde_json::from_slice(json).map(Header::For).map_err(|e| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("bad segment header: {e}"),
        )
    })
}

/// Reads only the header of the segment at `path`. A header cut by a crash (no newline) means
/// the segment holds nothing acknowledged: it reads as `Legacy`, with no bodies to drain.
pub(super) fn read(path: &Path) -> io::Result<Header> {
    let mut reader = BufReader::new(File::open(path)?).take(MAX_LINE);
    let mut line = Vec::new();
    reader.read_until(b'\n', &mut line)?;
    match line.strip_suffix(b"\n") {
        Some(line) => parse(line),
        None if is_header(&line) && line.len() as u64 >= MAX_LINE => Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "segment header too long",
        )),
        // A cut header, or a first body longer than MAX_LINE: nothing says where it belongs.
        None => Ok(Header::Legacy),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_header_reads_back_as_its_target_and_never_looks_like_base64() {
        let target = Target::configured(&"postgres://u:secret@db:5433/staging".parse().unwrap());
        let line = encode(&target);
        assert!(!String::from_utf8_lossy(&line).contains("secret"));
        assert!(is_header(&line));
        assert_eq!(parse(&line[..line.len() - 1]).unwrap(), Header::For(target));
        assert_eq!(parse(b"eyJpZCI6MX0=").unwrap(), Header::Legacy);
        assert!(parse(b"#something else").is_err());
    }
}
