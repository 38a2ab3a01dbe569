//! Rows from Daily's REST API: delivery gaps, and pulled meetings with their participants.

use sqlx::{PgPool, Postgres, Transaction};
use time::OffsetDateTime;

/// What is known of a webhook found not active.
pub struct GapStart<'a> {
    pub webhook_uuid: &'a str,
    pub webhook_url: &'a str,
    pub state: &'a str,
    pub failed_count: i64,
    pub last_event_at: Option<OffsetDateTime>,
    pub detected_at: OffsetDateTime,
    /// `watchdog` or `reactivate`.
    pub detected_by: &'static str,
}

/// Whether a gap is open for this webhook.
pub async fn has_open_gap(pool: &PgPool, webhook_uuid: &str) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(
        "select exists (select 1 from delivery_gaps where webhook_uuid = $1 and reactivated_at is null)",
    )
    .bind(webhook_uuid)
    .fetch_one(pool)
    .await
}

/// Opens a gap unless one is open for this webhook already; says whether it opened one.
pub async fn open_gap(pool: &PgPool, gap: &GapStart<'_>) -> Result<bool, sqlx::Error> {
    let opened = sqlx::query(
        "insert into delivery_gaps
             (webhook_uuid, webhook_url, state, failed_count, last_event_at, detected_at, detected_by)
         values ($1, $2, $3, $4, $5, $6, $7)
         on conflict (webhook_uuid) where reactivated_at is null do nothing",
    )
    .bind(gap.webhook_uuid)
    .bind(gap.webhook_url)
    .bind(gap.state)
    .bind(gap.failed_count)
    .bind(gap.last_event_at)
    .bind(gap.detected_at)
    .bind(gap.detected_by)
    .execute(pool)
    .await?;
    Ok(opened.rows_affected() == 1)
}

/// Closes the webhook's open gap, if any: at `reported` (Daily's word on when it changed) when
/// that falls after the detection and is not in the future, else now.
pub async fn close_gap(
    pool: &PgPool,
    webhook_uuid: &str,
    reported: Option<OffsetDateTime>,
) -> Result<bool, sqlx::Error> {
    let closed = sqlx::query(
        "update delivery_gaps
         set reactivated_at = case when $2 > detected_at and $2 <= now() then $2 else now() end,
             closed_because = 'active_again'
         where webhook_uuid = $1 and reactivated_at is null",
    )
    .bind(webhook_uuid)
    .bind(reported)
    .execute(pool)
    .await?;
    Ok(closed.rows_affected() == 1)
}

/// Closes, now, the open gaps of webhooks not in `listed`: Daily no longer has them, so they will
/// never be seen active again. Returns the webhooks whose gap it closed.
pub async fn close_gaps_of_gone(
    pool: &PgPool,
    listed: &[&str],
) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar(
        "update delivery_gaps
         set reactivated_at = greatest(now(), detected_at), closed_because = 'webhook_gone'
         where reactivated_at is null and webhook_uuid <> all($1)
         returning webhook_uuid",
    )
    .bind(listed)
    .fetch_all(pool)
    .await
}

/// When the newest event received at or before `before` was received.
///
/// `webhook_events` has only a BRIN index on `received_at`: it cannot hand over the maximum,
/// but it lets Postgres skip every block range outside a window. So look back from `before` in
/// growing windows: a gap found within the hour reads the table's last block ranges only, and
/// the whole table is read only when nothing arrived in the year before.
pub async fn last_event_received(
    pool: &PgPool,
    before: OffsetDateTime,
) -> Result<Option<OffsetDateTime>, sqlx::Error> {
    for window in ["1 hour", "1 day", "7 days", "30 days", "365 days"] {
        let newest: Option<OffsetDateTime> = sqlx::query_scalar(
            "select max(received_at) from webhook_events
             where received_at > $1 - $2::interval and received_at <= $1",
        )
        .bind(before)
        .bind(window)
        .fetch_one(pool)
        .await?;
        if newest.is_some() {
            return Ok(newest);
        }
    }
    sqlx::query_scalar("select max(received_at) from webhook_events where received_at <= $1")
        .bind(before)
        .fetch_one(pool)
        .await
}

/// A meeting as GET /meetings lists it.
pub struct MeetingRow<'a> {
    pub id: &'a str,
    pub room: &'a str,
    pub start_time: OffsetDateTime,
    pub duration_seconds: Option<f64>,
    pub ongoing: bool,
    pub max_participants: Option<i32>,
}

pub struct ParticipantRow<'a> {
    pub meeting_id: &'a str,
    pub participant_id: &'a str,
    pub user_id: Option<&'a str>,
    pub user_name: Option<&'a str>,
    pub join_time: OffsetDateTime,
    pub duration_seconds: Option<f64>,
}

/// How many rows of a page were new (the rest were updated in place).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Upserted {
    pub meetings_new: u64,
    pub participants_new: u64,
}

/// Stores a page of meetings and their participants in one transaction, keyed by Daily's ids.
pub async fn upsert_meetings(
    pool: &PgPool,
    meetings: &[MeetingRow<'_>],
    participants: &[ParticipantRow<'_>],
) -> Result<Upserted, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let meetings_new = upsert_meeting_rows(&mut tx, meetings).await?;
    let participants_new = upsert_participant_rows(&mut tx, participants).await?;
    tx.commit().await?;
    Ok(Upserted {
        meetings_new,
        participants_new,
    })
}

async fn upsert_meeting_rows(
    tx: &mut Transaction<'_, Postgres>,
    rows: &[MeetingRow<'_>],
) -> Result<u64, sqlx::Error> {
    let ids: Vec<&str> = rows.iter().map(|m| m.id).collect();
    let rooms: Vec<&str> = rows.iter().map(|m| m.room).collect();
    let starts: Vec<OffsetDateTime> = rows.iter().map(|m| m.start_time).collect();
    let durations: Vec<Option<f64>> = rows.iter().map(|m| m.duration_seconds).collect();
    let ongoing: Vec<bool> = rows.iter().map(|m| m.ongoing).collect();
    let max: Vec<Option<i32>> = rows.iter().map(|m| m.max_participants).collect();
    // xmax = 0 marks a row this statement inserted rather than updated.
    let inserted: Vec<bool> = sqlx::query_scalar(
        "insert into daily_meetings (id, room, start_time, duration_seconds, ongoing, max_participants)
         select * from unnest($1::text[], $2::text[], $3::timestamptz[], $4::float8[], $5::bool[], $6::int4[])
         on conflict (id) do update set
             room = excluded.room, start_time = excluded.start_time,
             duration_seconds = excluded.duration_seconds, ongoing = excluded.ongoing,
             max_participants = excluded.max_participants, pulled_at = now()
         returning xmax = 0",
    )
    .bind(ids)
    .bind(rooms)
    .bind(starts)
    .bind(durations)
    .bind(ongoing)
    .bind(max)
    .fetch_all(&mut **tx)
    .await?;
    Ok(inserted.iter().filter(|new| **new).count() as u64)
}

async fn upsert_participant_rows(
    tx: &mut Transaction<'_, Postgres>,
    rows: &[ParticipantRow<'_>],
) -> Result<u64, sqlx::Error> {
    let meetings: Vec<&str> = rows.iter().map(|p| p.meeting_id).collect();
    let ids: Vec<&str> = rows.iter().map(|p| p.participant_id).collect();
    let users: Vec<Option<&str>> = rows.iter().map(|p| p.user_id).collect();
    let names: Vec<Option<&str>> = rows.iter().map(|p| p.user_name).collect();
    let joins: Vec<OffsetDateTime> = rows.iter().map(|p| p.join_time).collect();
    let durations: Vec<Option<f64>> = rows.iter().map(|p| p.duration_seconds).collect();
    let inserted: Vec<bool> = sqlx::query_scalar(
        "insert into daily_meeting_participants
             (meeting_id, participant_id, user_id, user_name, join_time, duration_seconds)
         select * from unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[], $6::float8[])
         on conflict (meeting_id, participant_id) do update set
             user_id = excluded.user_id, user_name = excluded.user_name,
             join_time = excluded.join_time, duration_seconds = excluded.duration_seconds
         returning xmax = 0",
    )
    .bind(meetings)
    .bind(ids)
    .bind(users)
    .bind(names)
    .bind(joins)
    .bind(durations)
    .fetch_all(&mut **tx)
    .await?;
    Ok(inserted.iter().filter(|new| **new).count() as u64)
}
