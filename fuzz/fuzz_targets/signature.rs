//! Signature headers and verification: never a panic; a body signed with a secret verifies with
//! it, and fails once one byte of it changes or with any header taken from the input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lobbylog::signature::{self, WebhookSecret};

fuzz_target!(|data: &[u8]| {
    if data.len() < 3 {
        return;
    }
    let (split_a, split_b) = (usize::from(data[0]), usize::from(data[1]));
    let rest = &data[2..];
    let a = split_a.min(rest.len());
    let b = (a + split_b).min(rest.len());
    let (timestamp, signature_header, body) = (&rest[..a], &rest[a..b], &rest[b..]);
    let secret: WebhookSecret = "bG9iYnlsb2ctZnV6ei1zZWNyZXQ=".parse().unwrap();
    let secrets = [secret];

    // Headers from the input: whatever they hold, an answer and no panic.
    let forged = signature::verify(&secrets, Some(timestamp), Some(signature_header), body);

    let Ok(timestamp) = std::str::from_utf8(timestamp) else {
        return;
    };
    let signed = signature::sign(secrets[0].key(), timestamp, body);
    assert!(
        signature::verify(
            &secrets,
            Some(timestamp.as_bytes()),
            Some(signed.as_bytes()),
            body
        )
        .is_ok()
    );
    if forged.is_ok() {
        assert_eq!(
            signature_header,
            signed.as_bytes(),
            "a forged signature verified"
        );
    }
    if let Some(first) = body.first() {
        let mut changed = body.to_vec();
        changed[0] = first.wrapping_add(1);
        let verdict = signature::verify(
            &secrets,
            Some(timestamp.as_bytes()),
            Some(signed.as_bytes()),
            &changed,
        );
        assert!(verdict.is_err(), "a changed body verified");
    }
});
