//! Records inside one decompressed stream: NDJSON lines, JSON array elements, whole documents.

use std::io::{self, BufRead, Read};

use super::values;

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

/// Opens the records of `reader` in the shape its first bytes show.
pub fn open<'r>(mut reader: Box<dyn BufRead + 'r>) -> io::Result<Box<dyn Records + 'r>> {
    let shape = detect(reader.fill_buf()?);
    Ok(match shape {
        Shape::Lines => Box::new(Lines::new(reader)),
        Shape::Values => Box::new(values::Values::new(reader)),
    })
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

#[cfg(test)]
mod tests {
    use super::*;

    fn records(text: &[u8]) -> Vec<(u64, String)> {
        let mut records = open(Box::new(io::BufReader::with_capacity(7, text))).unwrap();
        let mut out = Vec::new();
        while let Some(r) = records.next_record().unwrap() {
            out.push((r.line, String::from_utf8_lossy(r.bytes).into_owned()));
        }
        out
    }

    fn owned(expected: &[(u64, &str)]) -> Vec<(u64, String)> {
        expected.iter().map(|(l, s)| (*l, s.to_string())).collect()
    }

    #[test]
    fn the_shape_is_told_from_the_first_bytes() {
        let cases: &[(&[u8], Shape)] = &[
            (b"{\"id\":\"a\"}\n{\"id\":\"b\"}\n", Shape::Lines),
            (b"  [\n{\"id\":\"a\"}]", Shape::Values),
            (b"{\n  \"id\": \"a\"\n}\n", Shape::Values),
            (b"{\"id\": \"{\\\"\", \"x\": {\n", Shape::Values),
            (b"\xef\xbb\xbf{\"a\":\"}\"}\n", Shape::Lines),
            (b"not json\n{", Shape::Lines),
            (b"", Shape::Lines),
            (b"{\"truncated", Shape::Lines),
        ];
        for (head, shape) in cases {
            assert_eq!(detect(head), *shape, "{}", String::from_utf8_lossy(head));
        }
    }

    #[test]
    fn lines_skip_blanks_and_keep_their_numbers() {
        let got = records(b"\xef\xbb\xbf{\"a\":1}\r\n\n  \nnot json\n{\"b\":2}");
        let expected = [(1, "{\"a\":1}"), (4, "not json"), (5, "{\"b\":2}")];
        assert_eq!(got, owned(&expected));
    }

    #[test]
    fn array_elements_are_records_even_when_one_is_broken() {
        let text = b"[\n {\"a\": \"x]}\"},\n {\"b\": [1, 2}},\n 17,\n {\"c\": {\"d\": 3}}\n]\n";
        let expected = [
            (2, "{\"a\": \"x]}\"}"),
            (3, "{\"b\": [1, 2}}"),
            (4, "17"),
            (5, "{\"c\": {\"d\": 3}}"),
        ];
        assert_eq!(records(text), owned(&expected));
    }

    #[test]
    fn pretty_documents_one_after_another_are_records() {
        let text = b"{\n  \"a\": 1\n}\n{\n  \"b\": {\"c\": 2}\n}\n";
        let expected = [(1, "{\n  \"a\": 1\n}"), (4, "{\n  \"b\": {\"c\": 2}\n}")];
        assert_eq!(records(text), owned(&expected));
    }

    #[test]
    fn a_value_cut_short_by_the_end_of_the_stream_is_still_a_record() {
        let expected = [(1, "{\"a\": 1}"), (1, "{\"b\": ")];
        assert_eq!(records(b"[{\"a\": 1}, {\"b\": "), owned(&expected));
    }

    #[test]
    fn stray_bytes_between_values_are_records_of_their_own() {
        let expected = [(1, "{\"a\": 1}"), (1, "}"), (2, "oops"), (2, "{}")];
        assert_eq!(records(b"[{\"a\": 1}}\n oops {}]"), owned(&expected));
    }

    #[test]
    fn an_overlong_line_is_cut_and_flagged_and_the_next_line_is_read() {
        let mut text = vec![b'x'; MAX_RECORD + 10];
        text.extend_from_slice(b"\n{\"a\":1}\n");
        let mut lines = Lines::new(io::BufReader::new(text.as_slice()));
        let first = lines.next_record().unwrap().unwrap();
        assert!(first.too_large && first.bytes.len() == MAX_RECORD);
        let second = lines.next_record().unwrap().unwrap();
        assert_eq!((second.line, second.bytes), (2, &b"{\"a\":1}"[..]));
    }

    #[test]
    fn a_pretty_record_cut_short_loses_only_itself() {
        let pretty = |id: &str| {
            format!("{{\n  \"id\": \"{id}\",\n  \"payload\": {{\n    \"room\": \"r\"\n  }}\n}}\n")
        };
        let cut_in_string = "{\n  \"id\": \"c\",\n  \"payload\": {\n    \"room\": \"ab\n";
        let cut_in_number = "{\n  \"id\": \"d\",\n  \"n\": 12\n";
        let text = [
            pretty("a"),
            pretty("b"),
            cut_in_string.into(),
            pretty("e"),
            cut_in_number.into(),
            pretty("f"),
        ]
        .concat();
        let got = records(text.as_bytes());
        let ids: Vec<String> = got
            .iter()
            .map(
                |(_, r)| match serde_json::from_str::<serde_json::Value>(r) {
                    Ok(v) => v["id"].as_str().unwrap().to_owned(),
                    Err(_) => "broken".to_owned(),
                },
            )
            .collect();
        assert_eq!(ids, ["a", "b", "broken", "e", "broken", "f"], "{got:?}");
        assert_eq!(got[3].0, 17, "line of the record after the cut one");
    }

    #[test]
    fn nested_values_on_lines_of_their_own_do_not_split_a_record() {
        let text = b"[\n  {\n    \"a\": [\n      {\"b\": 1},\n      {\"c\": 2}\n    ]\n  },\n  {\"d\": 3}\n]\n";
        let got = records(text);
        assert_eq!(got.len(), 2, "{got:?}");
        assert!(got[0].1.ends_with("]\n  }"), "{got:?}");
    }
}
