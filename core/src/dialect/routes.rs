//! The route table: which dialect speaks at which path.
//!
//! Configured by `ROUTES` as `path=dialect` entries separated by commas or spaces, each
//! optionally followed by settings, `path=dialect?name=value&name=value`:
//!
//! | setting           | dialects        | default                         | meaning |
//! |-------------------|-----------------|---------------------------------|---------|
//! | `anonymous=bool`  | `alert`         | `true`                          | clients without a token are let in |
//! | `cookie=name`     | Socket.IO ones  | `connect.sid` for `3drepo`, none otherwise | a handshake cookie that carries the token |
//!
//! A path is matched with or without its trailing slash, as `socket.io-client` adds one by
//! default. One path segment may be `{user}` (the `tndata` route, `/chat/{user}/`): it
//! matches any one non-empty segment, and exact paths win over patterns (so `/chat/` is
//! 3drepo's Socket.IO endpoint and `/chat/42/` a tndata conversation).
//!
//! `ECHO_ROUTES=true` adds the conformance routes: `/engine.io/` (Engine.IO echo) and
//! `/socket.io/` (Socket.IO echo), which take the place of a configured route at the same path.

use serde::{Deserialize, Serialize};
use std::fmt;

/// What speaks on an endpoint.
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
    /// The alert chat (Flask-SocketIO): `joined` / `text` / `left` (docs/dialects.md).
    Alert,
    /// 3D Repo's chat service: notification and model rooms (docs/dialects.md).
    #[serde(rename = "3drepo")]
    ThreeDRepo,
    /// The workspace socket API: `auth`, then workspace events (docs/dialects.md).
    Workspace,
    /// tndata's person-to-person chat over a plain websocket (docs/dialects.md).
    Tndata,
}

impl DialectKind {
    pub const ALL: [DialectKind; 7] =
        [Self::EngineEcho, Self::Echo, Self::Native, Self::Alert, Self::ThreeDRepo, Self::Workspace, Self::Tndata];

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == raw)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::EngineEcho => "engine-echo",
            Self::Echo => "echo",
            Self::Native => "native",
            Self::Alert => "alert",
            Self::ThreeDRepo => "3drepo",
            Self::Workspace => "workspace",
            Self::Tndata => "tndata",
        }
    }

    /// Whether the endpoint is Engine.IO (every dialect but tndata's plain websocket).
    pub fn is_engineio(self) -> bool {
        self != Self::Tndata
    }

    /// Whether Socket.IO packets ride on the Engine.IO messages.
    pub fn is_socketio(self) -> bool {
        self.is_engineio() && self != Self::EngineEcho
    }
}

impl fmt::Display for DialectKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The default table: Herald's own protocol at `/v1/socket.io/`, and each seed service's
/// client at the path it already uses.
pub const DEFAULT_ROUTES: &str =
    "/v1/socket.io/=native /socket.io/=alert /chat/=3drepo /chat/{user}/=tndata /workspace/socket.io/=workspace";

/// The settings of one route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteOptions {
    /// Clients without a token are let in (as anonymous users).
    pub anonymous: bool,
    /// The name of a cookie whose value is the token (on the Engine.IO handshake).
    pub cookie: Option<String>,
}

impl RouteOptions {
    fn defaults(kind: DialectKind) -> Self {
        Self {
            anonymous: kind == DialectKind::Alert,
            cookie: (kind == DialectKind::ThreeDRepo).then(|| "connect.sid".to_owned()),
        }
    }
}

/// A request path's route: its dialect, settings, and the `{user}` segment when it has one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Found<'a> {
    pub kind: DialectKind,
    pub options: &'a RouteOptions,
    /// The path segment a `{user}` pattern matched, as the request has it (see [`percent_decode`]).
    pub user: Option<&'a str>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    /// The path without its trailing slash.
    path: String,
    kind: DialectKind,
    options: RouteOptions,
}

const USER_SEGMENT: &str = "{user}";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteTable {
    entries: Vec<Entry>,
}

impl RouteTable {
    /// Parses `ROUTES`; the problem, in words, when an entry is wrong.
    pub fn parse(raw: &str, echo: bool) -> Result<Self, String> {
        let mut entries: Vec<Entry> = Vec::new();
        if echo {
            for (path, kind) in [("/engine.io", DialectKind::EngineEcho), ("/socket.io", DialectKind::Echo)] {
                entries.push(Entry { path: path.into(), kind, options: RouteOptions::defaults(kind) });
            }
        }
        for raw_entry in raw.split([',', ' ', '\n', '\t']).filter(|e| !e.is_empty()) {
            let entry = parse_entry(raw_entry)?;
            if entries.iter().any(|e| e.path == entry.path) {
                if echo {
                    continue;
                }
                return Err(format!("names {}/ twice", entry.path));
            }
            entries.push(entry);
        }
        Ok(Self { entries })
    }

    /// The route at `path` (as the request has it, percent-encoded), if there is one.
    pub fn find<'a>(&'a self, path: &'a str) -> Option<Found<'a>> {
        let path = path.strip_suffix('/').filter(|p| !p.is_empty()).unwrap_or(path);
        if let Some(entry) = self.entries.iter().find(|e| e.path == path) {
            return Some(Found { kind: entry.kind, options: &entry.options, user: None });
        }
        self.entries.iter().find_map(|entry| {
            let (before, after) = entry.path.split_once(USER_SEGMENT)?;
            let segment = path.strip_prefix(before)?.strip_suffix(after)?;
            if segment.is_empty() || segment.contains('/') {
                return None;
            }
            Some(Found { kind: entry.kind, options: &entry.options, user: Some(segment) })
        })
    }
}

impl Default for RouteTable {
    fn default() -> Self {
        Self::parse(DEFAULT_ROUTES, false).expect("the default routes parse")
    }
}

fn parse_entry(raw: &str) -> Result<Entry, String> {
    let (path, rest) = raw.split_once('=').ok_or_else(|| format!("has {raw:?}; each entry is path=dialect"))?;
    let (dialect, settings) = rest.split_once('?').unwrap_or((rest, ""));
    let known = DialectKind::ALL.map(DialectKind::as_str).join(", ");
    let kind =
        DialectKind::parse(dialect).ok_or_else(|| format!("names dialect {dialect:?} at {path}; known: {known}"))?;
    if !path.starts_with('/') || path.contains(['?', '#']) {
        return Err(format!("has path {path:?}; a path starts with / and has no query"));
    }
    let path = match path.trim_end_matches('/') {
        "" => "/".to_owned(),
        trimmed => trimmed.to_owned(),
    };
    let patterns = path.matches(USER_SEGMENT).count();
    match (kind, patterns) {
        (DialectKind::Tndata, 1) => {}
        (DialectKind::Tndata, _) => return Err(format!("has tndata at {path}; its path needs one {{user}} segment")),
        (_, 0) => {}
        (_, _) => return Err(format!("has {{user}} in {path}; only tndata routes name the other user")),
    }
    if path.split('/').any(|segment| segment.contains(USER_SEGMENT) && segment != USER_SEGMENT) {
        return Err(format!("has {path}; {{user}} must be a whole path segment"));
    }
    let mut options = RouteOptions::defaults(kind);
    for setting in settings.split('&').filter(|s| !s.is_empty()) {
        let (name, value) = setting.split_once('=').unwrap_or((setting, ""));
        match name {
            "anonymous" if kind == DialectKind::Alert => {
                options.anonymous = match value {
                    "true" => true,
                    "false" => false,
                    _ => return Err(format!("has anonymous={value:?} at {path}; it is true or false")),
                }
            }
            "cookie" if kind.is_socketio() => {
                if value.is_empty() || !value.bytes().all(|b| b.is_ascii_graphic() && !b";=,\"".contains(&b)) {
                    return Err(format!("has cookie={value:?} at {path}; a cookie name is a plain token"));
                }
                options.cookie = Some(value.to_owned());
            }
            _ => return Err(format!("has setting {name:?} at {path}, which {kind} routes do not take")),
        }
    }
    Ok(Entry { path, kind, options })
}

/// `%XX` escapes decoded (a path segment as a client wrote it); `None` when the result is not
/// UTF-8 or an escape is broken.
pub fn percent_decode(raw: &str) -> Option<String> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            // Two hex digits, checked as such: `from_str_radix` alone would read `%+1` as 1.
            let hex = raw.get(i + 1..i + 3).filter(|hex| hex.bytes().all(|b| b.is_ascii_hexdigit()))?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(table: &RouteTable, path: &str) -> Option<DialectKind> {
        table.find(path).map(|f| f.kind)
    }

    /// Found by the property test of path segments (`tests/props_query.rs`): `from_str_radix`
    /// reads a sign, so `%+1` was read as the byte 1 where a broken escape is refused.
    #[test]
    fn an_escape_with_a_sign_in_it_is_a_broken_escape() {
        for raw in ["%+1", "a%+f", "%-1", "%+", "bob%+4"] {
            assert_eq!(percent_decode(raw), None, "{raw:?}");
        }
        assert_eq!(percent_decode("zo%C3%AB").as_deref(), Some("zoë"));
    }

    #[test]
    fn the_default_table_serves_native_and_each_seed_at_its_own_path() {
        let table = RouteTable::default();
        assert_eq!(kind(&table, "/v1/socket.io/"), Some(DialectKind::Native));
        assert_eq!(kind(&table, "/v1/socket.io"), Some(DialectKind::Native));
        assert_eq!(kind(&table, "/socket.io/"), Some(DialectKind::Alert));
        assert_eq!(kind(&table, "/chat/"), Some(DialectKind::ThreeDRepo));
        assert_eq!(kind(&table, "/chat"), Some(DialectKind::ThreeDRepo));
        assert_eq!(kind(&table, "/workspace/socket.io/"), Some(DialectKind::Workspace));
        assert_eq!(kind(&table, "/engine.io/"), None);
        let tndata = table.find("/chat/42/").unwrap();
        assert_eq!((tndata.kind, tndata.user), (DialectKind::Tndata, Some("42")));
        assert_eq!(table.find("/chat/42").unwrap().user, Some("42"));
        assert_eq!(table.find("/chat/42/x/"), None);
    }

    #[test]
    fn each_dialect_has_its_default_settings() {
        let table = RouteTable::default();
        assert!(table.find("/socket.io/").unwrap().options.anonymous);
        assert!(!table.find("/v1/socket.io/").unwrap().options.anonymous);
        assert_eq!(table.find("/chat/").unwrap().options.cookie.as_deref(), Some("connect.sid"));
        assert_eq!(table.find("/workspace/socket.io/").unwrap().options.cookie, None);
    }

    #[test]
    fn settings_change_a_route() {
        let table =
            RouteTable::parse("/a/=alert?anonymous=false /r=3drepo?cookie=sess /n=native?cookie=t", false).unwrap();
        assert!(!table.find("/a").unwrap().options.anonymous);
        assert_eq!(table.find("/r").unwrap().options.cookie.as_deref(), Some("sess"));
        assert_eq!(table.find("/n").unwrap().options.cookie.as_deref(), Some("t"));
    }

    #[test]
    fn echo_routes_are_added_by_the_setting_and_win_over_configured_ones() {
        let table = RouteTable::parse(DEFAULT_ROUTES, true).unwrap();
        assert_eq!(kind(&table, "/engine.io/"), Some(DialectKind::EngineEcho));
        assert_eq!(kind(&table, "/socket.io/"), Some(DialectKind::Echo));
        assert_eq!(kind(&table, "/chat/"), Some(DialectKind::ThreeDRepo));
    }

    #[test]
    fn bad_entries_are_refused_with_what_is_wrong() {
        let problem = |raw: &str| RouteTable::parse(raw, false).unwrap_err();
        assert!(problem("/x").contains("path=dialect"));
        assert!(problem("/x=klingon").contains("klingon"));
        assert!(problem("x=native").contains("starts with /"));
        assert!(problem("/x=native /x/=echo").contains("twice"));
        assert!(problem("/chat=tndata").contains("{user}"));
        assert!(problem("/c/{user}=native").contains("only tndata"));
        assert!(problem("/c/u{user}=tndata").contains("whole path segment"));
        assert!(problem("/a=alert?anonymous=maybe").contains("true or false"));
        assert!(problem("/a=native?anonymous=true").contains("do not take"));
        assert!(problem("/a=3drepo?cookie=a;b").contains("plain token"));
        assert!(problem("/c/{user}=tndata?cookie=x").contains("do not take"));
    }

    #[test]
    fn percent_escapes_decode_and_broken_ones_are_refused() {
        assert_eq!(percent_decode("al%40x.com").as_deref(), Some("al@x.com"));
        assert_eq!(percent_decode("42").as_deref(), Some("42"));
        assert_eq!(percent_decode("%4"), None);
        assert_eq!(percent_decode("%ff"), None);
    }
}
