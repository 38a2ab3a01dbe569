//! Spool segments read back after a crash: never a panic on arbitrary bytes; a segment of known
//! bodies cut anywhere gives back a prefix of them.
#![no_main]

use std::path::Path;

use base64::{Engine, engine::general_purpose::STANDARD};
use libfuzzer_sys::fuzz_target;
use lobbylog::sources::spool;

fuzz_target!(|data: &[u8]| {
    let name = Path::new("fuzz.spool");
    let _ = spool::parse_segment(data, name);

    // The input as bodies (split at 0xff), written as the writer does, then cut.
    let Some((&cut, rest)) = data.split_first() else {
        return;
    };
    let bodies: Vec<&[u8]> = rest.split(|b| *b == 0xff).collect();
    let mut segment = Vec::new();
    for body in &bodies {
        segment.extend_from_slice(STANDARD.encode(body).as_bytes());
        segment.push(b'\n');
    }
    let at = if segment.is_empty() {
        0
    } else {
        usize::from(cut) * segment.len() / 255
    };
    let read = spool::parse_segment(&segment[..at], name).expect("a cut segment reads");
    let got: Vec<&[u8]> = read.bodies.iter().map(|(_, b)| b.as_slice()).collect();
    assert!(got.len() <= bodies.len());
    assert_eq!(
        &got[..],
        &bodies[..got.len()],
        "not a prefix of what was written"
    );
    assert_eq!(read.records as usize, got.len());
});
