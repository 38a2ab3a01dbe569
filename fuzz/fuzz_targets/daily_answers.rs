//! Daily's REST API answers: decoding any text as webhooks or meetings never panics, and the
//! error message shown from any answer holds no control character.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lobbylog::daily::{
    answer_shapes::{List, One},
    client::daily_message,
    meetings::Meeting,
    webhooks::Webhook,
};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = serde_json::from_str::<List<Webhook>>(text);
    let _ = serde_json::from_str::<One<Webhook>>(text);
    let _ = serde_json::from_str::<List<Meeting>>(text);
    let message = daily_message(text);
    assert!(!message.chars().any(char::is_control), "{message:?}");
});
