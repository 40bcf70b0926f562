//! Configuration: `wrangler.toml` vars and secrets, parsed once into typed values.
//!
//! Every variable is a string (that is how vars and secrets reach a Worker); numbers are parsed
//! and range-checked here, and a bad value is refused with the variable's name and what is
//! wrong, never used. `docs/configuration.md` lists every variable with its default.

use crate::auth::{KeySet, Verifier};
use crate::connections::Caps;
use crate::dialect::routes::{RouteTable, DEFAULT_ROUTES};
use crate::engineio::session::Settings as EngineSettings;
use crate::exchange::endpoint::{EndpointRules, PushHosts};
use crate::origin::AllowedOrigins;
use std::fmt;
use std::str::FromStr;

/// A variable that cannot be used, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub var: &'static str,
    pub problem: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.var, self.problem)
    }
}

impl std::error::Error for ConfigError {}

/// Limits that protect a room and its members.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Largest websocket frame and REST body, in bytes. A bigger frame closes the socket with
    /// 1009; a bigger body is refused with 413.
    pub max_frame_bytes: usize,
    /// Sustained publishes per second one connection may send.
    pub messages_per_second: u32,
    /// Publishes one connection may send in a burst above the sustained rate.
    pub message_burst: u32,
    /// Open websockets one room accepts.
    pub max_connections_per_room: usize,
    /// Connections (websockets and Socket.IO sessions) one user may hold in this process.
    pub max_connections_per_user: usize,
    /// Connections one client address (an IPv6 /64) may hold in this process.
    pub max_connections_per_address: usize,
    /// Connections this process holds in all; 0 is no cap.
    pub max_connections: usize,
    /// Bytes sent to a connection since its last sign of life past which it is closed as a
    /// slow consumer ([`crate::backlog`]).
    pub max_backlog_bytes: usize,
    /// Bytes of messages sent in one batch: a resume's replay, a history page. The first
    /// message always goes, whatever its size.
    pub max_batch_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_frame_bytes: 64 * 1024,
            messages_per_second: 50,
            message_burst: 100,
            max_connections_per_room: 10_000,
            max_connections_per_user: 100,
            max_connections_per_address: 1_000,
            max_connections: 0,
            max_backlog_bytes: 4 * 1024 * 1024,
            max_batch_bytes: 1024 * 1024,
        }
    }
}

impl Limits {
    /// The caps a process's connections are counted against.
    pub fn caps(&self) -> Caps {
        Caps {
            per_user: self.max_connections_per_user,
            per_address: self.max_connections_per_address,
            total: self.max_connections,
        }
    }
}

/// How much of a room's log is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Retention {
    /// Messages kept per room; older ones are dropped.
    pub max_messages: u64,
    /// Age past which messages are dropped, in milliseconds.
    pub max_age_ms: i64,
}

impl Default for Retention {
    fn default() -> Self {
        Self { max_messages: 10_000, max_age_ms: 7 * 24 * 3600 * 1000 }
    }
}

/// Everything Herald reads from its environment.
#[derive(Debug, Clone)]
pub struct Config {
    pub verifier: Verifier,
    pub limits: Limits,
    pub retention: Retention,
    /// Engine.IO heartbeat and payload size, sent to every Socket.IO client in its handshake.
    pub engine: EngineSettings,
    /// Which dialect speaks at which Socket.IO path.
    pub routes: RouteTable,
    /// The notification exchange's fallback: deadlines, attempts, providers.
    pub fallback: Fallback,
    /// The web origins whose pages may send a cookie and read answers (CORS).
    pub origins: AllowedOrigins,
    /// Which Web Push endpoints a subscription may name: https to the push services' hosts
    /// (`WEB_PUSH_HOSTS`, by default the browsers' push services), and plain http to this
    /// machine (`PUSH_ALLOW_LOOPBACK_HTTP`: local development only, where a test is its own
    /// push service).
    pub push_endpoints: EndpointRules,
}

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
    /// [`Config::from_vars`] reads them the same way.
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        Self::read(&|name: &str| var(name).filter(|v| !v.trim().is_empty()))
    }

    /// [`Fallback::from_vars`] through `get`, which already answers `None` for an empty var.
    fn read(get: &impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
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
            push: crate::exchange::push::settings::PushSettings::from_vars(get)?,
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

/// Hard bounds, so a typo cannot configure something absurd.
const MAX_FRAME_CEILING: usize = 1024 * 1024;

impl Config {
    /// Reads every variable through `var` (which answers `None` for an unset one).
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| var(name).filter(|v| !v.trim().is_empty());

        let hs256 = get("JWT_SECRET")
            .map(|s| KeySet::hs256_secret(&s).map_err(|problem| ConfigError { var: "JWT_SECRET", problem }))
            .transpose()?;
        let public = get("JWT_PUBLIC_KEYS")
            .map(|s| {
                KeySet::public_keys_from_jwks(&s).map_err(|problem| ConfigError { var: "JWT_PUBLIC_KEYS", problem })
            })
            .transpose()?
            .unwrap_or_default();
        let keys = KeySet { hs256, public };
        if keys.is_empty() {
            return Err(ConfigError {
                var: "JWT_SECRET",
                problem: "is not set, and neither is JWT_PUBLIC_KEYS: no token could ever verify".into(),
            });
        }
        let verifier = Verifier {
            keys,
            issuer: get("JWT_ISSUER"),
            audience: get("JWT_AUDIENCE"),
            leeway_seconds: number(&get, "JWT_LEEWAY_SECONDS", 30, 0, 600)?,
            max_lifetime_seconds: number(
                &get,
                "JWT_MAX_LIFETIME_SECONDS",
                crate::auth::DEFAULT_MAX_LIFETIME_SECONDS,
                60,
                30 * 86_400,
            )?,
        };

        let defaults = Limits::default();
        let limits = Limits {
            max_frame_bytes: number(&get, "MAX_FRAME_BYTES", defaults.max_frame_bytes, 256, MAX_FRAME_CEILING)?,
            messages_per_second: number(&get, "MAX_MESSAGES_PER_SECOND", defaults.messages_per_second, 1, 100_000)?,
            message_burst: number(&get, "MAX_MESSAGE_BURST", defaults.message_burst, 1, 1_000_000)?,
            max_connections_per_room: number(
                &get,
                "MAX_CONNECTIONS_PER_ROOM",
                defaults.max_connections_per_room,
                1,
                1_000_000,
            )?,
            max_connections_per_user: number(
                &get,
                "MAX_CONNECTIONS_PER_USER",
                defaults.max_connections_per_user,
                1,
                1_000_000,
            )?,
            max_connections_per_address: number(
                &get,
                "MAX_CONNECTIONS_PER_ADDRESS",
                defaults.max_connections_per_address,
                1,
                1_000_000,
            )?,
            max_connections: number(&get, "MAX_CONNECTIONS", defaults.max_connections, 0, 10_000_000)?,
            max_backlog_bytes: number(
                &get,
                "MAX_BACKLOG_BYTES",
                defaults.max_backlog_bytes,
                64 * 1024,
                256 * 1024 * 1024,
            )?,
            max_batch_bytes: number(&get, "MAX_BATCH_BYTES", defaults.max_batch_bytes, 64 * 1024, 16 * 1024 * 1024)?,
        };
        // A resume's replay (a batch, whose first message always goes) is sent at once after
        // the connect: a client must be able to take it without being a slow consumer.
        if limits.max_backlog_bytes < limits.max_batch_bytes + limits.max_frame_bytes {
            return Err(ConfigError {
                var: "MAX_BACKLOG_BYTES",
                problem: format!(
                    "must be at least MAX_BATCH_BYTES + MAX_FRAME_BYTES ({}), which a resume sends at once, not {}",
                    limits.max_batch_bytes + limits.max_frame_bytes,
                    limits.max_backlog_bytes
                ),
            });
        }

        let defaults = Retention::default();
        let retention = Retention {
            max_messages: number(&get, "HISTORY_MAX_MESSAGES", defaults.max_messages, 1, 10_000_000)?,
            max_age_ms: number::<i64>(
                &get,
                "HISTORY_MAX_AGE_SECONDS",
                defaults.max_age_ms / 1000,
                1,
                10 * 365 * 86_400,
            )? * 1000,
        };

        let defaults = EngineSettings::default();
        let engine = EngineSettings {
            ping_interval_ms: number(&get, "ENGINEIO_PING_INTERVAL_MS", defaults.ping_interval_ms, 100, 3_600_000)?,
            ping_timeout_ms: number(&get, "ENGINEIO_PING_TIMEOUT_MS", defaults.ping_timeout_ms, 100, 3_600_000)?,
            max_payload: number(&get, "ENGINEIO_MAX_PAYLOAD", defaults.max_payload, 1024, 16 * 1024 * 1024)?,
            max_backlog_bytes: limits.max_backlog_bytes,
        };
        let echo = flag(&get, "ECHO_ROUTES")?;
        // The old name must not be ignored: a table it held would silently become the default
        // one, with every seed dialect's route open.
        if get("SOCKETIO_ROUTES").is_some() {
            return Err(ConfigError {
                var: "SOCKETIO_ROUTES",
                problem: "was renamed ROUTES (its entries are read the same way); rename it".into(),
            });
        }
        let routes = RouteTable::parse(&get("ROUTES").unwrap_or_else(|| DEFAULT_ROUTES.into()), echo)
            .map_err(|problem| ConfigError { var: "ROUTES", problem })?;

        let fallback = Fallback::read(&get)?;
        fallback.push.require_receipt_secret()?;

        let origins = AllowedOrigins::parse(&get("ALLOWED_ORIGINS").unwrap_or_default())
            .map_err(|problem| ConfigError { var: "ALLOWED_ORIGINS", problem })?;

        let push_endpoints = fallback.push.endpoints.clone();
        Ok(Self { verifier, limits, retention, engine, routes, fallback, origins, push_endpoints })
    }
}

/// A `true` / `false` variable, `false` when unset.
fn flag(get: &impl Fn(&str) -> Option<String>, var: &'static str) -> Result<bool, ConfigError> {
    match get(var).as_deref().map(str::trim) {
        None | Some("false") => Ok(false),
        Some("true") => Ok(true),
        Some(other) => Err(ConfigError { var, problem: format!("must be true or false, not {other:?}") }),
    }
}

/// A provider's base URL (`var`, or `default` when unset): http(s), without a trailing `/`.
pub(crate) fn url(
    get: &impl Fn(&str) -> Option<String>,
    var: &'static str,
    default: &str,
) -> Result<String, ConfigError> {
    let url = get(var).unwrap_or_else(|| default.to_owned());
    if !(url.starts_with("https://") || url.starts_with("http://")) {
        return Err(ConfigError { var, problem: format!("must be an http(s) URL, not {url:?}") });
    }
    Ok(url.trim_end_matches('/').to_owned())
}

/// An integer variable within `[min, max]`, or `default` when unset.
pub(crate) fn number<T>(
    get: &impl Fn(&str) -> Option<String>,
    var: &'static str,
    default: T,
    min: T,
    max: T,
) -> Result<T, ConfigError>
where
    T: FromStr + PartialOrd + fmt::Display + Copy,
{
    let Some(raw) = get(var) else { return Ok(default) };
    let value: T =
        raw.trim().parse().map_err(|_| ConfigError { var, problem: format!("must be a whole number, not {raw:?}") })?;
    if value < min || value > max {
        return Err(ConfigError { var, problem: format!("must be between {min} and {max}, not {value}") });
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let vars: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Config::from_vars(|name| vars.get(name).cloned())
    }

    const SECRET: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn defaults_apply_when_only_a_secret_is_set() {
        let c = config(&[("JWT_SECRET", SECRET)]).unwrap();
        assert_eq!(c.limits, Limits::default());
        assert_eq!(c.retention, Retention::default());
        assert_eq!(c.verifier.leeway_seconds, 30);
        assert_eq!(c.fallback, Fallback::default());
    }

    #[test]
    fn fallback_settings_are_read_and_checked() {
        let c = config(&[
            ("JWT_SECRET", SECRET),
            ("FALLBACK_NORMAL_EMAIL_SECONDS", "2"),
            ("FALLBACK_SEND_TIMEOUT_SECONDS", "3"),
            ("EMAIL_API_URL", "http://127.0.0.1:9999/"),
            ("EMAIL_PROVIDER", "binding"),
        ])
        .unwrap();
        assert_eq!(c.fallback.normal_email_ms, 2000);
        assert_eq!(c.fallback.send_timeout_ms, 3000);
        assert_eq!(c.fallback.email.api_url, "http://127.0.0.1:9999");
        assert_eq!(c.fallback.email.kind, EmailKind::Binding);
        assert_eq!(config(&[("JWT_SECRET", SECRET), ("EMAIL_PROVIDER", "pigeon")]).unwrap_err().var, "EMAIL_PROVIDER");
        assert_eq!(config(&[("JWT_SECRET", SECRET), ("SMS_API_URL", "ftp://x")]).unwrap_err().var, "SMS_API_URL");
        assert_eq!(
            config(&[("JWT_SECRET", SECRET), ("FALLBACK_MAX_ATTEMPTS", "0")]).unwrap_err().var,
            "FALLBACK_MAX_ATTEMPTS"
        );
        assert_eq!(
            config(&[("JWT_SECRET", SECRET), ("FALLBACK_SEND_TIMEOUT_SECONDS", "0")]).unwrap_err().var,
            "FALLBACK_SEND_TIMEOUT_SECONDS"
        );
        let max = config(&[("JWT_SECRET", SECRET), ("FALLBACK_MAX_ATTEMPTS", "101")]).unwrap_err();
        assert!(max.problem.contains("max_retries at FALLBACK_MAX_ATTEMPTS - 1"), "{max}");
    }

    #[test]
    fn a_send_timeout_the_claims_lease_would_not_outlast_is_refused() {
        let c = config(&[("JWT_SECRET", SECRET), ("FALLBACK_SEND_TIMEOUT_SECONDS", "25")]).unwrap();
        assert_eq!(c.fallback.send_timeout_ms, 25_000);
        let err = config(&[("JWT_SECRET", SECRET), ("FALLBACK_SEND_TIMEOUT_SECONDS", "60")]).unwrap_err();
        assert_eq!(err.var, "FALLBACK_SEND_TIMEOUT_SECONDS");
        assert_eq!(
            err.problem,
            "must be between 1 and 25, not 60: an attempt's claim on a job lasts 60 s, which must outlast the send"
        );
        assert!(
            2 * i64::from(SEND_TIMEOUT_MAX_SECONDS) * 1000 <= crate::exchange::ledger::LEASE_MS,
            "the lease covers the longest send twice over"
        );
    }

    #[test]
    fn a_short_hs256_secret_is_refused_with_its_name() {
        let err = config(&[("JWT_SECRET", "sixteen-bytes!!!")]).unwrap_err();
        assert_eq!(err.var, "JWT_SECRET");
        assert!(err.problem.contains("16 bytes"), "{err}");
    }

    #[test]
    fn no_key_at_all_is_refused() {
        assert_eq!(config(&[]).unwrap_err().var, "JWT_SECRET");
    }

    #[test]
    fn numbers_are_parsed_and_range_checked() {
        let c =
            config(&[("JWT_SECRET", SECRET), ("MAX_FRAME_BYTES", "1024"), ("HISTORY_MAX_AGE_SECONDS", "60")]).unwrap();
        assert_eq!(c.limits.max_frame_bytes, 1024);
        assert_eq!(c.retention.max_age_ms, 60_000);
        assert_eq!(config(&[("JWT_SECRET", SECRET), ("MAX_FRAME_BYTES", "lots")]).unwrap_err().var, "MAX_FRAME_BYTES");
        assert_eq!(
            config(&[("JWT_SECRET", SECRET), ("MAX_FRAME_BYTES", "99999999")]).unwrap_err().var,
            "MAX_FRAME_BYTES"
        );
        assert_eq!(
            config(&[("JWT_SECRET", SECRET), ("MAX_CONNECTIONS_PER_ROOM", "0")]).unwrap_err().var,
            "MAX_CONNECTIONS_PER_ROOM"
        );
        assert_eq!(config(&[("JWT_SECRET", SECRET), ("MAX_BATCH_BYTES", "1000")]).unwrap_err().var, "MAX_BATCH_BYTES");
        let c = config(&[("JWT_SECRET", SECRET), ("MAX_BATCH_BYTES", "65536")]).unwrap();
        assert_eq!(c.limits.max_batch_bytes, 65536);
    }

    #[test]
    fn engine_io_settings_and_routes_come_from_vars() {
        let c = config(&[("JWT_SECRET", SECRET)]).unwrap();
        assert_eq!(c.engine, EngineSettings::default());
        assert_eq!(c.routes, RouteTable::default());
        let c = config(&[
            ("JWT_SECRET", SECRET),
            ("ENGINEIO_PING_INTERVAL_MS", "300"),
            ("ENGINEIO_PING_TIMEOUT_MS", "200"),
            ("ENGINEIO_MAX_PAYLOAD", "1000000"),
            ("ECHO_ROUTES", "true"),
        ])
        .unwrap();
        assert_eq!(
            c.engine,
            EngineSettings {
                ping_interval_ms: 300,
                ping_timeout_ms: 200,
                max_payload: 1_000_000,
                max_backlog_bytes: Limits::default().max_backlog_bytes
            }
        );
        assert!(c.routes.find("/engine.io/").is_some());
        assert_eq!(config(&[("JWT_SECRET", SECRET), ("ECHO_ROUTES", "yes")]).unwrap_err().var, "ECHO_ROUTES");
        assert_eq!(config(&[("JWT_SECRET", SECRET), ("ROUTES", "/x=?")]).unwrap_err().var, "ROUTES");
        let renamed = config(&[("JWT_SECRET", SECRET), ("SOCKETIO_ROUTES", "/v1/socket.io/=native")]).unwrap_err();
        assert_eq!(renamed.var, "SOCKETIO_ROUTES");
        assert!(renamed.problem.contains("renamed ROUTES"));
    }

    #[test]
    fn allowed_origins_are_read_and_a_bad_entry_is_refused() {
        assert_eq!(config(&[("JWT_SECRET", SECRET)]).unwrap().origins, AllowedOrigins::default());
        let c = config(&[("JWT_SECRET", SECRET), ("ALLOWED_ORIGINS", "https://app.example.com")]).unwrap();
        assert!(c.origins.check_ambient(Some("https://app.example.com"), "https://h.example").is_ok());
        let bad = config(&[("JWT_SECRET", SECRET), ("ALLOWED_ORIGINS", "app.example.com")]).unwrap_err();
        assert_eq!(bad.var, "ALLOWED_ORIGINS");
    }

    #[test]
    fn loopback_http_push_endpoints_are_off_unless_configured() {
        assert!(!config(&[("JWT_SECRET", SECRET)]).unwrap().push_endpoints.allow_loopback_http);
        let on = config(&[("JWT_SECRET", SECRET), ("PUSH_ALLOW_LOOPBACK_HTTP", "true")]).unwrap();
        assert!(on.push_endpoints.allow_loopback_http);
        let off = config(&[("JWT_SECRET", SECRET), ("PUSH_ALLOW_LOOPBACK_HTTP", "false")]).unwrap();
        assert!(!off.push_endpoints.allow_loopback_http);
        let bad = config(&[("JWT_SECRET", SECRET), ("PUSH_ALLOW_LOOPBACK_HTTP", "yes")]).unwrap_err();
        assert_eq!(bad.var, "PUSH_ALLOW_LOOPBACK_HTTP");
    }

    #[test]
    fn web_push_hosts_replace_the_push_services_and_a_bad_entry_is_refused() {
        let default = config(&[("JWT_SECRET", SECRET)]).unwrap().push_endpoints.hosts;
        assert_eq!(default, PushHosts::default());
        assert!(default.contains("fcm.googleapis.com") && default.contains("web.push.apple.com"));
        let set =
            config(&[("JWT_SECRET", SECRET), ("WEB_PUSH_HOSTS", "push.example.com, *.push.example.net")]).unwrap();
        let hosts = set.push_endpoints.hosts;
        assert!(hosts.contains("push.example.com") && hosts.contains("eu.push.example.net"));
        assert!(!hosts.contains("fcm.googleapis.com"), "the list replaces the default one");
        for bad in ["169.254.169.254", "push.example.com, localhost", "*.com", ","] {
            let err = config(&[("JWT_SECRET", SECRET), ("WEB_PUSH_HOSTS", bad)]).unwrap_err();
            assert_eq!(err.var, "WEB_PUSH_HOSTS", "{bad}");
        }
        let err = config(&[("JWT_SECRET", SECRET), ("WEB_PUSH_HOSTS", "push.example.com,10.0.0.1")]).unwrap_err();
        assert!(err.to_string().starts_with("WEB_PUSH_HOSTS has \"10.0.0.1\""), "{err}");
    }

    #[test]
    fn the_delivery_workers_settings_read_without_a_jwt_secret_and_as_the_workers_do() {
        let vars = [
            ("FALLBACK_MAX_ATTEMPTS", "3"),
            ("FALLBACK_SEND_TIMEOUT_SECONDS", "7"),
            ("EMAIL_API_URL", "http://127.0.0.1:9/"),
            ("TWILIO_AUTH_TOKEN", "token"),
            ("WEB_PUSH_HOSTS", "push.example.com"),
            ("PUSH_ALLOW_LOOPBACK_HTTP", "true"),
            ("PUSH_HIGH_SECONDS", ""),
        ];
        let map: HashMap<&str, &str> = vars.into_iter().collect();
        let delivery = Fallback::from_vars(|name| map.get(name).map(|v| v.to_string())).unwrap();
        assert_eq!((delivery.max_attempts, delivery.send_timeout_ms), (3, 7000));
        assert_eq!(delivery.email.api_url, "http://127.0.0.1:9");
        assert_eq!(delivery.sms.auth_token.as_deref(), Some("token"));
        assert_eq!(delivery.push_ms[3], Fallback::default().push_ms[3], "an empty var is an unset one");
        assert!(
            delivery.push.endpoints.allow_loopback_http && delivery.push.endpoints.hosts.contains("push.example.com")
        );

        let worker = config(&[vars.as_slice(), &[("JWT_SECRET", SECRET)]].concat()).unwrap();
        assert_eq!(worker.fallback, delivery, "both Workers read the exchange's variables alike");
        assert_eq!(worker.push_endpoints, delivery.push.endpoints);
        let err = Fallback::from_vars(|name| (name == "FALLBACK_MAX_ATTEMPTS").then(|| "0".to_string())).unwrap_err();
        assert_eq!(err.var, "FALLBACK_MAX_ATTEMPTS");

        // The receipts are signed by the inboxes (the Worker), not by the delivery Worker.
        let fcm = [("FCM_SERVICE_ACCOUNT", "{}")];
        assert!(Fallback::from_vars(|name| (name == fcm[0].0).then(|| fcm[0].1.to_string())).is_ok());
        assert_eq!(config(&[fcm[0], ("JWT_SECRET", SECRET)]).unwrap_err().var, "RECEIPT_SECRET");
    }

    #[test]
    fn a_bad_jwk_set_is_refused() {
        let err = config(&[("JWT_PUBLIC_KEYS", "[{\"kty\":\"RSA\",\"n\":\"AQAB\",\"e\":\"AQAB\"}]")]).unwrap_err();
        assert_eq!(err.var, "JWT_PUBLIC_KEYS");
    }
}
