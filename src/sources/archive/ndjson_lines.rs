//! NDJSON: one record per non-blank line, however long, read with a bounded buffer.

use std::io::{self, BufRead, Read};

use super::record_shape::{BOM, MAX_RECORD, Record, Records};

/// NDJSON: one record per non-blank line, each line read with a bounded buffer.
pub struct Lines<R> {
    reader: R,
    buf: Vec<u8>,
    line: u64,
}

impl<R: BufRead> Lines<R> {
    pub fn new(reader: R) -> Self {
        Self {
            reader,
            buf: Vec::new(),
            line: 0,
        }
    }

    /// Reads the next physical line into `buf`, at most `MAX_RECORD + 1` bytes of it.
    fn read_line(&mut self) -> io::Result<bool> {
        self.buf.clear();
        let limit = MAX_RECORD as u64 + 1;
        let n = (&mut self.reader)
            .take(limit)
            .read_until(b'\n', &mut self.buf)?;
        if n == 0 {
            return Ok(false);
        }
        self.line += 1;
        Ok(true)
    }

    /// Discards the rest of a line too long to keep.
    fn skip_rest_of_line(&mut self) -> io::Result<()> {
        let mut sink = Vec::new();
        loop {
            sink.clear();
            let n = (&mut self.reader)
                .take(64 * 1024)
                .read_until(b'\n', &mut sink)?;
            if n == 0 || sink.ends_with(b"\n") {
                return Ok(());
            }
        }
    }
}

impl<R: BufRead> Records for Lines<R> {
    fn next_record(&mut self) -> io::Result<Option<Record<'_>>> {
        loop {
            if !self.read_line()? {
                return Ok(None);
            }
            let too_large = self.buf.len() > MAX_RECORD;
            if too_large {
                self.buf.truncate(MAX_RECORD);
                self.skip_rest_of_line()?;
            }
            let bom = if self.line == 1 && self.buf.starts_with(BOM) {
                BOM.len()
            } else {
                0
            };
            let text = &self.buf[bom..];
            let Some(start) = text.iter().position(|b| !b.is_ascii_whitespace()) else {
                continue;
            };
            let end = text
                .iter()
                .rposition(|b| !b.is_ascii_whitespace())
                .unwrap_or(start)
                + 1;
            return Ok(Some(Record {
                line: self.line,
                bytes: &self.buf[bom + start..bom + end],
                too_large,
            }));
        }
    }
}
