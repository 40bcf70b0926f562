//! Configuration: `wrangler.toml` vars and secrets, parsed once into typed values.
//!
//! Every variable is a string (that is how vars and secrets reach a Worker); numbers are parsed
//! and range-checked here, and a bad value is refused with the variable's name and what is
//! wrong, never used. `docs/configuration.md` lists every variable with its default.

use crate::auth::{KeySet, Verifier};
use crate::dialect::routes::{RouteTable, DEFAULT_ROUTES};
use crate::engineio::session::Settings as EngineSettings;
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
            max_batch_bytes: 1024 * 1024,
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
            max_batch_bytes: number(&get, "MAX_BATCH_BYTES", defaults.max_batch_bytes, 64 * 1024, 16 * 1024 * 1024)?,
        };

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
        };
        let echo = match get("ECHO_ROUTES").as_deref().map(str::trim) {
            None | Some("false") => false,
            Some("true") => true,
            Some(other) => {
                return Err(ConfigError {
                    var: "ECHO_ROUTES",
                    problem: format!("must be true or false, not {other:?}"),
                })
            }
        };
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

        Ok(Self { verifier, limits, retention, engine, routes })
    }
}

/// An integer variable within `[min, max]`, or `default` when unset.
fn number<T>(
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
        assert_eq!(c.engine, EngineSettings { ping_interval_ms: 300, ping_timeout_ms: 200, max_payload: 1_000_000 });
        assert!(c.routes.find("/engine.io/").is_some());
        assert_eq!(config(&[("JWT_SECRET", SECRET), ("ECHO_ROUTES", "yes")]).unwrap_err().var, "ECHO_ROUTES");
        assert_eq!(config(&[("JWT_SECRET", SECRET), ("ROUTES", "/x=?")]).unwrap_err().var, "ROUTES");
        let renamed = config(&[("JWT_SECRET", SECRET), ("SOCKETIO_ROUTES", "/v1/socket.io/=native")]).unwrap_err();
        assert_eq!(renamed.var, "SOCKETIO_ROUTES");
        assert!(renamed.problem.contains("renamed ROUTES"));
    }

    #[test]
    fn a_bad_jwk_set_is_refused() {
        let err = config(&[("JWT_PUBLIC_KEYS", "[{\"kty\":\"RSA\",\"n\":\"AQAB\",\"e\":\"AQAB\"}]")]).unwrap_err();
        assert_eq!(err.var, "JWT_PUBLIC_KEYS");
    }
}
