//! Configuration: `wrangler.toml` vars and secrets, parsed once into typed values.
//!
//! Every variable is a string (that is how vars and secrets reach a Worker); numbers are parsed
//! and range-checked here, and a bad value is refused with the variable's name and what is
//! wrong, never used. `docs/configuration.md` lists every variable with its default. Each part
//! keeps its own settings' types (the room its [`Limits`] and [`Retention`], the exchange its
//! [`Fallback`]); this is where they are read together, so nothing below imports it.

pub use crate::exchange::settings::{EmailKind, EmailProvider, Fallback, SmsProvider, SEND_TIMEOUT_MAX_SECONDS};
pub use crate::room::{Limits, Retention};
pub use crate::vars::ConfigError;

use crate::auth::{KeySet, Verifier};
use crate::connections::Caps;
use crate::dialect::routes::{RouteTable, DEFAULT_ROUTES};
use crate::engineio::session::Settings as EngineSettings;
use crate::exchange::endpoint::EndpointRules;
use crate::origin::AllowedOrigins;
use crate::vars::{flag, number};

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
        assert_eq!(default, crate::exchange::endpoint::PushHosts::default());
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
