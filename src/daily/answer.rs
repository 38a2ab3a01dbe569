//! Daily's answers as text: read up to a byte limit, the API key redacted, control characters escaped.

use reqwest::Response;

/// Largest answer read; a page of 100 meetings with their participants should be far smaller.
pub const ANSWER_LIMIT: usize = 8 << 20;

pub enum Unread {
    Network(reqwest::Error),
    TooLarge,
}

/// The body of `response`, if it is no longer than `limit`, with every `key` replaced by
/// `[redacted]`: an answer may echo the request's Authorization header.
pub async fn read(mut response: Response, limit: usize, key: &str) -> Result<String, Unread> {
    if response.content_length().is_some_and(|n| n > limit as u64) {
        return Err(Unread::TooLarge);
    }
    let mut bytes = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(Unread::Network)? {
        if bytes.len() + chunk.len() > limit {
            return Err(Unread::TooLarge);
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(redact(&String::from_utf8_lossy(&bytes), key))
}

fn redact(text: &str, key: &str) -> String {
    text.replace(key, "[redacted]")
}

/// `text` safe to print on a terminal: control characters (ESC, CR, C1...) written as `\u{1b}`.
pub fn printable(text: &str) -> String {
    let mut shown = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() {
            shown.extend(c.escape_unicode());
        } else {
            shown.push(c);
        }
    }
    shown
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped_and_the_rest_kept() {
        assert_eq!(
            printable("a\u{1b}[2Jb\r\n\u{9b}c é"),
            r"a\u{1b}[2Jb\u{d}\u{a}\u{9b}c é"
        );
    }

    #[test]
    fn every_copy_of_the_key_is_redacted() {
        assert_eq!(
            redact("Bearer k3y and k3y", "k3y"),
            "Bearer [redacted] and [redacted]"
        );
    }
}
