//! Answers of a misbehaving Daily: huge waits, huge bodies, the key echoed, raw text.

use axum::{
    body::{Body, Bytes},
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
};
use futures::stream;

/// One answer the fake gives instead of the normal one.
#[derive(Debug, Clone)]
pub enum Fault {
    /// 429 with this Retry-After.
    RateLimited(&'static str),
    /// 200 with a JSON list padded to this many bytes, streamed without a length.
    Huge(usize),
    /// 500 whose text repeats the Authorization header it got.
    EchoedKey,
    /// This status and this body, as is.
    Raw(u16, &'static str),
}

impl Fault {
    pub fn answer(self, headers: &HeaderMap) -> Response {
        let authorization = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        match self {
            Self::RateLimited(wait) => {
                (StatusCode::TOO_MANY_REQUESTS, [(header::RETRY_AFTER, wait)]).into_response()
            }
            Self::Huge(bytes) => huge(bytes),
            Self::EchoedKey => {
                let text =
                    format!("upstream refused the request with Authorization: {authorization}");
                (StatusCode::INTERNAL_SERVER_ERROR, text).into_response()
            }
            Self::Raw(status, body) => {
                (StatusCode::from_u16(status).unwrap(), body).into_response()
            }
        }
    }
}

/// `[`, spaces, `]`: valid JSON (an empty list) of `bytes` bytes, in 64 KiB chunks.
fn huge(bytes: usize) -> Response {
    const CHUNK: usize = 64 << 10;
    let padding = (0..bytes.saturating_sub(2).div_ceil(CHUNK))
        .map(|_| Ok::<_, std::convert::Infallible>(Bytes::from(vec![b' '; CHUNK])));
    let parts = std::iter::once(Ok(Bytes::from_static(b"[")))
        .chain(padding)
        .chain(std::iter::once(Ok(Bytes::from_static(b"]"))));
    let body = Body::from_stream(stream::iter(parts));
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}
