//! What the public listener refused: the last requests it answered with anything but 200, kept in
//! memory (never their bodies or signatures) for the admin listener's `GET /refused` and the
//! dashboard. Bounded in count and in the size of each record, whoever sends them.

use std::{
    collections::VecDeque,
    net::SocketAddr,
    sync::Mutex,
    time::{SystemTime, UNIX_EPOCH},
};

use serde::Serialize;

/// Requests kept, newest first; older ones are dropped.
pub const KEPT: usize = 1000;
/// Characters kept of a path or a user agent.
const TEXT_MAX: usize = 200;

/// Why a request was refused: every value the `reason` field and the metric's label take.
pub const REASONS: [&str; 10] = [
    "missing_signature",
    "missing_timestamp",
    "signature_not_base64",
    "bad_signature",
    "body_too_large",
    "body_timeout",
    "body_unreadable",
    "storage_unavailable",
    "not_found",
    "method_not_allowed",
];

/// One refused request.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Refusal {
    /// Seconds since the epoch.
    pub at: f64,
    pub remote: Option<SocketAddr>,
    pub method: String,
    pub path: String,
    pub status: u16,
    pub reason: &'static str,
    /// Body bytes read before the answer (0 when refused on its headers alone).
    pub body_bytes: u64,
    pub user_agent: Option<String>,
    /// Whether an `X-Webhook-Signature` header came (its value is never kept).
    pub signature_header: bool,
}

impl Refusal {
    /// A record of what a request showed, its texts cut to `TEXT_MAX` characters.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        remote: Option<SocketAddr>,
        method: &str,
        path: &str,
        status: u16,
        reason: &'static str,
        body_bytes: u64,
        user_agent: Option<&[u8]>,
        signature_header: bool,
    ) -> Self {
        Self {
            at: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0.0, |d| d.as_secs_f64()),
            remote,
            method: cut(method),
            path: cut(path),
            status,
            reason,
            body_bytes,
            user_agent: user_agent.map(|ua| cut(&String::from_utf8_lossy(ua))),
            signature_header,
        }
    }
}

fn cut(text: &str) -> String {
    text.chars().take(TEXT_MAX).collect()
}

/// The last `KEPT` refusals.
#[derive(Debug, Default)]
pub struct Refusals(Mutex<VecDeque<Refusal>>);

impl Refusals {
    pub fn record(&self, refusal: Refusal) {
        let mut kept = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if kept.len() == KEPT {
            kept.pop_back();
        }
        kept.push_front(refusal);
    }

    /// Newest first, those with `reason` if given, at most `limit`.
    pub fn newest(&self, reason: Option<&str>, limit: usize) -> Vec<Refusal> {
        let kept = self.0.lock().unwrap_or_else(|e| e.into_inner());
        kept.iter()
            .filter(|r| reason.is_none_or(|want| r.reason == want))
            .take(limit)
            .cloned()
            .collect()
    }

    /// Per reason among those kept: how many, and when the last one was; most first.
    pub fn summary(&self) -> Vec<ReasonSummary> {
        let kept = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let mut out: Vec<ReasonSummary> = Vec::new();
        for r in kept.iter() {
            match out.iter_mut().find(|s| s.reason == r.reason) {
                Some(s) => s.requests += 1,
                None => out.push(ReasonSummary {
                    reason: r.reason,
                    requests: 1,
                    last_at: r.at,
                }),
            }
        }
        out.sort_by(|a, b| b.requests.cmp(&a.requests).then(a.reason.cmp(b.reason)));
        out
    }
}

/// Refusals of one reason among those kept.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReasonSummary {
    pub reason: &'static str,
    pub requests: u64,
    /// The newest one's time, in seconds since the epoch.
    pub last_at: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(reason: &'static str) -> Refusal {
        Refusal::new(None, "POST", "/webhooks/daily", 401, reason, 0, None, false)
    }

    #[test]
    fn only_the_last_thousand_are_kept_newest_first() {
        let refusals = Refusals::default();
        for i in 0..KEPT + 5 {
            let mut r = refusal("bad_signature");
            r.body_bytes = i as u64;
            refusals.record(r);
        }
        let kept = refusals.newest(None, usize::MAX);
        assert_eq!(kept.len(), KEPT);
        assert_eq!(kept[0].body_bytes, (KEPT + 4) as u64);
        assert_eq!(kept[KEPT - 1].body_bytes, 5);
    }

    #[test]
    fn texts_are_cut_and_reasons_filtered_and_summarised() {
        let refusals = Refusals::default();
        let long = "x".repeat(5000);
        refusals.record(Refusal::new(
            None,
            "POST",
            &long,
            401,
            "bad_signature",
            3,
            Some(long.as_bytes()),
            true,
        ));
        refusals.record(refusal("missing_signature"));
        refusals.record(refusal("bad_signature"));
        let bad = refusals.newest(Some("bad_signature"), 10);
        assert_eq!(bad.len(), 2);
        assert_eq!(bad[1].path.len(), TEXT_MAX);
        assert_eq!(bad[1].user_agent.as_deref().map(str::len), Some(TEXT_MAX));
        let summary = refusals.summary();
        assert_eq!(
            summary
                .iter()
                .map(|s| (s.reason, s.requests))
                .collect::<Vec<_>>(),
            [("bad_signature", 2), ("missing_signature", 1)]
        );
    }
}
