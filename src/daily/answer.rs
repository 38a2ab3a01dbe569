//! Daily's answers as text: read up to a byte limit, the API key redacted.

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_copy_of_the_key_is_redacted() {
        assert_eq!(
            redact("Bearer k3y and k3y", "k3y"),
            "Bearer [redacted] and [redacted]"
        );
    }
}
