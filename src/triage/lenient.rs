//! Lenient reads of single JSON values straight from their text, without building a tree:
//! Daily sends numbers as strings and strings as numbers.

use std::borrow::Cow;

use serde_json::value::RawValue;

/// What kind of JSON value a text holds, told by its first byte.
pub fn kind(raw: &RawValue) -> &'static str {
    match raw.get().as_bytes().first() {
        Some(b'"') => "a string",
        Some(b'{') => "an object",
        Some(b'[') => "an array",
        Some(b't' | b'f') => "a boolean",
        Some(b'n') => "null",
        _ => "a number",
    }
}

pub fn is_null(raw: &RawValue) -> bool {
    raw.get() == "null"
}

/// A JSON string's content (escapes resolved); `None` for any other kind.
pub fn string(raw: &RawValue) -> Option<Cow<'_, str>> {
    if !raw.get().starts_with('"') {
        return None;
    }
    serde_json::from_str::<Cow<'_, str>>(raw.get()).ok()
}

/// A string, or a number written as one (as it was sent); anything else is absent.
pub fn text(raw: &RawValue) -> Option<String> {
    match kind(raw) {
        "a string" => string(raw).map(Cow::into_owned),
        "a number" => Some(raw.get().to_owned()),
        _ => None,
    }
}

/// A number, or a numeric string.
pub fn number(raw: &RawValue) -> Option<f64> {
    match kind(raw) {
        "a number" => raw.get().parse().ok(),
        "a string" => string(raw)?.trim().parse().ok(),
        _ => None,
    }
}

/// A boolean, or the string `true` / `false` in any case.
pub fn boolean(raw: &RawValue) -> Option<bool> {
    match raw.get() {
        "true" => Some(true),
        "false" => Some(false),
        _ => match string(raw)? {
            s if s.eq_ignore_ascii_case("true") => Some(true),
            s if s.eq_ignore_ascii_case("false") => Some(false),
            _ => None,
        },
    }
}

/// Epoch seconds from a number or a numeric string (Daily sends both), within timestamptz range.
pub fn epoch_seconds(raw: &RawValue) -> Option<f64> {
    let seconds = number(raw)?;
    // Year 1970 to about year 5000: outside that it is not a Daily timestamp.
    (seconds.is_finite() && (0.0..1e11).contains(&seconds)).then_some(seconds)
}

/// Whether JSON text holds the escape `\u0000` (an escaped backslash before `u0000` does not
/// count). Postgres jsonb cannot store U+0000, and a raw one is not valid JSON.
pub fn has_nul_escape(text: &str) -> bool {
    let bytes = text.as_bytes();
    let mut from = 0;
    while let Some(at) = text[from..].find("u0000").map(|i| i + from) {
        let backslashes = bytes[..at]
            .iter()
            .rev()
            .take_while(|b| **b == b'\\')
            .count();
        if backslashes % 2 == 1 {
            return true;
        }
        from = at + 1;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(text: &str) -> Box<RawValue> {
        RawValue::from_string(text.to_owned()).unwrap()
    }

    #[test]
    fn values_are_read_leniently_from_their_text() {
        assert_eq!(text(&raw(r#""a\"b""#)).as_deref(), Some("a\"b"));
        assert_eq!(text(&raw("12")).as_deref(), Some("12"));
        assert_eq!(text(&raw("true")), None);
        assert_eq!(number(&raw(r#"" 1.5 ""#)), Some(1.5));
        assert_eq!(number(&raw("1719586614.027")), Some(1719586614.027));
        assert_eq!(boolean(&raw(r#""TRUE""#)), Some(true));
        assert_eq!(epoch_seconds(&raw("1e300")), None);
        assert_eq!(epoch_seconds(&raw(r#""soon""#)), None);
        assert_eq!(kind(&raw("[1]")), "an array");
    }

    #[test]
    fn only_a_real_nul_escape_counts() {
        assert!(has_nul_escape(r#"{"a":"x\u0000"}"#));
        assert!(has_nul_escape(r#"{"a":"\\\u0000"}"#));
        assert!(!has_nul_escape(r#"{"a":"\\u0000"}"#));
        assert!(!has_nul_escape(r#"{"a":"u0000"}"#));
    }
}
