//! The exchange's calls between its Workers and objects, as they travel ([`crate::internal`]
//! lists every internal call): a job's claim and report, and the push breaker's question.

use serde::{Deserialize, Serialize};

/// The fallback consumer asks a job's inbox whether to send it: body [`JobKey`], answered
/// [`JobClaim`]; then reports it sent (`JOB_DONE`) or failed (`JOB_RELEASE`, so a retry may
/// send it), with the claim's number.
pub const JOB_CLAIM: &str = "/jobs/claim";
pub const JOB_DONE: &str = "/jobs/done";
pub const JOB_RELEASE: &str = "/jobs/release";

/// A push provider said a device is gone: may that be believed? With the answers the provider
/// accepted since the consumer last asked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GoneReport {
    /// `webpush`, `apns` or `fcm`.
    pub provider: String,
    pub accepted: u32,
    pub gone: u32,
}

/// The breaker's answer: `tripped` when that provider's "gone" answers are too many to believe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BreakerAnswer {
    pub tripped: bool,
}

/// A job's idempotency key, for the job calls.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobKey {
    pub key: String,
    /// On a claim: when the job stops being worth sending (its notification's ttl, ms since
    /// the epoch); past it the claim answers that the job is finished (skipped).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
    /// On a done or a release: the number the claim answered. A release frees the job only
    /// for the claim that holds it (a late release of a lapsed claim frees nothing).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claim: Option<u64>,
    /// On a push's done or release: how its provider answered, kept with the device.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<crate::exchange::inbox::DeviceOutcome>,
}

impl JobKey {
    pub fn new(key: impl Into<String>) -> Self {
        Self { key: key.into(), expires_at: None, claim: None, outcome: None }
    }
}

/// A claim's answer. `go: true` with the claim's number: send it, then report with that
/// number. `go: false` with `held_until_ms`: another attempt holds it until then (its lease),
/// so ask again after it. `go: false` alone: the job is finished (sent, or skipped: read, or
/// past its ttl) and must not be sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobClaim {
    pub go: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claim: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub held_until_ms: Option<i64>,
}
