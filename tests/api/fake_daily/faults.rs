//! Answers of a misbehaving Daily: huge waits.

use axum::{
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
};

/// One answer the fake gives instead of the normal one.
#[derive(Debug, Clone)]
pub enum Fault {
    /// 429 with this Retry-After.
    RateLimited(&'static str),
}

impl Fault {
    pub fn answer(self, _headers: &HeaderMap) -> Response {
        match self {
            Self::RateLimited(wait) => {
                (StatusCode::TOO_MANY_REQUESTS, [(header::RETRY_AFTER, wait)]).into_response()
            }
        }
    }
}
