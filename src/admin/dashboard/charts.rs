//! The dashboard's charts, built from its numbers.

use super::{
    model::Dashboard,
    svg::{BarChart, Category, Series},
};
use crate::store::reads::{KnockOutcome, WAIT_BUCKETS};

/// The CSS class (and colour) of each outcome.
pub fn outcome_class(outcome: KnockOutcome) -> &'static str {
    outcome.as_str()
}

fn day_categories(d: &Dashboard) -> Vec<Category> {
    d.days
        .iter()
        .map(|(day, _)| Category {
            key: day.clone(),
            label: day.get(5..).unwrap_or(day).to_owned(),
        })
        .collect()
}

pub fn knocks_per_day(d: &Dashboard) -> BarChart {
    let series = KnockOutcome::ALL
        .into_iter()
        .map(|outcome| Series {
            name: outcome.as_str(),
            class: outcome_class(outcome),
            values: d
                .days
                .iter()
                .map(|(_, c)| Some(c.get(outcome) as f64))
                .collect(),
        })
        .collect();
    BarChart {
        id: "knocks-per-day",
        title: "Knocks per day, by outcome",
        x_title: "day (UTC, month-day)",
        y_title: "knocks",
        categories: day_categories(d),
        series,
        percent: false,
    }
}

pub fn abandon_rate_per_day(d: &Dashboard) -> BarChart {
    BarChart {
        id: "abandon-rate-per-day",
        title: "Abandon rate per day",
        x_title: "day (UTC, month-day)",
        y_title: "abandoned / resolved",
        categories: day_categories(d),
        series: vec![Series {
            name: "abandoned",
            class: "rate",
            values: d.days.iter().map(|(_, c)| c.abandon_rate()).collect(),
        }],
        percent: true,
    }
}

fn wait_chart(
    id: &'static str,
    title: &'static str,
    outcome: KnockOutcome,
    counts: &[i64],
) -> BarChart {
    BarChart {
        id,
        title,
        x_title: "wait",
        y_title: "knocks",
        categories: WAIT_BUCKETS
            .iter()
            .map(|b| Category {
                key: (*b).into(),
                label: (*b).into(),
            })
            .collect(),
        series: vec![Series {
            name: outcome.as_str(),
            class: outcome_class(outcome),
            values: counts.iter().map(|n| Some(*n as f64)).collect(),
        }],
        percent: false,
    }
}

pub fn waits_before_abandoning(d: &Dashboard) -> BarChart {
    wait_chart(
        "wait-before-abandoning",
        "How long people waited before giving up",
        KnockOutcome::Abandoned,
        &d.abandoned_waits,
    )
}

pub fn waits_before_admission(d: &Dashboard) -> BarChart {
    wait_chart(
        "wait-before-admission",
        "How long people waited before being admitted",
        KnockOutcome::Admitted,
        &d.admitted_waits,
    )
}

pub fn abandons_by_hour(d: &Dashboard) -> BarChart {
    BarChart {
        id: "abandons-by-hour",
        title: "Abandoned knocks by hour of the day",
        x_title: "hour of the day (UTC)",
        y_title: "abandoned knocks",
        categories: (0..24)
            .map(|h| Category {
                key: format!("{h:02}:00"),
                label: format!("{h:02}"),
            })
            .collect(),
        series: vec![Series {
            name: "abandoned",
            class: outcome_class(KnockOutcome::Abandoned),
            values: d.abandons_by_hour.iter().map(|n| Some(*n as f64)).collect(),
        }],
        percent: false,
    }
}

/// Every chart, in page order.
pub fn all(d: &Dashboard) -> Vec<BarChart> {
    vec![
        knocks_per_day(d),
        abandon_rate_per_day(d),
        waits_before_abandoning(d),
        waits_before_admission(d),
        abandons_by_hour(d),
    ]
}
