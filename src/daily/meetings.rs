//! GET /meetings: pages of meetings (newest first) and the pull that stores them.

use std::collections::HashSet;

use serde::{Deserialize, Deserializer};
use sqlx::PgPool;
use time::OffsetDateTime;

use super::{
    answer_shapes::List,
    client::{ApiError, Client},
    timestamps,
};
use crate::{
    progress::Progress,
    store::daily_api::{self as rows, MeetingRow, ParticipantRow},
};

/// The most meetings Daily returns per page.
pub const PAGE_SIZE: u32 = 100;

#[derive(Debug, Clone, Deserialize)]
pub struct Meeting {
    pub id: String,
    pub room: String,
    #[serde(deserialize_with = "timestamps::required")]
    pub start_time: OffsetDateTime,
    #[serde(default)]
    pub duration: Option<f64>,
    #[serde(default, deserialize_with = "null_as_false")]
    pub ongoing: bool,
    #[serde(default)]
    pub max_participants: Option<i32>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub participants: Vec<Participant>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Participant {
    #[serde(default)]
    pub user_id: Option<String>,
    pub participant_id: String,
    #[serde(default)]
    pub user_name: Option<String>,
    #[serde(deserialize_with = "timestamps::required")]
    pub join_time: OffsetDateTime,
    #[serde(default)]
    pub duration: Option<f64>,
}

fn null_as_false<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    Ok(Option::<bool>::deserialize(d)?.unwrap_or(false))
}

fn null_as_empty<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Participant>, D::Error> {
    Ok(Option::<Vec<Participant>>::deserialize(d)?.unwrap_or_default())
}

/// One page: `{"total_count", "data"}` (or a bare list, whose total is unknown).
#[derive(Debug)]
pub struct Page {
    pub total_count: Option<u64>,
    pub meetings: Vec<Meeting>,
}

impl<'de> Deserialize<'de> for Page {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = serde_json::Value::deserialize(d)?;
        let total_count = value.get("total_count").and_then(serde_json::Value::as_u64);
        let List(meetings) = serde_json::from_value(value).map_err(serde::de::Error::custom)?;
        Ok(Self {
            total_count,
            meetings,
        })
    }
}

/// The meetings that started in `[since, until)`, the page after the meeting `starting_after`.
pub async fn page(
    client: &Client,
    since: OffsetDateTime,
    until: OffsetDateTime,
    starting_after: Option<&str>,
) -> Result<Page, ApiError> {
    let mut query = vec![
        ("timeframe_start", since.unix_timestamp().to_string()),
        ("timeframe_end", until.unix_timestamp().to_string()),
        ("limit", PAGE_SIZE.to_string()),
    ];
    if let Some(cursor) = starting_after {
        query.push(("starting_after", cursor.to_owned()));
    }
    client.get("/meetings", &query).await
}

/// What a pull read and stored.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Pulled {
    pub pages: u64,
    pub meetings: u64,
    pub participants: u64,
    pub meetings_new: u64,
    pub participants_new: u64,
}

/// Pages through every meeting of the window and upserts each page in one transaction.
pub async fn pull(
    client: &Client,
    pool: &PgPool,
    since: OffsetDateTime,
    until: OffsetDateTime,
) -> anyhow::Result<Pulled> {
    let mut pulled = Pulled::default();
    let mut cursor: Option<String> = None;
    let mut progress: Option<Progress> = None;
    let mut seen = HashSet::new();
    loop {
        let page = page(client, since, until, cursor.as_deref()).await?;
        let progress =
            progress.get_or_insert_with(|| Progress::new("pull-meetings", page.total_count, false));
        let Some(last) = page.meetings.last().map(|m| m.id.clone()) else {
            break;
        };
        let fresh: Vec<Meeting> = page
            .meetings
            .into_iter()
            .filter(|m| seen.insert(m.id.clone()))
            .collect();
        if fresh.is_empty() {
            // Daily handed back a page already read: the cursor no longer moves.
            break;
        }
        store_page(pool, &fresh, &mut pulled).await?;
        progress.advance(fresh.len() as u64);
        progress.set_message(format!("{} participants", pulled.participants));
        if page
            .total_count
            .is_some_and(|total| pulled.meetings >= total)
        {
            break;
        }
        cursor = Some(last);
    }
    if let Some(progress) = progress {
        progress.finish();
    }
    Ok(pulled)
}

async fn store_page(
    pool: &PgPool,
    meetings: &[Meeting],
    pulled: &mut Pulled,
) -> anyhow::Result<()> {
    let meeting_rows: Vec<MeetingRow> = meetings.iter().map(meeting_row).collect();
    let mut seen = HashSet::new();
    let participant_rows: Vec<ParticipantRow> = meetings
        .iter()
        .flat_map(|m| m.participants.iter().map(move |p| participant_row(m, p)))
        // Postgres refuses to upsert one key twice in a statement.
        .filter(|p| seen.insert((p.meeting_id, p.participant_id)))
        .collect();
    let upserted = rows::upsert_meetings(pool, &meeting_rows, &participant_rows)
        .await
        .map_err(|e| anyhow::anyhow!(e).context("storing a page of meetings"))?;
    pulled.pages += 1;
    pulled.meetings += meeting_rows.len() as u64;
    pulled.participants += participant_rows.len() as u64;
    pulled.meetings_new += upserted.meetings_new;
    pulled.participants_new += upserted.participants_new;
    Ok(())
}

fn meeting_row(m: &Meeting) -> MeetingRow<'_> {
    MeetingRow {
        id: &m.id,
        room: &m.room,
        start_time: m.start_time,
        duration_seconds: m.duration,
        ongoing: m.ongoing,
        max_participants: m.max_participants,
    }
}

fn participant_row<'a>(m: &'a Meeting, p: &'a Participant) -> ParticipantRow<'a> {
    ParticipantRow {
        meeting_id: &m.id,
        participant_id: &p.participant_id,
        user_id: p.user_id.as_deref(),
        user_name: p.user_name.as_deref(),
        join_time: p.join_time,
        duration_seconds: p.duration,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use time::macros::datetime;

    use super::*;

    fn meeting(start: serde_json::Value, join: serde_json::Value) -> serde_json::Value {
        json!({
            "id": "m-1", "room": "lobby", "start_time": start, "duration": 1800,
            "ongoing": false, "max_participants": 2,
            "participants": [{"user_id": null, "participant_id": "p-1", "user_name": "Ann",
                              "join_time": join, "duration": 1790}]
        })
    }

    #[test]
    fn a_page_decodes_with_times_in_either_encoding() {
        let t = datetime!(2024-06-28 14:57:08 UTC);
        for (start, join) in [
            (json!(1719586628), json!(1719586628)),
            (
                json!("2024-06-28T14:57:08Z"),
                json!("2024-06-28T14:57:08.000Z"),
            ),
        ] {
            let body = json!({"total_count": 1, "data": [meeting(start, join)]});
            let page: Page = serde_json::from_value(body).unwrap();
            assert_eq!(page.total_count, Some(1));
            let m = &page.meetings[0];
            assert_eq!((m.start_time, m.participants[0].join_time), (t, t));
            assert_eq!((m.duration, m.max_participants), (Some(1800.0), Some(2)));
        }
    }

    #[test]
    fn a_bare_list_and_null_fields_are_accepted() {
        let mut m = meeting(json!(1719586628), json!(1719586628));
        m["ongoing"] = json!(null);
        m["participants"] = json!(null);
        let page: Page = serde_json::from_value(json!([m])).unwrap();
        assert_eq!(page.total_count, None);
        assert!(!page.meetings[0].ongoing && page.meetings[0].participants.is_empty());
    }

    #[test]
    fn a_meeting_without_a_start_time_is_refused_by_name() {
        let mut m = meeting(json!(1719586628), json!(1719586628));
        m.as_object_mut().unwrap().remove("start_time");
        let err = serde_json::from_value::<Page>(json!({"data": [m]})).unwrap_err();
        assert!(err.to_string().contains("start_time"), "{err}");
    }
}
