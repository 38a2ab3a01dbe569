//! HTTP client for Daily's REST API: bearer key, a timeout on every call, 429s waited out.

use std::time::Duration;

use reqwest::{
    Method, StatusCode,
    header::{AUTHORIZATION, HeaderMap, HeaderValue, RETRY_AFTER},
};
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::{
    Api,
    answer::{self, ANSWER_LIMIT, Unread},
};

/// Longest wait for one whole call (connect, send, answer).
pub const CALL_TIMEOUT: Duration = Duration::from_secs(30);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// What went wrong talking to Daily; each says which, so the operator knows what to fix.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("DAILY_API_KEY is not set: create a key on the Developers page of Daily's dashboard")]
    NoKey,
    #[error("DAILY_API_KEY holds characters an HTTP header cannot carry; copy the key again")]
    KeyUnusable,
    #[error("network error talking to Daily's API at {url}")]
    Network {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("Daily refused the API key (401 Unauthorized): check DAILY_API_KEY")]
    BadKey,
    #[error(
        "Daily refused the webhook for {url} (400: {message}). Daily sends a test request to that \
         URL first and answers 400 when it does not get a 200 within a few seconds: lobbylog must \
         already be serving at that URL, reachable from the internet, with the same secret"
    )]
    ProbeFailed { url: String, message: String },
    #[error("Daily refused the request (400 Bad Request): {message}")]
    BadRequest { message: String },
    #[error(
        "Daily is still rate limiting (429) after {attempts} attempts and {waited_s} s of waiting"
    )]
    RateLimited { attempts: u32, waited_s: u64 },
    #[error("Daily answered {status}: {message}")]
    Status { status: u16, message: String },
    #[error("Daily's answer to {what} could not be read: {detail}")]
    Decode { what: String, detail: String },
    #[error("Daily's answer to {what} ({status}) is larger than {} MiB: stopped reading it", ANSWER_LIMIT >> 20)]
    TooLarge { what: String, status: u16 },
}

/// How long 429s are waited out before giving up.
#[derive(Debug, Clone, Copy)]
pub struct RateLimit {
    pub attempts: u32,
    /// Longest single wait, whatever Retry-After asks.
    pub longest_wait: Duration,
}

impl Default for RateLimit {
    fn default() -> Self {
        Self {
            attempts: 6,
            longest_wait: Duration::from_secs(60),
        }
    }
}

#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    base: String,
    auth: HeaderValue,
    /// Redacted from every answer.
    key: String,
    rate_limit: RateLimit,
}

impl Client {
    pub fn new(api: &Api) -> Result<Self, ApiError> {
        let key = api.key.get().ok_or(ApiError::NoKey)?;
        let mut auth =
            HeaderValue::from_str(&format!("Bearer {key}")).map_err(|_| ApiError::KeyUnusable)?;
        // Kept out of any debug output of the request.
        auth.set_sensitive(true);
        let http = reqwest::Client::builder()
            .timeout(CALL_TIMEOUT)
            .connect_timeout(CONNECT_TIMEOUT)
            .user_agent(concat!("lobbylog/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|source| ApiError::Network {
                url: api.url.clone(),
                source,
            })?;
        Ok(Self {
            http,
            base: api.url.trim_end_matches('/').to_owned(),
            auth,
            key: key.to_owned(),
            rate_limit: RateLimit::default(),
        })
    }

    pub fn with_rate_limit(mut self, rate_limit: RateLimit) -> Self {
        self.rate_limit = rate_limit;
        self
    }

    pub async fn get<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<T, ApiError> {
        self.call(Method::GET, path, query, None).await
    }

    pub async fn post<T: DeserializeOwned>(&self, path: &str, body: Value) -> Result<T, ApiError> {
        self.call(Method::POST, path, &[], Some(body)).await
    }

    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<Value>,
    ) -> Result<T, ApiError> {
        let url = format!("{}{path}", self.base);
        let what = || format!("{method} {path}");
        let network = |source| ApiError::Network {
            url: url.clone(),
            source,
        };
        let mut waited = Duration::ZERO;
        let mut attempt = 1;
        let (status, text) = loop {
            let mut request = self
                .http
                .request(method.clone(), &url)
                .header(AUTHORIZATION, self.auth.clone())
                .query(query);
            if let Some(body) = &body {
                request = request.json(body);
            }
            let response = request.send().await.map_err(network)?;
            let status = response.status();
            if status == StatusCode::TOO_MANY_REQUESTS && attempt < self.rate_limit.attempts {
                let longest = self.rate_limit.longest_wait;
                let wait = retry_after(response.headers(), attempt, longest);
                tracing::warn!(
                    path,
                    attempt,
                    wait_s = wait.as_secs_f64(),
                    "Daily is rate limiting (429); waiting"
                );
                tokio::time::sleep(wait).await;
                waited += wait;
                attempt += 1;
                continue;
            }
            let text = answer::read(response, ANSWER_LIMIT, &self.key)
                .await
                .map_err(|e| match e {
                    Unread::Network(source) => network(source),
                    Unread::TooLarge => ApiError::TooLarge {
                        what: what(),
                        status: status.as_u16(),
                    },
                })?;
            break (status, text);
        };
        match status {
            s if s.is_success() => serde_json::from_str(&text).map_err(|e| ApiError::Decode {
                what: what(),
                detail: answer::printable(&e.to_string()),
            }),
            StatusCode::UNAUTHORIZED => Err(ApiError::BadKey),
            StatusCode::BAD_REQUEST => Err(ApiError::BadRequest {
                message: daily_message(&text),
            }),
            StatusCode::TOO_MANY_REQUESTS => Err(ApiError::RateLimited {
                attempts: attempt,
                waited_s: waited.as_secs(),
            }),
            s => Err(ApiError::Status {
                status: s.as_u16(),
                message: daily_message(&text),
            }),
        }
    }
}

/// The wait a 429 asks for, never over `longest`: Retry-After in seconds, else a doubling
/// backoff from 1 s.
fn retry_after(headers: &HeaderMap, attempt: u32, longest: Duration) -> Duration {
    headers
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s >= 0.0)
        // 2^64 s and more do not fit a Duration: from_secs_f64 would panic.
        .map(|s| Duration::try_from_secs_f64(s).unwrap_or(Duration::MAX))
        .unwrap_or_else(|| Duration::from_secs(1 << attempt.min(6).saturating_sub(1)))
        .min(longest)
}

/// Daily's error text: `{"error": ..., "info": ...}` when it is JSON, else the body, shortened;
/// printable either way.
pub fn daily_message(text: &str) -> String {
    answer::printable(&error_text(text))
}

fn error_text(text: &str) -> String {
    let parsed = serde_json::from_str::<Value>(text).ok();
    let field = |name| {
        parsed
            .as_ref()
            .and_then(|v| v.get(name))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    match (field("error"), field("info")) {
        (Some(error), Some(info)) => format!("{error}: {info}"),
        (Some(one), None) | (None, Some(one)) => one,
        (None, None) if text.trim().is_empty() => "no details given".into(),
        (None, None) => text.trim().chars().take(300).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LONGEST: Duration = Duration::from_secs(60);

    #[test]
    fn retry_after_is_honoured_and_defaults_to_a_backoff() {
        let mut headers = HeaderMap::new();
        assert_eq!(retry_after(&headers, 1, LONGEST), Duration::from_secs(1));
        assert_eq!(retry_after(&headers, 3, LONGEST), Duration::from_secs(4));
        headers.insert(RETRY_AFTER, HeaderValue::from_static("7"));
        assert_eq!(retry_after(&headers, 3, LONGEST), Duration::from_secs(7));
        headers.insert(RETRY_AFTER, HeaderValue::from_static("-1"));
        assert_eq!(retry_after(&headers, 1, LONGEST), Duration::from_secs(1));
    }

    #[test]
    fn a_retry_after_beyond_what_a_duration_holds_is_capped_not_a_panic() {
        for huge in ["18446744073709551616", "1e300", "3600"] {
            let mut headers = HeaderMap::new();
            headers.insert(RETRY_AFTER, HeaderValue::from_static(huge));
            assert_eq!(retry_after(&headers, 1, LONGEST), LONGEST, "{huge}");
        }
    }

    #[test]
    fn daily_error_text_is_kept_readable() {
        assert_eq!(
            daily_message(r#"{"error":"invalid-request-error","info":"url is required"}"#),
            "invalid-request-error: url is required"
        );
        assert_eq!(daily_message(r#"{"error":"not-found"}"#), "not-found");
        assert_eq!(daily_message(" upstream timeout "), "upstream timeout");
        assert_eq!(daily_message(""), "no details given");
        assert_eq!(daily_message(&"x".repeat(1000)).len(), 300);
    }

    #[test]
    fn a_missing_key_is_refused_before_any_call() {
        let api = Api {
            key: "".parse().unwrap(),
            url: "http://127.0.0.1:1".into(),
        };
        assert!(matches!(Client::new(&api), Err(ApiError::NoKey)));
    }
}
