//! The knock dashboard: what it shows, read through the store and rendered as one HTML page.

mod charts;
mod filters;
mod html_tables;
mod model;
mod page;
mod svg;
mod text;

use std::time::{SystemTime, UNIX_EPOCH};

use sqlx::PgPool;

pub use model::{DEFAULT_DAYS, Dashboard, Filters, MAX_DAYS, Reads, utc_date, window_start};
pub use page::{CONTENT_SECURITY_POLICY, error_page, render};

use crate::store::{
    reads::{self, Window},
    rollups,
};

/// Rows of the rooms table and of the knocking-now table, at most.
const ROOMS_SHOWN: i64 = 50;
const WAITING_SHOWN: i64 = 20;

/// Runs the page's reads at once, each on its own connection, and folds them. Every room: the
/// rollups. One room: its knocks, exactly, from the sessions.
pub async fn load(pool: &PgPool, filters: Filters) -> sqlx::Result<Dashboard> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    let since = window_start(now, filters.days);
    let window = Window { since };
    let room = filters.room.as_deref();
    let days = async {
        match room {
            Some(room) => reads::tally_room_days(pool, &window, room).await,
            None => reads::tally_days(pool, &window).await,
        }
    };
    let rooms = async {
        match room {
            Some(room) => reads::summarize_room(pool, &window, room).await,
            None => reads::summarize_rooms(pool, &window, ROOMS_SHOWN).await,
        }
    };
    let room_days = async {
        match room {
            Some(room) => reads::list_room_days(pool, room, since).await,
            None => Ok(Vec::new()),
        }
    };
    let (days, rooms, waiting, room_days, rollup_lag) = tokio::try_join!(
        days,
        rooms,
        reads::list_waiting(pool, room, WAITING_SHOWN),
        room_days,
        rollups::lag_seconds(pool),
    )?;
    let reads = Reads {
        days,
        rooms,
        waiting,
        room_days,
        rollup_lag,
    };
    Ok(Dashboard::build(filters, since, now, reads))
}
