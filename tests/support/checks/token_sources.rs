//! Where a request's token is found (`auth/token.rs`): the `Authorization` header, `?token=`, a
//! cookie, `Sec-WebSocket-Protocol`.

use herald_core::auth::token::{cookie, find_token, TokenSources, SUBPROTOCOL};

/// The request parts a token may come in, as text.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    pub authorization: Option<String>,
    pub query_token: Option<String>,
    /// A whole `Cookie` header, and the name of the route's token cookie.
    pub cookie_header: Option<String>,
    pub cookie_name: String,
    pub protocols: Option<String>,
}

/// A token is found only where it was given, in the documented order; the subprotocol the
/// answer selects is `herald` or the token itself, and only one the client offered.
pub fn sources(sources: &Sources) {
    let cookie_value = sources.cookie_header.as_deref().and_then(|h| cookie(h, &sources.cookie_name));
    if let (Some(value), Some(header)) = (cookie_value, &sources.cookie_header) {
        assert!(header.contains(value), "{sources:?}");
    }
    let found = find_token(TokenSources {
        authorization: sources.authorization.as_deref(),
        query_token: sources.query_token.as_deref(),
        cookie: cookie_value,
        protocols: sources.protocols.as_deref(),
    });
    let offered: Vec<&str> = sources.protocols.as_deref().unwrap_or_default().split(',').map(str::trim).collect();
    let Some(credential) = found else {
        assert!(sources.query_token.as_deref().unwrap_or_default().is_empty(), "{sources:?}: the query's token");
        assert!(cookie_value.unwrap_or_default().is_empty(), "{sources:?}: the cookie's token");
        return;
    };
    assert!(!credential.token.is_empty(), "{sources:?}");
    let given =
        [sources.authorization.as_deref(), sources.query_token.as_deref(), cookie_value, sources.protocols.as_deref()];
    assert!(given.iter().flatten().any(|part| part.contains(credential.token.as_str())), "{sources:?}: {credential:?}");
    if let Some(query) = sources.query_token.as_deref().filter(|q| !q.is_empty()) {
        let from_header = sources.authorization.as_deref().is_some_and(|a| a.contains(credential.token.as_str()));
        assert!(from_header || credential.token == query, "{sources:?}: the query's token comes before the rest");
    }
    // `herald` when offered; else the one entry offered, a token (whatever carried the one used).
    if let Some(selected) = &credential.select_protocol {
        let offered: Vec<&str> = offered.into_iter().filter(|p| !p.is_empty()).collect();
        assert!(offered.contains(&selected.as_str()), "{sources:?}: selects {selected:?}, which was not offered");
        assert!(selected == SUBPROTOCOL || offered.len() == 1, "{sources:?}: selects {selected:?}");
    }
}

/// A `Cookie` header written from name-value pairs gives back the first value of each name.
pub fn cookie_round_trip(pairs: &[(String, String)]) {
    let header = pairs.iter().map(|(n, v)| format!("{n}={v}")).collect::<Vec<_>>().join("; ");
    for (name, _) in pairs {
        let first = pairs.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str());
        assert_eq!(cookie(&header, name), first, "{name:?} in {header:?}");
    }
}
