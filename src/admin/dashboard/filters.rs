//! The page's filters: a room, and how many days back.

/// The page's filters, as checked from its query string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filters {
    pub room: Option<String>,
    pub days: u32,
}

pub const DEFAULT_DAYS: u32 = 30;
pub const MAX_DAYS: u32 = 366;
const MAX_ROOM_BYTES: usize = 512;

impl Filters {
    /// Checks the raw `room` and `days` parameters; an empty one means its default.
    pub fn parse(room: Option<&str>, days: Option<&str>) -> Result<Self, String> {
        let room = room.filter(|r| !r.is_empty());
        if room.is_some_and(|r| r.len() > MAX_ROOM_BYTES) {
            return Err(format!(
                "room is longer than {MAX_ROOM_BYTES} bytes; no room has such a name"
            ));
        }
        // Postgres text cannot hold NUL, and no room name holds any control character.
        if let Some(c) = room.and_then(|r| r.chars().find(|c| c.is_control())) {
            return Err(format!(
                "room holds a control character (U+{:04X}); no room has such a name",
                u32::from(c)
            ));
        }
        let days = match days.map(str::trim).filter(|d| !d.is_empty()) {
            None => DEFAULT_DAYS,
            Some(text) => text
                .parse::<u32>()
                .ok()
                .filter(|d| (1..=MAX_DAYS).contains(d))
                .ok_or_else(|| {
                    format!("days must be a whole number from 1 to {MAX_DAYS}, not {text:?}")
                })?,
        };
        Ok(Self {
            room: room.map(str::to_owned),
            days,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_default_to_thirty_days_of_every_room() {
        let f = Filters::parse(None, None).unwrap();
        assert_eq!((f.room, f.days), (None, 30));
        let f = Filters::parse(Some(""), Some(" ")).unwrap();
        assert_eq!((f.room, f.days), (None, 30));
        let f = Filters::parse(Some("lobby"), Some("7")).unwrap();
        assert_eq!((f.room.as_deref(), f.days), (Some("lobby"), 7));
    }

    #[test]
    fn days_out_of_range_or_not_a_number_are_refused_saying_why() {
        for bad in ["0", "367", "-1", "abc", "7.5", "99999999999"] {
            let err = Filters::parse(None, Some(bad)).unwrap_err();
            assert!(err.contains("from 1 to 366") && err.contains(bad), "{err}");
        }
        assert!(Filters::parse(None, Some("366")).is_ok());
        assert!(Filters::parse(Some(&"x".repeat(513)), None).is_err());
    }
}
