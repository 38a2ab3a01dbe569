//! How old a raw event may get: `90d`, `12h`, `30m`, `45s`.

use std::{fmt, str::FromStr};

/// The longest age accepted: a century, far past any retention anyone sets.
const MAX_SECONDS: u64 = 100 * 365 * 86_400;

/// A positive whole number of days, hours, minutes or seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Age {
    amount: u64,
    unit: Unit,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unit {
    Days,
    Hours,
    Minutes,
    Seconds,
}

impl Unit {
    fn seconds(self) -> u64 {
        match self {
            Self::Days => 86_400,
            Self::Hours => 3_600,
            Self::Minutes => 60,
            Self::Seconds => 1,
        }
    }

    fn suffix(self) -> char {
        match self {
            Self::Days => 'd',
            Self::Hours => 'h',
            Self::Minutes => 'm',
            Self::Seconds => 's',
        }
    }
}

impl Age {
    pub fn seconds(self) -> u64 {
        self.amount * self.unit.seconds()
    }
}

impl FromStr for Age {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        let expected = "expected a whole number and a unit: d (days), h (hours), m (minutes) or s \
                        (seconds), e.g. 90d, 12h, 30m";
        if text.is_empty() {
            return Err(format!("the duration is empty; {expected}"));
        }
        let digits = text
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len());
        let (number, unit) = text.split_at(digits);
        let unit = match unit {
            "d" => Unit::Days,
            "h" => Unit::Hours,
            "m" => Unit::Minutes,
            "s" => Unit::Seconds,
            "" if !number.is_empty() => return Err(format!("`{text}` has no unit; {expected}")),
            _ => return Err(format!("`{text}` is not a duration; {expected}")),
        };
        let amount: u64 = number
            .parse()
            .map_err(|_| format!("`{text}` is not a duration; {expected}"))?;
        let age = Self { amount, unit };
        match amount.checked_mul(unit.seconds()) {
            Some(0) => Err(format!(
                "`{text}` is no time at all: the duration must be more than 0"
            )),
            Some(s) if s <= MAX_SECONDS => Ok(age),
            _ => Err(format!("`{text}` is too long: at most 36500d")),
        }
    }
}

/// `LOBBYLOG_RETENTION`: an age, or nothing (empty) to keep everything, so an empty line in a
/// `.env` means the same as no line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Retention(pub Option<Age>);

impl FromStr for Retention {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.trim() {
            "" => Ok(Self(None)),
            age => age.parse().map(|age| Self(Some(age))),
        }
    }
}

impl fmt::Display for Age {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.amount, self.unit.suffix())
    }
}

#[cfg(test)]
mod tests {
    use super::{Age, Retention};

    #[test]
    fn days_hours_minutes_and_seconds_are_read() {
        for (text, seconds, shown) in [
            ("90d", 90 * 86_400, "90d"),
            ("12h", 12 * 3_600, "12h"),
            ("30m", 1_800, "30m"),
            (" 45s ", 45, "45s"),
            ("36500d", 36_500 * 86_400, "36500d"),
        ] {
            let age: Age = text.parse().unwrap();
            assert_eq!((age.seconds(), age.to_string().as_str()), (seconds, shown));
        }
    }

    #[test]
    fn an_empty_retention_keeps_everything() {
        assert_eq!(" ".parse::<Retention>(), Ok(Retention(None)));
        let age = "90d".parse().unwrap();
        assert_eq!("90d".parse::<Retention>(), Ok(Retention(Some(age))));
        assert!("90".parse::<Retention>().unwrap_err().contains("no unit"));
    }

    #[test]
    fn bad_durations_are_refused_with_the_reason() {
        for (text, reason) in [
            ("", "is empty"),
            ("90", "has no unit"),
            ("d", "is not a duration"),
            ("1.5d", "is not a duration"),
            ("-3d", "is not a duration"),
            ("90 d", "is not a duration"),
            ("3w", "is not a duration"),
            ("90D", "is not a duration"),
            ("0h", "more than 0"),
            ("36501d", "too long"),
            ("99999999999999999999d", "is not a duration"),
            ("9999999999999999d", "too long"),
        ] {
            let err = text.parse::<Age>().unwrap_err();
            assert!(err.contains(reason), "{text:?}: {err}");
            let quoted = format!("`{}`", text.trim());
            assert!(text.is_empty() || err.contains(&quoted), "{text:?}: {err}");
        }
    }
}
