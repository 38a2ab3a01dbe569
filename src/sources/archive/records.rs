//! Records inside one decompressed stream: NDJSON lines, JSON array elements, whole documents.

use std::io::{self, BufRead, BufReader, Cursor, Read};

pub use super::record_shape::{MAX_RECORD, Record, Records, Shape, detect};
use super::{json_values::Values, ndjson_lines::Lines};

/// Bytes of the first line read to tell the shape, at most.
const HEAD: u64 = 64 * 1024;

/// Opens the records of `reader` in the shape its first line shows. The first line is read
/// whole (up to `HEAD` bytes) before telling: a reader's first buffer may hold only a few bytes
/// (a decompressor's first block, the magic bytes read to tell the compression), and the shape
/// must not depend on that.
pub fn open<'r>(mut reader: Box<dyn BufRead + 'r>) -> io::Result<Box<dyn Records + 'r>> {
    let mut head = Vec::new();
    (&mut reader).take(HEAD).read_until(b'\n', &mut head)?;
    let shape = detect(&head);
    let reader = BufReader::new(Cursor::new(head).chain(reader));
    Ok(match shape {
        Shape::Lines => Box::new(Lines::new(reader)),
        Shape::Values => Box::new(Values::new(reader)),
    })
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

    /// Found by the `archive` fuzz target: through `decompress`, a plain file's first buffer
    /// held only the 4 bytes read to look for magic, so an object left open on a long first
    /// line was read as lines when plain and as JSON values when compressed.
    #[test]
    fn the_shape_does_not_depend_on_how_the_first_bytes_arrive() {
        let text = b"{\"id\": \"a\", \"payload\": {\n  \"room\": \"x\"}}\n{\"id\": \"b\"}\n";
        let one_byte_first = io::Cursor::new(&text[..1]).chain(&text[1..]);
        let mut records = open(Box::new(io::BufReader::new(one_byte_first))).unwrap();
        let mut ids = Vec::new();
        while let Some(r) = records.next_record().unwrap() {
            ids.push((r.line, String::from_utf8_lossy(r.bytes).into_owned()));
        }
        assert_eq!(
            ids,
            owned(&[
                (1, "{\"id\": \"a\", \"payload\": {\n  \"room\": \"x\"}}"),
                (3, "{\"id\": \"b\"}")
            ])
        );
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
