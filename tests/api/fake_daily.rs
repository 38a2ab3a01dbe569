//! A fake of Daily's REST API on port 0: webhooks (probing their URL like Daily) and meetings.

use std::{
    collections::{HashMap, VecDeque},
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{
    Json, Router,
    extract::{Path, Query, Request, State},
    http::{HeaderMap, Method, StatusCode},
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::get,
};
use base64::{Engine, engine::general_purpose::STANDARD};
use serde_json::{Value, json};
use time::{OffsetDateTime, format_description::well_known::Rfc3339};
use tokio::net::TcpListener;

mod faults;
pub use faults::Fault;

pub const API_KEY: &str = "daily-test-key-0123456789";

/// How the fake writes what the docs disagree on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// `"ACTIVE"`, ISO 8601 times, lists as bare arrays.
    Strings,
    /// `1` (ACTIVE) / `0` (FAILED), Unix seconds, lists as `{"data": [...]}`.
    Numbers,
}

#[derive(Debug, Clone)]
pub struct Hook {
    pub uuid: String,
    pub url: String,
    pub hmac: String,
    pub event_types: Vec<String>,
    pub active: bool,
    pub failed_count: u64,
    pub updated_at: i64,
}

#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: Method,
    pub path: String,
    pub query: HashMap<String, String>,
    pub body: Value,
}

pub struct Fake {
    pub encoding: Encoding,
    pub webhooks: Vec<Hook>,
    /// Meetings as Daily documents them, with `start_time` in Unix seconds.
    pub meetings: Vec<Value>,
    pub requests: Vec<Recorded>,
    /// The next this many calls to GET /meetings get 429.
    pub rate_limit_next: u32,
    /// Answers given to the next calls, one each, instead of the normal ones.
    pub faults: VecDeque<Fault>,
}

#[derive(Clone)]
pub struct FakeDaily {
    pub url: String,
    pub state: Arc<Mutex<Fake>>,
}

impl FakeDaily {
    pub async fn start(encoding: Encoding) -> Self {
        let state = Arc::new(Mutex::new(Fake {
            encoding,
            webhooks: Vec::new(),
            meetings: Vec::new(),
            requests: Vec::new(),
            rate_limit_next: 0,
            faults: VecDeque::new(),
        }));
        let router = Router::new()
            .route("/v1/webhooks", get(list_webhooks).post(create_webhook))
            .route(
                "/v1/webhooks/{uuid}",
                get(read_webhook).post(update_webhook),
            )
            .route("/v1/meetings", get(list_meetings))
            .layer(middleware::from_fn_with_state(
                state.clone(),
                record_and_authorize,
            ))
            .with_state(state.clone());
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/v1", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, router).await });
        Self { url, state }
    }

    pub fn add_webhook(&self, url: &str, active: bool) -> String {
        let mut fake = self.state.lock().unwrap();
        let uuid = format!("0b7e9c2a-0000-4000-8000-{:012}", fake.webhooks.len() + 1);
        fake.webhooks.push(Hook {
            uuid: uuid.clone(),
            url: url.into(),
            hmac: crate::helpers::SECRET.into(),
            event_types: vec!["waiting-participant.left".into()],
            active,
            failed_count: if active { 0 } else { 3 },
            updated_at: 1_719_500_000,
        });
        uuid
    }

    /// Gives `faults` as the answers to the next calls, in order.
    pub fn misbehave(&self, faults: impl IntoIterator<Item = Fault>) {
        self.state.lock().unwrap().faults.extend(faults);
    }

    pub fn webhooks(&self) -> Vec<Hook> {
        self.state.lock().unwrap().webhooks.clone()
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.state.lock().unwrap().requests.clone()
    }

    /// Requests other than reads: what changed something at Daily.
    pub fn posts(&self) -> Vec<Recorded> {
        let requests = self.requests();
        requests
            .into_iter()
            .filter(|r| r.method == Method::POST)
            .collect()
    }
}

type Shared = State<Arc<Mutex<Fake>>>;

async fn record_and_authorize(State(state): Shared, request: Request, next: Next) -> Response {
    let (parts, body) = request.into_parts();
    let bytes = axum::body::to_bytes(body, 1 << 20).await.unwrap();
    let query = parts.uri.query().unwrap_or("");
    let fault = {
        let mut fake = state.lock().unwrap();
        fake.requests.push(Recorded {
            method: parts.method.clone(),
            path: parts.uri.path().to_owned(),
            query: serde_urlencoded_pairs(query),
            body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        });
        fake.faults.pop_front()
    };
    if let Some(fault) = fault {
        return fault.answer(&parts.headers);
    }
    if !authorized(&parts.headers) {
        let body = json!({"error": "authentication-error", "info": "invalid API key"});
        return (StatusCode::UNAUTHORIZED, Json(body)).into_response();
    }
    next.run(Request::from_parts(parts, bytes.into())).await
}

fn serde_urlencoded_pairs(query: &str) -> HashMap<String, String> {
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

fn authorized(headers: &HeaderMap) -> bool {
    let expected = format!("Bearer {API_KEY}");
    headers.get("authorization").and_then(|v| v.to_str().ok()) == Some(expected.as_str())
}

fn time_value(encoding: Encoding, seconds: i64) -> Value {
    match encoding {
        Encoding::Numbers => json!(seconds),
        Encoding::Strings => {
            let t = OffsetDateTime::from_unix_timestamp(seconds).unwrap();
            json!(t.format(&Rfc3339).unwrap())
        }
    }
}

fn render(hook: &Hook, encoding: Encoding) -> Value {
    let state = match (encoding, hook.active) {
        (Encoding::Strings, true) => json!("ACTIVE"),
        (Encoding::Strings, false) => json!("FAILED"),
        (Encoding::Numbers, true) => json!(1),
        (Encoding::Numbers, false) => json!(0),
    };
    json!({
        "uuid": hook.uuid, "url": hook.url, "hmac": hook.hmac, "basicAuth": null,
        "retryType": "circuit-breaker", "eventTypes": hook.event_types, "state": state,
        "failedCount": hook.failed_count, "domainId": "d0d0d0d0",
        "lastMomentPushed": time_value(encoding, 1_719_586_628),
        "createdAt": time_value(encoding, 1_719_000_000),
        "updatedAt": time_value(encoding, hook.updated_at),
    })
}

fn list(items: Vec<Value>, encoding: Encoding) -> Value {
    match encoding {
        Encoding::Strings => Value::Array(items),
        Encoding::Numbers => json!({ "data": items }),
    }
}

async fn list_webhooks(State(state): Shared) -> Json<Value> {
    let fake = state.lock().unwrap();
    let items = fake
        .webhooks
        .iter()
        .map(|h| render(h, fake.encoding))
        .collect();
    Json(list(items, fake.encoding))
}

async fn read_webhook(State(state): Shared, Path(uuid): Path<String>) -> Response {
    let fake = state.lock().unwrap();
    match fake.webhooks.iter().find(|h| h.uuid == uuid) {
        Some(hook) => Json(render(hook, fake.encoding)).into_response(),
        None => (StatusCode::NOT_FOUND, Json(json!({"error": "not-found"}))).into_response(),
    }
}

/// Daily's creation probe: `{"test":"test"}`, signed, must get a 200 within a few seconds.
async fn probe(url: &str, hmac: &str) -> bool {
    let body = br#"{"test":"test"}"#;
    let Ok(key) = STANDARD.decode(hmac) else {
        return false;
    };
    let timestamp = "1719586628431";
    let signature = lobbylog::signature::sign(&key, timestamp, body);
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(3))
        .build()
        .unwrap();
    let sent = client
        .post(url)
        .header("content-type", "application/json")
        .header("x-webhook-timestamp", timestamp)
        .header("x-webhook-signature", signature)
        .body(body.to_vec())
        .send()
        .await;
    sent.is_ok_and(|r| r.status() == StatusCode::OK)
}

fn probe_failed() -> Response {
    let body = json!({"error": "invalid-request-error", "info": "non-200 status code returned from webhook endpoint, recvd 502"});
    (StatusCode::BAD_REQUEST, Json(body)).into_response()
}

async fn create_webhook(State(state): Shared, Json(body): Json<Value>) -> Response {
    let url = body["url"].as_str().unwrap_or_default().to_owned();
    let generated = STANDARD.encode(format!("daily-generated-{url}"));
    let hmac = body["hmac"].as_str().map_or(generated, str::to_owned);
    if !probe(&url, &hmac).await {
        return probe_failed();
    }
    let mut fake = state.lock().unwrap();
    let uuid = format!("5e1f0c3d-0000-4000-8000-{:012}", fake.webhooks.len() + 1);
    let event_types = body["eventTypes"]
        .as_array()
        .map_or_else(Vec::new, |types| {
            types
                .iter()
                .filter_map(|t| t.as_str().map(str::to_owned))
                .collect()
        });
    let hook = Hook {
        uuid,
        url,
        hmac,
        event_types,
        active: true,
        failed_count: 0,
        updated_at: now(),
    };
    fake.webhooks.push(hook.clone());
    Json(render(&hook, fake.encoding)).into_response()
}

async fn update_webhook(
    State(state): Shared,
    Path(uuid): Path<String>,
    Json(body): Json<Value>,
) -> Response {
    let Some(mut hook) = state
        .lock()
        .unwrap()
        .webhooks
        .iter()
        .find(|h| h.uuid == uuid)
        .cloned()
    else {
        return (StatusCode::NOT_FOUND, Json(json!({"error": "not-found"}))).into_response();
    };
    if let Some(url) = body["url"].as_str() {
        hook.url = url.to_owned();
    }
    if let Some(hmac) = body["hmac"].as_str() {
        hook.hmac = hmac.to_owned();
    }
    if let Some(types) = body["eventTypes"].as_array() {
        hook.event_types = types
            .iter()
            .filter_map(|t| t.as_str().map(str::to_owned))
            .collect();
    }
    if !probe(&hook.url, &hook.hmac).await {
        return probe_failed();
    }
    (hook.active, hook.failed_count, hook.updated_at) = (true, 0, now());
    let mut fake = state.lock().unwrap();
    let slot = fake.webhooks.iter_mut().find(|h| h.uuid == uuid).unwrap();
    *slot = hook.clone();
    Json(render(&hook, fake.encoding)).into_response()
}

fn now() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp()
}

async fn list_meetings(
    State(state): Shared,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let mut fake = state.lock().unwrap();
    if fake.rate_limit_next > 0 {
        fake.rate_limit_next -= 1;
        let body = Json(json!({"error": "rate-limit-error"}));
        return (StatusCode::TOO_MANY_REQUESTS, [("retry-after", "1")], body).into_response();
    }
    let number = |name: &str| query.get(name).and_then(|v| v.parse::<i64>().ok());
    let (start, end) = (
        number("timeframe_start").unwrap_or(0),
        number("timeframe_end").unwrap_or(i64::MAX),
    );
    let limit = number("limit").unwrap_or(100).min(100) as usize;
    let mut matching: Vec<Value> = fake
        .meetings
        .iter()
        .filter(|m| (start..end).contains(&m["start_time"].as_i64().unwrap()))
        .cloned()
        .collect();
    matching.sort_by_key(|m| std::cmp::Reverse(m["start_time"].as_i64().unwrap()));
    let total = matching.len();
    let after = query
        .get("starting_after")
        .and_then(|id| matching.iter().position(|m| m["id"] == id.as_str()));
    let page: Vec<Value> = matching
        .into_iter()
        .skip(after.map_or(0, |i| i + 1))
        .take(limit)
        .map(|m| encode_meeting(m, fake.encoding))
        .collect();
    Json(json!({ "total_count": total, "data": page })).into_response()
}

fn encode_meeting(mut meeting: Value, encoding: Encoding) -> Value {
    meeting["start_time"] = time_value(encoding, meeting["start_time"].as_i64().unwrap());
    for p in meeting["participants"].as_array_mut().unwrap() {
        p["join_time"] = time_value(encoding, p["join_time"].as_i64().unwrap());
    }
    meeting
}
