//! The archive scanner on arbitrary bytes, plain, gzip and zstd: never a panic; the records it
//! yields appear in the decompressed input in order, each whole unless marked cut.
#![no_main]

use std::io::Write;

use libfuzzer_sys::fuzz_target;
use lobbylog::sources::archive;

/// Whether each record is found in `text`, in order, none overlapping the one before.
fn in_order(records: &[(u64, Vec<u8>, bool)], text: &[u8]) {
    let mut from = 0;
    let mut line = 0;
    for (number, bytes, cut) in records {
        assert!(*number >= line, "record lines go backwards");
        line = *number;
        if bytes.is_empty() {
            continue;
        }
        let found = text[from..]
            .windows(bytes.len())
            .position(|w| w == &bytes[..])
            .unwrap_or_else(|| panic!("record not in the input (cut: {cut})"));
        from += found + bytes.len();
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&how, text)) = data.split_first() else {
        return;
    };
    let framed = match how % 3 {
        0 => text.to_vec(),
        1 => {
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            gz.write_all(text).unwrap();
            gz.finish().unwrap()
        }
        _ => zstd::encode_all(text, 1).unwrap(),
    };
    let plain = archive::scan(text);
    let framed = archive::scan(&framed);
    // Input that looks compressed itself is read as such: its records are not its bytes.
    if text.starts_with(&[0x1f, 0x8b]) || text.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        return;
    }
    if let Ok(records) = &plain {
        in_order(records, text);
    }
    // Compression changes nothing of what is read.
    if how % 3 != 0 {
        match (&plain, &framed) {
            (Ok(a), Ok(b)) => assert_eq!(a, b, "compression changed the records"),
            (Err(_), Err(_)) => {}
            (a, b) => panic!("plain {:?} but compressed {:?}", a.is_ok(), b.is_ok()),
        }
    }
});
