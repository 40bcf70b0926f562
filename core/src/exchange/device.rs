//! A device a user subscribed for native push (`POST /api/v1/native/subscribe`), validated at
//! the edge, and what may be shown of it.
//!
//! - [`Device::parse`]: one of the seed's three bodies — an APNs token, an FCM token, or a Web
//!   Push subscription (RFC 8030 endpoint, RFC 8291 keys; which endpoints are taken is
//!   `endpoint.rs`). Each refusal is `invalid_field` naming the field.
//! - [`Device::id`]: the token or endpoint, which identifies the device (a subscription with
//!   the same id replaces it). It is a secret: a Web Push endpoint is a capability URL (whoever
//!   has it can push to the browser), and a token nearly one.
//! - [`Device::public_id`]: the short id shown to the user and used in paths and in the
//!   device index; [`Device::hint`]: enough of the device for a person to recognise it.

use super::endpoint::{check_endpoint, EndpointRules};
use super::requests::only;
use crate::error::Error;
use base64ct::{Base64UrlUnpadded, Encoding};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// A device a user subscribed for native push. Stored in their inbox in this form (serde).
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
    /// A Web Push endpoint is https to a push service on `rules.hosts` (`WEB_PUSH_HOSTS`), or
    /// http to this machine with `rules.allow_loopback_http` (`PUSH_ALLOW_LOOPBACK_HTTP`, for
    /// local development); see [`check_endpoint`].
    pub fn parse(body: &str, rules: &EndpointRules) -> Result<Self, Error> {
        let fields: Map<String, Value> = crate::json::object(body, "body")?;
        if fields.contains_key("endpoint") {
            only(&fields, &["endpoint", "expirationTime", "keys"])?;
            return web_push(&fields, rules);
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

    /// The device's public id: base64url (unpadded, 22 characters) of the first 16 bytes of
    /// SHA-256 of [`Self::id`]. Stable (the same token or endpoint always gives it), short, and
    /// it does not reveal the token or endpoint, so it can be shown, put in a path, and kept in
    /// the device index.
    pub fn public_id(&self) -> String {
        public_id_of(self.id())
    }

    /// `ios`, `android` or `web`.
    pub fn os(&self) -> &'static str {
        match self {
            Self::Ios { .. } => "ios",
            Self::Android { .. } => "android",
            Self::WebPush { .. } => "web",
        }
    }

    /// What a person may see to recognise the device: a token's last 6 characters, or the Web
    /// Push endpoint's origin (its push service, e.g. `https://fcm.googleapis.com`).
    pub fn hint(&self) -> String {
        match self {
            Self::Ios { token } | Self::Android { token } => {
                let start = token.char_indices().rev().nth(5).map_or(0, |(i, _)| i);
                token[start..].to_owned()
            }
            Self::WebPush { endpoint, .. } => {
                let scheme_end = endpoint.find("://").map_or(0, |i| i + 3);
                let end = endpoint[scheme_end..].find(['/', '?', '#']).map_or(endpoint.len(), |i| scheme_end + i);
                endpoint[..end].to_owned()
            }
        }
    }
}

/// [`Device::public_id`] of a device whose [`Device::id`] is `id`.
pub fn public_id_of(id: &str) -> String {
    let digest = Sha256::digest(id.as_bytes());
    Base64UrlUnpadded::encode_string(&digest[..16])
}

/// Whether `text` could be a public id: 22 base64url characters.
pub fn is_public_id(text: &str) -> bool {
    text.len() == 22 && text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn web_push(fields: &Map<String, Value>, rules: &EndpointRules) -> Result<Device, Error> {
    let endpoint = match fields.get("endpoint").and_then(Value::as_str) {
        Some(url) => check_endpoint(url, rules).map_err(|why| Error::invalid_field("endpoint", why))?,
        None => return Err(Error::invalid_field("endpoint", "must be an https URL of at most 2048 bytes")),
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
    // RFC 8291 §3.1: p256dh is an uncompressed P-256 point (65 bytes, 0x04 first), and a point
    // on the curve: the encryption's ECDH with it would fail (or leak, with a point chosen off
    // the curve) otherwise. auth is 16 bytes. Browsers give both in base64url.
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
        &|b| b.len() == 65 && b[0] == 4 && p256::PublicKey::from_sec1_bytes(b).is_ok(),
        "must be base64url of an uncompressed P-256 public key (65 bytes), a point on the curve",
    )?;
    let auth = key("auth", &|b| b.len() == 16, "must be base64url of 16 bytes")?;
    Ok(Device::WebPush { endpoint, expiration_time, p256dh, auth })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;
    use serde_json::json;

    // A Web Push subscription's keys, from RFC 8291 Appendix A (the user agent's public key).
    const P256DH: &str = "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4";
    const AUTH: &str = "BTBZMqHH6r4Tts7J_aSIgg";

    fn field(result: Result<impl std::fmt::Debug, Error>) -> String {
        let error = result.unwrap_err();
        assert_eq!(error.code, ErrorCode::InvalidField, "{error:?}");
        error.details.unwrap()["field"].as_str().unwrap().to_owned()
    }

    fn rules(allow_loopback_http: bool) -> EndpointRules {
        EndpointRules { allow_loopback_http, ..Default::default() }
    }

    fn web(endpoint: &str, loopback: bool) -> Result<Device, Error> {
        let body = json!({ "endpoint": endpoint, "expirationTime": null, "keys": { "p256dh": P256DH, "auth": AUTH } });
        Device::parse(&body.to_string(), &rules(loopback))
    }

    #[test]
    fn the_seeds_three_subscriptions_are_taken() {
        let ios = r#"{"os":"ios","token":"AD62ea6ea23d6974871cf59a06cbdb2783b85adbafe3355c0007362249d3e75c"}"#;
        let ios = Device::parse(ios, &rules(false)).unwrap();
        assert_eq!(
            ios,
            Device::Ios { token: "ad62ea6ea23d6974871cf59a06cbdb2783b85adbafe3355c0007362249d3e75c".into() }
        );
        let android = r#"{"os":"android","token":"e_nslPZejyM:APA91bHR-znf4EuSIKeY9dzlX4cupXA5cdsW1SzOHUFRrsteaL5WDuzsh_cnpVpQC3IPcewl_v3N0kbArC67UTEW_ENt5Ej5Sn0qi1RoRHv5beLNi9y4OzZ__T3SH3tW5gwqxn2Hap01"}"#;
        assert!(matches!(Device::parse(android, &rules(false)).unwrap(), Device::Android { .. }));
        let endpoint = "https://fcm.googleapis.com/fcm/send/czVGxJOoycA:APA91bGZt8";
        let device = web(endpoint, false).unwrap();
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
        let parse = |body: &str| Device::parse(body, &rules(true));
        assert_eq!(field(parse(r#"{"os":"windows","token":"x"}"#)), "os");
        assert_eq!(field(parse(r#"{"token":"abc"}"#)), "os");
        assert_eq!(field(parse(r#"{"os":"ios","token":"not-hex"}"#)), "token");
        assert_eq!(field(parse(r#"{"os":"ios"}"#)), "token");
        assert_eq!(field(parse(r#"{"os":"android","token":"short"}"#)), "token");
        assert_eq!(field(parse(r#"{"os":"ios","token":"ab","extra":1}"#)), "extra");
        let with = |endpoint: Value, expiration: Value, keys: Value| {
            Device::parse(
                &json!({ "endpoint": endpoint, "expirationTime": expiration, "keys": keys }).to_string(),
                &rules(false),
            )
        };
        let keys = json!({ "p256dh": P256DH, "auth": AUTH });
        let https = json!("https://fcm.googleapis.com/fcm/send/x");
        assert_eq!(field(with(json!(5), json!(null), keys.clone())), "endpoint");
        assert_eq!(field(with(https.clone(), json!("soon"), keys.clone())), "expirationTime");
        assert_eq!(field(with(https.clone(), json!(null), json!("k"))), "keys");
        let short = json!({ "p256dh": "BN81HfHx", "auth": AUTH });
        assert_eq!(field(with(https.clone(), json!(null), short)), "keys.p256dh");
        let bad_auth = json!({ "p256dh": P256DH, "auth": "!!" });
        assert_eq!(field(with(https, json!(null), bad_auth)), "keys.auth");
        assert_eq!(parse("nope").unwrap_err().code, ErrorCode::MalformedJson);
    }

    #[test]
    fn a_p256dh_that_is_not_a_point_on_the_curve_is_refused() {
        let mut point = Base64UrlUnpadded::decode_vec(P256DH).unwrap();
        assert!(p256::PublicKey::from_sec1_bytes(&point).is_ok(), "the RFC's key is on the curve");
        // The same x with y + 1: 65 bytes, 0x04 first, and off the curve.
        point[64] ^= 1;
        let off = Base64UrlUnpadded::encode_string(&point);
        let body =
            json!({ "endpoint": "https://fcm.googleapis.com/fcm/send/x", "keys": { "p256dh": off, "auth": AUTH } });
        let error = Device::parse(&body.to_string(), &rules(false)).unwrap_err();
        assert_eq!(error.details.as_ref().unwrap()["field"], "keys.p256dh");
        assert!(error.message.contains("on the curve"), "{}", error.message);
        // A compressed point (33 bytes) is a point, but not the form RFC 8291 sends.
        let uncompressed = Base64UrlUnpadded::decode_vec(P256DH).unwrap();
        let mut sec1 = vec![0x02 | (uncompressed[64] & 1)];
        sec1.extend_from_slice(&uncompressed[1..33]);
        assert!(p256::PublicKey::from_sec1_bytes(&sec1).is_ok());
        let compressed = Base64UrlUnpadded::encode_string(&sec1);
        let body = json!({ "endpoint": "https://fcm.googleapis.com/fcm/send/x", "keys": { "p256dh": compressed, "auth": AUTH } });
        assert_eq!(field(Device::parse(&body.to_string(), &rules(false))), "keys.p256dh");
    }

    #[test]
    fn http_endpoints_are_taken_only_to_this_machine_and_only_when_allowed() {
        for loopback in
            ["http://127.0.0.1/push/1", "http://127.0.0.1:8788/push/1", "http://localhost:9/p", "http://[::1]:8788/p"]
        {
            assert!(web(loopback, true).is_ok(), "{loopback}");
            assert_eq!(field(web(loopback, false)), "endpoint", "{loopback} without the flag");
        }
        for elsewhere in [
            "http://127.0.0.1.evil.com/p",
            "http://localhost@evil.com/p",
            "http://user:pw@127.0.0.1/p",
            "http://localhost.evil.com/p",
            "http://evil.com/localhost",
            "http://10.0.0.1/p",
            "http://[::2]/p",
            "http://127.0.0.1:x/p",
            "http://127.0.0.1\\@evil.com/p",
            "http:///p",
            "ftp://127.0.0.1/p",
        ] {
            assert_eq!(field(web(elsewhere, true)), "endpoint", "{elsewhere}");
        }
    }

    #[test]
    fn https_endpoints_need_a_push_service_host_and_no_userinfo() {
        assert!(web("https://fcm.googleapis.com:443/x?y", false).is_ok());
        for bad in [
            "https://",
            "https:///x",
            "https://:443/x",
            "https://user@fcm.googleapis.com/x",
            "https://a:b@fcm.googleapis.com/x",
            "https://fcm.googleapis.com:/x",
            "https://fcm.googleapis.com:65536/x",
            "https://fcm.googleapis.com/a b",
            "https://fcm.googleapis.com/x#frag",
            "https://[2001:db8::1]/x",
            "https://169.254.169.254/latest/meta-data",
            "https://push.example.com/x",
        ] {
            assert_eq!(field(web(bad, true)), "endpoint", "{bad}");
        }
        assert_eq!(field(web(&format!("https://fcm.googleapis.com/{}", "x".repeat(2048)), false)), "endpoint");
    }

    #[test]
    fn an_endpoints_scheme_and_host_are_stored_lowercase_so_one_subscription_has_one_id() {
        let device = web("HTTPS://FCM.GoogleAPIs.com/fcm/send/AbC?Q=X", false).unwrap();
        assert_eq!(device.id(), "https://fcm.googleapis.com/fcm/send/AbC?Q=X");
        assert_eq!(device.public_id(), web("https://fcm.googleapis.com/fcm/send/AbC?Q=X", false).unwrap().public_id());
    }

    #[test]
    fn a_public_id_is_a_short_stable_hash_that_does_not_reveal_the_device() {
        let endpoint = "https://fcm.googleapis.com/fcm/send/secret-capability";
        let device = web(endpoint, false).unwrap();
        let id = device.public_id();
        // SHA-256("https://fcm.googleapis.com/fcm/send/secret-capability"), its first 16 bytes in base64url.
        let digest = Sha256::digest(endpoint.as_bytes());
        assert_eq!(Base64UrlUnpadded::decode_vec(&id).unwrap(), digest[..16].to_vec());
        assert_eq!(id.len(), 22);
        assert!(is_public_id(&id));
        assert!(!id.contains("secret") && !endpoint.contains(&id));
        assert_eq!(web(endpoint, false).unwrap().public_id(), id, "stable");
        assert_ne!(web("https://fcm.googleapis.com/fcm/send/other", false).unwrap().public_id(), id);
        // Pinned: ids are stored (the device index) and shown; they never change meaning.
        assert_eq!(public_id_of("abc"), "ungWv48Bz-pBQUDeXa4iIw");
        assert!(!is_public_id("ungWv48Bz-pBQUDeXa4iI") && !is_public_id("ungWv48Bz+pBQUDeXa4iIw"));
    }

    #[test]
    fn a_hint_shows_a_tokens_end_or_an_endpoints_origin() {
        let ios = Device::Ios { token: "ab".repeat(31) + "c0ffee" };
        assert_eq!((ios.os(), ios.hint().as_str()), ("ios", "c0ffee"));
        let android = Device::Android { token: "x".repeat(40) + "tail12" };
        assert_eq!((android.os(), android.hint().as_str()), ("android", "tail12"));
        let web = web("https://fcm.googleapis.com:443/fcm/send/secret?x", false).unwrap();
        assert_eq!((web.os(), web.hint().as_str()), ("web", "https://fcm.googleapis.com:443"));
        assert_eq!(Device::Ios { token: "abc".into() }.hint(), "abc");
    }
}
