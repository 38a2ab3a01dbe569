//! Times as Daily writes them (ISO 8601 or Unix seconds) and as the command line takes them.

use serde::{Deserialize, Deserializer, de::Error};
use serde_json::Value;
use time::{
    Date, OffsetDateTime, PrimitiveDateTime, Time,
    format_description::well_known::{Iso8601, Rfc3339},
    macros::format_description,
};

/// Numbers this large are milliseconds: in seconds they would be past the year 5000.
const MILLIS_FROM: f64 = 1e11;

/// Decodes an optional time: ISO 8601 text, Unix seconds (number or numeric text), or null.
pub fn lenient<'de, D: Deserializer<'de>>(d: D) -> Result<Option<OffsetDateTime>, D::Error> {
    match Value::deserialize(d)? {
        Value::Null => Ok(None),
        Value::String(s) if s.trim().is_empty() => Ok(None),
        value => from_json(&value).map(Some).map_err(D::Error::custom),
    }
}

/// Like `lenient`, but a missing or null time is an error.
pub fn required<'de, D: Deserializer<'de>>(d: D) -> Result<OffsetDateTime, D::Error> {
    lenient(d)?.ok_or_else(|| D::Error::custom("a time is required here"))
}

fn from_json(value: &Value) -> Result<OffsetDateTime, String> {
    match value {
        Value::Number(n) => n
            .as_f64()
            .ok_or_else(|| format!("{n} is not a time"))
            .and_then(from_unix),
        Value::String(s) => match s.trim().parse::<f64>() {
            Ok(seconds) => from_unix(seconds),
            Err(_) => from_iso(s.trim()),
        },
        other => Err(format!("{other} is not a time")),
    }
}

fn from_unix(mut seconds: f64) -> Result<OffsetDateTime, String> {
    if seconds.abs() >= MILLIS_FROM {
        seconds /= 1000.0;
    }
    let nanos = (seconds * 1e9).round() as i128;
    OffsetDateTime::from_unix_timestamp_nanos(nanos)
        .map_err(|_| format!("{seconds} is out of range"))
}

fn from_iso(text: &str) -> Result<OffsetDateTime, String> {
    OffsetDateTime::parse(text, &Rfc3339)
        .or_else(|_| OffsetDateTime::parse(text, &Iso8601::DEFAULT))
        // A time without an offset is UTC, as Daily means it.
        .or_else(|_| PrimitiveDateTime::parse(text, &Iso8601::DEFAULT).map(|t| t.assume_utc()))
        .map_err(|_| format!("{text:?} is neither ISO 8601 nor Unix seconds"))
}

/// A time from the command line: RFC 3339, a date (midnight UTC) or Unix seconds.
pub fn parse_cli(text: &str) -> Result<OffsetDateTime, String> {
    let text = text.trim();
    if let Ok(seconds) = text.parse::<i64>() {
        return OffsetDateTime::from_unix_timestamp(seconds).map_err(|e| e.to_string());
    }
    if let Ok(t) = OffsetDateTime::parse(text, &Rfc3339) {
        return Ok(t);
    }
    Date::parse(text, format_description!("[year]-[month]-[day]"))
        .map(|d| PrimitiveDateTime::new(d, Time::MIDNIGHT).assume_utc())
        .map_err(|_| {
            format!(
                "{text:?} is not a time: use RFC 3339 (2024-06-01T12:00:00Z), a date (2024-06-01) \
                 or Unix seconds (1717243200)"
            )
        })
}

/// RFC 3339 in UTC, for people and JSON.
pub fn rfc3339(t: OffsetDateTime) -> String {
    t.to_offset(time::UtcOffset::UTC)
        .format(&Rfc3339)
        .unwrap_or_else(|_| t.unix_timestamp().to_string())
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use time::macros::datetime;

    use super::*;

    #[derive(Deserialize)]
    struct Holder {
        #[serde(default, deserialize_with = "lenient")]
        at: Option<OffsetDateTime>,
    }

    fn decode(value: Value) -> Result<Option<OffsetDateTime>, String> {
        serde_json::from_value::<Holder>(json!({ "at": value }))
            .map(|h| h.at)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn daily_times_decode_in_every_encoding() {
        let t = datetime!(2024-06-28 14:57:08 UTC);
        let cases = [
            json!("2024-06-28T14:57:08Z"),
            json!("2024-06-28T14:57:08.000Z"),
            json!("2024-06-28T16:57:08+02:00"),
            json!("2024-06-28T14:57:08"),
            json!(1719586628),
            json!(1719586628.0),
            json!("1719586628"),
            json!(1719586628000_i64),
        ];
        for case in cases {
            assert_eq!(decode(case.clone()), Ok(Some(t)), "{case}");
        }
        assert_eq!(
            decode(json!(1719586628.5)).unwrap().unwrap().millisecond(),
            500
        );
    }

    #[test]
    fn absent_times_are_none_and_bad_ones_are_named() {
        assert_eq!(decode(Value::Null), Ok(None));
        assert_eq!(decode(json!("")), Ok(None));
        assert_eq!(
            serde_json::from_value::<Holder>(json!({})).unwrap().at,
            None
        );
        let err = decode(json!("last tuesday")).unwrap_err();
        assert!(
            err.contains("last tuesday") && err.contains("ISO 8601"),
            "{err}"
        );
        assert!(decode(json!(true)).is_err());
    }

    #[test]
    fn the_command_line_takes_rfc3339_dates_and_unix_seconds() {
        let midnight = datetime!(2024-06-01 0:00 UTC);
        assert_eq!(parse_cli("2024-06-01"), Ok(midnight));
        assert_eq!(parse_cli("2024-06-01T00:00:00Z"), Ok(midnight));
        assert_eq!(parse_cli("2024-06-01T02:00:00+02:00"), Ok(midnight));
        assert_eq!(parse_cli("1717200000"), Ok(midnight));
        let err = parse_cli("06/01/2024").unwrap_err();
        assert!(
            err.contains("RFC 3339") && err.contains("Unix seconds"),
            "{err}"
        );
        assert!(parse_cli("2024-02-30").is_err());
    }

    #[test]
    fn times_print_as_rfc3339_utc() {
        let t = datetime!(2024-06-28 16:57:08 +2);
        assert_eq!(rfc3339(t), "2024-06-28T14:57:08Z");
    }
}
