//! The notification exchange (docs/notifications.md): notifications sent to users over REST,
//! each user's inbox, and the email / SMS fallback when a notification is not seen in time.
//!
//! A user's inbox is the room `inbox:{user}` (its log is the user's notification stream, its
//! connections are the user's devices); what makes it an inbox — delivery and read marks,
//! contacts, escalation timers — lives beside the room in the same object. When a fallback
//! channel is due, the inbox sends a [`Job`] to the fallback queue; the queue's consumer sends
//! it through the provider. Broadcasts reach every user through the [`directory`] and the
//! fan-out queue.
//!
//! This file holds what every part shares: urgency, channels, the options of a send, the job
//! and the queue bodies. The rest:
//!
//! - `policy.rs`: which fallback channel is due when (pure; the urgency table).
//! - `inbox/`: the inbox state machine (notifications in, marks, alarms → jobs; `alarm.rs`,
//!   `reads.rs`).
//! - `ledger.rs`: job idempotency (a job sends at most once).
//! - `providers.rs`: the HTTP requests of the email and SMS providers, built from a job, and
//!   how their answers are judged; `mail.rs`: the RFC 5322 message of the `send_email` binding.
//! - `attempt.rs`: one delivery of a fallback job to the consumer, as steps (claim, send,
//!   report, retry with backoff, dead letters).
//! - `dead_letters.rs`: the jobs that will not be sent, kept for the admin list.
//! - `directory.rs`: which users exist, sharded over objects; each shard's users in SQLite.
//! - `fanout.rs`: a broadcast as queue messages: a page per shard, deliveries in batches.
//! - `device.rs`: a device subscribed for native push, validated, and its public id;
//!   `endpoint.rs`: which Web Push endpoints are taken (the push services' hosts);
//!   `device_owners.rs`: which user holds each device (the device index, in the directory's
//!   shards), so a device subscribed by another user leaves the previous one.
//! - `requests.rs`: the REST bodies (`send`, `inbox/read`), validated;
//!   `requests_fanout.rs`: those of `multicast` and `broadcast`; `contacts.rs`: a user's
//!   contacts and quiet hours, and their updates.

pub mod attempt;
pub mod contacts;
pub mod dead_letters;
pub mod device;
pub mod device_owners;
pub mod directory;
pub mod endpoint;
pub mod fanout;
pub mod inbox;
pub mod ledger;
pub mod mail;
pub mod policy;
pub mod providers;
pub mod push;
pub mod requests;
pub mod requests_fanout;
pub mod settings;
pub mod wire;

use crate::error::Error;
use crate::ids::{RoomId, User, UserId};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::fmt;

/// The prefix of inbox room ids: the inbox of user `u` is `inbox:{u}` (escaped, see
/// [`RoomId::compose`]).
pub const INBOX_PREFIX: &str = "inbox";

/// The inbox room of `user`; `None` when the id does not fit a room id once escaped.
pub fn inbox_of(user: &UserId) -> Option<RoomId> {
    RoomId::compose(INBOX_PREFIX, &[user.as_str()]).ok()
}

/// The event name of a notification in an inbox's log.
pub const NOTIFICATION_EVENT: &str = "notification";

/// How urgent a notification is (the seed's table): it decides which fallback channels are
/// used and when (`policy.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Urgency {
    /// 1: realtime only; never email or SMS.
    VeryLow,
    /// 2: realtime; email if still unread after a long deadline.
    Low,
    /// 3 (the default): realtime; email if unread after a shorter deadline.
    #[default]
    Normal,
    /// 4: realtime; SMS (and email) if not delivered within seconds; ignores quiet hours.
    High,
}

impl Urgency {
    pub const ALL: [Urgency; 4] = [Self::VeryLow, Self::Low, Self::Normal, Self::High];

    /// `1`–`4`, or the name (`"very-low"`, `"low"`, `"normal"`, `"high"`).
    pub fn parse(value: &Value) -> Result<Self, Error> {
        let found = match value {
            Value::Number(n) => n.as_u64().and_then(|n| Self::ALL.get(usize::try_from(n).ok()?.checked_sub(1)?)),
            Value::String(name) => Self::ALL.iter().find(|u| u.as_str() == name),
            _ => None,
        };
        found.copied().ok_or_else(|| {
            Error::invalid_field("urgency", "must be 1-4 or \"very-low\", \"low\", \"normal\", \"high\"")
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::VeryLow => "very-low",
            Self::Low => "low",
            Self::Normal => "normal",
            Self::High => "high",
        }
    }

    /// The seed's number: 1 (very-low) to 4 (high).
    pub fn number(self) -> u8 {
        self as u8 + 1
    }
}

impl fmt::Display for Urgency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A fallback channel: how a notification reaches someone who did not see it in real time.
/// Push is the first step of the ladder; email and SMS the later ones (`policy.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    Email,
    Sms,
    /// Native push to the user's subscribed devices (Web Push, APNs, FCM).
    Push,
}

impl Channel {
    pub const ALL: [Channel; 3] = [Self::Email, Self::Sms, Self::Push];

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == name)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Email => "email",
            Self::Sms => "sms",
            Self::Push => "push",
        }
    }
}

/// The options of a send (`opts` of `send`, `multicast`, `broadcast`), validated.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Opts {
    #[serde(default)]
    pub urgency: Urgency,
    /// The notification's title in a push and an email's subject; none when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// A deep link (an https URL, or an app's own link) that opening the notification leads to,
    /// carried in every push and email ([`push::payload::check_url`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Free JSON delivered with the notification.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<Value>,
    /// When to deliver (ms since the epoch); now when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub send_at: Option<i64>,
    /// How long the notification is worth delivering, from `send_at` (ms); no fallback is sent
    /// after it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl_ms: Option<i64>,
    /// The fallback channels this notification may use; every channel the policy allows when
    /// absent. An empty list means realtime only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channels: Option<Vec<Channel>>,
    /// The sender's idempotency key (also the `Idempotency-Key` header): one send per key per
    /// sender and recipient.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
}

/// Longest `msg`, in bytes.
pub const MSG_MAX: usize = 4096;
/// Longest `opts.title`, in bytes.
pub const TITLE_MAX: usize = 256;
/// Longest `ttl`: 30 days, in seconds.
pub const TTL_MAX_SECONDS: i64 = 30 * 86_400;
/// How far ahead a `send_at` may be: 30 days, in ms.
pub const SEND_AT_MAX_AHEAD_MS: i64 = 30 * 86_400 * 1000;

/// A request's `msg`: a non-empty string of at most [`MSG_MAX`] bytes.
pub fn parse_msg(value: Option<&Value>) -> Result<String, Error> {
    match value {
        Some(Value::String(msg)) if !msg.is_empty() && msg.len() <= MSG_MAX => Ok(msg.clone()),
        Some(Value::String(msg)) if msg.is_empty() => Err(Error::invalid_field("msg", "must not be empty")),
        Some(Value::String(_)) => Err(Error::invalid_field("msg", format!("is longer than {MSG_MAX} bytes"))),
        Some(_) => Err(Error::invalid_field("msg", "must be a string")),
        None => Err(Error::invalid_field("msg", "is required")),
    }
}

impl Opts {
    /// A request's `opts` (absent or `null`: the defaults), with the `Idempotency-Key` header,
    /// which must agree with `opts.idempotency_key` when both are given.
    pub fn parse(value: Option<&Value>, header_key: Option<&str>) -> Result<Self, Error> {
        let empty = serde_json::Map::new();
        let fields = match value {
            None | Some(Value::Null) => &empty,
            Some(Value::Object(fields)) => fields,
            Some(_) => return Err(Error::invalid_field("opts", "must be an object")),
        };
        let known = ["urgency", "title", "url", "data", "send_at", "ttl", "channels", "idempotency_key"];
        if let Some(unknown) = fields.keys().find(|k| !known.contains(&k.as_str())) {
            return Err(Error::invalid_field("opts", format!("has {unknown:?}; known: {}", known.join(", "))));
        }
        let present = |name: &str| fields.get(name).filter(|v| !v.is_null());
        let urgency = present("urgency").map(Urgency::parse).transpose()?.unwrap_or_default();
        let title = match present("title") {
            None => None,
            Some(Value::String(t)) if !t.is_empty() && t.len() <= TITLE_MAX && !t.chars().any(char::is_control) => {
                Some(t.clone())
            }
            Some(_) => {
                let why = format!("must be a string of 1 to {TITLE_MAX} bytes without control characters");
                return Err(Error::invalid_field("title", why));
            }
        };
        let url = match present("url") {
            None => None,
            Some(Value::String(u)) => match push::payload::check_url(u) {
                Ok(()) => Some(u.clone()),
                Err(why) => return Err(Error::invalid_field("url", why)),
            },
            Some(_) => return Err(Error::invalid_field("url", "must be a string")),
        };
        let send_at = present("send_at")
            .map(|v| {
                v.as_i64()
                    .filter(|&t| t >= 0)
                    .ok_or_else(|| Error::invalid_field("send_at", "must be ms since the epoch"))
            })
            .transpose()?;
        let ttl_ms = present("ttl")
            .map(|v| {
                v.as_i64().filter(|&t| (1..=TTL_MAX_SECONDS).contains(&t)).map(|t| t * 1000).ok_or_else(|| {
                    Error::invalid_field("ttl", format!("must be whole seconds, 1 to {TTL_MAX_SECONDS}"))
                })
            })
            .transpose()?;
        let channels = present("channels")
            .map(|v| {
                let list = v.as_array().ok_or_else(|| Error::invalid_field("channels", "must be a list"))?;
                let mut channels = Vec::new();
                for item in list {
                    let channel = item.as_str().and_then(Channel::parse).ok_or_else(|| {
                        Error::invalid_field("channels", "lists channels by name: \"push\", \"email\", \"sms\"")
                    })?;
                    if !channels.contains(&channel) {
                        channels.push(channel);
                    }
                }
                Ok::<_, Error>(channels)
            })
            .transpose()?;
        let body_key = match present("idempotency_key") {
            None => None,
            Some(Value::String(k)) if !k.is_empty() && k.len() <= crate::message::KEY_MAX => Some(k.clone()),
            Some(_) => return Err(Error::invalid_field("idempotency_key", "must be a string of 1 to 128 bytes")),
        };
        let idempotency_key = match (body_key, header_key) {
            (Some(body), Some(header)) if body != header => {
                return Err(Error::invalid_field("idempotency_key", "differs from the Idempotency-Key header"))
            }
            (Some(key), _) => Some(key),
            (None, Some(header)) if !header.is_empty() && header.len() <= crate::message::KEY_MAX => {
                Some(header.to_owned())
            }
            (None, Some(_)) => {
                return Err(Error::invalid_field("Idempotency-Key", "must be 1 to 128 bytes"));
            }
            (None, None) => None,
        };
        Ok(Self { urgency, title, url, data: present("data").cloned(), send_at, ttl_ms, channels, idempotency_key })
    }
}

impl Opts {
    /// Refuses a `send_at` more than [`SEND_AT_MAX_AHEAD_MS`] after `now` (`invalid_field`):
    /// an inbox keeps scheduled sends, and does not keep them for ever. Checked where `now` is
    /// known: at the edge, and again by the inbox.
    pub fn check_send_at(&self, now: i64) -> Result<(), Error> {
        match self.send_at {
            Some(at) if at > now.saturating_add(SEND_AT_MAX_AHEAD_MS) => {
                Err(Error::invalid_field("send_at", "must be at most 30 days ahead"))
            }
            _ => Ok(()),
        }
    }
}

/// What the Worker asks an inbox to take (internal `POST /notify`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NotifyRequest {
    /// The sender: the token's user (the admin's, for a multicast or a broadcast).
    pub from: User,
    pub msg: String,
    pub opts: Opts,
}

/// One email, SMS or push (to one device) to send: the body of a fallback queue message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Job {
    /// Unique per (user, notification, channel): `{user}/{seq}/{channel}`, and
    /// `{user}/{seq}/push/{device}` for a push (the seq names the
    /// notification in the user's inbox; ids are senders' keys and may repeat). The
    /// consumer sends at most once per key (`ledger.rs`), and passes it to providers that take
    /// an idempotency key.
    pub key: String,
    pub user: UserId,
    pub channel: Channel,
    /// The email address or phone number.
    pub to: String,
    /// The notification's seq in the user's inbox, and its id.
    pub seq: u64,
    pub notification: String,
    /// Subject (email) and text.
    pub subject: String,
    pub text: String,
    /// When the notification stops being worth a fallback (its ttl, ms since the epoch): a
    /// claim from then on answers that the job is skipped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
    /// A push job's device and what the push carries besides `subject` and `text`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub push: Option<PushContent>,
}

/// What a push job carries: the device it goes to and the notification's other fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushContent {
    pub device: requests::Device,
    /// When the device was subscribed (ms): an APNs "gone" older than this is not about it.
    pub subscribed_at: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<Value>,
    pub urgency: Urgency,
    /// The credential that acknowledges this notification (`push/receipts.rs`); empty for a
    /// push that tells a read.
    pub receipt: String,
    /// The inbox's read mark when the push was made: every notification up to it was read, so
    /// the app can clear those it still shows (`0`, left out, when none was).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub last_read: u64,
    /// Set when this push tells the device of a read rather than showing a notification
    /// (`inbox/told.rs`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub told: Option<Told>,
}

/// A read a push tells a device (`inbox/told.rs`), named as the live connections are told it:
/// `read` (every notification up to the job's seq) or `read_one` (that notification).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Told {
    Read,
    ReadOne,
}

impl Told {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::ReadOne => "read_one",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "read" => Some(Self::Read),
            "read_one" => Some(Self::ReadOne),
            _ => None,
        }
    }
}

/// For `skip_serializing_if`: a count or mark of 0 is left out.
pub(crate) fn is_zero(value: &u64) -> bool {
    *value == 0
}

/// The body of a fan-out queue message (broadcasts, `directory.rs`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum FanoutTask {
    /// List a page of one directory shard's users after `after`, and queue their delivery
    /// (and the next page).
    Page { broadcast: String, shard: u32, after: Option<String>, notify: NotifyRequest },
    /// Deliver `notify` to each of `users`' inboxes.
    Deliver { broadcast: String, users: Vec<UserId>, notify: NotifyRequest },
}

impl<'de> Deserialize<'de> for FanoutTask {
    // By hand, as the derive would with `tag = "kind"` ([`crate::json::required`]).
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Wire {
            kind: String,
            broadcast: String,
            shard: Option<u32>,
            after: Option<String>,
            users: Option<Vec<UserId>>,
            notify: NotifyRequest,
        }
        let w = Wire::deserialize(d)?;
        match w.kind.as_str() {
            "page" => Ok(Self::Page {
                broadcast: w.broadcast,
                shard: crate::json::required(w.shard, "shard")?,
                after: w.after,
                notify: w.notify,
            }),
            "deliver" => Ok(Self::Deliver {
                broadcast: w.broadcast,
                users: crate::json::required(w.users, "users")?,
                notify: w.notify,
            }),
            other => Err(serde::de::Error::unknown_variant(other, &["page", "deliver"])),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;
    use serde_json::json;

    #[test]
    fn urgency_is_a_number_or_a_name() {
        assert_eq!(Urgency::parse(&json!(1)).unwrap(), Urgency::VeryLow);
        assert_eq!(Urgency::parse(&json!(4)).unwrap(), Urgency::High);
        assert_eq!(Urgency::parse(&json!("low")).unwrap(), Urgency::Low);
        for bad in [json!(0), json!(5), json!(2.5), json!("urgent"), json!(null), json!(-1)] {
            assert_eq!(Urgency::parse(&bad).unwrap_err().details.unwrap()["field"], "urgency", "{bad}");
        }
        assert_eq!(Urgency::default().number(), 3);
    }

    #[test]
    fn opts_are_validated_field_by_field() {
        let opts = Opts::parse(
            Some(
                &json!({ "urgency": "high", "data": { "k": 1 }, "send_at": 5, "ttl": 60, "channels": ["sms", "sms"] }),
            ),
            Some("key-1"),
        )
        .unwrap();
        assert_eq!(opts.urgency, Urgency::High);
        assert_eq!(opts.data, Some(json!({ "k": 1 })));
        assert_eq!((opts.send_at, opts.ttl_ms), (Some(5), Some(60_000)));
        assert_eq!(opts.channels, Some(vec![Channel::Sms]));
        assert_eq!(opts.idempotency_key.as_deref(), Some("key-1"));
        assert_eq!(Opts::parse(None, None).unwrap(), Opts::default());
        let field = |opts: Value, header: Option<&str>| {
            Opts::parse(Some(&opts), header).unwrap_err().details.unwrap()["field"].as_str().unwrap().to_owned()
        };
        assert_eq!(field(json!([]), None), "opts");
        assert_eq!(field(json!({ "priority": 1 }), None), "opts");
        assert_eq!(field(json!({ "urgency": 9 }), None), "urgency");
        assert_eq!(field(json!({ "send_at": "soon" }), None), "send_at");
        assert_eq!(field(json!({ "ttl": 0 }), None), "ttl");
        assert_eq!(field(json!({ "channels": ["fax"] }), None), "channels");
        assert_eq!(field(json!({ "channels": "email" }), None), "channels");
        assert_eq!(field(json!({ "idempotency_key": "a" }), Some("b")), "idempotency_key");
        assert_eq!(field(json!({}), Some("")), "Idempotency-Key");
    }

    #[test]
    fn a_send_at_more_than_30_days_ahead_is_refused() {
        let now = 1_000_000;
        let at = |send_at: i64| Opts { send_at: Some(send_at), ..Opts::default() };
        assert!(at(now + SEND_AT_MAX_AHEAD_MS).check_send_at(now).is_ok());
        assert!(at(5).check_send_at(now).is_ok(), "the past is now");
        assert!(Opts::default().check_send_at(now).is_ok());
        let error = at(now + SEND_AT_MAX_AHEAD_MS + 1).check_send_at(now).unwrap_err();
        assert_eq!((error.code, error.details.unwrap()["field"].clone()), (ErrorCode::InvalidField, json!("send_at")));
    }

    #[test]
    fn msg_is_a_non_empty_bounded_string() {
        assert_eq!(parse_msg(Some(&json!("hi"))).unwrap(), "hi");
        for bad in [None, Some(json!("")), Some(json!(3)), Some(json!("x".repeat(MSG_MAX + 1)))] {
            assert_eq!(parse_msg(bad.as_ref()).unwrap_err().details.unwrap()["field"], "msg");
        }
    }
}
