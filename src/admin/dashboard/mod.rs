//! The knock dashboard: what it shows, read through the store and rendered as one HTML page.

mod charts;
mod html_tables;
mod model;
mod page;
mod svg;
mod text;

use std::time::{SystemTime, UNIX_EPOCH};

use sqlx::PgPool;

pub use model::{DEFAULT_DAYS, Dashboard, Filters, MAX_DAYS, Reads, utc_date};
pub use page::{CONTENT_SECURITY_POLICY, error_page, render};

use crate::store::reads::{self, Window};

/// Rows of the rooms table and of the knocking-now table, at most.
const ROOMS_SHOWN: i64 = 50;
const WAITING_SHOWN: i64 = 20;

/// Runs the page's reads at once, each on its own connection, and folds them.
pub async fn load(pool: &PgPool, filters: Filters) -> sqlx::Result<Dashboard> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    let since = now - f64::from(filters.days) * 86_400.0;
    let window = Window {
        since,
        room: filters.room.clone(),
    };
    let room_days = async {
        match &filters.room {
            Some(room) => reads::list_room_days(pool, room, since).await,
            None => Ok(Vec::new()),
        }
    };
    let (tallies, rooms, waiting, room_days) = tokio::try_join!(
        reads::tally_knocks(pool, &window),
        reads::summarize_rooms(pool, &window, ROOMS_SHOWN),
        reads::list_waiting(pool, filters.room.as_deref(), WAITING_SHOWN),
        room_days,
    )?;
    let reads = Reads {
        tallies,
        rooms,
        waiting,
        room_days,
    };
    Ok(Dashboard::build(filters, since, now, reads))
}
