//! Where a token is found on a request: `Authorization: Bearer <jwt>` (or `token <jwt>`, the
//! scheme tndata's clients use), the `token` query parameter, a cookie a route names (3D
//! Repo's session cookie), or an entry of `Sec-WebSocket-Protocol` (browsers cannot set headers
//! on a websocket, so the token rides as an offered subprotocol).

/// The subprotocol Herald's native websocket clients offer beside their token.
pub const SUBPROTOCOL: &str = "herald";

/// A token, and the subprotocol the 101 answer must select.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credential {
    pub token: String,
    /// `herald` when the client offered it; the token itself when it was the only entry
    /// offered (a client that offers protocols fails unless one is selected); otherwise none
    /// (Herald speaks no other subprotocol, and must not pretend to).
    pub select_protocol: Option<String>,
    /// Whether the token came from the cookie: a credential the browser sends by itself, which
    /// only some pages may use ([`crate::origin::AllowedOrigins::check_ambient`]).
    pub ambient: bool,
}

/// The request parts a token may come in.
#[derive(Debug, Default, Clone, Copy)]
pub struct TokenSources<'a> {
    pub authorization: Option<&'a str>,
    pub query_token: Option<&'a str>,
    /// The value of the route's token cookie (see [`cookie`]).
    pub cookie: Option<&'a str>,
    pub protocols: Option<&'a str>,
}

/// Finds the token, in order: `Authorization`, `?token=`, the cookie, `Sec-WebSocket-Protocol`.
pub fn find_token(sources: TokenSources<'_>) -> Option<Credential> {
    let offered: Vec<&str> =
        sources.protocols.unwrap_or_default().split(',').map(str::trim).filter(|p| !p.is_empty()).collect();
    let offered_token = offered.iter().copied().find(|p| looks_like_jwt(p));
    let explicit = sources.authorization.and_then(bearer).or(sources.query_token.filter(|t| !t.is_empty()));
    let cookie = sources.cookie.filter(|t| !t.is_empty());
    let ambient = explicit.is_none() && cookie.is_some();
    let token = explicit.or(cookie).or(offered_token)?;
    let select_protocol = if offered.contains(&SUBPROTOCOL) {
        Some(SUBPROTOCOL.to_owned())
    } else if offered.len() == 1 && offered_token.is_some() {
        offered_token.map(str::to_owned)
    } else {
        None
    };
    Some(Credential { token: token.to_owned(), select_protocol, ambient })
}

/// `Bearer <token>` or `token <token>`, scheme case-insensitive (RFC 9110 §11.1).
fn bearer(header: &str) -> Option<&str> {
    let (scheme, token) = header.trim().split_once(' ')?;
    let token = token.trim();
    let known = scheme.eq_ignore_ascii_case("bearer") || scheme.eq_ignore_ascii_case("token");
    (known && !token.is_empty()).then_some(token)
}

/// The value of cookie `name` in a `Cookie` header (RFC 6265 §4.2.1), without the quotes
/// it may be wrapped in.
pub fn cookie<'a>(header: &'a str, name: &str) -> Option<&'a str> {
    header.split(';').filter_map(|pair| pair.trim().split_once('=')).find(|(n, _)| *n == name).map(|(_, value)| {
        let value = value.trim();
        value.strip_prefix('"').and_then(|v| v.strip_suffix('"')).unwrap_or(value)
    })
}

/// A compact JWS: three base64url parts joined by dots.
fn looks_like_jwt(s: &str) -> bool {
    s.split('.').count() == 3 && s.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    const JWT: &str = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhIn0.c2ln";

    #[test]
    fn bearer_header_wins_over_query_and_protocol() {
        let found = find_token(TokenSources {
            authorization: Some("Bearer abc.def.ghi"),
            query_token: Some("q.q.q"),
            cookie: Some("c.c.c"),
            protocols: Some(JWT),
        });
        assert_eq!(found.unwrap().token, "abc.def.ghi");
    }

    #[test]
    fn scheme_is_case_insensitive_and_other_schemes_are_ignored() {
        let lower = find_token(TokenSources { authorization: Some("bearer x.y.z"), ..Default::default() });
        assert_eq!(lower.unwrap().token, "x.y.z");
        let basic = find_token(TokenSources { authorization: Some("Basic dXNlcjpwdw=="), ..Default::default() });
        assert_eq!(basic, None);
    }

    #[test]
    fn the_token_scheme_is_read_like_bearer() {
        let found = find_token(TokenSources { authorization: Some("token x.y.z"), ..Default::default() });
        assert_eq!(found.unwrap().token, "x.y.z");
    }

    #[test]
    fn a_cookie_is_found_by_name_and_comes_after_the_query() {
        assert_eq!(cookie("a=1; connect.sid=x.y.z; b=2", "connect.sid"), Some("x.y.z"));
        assert_eq!(cookie("connect.sid=\"q.r.s\"", "connect.sid"), Some("q.r.s"));
        assert_eq!(cookie("xconnect.sid=1", "connect.sid"), None);
        let both = find_token(TokenSources { query_token: Some("q.q.q"), cookie: Some("c.c.c"), ..Default::default() });
        assert_eq!(both.as_ref().map(|c| (c.token.as_str(), c.ambient)), Some(("q.q.q", false)));
        let only = find_token(TokenSources { cookie: Some("c.c.c"), ..Default::default() });
        assert_eq!(only.as_ref().map(|c| (c.token.as_str(), c.ambient)), Some(("c.c.c", true)), "a cookie is ambient");
    }

    #[test]
    fn query_token_is_used_when_there_is_no_header() {
        let found = find_token(TokenSources { query_token: Some("x.y.z"), ..Default::default() });
        assert_eq!(found, Some(Credential { token: "x.y.z".into(), select_protocol: None, ambient: false }));
    }

    #[test]
    fn subprotocol_token_selects_the_herald_protocol() {
        let offered = format!("herald, {JWT}");
        let found = find_token(TokenSources { protocols: Some(&offered), ..Default::default() }).unwrap();
        assert_eq!(found.token, JWT);
        assert_eq!(found.select_protocol.as_deref(), Some("herald"));
    }

    #[test]
    fn a_token_offered_alone_is_selected_back() {
        let found = find_token(TokenSources { protocols: Some(JWT), ..Default::default() }).unwrap();
        assert_eq!(found.select_protocol.as_deref(), Some(JWT));
    }

    #[test]
    fn herald_is_selected_whatever_carried_the_token() {
        let found = find_token(TokenSources {
            authorization: Some("Bearer x.y.z"),
            protocols: Some("herald"),
            ..Default::default()
        });
        assert_eq!(found.unwrap().select_protocol.as_deref(), Some("herald"));
    }

    #[test]
    fn unknown_protocols_are_never_selected() {
        let offered = format!("chat, {JWT}");
        let found = find_token(TokenSources { protocols: Some(&offered), ..Default::default() }).unwrap();
        assert_eq!(found.token, JWT);
        assert_eq!(found.select_protocol, None);
    }

    #[test]
    fn protocols_without_a_token_give_nothing() {
        assert_eq!(find_token(TokenSources { protocols: Some("herald, chat"), ..Default::default() }), None);
    }
}
