//! The dashboard as one HTML page: inline CSS and SVG, no script, every database text escaped.

use std::{fmt::Write, sync::LazyLock};

use base64::{Engine, engine::general_purpose::STANDARD};
use sha2::{Digest, Sha256};

use super::{
    charts,
    html_tables::{refused_table, room_days_table, rooms_table, waiting_table},
    model::{Dashboard, MAX_DAYS},
    text::{count, dashboard_href, escape, percent, utc_minute},
};
use crate::store::reads::KnockOutcome;

const STYLE: &str = include_str!("style.css");

/// The page's Content-Security-Policy: its own stylesheet (by hash) and nothing else, no script,
/// nothing from the network, so it works behind a firewall and an injected tag does nothing.
pub static CONTENT_SECURITY_POLICY: LazyLock<String> = LazyLock::new(|| {
    let hash = STANDARD.encode(Sha256::digest(STYLE.as_bytes()));
    format!(
        "default-src 'none'; style-src 'sha256-{hash}'; img-src data:; form-action 'self'; \
         base-uri 'none'; frame-ancestors 'none'"
    )
});

fn document(title: &str, body: &str) -> String {
    format!(
        r#"<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>{title}</title><link rel="icon" href="data:,"><style>{STYLE}</style></head><body>{body}<footer>All times are UTC. Read from the <code>knocks</code> and <code>knock_daily_stats</code> views.</footer></body></html>"#,
        title = escape(title)
    )
}

/// The whole page for these numbers.
pub fn render(d: &Dashboard) -> String {
    let room = d.filters.room.as_deref();
    let mut body = header(d);
    body.push_str("<main>");
    body.push_str(&summary(d));
    if d.is_empty() {
        body.push_str(&empty_state(d));
    } else {
        body.push_str(&charts_section(d));
        body.push_str(&waiting_table(d));
        body.push_str(&rooms_table(d));
        if let Some(room) = room {
            body.push_str(&room_days_table(room, &d.room_days));
        }
    }
    body.push_str(&refused_table(d));
    body.push_str("</main>");
    let title = match room {
        Some(room) => format!("Knocks in {room} · lobbylog"),
        None => "Knocks · lobbylog".into(),
    };
    document(&title, &body)
}

/// A page that says what was wrong with the request.
pub fn error_page(message: &str) -> String {
    let body = format!(
        r#"<header><h1>Knocks</h1></header><main><section class="empty" id="error"><h2>Cannot show this page</h2><p>{}</p><p><a href="?">Show the last 30 days of every room</a></p></section></main>"#,
        escape(message)
    );
    document("Knocks · lobbylog", &body)
}

fn header(d: &Dashboard) -> String {
    let days = d.filters.days;
    let scope = match &d.filters.room {
        Some(room) => format!(
            r#"room <strong id="room-filter">{}</strong> (<a href="{}">all rooms</a>)"#,
            escape(room),
            dashboard_href(None, days)
        ),
        None => "every room".into(),
    };
    let room_value = escape(d.filters.room.as_deref().unwrap_or(""));
    let options: String = d
        .rooms
        .iter()
        .map(|r| format!(r#"<option value="{}">"#, escape(&r.room)))
        .collect();
    format!(
        r#"<header><h1>Knocks</h1><p class="window">Last {days} day{s} in {scope}: knocks since {since} UTC. <span id="freshness">{fresh}</span></p><form method="get"><label>Room<input name="room" value="{room_value}" list="room-names" placeholder="all rooms"></label><datalist id="room-names">{options}</datalist><label>Days<input name="days" type="number" min="1" max="{MAX_DAYS}" value="{days}" inputmode="numeric"></label><button type="submit">Show</button></form></header>"#,
        s = if days == 1 { "" } else { "s" },
        since = utc_minute(d.since),
        fresh = freshness(d),
    )
}

/// What the numbers read from the rollups leave out: changes of the last seconds, if any.
fn freshness(d: &Dashboard) -> String {
    let source = match d.filters.room {
        Some(_) => "The days table comes from the rollups",
        None => "Counts come from the rollups",
    };
    match d.rollup_lag {
        lag if lag < 0.5 => format!("{source}, up to date."),
        lag => format!(
            "{source}: changes of the last {} s are not in them yet.",
            lag.ceil()
        ),
    }
}

fn summary(d: &Dashboard) -> String {
    let t = &d.totals;
    let items = [
        ("knocks", "knocks", count(t.total())),
        ("admitted", "admitted", count(t.admitted)),
        ("abandoned", "abandoned", count(t.abandoned)),
        ("abandon-rate", "abandon rate", percent(t.abandon_rate())),
        ("waiting-now", "knocking now", count(d.waiting_count)),
    ];
    let mut out = String::from(r#"<dl class="summary">"#);
    for (id, label, value) in items {
        let _ = write!(
            out,
            r#"<div><dt>{label}</dt><dd id="{id}">{value}</dd></div>"#
        );
    }
    out.push_str("</dl>");
    out
}

fn empty_state(d: &Dashboard) -> String {
    let (place, back) = match &d.filters.room {
        Some(room) => (
            format!("in room <strong>{}</strong>", escape(room)),
            format!(
                r#" <a href="{}">Show every room</a>."#,
                dashboard_href(None, d.filters.days)
            ),
        ),
        None => (String::new(), String::new()),
    };
    format!(
        r#"<section class="empty" id="empty"><h2>No knocks yet</h2><p>No one has knocked {place} in the last {days} days. Knocks appear here once Daily sends <code>waiting-participant</code> events.{back}</p></section>"#,
        days = d.filters.days
    )
}

fn charts_section(d: &Dashboard) -> String {
    let mut out = String::from(r#"<section class="charts">"#);
    for chart in charts::all(d) {
        let _ = write!(
            out,
            "<figure><figcaption>{}</figcaption>{}",
            escape(chart.title),
            chart.render()
        );
        if chart.id == "knocks-per-day" {
            out.push_str(&legend());
        }
        if chart.id == "abandons-by-hour" {
            out.push_str(&busiest_hours(d));
        }
        out.push_str("</figure>");
    }
    out.push_str("</section>");
    out
}

fn legend() -> String {
    let items: String = KnockOutcome::ALL
        .iter()
        .map(|o| {
            format!(
                r#"<li><span class="swatch {}"></span>{}</li>"#,
                charts::outcome_class(*o),
                o.as_str()
            )
        })
        .collect();
    format!(r#"<ul class="legend">{items}</ul>"#)
}

fn busiest_hours(d: &Dashboard) -> String {
    let hours = d.busiest_abandon_hours(5);
    if hours.is_empty() {
        return r#"<p class="note">No abandoned knocks in this window.</p>"#.into();
    }
    let listed: Vec<String> = hours
        .iter()
        .map(|(h, n)| {
            format!(r#"<span data-hour="{h}" data-abandoned="{n}">{h:02}:00 ({n})</span>"#)
        })
        .collect();
    format!(
        r#"<p class="note" id="busiest-hours">Busiest: {}</p>"#,
        listed.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        admin::dashboard::model::{Filters, Reads},
        store::reads::{DayTally, RoomSummary},
    };

    fn dashboard(room: Option<&str>, reads: Reads) -> Dashboard {
        let filters = Filters::parse(room, Some("7")).unwrap();
        Dashboard::build(filters, 19_700.0 * 86_400.0, 19_707.0 * 86_400.0, reads)
    }

    #[test]
    fn an_empty_window_says_so_and_draws_no_chart() {
        let html = render(&dashboard(Some("<b>"), Reads::default()));
        assert!(html.contains("No knocks yet") && html.contains("&lt;b&gt;"));
        assert!(!html.contains("<svg") && !html.contains("<b>"));
    }

    #[test]
    fn names_from_the_database_are_text_and_every_chart_is_drawn() {
        let room = "<script>alert(1)</script>";
        let reads = Reads {
            days: vec![DayTally {
                day: "2023-12-09".into(),
                admitted: 0,
                abandoned: 2,
                waiting: 0,
                unresolved: 0,
                abandoned_by_hour: (0..24).map(|h| i32::from(h == 3) * 2).collect(),
                abandoned_waits: vec![0, 2, 0, 0, 0],
                admitted_waits: vec![0; 5],
            }],
            rollup_lag: 3.2,
            rooms: vec![RoomSummary {
                room: room.into(),
                knocks: 2,
                admitted: 0,
                abandoned: 2,
                abandoned_wait_p50: Some(12.0),
                abandoned_wait_p90: Some(20.0),
                admitted_wait_p50: None,
                admitted_wait_p90: None,
                rooms: 1,
            }],
            ..Reads::default()
        };
        let html = render(&dashboard(None, reads));
        assert!(!html.contains("<script"), "{html}");
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert_eq!(html.matches(r#"<svg class="chart""#).count(), 5);
        assert!(html.contains(r#"<dd id="abandon-rate">100.0 %</dd>"#));
        assert!(
            html.contains("changes of the last 4 s are not in them yet"),
            "{html}"
        );
    }

    #[test]
    fn the_policy_allows_exactly_the_inline_stylesheet() {
        let hash = STANDARD.encode(Sha256::digest(STYLE.as_bytes()));
        let policy = CONTENT_SECURITY_POLICY.as_str();
        assert!(policy.contains(&format!("style-src 'sha256-{hash}'")));
        assert!(policy.starts_with("default-src 'none'") && !policy.contains("script-src"));
        let html = render(&dashboard(None, Reads::default()));
        assert!(html.contains(&format!("<style>{STYLE}</style>")));
    }
}
