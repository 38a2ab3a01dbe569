//! What a list of events may be filtered by, checked before any query: the same rules and the
//! same messages for the admin listener and the command line.

use time::{OffsetDateTime, format_description::well_known::Rfc3339};

/// Events listed when no limit is given.
pub const DEFAULT_LIMIT: i64 = 50;
/// The most events one list returns.
pub const MAX_LIMIT: i64 = 500;
/// The longest id, room, session id or type looked up; Daily's are far shorter.
pub const MAX_TEXT_BYTES: usize = 512;

/// The filters as given, unchecked (query parameters, command-line options).
#[derive(Debug, Clone, Copy, Default)]
pub struct FilterInput<'a> {
    pub room: Option<&'a str>,
    pub session_id: Option<&'a str>,
    pub event_type: Option<&'a str>,
    pub since: Option<&'a str>,
    pub until: Option<&'a str>,
    pub limit: Option<&'a str>,
}

/// Which events to list, newest first: `since <= event_ts < until`, at most `limit`.
#[derive(Debug, Clone, PartialEq)]
pub struct EventFilter {
    pub room: Option<String>,
    /// Only with `room`: sessions are keyed by both.
    pub session_id: Option<String>,
    pub event_type: Option<String>,
    pub since: Option<OffsetDateTime>,
    pub until: Option<OffsetDateTime>,
    pub limit: i64,
}

impl EventFilter {
    /// Checks every filter; the error says which one is wrong and why.
    pub fn parse(input: &FilterInput<'_>) -> Result<Self, String> {
        let text = |name, value: Option<&str>| value.map(|v| check_text(name, v)).transpose();
        let time = |name, value: Option<&str>| value.map(|v| parse_time(name, v)).transpose();
        let filter = Self {
            room: text("room", input.room)?,
            session_id: text("session_id", input.session_id)?,
            event_type: text("type", input.event_type)?,
            since: time("since", input.since)?,
            until: time("until", input.until)?,
            limit: input.limit.map_or(Ok(DEFAULT_LIMIT), parse_limit)?,
        };
        if filter.session_id.is_some() && filter.room.is_none() {
            return Err("session_id needs room: sessions are keyed by room and session id".into());
        }
        if let (Some(since), Some(until)) = (filter.since, filter.until)
            && since >= until
        {
            return Err(format!(
                "since ({}) must be before until ({})",
                input.since.unwrap_or_default(),
                input.until.unwrap_or_default()
            ));
        }
        Ok(filter)
    }
}

/// `value` if it can name an event, room, session or type: not empty, at most
/// [`MAX_TEXT_BYTES`], no control character.
pub fn check_text(name: &str, value: &str) -> Result<String, String> {
    if value.is_empty() {
        return Err(format!("{name} is empty"));
    }
    if value.len() > MAX_TEXT_BYTES {
        return Err(format!(
            "{name} is {} bytes long; at most {MAX_TEXT_BYTES} are looked up",
            value.len()
        ));
    }
    if let Some(c) = value.chars().find(|c| c.is_control()) {
        return Err(format!(
            "{name} holds a control character (U+{:04X})",
            u32::from(c)
        ));
    }
    Ok(value.to_owned())
}

/// An RFC 3339 time (`2024-05-01T12:00:00Z`) or seconds since the epoch (`1714564800`, `1714564800.5`).
fn parse_time(name: &str, value: &str) -> Result<OffsetDateTime, String> {
    let is_seconds = !value.is_empty()
        && value.chars().all(|c| c.is_ascii_digit() || c == '.')
        && value.matches('.').count() <= 1;
    let parsed = if is_seconds {
        value
            .parse::<f64>()
            .ok()
            .and_then(|s| OffsetDateTime::from_unix_timestamp_nanos((s * 1e9) as i128).ok())
    } else {
        OffsetDateTime::parse(value, &Rfc3339).ok()
    };
    parsed.ok_or_else(|| {
        let hint = match value.contains(' ') {
            true => " (in a URL, write the + of an offset as %2B)",
            false => "",
        };
        format!(
            "{name} {value:?} is neither an RFC 3339 time (2024-05-01T12:00:00Z) nor seconds \
             since the epoch (1714564800){hint}"
        )
    })
}

fn parse_limit(value: &str) -> Result<i64, String> {
    value
        .parse::<i64>()
        .ok()
        .filter(|n| (1..=MAX_LIMIT).contains(n))
        .ok_or_else(|| format!("limit must be a whole number from 1 to {MAX_LIMIT}, not {value:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(input: FilterInput<'_>) -> Result<EventFilter, String> {
        EventFilter::parse(&input)
    }

    #[test]
    fn times_are_rfc_3339_or_epoch_seconds() {
        let at = |v| parse_time("since", v).map(|t| t.unix_timestamp_nanos());
        assert_eq!(at("2024-05-01T12:00:00Z"), Ok(1_714_564_800_000_000_000));
        assert_eq!(
            at("2024-05-01T14:00:00+02:00"),
            Ok(1_714_564_800_000_000_000)
        );
        assert_eq!(at("1714564800"), Ok(1_714_564_800_000_000_000));
        assert_eq!(at("1714564800.5"), Ok(1_714_564_800_500_000_000));
        for bad in [
            "",
            "yesterday",
            "1e9",
            "-5",
            "1.2.3",
            "2024-05-01",
            "inf",
            "NaN",
        ] {
            assert!(at(bad).is_err(), "{bad:?}");
        }
        let plus = parse_time("since", "2024-05-01T14:00:00 02:00").unwrap_err();
        assert!(plus.contains("%2B"), "{plus}");
    }

    #[test]
    fn each_bad_filter_is_named() {
        let long = "x".repeat(MAX_TEXT_BYTES + 1);
        let cases = [
            (
                FilterInput {
                    room: Some(""),
                    ..Default::default()
                },
                "room is empty",
            ),
            (
                FilterInput {
                    room: Some(&long),
                    ..Default::default()
                },
                "room is 513 bytes",
            ),
            (
                FilterInput {
                    event_type: Some("a\nb"),
                    ..Default::default()
                },
                "type holds a control character (U+000A)",
            ),
            (
                FilterInput {
                    session_id: Some("s"),
                    ..Default::default()
                },
                "session_id needs room",
            ),
            (
                FilterInput {
                    limit: Some("0"),
                    ..Default::default()
                },
                "limit must be",
            ),
            (
                FilterInput {
                    limit: Some("501"),
                    ..Default::default()
                },
                "limit must be",
            ),
            (
                FilterInput {
                    limit: Some("ten"),
                    ..Default::default()
                },
                "limit must be",
            ),
            (
                FilterInput {
                    until: Some("soon"),
                    ..Default::default()
                },
                "until \"soon\" is neither",
            ),
            (
                FilterInput {
                    since: Some("20"),
                    until: Some("10"),
                    ..Default::default()
                },
                "since (20) must be before until (10)",
            ),
        ];
        for (input, expected) in cases {
            let error = parse(input).unwrap_err();
            assert!(error.starts_with(expected), "{input:?}: {error}");
        }
    }

    #[test]
    fn no_filter_means_the_newest_fifty() {
        let filter = parse(FilterInput::default()).unwrap();
        assert_eq!(filter.limit, DEFAULT_LIMIT);
        assert_eq!((filter.room, filter.since), (None, None));
        assert_eq!(
            parse(FilterInput {
                limit: Some("500"),
                ..Default::default()
            })
            .unwrap()
            .limit,
            500
        );
    }
}
