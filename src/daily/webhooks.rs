//! Daily's webhook objects, decoded leniently, and the calls that list, create and update them.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Value, json};
use time::OffsetDateTime;

pub use super::webhook_state::State;
use super::{
    answer_shapes::{List, One},
    client::{ApiError, Client},
    timestamps,
};

/// What lobbylog subscribes to when `register` is given no `--event-types`: what it projects.
pub const DEFAULT_EVENT_TYPES: [&str; 6] = [
    "meeting.started",
    "meeting.ended",
    "participant.joined",
    "participant.left",
    "waiting-participant.joined",
    "waiting-participant.left",
];

/// A webhook `hmac` secret (base64): serialized for Daily, never shown by `Debug`.
#[derive(Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(transparent)]
pub struct Hmac(String);

impl Hmac {
    pub fn new(base64: String) -> Self {
        Self(base64)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Hmac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Webhook {
    pub uuid: String,
    pub url: String,
    pub state: State,
    #[serde(default)]
    pub hmac: Option<Hmac>,
    #[serde(default)]
    pub retry_type: Option<String>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub event_types: Vec<String>,
    #[serde(default)]
    pub failed_count: Option<u64>,
    #[serde(default, deserialize_with = "timestamps::lenient")]
    pub last_moment_pushed: Option<OffsetDateTime>,
    #[serde(default)]
    pub domain_id: Option<String>,
    #[serde(default, deserialize_with = "timestamps::lenient")]
    pub created_at: Option<OffsetDateTime>,
    #[serde(default, deserialize_with = "timestamps::lenient")]
    pub updated_at: Option<OffsetDateTime>,
}

impl Webhook {
    pub fn is_active(&self) -> bool {
        self.state == State::Active
    }

    pub fn failed_count(&self) -> u64 {
        self.failed_count.unwrap_or(0)
    }
}

fn null_as_empty<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    Ok(Option::<Vec<String>>::deserialize(d)?.unwrap_or_default())
}

/// What `register` sends: the URL, and the secret and event types when they are to change.
pub struct Change {
    pub url: String,
    pub hmac: Option<Hmac>,
    pub event_types: Option<Vec<String>>,
}

impl Change {
    fn body(&self) -> Value {
        let mut body = json!({ "url": self.url });
        if let Some(hmac) = &self.hmac {
            body["hmac"] = json!(hmac);
        }
        if let Some(types) = &self.event_types {
            body["eventTypes"] = json!(types);
        }
        body
    }

    fn refused(&self, e: ApiError) -> ApiError {
        match e {
            ApiError::BadRequest { message } => ApiError::ProbeFailed {
                url: self.url.clone(),
                message,
            },
            other => other,
        }
    }
}

pub async fn list(client: &Client) -> Result<Vec<Webhook>, ApiError> {
    let list: List<Webhook> = client.get("/webhooks", &[]).await?;
    Ok(list.0)
}

/// Creates a webhook; Daily probes the URL first and answers 400 if the probe fails.
pub async fn create(client: &Client, change: &Change) -> Result<Webhook, ApiError> {
    let created: One<Webhook> = client
        .post("/webhooks", change.body())
        .await
        .map_err(|e| change.refused(e))?;
    Ok(created.0)
}

/// Updates a webhook; posting its own URL again is how a FAILED webhook is re-activated.
pub async fn update(client: &Client, uuid: &str, change: &Change) -> Result<Webhook, ApiError> {
    let updated: One<Webhook> = client
        .post(&format!("/webhooks/{uuid}"), change.body())
        .await
        .map_err(|e| change.refused(e))?;
    Ok(updated.0)
}

pub async fn reactivate(client: &Client, webhook: &Webhook) -> Result<Webhook, ApiError> {
    let change = Change {
        url: webhook.url.clone(),
        hmac: None,
        event_types: None,
    };
    update(client, &webhook.uuid, &change).await
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use time::macros::datetime;

    use super::*;

    fn webhook(state: Value, time: Value) -> Value {
        json!({
            "uuid": "0b7e9c2a", "url": "https://x.test/webhooks/daily", "hmac": "c2VjcmV0",
            "basicAuth": null, "retryType": "circuit-breaker", "eventTypes": ["meeting.started"],
            "state": state, "failedCount": 3, "lastMomentPushed": time, "domainId": "d-1",
            "createdAt": time, "updatedAt": time
        })
    }

    #[test]
    fn states_decode_from_strings_and_numbers() {
        let cases = [
            (json!("ACTIVE"), State::Active),
            (json!("active"), State::Active),
            (json!("FAILED"), State::Failed),
            (json!("INACTIVE"), State::Inactive),
            (json!(0), State::Failed),
            (json!(1), State::Active),
            (json!(2), State::Stopped),
            (json!(7), State::Other("7".into())),
            (json!("PAUSED"), State::Other("PAUSED".into())),
        ];
        for (raw, state) in cases {
            let decoded: Webhook =
                serde_json::from_value(webhook(raw.clone(), Value::Null)).unwrap();
            assert_eq!(decoded.state, state, "{raw}");
            assert_eq!(decoded.is_active(), state == State::Active);
        }
        assert!(serde_json::from_value::<Webhook>(webhook(json!(true), Value::Null)).is_err());
    }

    #[test]
    fn times_decode_from_iso_8601_and_unix_seconds() {
        let t = datetime!(2024-06-28 14:57:08 UTC);
        for raw in [json!("2024-06-28T14:57:08.000Z"), json!(1719586628)] {
            let decoded: Webhook = serde_json::from_value(webhook(json!("FAILED"), raw)).unwrap();
            assert_eq!(decoded.last_moment_pushed, Some(t));
            assert_eq!((decoded.created_at, decoded.updated_at), (Some(t), Some(t)));
            assert_eq!(decoded.failed_count(), 3);
        }
    }

    #[test]
    fn lists_decode_bare_wrapped_or_alone() {
        let one = webhook(json!(1), json!(1719586628));
        for body in [
            json!([one.clone()]),
            json!({ "data": [one.clone()] }),
            one.clone(),
        ] {
            let List(list) = serde_json::from_value::<List<Webhook>>(body.clone()).unwrap();
            assert_eq!(
                (list.len(), list[0].uuid.as_str()),
                (1, "0b7e9c2a"),
                "{body}"
            );
        }
        for empty in [json!({ "data": [] }), json!([])] {
            assert!(
                serde_json::from_value::<List<Webhook>>(empty)
                    .unwrap()
                    .0
                    .is_empty()
            );
        }
        let err = serde_json::from_value::<List<Webhook>>(json!([{"url": "u", "state": 1}]));
        assert!(err.unwrap_err().to_string().contains("uuid"));
    }

    #[test]
    fn optional_fields_may_be_missing_or_null() {
        let minimal =
            json!({"uuid": "u", "url": "https://x.test", "state": "ACTIVE", "eventTypes": null});
        let decoded: Webhook = serde_json::from_value(minimal).unwrap();
        assert!(decoded.event_types.is_empty() && decoded.hmac.is_none());
        assert_eq!(
            (decoded.failed_count(), decoded.last_moment_pushed),
            (0, None)
        );
    }

    #[test]
    fn the_hmac_never_shows_in_debug_output() {
        let decoded: Webhook = serde_json::from_value(webhook(json!(1), Value::Null)).unwrap();
        let debug = format!("{decoded:?}");
        assert!(
            !debug.contains("c2VjcmV0") && debug.contains("[redacted]"),
            "{debug}"
        );
    }

    #[test]
    fn a_change_sends_only_what_changes() {
        let change = Change {
            url: "https://x.test".into(),
            hmac: None,
            event_types: None,
        };
        assert_eq!(change.body(), json!({"url": "https://x.test"}));
        let change = Change {
            url: "https://x.test".into(),
            hmac: Some(Hmac::new("c2VjcmV0".into())),
            event_types: Some(vec!["meeting.ended".into()]),
        };
        assert_eq!(
            change.body(),
            json!({"url": "https://x.test", "hmac": "c2VjcmV0", "eventTypes": ["meeting.ended"]})
        );
    }
}
