//! `POST /webhooks/daily`: verify, triage, store (or keep in the fallback), answer.

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Instant,
};

use axum::{
    Json,
    extract::{Request, State},
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde_json::json;

use super::{
    AppState,
    body::{self, BodyError, BodyRules},
    receipt::Receipt,
};
use crate::{
    edge::{ConnWatch, Cut, PUBLIC_LISTENER, Peer, Phase, RequestStart},
    refused::Refusal,
    signature::{SIGNATURE_HEADER, SignatureError, TIMESTAMP_HEADER, Verification, Verifier},
    store::Outcome,
    triage::{self, Item, Origin},
};

#[derive(Debug, thiserror::Error)]
enum IntakeError {
    #[error(transparent)]
    Body(#[from] BodyError),
    #[error(transparent)]
    Signature(#[from] SignatureError),
    #[error("event could not be stored nor spooled, try again")]
    Unavailable(String),
}

impl IntakeError {
    /// The answer's status and `error` code (one of `refused::REASONS`).
    fn status(&self) -> (StatusCode, &'static str) {
        match self {
            Self::Body(BodyError::TooLarge { .. }) => {
                (StatusCode::PAYLOAD_TOO_LARGE, "body_too_large")
            }
            Self::Body(BodyError::Timeout(_)) => (StatusCode::REQUEST_TIMEOUT, "body_timeout"),
            Self::Body(BodyError::Unreadable(_)) => (StatusCode::BAD_REQUEST, "body_unreadable"),
            Self::Body(BodyError::Signature(e)) | Self::Signature(e) => {
                (StatusCode::UNAUTHORIZED, e.code())
            }
            Self::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "storage_unavailable"),
        }
    }
}

impl IntoResponse for IntakeError {
    fn into_response(self) -> Response {
        let (status, code) = self.status();
        (
            status,
            Json(json!({ "error": code, "message": self.to_string() })),
        )
            .into_response()
    }
}

pub(super) async fn receive(State(app): State<AppState>, request: Request) -> Response {
    let started = Instant::now();
    // What a refusal's record needs, taken before the request is consumed: cheap copies.
    let peer = request.extensions().get::<Peer>().map(|p| p.0);
    let user_agent = request.headers().get(header::USER_AGENT).cloned();
    let signed = request.headers().contains_key(SIGNATURE_HEADER);
    let received = AtomicUsize::new(0);
    let result = accept(&app, request, &received).await;
    let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
    match &result {
        Ok(receipt) => {
            let event_type = receipt.event_type.as_deref().unwrap_or("none");
            app.metrics.event(event_type, receipt.outcome);
            if receipt.outcome == "stored" {
                app.metrics.door.event_stored();
            }
        }
        Err(e) => {
            let (status, reason) = e.status();
            app.metrics.door.refused(reason);
            app.refusals.record(Refusal::new(
                peer,
                "POST",
                "/webhooks/daily",
                status.as_u16(),
                reason,
                received.load(Ordering::Relaxed) as u64,
                user_agent.as_ref().map(|v| v.as_bytes()),
                signed,
            ));
        }
    }
    let timed_out = matches!(result, Err(IntakeError::Body(BodyError::Timeout(_))));
    let mut response = log_outcome(result, latency_ms);
    if timed_out {
        // The rest of the body may still come: the connection closes after the 408, and is
        // counted as cut like one that overstays without an answer.
        let close = header::HeaderValue::from_static("close");
        response.headers_mut().insert(header::CONNECTION, close);
        app.metrics
            .connection_cut(PUBLIC_LISTENER, Cut::BodyTimeout.as_str());
    }
    app.metrics.request(response.status().as_u16());
    response
}

fn log_outcome(result: Result<Receipt, IntakeError>, latency_ms: f64) -> Response {
    match result {
        Ok(receipt) => {
            // At 20k requests a second a line each would cost more than storing them.
            tracing::debug!(
                event_type = receipt.event_type.as_deref(),
                event_id = receipt.event_id.as_deref(),
                outcome = receipt.outcome,
                latency_ms,
                "webhook accepted"
            );
            receipt.answer()
        }
        Err(IntakeError::Unavailable(e)) => {
            tracing::error!(error = %e, latency_ms, "webhook not stored");
            IntakeError::Unavailable(e).into_response()
        }
        // Anyone can send these: logged at debug so no client can flood the logs.
        Err(e) => {
            tracing::debug!(error = %e, latency_ms, "webhook refused");
            e.into_response()
        }
    }
}

/// The signature check to feed the body through; missing or malformed headers fail here,
/// before a byte of the body is read.
fn verifier(app: &AppState, headers: &HeaderMap) -> Result<Option<Verifier>, SignatureError> {
    let header = |name| headers.get(name).map(|v| v.as_bytes());
    match &app.settings.verification {
        Verification::Secrets(secrets) => Ok(Some(Verifier::start(
            secrets,
            header(TIMESTAMP_HEADER),
            header(SIGNATURE_HEADER),
        )?)),
        Verification::Disabled => Ok(None),
    }
}

async fn accept(
    app: &AppState,
    request: Request,
    received: &AtomicUsize,
) -> Result<Receipt, IntakeError> {
    let (parts, body) = request.into_parts();
    let verifier = verifier(app, &parts.headers)?;
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    let start = parts
        .extensions
        .get::<RequestStart>()
        .map_or_else(tokio::time::Instant::now, |s| s.0);
    let watch = parts.extensions.get::<Arc<ConnWatch>>();
    let rules = BodyRules {
        limit: app.settings.body_limit,
        budget: &app.budget,
        deadline: start + app.settings.body_timeout,
        timeout: app.settings.body_timeout,
        watch: watch.map(Arc::as_ref),
        received,
    };
    let body = body::read(body, declared, rules, verifier).await?;
    if let Some(watch) = watch {
        watch.enter(Phase::Handling);
    }
    let _slot = app.in_flight.acquire().await.expect("never closed");
    store(app, &body).await
}

/// Triages an authentic body and stores it, or keeps it in the fallback.
async fn store(app: &AppState, body: &[u8]) -> Result<Receipt, IntakeError> {
    let Some(item) = triage::item(body, Origin::Intake) else {
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
        Ok(Outcome::Conflict) => {
            tracing::warn!(
                event_id = event_id.as_deref(),
                "redelivery differs from the stored event; the first one is kept"
            );
            Outcome::Conflict.as_str()
        }
        Ok(outcome) => outcome.as_str(),
        Err(unavailable) => {
            tracing::debug!(why = %unavailable, "spooling");
            app.fallback
                .keep(body)
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
