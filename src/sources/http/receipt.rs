//! What a webhook accepted with a 200 tells Daily, and the answer's body.

use axum::{
    Json,
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};
use serde_json::json;

/// What a 200 answer tells Daily (and whoever reads the logs).
#[derive(Debug)]
pub(super) struct Receipt {
    /// The metrics' outcome: stored, duplicate, rejected, refused, probe or spooled.
    pub(super) outcome: &'static str,
    pub(super) event_id: Option<String>,
    pub(super) event_type: Option<String>,
}

impl Receipt {
    /// The answer's `status`: both kinds of dead letter answer `dead_lettered`.
    pub(super) fn status(&self) -> &'static str {
        match self.outcome {
            "rejected" | "refused" => "dead_lettered",
            "conflict" => "duplicate",
            other => other,
        }
    }

    /// The 200 answer: `{"status": ...}`.
    pub(super) fn answer(&self) -> Response {
        accepted(self.status())
    }
}

/// A 200 with `{"status": ...}`, its body written once rather than built per request.
fn accepted(status: &'static str) -> Response {
    let body = match status {
        "stored" => r#"{"status":"stored"}"#,
        "duplicate" => r#"{"status":"duplicate"}"#,
        "dead_lettered" => r#"{"status":"dead_lettered"}"#,
        "probe" => r#"{"status":"probe"}"#,
        "spooled" => r#"{"status":"spooled"}"#,
        other => return (StatusCode::OK, Json(json!({ "status": other }))).into_response(),
    };
    let json = header::HeaderValue::from_static("application/json");
    ([(header::CONTENT_TYPE, json)], body).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_kinds_of_dead_letter_answer_dead_lettered() {
        for (outcome, status) in [
            ("rejected", "dead_lettered"),
            ("refused", "dead_lettered"),
            ("stored", "stored"),
            ("spooled", "spooled"),
            ("conflict", "duplicate"),
        ] {
            let receipt = Receipt {
                outcome,
                event_id: None,
                event_type: None,
            };
            assert_eq!(receipt.status(), status);
        }
    }

    #[tokio::test]
    async fn the_written_answers_are_the_json_of_their_status() {
        for status in [
            "stored",
            "duplicate",
            "dead_lettered",
            "probe",
            "spooled",
            "other",
        ] {
            let response = accepted(status);
            assert_eq!(response.status(), StatusCode::OK);
            assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json");
            let body = axum::body::to_bytes(response.into_body(), 1024)
                .await
                .unwrap();
            let value: serde_json::Value = serde_json::from_slice(&body).unwrap();
            assert_eq!(value, json!({ "status": status }));
        }
    }
}
