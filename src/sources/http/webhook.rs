//! `POST /webhooks/daily`: verify, triage, store (or keep in the fallback), answer.

use std::time::Instant;

use axum::{
    Json,
    body::Bytes,
    extract::{State, rejection::BytesRejection},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
};
use serde_json::json;

use super::AppState;
use crate::{
    signature::{self, SIGNATURE_HEADER, SignatureError, TIMESTAMP_HEADER, Verification},
    store::{Item, Origin},
};

/// What a 200 answer tells Daily (and whoever reads the logs).
#[derive(Debug)]
struct Receipt {
    /// The metrics' outcome: stored, duplicate, rejected, refused, probe or spooled.
    outcome: &'static str,
    event_id: Option<String>,
    event_type: Option<String>,
}

impl Receipt {
    /// The answer's `status`: both kinds of dead letter answer `dead_lettered`.
    fn status(&self) -> &'static str {
        match self.outcome {
            "rejected" | "refused" => "dead_lettered",
            other => other,
        }
    }
}

#[derive(Debug, thiserror::Error)]
enum IntakeError {
    #[error("request body is larger than {limit} bytes")]
    TooLarge { limit: usize },
    #[error("request body could not be read: {0}")]
    BodyUnreadable(String),
    #[error(transparent)]
    Signature(#[from] SignatureError),
    #[error("event could not be stored nor spooled, try again")]
    Unavailable(String),
}

impl IntoResponse for IntakeError {
    fn into_response(self) -> Response {
        let (status, code) = match &self {
            Self::TooLarge { .. } => (StatusCode::PAYLOAD_TOO_LARGE, "body_too_large"),
            Self::BodyUnreadable(_) => (StatusCode::BAD_REQUEST, "body_unreadable"),
            Self::Signature(e) => (StatusCode::UNAUTHORIZED, e.code()),
            Self::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "storage_unavailable"),
        };
        (
            status,
            Json(json!({ "error": code, "message": self.to_string() })),
        )
            .into_response()
    }
}

pub(super) async fn receive(
    State(app): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let started = Instant::now();
    let result = accept(&app, &headers, body).await;
    let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
    if let Ok(receipt) = &result {
        let event_type = receipt.event_type.as_deref().unwrap_or("none");
        app.metrics.event(event_type, receipt.outcome);
    }
    let response = log_outcome(result, latency_ms);
    app.metrics.request(response.status().as_u16());
    response
}

fn log_outcome(result: Result<Receipt, IntakeError>, latency_ms: f64) -> Response {
    match result {
        Ok(receipt) => {
            tracing::info!(
                event_type = receipt.event_type.as_deref(),
                event_id = receipt.event_id.as_deref(),
                outcome = receipt.outcome,
                latency_ms,
                "webhook accepted"
            );
            (StatusCode::OK, Json(json!({ "status": receipt.status() }))).into_response()
        }
        Err(IntakeError::Unavailable(e)) => {
            tracing::error!(error = %e, latency_ms, "webhook not stored");
            IntakeError::Unavailable(e).into_response()
        }
        Err(e) => {
            tracing::warn!(error = %e, latency_ms, "webhook refused");
            e.into_response()
        }
    }
}

async fn accept(
    app: &AppState,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Receipt, IntakeError> {
    let body = body.map_err(|rejection| match rejection.status() {
        StatusCode::PAYLOAD_TOO_LARGE => IntakeError::TooLarge {
            limit: app.settings.body_limit,
        },
        _ => IntakeError::BodyUnreadable(rejection.body_text()),
    })?;
    if let Verification::Secrets(secrets) = &app.settings.verification {
        let header = |name| headers.get(name).map(|v| v.as_bytes());
        signature::verify(
            secrets,
            header(TIMESTAMP_HEADER),
            header(SIGNATURE_HEADER),
            &body,
        )?;
    }
    let Some(item) = Item::from_body(&body, Origin::Intake) else {
        return Ok(Receipt {
            outcome: "probe",
            event_id: None,
            event_type: None,
        });
    };
    let (event_id, event_type) = match &item {
        Item::Event { event, .. } => (Some(event.id.clone()), Some(event.event_type.clone())),
        Item::Reject(reject) => {
            // Signed by Daily but unusable: keep it and answer 200 so our parser can never
            // trip Daily's circuit breaker.
            tracing::warn!(reason = %reject.reason, bytes = body.len(), "authentic body rejected");
            (None, None)
        }
    };
    let outcome = match app.writer.write(item).await {
        Ok(outcome) => outcome.as_str(),
        Err(unavailable) => {
            tracing::debug!(why = %unavailable, "spooling");
            app.fallback
                .keep(&body)
                .await
                .map_err(IntakeError::Unavailable)?;
            "spooled"
        }
    };
    Ok(Receipt {
        outcome,
        event_id,
        event_type,
    })
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
        ] {
            let receipt = Receipt {
                outcome,
                event_id: None,
                event_type: None,
            };
            assert_eq!(receipt.status(), status);
        }
    }
}
