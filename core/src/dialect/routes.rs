//! The Socket.IO route table: which dialect speaks at which path.
//!
//! Configured by `SOCKETIO_ROUTES` as `path=dialect` entries separated by commas or spaces
//! (`"/v1/socket.io/=native"`). `ECHO_ROUTES=true` adds the conformance routes: `/engine.io/`
//! (Engine.IO echo) and `/socket.io/` (Socket.IO echo), which take precedence over a configured
//! route at the same path. A path matches with or without its trailing slash, as
//! `socket.io-client` adds one by default.

use serde::{Deserialize, Serialize};
use std::fmt;

/// What speaks on a Socket.IO endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DialectKind {
    /// Engine.IO only: every message packet is sent back (protocol conformance).
    EngineEcho,
    /// Socket.IO: namespaces `/` and `/custom`, `auth` on connect, `message` → `message-back`,
    /// `message-with-ack` acknowledged (protocol conformance).
    Echo,
    /// Herald's room protocol as Socket.IO events (docs/socketio.md).
    Native,
}

impl DialectKind {
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "engine-echo" => Some(Self::EngineEcho),
            "echo" => Some(Self::Echo),
            "native" => Some(Self::Native),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::EngineEcho => "engine-echo",
            Self::Echo => "echo",
            Self::Native => "native",
        }
    }

    /// Whether Socket.IO packets ride on the Engine.IO messages.
    pub fn is_socketio(self) -> bool {
        self != Self::EngineEcho
    }
}

impl fmt::Display for DialectKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The default table: Herald's own protocol at `/v1/socket.io/`.
pub const DEFAULT_ROUTES: &str = "/v1/socket.io/=native";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteTable {
    /// Paths without their trailing slash, each with its dialect.
    routes: Vec<(String, DialectKind)>,
}

impl RouteTable {
    /// Parses `SOCKETIO_ROUTES`; the problem, in words, when an entry is wrong.
    pub fn parse(raw: &str, echo: bool) -> Result<Self, String> {
        let mut routes: Vec<(String, DialectKind)> = Vec::new();
        if echo {
            routes.push(("/engine.io".into(), DialectKind::EngineEcho));
            routes.push(("/socket.io".into(), DialectKind::Echo));
        }
        for entry in raw.split([',', ' ', '\n', '\t']).filter(|e| !e.is_empty()) {
            let (path, dialect) =
                entry.split_once('=').ok_or_else(|| format!("has {entry:?}; each entry is path=dialect"))?;
            let kind = DialectKind::parse(dialect)
                .ok_or_else(|| format!("names dialect {dialect:?} at {path}; known: engine-echo, echo, native"))?;
            if !path.starts_with('/') || path.contains(['?', '#']) {
                return Err(format!("has path {path:?}; a path starts with / and has no query"));
            }
            let path = normalize(path);
            if routes.iter().any(|(p, _)| *p == path) {
                if echo {
                    continue;
                }
                return Err(format!("names {path}/ twice"));
            }
            routes.push((path, kind));
        }
        Ok(Self { routes })
    }

    /// The dialect at `path`, if it is a Socket.IO endpoint.
    pub fn find(&self, path: &str) -> Option<DialectKind> {
        let path = normalize(path);
        self.routes.iter().find(|(p, _)| *p == path).map(|(_, kind)| *kind)
    }
}

impl Default for RouteTable {
    fn default() -> Self {
        Self::parse(DEFAULT_ROUTES, false).expect("the default routes parse")
    }
}

fn normalize(path: &str) -> String {
    let trimmed = path.trim_end_matches('/');
    if trimmed.is_empty() {
        "/".into()
    } else {
        trimmed.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_table_serves_native_at_v1_socket_io() {
        let table = RouteTable::default();
        assert_eq!(table.find("/v1/socket.io/"), Some(DialectKind::Native));
        assert_eq!(table.find("/v1/socket.io"), Some(DialectKind::Native));
        assert_eq!(table.find("/socket.io/"), None);
        assert_eq!(table.find("/engine.io/"), None);
    }

    #[test]
    fn echo_routes_are_added_by_the_setting_and_win_over_configured_ones() {
        let table = RouteTable::parse("/socket.io/=native, /chat=native", true).unwrap();
        assert_eq!(table.find("/engine.io/"), Some(DialectKind::EngineEcho));
        assert_eq!(table.find("/socket.io/"), Some(DialectKind::Echo));
        assert_eq!(table.find("/chat/"), Some(DialectKind::Native));
    }

    #[test]
    fn bad_entries_are_refused_with_what_is_wrong() {
        assert!(RouteTable::parse("/x", false).unwrap_err().contains("path=dialect"));
        assert!(RouteTable::parse("/x=klingon", false).unwrap_err().contains("klingon"));
        assert!(RouteTable::parse("x=native", false).unwrap_err().contains("starts with /"));
        assert!(RouteTable::parse("/x=native /x/=echo", false).unwrap_err().contains("twice"));
    }
}
