//! What a push provider's answer means for the device and the job ([`judge`]): matched on the
//! status and the provider's structured code, never on its message text. Deleting a device is
//! the one thing that cannot be undone, so a device is gone only on the codes below; anything
//! unknown keeps it.
//!
//! | verdict | Web Push | APNs (`{"reason"}`) | FCM HTTP v1 (`error.status`, `FcmError.errorCode`) |
//! |---|---|---|---|
//! | accepted | any 2xx (201, 202 with respond-async) | any 2xx (200) | any 2xx (200) |
//! | gone: delete the device | 404, 410 | 410 `Unregistered`, `ExpiredToken` (with `timestamp`, ms); 400 `BadDeviceToken`, `DeviceTokenNotForTopic` | 404 `UNREGISTERED`; 400 with `errorCode` `INVALID_ARGUMENT` and no `fieldViolations` (a bad token); 403 `SENDER_ID_MISMATCH` |
//! | retry later (`Retry-After` honoured, at most 12 h) | 408, 429, 5xx | 429 `TooManyRequests`, 400 `IdleTimeout`, 5xx (500, 503 `ServiceUnavailable`/`Shutdown`, 520–524) | 408, 429 `QUOTA_EXCEEDED`, 5xx (500 `INTERNAL`, 503 `UNAVAILABLE`, 520–524) |
//! | our credentials or configuration: delete nothing | 401 (re-sign the VAPID token once), 403 | 403 `ExpiredProviderToken` (re-sign once); any other 403 (`InvalidProviderToken`, `MissingProviderToken`, `Forbidden`, `BadCertificate`, `BadCertificateEnvironment`); 400 `BadTopic`, `MissingTopic`, `TopicDisallowed`; 429 `TooManyProviderTokenUpdates` | 401 `UNAUTHENTICATED` or no code (refresh the access token once); 401 `THIRD_PARTY_AUTH_ERROR`; any other 403 (`PERMISSION_DENIED`) |
//! | our payload: dead-letter the job | any other status (400, 413, …) | any other status and reason (400 `BadCollapseId`, `BadExpirationDate`, `BadPriority`, `PayloadEmpty`, `InvalidPushType`, `DuplicateHeaders`, …; 404; 405; 410 without a known reason; 413 `PayloadTooLarge`) | any other status (400 with `google.rpc.BadRequest` `fieldViolations`, 404 without `UNREGISTERED`, …) |
//!
//! Every reason names the provider and the status, the structured code when there is one, and
//! quotes at most 300 characters of the body.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The longest wait a `Retry-After` may ask for: beyond it the job is retried sooner.
pub const RETRY_AFTER_MAX_SECONDS: u32 = 12 * 3600;
/// How much of a body a reason quotes, in characters.
const QUOTE_MAX: usize = 300;
/// How much of a provider's code a reason names, in characters (a code is short; a body may lie).
const CODE_MAX: usize = 64;
const FCM_ERROR: &str = "type.googleapis.com/google.firebase.fcm.v1.FcmError";
const BAD_REQUEST: &str = "type.googleapis.com/google.rpc.BadRequest";

/// A push service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    WebPush,
    Apns,
    Fcm,
}

impl Provider {
    pub const ALL: [Provider; 3] = [Self::WebPush, Self::Apns, Self::Fcm];

    /// Its name in configuration and stored outcomes.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::WebPush => "webpush",
            Self::Apns => "apns",
            Self::Fcm => "fcm",
        }
    }

    /// Its name for a person reading a reason.
    pub fn name(self) -> &'static str {
        match self {
            Self::WebPush => "Web Push",
            Self::Apns => "APNs",
            Self::Fcm => "FCM",
        }
    }
}

/// What an answer means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The provider took the notification.
    Accepted,
    /// Try again later: after `after_seconds` when the provider said so.
    Retry { after_seconds: Option<u32>, reason: String },
    /// The device is no longer reachable: delete it (if it is still the one that was sent to,
    /// and, with `since_ms`, subscribed before that time).
    Gone { reason: String, since_ms: Option<i64> },
    /// Our credentials or configuration are wrong: delete nothing. `refresh`: a fresh token
    /// may be enough, try once with one.
    Credentials { reason: String, refresh: bool },
    /// The request itself was refused: the same one would be refused again.
    Payload { reason: String },
}

impl Verdict {
    /// Why it was not accepted.
    pub fn reason(&self) -> Option<&str> {
        match self {
            Self::Accepted => None,
            Self::Retry { reason, .. }
            | Self::Gone { reason, .. }
            | Self::Credentials { reason, .. }
            | Self::Payload { reason } => Some(reason),
        }
    }
}

/// The verdict without its reason.
enum Class {
    Gone,
    Retry,
    Credentials { refresh: bool },
    Payload,
}

/// The verdict on `provider`'s answer `status`, `body`, and its `Retry-After` header.
pub fn judge(provider: Provider, status: u16, retry_after: Option<&str>, body: &str, now_ms: i64) -> Verdict {
    if (200..=299).contains(&status) {
        return Verdict::Accepted;
    }
    let json: Option<Value> = serde_json::from_str(body).ok();
    let (class, code, since_ms) = match provider {
        Provider::WebPush => (web_push(status), None, None),
        Provider::Apns => {
            let reason = json.as_ref().and_then(|j| j.get("reason")).and_then(Value::as_str);
            let class = apns(status, reason);
            let since_ms = match class {
                Class::Gone => json.as_ref().and_then(|j| j.get("timestamp")).and_then(Value::as_i64),
                _ => None,
            };
            (class, reason.map(str::to_owned), since_ms)
        }
        Provider::Fcm => {
            let error = json.as_ref().map(FcmAnswer::read).unwrap_or_default();
            let class = fcm(status, &error);
            (class, error.error_code.or(error.status), None)
        }
    };
    let reason = reason(provider, status, code.as_deref(), body);
    match class {
        Class::Gone => Verdict::Gone { reason, since_ms },
        Class::Retry => {
            Verdict::Retry { after_seconds: retry_after.and_then(|v| retry_after_seconds(v, now_ms)), reason }
        }
        Class::Credentials { refresh } => Verdict::Credentials { reason, refresh },
        Class::Payload => Verdict::Payload { reason },
    }
}

/// The statuses every provider shares once its own codes are read: a front's timeout, a rate
/// limit or a server error is worth retrying; anything else would be refused again.
fn generic(status: u16) -> Class {
    match status {
        408 | 429 | 500..=599 => Class::Retry,
        _ => Class::Payload,
    }
}

fn web_push(status: u16) -> Class {
    match status {
        // RFC 8030 §7.3 says 404 for an expired subscription; services answer 410 for one the
        // browser unsubscribed. Both are gone.
        404 | 410 => Class::Gone,
        // The VAPID token (RFC 8292): a stale one is refused with 401, a key the subscription
        // was not made with (or a subject Apple refuses) with 403.
        401 => Class::Credentials { refresh: true },
        403 => Class::Credentials { refresh: false },
        _ => generic(status),
    }
}

fn apns(status: u16, reason: Option<&str>) -> Class {
    match (status, reason) {
        (410, Some("Unregistered" | "ExpiredToken")) => Class::Gone,
        // Also what a sandbox token sent to production gets: the breaker (`breaker.rs`) stops
        // deleting when it is most of them.
        (400, Some("BadDeviceToken" | "DeviceTokenNotForTopic")) => Class::Gone,
        (400, Some("BadTopic" | "MissingTopic" | "TopicDisallowed")) => Class::Credentials { refresh: false },
        // The connection sat idle too long: a new request on a new one goes through.
        (400, Some("IdleTimeout")) => Class::Retry,
        // The provider token is over an hour old: a freshly signed one is taken.
        (403, Some("ExpiredProviderToken")) => Class::Credentials { refresh: true },
        // Every 403 of APNs is about the provider token or certificate.
        (403, _) => Class::Credentials { refresh: false },
        // Signing again would make it worse: keep the current token.
        (429, Some("TooManyProviderTokenUpdates")) => Class::Credentials { refresh: false },
        _ => generic(status),
    }
}

fn fcm(status: u16, error: &FcmAnswer) -> Class {
    let code = error.error_code.as_deref();
    match status {
        404 if code == Some("UNREGISTERED") => Class::Gone,
        // Two 400s look alike: a bad registration token has an `FcmError` detail and no field
        // violation; a field of our message that FCM refuses comes with `fieldViolations`.
        400 if code == Some("INVALID_ARGUMENT") && !error.field_violations => Class::Gone,
        // A token of another Firebase project.
        403 if code == Some("SENDER_ID_MISMATCH") => Class::Gone,
        // The APNs or Web Push credentials uploaded to Firebase: no token of ours helps.
        401 if code == Some("THIRD_PARTY_AUTH_ERROR") => Class::Credentials { refresh: false },
        401 => Class::Credentials { refresh: true },
        403 => Class::Credentials { refresh: false },
        _ => generic(status),
    }
}

/// What an FCM error body says, in the fields that decide.
#[derive(Debug, Default)]
struct FcmAnswer {
    status: Option<String>,
    error_code: Option<String>,
    field_violations: bool,
}

impl FcmAnswer {
    fn read(body: &Value) -> Self {
        let error = body.get("error");
        let details = error.and_then(|e| e.get("details")).and_then(Value::as_array).map(Vec::as_slice);
        let of_type = |kind: &'static str| {
            details.unwrap_or_default().iter().filter(move |d| d.get("@type").and_then(Value::as_str) == Some(kind))
        };
        let text = |value: Option<&Value>| value.and_then(Value::as_str).map(str::to_owned);
        Self {
            status: text(error.and_then(|e| e.get("status"))),
            error_code: of_type(FCM_ERROR).find_map(|d| text(d.get("errorCode"))),
            field_violations: of_type(BAD_REQUEST).any(|d| {
                d.get("fieldViolations").and_then(Value::as_array).is_some_and(|list| !list.is_empty())
            }),
        }
    }
}

/// `APNs answered 410 (Unregistered): {…}`, bounded.
fn reason(provider: Provider, status: u16, code: Option<&str>, body: &str) -> String {
    let mut reason = format!("{} answered {status}", provider.name());
    if let Some(code) = code {
        reason.push_str(&format!(" ({})", quote(code, CODE_MAX)));
    }
    let body = body.trim();
    if !body.is_empty() {
        reason.push_str(": ");
        reason.push_str(&quote(body, QUOTE_MAX));
    }
    reason
}

/// The first `max` characters of `text`, control characters as spaces, "…" when cut.
fn quote(text: &str, max: usize) -> String {
    let mut quoted: String = text.chars().take(max).map(|c| if c.is_control() { ' ' } else { c }).collect();
    if text.chars().nth(max).is_some() {
        quoted.push('…');
    }
    quoted
}

/// How long `Retry-After` asks to wait (RFC 9110 §10.2.3): delta-seconds, or an IMF-fixdate
/// (`Sun, 06 Nov 1994 08:49:37 GMT`) counted from `now_ms` (a past date is 0); at most
/// [`RETRY_AFTER_MAX_SECONDS`]; `None` for anything else.
pub fn retry_after_seconds(value: &str, now_ms: i64) -> Option<u32> {
    let value = value.trim();
    let seconds = if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        value.bytes().fold(0u64, |n, b| n.saturating_mul(10).saturating_add(u64::from(b - b'0')))
    } else {
        let wait_ms = http_date_ms(value)?.saturating_sub(now_ms).max(0);
        u64::try_from(wait_ms.div_euclid(1000) + i64::from(wait_ms % 1000 != 0)).ok()?
    };
    Some(seconds.min(u64::from(RETRY_AFTER_MAX_SECONDS)) as u32)
}

/// An IMF-fixdate (RFC 9110 §5.6.7) as ms since the epoch.
fn http_date_ms(value: &str) -> Option<i64> {
    const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let b = value.as_bytes();
    if b.len() != 29 || !value.is_ascii() || &b[3..5] != b", " || &b[25..] != b" GMT" {
        return None;
    }
    if [7, 11, 16].iter().any(|&i| b[i] != b' ') || b[19] != b':' || b[22] != b':' {
        return None;
    }
    let digits = |range: std::ops::Range<usize>| -> Option<i64> {
        b[range].iter().try_fold(0i64, |n, d| d.is_ascii_digit().then(|| n * 10 + i64::from(d - b'0')))
    };
    DAYS.contains(&&value[..3]).then_some(())?;
    let month = MONTHS.iter().position(|m| *m == &value[8..11])? as i64 + 1;
    let (day, year) = (digits(5..7)?, digits(12..16)?);
    let (hour, minute, second) = (digits(17..19)?, digits(20..22)?, digits(23..25)?);
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let month_days = [31, if leap { 29 } else { 28 }, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month as usize - 1];
    // A leap second (60) is allowed by the grammar.
    if !(1..=month_days).contains(&day) || hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let days = days_from_civil(year, month, day);
    Some(((days * 24 + hour) * 60 + minute) * 60_000 + second * 1000)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let day_of_year = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;
}
