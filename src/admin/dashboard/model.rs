//! What the dashboard shows, folded from the store's reads; pure, so it is tested without a database.

use std::collections::BTreeMap;

use crate::store::reads::{KnockOutcome, RoomDay, RoomSummary, Tally, WAIT_BUCKETS, WaitingKnock};

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

/// Knocks by outcome.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub admitted: i64,
    pub abandoned: i64,
    pub waiting: i64,
    pub unresolved: i64,
}

impl Counts {
    pub fn get(&self, outcome: KnockOutcome) -> i64 {
        match outcome {
            KnockOutcome::Admitted => self.admitted,
            KnockOutcome::Abandoned => self.abandoned,
            KnockOutcome::Waiting => self.waiting,
            KnockOutcome::Unresolved => self.unresolved,
        }
    }

    fn add(&mut self, outcome: KnockOutcome, knocks: i64) {
        let slot = match outcome {
            KnockOutcome::Admitted => &mut self.admitted,
            KnockOutcome::Abandoned => &mut self.abandoned,
            KnockOutcome::Waiting => &mut self.waiting,
            KnockOutcome::Unresolved => &mut self.unresolved,
        };
        *slot += knocks;
    }

    pub fn total(&self) -> i64 {
        self.admitted + self.abandoned + self.waiting + self.unresolved
    }

    /// Abandoned among resolved knocks, as docs/analytics.md defines it; `None` with none resolved.
    pub fn abandon_rate(&self) -> Option<f64> {
        abandon_rate(self.admitted, self.abandoned)
    }
}

pub fn abandon_rate(admitted: i64, abandoned: i64) -> Option<f64> {
    let resolved = admitted + abandoned;
    (resolved > 0).then(|| abandoned as f64 / resolved as f64)
}

/// Everything the page shows.
#[derive(Debug, Clone, PartialEq)]
pub struct Dashboard {
    pub filters: Filters,
    /// The window's start and the page's time, in seconds since the epoch.
    pub since: f64,
    pub now: f64,
    /// Every UTC day of the window, oldest first, with its knocks by outcome.
    pub days: Vec<(String, Counts)>,
    pub totals: Counts,
    pub abandons_by_hour: [i64; 24],
    pub abandoned_waits: [i64; WAIT_BUCKETS.len()],
    pub admitted_waits: [i64; WAIT_BUCKETS.len()],
    pub rooms: Vec<RoomSummary>,
    pub room_count: i64,
    pub waiting: Vec<WaitingKnock>,
    pub waiting_count: i64,
    /// The filtered room's days (`knock_daily_stats`); empty without a room filter.
    pub room_days: Vec<RoomDay>,
}

/// What the store read for one page.
#[derive(Debug, Clone, Default)]
pub struct Reads {
    pub tallies: Vec<Tally>,
    pub rooms: Vec<RoomSummary>,
    pub waiting: Vec<WaitingKnock>,
    pub room_days: Vec<RoomDay>,
}

impl Dashboard {
    pub fn build(filters: Filters, since: f64, now: f64, reads: Reads) -> Self {
        let mut days: BTreeMap<String, Counts> = utc_days(since, now)
            .into_iter()
            .map(|d| (d, Counts::default()))
            .collect();
        let mut totals = Counts::default();
        let mut abandons_by_hour = [0; 24];
        let mut abandoned_waits = [0; WAIT_BUCKETS.len()];
        let mut admitted_waits = [0; WAIT_BUCKETS.len()];
        for t in &reads.tallies {
            days.entry(t.day.clone())
                .or_default()
                .add(t.outcome, t.knocks);
            totals.add(t.outcome, t.knocks);
            if t.outcome == KnockOutcome::Abandoned {
                abandons_by_hour[t.hour.clamp(0, 23) as usize] += t.knocks;
            }
            let bucket = t.wait_bucket.map(|b| b.clamp(0, 4) as usize);
            match (t.outcome, bucket) {
                (KnockOutcome::Abandoned, Some(b)) => abandoned_waits[b] += t.knocks,
                (KnockOutcome::Admitted, Some(b)) => admitted_waits[b] += t.knocks,
                _ => {}
            }
        }
        Self {
            filters,
            since,
            now,
            days: days.into_iter().collect(),
            totals,
            abandons_by_hour,
            abandoned_waits,
            admitted_waits,
            room_count: reads.rooms.first().map_or(0, |r| r.rooms),
            rooms: reads.rooms,
            waiting_count: reads.waiting.first().map_or(0, |w| w.waiting),
            waiting: reads.waiting,
            room_days: reads.room_days,
        }
    }

    /// Nothing to chart: no knock in the window and nobody waiting.
    pub fn is_empty(&self) -> bool {
        self.totals.total() == 0 && self.waiting.is_empty()
    }

    /// The hours (UTC) with the most abandoned knocks, most first, as docs/analytics.md ranks them.
    pub fn busiest_abandon_hours(&self, top: usize) -> Vec<(usize, i64)> {
        let mut hours: Vec<(usize, i64)> = (0..24)
            .map(|h| (h, self.abandons_by_hour[h]))
            .filter(|(_, n)| *n > 0)
            .collect();
        hours.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        hours.truncate(top);
        hours
    }
}

/// The UTC dates (`YYYY-MM-DD`) from that of `since` to that of `now`, both included.
pub fn utc_days(since: f64, now: f64) -> Vec<String> {
    let first = (since / 86_400.0).floor() as i64;
    let last = (now / 86_400.0).floor() as i64;
    (first..=last.max(first)).map(utc_date).collect()
}

/// The date of a day counted from 1970-01-01 (Howard Hinnant's `civil_from_days`).
pub fn utc_date(days: i64) -> String {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
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

    #[test]
    fn dates_are_utc_civil_dates() {
        assert_eq!(utc_date(0), "1970-01-01");
        assert_eq!(utc_date(19_723), "2024-01-01");
        assert_eq!(utc_date(19_782), "2024-02-29");
        assert_eq!(utc_date(-1), "1969-12-31");
        let days = utc_days(19_722.5 * 86_400.0, 19_724.1 * 86_400.0);
        assert_eq!(days, ["2023-12-31", "2024-01-01", "2024-01-02"]);
    }

    fn tally(day: &str, hour: i32, outcome: KnockOutcome, bucket: Option<i32>, n: i64) -> Tally {
        Tally {
            day: day.into(),
            hour,
            outcome,
            wait_bucket: bucket,
            knocks: n,
        }
    }

    #[test]
    fn tallies_fold_into_days_hours_and_wait_buckets() {
        let since = 19_723.0 * 86_400.0;
        let reads = Reads {
            tallies: vec![
                tally("2024-01-01", 9, KnockOutcome::Abandoned, Some(0), 2),
                tally("2024-01-01", 9, KnockOutcome::Abandoned, Some(4), 1),
                tally("2024-01-03", 14, KnockOutcome::Admitted, Some(1), 5),
                tally("2024-01-03", 15, KnockOutcome::Waiting, None, 1),
            ],
            ..Reads::default()
        };
        let filters = Filters::parse(None, Some("3")).unwrap();
        let d = Dashboard::build(filters, since, since + 2.5 * 86_400.0, reads);
        let days: Vec<&str> = d.days.iter().map(|(day, _)| day.as_str()).collect();
        assert_eq!(days, ["2024-01-01", "2024-01-02", "2024-01-03"]);
        assert_eq!(d.days[0].1.abandoned, 3);
        assert_eq!(d.days[1].1.total(), 0);
        assert_eq!((d.days[2].1.admitted, d.days[2].1.waiting), (5, 1));
        assert_eq!(d.totals.total(), 9);
        assert_eq!(d.totals.abandon_rate(), Some(3.0 / 8.0));
        assert_eq!(d.abandons_by_hour[9], 3);
        assert_eq!(d.abandoned_waits, [2, 0, 0, 0, 1]);
        assert_eq!(d.admitted_waits, [0, 5, 0, 0, 0]);
        assert_eq!(d.busiest_abandon_hours(5), [(9, 3)]);
        assert!(!d.is_empty());
    }

    #[test]
    fn the_busiest_hours_rank_by_count_then_by_hour() {
        let mut d = Dashboard::build(
            Filters::parse(None, None).unwrap(),
            0.0,
            0.0,
            Reads::default(),
        );
        assert!(d.is_empty());
        d.abandons_by_hour[20] = 4;
        d.abandons_by_hour[3] = 4;
        d.abandons_by_hour[7] = 9;
        d.abandons_by_hour[1] = 1;
        assert_eq!(d.busiest_abandon_hours(3), [(7, 9), (3, 4), (20, 4)]);
    }
}
