//! What a push provider's answer means for the device and the job ([`judge`]): matched on the
//! status and the provider's structured code, never on its message text. Deleting a device is
//! the one thing that cannot be undone, so a device is gone only on the codes below; anything
//! unknown keeps it.
//!
//! | verdict | Web Push | APNs (`{"reason"}`) | FCM HTTP v1 (`error.status`, `FcmError.errorCode`) |
//! |---|---|---|---|
//! | accepted | any 2xx (201, 202 with respond-async) | any 2xx (200) | any 2xx (200) |
//! | gone: delete the device | 404, 410 | 410 `Unregistered`, `ExpiredToken` (with `timestamp`, ms); 400 `BadDeviceToken` | 404 `UNREGISTERED`; 400 with `errorCode` `INVALID_ARGUMENT` and no `fieldViolations` (a bad token) |
//! | retry later (`Retry-After` honoured, at most 12 h) | 408, 429, 5xx | 429 `TooManyRequests`, 400 `IdleTimeout`, 5xx (500, 503 `ServiceUnavailable`/`Shutdown`, 520–524) | 408, 429 `QUOTA_EXCEEDED`, 5xx (500 `INTERNAL`, 503 `UNAVAILABLE`, 520–524) |
//! | our credentials or configuration: delete nothing | 401, 403 | any 403 (`ExpiredProviderToken`, `InvalidProviderToken`, `MissingProviderToken`, `Forbidden`, `BadCertificate`, `BadCertificateEnvironment`); 400 `DeviceTokenNotForTopic`, `BadTopic`, `MissingTopic`, `TopicDisallowed`; 429 `TooManyProviderTokenUpdates` | 401 `UNAUTHENTICATED` or no code (the consumer gets a new access token once); 401 `THIRD_PARTY_AUTH_ERROR`; any 403 (`PERMISSION_DENIED`, `SENDER_ID_MISMATCH`) |
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
            // Only a 410 says since when the token is invalid: a device subscribed after that
            // time is a new registration and stays.
            let since_ms = match (&class, status) {
                (Class::Gone, 410) => json.as_ref().and_then(|j| j.get("timestamp")).and_then(Value::as_i64),
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
        (400, Some("BadDeviceToken")) => Class::Gone,
        // A token of another app, or (as likely) an `APNS_TOPIC` that is not this app's: the
        // configuration is suspect before the device is, so nothing is deleted.
        (400, Some("DeviceTokenNotForTopic" | "BadTopic" | "MissingTopic" | "TopicDisallowed")) => {
            Class::Credentials { refresh: false }
        }
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
        // `SENDER_ID_MISMATCH` (a token of another Firebase project, as likely our own service
        // account of the wrong project) is one of these: no device is deleted on a 403.
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
            field_violations: of_type(BAD_REQUEST)
                .any(|d| d.get("fieldViolations").and_then(Value::as_array).is_some_and(|list| !list.is_empty())),
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
    use Provider::{Apns, Fcm, WebPush};

    const NOW: i64 = 1_793_610_000_000; // Mon, 02 Nov 2026 09:00:00 GMT

    /// A verdict's kind, for the table.
    #[derive(Debug, PartialEq)]
    enum Kind {
        Accepted,
        Retry,
        Gone(Option<i64>),
        Credentials { refresh: bool },
        Payload,
    }

    fn kind(verdict: &Verdict) -> Kind {
        match verdict {
            Verdict::Accepted => Kind::Accepted,
            Verdict::Retry { .. } => Kind::Retry,
            Verdict::Gone { since_ms, .. } => Kind::Gone(*since_ms),
            Verdict::Credentials { refresh, .. } => Kind::Credentials { refresh: *refresh },
            Verdict::Payload { .. } => Kind::Payload,
        }
    }

    fn apns_body(reason: &str) -> String {
        format!(r#"{{"reason":"{reason}"}}"#)
    }

    fn fcm_body(code: u16, status: &str, error_code: Option<&str>) -> String {
        let details = match error_code {
            Some(c) => format!(r#"[{{"@type":"{FCM_ERROR}","errorCode":"{c}"}}]"#),
            None => "[]".into(),
        };
        format!(r#"{{"error":{{"code":{code},"message":"m","status":"{status}","details":{details}}}}}"#)
    }

    /// The FCM 400 of a bad token, as FCM sends it.
    const FCM_BAD_TOKEN: &str = r#"{"error":{"code":400,"message":"The registration token is not a valid FCM registration token","status":"INVALID_ARGUMENT","details":[{"@type":"type.googleapis.com/google.firebase.fcm.v1.FcmError","errorCode":"INVALID_ARGUMENT"}]}}"#;
    /// The FCM 400 of a field of our message it refuses.
    const FCM_BAD_FIELD: &str = r#"{"error":{"code":400,"message":"Invalid value at 'message.data[0].value' (TYPE_STRING), 12","status":"INVALID_ARGUMENT","details":[{"@type":"type.googleapis.com/google.rpc.BadRequest","fieldViolations":[{"field":"message.data[0].value","description":"Invalid value at 'message.data[0].value' (TYPE_STRING), 12"}]}]}}"#;

    #[test]
    fn every_row_of_the_classification_table_holds() {
        use Kind::*;
        let unregistered = r#"{"reason":"Unregistered","timestamp":1793609000000}"#;
        let fcm_unregistered = r#"{"error":{"code":404,"message":"Requested entity was not found.","status":"NOT_FOUND","details":[{"@type":"type.googleapis.com/google.firebase.fcm.v1.FcmError","errorCode":"UNREGISTERED"}]}}"#;
        let rows: Vec<(Provider, u16, String, Kind)> = vec![
            (WebPush, 200, "".into(), Accepted),
            (WebPush, 201, "".into(), Accepted),
            (WebPush, 202, "".into(), Accepted),
            (WebPush, 404, "Not Found".into(), Gone(None)),
            (WebPush, 410, r#"{"code":410,"errno":106,"error":"Gone"}"#.into(), Gone(None)),
            (WebPush, 429, "".into(), Retry),
            (WebPush, 500, "".into(), Retry),
            (WebPush, 503, "".into(), Retry),
            (WebPush, 522, "error code: 522".into(), Retry),
            (WebPush, 401, "".into(), Credentials { refresh: true }),
            (WebPush, 403, r#"{"reason":"BadJwtToken"}"#.into(), Credentials { refresh: false }),
            (WebPush, 400, "".into(), Payload),
            (WebPush, 413, "".into(), Payload),
            (WebPush, 422, "".into(), Payload),
            (WebPush, 301, "".into(), Payload),
            (Apns, 200, "".into(), Accepted),
            (Apns, 410, unregistered.into(), Gone(Some(1_793_609_000_000))),
            (Apns, 410, r#"{"reason":"ExpiredToken","timestamp":1793609000001}"#.into(), Gone(Some(1_793_609_000_001))),
            (Apns, 410, r#"{"reason":"Unregistered"}"#.into(), Gone(None)),
            (Apns, 410, r#"{"reason":"SomethingNew"}"#.into(), Payload),
            (Apns, 400, apns_body("BadDeviceToken"), Gone(None)),
            (Apns, 400, apns_body("DeviceTokenNotForTopic"), Credentials { refresh: false }),
            (Apns, 400, r#"{"reason":"BadDeviceToken","timestamp":1}"#.into(), Gone(None)),
            (Apns, 403, apns_body("InvalidProviderToken"), Credentials { refresh: false }),
            (Apns, 403, apns_body("MissingProviderToken"), Credentials { refresh: false }),
            (Apns, 403, apns_body("Forbidden"), Credentials { refresh: false }),
            (Apns, 403, apns_body("BadCertificate"), Credentials { refresh: false }),
            (Apns, 403, apns_body("BadCertificateEnvironment"), Credentials { refresh: false }),
            (Apns, 403, apns_body("ExpiredProviderToken"), Credentials { refresh: true }),
            (Apns, 400, apns_body("BadTopic"), Credentials { refresh: false }),
            (Apns, 400, apns_body("MissingTopic"), Credentials { refresh: false }),
            (Apns, 400, apns_body("TopicDisallowed"), Credentials { refresh: false }),
            (Apns, 429, apns_body("TooManyProviderTokenUpdates"), Credentials { refresh: false }),
            (Apns, 429, apns_body("TooManyRequests"), Retry),
            (Apns, 500, apns_body("InternalServerError"), Retry),
            (Apns, 503, apns_body("ServiceUnavailable"), Retry),
            (Apns, 503, apns_body("Shutdown"), Retry),
            (Apns, 520, "error code: 520".into(), Retry),
            (Apns, 524, "".into(), Retry),
            (Apns, 400, apns_body("IdleTimeout"), Retry),
            (Apns, 400, apns_body("BadCollapseId"), Payload),
            (Apns, 400, apns_body("BadExpirationDate"), Payload),
            (Apns, 400, apns_body("BadPriority"), Payload),
            (Apns, 400, apns_body("PayloadEmpty"), Payload),
            (Apns, 400, apns_body("InvalidPushType"), Payload),
            (Apns, 400, apns_body("DuplicateHeaders"), Payload),
            (Apns, 400, apns_body("MissingDeviceToken"), Payload),
            (Apns, 413, apns_body("PayloadTooLarge"), Payload),
            (Apns, 404, apns_body("BadPath"), Payload),
            (Apns, 405, apns_body("MethodNotAllowed"), Payload),
            (Apns, 418, apns_body("Teapot"), Payload),
            (Apns, 599, "".into(), Retry),
            (Apns, 400, "not json".into(), Payload),
            (Fcm, 200, r#"{"name":"projects/p/messages/0:1"}"#.into(), Accepted),
            (Fcm, 404, fcm_unregistered.into(), Gone(None)),
            (Fcm, 404, fcm_body(404, "NOT_FOUND", None), Payload),
            (Fcm, 400, FCM_BAD_TOKEN.into(), Gone(None)),
            (Fcm, 400, FCM_BAD_FIELD.into(), Payload),
            (Fcm, 400, fcm_body(400, "INVALID_ARGUMENT", None), Payload),
            (Fcm, 403, fcm_body(403, "PERMISSION_DENIED", Some("SENDER_ID_MISMATCH")), Credentials { refresh: false }),
            (Fcm, 403, fcm_body(403, "PERMISSION_DENIED", None), Credentials { refresh: false }),
            (Fcm, 401, fcm_body(401, "UNAUTHENTICATED", None), Credentials { refresh: true }),
            (Fcm, 401, "".into(), Credentials { refresh: true }),
            (
                Fcm,
                401,
                fcm_body(401, "UNAUTHENTICATED", Some("THIRD_PARTY_AUTH_ERROR")),
                Credentials { refresh: false },
            ),
            (Fcm, 429, fcm_body(429, "RESOURCE_EXHAUSTED", Some("QUOTA_EXCEEDED")), Retry),
            (Fcm, 500, fcm_body(500, "INTERNAL", Some("INTERNAL")), Retry),
            (Fcm, 503, fcm_body(503, "UNAVAILABLE", Some("UNAVAILABLE")), Retry),
            (Fcm, 523, "".into(), Retry),
            (Fcm, 409, fcm_body(409, "ABORTED", None), Payload),
        ];
        for (provider, status, body, expected) in rows {
            let verdict = judge(provider, status, None, &body, NOW);
            assert_eq!(kind(&verdict), expected, "{provider:?} {status} {body}");
            if let Some(reason) = verdict.reason() {
                assert!(reason.starts_with(&format!("{} answered {status}", provider.name())), "{reason}");
            }
        }
    }

    #[test]
    fn the_two_fcm_400s_are_told_apart_by_their_details_not_their_message() {
        assert!(matches!(judge(Fcm, 400, None, FCM_BAD_TOKEN, NOW), Verdict::Gone { .. }));
        assert!(matches!(judge(Fcm, 400, None, FCM_BAD_FIELD, NOW), Verdict::Payload { .. }));
        let both = FCM_BAD_TOKEN.replace(
            r#""errorCode":"INVALID_ARGUMENT"}"#,
            r#""errorCode":"INVALID_ARGUMENT"},{"@type":"type.googleapis.com/google.rpc.BadRequest","fieldViolations":[{"field":"message.token"}]}"#,
        );
        assert!(matches!(judge(Fcm, 400, None, &both, NOW), Verdict::Payload { .. }), "a violation means our message");
        let message_only = r#"{"error":{"code":400,"message":"The registration token is not a valid FCM registration token","status":"INVALID_ARGUMENT"}}"#;
        assert!(matches!(judge(Fcm, 400, None, message_only, NOW), Verdict::Payload { .. }), "no code, no delete");
    }

    #[test]
    fn a_reason_names_the_provider_status_and_code_and_quotes_a_bounded_body() {
        let reason = |v: Verdict| v.reason().unwrap().to_owned();
        assert_eq!(
            reason(judge(Apns, 400, None, r#"{"reason":"BadDeviceToken"}"#, NOW)),
            r#"APNs answered 400 (BadDeviceToken): {"reason":"BadDeviceToken"}"#
        );
        assert!(reason(judge(Fcm, 404, None, &fcm_body(404, "NOT_FOUND", Some("UNREGISTERED")), NOW))
            .starts_with("FCM answered 404 (UNREGISTERED): {"));
        assert_eq!(reason(judge(WebPush, 410, None, "  \n", NOW)), "Web Push answered 410");
        let long = format!(r#"{{"reason":"{}","pad":"{}"}}"#, "R".repeat(500), "é".repeat(2000));
        let r = reason(judge(Apns, 400, None, &long, NOW));
        assert!(r.chars().count() <= 40 + CODE_MAX + QUOTE_MAX, "{} chars", r.chars().count());
        assert!(r.ends_with('…') && r.contains(&format!("({}…)", "R".repeat(CODE_MAX))));
        assert!(!reason(judge(WebPush, 500, None, "a\r\nb\u{0}c", NOW)).contains(['\r', '\n', '\0']));
    }

    #[test]
    fn retry_after_is_honoured_on_retries_only() {
        let retry = judge(WebPush, 429, Some("120"), "", NOW);
        assert!(matches!(retry, Verdict::Retry { after_seconds: Some(120), .. }), "{retry:?}");
        let no_header = judge(Fcm, 503, None, "", NOW);
        assert!(matches!(no_header, Verdict::Retry { after_seconds: None, .. }));
        let dated = judge(Apns, 503, Some("Mon, 02 Nov 2026 09:01:00 GMT"), "", NOW);
        assert!(matches!(dated, Verdict::Retry { after_seconds: Some(60), .. }), "{dated:?}");
        assert!(matches!(judge(WebPush, 410, Some("120"), "", NOW), Verdict::Gone { .. }));
    }

    #[test]
    fn retry_after_reads_seconds_or_an_http_date_capped_at_twelve_hours() {
        assert_eq!(retry_after_seconds("0", NOW), Some(0));
        assert_eq!(retry_after_seconds(" 30 ", NOW), Some(30));
        assert_eq!(retry_after_seconds("43201", NOW), Some(RETRY_AFTER_MAX_SECONDS));
        assert_eq!(retry_after_seconds(&"9".repeat(40), NOW), Some(RETRY_AFTER_MAX_SECONDS));
        assert_eq!(retry_after_seconds("Mon, 02 Nov 2026 09:00:30 GMT", NOW), Some(30));
        assert_eq!(
            retry_after_seconds("Mon, 02 Nov 2026 09:00:30 GMT", NOW + 29_500),
            Some(1),
            "a part second rounds up"
        );
        assert_eq!(retry_after_seconds("Mon, 02 Nov 2026 08:00:00 GMT", NOW), Some(0), "a past date: now");
        assert_eq!(retry_after_seconds("Tue, 03 Nov 2026 09:00:00 GMT", NOW), Some(RETRY_AFTER_MAX_SECONDS));
        assert_eq!(
            retry_after_seconds("Sun, 06 Nov 1994 08:49:37 GMT", 784_111_777_000),
            Some(0),
            "RFC 9110's example"
        );
        assert_eq!(retry_after_seconds("Sun, 06 Nov 1994 08:49:37 GMT", 784_111_776_000), Some(1));
        assert_eq!(retry_after_seconds("Thu, 29 Feb 2024 00:00:00 GMT", 1_709_164_800_000), Some(0), "a leap day");
        for garbage in [
            "",
            "-1",
            "1.5",
            "soon",
            "0x10",
            "Mon, 02 Nov 2026 09:00:30 UTC",
            "Mon, 30 Feb 2026 09:00:30 GMT",
            "Mon, 02 Xyz 2026 09:00:30 GMT",
            "Mon, 02 Nov 2026 24:00:00 GMT",
            "Monday, 02-Nov-26 09:00:30 GMT",
            "Mon, 02 Nov 2026 09:00:3é GMT",
            "Fri, 29 Feb 2100 00:00:00 GMT",
        ] {
            assert_eq!(retry_after_seconds(garbage, NOW), None, "{garbage:?}");
        }
    }

    #[test]
    fn providers_have_stable_names() {
        let names: Vec<_> = Provider::ALL.iter().map(|p| (p.as_str(), p.name())).collect();
        assert_eq!(names, [("webpush", "Web Push"), ("apns", "APNs"), ("fcm", "FCM")]);
        assert_eq!(serde_json::to_string(&Provider::WebPush).unwrap(), r#""webpush""#);
    }
}
