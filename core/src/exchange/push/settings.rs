//! The push providers' configuration. Each provider is on when its credentials are set and off
//! otherwise (a job that needs one that is off goes to the dead letters saying so); half a
//! provider's credentials is a configuration error, never a silent "off".
//!
//! | provider | variables |
//! |---|---|
//! | Web Push | `VAPID_PUBLIC_KEY`, `VAPID_PRIVATE_KEY` (base64url), `VAPID_SUBJECT` (`mailto:` or `https:`) |
//! | APNs | `APNS_KEY` (the `.p8` PEM), `APNS_KEY_ID`, `APNS_TEAM_ID`, `APNS_TOPIC`; `APNS_URL` |
//! | FCM | `FCM_SERVICE_ACCOUNT` (the service account's JSON); `FCM_URL`, `FCM_TOKEN_URL` |
//!
//! `RECEIPT_SECRET` signs the receipt credential each push carries (`receipts.rs`).
//! `PUSH_BREAKER_WINDOW_SECONDS`, `PUSH_BREAKER_MIN_DEVICES` and `PUSH_BREAKER_GONE_PERCENT`
//! say when a provider's "gone" answers are too many to believe (`breaker.rs`).

use super::breaker::BreakerRule;
use crate::vars::{number, url, ConfigError};
use std::fmt;

/// APNs' production host; `https://api.sandbox.push.apple.com` for development builds of an app.
pub const APNS_URL: &str = "https://api.push.apple.com";
pub const FCM_URL: &str = "https://fcm.googleapis.com";
pub const FCM_TOKEN_URL: &str = "https://oauth2.googleapis.com/token";
/// The shortest `RECEIPT_SECRET`, in bytes.
pub const RECEIPT_SECRET_MIN: usize = 32;

/// A secret from configuration: kept as given, never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(…)")
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebPushSettings {
    /// The application server key apps pass to `pushManager.subscribe` (base64url).
    pub public_key: String,
    pub private_key: Secret,
    pub subject: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApnsSettings {
    pub url: String,
    pub key: Secret,
    pub key_id: String,
    pub team_id: String,
    pub topic: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FcmSettings {
    pub url: String,
    pub token_url: String,
    pub service_account: Secret,
}

/// Everything push reads from configuration.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PushSettings {
    pub web_push: Option<WebPushSettings>,
    pub apns: Option<ApnsSettings>,
    pub fcm: Option<FcmSettings>,
    pub receipt_secret: Option<Secret>,
    /// When "gone" answers are too many to believe (`breaker.rs`).
    pub breaker: BreakerRule,
    /// Which Web Push endpoints may be sent to (`WEB_PUSH_HOSTS`, `PUSH_ALLOW_LOOPBACK_HTTP`):
    /// checked at subscribe, and again at send, for devices subscribed under older rules.
    pub endpoints: crate::exchange::endpoint::EndpointRules,
}

impl PushSettings {
    /// Reads the push variables through `get` (`None` for an unset or blank one).
    pub fn from_vars(get: &impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let web_push = all_or_none(get, &["VAPID_PUBLIC_KEY", "VAPID_PRIVATE_KEY", "VAPID_SUBJECT"])?.map(|v| {
            let [public_key, private_key, subject] = v;
            WebPushSettings { public_key, private_key: Secret(private_key), subject }
        });
        if let Some(web) = &web_push {
            if !(web.subject.starts_with("mailto:") || web.subject.starts_with("https://")) {
                let problem = format!("must be a mailto: or https: contact (RFC 8292 §2.1), not {:?}", web.subject);
                return Err(ConfigError { var: "VAPID_SUBJECT", problem });
            }
        }
        let apns = all_or_none(get, &["APNS_KEY", "APNS_KEY_ID", "APNS_TEAM_ID", "APNS_TOPIC"])?
            .map(|[key, key_id, team_id, topic]| -> Result<ApnsSettings, ConfigError> {
                Ok(ApnsSettings { url: url(get, "APNS_URL", APNS_URL)?, key: Secret(key), key_id, team_id, topic })
            })
            .transpose()?;
        let fcm = get("FCM_SERVICE_ACCOUNT")
            .map(|account| -> Result<FcmSettings, ConfigError> {
                Ok(FcmSettings {
                    url: url(get, "FCM_URL", FCM_URL)?,
                    token_url: url(get, "FCM_TOKEN_URL", FCM_TOKEN_URL)?,
                    service_account: Secret(account),
                })
            })
            .transpose()?;
        let receipt_secret = get("RECEIPT_SECRET").map(Secret);
        if let Some(secret) = &receipt_secret {
            if secret.0.len() < RECEIPT_SECRET_MIN {
                let problem = format!("must be at least {RECEIPT_SECRET_MIN} bytes (a random base64url string)");
                return Err(ConfigError { var: "RECEIPT_SECRET", problem });
            }
        }
        let defaults = BreakerRule::default();
        let breaker = BreakerRule {
            window_ms: number::<i64>(get, "PUSH_BREAKER_WINDOW_SECONDS", defaults.window_ms / 1000, 60, 86_400)? * 1000,
            min_devices: number(get, "PUSH_BREAKER_MIN_DEVICES", defaults.min_devices, 1, 1_000_000)?,
            gone_percent: number(get, "PUSH_BREAKER_GONE_PERCENT", defaults.gone_percent, 1, 100)?,
        };
        Ok(Self { web_push, apns, fcm, receipt_secret, breaker, endpoints: Default::default() })
    }

    /// `RECEIPT_SECRET` must be set once any provider is on: the inboxes sign the receipt
    /// credential every push carries with it. Asked by the `herald` Worker's configuration,
    /// which makes the pushes; the delivery Worker only sends them, and needs no secret of it.
    pub fn require_receipt_secret(&self) -> Result<(), ConfigError> {
        let any = self.web_push.is_some() || self.apns.is_some() || self.fcm.is_some();
        if any && self.receipt_secret.is_none() {
            let problem = "is not set: every push carries a receipt credential signed with it".into();
            return Err(ConfigError { var: "RECEIPT_SECRET", problem });
        }
        Ok(())
    }

    /// One line per provider, on or off and why: logged when the configuration is first read.
    pub fn summary(&self) -> String {
        let state = |on: bool, vars: &str| if on { "on".to_owned() } else { format!("off ({vars} not set)") };
        format!(
            "push: Web Push {}, APNs {}, FCM {}",
            state(self.web_push.is_some(), "VAPID_*"),
            state(self.apns.is_some(), "APNS_*"),
            state(self.fcm.is_some(), "FCM_SERVICE_ACCOUNT"),
        )
    }
}

/// The variables `names`, all set, or none of them; some but not all is an error naming the
/// first missing one.
fn all_or_none<const N: usize>(
    get: &impl Fn(&str) -> Option<String>,
    names: &[&'static str; N],
) -> Result<Option<[String; N]>, ConfigError> {
    let values = names.map(|name| get(name).map(|v| v.trim().to_owned()));
    if values.iter().all(Option::is_none) {
        return Ok(None);
    }
    if let Some(i) = values.iter().position(Option::is_none) {
        let set: Vec<&str> = names.iter().zip(&values).filter(|(_, v)| v.is_some()).map(|(n, _)| *n).collect();
        let problem = format!("is not set, but {} is: set all of {} or none", set.join(", "), names.join(", "));
        return Err(ConfigError { var: names[i], problem });
    }
    Ok(Some(values.map(|v| v.unwrap_or_default())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn settings(vars: &[(&str, &str)]) -> Result<PushSettings, ConfigError> {
        let vars: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        PushSettings::from_vars(&|name: &str| vars.get(name).cloned().filter(|v| !v.trim().is_empty()))
    }

    const SECRET: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn no_credentials_is_every_provider_off() {
        let none = settings(&[]).unwrap();
        assert_eq!(none, PushSettings::default());
        assert_eq!(
            none.summary(),
            "push: Web Push off (VAPID_* not set), APNs off (APNS_* not set), FCM off (FCM_SERVICE_ACCOUNT not set)"
        );
    }

    #[test]
    fn half_a_providers_credentials_is_refused_naming_what_is_missing() {
        let error = settings(&[("VAPID_PUBLIC_KEY", "BPub"), ("RECEIPT_SECRET", SECRET)]).unwrap_err();
        assert_eq!(error.var, "VAPID_PRIVATE_KEY");
        assert!(error.problem.contains("VAPID_PUBLIC_KEY is"), "{error}");
        let error = settings(&[("APNS_KEY", "pem"), ("APNS_KEY_ID", "K"), ("APNS_TEAM_ID", "T")]).unwrap_err();
        assert_eq!(error.var, "APNS_TOPIC");
    }

    #[test]
    fn a_provider_needs_a_receipt_secret_and_urls_have_defaults() {
        let fcm = [("FCM_SERVICE_ACCOUNT", "{}")];
        assert_eq!(settings(&fcm).unwrap().require_receipt_secret().unwrap_err().var, "RECEIPT_SECRET");
        assert_eq!(settings(&[fcm[0], ("RECEIPT_SECRET", "short")]).unwrap_err().var, "RECEIPT_SECRET");
        let on = settings(&[fcm[0], ("RECEIPT_SECRET", SECRET)]).unwrap();
        let fcm = on.fcm.unwrap();
        assert_eq!((fcm.url.as_str(), fcm.token_url.as_str()), (FCM_URL, FCM_TOKEN_URL));
        let local = settings(&[
            ("APNS_KEY", "pem"),
            ("APNS_KEY_ID", "ABC123DEFG"),
            ("APNS_TEAM_ID", "TEAM123456"),
            ("APNS_TOPIC", "app.example"),
            ("APNS_URL", "http://127.0.0.1:8788/"),
            ("RECEIPT_SECRET", SECRET),
        ])
        .unwrap();
        assert_eq!(local.apns.unwrap().url, "http://127.0.0.1:8788");
        assert_eq!(
            settings(&[fcm_account(), ("FCM_URL", "ftp://x"), ("RECEIPT_SECRET", SECRET)]).unwrap_err().var,
            "FCM_URL"
        );
    }

    fn fcm_account() -> (&'static str, &'static str) {
        ("FCM_SERVICE_ACCOUNT", "{}")
    }

    #[test]
    fn a_vapid_subject_is_a_contact_and_secrets_are_never_printed() {
        let web = |subject| {
            settings(&[
                ("VAPID_PUBLIC_KEY", "BPub"),
                ("VAPID_PRIVATE_KEY", "very-secret-scalar"),
                ("VAPID_SUBJECT", subject),
                ("RECEIPT_SECRET", SECRET),
            ])
        };
        assert_eq!(web("admin@example.com").unwrap_err().var, "VAPID_SUBJECT");
        let on = web("mailto:admin@example.com").unwrap();
        let printed = format!("{on:?}");
        assert!(!printed.contains("very-secret-scalar") && !printed.contains(SECRET), "{printed}");
    }
}
