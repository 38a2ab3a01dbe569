//! What the dashboard shows, folded from the store's reads; pure, so it is tested without a database.

use std::collections::BTreeMap;

pub use super::filters::{DEFAULT_DAYS, Filters, MAX_DAYS};

use crate::refused::ReasonSummary;
use crate::store::reads::{
    DayTally, KnockOutcome, RoomDay, RoomSummary, WAIT_BUCKETS, WaitingKnock,
};

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

    fn add(&mut self, day: &DayTally) {
        self.admitted += i64::from(day.admitted);
        self.abandoned += i64::from(day.abandoned);
        self.waiting += i64::from(day.waiting);
        self.unresolved += i64::from(day.unresolved);
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
    /// The window's start (a UTC midnight) and the page's time, in seconds since the epoch.
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
    /// Seconds since the oldest change not yet in the rollups; 0 when they are up to date.
    pub rollup_lag: f64,
    /// What the webhook port refused lately, by reason (not a database read).
    pub refused: Vec<ReasonSummary>,
}

/// What the store read for one page.
#[derive(Debug, Clone, Default)]
pub struct Reads {
    pub days: Vec<DayTally>,
    pub rooms: Vec<RoomSummary>,
    pub waiting: Vec<WaitingKnock>,
    pub room_days: Vec<RoomDay>,
    pub rollup_lag: f64,
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
        for t in &reads.days {
            days.entry(t.day.clone()).or_default().add(t);
            totals.add(t);
            add_into(&mut abandons_by_hour, &t.abandoned_by_hour);
            add_into(&mut abandoned_waits, &t.abandoned_waits);
            add_into(&mut admitted_waits, &t.admitted_waits);
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
            rollup_lag: reads.rollup_lag,
            refused: Vec::new(),
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

/// Adds counts element by element; extra ones (none from the store) are left out.
fn add_into(total: &mut [i64], counts: &[i32]) {
    for (t, c) in total.iter_mut().zip(counts) {
        *t += i64::from(*c);
    }
}

/// The start (seconds since the epoch) of the UTC day `days` days before `now`: a window of whole
/// days that holds at least the last `days` times 24 hours.
pub fn window_start(now: f64, days: u32) -> f64 {
    ((now - f64::from(days) * 86_400.0) / 86_400.0).floor() * 86_400.0
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
    fn dates_are_utc_civil_dates() {
        assert_eq!(utc_date(0), "1970-01-01");
        assert_eq!(utc_date(19_723), "2024-01-01");
        assert_eq!(utc_date(19_782), "2024-02-29");
        assert_eq!(utc_date(-1), "1969-12-31");
        let days = utc_days(19_722.5 * 86_400.0, 19_724.1 * 86_400.0);
        assert_eq!(days, ["2023-12-31", "2024-01-01", "2024-01-02"]);
    }

    fn day(
        date: &str,
        counts: [i32; 4],
        hour: usize,
        abandoned: [i32; 5],
        admitted: [i32; 5],
    ) -> DayTally {
        let mut abandoned_by_hour = vec![0; 24];
        abandoned_by_hour[hour] = counts[1];
        DayTally {
            day: date.into(),
            admitted: counts[0],
            abandoned: counts[1],
            waiting: counts[2],
            unresolved: counts[3],
            abandoned_by_hour,
            abandoned_waits: abandoned.to_vec(),
            admitted_waits: admitted.to_vec(),
        }
    }

    #[test]
    fn days_fold_into_totals_hours_and_wait_ranges() {
        let since = 19_723.0 * 86_400.0;
        let reads = Reads {
            days: vec![
                day("2024-01-01", [0, 3, 0, 0], 9, [2, 0, 0, 0, 1], [0; 5]),
                day("2024-01-03", [5, 0, 1, 0], 14, [0; 5], [0, 5, 0, 0, 0]),
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
    fn the_window_starts_at_the_utc_midnight_of_its_first_day() {
        let now = 19_730.25 * 86_400.0;
        assert_eq!(window_start(now, 1), 19_729.0 * 86_400.0);
        assert_eq!(window_start(now, 30), 19_700.0 * 86_400.0);
        assert_eq!(window_start(19_730.0 * 86_400.0, 7), 19_723.0 * 86_400.0);
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
