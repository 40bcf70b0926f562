//! Native push's side of the providers (`exchange/push/`): each provider's answer judged,
//! `Retry-After` read, a notification built into each provider's request, and the breaker's
//! counts.

use herald_core::exchange::push::answers::{judge, retry_after_seconds, Provider, Verdict, RETRY_AFTER_MAX_SECONDS};
use herald_core::exchange::push::breaker::{Breaker, BreakerRule, BUCKETS};
use herald_core::exchange::push::payload::{self, Notice, APNS_PAYLOAD_MAX, FCM_MESSAGE_MAX, WEB_PUSH_PLAINTEXT_MAX};
use herald_core::exchange::Urgency;
use serde_json::Value;

/// The longest reason: the provider, status and a code (64 characters), and 300 of the body.
pub const REASON_MAX_CHARS: usize = 400;

/// Any answer is judged without a panic, as the classification table documents: accepted
/// exactly on 2xx; a device gone only on a status that can mean it (and a time only from
/// APNs); a retry's wait within 12 hours; a reason that names the provider and the status and
/// stays short, on one line.
pub fn answer(provider: Provider, status: u16, retry_after: Option<&str>, body: &str, now_ms: i64) {
    let verdict = judge(provider, status, retry_after, body, now_ms);
    assert_eq!(
        matches!(verdict, Verdict::Accepted),
        (200..=299).contains(&status),
        "{provider:?} {status}: {verdict:?}"
    );
    match &verdict {
        Verdict::Accepted => return,
        Verdict::Gone { since_ms, .. } => {
            let can_mean_gone: &[u16] = match provider {
                Provider::WebPush => &[404, 410],
                Provider::Apns => &[400, 410],
                Provider::Fcm => &[400, 403, 404],
            };
            assert!(can_mean_gone.contains(&status), "{provider:?} {status} taken as gone: {body:?}");
            assert!(since_ms.is_none() || (provider == Provider::Apns && status == 410), "{verdict:?}");
        }
        Verdict::Retry { after_seconds, .. } => {
            assert!(after_seconds.is_none_or(|s| s <= RETRY_AFTER_MAX_SECONDS), "{verdict:?}");
            assert_eq!(after_seconds.is_some(), retry_after.and_then(|v| retry_after_seconds(v, now_ms)).is_some());
        }
        Verdict::Credentials { .. } => assert!(matches!(status, 400 | 401 | 403 | 429), "{provider:?} {status}"),
        Verdict::Payload { .. } => assert!(!matches!(status, 429 | 500..=599), "{provider:?} {status} not retried"),
    }
    if (500..=599).contains(&status) {
        assert!(matches!(verdict, Verdict::Retry { .. }), "{provider:?} {status}: {verdict:?}");
    }
    let reason = verdict.reason().expect("every refusal has a reason");
    assert!(reason.starts_with(&format!("{} answered {status}", provider.name())), "{reason:?}");
    assert!(reason.chars().count() <= REASON_MAX_CHARS, "{} chars", reason.chars().count());
    assert!(!reason.chars().any(char::is_control), "{reason:?}");
}

/// `Retry-After` never asks for more than 12 hours, and a plain number is read as seconds.
pub fn retry_after(value: &str, now_ms: i64) {
    let seconds = retry_after_seconds(value, now_ms);
    assert!(seconds.is_none_or(|s| s <= RETRY_AFTER_MAX_SECONDS), "{value:?}: {seconds:?}");
    let trimmed = value.trim();
    if !trimmed.is_empty() && trimmed.bytes().all(|b| b.is_ascii_digit()) {
        assert!(seconds.is_some(), "{value:?} is a number of seconds");
    }
}

/// A notification's text fields, whatever they hold.
#[derive(Debug, Clone, Default)]
pub struct Fields {
    pub title: Option<String>,
    pub body: String,
    pub url: Option<String>,
    pub data: Option<Value>,
    pub id: String,
    pub receipt: String,
}

/// Each provider's request of a notification is within its provider's limit and valid JSON,
/// carries the id and the receipt as they are, never loses the body or title without saying
/// `truncated`, and is the same twice; or it is refused naming a field.
pub fn payloads(fields: &Fields, seq: u64, ttl_seconds: u32, urgency: Urgency) {
    let collapse_id = payload::collapse_id(&fields.id, seq);
    let notice = Notice {
        id: &fields.id,
        seq,
        title: fields.title.as_deref(),
        body: &fields.body,
        url: fields.url.as_deref(),
        data: fields.data.as_ref(),
        urgency,
        ttl_seconds,
        collapse_id: &collapse_id,
        receipt: &fields.receipt,
        last_read: seq / 2,
    };
    let now_ms = 1_793_610_000_000;
    let built = [
        (payload::web_push(&notice).map(|p| (p.plaintext, p.headers)), WEB_PUSH_PLAINTEXT_MAX),
        (
            payload::apns("https://apns", "a1b2", "com.example", &notice, now_ms).map(|p| (p.body, p.headers)),
            APNS_PAYLOAD_MAX,
        ),
        (payload::fcm("https://fcm", "project", "token", &notice).map(|p| (p.body, p.headers)), FCM_MESSAGE_MAX),
    ];
    for (i, (result, limit)) in built.into_iter().enumerate() {
        let (text, headers) = match result {
            Ok(parts) => parts,
            Err(error) => {
                assert!(["url", "id", "receipt"].contains(&error.field), "{error}");
                continue;
            }
        };
        assert!(text.len() <= limit, "{} bytes over {limit}", text.len());
        assert!(headers.iter().all(|(_, v)| v.bytes().all(|b| b.is_ascii_graphic() || b == b' ')), "{headers:?}");
        let json: Value = serde_json::from_str(&text).expect("a payload is JSON");
        let (alert, herald) = match i {
            0 => (json.clone(), json.clone()),
            1 => (json["aps"]["alert"].clone(), json["herald"].clone()),
            _ => {
                let herald = json["message"]["data"]["herald"].as_str().expect("FCM data values are strings");
                (json["message"]["notification"].clone(), serde_json::from_str(herald).expect("herald is JSON"))
            }
        };
        assert_eq!(herald["id"], fields.id.as_str());
        assert_eq!(herald["receipt"], fields.receipt.as_str());
        assert_eq!(herald["seq"], seq);
        let truncated = herald.get("truncated") == Some(&Value::Bool(true));
        let body = alert["body"].as_str().expect("a body");
        let title = alert.get("title").and_then(Value::as_str);
        let whole =
            body == fields.body && title == fields.title.as_deref() && herald.get("data") == fields.data.as_ref();
        assert!(whole || truncated, "cut without saying so");
        assert!(body == fields.body || body.ends_with('…'), "{body:?}");
    }
    assert_eq!(payload::web_push(&notice), payload::web_push(&notice), "the same input, the same bytes");
}

/// A breaker fed `outcomes` (ms since the last, gone) keeps a bounded number of buckets and
/// trips only on enough outcomes within its window.
pub fn breaker(rule: &BreakerRule, outcomes: &[(u32, bool)]) {
    let (mut breaker, mut now) = (Breaker::default(), 1_793_610_000_000i64);
    let mut recent: Vec<(i64, bool)> = Vec::new();
    for &(after_ms, gone) in outcomes {
        now += i64::from(after_ms);
        breaker.record(rule, now, gone);
        recent.push((now, gone));
        assert!(breaker.len() <= 2 * BUCKETS as usize, "{} buckets", breaker.len());
        let (gone_now, total) = breaker.counts(rule, now);
        // An outcome counts for at most the window.
        let within = recent.iter().filter(|(at, _)| now - at < rule.window_ms.max(1)).count();
        assert!(total as usize <= within, "{total} counted of {within} within the window");
        assert!(gone_now <= total);
        if breaker.tripped(rule, now) {
            assert!(total >= rule.min_devices.max(1));
            assert!(u64::from(gone_now) * 100 >= u64::from(rule.gone_percent) * u64::from(total));
        }
    }
}
