//! Text on the page: HTML escaping, query-string encoding, and how numbers and waits are written.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// Escapes text for HTML element content and quoted attribute values alike.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// Characters left as they are in a query-string value (RFC 3986 unreserved).
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// The dashboard's own URL for these filters, escaped for an `href`.
pub fn dashboard_href(room: Option<&str>, days: u32) -> String {
    let href = match room {
        Some(room) => format!(
            "?room={}&days={days}",
            utf8_percent_encode(room, QUERY_VALUE)
        ),
        None => format!("?days={days}"),
    };
    escape(&href)
}

/// A count with thin spaces between thousands: `12 345`.
pub fn count(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push('\u{2009}');
        }
        out.push(d);
    }
    if n < 0 { format!("-{out}") } else { out }
}

/// A share as a percentage with one decimal, or an em dash when there is none.
pub fn percent(share: Option<f64>) -> String {
    share.map_or_else(|| "—".into(), |s| format!("{:.1} %", s * 100.0))
}

/// A wait in words a person reads at a glance: `8.2 s`, `4 min 05 s`, `2 h 10 min`.
pub fn wait(seconds: Option<f64>) -> String {
    let Some(s) = seconds.filter(|s| s.is_finite()) else {
        return "—".into();
    };
    let s = s.max(0.0);
    if s < 60.0 {
        format!("{s:.1} s")
    } else if s < 3_600.0 {
        let whole = s.round() as i64;
        format!("{} min {:02} s", whole / 60, whole % 60)
    } else {
        let minutes = (s / 60.0).round() as i64;
        format!("{} h {:02} min", minutes / 60, minutes % 60)
    }
}

/// A number for a `data-` attribute: exact enough to compare, no exponent.
pub fn data_number(value: f64) -> String {
    let text = format!("{value:.6}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    if text == "-0" {
        "0".into()
    } else {
        text.into()
    }
}

/// `YYYY-MM-DD HH:MM` of a time in seconds since the epoch.
pub fn utc_minute(seconds: f64) -> String {
    let day = (seconds / 86_400.0).floor();
    let minute = ((seconds - day * 86_400.0) / 60.0).floor() as i64;
    format!(
        "{} {:02}:{:02}",
        super::model::utc_date(day as i64),
        minute / 60,
        minute % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_in_text_is_escaped() {
        assert_eq!(
            escape(r#"<script>alert("x") & 'y'</script>"#),
            "&lt;script&gt;alert(&quot;x&quot;) &amp; &#39;y&#39;&lt;/script&gt;"
        );
    }

    #[test]
    fn room_links_encode_the_room_and_escape_the_ampersand() {
        assert_eq!(dashboard_href(None, 30), "?days=30");
        assert_eq!(
            dashboard_href(Some("a b&c=d/é<"), 7),
            "?room=a%20b%26c%3Dd%2F%C3%A9%3C&amp;days=7"
        );
    }

    #[test]
    fn numbers_and_waits_read_well() {
        assert_eq!(count(0), "0");
        assert_eq!(count(1_234_567), "1\u{2009}234\u{2009}567");
        assert_eq!(percent(Some(0.375)), "37.5 %");
        assert_eq!(percent(None), "—");
        assert_eq!(wait(Some(8.24)), "8.2 s");
        assert_eq!(wait(Some(245.0)), "4 min 05 s");
        assert_eq!(wait(Some(7_800.0)), "2 h 10 min");
        assert_eq!(wait(None), "—");
        assert_eq!(data_number(0.75), "0.75");
        assert_eq!(data_number(12.0), "12");
        assert_eq!(data_number(1.0 / 3.0), "0.333333");
    }
}
