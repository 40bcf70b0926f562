//! One notification as each push provider's request: the URL, the headers that carry its
//! urgency, time to live and collapse id, and the JSON the device gets. No authorization and
//! no encryption here: the shell adds the provider's credential, and a Web Push plaintext is
//! encrypted afterwards (RFC 8291).
//!
//! | | Web Push (RFC 8030) | APNs | FCM HTTP v1 (`android`) |
//! |---|---|---|---|
//! | urgency very-low / low / normal / high | `Urgency: very-low` / `low` / `normal` / `high` | `apns-priority` 5 / 5 / 10 / 10, `interruption-level` passive / passive / active / time-sensitive | `priority` NORMAL / NORMAL / HIGH / HIGH |
//! | time to live (s) | `TTL: {ttl}` | `apns-expiration: {now + ttl}` (0 when the ttl is 0: once, never stored) | `ttl: "{ttl}s"`, at most 2,419,200 (4 weeks) |
//! | collapse id | `Topic` | `apns-collapse-id` | `collapse_key` and the notification's `tag` |
//! | payload limit | 3,993 bytes of plaintext (one 4,096-byte record, RFC 8291 §4) | 4,096 bytes | 4,096 bytes (the request body) |
//!
//! The collapse id ([`collapse_id`]) is unique to one notification of one inbox: a retried
//! send replaces the first on the device instead of stacking beside it.
//!
//! **The size rule.** When a payload would exceed its provider's limit, `data` is left out
//! first, and `"truncated": true` tells the app to read the whole notification from the inbox
//! by its `seq`; if it is still too big, the body is cut on a character boundary and ends with
//! "…"; then the title likewise. What is sent always fits: if even that is too big (only an
//! extreme `url` can make it so), nothing is sent and [`PayloadError`] names the field.
//!
//! **Deep links** ([`check_url`]): `opts.url` is at most 1,024 bytes with no whitespace or
//! control character, and is either an `https://` URL with a host and no user info (a web page,
//! an iOS universal link, an Android app link) or an app's own scheme `scheme://…` (lower case
//! `[a-z][a-z0-9+.-]*`) other than `http`, `javascript`, `vbscript`, `data`, `file`, `blob`,
//! `about` and `filesystem`, which a notification must never open.

use super::answers::Provider;
use crate::exchange::{Told, Urgency};
use base64ct::{Base64UrlUnpadded, Encoding};
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::borrow::Cow;

/// The largest Web Push plaintext: one record of 4,096 bytes less the 86-byte header, the
/// padding delimiter and the 16-byte tag (RFC 8291 §4).
pub const WEB_PUSH_PLAINTEXT_MAX: usize = 3993;
/// The largest APNs payload of a notification.
pub const APNS_PAYLOAD_MAX: usize = 4096;
/// The largest FCM message (measured on the whole request body, which is stricter).
pub const FCM_MESSAGE_MAX: usize = 4096;
/// FCM's longest (and default) time to live: four weeks.
pub const FCM_TTL_MAX_SECONDS: u32 = 2_419_200;
/// The longest deep link.
pub const URL_MAX: usize = 1024;
/// Schemes a notification never opens.
const REFUSED_SCHEMES: [&str; 8] = ["http", "javascript", "vbscript", "data", "file", "blob", "about", "filesystem"];
/// What ends a cut body or title.
const ELLIPSIS: &str = "…";

/// One notification as every provider gets it.
#[derive(Debug, Clone, Copy)]
pub struct Notice<'a> {
    /// The notification's id.
    pub id: &'a str,
    pub seq: u64,
    pub title: Option<&'a str>,
    pub body: &'a str,
    pub url: Option<&'a str>,
    pub data: Option<&'a Value>,
    pub urgency: Urgency,
    /// What is left of its time to live; 0 = deliver now or never.
    pub ttl_seconds: u32,
    /// From [`collapse_id`]: 1 to 32 base64url characters.
    pub collapse_id: &'a str,
    /// A credential that acknowledges this one notification (opaque here).
    pub receipt: &'a str,
    /// The inbox's read mark when the push was made (0: none), so the app can clear what it
    /// still shows of the notifications up to it.
    pub last_read: u64,
}

/// A read told to a phone by a silent push (`inbox/told.rs`): `{"type":"read","seq":N}` (every
/// notification up to N) or `{"type":"read_one","seq":N}`, as live connections are told. Never
/// to a Web Push subscription, whose pushes must each show a notification.
#[derive(Debug, Clone, Copy)]
pub struct TellRead<'a> {
    pub kind: Told,
    pub seq: u64,
    pub ttl_seconds: u32,
    /// For `read`, [`reads_collapse_id`]: a read not yet delivered is replaced by a later one.
    /// None for `read_one`, each of which names its own notification.
    pub collapse_id: Option<&'a str>,
}

/// A Web Push request without its `Authorization` header; `plaintext` is what the service
/// worker reads once the body is decrypted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebPushParts {
    pub headers: Vec<(&'static str, String)>,
    pub plaintext: String,
}

/// An APNs or FCM request without its `authorization` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpParts {
    pub url: String,
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
}

/// A notification that cannot become this provider's request: sending it would be refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("push_payload: no {} request can carry `{field}`: {problem}", .provider.name())]
pub struct PayloadError {
    pub provider: Provider,
    pub field: &'static str,
    pub problem: String,
}

/// The collapse id of notification `seq` of `user`'s inbox: base64url of the first 24 bytes
/// of SHA-256(user ‖ 0x00 ‖ seq in decimal), exactly 32 characters, so it fits a Web Push
/// `Topic` (at most 32 base64url characters), an `apns-collapse-id` (64 bytes) and a tag.
pub fn collapse_id(user: &str, seq: u64) -> String {
    let digest = Sha256::new().chain_update(user).chain_update([0]).chain_update(seq.to_string()).finalize();
    Base64UrlUnpadded::encode_string(&digest[..24])
}

/// The collapse id of the reads told to `user`'s phones: [`collapse_id`] of seq 0, which no
/// notification has (seqs start at 1).
pub fn reads_collapse_id(user: &str) -> String {
    collapse_id(user, 0)
}

/// RFC 8030 §5.3's name of the urgency.
pub fn web_push_urgency(urgency: Urgency) -> &'static str {
    urgency.as_str()
}

/// `apns-priority`: 10 sends at once, 5 lets the device save power.
pub fn apns_priority(urgency: Urgency) -> u8 {
    match urgency {
        Urgency::VeryLow | Urgency::Low => 5,
        Urgency::Normal | Urgency::High => 10,
    }
}

/// `aps.interruption-level` (`time-sensitive` breaks through Focus when the app has the
/// entitlement; iOS shows it as `active` otherwise).
pub fn apns_interruption_level(urgency: Urgency) -> &'static str {
    match urgency {
        Urgency::VeryLow | Urgency::Low => "passive",
        Urgency::Normal => "active",
        Urgency::High => "time-sensitive",
    }
}

/// FCM's `android.priority`: HIGH wakes the device, for notifications a person sees.
pub fn fcm_priority(urgency: Urgency) -> &'static str {
    match urgency {
        Urgency::VeryLow | Urgency::Low => "NORMAL",
        Urgency::Normal | Urgency::High => "HIGH",
    }
}

/// The Web Push request of `n`.
pub fn web_push(n: &Notice) -> Result<WebPushParts, PayloadError> {
    check_collapse_id(Provider::WebPush, n.collapse_id)?;
    let plaintext = fit(n, Provider::WebPush, WEB_PUSH_PLAINTEXT_MAX, &|c| {
        let message =
            WebPushMessage { title: c.title.as_deref(), body: &c.body, tag: n.collapse_id, herald: c.herald(n) };
        to_json(&message)
    })?;
    let headers = vec![
        ("TTL", n.ttl_seconds.to_string()),
        ("Urgency", web_push_urgency(n.urgency).to_owned()),
        ("Topic", n.collapse_id.to_owned()),
        ("Content-Encoding", "aes128gcm".to_owned()),
        ("Content-Type", "application/octet-stream".to_owned()),
    ];
    Ok(WebPushParts { headers, plaintext })
}

/// The APNs request of `n` to `device_token` of app `topic` (its bundle id).
pub fn apns(
    base_url: &str,
    device_token: &str,
    topic: &str,
    n: &Notice,
    now_ms: i64,
) -> Result<HttpParts, PayloadError> {
    check_collapse_id(Provider::Apns, n.collapse_id)?;
    if topic.is_empty() || !topic.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(error(Provider::Apns, "topic", "must be a bundle id of printable ASCII"));
    }
    let body = fit(n, Provider::Apns, APNS_PAYLOAD_MAX, &|c| {
        let aps = Aps {
            alert: Alert { title: c.title.as_deref(), body: &c.body },
            sound: "default",
            // Lets a notification service extension run, which sends the delivery receipt.
            mutable_content: 1,
            interruption_level: apns_interruption_level(n.urgency),
        };
        to_json(&ApnsPayload { aps, herald: c.herald(n) })
    })?;
    let headers = vec![
        ("apns-topic", topic.to_owned()),
        ("apns-push-type", "alert".to_owned()),
        ("apns-priority", apns_priority(n.urgency).to_string()),
        ("apns-expiration", expiration(n.ttl_seconds, now_ms).to_string()),
        ("apns-collapse-id", n.collapse_id.to_owned()),
    ];
    let url = format!("{}/3/device/{}", base_url.trim_end_matches('/'), path_escape(device_token));
    Ok(HttpParts { url, headers, body })
}

/// The FCM HTTP v1 request of `n` to registration `token` of Firebase project `project_id`.
pub fn fcm(base_url: &str, project_id: &str, token: &str, n: &Notice) -> Result<HttpParts, PayloadError> {
    check_collapse_id(Provider::Fcm, n.collapse_id)?;
    let body = fit(n, Provider::Fcm, FCM_MESSAGE_MAX, &|c| {
        let message = FcmMessage {
            token,
            notification: Alert { title: c.title.as_deref(), body: &c.body },
            // FCM refuses a data value that is not a string: the Herald object goes as its text.
            data: FcmData { herald: to_json(&c.herald(n)) },
            android: Android {
                priority: fcm_priority(n.urgency),
                ttl: format!("{}s", n.ttl_seconds.min(FCM_TTL_MAX_SECONDS)),
                collapse_key: n.collapse_id,
                notification: AndroidNotification { tag: n.collapse_id },
            },
        };
        to_json(&FcmRequest { message })
    })?;
    let url = format!("{}/v1/projects/{}/messages:send", base_url.trim_end_matches('/'), path_escape(project_id));
    Ok(HttpParts { url, headers: vec![("content-type", "application/json".to_owned())], body })
}

/// The APNs background push that tells `device_token` of read `t`: `apns-push-type:
/// background` and priority 5 (as Apple requires of a push with only `content-available`),
/// which wakes the app to remove what it shows (`apns-collapse-id` is a delivered
/// notification's identifier on the device).
pub fn apns_told(
    base_url: &str,
    device_token: &str,
    topic: &str,
    t: &TellRead,
    now_ms: i64,
) -> Result<HttpParts, PayloadError> {
    if topic.is_empty() || !topic.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(error(Provider::Apns, "topic", "must be a bundle id of printable ASCII"));
    }
    let body = to_json(&ApnsTold { aps: Background { content_available: 1 }, herald: TellBody::of(t) });
    let mut headers = vec![
        ("apns-topic", topic.to_owned()),
        ("apns-push-type", "background".to_owned()),
        ("apns-priority", "5".to_owned()),
        ("apns-expiration", expiration(t.ttl_seconds, now_ms).to_string()),
    ];
    if let Some(id) = t.collapse_id {
        check_collapse_id(Provider::Apns, id)?;
        headers.push(("apns-collapse-id", id.to_owned()));
    }
    let url = format!("{}/3/device/{}", base_url.trim_end_matches('/'), path_escape(device_token));
    Ok(HttpParts { url, headers, body })
}

/// The FCM data message (no `notification`: the app handles it, nothing is shown) that tells
/// registration `token` of read `t`, at normal priority.
pub fn fcm_told(base_url: &str, project_id: &str, token: &str, t: &TellRead) -> Result<HttpParts, PayloadError> {
    if let Some(id) = t.collapse_id {
        check_collapse_id(Provider::Fcm, id)?;
    }
    let message = FcmToldMessage {
        token,
        data: FcmData { herald: to_json(&TellBody::of(t)) },
        android: AndroidData {
            priority: "NORMAL",
            ttl: format!("{}s", t.ttl_seconds.min(FCM_TTL_MAX_SECONDS)),
            collapse_key: t.collapse_id,
        },
    };
    let body = to_json(&FcmToldRequest { message });
    let url = format!("{}/v1/projects/{}/messages:send", base_url.trim_end_matches('/'), path_escape(project_id));
    Ok(HttpParts { url, headers: vec![("content-type", "application/json".to_owned())], body })
}

/// `apns-expiration` for a time to live of `ttl_seconds` from `now_ms`: 0 asks APNs to try
/// once and store nothing.
fn expiration(ttl_seconds: u32, now_ms: i64) -> i64 {
    match ttl_seconds {
        0 => 0,
        ttl => now_ms.div_euclid(1000).saturating_add(i64::from(ttl)),
    }
}

/// Whether `value` may be a notification's deep link (the rule is in the module doc).
pub fn check_url(value: &str) -> Result<(), &'static str> {
    if value.len() > URL_MAX {
        return Err("must be at most 1024 bytes");
    }
    // A backslash is read as a slash by browsers' URL parsers: `https://a.example\@evil.example`
    // would not open where it seems to.
    if value.chars().any(|c| c.is_whitespace() || c.is_control() || c == '\\') {
        return Err("must hold no whitespace, control character or backslash");
    }
    let Some((scheme, rest)) = value.split_once("://") else {
        return Err("must be an https:// URL or an app link scheme://…");
    };
    let mut chars = scheme.chars();
    let well_formed = chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "+.-".contains(c));
    if !well_formed {
        return Err("must start with a lower-case scheme ([a-z][a-z0-9+.-]*) and ://");
    }
    if REFUSED_SCHEMES.contains(&scheme) {
        return Err("must not use http, javascript, vbscript, data, file, blob, about or filesystem");
    }
    if scheme == "https" {
        let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
        if authority.contains('@') {
            return Err("must not carry user info (user@host) in an https URL");
        }
        let host = authority.rsplit_once(':').map_or(authority, |(host, _port)| host);
        if host.is_empty() {
            return Err("must name a host after https://");
        }
    }
    Ok(())
}

/// What of the notification goes in: after the size rule, a title or body may be cut and the
/// data left out.
struct Content<'a> {
    title: Option<Cow<'a, str>>,
    body: Cow<'a, str>,
    data: Option<&'a Value>,
    truncated: bool,
}

/// The fields the size rule may cut.
#[derive(Debug, Clone, Copy)]
enum Field {
    Body,
    Title,
}

impl<'a> Content<'a> {
    fn field(&mut self, field: Field) -> &mut Cow<'a, str> {
        match field {
            Field::Body => &mut self.body,
            // Only cut when there is one.
            Field::Title => self.title.get_or_insert(Cow::Borrowed("")),
        }
    }

    fn herald(&'a self, n: &Notice<'a>) -> Herald<'a> {
        Herald {
            id: n.id,
            seq: n.seq,
            url: n.url,
            data: self.data,
            receipt: n.receipt,
            urgency: n.urgency.number(),
            truncated: self.truncated,
            last_read: n.last_read,
        }
    }
}

/// The payload `render` makes of `n`, made to fit `limit` bytes by the size rule.
fn fit<'a>(
    n: &Notice<'a>,
    provider: Provider,
    limit: usize,
    render: &dyn Fn(&Content) -> String,
) -> Result<String, PayloadError> {
    let mut content =
        Content { title: n.title.map(Cow::Borrowed), body: Cow::Borrowed(n.body), data: n.data, truncated: false };
    let text = render(&content);
    if text.len() <= limit {
        return Ok(text);
    }
    content.truncated = true;
    content.data = None;
    let text = render(&content);
    if text.len() <= limit {
        return Ok(text);
    }
    if let Some(text) = cut(&mut content, limit, render, Field::Body) {
        return Ok(text);
    }
    if content.title.is_some() {
        if let Some(text) = cut(&mut content, limit, render, Field::Title) {
            return Ok(text);
        }
    }
    let (field, size) = [("url", n.url.unwrap_or_default()), ("id", n.id), ("receipt", n.receipt)]
        .into_iter()
        .map(|(field, value)| (field, value.len()))
        .max_by_key(|&(_, size)| size)
        .unwrap_or_default();
    Err(error(
        provider,
        field,
        format!("the payload exceeds {limit} bytes even without data, body and title ({size} bytes)"),
    ))
}

/// Cuts the field `pick` chooses to its longest prefix (on a character boundary, ending with
/// "…") that lets the payload fit, and gives the payload; `None`, the field left as "…", when
/// even that does not fit. The size grows with the prefix, so a binary search finds it.
fn cut(content: &mut Content, limit: usize, render: &dyn Fn(&Content) -> String, field: Field) -> Option<String> {
    let whole = content.field(field).clone().into_owned();
    // No prefix longer than the limit can fit.
    let ends: Vec<usize> = whole.char_indices().map(|(i, _)| i).take_while(|&i| i <= limit).collect();
    let try_prefix = |content: &mut Content, end: usize| {
        *content.field(field) = Cow::Owned(format!("{}{ELLIPSIS}", whole[..end].trim_end()));
        let text = render(content);
        (text.len() <= limit).then_some(text)
    };
    let (mut low, mut high) = (0, ends.len());
    let mut best = None;
    // Invariant: ends[..low] fit; ends[high..] do not.
    while low < high {
        let middle = (low + high) / 2;
        match try_prefix(content, ends[middle]) {
            Some(text) => {
                best = Some((ends[middle], text));
                low = middle + 1;
            }
            None => high = middle,
        }
    }
    match best {
        Some((end, text)) => {
            *content.field(field) = Cow::Owned(format!("{}{ELLIPSIS}", whole[..end].trim_end()));
            Some(text)
        }
        None => {
            *content.field(field) = Cow::Borrowed(ELLIPSIS);
            None
        }
    }
}

/// A collapse id every provider takes: 1 to 32 base64url characters.
fn check_collapse_id(provider: Provider, id: &str) -> Result<(), PayloadError> {
    match id.len() {
        1..=32 if id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') => Ok(()),
        _ => Err(error(provider, "collapse_id", "must be 1 to 32 base64url characters")),
    }
}

fn error(provider: Provider, field: &'static str, problem: impl Into<String>) -> PayloadError {
    PayloadError { provider, field, problem: problem.into() }
}

/// A path segment: unreserved characters (RFC 3986 §2.3) as they are, every other byte `%XX`.
fn path_escape(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for byte in segment.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => out.push(byte as char),
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

fn to_json(value: &impl Serialize) -> String {
    // Borrowed strings, numbers and an already valid `Value`: serializing cannot fail.
    serde_json::to_string(value).expect("a push payload serializes")
}

fn is_false(value: &bool) -> bool {
    !value
}

/// What the app reads of a notification: the service worker's whole message (flattened), the
/// `herald` object of an APNs payload, the `herald` data string of an FCM message.
#[derive(Serialize)]
struct Herald<'a> {
    id: &'a str,
    seq: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    url: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<&'a Value>,
    receipt: &'a str,
    /// 1 (very-low) to 4 (high).
    urgency: u8,
    #[serde(skip_serializing_if = "is_false")]
    truncated: bool,
    /// Every notification up to this one was read: what the app still shows of them can go.
    #[serde(skip_serializing_if = "crate::exchange::is_zero")]
    last_read: u64,
}

/// What the app reads of a read told to it: the `herald` object of an APNs background push,
/// the `herald` data string of an FCM data message.
#[derive(Serialize)]
struct TellBody {
    #[serde(rename = "type")]
    kind: &'static str,
    seq: u64,
}

impl TellBody {
    fn of(t: &TellRead) -> Self {
        Self { kind: t.kind.as_str(), seq: t.seq }
    }
}

#[derive(Serialize)]
struct Background {
    #[serde(rename = "content-available")]
    content_available: u8,
}

#[derive(Serialize)]
struct ApnsTold {
    aps: Background,
    herald: TellBody,
}

#[derive(Serialize)]
struct FcmToldRequest<'a> {
    message: FcmToldMessage<'a>,
}

#[derive(Serialize)]
struct FcmToldMessage<'a> {
    token: &'a str,
    data: FcmData,
    android: AndroidData<'a>,
}

#[derive(Serialize)]
struct AndroidData<'a> {
    priority: &'static str,
    ttl: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    collapse_key: Option<&'a str>,
}

#[derive(Serialize)]
struct WebPushMessage<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    title: Option<&'a str>,
    body: &'a str,
    /// For `showNotification`'s `tag`: a second copy replaces the first.
    tag: &'a str,
    #[serde(flatten)]
    herald: Herald<'a>,
}

#[derive(Serialize)]
struct Alert<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    title: Option<&'a str>,
    body: &'a str,
}

#[derive(Serialize)]
struct Aps<'a> {
    alert: Alert<'a>,
    sound: &'static str,
    #[serde(rename = "mutable-content")]
    mutable_content: u8,
    #[serde(rename = "interruption-level")]
    interruption_level: &'static str,
}

#[derive(Serialize)]
struct ApnsPayload<'a> {
    aps: Aps<'a>,
    herald: Herald<'a>,
}

#[derive(Serialize)]
struct FcmRequest<'a> {
    message: FcmMessage<'a>,
}

#[derive(Serialize)]
struct FcmMessage<'a> {
    token: &'a str,
    notification: Alert<'a>,
    data: FcmData,
    android: Android<'a>,
}

#[derive(Serialize)]
struct FcmData {
    herald: String,
}

#[derive(Serialize)]
struct Android<'a> {
    priority: &'static str,
    ttl: String,
    collapse_key: &'a str,
    notification: AndroidNotification<'a>,
}

#[derive(Serialize)]
struct AndroidNotification<'a> {
    tag: &'a str,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ID: &str = "q0wx_faVMftoSd87XXS9ldc2ZI6HUTmp";
    const NOW: i64 = 1_793_610_000_500;

    fn notice<'a>(body: &'a str, data: Option<&'a Value>) -> Notice<'a> {
        Notice {
            id: "n1",
            seq: 42,
            title: Some("Build"),
            body,
            url: Some("https://app.example.com/builds/7"),
            data,
            urgency: Urgency::Normal,
            ttl_seconds: 3600,
            collapse_id: ID,
            receipt: "rcpt",
            last_read: 0,
        }
    }

    fn json_of(text: &str) -> Value {
        serde_json::from_str(text).unwrap()
    }

    /// The body, title and data a payload carries, wherever its provider puts them.
    fn shown(provider: Provider, n: &Notice) -> (Option<String>, String, Value, Value) {
        let (alert, herald) = match provider {
            Provider::WebPush => {
                let all = json_of(&web_push(n).unwrap().plaintext);
                (all.clone(), all)
            }
            Provider::Apns => {
                let all = json_of(&apns("https://apns", "ab", "com.example", n, NOW).unwrap().body);
                (all["aps"]["alert"].clone(), all["herald"].clone())
            }
            Provider::Fcm => {
                let all = json_of(&fcm("https://fcm", "p", "tok", n).unwrap().body);
                let herald = json_of(all["message"]["data"]["herald"].as_str().unwrap());
                (all["message"]["notification"].clone(), herald)
            }
        };
        let title = alert.get("title").map(|t| t.as_str().unwrap().to_owned());
        (title, alert["body"].as_str().unwrap().to_owned(), herald.get("data").cloned().unwrap_or_default(), herald)
    }

    fn size(provider: Provider, n: &Notice) -> (usize, usize) {
        match provider {
            Provider::WebPush => (web_push(n).unwrap().plaintext.len(), WEB_PUSH_PLAINTEXT_MAX),
            Provider::Apns => (apns("https://apns", "ab", "com.example", n, NOW).unwrap().body.len(), APNS_PAYLOAD_MAX),
            Provider::Fcm => (fcm("https://fcm", "p", "tok", n).unwrap().body.len(), FCM_MESSAGE_MAX),
        }
    }

    #[test]
    fn a_collapse_id_is_32_base64url_characters_unique_to_the_user_and_seq() {
        assert_eq!(collapse_id("bob", 42), ID, "base64url of SHA-256(\"bob\" 0x00 \"42\")[..24]");
        assert_eq!(collapse_id("a", 12), "AfazKhZDA2q-xI-38WkncI7-XiFmumns");
        assert_eq!(collapse_id("a1", 2), "5Y0gJ6l0jj4AOtTSAX9L4OryglqrAcd_", "the 0x00 keeps a1/2 apart from a/12");
        assert_ne!(collapse_id("bob", 43), ID);
        assert!(check_collapse_id(Provider::WebPush, &collapse_id("zoë", u64::MAX)).is_ok());
    }

    #[test]
    fn urgency_maps_to_each_provider_row_by_row() {
        let table = [
            (Urgency::VeryLow, "very-low", 5, "passive", "NORMAL"),
            (Urgency::Low, "low", 5, "passive", "NORMAL"),
            (Urgency::Normal, "normal", 10, "active", "HIGH"),
            (Urgency::High, "high", 10, "time-sensitive", "HIGH"),
        ];
        for (urgency, web, priority, level, android) in table {
            let n = Notice { urgency, ..notice("hi", None) };
            let web_parts = web_push(&n).unwrap();
            assert!(web_parts.headers.contains(&("Urgency", web.to_owned())), "{urgency}");
            assert_eq!(json_of(&web_parts.plaintext)["urgency"], urgency.number());
            let apns_parts = apns("https://apns", "ab", "com.example", &n, NOW).unwrap();
            assert!(apns_parts.headers.contains(&("apns-priority", priority.to_string())), "{urgency}");
            assert_eq!(json_of(&apns_parts.body)["aps"]["interruption-level"], level, "{urgency}");
            let fcm_body = json_of(&fcm("https://fcm", "p", "tok", &n).unwrap().body);
            assert_eq!(fcm_body["message"]["android"]["priority"], android, "{urgency}");
        }
    }

    #[test]
    fn a_web_push_request_carries_ttl_urgency_topic_and_the_service_workers_message() {
        let data = json!({"build": 7});
        let parts = web_push(&notice("Your build is ready", Some(&data))).unwrap();
        let headers = [
            ("TTL", "3600"),
            ("Urgency", "normal"),
            ("Topic", ID),
            ("Content-Encoding", "aes128gcm"),
            ("Content-Type", "application/octet-stream"),
        ];
        assert_eq!(parts.headers, headers.map(|(k, v)| (k, v.to_owned())));
        assert_eq!(
            parts.plaintext,
            format!(
                r#"{{"title":"Build","body":"Your build is ready","tag":"{ID}","id":"n1","seq":42,"url":"https://app.example.com/builds/7","data":{{"build":7}},"receipt":"rcpt","urgency":3}}"#
            )
        );
    }

    #[test]
    fn an_apns_request_has_its_headers_expiration_and_alert_with_the_herald_object() {
        let n = Notice { urgency: Urgency::High, ..notice("Your build is ready", None) };
        let parts = apns("https://api.push.apple.com/", "a1b2", "com.example.app", &n, NOW).unwrap();
        assert_eq!(parts.url, "https://api.push.apple.com/3/device/a1b2");
        let headers = [
            ("apns-topic", "com.example.app"),
            ("apns-push-type", "alert"),
            ("apns-priority", "10"),
            ("apns-expiration", "1793613600"),
            ("apns-collapse-id", ID),
        ];
        assert_eq!(parts.headers, headers.map(|(k, v)| (k, v.to_owned())));
        assert_eq!(
            json_of(&parts.body),
            json!({
                "aps": {"alert": {"title": "Build", "body": "Your build is ready"}, "sound": "default",
                        "mutable-content": 1, "interruption-level": "time-sensitive"},
                "herald": {"id": "n1", "seq": 42, "url": "https://app.example.com/builds/7", "receipt": "rcpt", "urgency": 4},
            })
        );
        let once = apns("https://apns", "a1b2", "com.example.app", &Notice { ttl_seconds: 0, ..n }, NOW).unwrap();
        assert!(once.headers.contains(&("apns-expiration", "0".to_owned())), "no time left: try once, store nothing");
        let bad_topic = apns("https://apns", "a1b2", "com.example\r\nx: y", &n, NOW).unwrap_err();
        assert_eq!(bad_topic.field, "topic");
    }

    #[test]
    fn an_fcm_request_escapes_the_project_clamps_the_ttl_and_sends_herald_as_a_string() {
        let data = json!({"build": 7});
        let n = Notice { ttl_seconds: 2_592_000, urgency: Urgency::Low, ..notice("Ready", Some(&data)) };
        let parts = fcm("https://fcm.googleapis.com", "my project/x", "tok-1", &n).unwrap();
        assert_eq!(parts.url, "https://fcm.googleapis.com/v1/projects/my%20project%2Fx/messages:send");
        assert_eq!(parts.headers, vec![("content-type", "application/json".to_owned())]);
        let body = json_of(&parts.body);
        let herald = r#"{"id":"n1","seq":42,"url":"https://app.example.com/builds/7","data":{"build":7},"receipt":"rcpt","urgency":2}"#;
        assert_eq!(
            body,
            json!({"message": {
                "token": "tok-1",
                "notification": {"title": "Build", "body": "Ready"},
                "data": {"herald": herald},
                "android": {"priority": "NORMAL", "ttl": "2419200s", "collapse_key": ID, "notification": {"tag": ID}},
            }})
        );
        let now = fcm("https://fcm", "p", "t", &Notice { ttl_seconds: 0, ..n }).unwrap();
        assert_eq!(json_of(&now.body)["message"]["android"]["ttl"], "0s");
    }

    #[test]
    fn an_absent_title_or_url_is_left_out_not_null() {
        let n = Notice { title: None, url: None, ..notice("hi", None) };
        for provider in Provider::ALL {
            let (title, body, _, herald) = shown(provider, &n);
            assert_eq!((title, body.as_str()), (None, "hi"), "{provider:?}");
            assert!(herald.get("url").is_none() && herald.get("data").is_none(), "{provider:?}");
        }
        assert!(!web_push(&n).unwrap().plaintext.contains("null"));
        assert!(!apns("https://apns", "ab", "t", &n, NOW).unwrap().body.contains("null"));
        assert!(!fcm("https://fcm", "p", "t", &n).unwrap().body.contains("null"));
    }

    #[test]
    fn huge_data_is_left_out_first_and_the_app_is_told_to_read_the_inbox() {
        let data = json!({"blob": "x".repeat(5000)});
        for provider in Provider::ALL {
            let n = notice("Your build is ready", Some(&data));
            let (title, body, data, herald) = shown(provider, &n);
            assert_eq!((title.as_deref(), body.as_str()), (Some("Build"), "Your build is ready"), "{provider:?}");
            assert_eq!((data, &herald["truncated"]), (Value::Null, &json!(true)), "{provider:?}");
            let (len, max) = size(provider, &n);
            assert!(len <= max, "{provider:?}: {len}");
        }
        let fits = json!({"build": 7});
        let (_, _, _, herald) = shown(Provider::WebPush, &notice("Your build is ready", Some(&fits)));
        assert!(herald.get("truncated").is_none(), "nothing cut, nothing said");
    }

    #[test]
    fn a_long_multibyte_body_is_cut_on_a_char_boundary_and_ends_with_an_ellipsis() {
        let long = "é".repeat(2048) + &"😀".repeat(1024);
        assert_eq!(long.len(), 8192);
        let escapes = "\"\\\u{1}".repeat(2000);
        for text in [long.as_str(), "ü".repeat(2048).as_str(), escapes.as_str()] {
            for provider in Provider::ALL {
                let n = notice(text, None);
                let (title, body, _, herald) = shown(provider, &n);
                assert!(body.ends_with(ELLIPSIS) && text.starts_with(body.trim_end_matches(ELLIPSIS)), "{provider:?}");
                assert!(body.len() > 500, "{provider:?}: cut only as far as needed ({} bytes)", body.len());
                assert_eq!((title.as_deref(), &herald["truncated"]), (Some("Build"), &json!(true)));
                let (len, max) = size(provider, &n);
                assert!(len <= max && len > max - 16, "{provider:?}: {len} of {max}");
            }
        }
    }

    #[test]
    fn a_huge_title_is_cut_after_the_body() {
        let title = "T".repeat(6000);
        for provider in Provider::ALL {
            let n = Notice { title: Some(&title), ..notice("short body", None) };
            let (title, body, _, _) = shown(provider, &n);
            assert_eq!(body, ELLIPSIS, "{provider:?}");
            assert!(title.unwrap().ends_with("TT…"), "{provider:?}");
            let (len, max) = size(provider, &n);
            assert!(len <= max, "{provider:?}: {len}");
        }
    }

    #[test]
    fn the_same_notification_gives_the_same_bytes() {
        let data = json!({"b": [1, 2, {"c": "ü".repeat(3000)}], "a": null});
        let body = "ß".repeat(3000);
        let n = notice(&body, Some(&data));
        assert_eq!(web_push(&n), web_push(&n));
        assert_eq!(apns("https://a", "ab", "t", &n, NOW), apns("https://a", "ab", "t", &n, NOW));
        assert_eq!(fcm("https://f", "p", "t", &n), fcm("https://f", "p", "t", &n));
    }

    #[test]
    fn what_cannot_fit_is_refused_naming_the_field() {
        let url = format!("https://example.com/{}", "a".repeat(5000));
        let n = Notice { url: Some(&url), ..notice("hi", None) };
        for error in [
            web_push(&n).unwrap_err(),
            apns("https://a", "ab", "t", &n, NOW).unwrap_err(),
            fcm("https://f", "p", "t", &n).unwrap_err(),
        ] {
            assert_eq!(error.field, "url", "{error}");
            assert!(error.to_string().starts_with("push_payload: no "), "{error}");
        }
        for bad in ["", "a/b", &"a".repeat(33), "tøpic"] {
            let n = Notice { collapse_id: bad, ..notice("hi", None) };
            assert_eq!(web_push(&n).unwrap_err().field, "collapse_id", "{bad:?}");
        }
    }

    #[test]
    fn the_read_mark_rides_in_every_providers_herald_object_when_there_is_one() {
        for provider in [Provider::WebPush, Provider::Apns, Provider::Fcm] {
            let (_, _, _, herald) = shown(provider, &Notice { last_read: 41, ..notice("hi", None) });
            assert_eq!(herald["last_read"], json!(41), "{provider:?}");
            let (_, _, _, herald) = shown(provider, &notice("hi", None));
            assert!(herald.get("last_read").is_none(), "{provider:?}: none read, none said");
        }
    }

    #[test]
    fn a_read_told_to_an_iphone_is_a_background_push_with_nothing_to_show() {
        let reads = reads_collapse_id("bob");
        assert_eq!(reads, collapse_id("bob", 0));
        let t = TellRead { kind: Told::Read, seq: 7, ttl_seconds: 600, collapse_id: Some(&reads) };
        let parts = apns_told("https://apns/", "a b", "com.example.app", &t, NOW).unwrap();
        assert_eq!(parts.url, "https://apns/3/device/a%20b");
        let header = |name: &str| parts.headers.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_str());
        assert_eq!(header("apns-push-type"), Some("background"));
        assert_eq!(header("apns-priority"), Some("5"), "Apple refuses priority 10 for a background push");
        assert_eq!(header("apns-expiration"), Some((NOW / 1000 + 600).to_string().as_str()));
        assert_eq!(header("apns-collapse-id"), Some(reads.as_str()));
        assert_eq!(
            json_of(&parts.body),
            json!({ "aps": { "content-available": 1 }, "herald": { "type": "read", "seq": 7 } })
        );
        let one = TellRead { kind: Told::ReadOne, collapse_id: None, ..t };
        let parts = apns_told("https://apns", "ab", "com.example.app", &one, NOW).unwrap();
        assert!(
            parts.headers.iter().all(|(n, _)| *n != "apns-collapse-id"),
            "each read_one names its own notification"
        );
        assert_eq!(json_of(&parts.body)["herald"], json!({ "type": "read_one", "seq": 7 }));
        assert!(apns_told("https://apns", "ab", "", &one, NOW).is_err());
    }

    #[test]
    fn a_read_told_to_an_android_phone_is_a_data_message_without_a_notification() {
        let reads = reads_collapse_id("bob");
        let t = TellRead { kind: Told::Read, seq: 9, ttl_seconds: 2_592_000, collapse_id: Some(&reads) };
        let parts = fcm_told("https://fcm", "my project", "tok", &t).unwrap();
        assert_eq!(parts.url, "https://fcm/v1/projects/my%20project/messages:send");
        let body = json_of(&parts.body);
        let message = &body["message"];
        assert!(message.get("notification").is_none(), "nothing to show");
        assert_eq!(json_of(message["data"]["herald"].as_str().unwrap()), json!({ "type": "read", "seq": 9 }));
        assert_eq!(message["android"], json!({ "priority": "NORMAL", "ttl": "2419200s", "collapse_key": reads }));
        let one =
            fcm_told("https://fcm", "p", "tok", &TellRead { kind: Told::ReadOne, collapse_id: None, ..t }).unwrap();
        assert!(json_of(&one.body)["message"]["android"].get("collapse_key").is_none());
    }

    #[test]
    fn a_deep_link_is_https_with_a_host_or_an_apps_own_scheme() {
        for good in [
            "https://app.example.com/builds/7?tab=log#end",
            "https://example.com",
            "https://example.com:8443/x",
            "myapp://builds/7",
            "com.example.app://open",
            "x-app+v2://",
            "https://例え.jp/パス",
        ] {
            assert_eq!(check_url(good), Ok(()), "{good}");
        }
        for bad in [
            "http://example.com/",
            "javascript://%0Aalert(1)",
            "data://text/html,x",
            "vbscript://x",
            "file:///etc/passwd",
            "blob://x",
            "about://blank",
            "JavaScript://x",
            "HTTPS://example.com",
            "https://",
            "https:///path",
            "https://:443/",
            "https://user@evil.example/",
            "https://app.example\\@evil.example/",
            "https://ex ample.com",
            "https://example.com/\n",
            "mailto:bob@example.com",
            "/relative/path",
            "1app://x",
            "",
        ] {
            assert!(check_url(bad).is_err(), "{bad:?}");
        }
        let long = format!("https://example.com/{}", "a".repeat(URL_MAX));
        assert_eq!(check_url(&long), Err("must be at most 1024 bytes"));
        assert_eq!(check_url(&long[..URL_MAX]), Ok(()));
    }
}
