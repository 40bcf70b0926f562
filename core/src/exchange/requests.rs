//! The inbox's REST bodies, validated at the edge before any object is reached: `send`,
//! `native/subscribe` and `inbox/read` (the contacts body is `contacts.rs`'s). Each refusal is
//! `invalid_field` naming the field (or `malformed_json`).

use super::inbox::{PAGE_DEFAULT, PAGE_MAX};
use super::{inbox_of, parse_msg, NotifyRequest, Opts};
use crate::error::Error;
use crate::ids::{RoomId, User, UserId};
use base64ct::{Base64UrlUnpadded, Encoding};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// `POST /api/v1/send`: `{msg, uid, opts?}` from `from` (the token's user), with the
/// `Idempotency-Key` header, at `now`. The recipient, their inbox, and what to ask it.
pub fn send(
    body: &str,
    header_key: Option<&str>,
    from: &User,
    now: i64,
) -> Result<(UserId, RoomId, NotifyRequest), Error> {
    let fields: Map<String, Value> = crate::json::object(body, "body")?;
    only(&fields, &["msg", "uid", "opts"])?;
    let msg = parse_msg(fields.get("msg"))?;
    let (uid, inbox) = match fields.get("uid") {
        Some(Value::String(uid)) => UserId::parse(uid)
            .ok()
            .and_then(|uid| inbox_of(&uid).map(|inbox| (uid, inbox)))
            .ok_or_else(|| Error::invalid_field("uid", "must be a user id of 1 to 128 bytes, no control characters"))?,
        Some(_) => return Err(Error::invalid_field("uid", "must be a string")),
        None => return Err(Error::invalid_field("uid", "is required")),
    };
    let opts = Opts::parse(fields.get("opts"), header_key)?;
    opts.check_send_at(now)?;
    Ok((uid, inbox, NotifyRequest { from: from.clone(), msg, opts }))
}

/// `POST /api/v1/inbox/read`: `{seq}`, every notification up to it read.
pub fn read(body: &str) -> Result<u64, Error> {
    let fields: Map<String, Value> = crate::json::object(body, "body")?;
    only(&fields, &["seq"])?;
    match fields.get("seq") {
        Some(seq) => seq.as_u64().ok_or_else(|| Error::invalid_field("seq", "must be a whole number")),
        None => Err(Error::invalid_field("seq", "is required")),
    }
}

/// `GET /api/v1/inbox?before=&limit=`: notifications with a seq below `before` (all when
/// absent), at most `limit` (1 to [`PAGE_MAX`], default [`PAGE_DEFAULT`]).
pub fn page_query(before: Option<&str>, limit: Option<&str>) -> Result<(Option<u64>, usize), Error> {
    let before = before
        .map(|b| b.parse::<u64>().map_err(|_| Error::invalid_field("before", "must be a whole number (a seq)")))
        .transpose()?;
    let limit = match limit {
        None => PAGE_DEFAULT,
        Some(l) => l
            .parse::<usize>()
            .ok()
            .filter(|l| (1..=PAGE_MAX).contains(l))
            .ok_or_else(|| Error::invalid_field("limit", format!("must be a whole number from 1 to {PAGE_MAX}")))?,
    };
    Ok((before, limit))
}

fn only(fields: &Map<String, Value>, known: &[&str]) -> Result<(), Error> {
    match fields.keys().find(|k| !known.contains(&k.as_str())) {
        Some(unknown) => {
            Err(Error::invalid_field(unknown, format!("is not a field here (known: {})", known.join(", "))))
        }
        None => Ok(()),
    }
}

/// A device a user subscribed for native push (`POST /api/v1/native/subscribe`). Stored in
/// their inbox; delivery through these comes later.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Device {
    /// An Apple device token (APNs), hex.
    Ios { token: String },
    /// A Firebase Cloud Messaging registration token.
    Android { token: String },
    /// A Web Push subscription (RFC 8030 endpoint, RFC 8291 keys, base64url).
    WebPush { endpoint: String, expiration_time: Option<i64>, p256dh: String, auth: String },
}

impl<'de> Deserialize<'de> for Device {
    // By hand, as the derive would with `tag = "kind"` ([`crate::json::required`]): devices are
    // stored in this form.
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use crate::json::required;
        #[derive(Deserialize)]
        struct Wire {
            kind: String,
            token: Option<String>,
            endpoint: Option<String>,
            expiration_time: Option<i64>,
            p256dh: Option<String>,
            auth: Option<String>,
        }
        let w = Wire::deserialize(d)?;
        match w.kind.as_str() {
            "ios" => Ok(Self::Ios { token: required(w.token, "token")? }),
            "android" => Ok(Self::Android { token: required(w.token, "token")? }),
            "webpush" => Ok(Self::WebPush {
                endpoint: required(w.endpoint, "endpoint")?,
                expiration_time: w.expiration_time,
                p256dh: required(w.p256dh, "p256dh")?,
                auth: required(w.auth, "auth")?,
            }),
            other => Err(serde::de::Error::unknown_variant(other, &["ios", "android", "webpush"])),
        }
    }
}

impl Device {
    /// `{os: "ios"|"android", token}` or `{endpoint, expirationTime, keys: {p256dh, auth}}`.
    pub fn parse(body: &str) -> Result<Self, Error> {
        let fields: Map<String, Value> = crate::json::object(body, "body")?;
        if fields.contains_key("endpoint") {
            only(&fields, &["endpoint", "expirationTime", "keys"])?;
            return web_push(&fields);
        }
        only(&fields, &["os", "token"])?;
        let token = fields.get("token").and_then(Value::as_str);
        match fields.get("os").and_then(Value::as_str) {
            Some("ios") => match token {
                Some(t)
                    if (64..=200).contains(&t.len())
                        && t.len() % 2 == 0
                        && t.bytes().all(|b| b.is_ascii_hexdigit()) =>
                {
                    Ok(Self::Ios { token: t.to_ascii_lowercase() })
                }
                _ => Err(Error::invalid_field("token", "an iOS device token is 64 to 200 hex digits")),
            },
            Some("android") => match token {
                Some(t)
                    if (32..=4096).contains(&t.len())
                        && t.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_:.".contains(&b)) =>
                {
                    Ok(Self::Android { token: t.to_owned() })
                }
                _ => Err(Error::invalid_field("token", "an Android (FCM) token is 32 to 4096 of A-Z a-z 0-9 - _ : .")),
            },
            _ => Err(Error::invalid_field(
                "os",
                "must be \"ios\" or \"android\" (or send a Web Push subscription with `endpoint`)",
            )),
        }
    }

    /// What identifies the device: a subscription again with the same id replaces it.
    pub fn id(&self) -> &str {
        match self {
            Self::Ios { token } | Self::Android { token } => token,
            Self::WebPush { endpoint, .. } => endpoint,
        }
    }
}

fn web_push(fields: &Map<String, Value>) -> Result<Device, Error> {
    let endpoint = match fields.get("endpoint").and_then(Value::as_str) {
        Some(url)
            if url.starts_with("https://")
                && url.len() > "https://".len()
                && url.len() <= 2048
                && !url.chars().any(|c| c.is_whitespace() || c.is_control()) =>
        {
            url.to_owned()
        }
        _ => return Err(Error::invalid_field("endpoint", "must be an https URL of at most 2048 bytes")),
    };
    let expiration_time = match fields.get("expirationTime") {
        None | Some(Value::Null) => None,
        Some(v) => Some(
            v.as_i64()
                .filter(|t| *t >= 0)
                .ok_or_else(|| Error::invalid_field("expirationTime", "must be null or ms since the epoch"))?,
        ),
    };
    let keys = fields
        .get("keys")
        .and_then(Value::as_object)
        .ok_or_else(|| Error::invalid_field("keys", "must be {p256dh, auth}"))?;
    // RFC 8291 §3.1: p256dh is an uncompressed P-256 point (65 bytes, 0x04 first); auth is 16
    // bytes. Browsers give both in base64url.
    let key = |name: &str, ok: &dyn Fn(&[u8]) -> bool, what: &str| {
        let field = format!("keys.{name}");
        let text = keys.get(name).and_then(Value::as_str).ok_or_else(|| Error::invalid_field(&field, what))?;
        match Base64UrlUnpadded::decode_vec(text.trim_end_matches('=')) {
            Ok(bytes) if ok(&bytes) => Ok(text.trim_end_matches('=').to_owned()),
            _ => Err(Error::invalid_field(&field, what)),
        }
    };
    let p256dh = key(
        "p256dh",
        &|b| b.len() == 65 && b[0] == 4,
        "must be base64url of an uncompressed P-256 public key (65 bytes)",
    )?;
    let auth = key("auth", &|b| b.len() == 16, "must be base64url of 16 bytes")?;
    Ok(Device::WebPush { endpoint, expiration_time, p256dh, auth })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;
    use crate::exchange::{Urgency, SEND_AT_MAX_AHEAD_MS};
    use serde_json::json;

    /// 2026-11-02 09:00 UTC.
    const NOW: i64 = 1_793_610_000_000;

    const P256DH: &str = "BN81HfHxzt4V4lXDV_2ia8Rl_QvqofvoNI7_MOHCiOMEYuFXFNDBOJzKCCj2nzK5luwnH6rvBCN2jx7lNHpraaw";
    const AUTH: &str = "0ywNrBxQ-rm4skkHDJB5lw";

    fn field(result: Result<impl std::fmt::Debug, Error>) -> String {
        let error = result.unwrap_err();
        assert_eq!(error.code, ErrorCode::InvalidField, "{error:?}");
        error.details.unwrap()["field"].as_str().unwrap().to_owned()
    }

    #[test]
    fn a_send_names_the_recipients_inbox_and_carries_the_sender() {
        let alice = User::anonymous_profile(UserId::parse("alice").unwrap());
        let body = json!({ "msg": "hi", "uid": "bob@example.com", "opts": { "urgency": "high" } }).to_string();
        let (uid, inbox, notify) = send(&body, Some("k1"), &alice, NOW).unwrap();
        assert_eq!(uid.as_str(), "bob@example.com");
        assert_eq!(inbox.as_str(), "inbox:bob_40example.com");
        assert_eq!(notify.from, alice);
        assert_eq!(notify.msg, "hi");
        assert_eq!((notify.opts.urgency, notify.opts.idempotency_key.as_deref()), (Urgency::High, Some("k1")));
        assert_eq!(field(send(r#"{"msg":"hi"}"#, None, &alice, NOW)), "uid");
        assert_eq!(field(send(r#"{"msg":"hi","uid":7}"#, None, &alice, NOW)), "uid");
        assert_eq!(field(send(r#"{"msg":"hi","uid":""}"#, None, &alice, NOW)), "uid");
        assert_eq!(field(send(&json!({ "msg": "hi", "uid": "x".repeat(130) }).to_string(), None, &alice, NOW)), "uid");
        assert_eq!(field(send(r#"{"uid":"bob"}"#, None, &alice, NOW)), "msg");
        assert_eq!(field(send(r#"{"msg":"hi","uid":"bob","to":"x"}"#, None, &alice, NOW)), "to");
        let later = |ahead: i64| json!({ "msg": "hi", "uid": "bob", "opts": { "send_at": NOW + ahead } }).to_string();
        assert!(send(&later(SEND_AT_MAX_AHEAD_MS), None, &alice, NOW).is_ok());
        assert_eq!(field(send(&later(SEND_AT_MAX_AHEAD_MS + 1), None, &alice, NOW)), "send_at", "over 30 days ahead");
        assert_eq!(field(send(r#"{"msg":"hi","uid":"bob","opts":{"urgency":0}}"#, None, &alice, NOW)), "urgency");
        assert_eq!(send("[1]", None, &alice, NOW).unwrap_err().code, ErrorCode::InvalidField);
        assert_eq!(send("{", None, &alice, NOW).unwrap_err().code, ErrorCode::MalformedJson);
    }

    #[test]
    fn a_read_is_a_whole_seq() {
        assert_eq!(read(r#"{"seq":4}"#).unwrap(), 4);
        for bad in [r#"{}"#, r#"{"seq":-1}"#, r#"{"seq":"4"}"#, r#"{"seq":1.5}"#] {
            assert_eq!(field(read(bad)), "seq", "{bad}");
        }
    }

    #[test]
    fn a_page_query_is_a_seq_and_a_bounded_limit() {
        assert_eq!(page_query(None, None).unwrap(), (None, PAGE_DEFAULT));
        assert_eq!(page_query(Some("9"), Some("100")).unwrap(), (Some(9), 100));
        assert_eq!(field(page_query(Some("x"), None)), "before");
        for bad in ["0", "101", "-1", "ten"] {
            assert_eq!(field(page_query(None, Some(bad))), "limit", "{bad}");
        }
    }

    #[test]
    fn the_seeds_three_subscriptions_are_taken() {
        let ios = r#"{"os":"ios","token":"ad62ea6ea23d6974871cf59a06cbdb2783b85adbafe3355c0007362249d3e75c"}"#;
        assert!(matches!(Device::parse(ios).unwrap(), Device::Ios { .. }));
        let android = r#"{"os":"android","token":"e_nslPZejyM:APA91bHR-znf4EuSIKeY9dzlX4cupXA5cdsW1SzOHUFRrsteaL5WDuzsh_cnpVpQC3IPcewl_v3N0kbArC67UTEW_ENt5Ej5Sn0qi1RoRHv5beLNi9y4OzZ__T3SH3tW5gwqxn2Hap01"}"#;
        assert!(matches!(Device::parse(android).unwrap(), Device::Android { .. }));
        let endpoint = "https://fcm.googleapis.com/fcm/send/czVGxJOoycA:APA91bGZt8";
        let web = json!({ "endpoint": endpoint, "expirationTime": null, "keys": { "p256dh": P256DH, "auth": AUTH } });
        let device = Device::parse(&web.to_string()).unwrap();
        assert_eq!(device.id(), endpoint);
        assert_eq!(
            device,
            Device::WebPush {
                endpoint: endpoint.into(),
                expiration_time: None,
                p256dh: P256DH.into(),
                auth: AUTH.into()
            }
        );
    }

    #[test]
    fn bad_subscriptions_name_the_field() {
        assert_eq!(field(Device::parse(r#"{"os":"windows","token":"x"}"#)), "os");
        assert_eq!(field(Device::parse(r#"{"token":"abc"}"#)), "os");
        assert_eq!(field(Device::parse(r#"{"os":"ios","token":"not-hex"}"#)), "token");
        assert_eq!(field(Device::parse(r#"{"os":"ios"}"#)), "token");
        assert_eq!(field(Device::parse(r#"{"os":"android","token":"short"}"#)), "token");
        assert_eq!(field(Device::parse(r#"{"os":"ios","token":"ab","extra":1}"#)), "extra");
        let web = |endpoint: Value, expiration: Value, keys: Value| {
            Device::parse(&json!({ "endpoint": endpoint, "expirationTime": expiration, "keys": keys }).to_string())
        };
        let keys = json!({ "p256dh": P256DH, "auth": AUTH });
        assert_eq!(field(web(json!("http://push.example.com/x"), json!(null), keys.clone())), "endpoint");
        assert_eq!(field(web(json!(5), json!(null), keys.clone())), "endpoint");
        assert_eq!(field(web(json!("https://push.example.com/x"), json!("soon"), keys.clone())), "expirationTime");
        assert_eq!(field(web(json!("https://push.example.com/x"), json!(null), json!("k"))), "keys");
        let short = json!({ "p256dh": "BN81HfHx", "auth": AUTH });
        assert_eq!(field(web(json!("https://push.example.com/x"), json!(null), short)), "keys.p256dh");
        let bad_auth = json!({ "p256dh": P256DH, "auth": "!!" });
        assert_eq!(field(web(json!("https://push.example.com/x"), json!(null), bad_auth)), "keys.auth");
        assert_eq!(Device::parse("nope").unwrap_err().code, ErrorCode::MalformedJson);
    }
}
