//! The page's tables: who is knocking now, the rooms, one room's days, and what the webhook port
//! refused.

use super::{
    model::{Dashboard, abandon_rate},
    text::{count, dashboard_href, data_number, escape, percent, wait},
};
use crate::{
    refused::KEPT,
    store::reads::{RoomDay, RoomSummary},
};

fn table(id: &str, caption: &str, headers: &[&str], rows: &str) -> String {
    let head: String = headers.iter().map(|h| format!("<th>{h}</th>")).collect();
    format!(
        r#"<section class="table" id="{id}"><h2>{caption}</h2><table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table></section>"#
    )
}

pub fn waiting_table(d: &Dashboard) -> String {
    if d.waiting.is_empty() {
        return r#"<section class="table" id="waiting"><h2>Knocking right now</h2><p class="note">Nobody is waiting in a lobby.</p></section>"#.into();
    }
    let rows: String = d
        .waiting
        .iter()
        .map(|k| {
            format!(
                r#"<tr data-room="{room}" data-session="{session}" data-waited="{waited}"><td>{room}</td><td>{who}</td><td>{shown}</td></tr>"#,
                room = escape(&k.room),
                session = escape(&k.session_id),
                who = escape(k.user_name.as_deref().unwrap_or("(no name)")),
                waited = data_number(k.waited_seconds.round()),
                shown = wait(Some(k.waited_seconds)),
            )
        })
        .collect();
    let caption = if d.waiting_count > d.waiting.len() as i64 {
        format!(
            "Knocking right now: the {} longest waits of {}",
            d.waiting.len(),
            d.waiting_count
        )
    } else {
        format!("Knocking right now ({})", d.waiting_count)
    };
    table("waiting", &caption, &["room", "who", "waiting for"], &rows)
}

fn room_row(r: &RoomSummary, days: u32) -> String {
    let rate = abandon_rate(r.admitted, r.abandoned);
    format!(
        r#"<tr data-room="{room}" data-knocks="{k}" data-admitted="{ad}" data-abandoned="{ab}" data-abandon-rate="{rate_data}" data-abandoned-wait-p50="{a50}" data-abandoned-wait-p90="{a90}" data-admitted-wait-p50="{d50}" data-admitted-wait-p90="{d90}"><td><a href="{href}">{room}</a></td><td>{kc}</td><td>{abc}</td><td>{rate}</td><td>{a50s}</td><td>{a90s}</td><td>{d50s}</td><td>{d90s}</td></tr>"#,
        room = escape(&r.room),
        href = dashboard_href(Some(&r.room), days),
        k = r.knocks,
        ad = r.admitted,
        ab = r.abandoned,
        kc = count(r.knocks),
        abc = count(r.abandoned),
        rate_data = rate.map(data_number).unwrap_or_default(),
        rate = percent(rate),
        a50 = r.abandoned_wait_p50.map(data_number).unwrap_or_default(),
        a90 = r.abandoned_wait_p90.map(data_number).unwrap_or_default(),
        d50 = r.admitted_wait_p50.map(data_number).unwrap_or_default(),
        d90 = r.admitted_wait_p90.map(data_number).unwrap_or_default(),
        a50s = wait(r.abandoned_wait_p50),
        a90s = wait(r.abandoned_wait_p90),
        d50s = wait(r.admitted_wait_p50),
        d90s = wait(r.admitted_wait_p90),
    )
}

pub fn rooms_table(d: &Dashboard) -> String {
    let rows: String = d
        .rooms
        .iter()
        .map(|r| room_row(r, d.filters.days))
        .collect();
    let caption = if d.room_count > d.rooms.len() as i64 {
        format!(
            "Rooms: the {} with most knocks of {}",
            d.rooms.len(),
            d.room_count
        )
    } else {
        "Rooms".into()
    };
    let headers = [
        "room",
        "knocks",
        "abandoned",
        "abandon rate",
        "gave up after, p50",
        "p90",
        "admitted after, p50",
        "p90",
    ];
    table("rooms", &caption, &headers, &rows)
}

pub fn room_days_table(room: &str, days: &[RoomDay]) -> String {
    let rows: String = days
        .iter()
        .map(|r| {
            format!(
                r#"<tr data-day="{day}" data-knocks="{k}" data-admitted="{ad}" data-abandoned="{ab}" data-abandon-rate="{rate_data}" data-abandoned-wait-p50="{a50}" data-admitted-wait-p90="{d90}"><td>{day}</td><td>{k}</td><td>{ad}</td><td>{ab}</td><td>{rate}</td><td>{a50s}</td><td>{d90s}</td></tr>"#,
                day = escape(&r.day),
                k = r.knocks,
                ad = r.admitted,
                ab = r.abandoned,
                rate_data = r.abandon_rate.map(data_number).unwrap_or_default(),
                rate = percent(r.abandon_rate),
                a50 = r.abandoned_wait_p50.map(data_number).unwrap_or_default(),
                d90 = r.admitted_wait_p90.map(data_number).unwrap_or_default(),
                a50s = wait(r.abandoned_wait_p50),
                d90s = wait(r.admitted_wait_p90),
            )
        })
        .collect();
    let headers = [
        "day (UTC)",
        "knocks",
        "admitted",
        "abandoned",
        "abandon rate",
        "gave up after, p50",
        "admitted after, p90",
    ];
    table(
        "room-days",
        &format!("Days of {}", escape(room)),
        &headers,
        &rows,
    )
}

/// Requests the webhook port refused lately, by reason; nothing when there were none.
pub fn refused_table(d: &Dashboard) -> String {
    if d.refused.is_empty() {
        return String::new();
    }
    let rows: String = d
        .refused
        .iter()
        .map(|r| {
            format!(
                r#"<tr data-reason="{reason}" data-requests="{n}"><td><a href="/refused?reason={reason}">{reason}</a></td><td>{n}</td><td>{last}</td></tr>"#,
                reason = r.reason,
                n = r.requests,
                last = super::text::utc_minute(r.last_at),
            )
        })
        .collect();
    table(
        "refused",
        &format!("Refused at the webhook port, among the last {KEPT} refusals"),
        &["reason", "requests", "last (UTC)"],
        &rows,
    )
}
