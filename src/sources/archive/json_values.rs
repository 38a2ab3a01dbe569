//! JSON values one after another in a stream, found by bracket depth without parsing them.

use std::io::{self, BufRead};

use super::record_shape::{BOM, JsonDepth, MAX_RECORD, Record, Records};

/// JSON values one after another; an array at the top level is opened and its elements are the
/// records. A value that is not valid JSON still ends where its brackets balance, so one bad
/// record does not swallow the next.
pub struct Values<R> {
    reader: R,
    scan: Scan,
    at_start: bool,
}

/// The scanner's state, apart from the reader so a buffered chunk can be scanned in place.
#[derive(Default)]
struct Scan {
    current: Vec<u8>,
    too_large: bool,
    depth: JsonDepth,
    /// JsonDepth of the array opened at the top level (0 or 1).
    level: usize,
    /// The record in progress started with `{` or `[` (else it is a bare scalar).
    container: bool,
    started: bool,
    line: u64,
    start_line: u64,
    /// Bytes since the last newline, and whether they were all whitespace.
    column: usize,
    line_blank: bool,
    /// The column the record in progress started at.
    start_column: usize,
}

/// What one byte did to the record in progress.
enum Step {
    Continue,
    /// The record ended with this byte (included).
    EndWith,
    /// The record ended before this byte, which is to be read again.
    EndBefore,
}

impl<R: BufRead> Values<R> {
    pub fn new(reader: R) -> Self {
        Self {
            reader,
            scan: Scan {
                line: 1,
                line_blank: true,
                ..Scan::default()
            },
            at_start: true,
        }
    }

    /// Skips a byte-order mark at the very start of the stream.
    fn skip_bom(&mut self) -> io::Result<()> {
        self.at_start = false;
        if self.reader.fill_buf()?.starts_with(BOM) {
            self.reader.consume(BOM.len());
        }
        Ok(())
    }
}

impl Scan {
    /// Handles a byte between records; true if it starts one.
    fn between(&mut self, byte: u8) -> bool {
        match byte {
            b'\n' => self.line += 1,
            b'[' if self.level == 0 => {
                self.level = 1;
                self.depth.depth = 1;
            }
            b']' if self.level == 1 => {
                self.level = 0;
                self.depth.depth = 0;
            }
            b',' if self.level == 1 => {}
            b if b.is_ascii_whitespace() => {}
            _ => {
                self.start_line = self.line;
                self.start_column = self.column;
                self.container = matches!(byte, b'{' | b'[');
                return true;
            }
        }
        false
    }

    /// Feeds one byte of the stream.
    fn step(&mut self, byte: u8) -> Step {
        let step = self.consume(byte);
        if !matches!(step, Step::EndBefore) {
            if byte == b'\n' {
                (self.column, self.line_blank) = (0, true);
            } else {
                self.column += 1;
                self.line_blank &= byte.is_ascii_whitespace();
            }
        }
        step
    }

    /// Whether `byte`, first on its line at or left of where the unfinished record began, opens
    /// the next record: pretty-printers indent what is inside a value, so the record in progress
    /// was cut short, and only it is lost.
    fn resynchronises(&self, byte: u8) -> bool {
        self.container
            && self.line_blank
            && matches!(byte, b'{' | b'[')
            && self.column <= self.start_column
            && !self.current.is_empty()
            && self.depth.depth > self.level
    }

    fn consume(&mut self, byte: u8) -> Step {
        if !self.started {
            self.started = self.between(byte);
            if !self.started {
                return Step::Continue;
            }
        }
        let in_string = self.depth.in_string;
        if !self.container && !in_string && !self.current.is_empty() && is_scalar_end(byte) {
            return Step::EndBefore;
        }
        if !in_string && self.resynchronises(byte) {
            self.depth = JsonDepth::default();
            self.depth.depth = self.level;
            return Step::EndBefore;
        }
        if byte == b'\n' {
            self.line += 1;
        }
        self.push(byte);
        let depth = self.depth.feed(byte);
        let closed = !in_string && matches!(byte, b'}' | b']');
        if closed && (!self.container || depth <= self.level) {
            self.depth.depth = self.level;
            return Step::EndWith;
        }
        Step::Continue
    }

    fn push(&mut self, byte: u8) {
        if self.current.len() < MAX_RECORD {
            self.current.push(byte);
        } else {
            self.too_large = true;
        }
    }

    fn reset(&mut self) {
        self.current.clear();
        self.too_large = false;
        self.started = false;
    }

    fn record(&self) -> Record<'_> {
        Record {
            line: self.start_line,
            bytes: &self.current,
            too_large: self.too_large,
        }
    }
}

fn is_scalar_end(byte: u8) -> bool {
    byte.is_ascii_whitespace() || matches!(byte, b',' | b'[' | b']' | b'{' | b'}')
}

impl<R: BufRead> Records for Values<R> {
    fn next_record(&mut self) -> io::Result<Option<Record<'_>>> {
        if self.at_start {
            self.skip_bom()?;
        }
        self.scan.reset();
        loop {
            let chunk = self.reader.fill_buf()?;
            if chunk.is_empty() {
                return Ok(self.scan.started.then(|| self.scan.record()));
            }
            let mut end = None;
            for (i, &byte) in chunk.iter().enumerate() {
                match self.scan.step(byte) {
                    Step::Continue => continue,
                    Step::EndWith => end = Some(i + 1),
                    Step::EndBefore => end = Some(i),
                }
                break;
            }
            let consumed = end.unwrap_or(chunk.len());
            self.reader.consume(consumed);
            if end.is_some() {
                return Ok(Some(self.scan.record()));
            }
        }
    }
}
