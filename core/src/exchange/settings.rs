//! The exchange's settings: when the email / SMS and push fallbacks are due, how a job is
//! tried, and the providers ([`Fallback`]), read from the exchange's variables alone (the
//! delivery Worker reads nothing else).

use crate::exchange::endpoint::{EndpointRules, PushHosts};
use crate::vars::{flag, number, url, ConfigError};

/// When the email / SMS fallback of a notification is due, how often a job is tried, and the
/// providers it goes through (docs/notifications.md).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fallback {
    /// Low urgency: email when still unread this long after delivery.
    pub low_email_ms: i64,
    /// Normal urgency: email when still unread this long after delivery.
    pub normal_email_ms: i64,
    /// High urgency: SMS (and email) when not delivered to a device this long after.
    pub high_sms_ms: i64,
    /// How long live devices have to acknowledge a notification before it is pushed, by
    /// urgency (very-low, low, normal, high; `PUSH_*_SECONDS`). High is pushed at once when no
    /// device is connected (`policy.rs`).
    pub push_ms: [i64; 4],
    /// The push providers' credentials.
    pub push: crate::exchange::push::settings::PushSettings,
    /// Attempts of a job before it goes to the dead-letter queue. The `herald-fallback`
    /// consumer's `max_retries` (delivery/wrangler.toml, which the Worker cannot read) must be this
    /// minus one: the last attempt notes why it failed, then the queue moves the job.
    pub max_attempts: u32,
    /// The first retry's delay; each further retry doubles it.
    pub retry_base_seconds: u32,
    /// How long a provider has to answer one request before the attempt counts as failed; at
    /// most [`SEND_TIMEOUT_MAX_SECONDS`].
    pub send_timeout_ms: u32,
    pub email: EmailProvider,
    pub sms: SmsProvider,
    /// Shards of the user directory (broadcast fan-out).
    pub directory_shards: u32,
}

/// Where emails go: an HTTPS JSON email API (Resend's shape) or Cloudflare's `send_email`
/// binding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailProvider {
    /// `api` (HTTPS JSON, Resend's `POST /emails`) or `binding` (the `EMAIL` send_email binding).
    pub kind: EmailKind,
    /// Base URL of the API (`https://api.resend.com`; the local recorder in development).
    pub api_url: String,
    /// `EMAIL_API_KEY`, a secret; sent as `Authorization: Bearer`.
    pub api_key: Option<String>,
    /// The sender address.
    pub from: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmailKind {
    Api,
    Binding,
}

/// Where SMS go: Twilio's Messages API (form-encoded POST, basic auth).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmsProvider {
    /// Base URL (`https://api.twilio.com`; the local recorder in development).
    pub api_url: String,
    pub account_sid: String,
    /// `TWILIO_AUTH_TOKEN`, a secret.
    pub auth_token: Option<String>,
    /// The sending number.
    pub from: String,
}

impl Default for Fallback {
    fn default() -> Self {
        Self {
            low_email_ms: 24 * 3600 * 1000,
            normal_email_ms: 3600 * 1000,
            high_sms_ms: 30 * 1000,
            push_ms: [300_000, 60_000, 10_000, 5_000],
            push: Default::default(),
            max_attempts: 5,
            retry_base_seconds: 10,
            send_timeout_ms: 10_000,
            email: EmailProvider {
                kind: EmailKind::Api,
                api_url: "https://api.resend.com".into(),
                api_key: None,
                from: "Herald <notifications@example.com>".into(),
            },
            sms: SmsProvider {
                api_url: "https://api.twilio.com".into(),
                account_sid: "AC00000000000000000000000000000000".into(),
                auth_token: None,
                from: "+15550000000".into(),
            },
            directory_shards: 64,
        }
    }
}

impl Fallback {
    /// Reads the exchange's variables through `var` (which answers `None` for an unset one):
    /// `FALLBACK_*`, `PUSH_*`, the providers' and their credentials. They are all the delivery
    /// Worker (`delivery/`) reads, so it runs without the rest (no `JWT_SECRET`, no routes);
    /// `Config::from_vars` reads them the same way.
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        Self::read(&|name: &str| var(name).filter(|v| !v.trim().is_empty()))
    }

    /// [`Fallback::from_vars`] through `get`, which already answers `None` for an empty var.
    pub(crate) fn read(get: &impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let defaults = Fallback::default();
        let email_kind = match get("EMAIL_PROVIDER").as_deref().map(str::trim) {
            None | Some("api") => EmailKind::Api,
            Some("binding") => EmailKind::Binding,
            Some(other) => {
                return Err(ConfigError {
                    var: "EMAIL_PROVIDER",
                    problem: format!("must be api or binding, not {other:?}"),
                })
            }
        };
        let mut fallback = Fallback {
            low_email_ms: number::<i64>(
                get,
                "FALLBACK_LOW_EMAIL_SECONDS",
                defaults.low_email_ms / 1000,
                0,
                30 * 86_400,
            )? * 1000,
            normal_email_ms: number::<i64>(
                get,
                "FALLBACK_NORMAL_EMAIL_SECONDS",
                defaults.normal_email_ms / 1000,
                0,
                30 * 86_400,
            )? * 1000,
            high_sms_ms: number::<i64>(get, "FALLBACK_HIGH_SMS_SECONDS", defaults.high_sms_ms / 1000, 0, 86_400)?
                * 1000,
            push_ms: {
                let names = ["PUSH_VERY_LOW_SECONDS", "PUSH_LOW_SECONDS", "PUSH_NORMAL_SECONDS", "PUSH_HIGH_SECONDS"];
                let mut push_ms = defaults.push_ms;
                for (ms, var) in push_ms.iter_mut().zip(names) {
                    *ms = number::<i64>(get, var, *ms / 1000, 0, 86_400)? * 1000;
                }
                push_ms
            },
            push: super::push::settings::PushSettings::from_vars(get)?,
            max_attempts: number(get, "FALLBACK_MAX_ATTEMPTS", defaults.max_attempts, 1, 100).map_err(|e| {
                ConfigError {
                    problem: format!(
                        "{} (and keep the herald-fallback consumer's max_retries at FALLBACK_MAX_ATTEMPTS - 1)",
                        e.problem
                    ),
                    ..e
                }
            })?,
            retry_base_seconds: number(get, "FALLBACK_RETRY_BASE_SECONDS", defaults.retry_base_seconds, 0, 3600)?,
            send_timeout_ms: number(
                get,
                "FALLBACK_SEND_TIMEOUT_SECONDS",
                defaults.send_timeout_ms / 1000,
                1,
                SEND_TIMEOUT_MAX_SECONDS,
            )
            .map_err(|e| ConfigError {
                problem: format!(
                    "{}: an attempt's claim on a job lasts {} s, which must outlast the send",
                    e.problem,
                    crate::exchange::ledger::LEASE_MS / 1000
                ),
                ..e
            })? * 1000,
            email: EmailProvider {
                kind: email_kind,
                api_url: url(get, "EMAIL_API_URL", &defaults.email.api_url)?,
                api_key: get("EMAIL_API_KEY"),
                from: get("EMAIL_FROM").unwrap_or(defaults.email.from),
            },
            sms: SmsProvider {
                api_url: url(get, "SMS_API_URL", &defaults.sms.api_url)?,
                account_sid: get("TWILIO_ACCOUNT_SID").unwrap_or(defaults.sms.account_sid),
                auth_token: get("TWILIO_AUTH_TOKEN"),
                from: get("SMS_FROM").unwrap_or(defaults.sms.from),
            },
            directory_shards: number(get, "DIRECTORY_SHARDS", defaults.directory_shards, 1, 4096)?,
        };
        fallback.push.endpoints = EndpointRules {
            allow_loopback_http: flag(get, "PUSH_ALLOW_LOOPBACK_HTTP")?,
            hosts: match get("WEB_PUSH_HOSTS") {
                Some(list) => {
                    PushHosts::parse(&list).map_err(|problem| ConfigError { var: "WEB_PUSH_HOSTS", problem })?
                }
                None => PushHosts::default(),
            },
        };
        Ok(fallback)
    }
}

/// The longest `FALLBACK_SEND_TIMEOUT_SECONDS`: a claim on a job (the ledger's lease, 60 s)
/// must outlast the send it covers, with room for the claim and the report around it.
pub const SEND_TIMEOUT_MAX_SECONDS: u32 = 25;
