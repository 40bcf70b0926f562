//! Which web pages may use Herald from a browser: one allow-list (`ALLOWED_ORIGINS`) serves two
//! checks.
//!
//! - **Ambient credentials.** A cookie is sent by the browser on its own, whatever page makes the
//!   request, so a route that takes its token from a cookie would let any site act as the
//!   victim (cross-site websocket hijacking; RFC 6455 §10.2, OWASP ASVS V3.5 / V13.2). Such a
//!   request is accepted only without an `Origin` (a server, a native app, Node) or from Herald's
//!   own origin or one the list names; `Origin: null` (sandboxed frames, `file:` pages) and any
//!   other origin are refused with `origin_forbidden` ([`AllowedOrigins::check_ambient`]).
//!   A wildcard `*` never counts here. A credential the page had to present explicitly (a
//!   header, `?token=`, the Socket.IO auth payload) is not ambient and is not checked.
//! - **CORS.** A page on a listed origin (or any origin, with `*`) may read Herald's answers:
//!   preflights are answered ([`AllowedOrigins::preflight`]) and answers carry
//!   `Access-Control-Allow-Origin` with the page's origin ([`AllowedOrigins::cors_headers`]),
//!   never `*`; `Access-Control-Allow-Credentials` only on a route that accepts a cookie, and
//!   only for an origin that may send one.
//!
//! An entry is `scheme://host[:port]`; the host may start with `*.` (any subdomain, not the
//! domain itself) and the port may be `*` (any port). `*` alone is any origin.

use crate::error::{Error, ErrorCode};

/// The headers a browser app may send (socket.io's and Pusher's REST clients send these).
pub const ALLOWED_HEADERS: &str = "Authorization, Content-Type, Idempotency-Key, X-Socket-Id";
/// The methods Herald's routes take.
pub const ALLOWED_METHODS: &str = "GET, HEAD, POST, PUT, DELETE";
/// How long a browser may keep a preflight's answer, in seconds.
pub const PREFLIGHT_MAX_AGE: u32 = 600;

/// The configured allow-list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowedOrigins {
    /// `*`: any origin may read answers (never send a cookie).
    any: bool,
    entries: Vec<Pattern>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Pattern {
    scheme: String,
    host: Host,
    port: Port,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Host {
    Exact(String),
    /// `*.example.com`: any host ending in `.example.com`.
    Subdomains(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Port {
    /// None written: the scheme's default.
    Default,
    Exact(u16),
    Any,
}

/// An origin as a browser serialises it (RFC 6454 §6.2): scheme, host, port when not the
/// default, lowercase.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Origin {
    scheme: String,
    host: String,
    port: Option<u16>,
}

impl Origin {
    fn parse(text: &str) -> Option<Self> {
        let (scheme, rest) = text.split_once("://")?;
        let scheme = scheme.to_ascii_lowercase();
        if !valid_scheme(&scheme) || rest.is_empty() {
            return None;
        }
        let (host, port) = split_port(rest)?;
        let port = match port {
            None => None,
            Some(p) => Some(p.parse::<u16>().ok().filter(|_| p.bytes().all(|b| b.is_ascii_digit()))?),
        };
        // A browser leaves the scheme's default port out; written in, it names the same origin.
        let port = port.filter(|&p| Some(p) != default_port(&scheme));
        valid_host(host).then(|| Self { scheme, host: host.to_ascii_lowercase(), port })
    }
}

/// Letters, digits, `+`, `-` and `.`, at least one (RFC 3986 §3.1, loosely).
fn valid_scheme(scheme: &str) -> bool {
    !scheme.is_empty() && scheme.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
}

/// The port a scheme's URLs have when they name none.
fn default_port(scheme: &str) -> Option<u16> {
    match scheme {
        "http" | "ws" => Some(80),
        "https" | "wss" => Some(443),
        _ => None,
    }
}

/// `host[:port]`, with an IPv6 literal in brackets; `None` for anything with a path, a query,
/// user info or an empty port.
fn split_port(rest: &str) -> Option<(&str, Option<&str>)> {
    if rest.bytes().any(|b| matches!(b, b'/' | b'?' | b'#' | b'@')) {
        return None;
    }
    let (host, port) = match rest.strip_prefix('[') {
        Some(v6) => {
            let (inner, after) = v6.split_once(']')?;
            let host = &rest[..inner.len() + 2];
            match after {
                "" => (host, None),
                _ => (host, Some(after.strip_prefix(':')?)),
            }
        }
        None => match rest.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (rest, None),
        },
    };
    if port == Some("") {
        return None;
    }
    Some((host, port))
}

fn valid_host(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= 253
        && host.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'[' | b']' | b':'))
}

impl Pattern {
    fn parse(entry: &str) -> Result<Self, String> {
        let refuse = |why: &str| format!("has {entry:?}: {why} (an origin is scheme://host[:port])");
        let (scheme, rest) = entry.split_once("://").ok_or_else(|| refuse("no scheme"))?;
        let (host, port) = split_port(rest).ok_or_else(|| refuse("a path, query or user is not part of an origin"))?;
        let scheme = scheme.to_ascii_lowercase();
        let port = match port {
            None => Port::Default,
            Some("*") => Port::Any,
            Some(p) => match p.parse().map_err(|_| refuse("the port is not a number"))? {
                p if Some(p) == default_port(&scheme) => Port::Default,
                p => Port::Exact(p),
            },
        };
        let host = match host.strip_prefix("*.") {
            Some(domain) if valid_host(domain) && domain.contains('.') => Host::Subdomains(domain.to_ascii_lowercase()),
            Some(_) => return Err(refuse("`*.` needs a domain of at least two labels after it")),
            None if valid_host(host) => Host::Exact(host.to_ascii_lowercase()),
            None => return Err(refuse("the host is not valid")),
        };
        if !valid_scheme(&scheme) {
            return Err(refuse("the scheme is not valid"));
        }
        Ok(Self { scheme, host, port })
    }

    fn matches(&self, origin: &Origin) -> bool {
        let host = match &self.host {
            Host::Exact(host) => *host == origin.host,
            Host::Subdomains(domain) => {
                origin.host.strip_suffix(domain.as_str()).is_some_and(|label| label.len() > 1 && label.ends_with('.'))
            }
        };
        let port = match self.port {
            Port::Any => true,
            Port::Default => origin.port.is_none(),
            Port::Exact(port) => origin.port == Some(port),
        };
        self.scheme == origin.scheme && host && port
    }
}

impl AllowedOrigins {
    /// The list as configured: entries separated by spaces or commas; empty allows none.
    pub fn parse(list: &str) -> Result<Self, String> {
        let mut allowed = Self::default();
        for entry in list.split([' ', ',', '\n', '\t']).filter(|e| !e.is_empty()) {
            if entry == "*" {
                allowed.any = true;
            } else {
                allowed.entries.push(Pattern::parse(entry)?);
            }
        }
        Ok(allowed)
    }

    /// Whether `origin` is listed, or is Herald's own (`own`, the origin of the request's URL).
    fn names(&self, origin: &str, own: &str) -> bool {
        let Some(parsed) = Origin::parse(origin) else { return false };
        Origin::parse(own).is_some_and(|own| own == parsed) || self.entries.iter().any(|p| p.matches(&parsed))
    }

    /// Whether a page at `origin` may read Herald's answers.
    fn readable(&self, origin: &str, own: &str) -> bool {
        self.names(origin, own) || (self.any && Origin::parse(origin).is_some())
    }

    /// Refuses a request that carries an ambient credential (a cookie) from a page whose origin
    /// may not send one. No `Origin` (not a browser) is accepted.
    pub fn check_ambient(&self, origin: Option<&str>, own: &str) -> Result<(), Error> {
        match origin {
            None => Ok(()),
            Some(origin) if self.names(origin, own) => Ok(()),
            Some(origin) => Err(Error::new(
                ErrorCode::OriginForbidden,
                format!(
                    "a cookie is accepted only from the origins in ALLOWED_ORIGINS; {origin:?} is not one \
                     (present the token explicitly, or list the origin)"
                ),
            )
            .with_details(serde_json::json!({ "origin": origin }))),
        }
    }

    /// The CORS headers of an answer to a request from `origin`, on a route that accepts a
    /// cookie when `cookie_route`. None for a request without `Origin` or from a page that may
    /// not read the answer.
    pub fn cors_headers(&self, origin: Option<&str>, own: &str, cookie_route: bool) -> Vec<(&'static str, String)> {
        let Some(origin) = origin else { return Vec::new() };
        if !self.readable(origin, own) {
            return vec![("vary", "Origin".into())];
        }
        let mut headers = vec![("access-control-allow-origin", origin.to_owned()), ("vary", "Origin".into())];
        if cookie_route && self.names(origin, own) {
            headers.push(("access-control-allow-credentials", "true".into()));
        }
        headers
    }

    /// The answer to a preflight (`OPTIONS` with `Access-Control-Request-Method`) from
    /// `origin`: its headers, or `origin_forbidden` for a page that may not use Herald.
    pub fn preflight(&self, origin: &str, own: &str, cookie_route: bool) -> Result<Vec<(&'static str, String)>, Error> {
        if !self.readable(origin, own) {
            return Err(Error::new(
                ErrorCode::OriginForbidden,
                format!("{origin:?} is not in ALLOWED_ORIGINS: a page there may not call Herald"),
            )
            .with_details(serde_json::json!({ "origin": origin })));
        }
        let mut headers = self.cors_headers(Some(origin), own, cookie_route);
        headers.extend([
            ("access-control-allow-methods", ALLOWED_METHODS.into()),
            ("access-control-allow-headers", ALLOWED_HEADERS.into()),
            ("access-control-max-age", PREFLIGHT_MAX_AGE.to_string()),
        ]);
        Ok(headers)
    }
}

/// The origin of an absolute URL (`https://host:port/path` → `https://host:port`), as the
/// runtime serialised it (default ports already left out).
pub fn of_url(url: &str) -> &str {
    let start = url.find("://").map_or(0, |i| i + 3);
    let end = url[start..].find(['/', '?', '#']).map_or(url.len(), |i| start + i);
    &url[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    const OWN: &str = "https://herald.example.net";

    fn list(text: &str) -> AllowedOrigins {
        AllowedOrigins::parse(text).unwrap()
    }

    #[test]
    fn a_cookie_is_taken_without_origin_or_from_a_listed_origin_only() {
        let allowed = list("https://app.example.com http://localhost:*");
        assert!(allowed.check_ambient(None, OWN).is_ok());
        assert!(allowed.check_ambient(Some("https://app.example.com"), OWN).is_ok());
        assert!(allowed.check_ambient(Some("http://localhost:5173"), OWN).is_ok());
        assert!(allowed.check_ambient(Some(OWN), OWN).is_ok(), "Herald's own pages");
        for refused in ["https://evil.example", "null", "http://app.example.com", "https://app.example.com:8443", ""] {
            let error = allowed.check_ambient(Some(refused), OWN).unwrap_err();
            assert_eq!(error.code, ErrorCode::OriginForbidden, "{refused}");
            assert_eq!(error.code.http_status(), 403);
        }
    }

    #[test]
    fn a_wildcard_lets_any_page_read_answers_but_never_send_a_cookie() {
        let allowed = list("*");
        assert!(allowed.check_ambient(Some("https://evil.example"), OWN).is_err());
        let headers = allowed.cors_headers(Some("https://evil.example"), OWN, true);
        assert!(headers.contains(&("access-control-allow-origin", "https://evil.example".into())));
        assert!(!headers.iter().any(|(name, _)| *name == "access-control-allow-credentials"), "{headers:?}");
        assert!(allowed.cors_headers(Some("null"), OWN, false).iter().all(|(name, _)| *name == "vary"));
    }

    #[test]
    fn credentials_are_allowed_only_on_a_cookie_route_for_a_listed_origin() {
        let allowed = list("https://app.example.com");
        let cookie = allowed.cors_headers(Some("https://app.example.com"), OWN, true);
        assert_eq!(
            cookie,
            vec![
                ("access-control-allow-origin", "https://app.example.com".into()),
                ("vary", "Origin".into()),
                ("access-control-allow-credentials", "true".into()),
            ]
        );
        let rest = allowed.cors_headers(Some("https://app.example.com"), OWN, false);
        assert_eq!(rest.len(), 2, "{rest:?}");
        assert_eq!(allowed.cors_headers(Some("https://other.example"), OWN, false), vec![("vary", "Origin".into())]);
        assert!(allowed.cors_headers(None, OWN, true).is_empty());
    }

    #[test]
    fn a_preflight_names_the_methods_and_headers_clients_send() {
        let allowed = list("https://app.example.com");
        let headers = allowed.preflight("https://app.example.com", OWN, false).unwrap();
        let get = |name: &str| headers.iter().find(|(n, _)| *n == name).map(|(_, v)| v.clone());
        assert_eq!(get("access-control-allow-headers").as_deref(), Some(ALLOWED_HEADERS));
        assert_eq!(get("access-control-allow-methods").as_deref(), Some(ALLOWED_METHODS));
        assert_eq!(get("access-control-max-age").as_deref(), Some("600"));
        let refused = allowed.preflight("https://evil.example", OWN, false).unwrap_err();
        assert_eq!(refused.code, ErrorCode::OriginForbidden);
    }

    #[test]
    fn subdomain_and_port_wildcards_match_what_they_say() {
        let allowed = list("https://*.example.com, http://127.0.0.1:*");
        assert!(allowed.names("https://a.example.com", OWN));
        assert!(allowed.names("https://a.b.example.com", OWN));
        assert!(allowed.names("HTTPS://A.EXAMPLE.COM", OWN), "scheme and host are case-insensitive");
        assert!(!allowed.names("https://example.com", OWN), "the domain itself is not a subdomain");
        assert!(!allowed.names("https://evilexample.com", OWN));
        assert!(!allowed.names("https://a.example.com.evil.net", OWN));
        assert!(!allowed.names("https://a.example.com:8443", OWN), "a port not listed");
        assert!(allowed.names("http://127.0.0.1:8787", OWN));
        assert!(allowed.names("http://127.0.0.1", OWN));
        assert!(!allowed.names("https://127.0.0.1:8787", OWN));
    }

    #[test]
    fn origins_that_are_not_origins_are_never_allowed() {
        let allowed = list("https://app.example.com");
        for origin in [
            "https://app.example.com/",
            "https://app.example.com/path",
            "https://user@app.example.com",
            "https://app.example.com:",
            "https://app.example.com:99999",
            "app.example.com",
            "https://",
            "https://app.example.com\r\nx: y",
        ] {
            assert!(!allowed.names(origin, OWN), "{origin:?}");
        }
        assert!(list("http://[::1]:8080").names("http://[::1]:8080", OWN));
    }

    #[test]
    fn a_default_port_written_in_names_the_same_origin() {
        assert!(list("https://app.example.com:443").names("https://app.example.com", OWN));
        assert!(list("https://app.example.com").names("https://app.example.com:443", OWN));
        assert!(list("http://app.example.com:80").names("http://app.example.com", OWN));
        assert!(!list("https://app.example.com:80").names("https://app.example.com", OWN));
    }

    #[test]
    fn a_bad_entry_is_refused_at_start_up() {
        for entry in ["example.com", "https://example.com/path", "https://*.com", "https://x:port", "https://*"] {
            assert!(AllowedOrigins::parse(entry).is_err(), "{entry}");
        }
        assert_eq!(AllowedOrigins::parse("").unwrap(), AllowedOrigins::default());
    }

    #[test]
    fn a_urls_origin_is_its_scheme_host_and_port() {
        assert_eq!(of_url("http://127.0.0.1:8787/chat/?EIO=4"), "http://127.0.0.1:8787");
        assert_eq!(of_url("https://herald.example.net"), "https://herald.example.net");
        assert_eq!(of_url("https://h.example?x=/"), "https://h.example");
    }
}
