//! Where a token is found on a request: `Authorization: Bearer <jwt>`, the `token` query
//! parameter, or an entry of `Sec-WebSocket-Protocol` (browsers cannot set headers on a
//! websocket, so the token rides as an offered subprotocol).

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
}

/// The request parts a token may come in.
#[derive(Debug, Default, Clone, Copy)]
pub struct TokenSources<'a> {
    pub authorization: Option<&'a str>,
    pub query_token: Option<&'a str>,
    pub protocols: Option<&'a str>,
}

/// Finds the token, in order: `Authorization`, `?token=`, `Sec-WebSocket-Protocol`.
pub fn find_token(sources: TokenSources<'_>) -> Option<Credential> {
    let offered: Vec<&str> =
        sources.protocols.unwrap_or_default().split(',').map(str::trim).filter(|p| !p.is_empty()).collect();
    let offered_token = offered.iter().copied().find(|p| looks_like_jwt(p));
    let token =
        sources.authorization.and_then(bearer).or(sources.query_token.filter(|t| !t.is_empty())).or(offered_token)?;
    let select_protocol = if offered.contains(&SUBPROTOCOL) {
        Some(SUBPROTOCOL.to_owned())
    } else if offered.len() == 1 && offered_token.is_some() {
        offered_token.map(str::to_owned)
    } else {
        None
    };
    Some(Credential { token: token.to_owned(), select_protocol })
}

/// `Bearer <token>`, scheme case-insensitive (RFC 9110 §11.1).
fn bearer(header: &str) -> Option<&str> {
    let (scheme, token) = header.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
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
    fn query_token_is_used_when_there_is_no_header() {
        let found = find_token(TokenSources { query_token: Some("x.y.z"), ..Default::default() });
        assert_eq!(found, Some(Credential { token: "x.y.z".into(), select_protocol: None }));
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
