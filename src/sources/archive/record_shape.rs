//! What a record is, and how a stream's shape (lines or JSON values) is told from its first bytes.

use std::io;

/// The largest record kept whole; a larger one is rejected with its first bytes.
pub const MAX_RECORD: usize = 4 * 1024 * 1024;

pub(super) const BOM: &[u8] = b"\xef\xbb\xbf";

/// How a stream holds its envelopes, told from its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// One envelope per line (NDJSON); blank lines are ignored.
    Lines,
    /// JSON values one after another, each possibly spanning lines: a JSON array of envelopes,
    /// one pretty-printed envelope, or several of them concatenated (`jq .` output).
    Values,
}

/// One record and the line it starts on.
#[derive(Debug)]
pub struct Record<'a> {
    pub line: u64,
    pub bytes: &'a [u8],
    /// Longer than [`MAX_RECORD`]: `bytes` holds only its beginning.
    pub too_large: bool,
}

/// Streams the records of one input.
pub trait Records {
    /// The next record, or `None` at the end of the stream.
    fn next_record(&mut self) -> io::Result<Option<Record<'_>>>;
}

/// Tells the shape from the first buffered bytes: an array, or an object left open at the end
/// of its first line, is read as JSON values; anything else line by line.
pub fn detect(head: &[u8]) -> Shape {
    let head = head.strip_prefix(BOM).unwrap_or(head);
    let Some(start) = head.iter().position(|b| !b.is_ascii_whitespace()) else {
        return Shape::Lines;
    };
    match head[start] {
        b'[' => Shape::Values,
        b'{' => {
            let mut depth = JsonDepth::default();
            for &byte in &head[start..] {
                if byte == b'\n' {
                    return Shape::Values;
                }
                if depth.feed(byte) == 0 {
                    return Shape::Lines;
                }
            }
            Shape::Lines
        }
        _ => Shape::Lines,
    }
}

/// Nesting depth of JSON text seen byte by byte, aware of strings and escapes.
#[derive(Debug, Default)]
pub(super) struct JsonDepth {
    pub(super) depth: usize,
    pub(super) in_string: bool,
    escaped: bool,
}

impl JsonDepth {
    /// Takes one byte and returns the depth after it (a string counts as one level).
    pub(super) fn feed(&mut self, byte: u8) -> usize {
        if self.in_string {
            match (self.escaped, byte) {
                // A raw newline cannot be inside a JSON string: the string was cut short.
                (_, b'\n') => (self.in_string, self.escaped) = (false, false),
                (true, _) => self.escaped = false,
                (false, b'\\') => self.escaped = true,
                (false, b'"') => self.in_string = false,
                _ => {}
            }
            return self.depth + usize::from(self.in_string);
        }
        match byte {
            b'"' => self.in_string = true,
            b'{' | b'[' => self.depth += 1,
            b'}' | b']' => self.depth = self.depth.saturating_sub(1),
            _ => {}
        }
        self.depth + usize::from(self.in_string)
    }
}
