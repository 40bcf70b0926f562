//! Authentication at the edge: find the token on the request and verify it, before any
//! Durable Object is reached.

use herald_core::auth::token::{find_token, TokenSources};
use herald_core::auth::Identity;
use herald_core::config::Config;
use herald_core::error::{Error, ErrorCode};
use herald_durable_objects::platform::query_param;
use worker::{Request, Url};

/// A verified caller, and the subprotocol to select when the token came in
/// `Sec-WebSocket-Protocol`.
pub struct Caller {
    pub identity: Identity,
    pub select_protocol: Option<String>,
}

pub fn authenticate(req: &Request, url: &Url, config: &Config, now_ms: i64) -> Result<Caller, Error> {
    authenticate_if_given(req, url, config, now_ms)?.ok_or_else(|| {
        Error::new(
            ErrorCode::TokenMissing,
            "no token: send `Authorization: Bearer <jwt>`, `?token=<jwt>`, or offer it in Sec-WebSocket-Protocol",
        )
    })
}

/// The token a request carries in `Authorization: Bearer` or `?token=`, unverified.
pub fn handshake_token(req: &Request, url: &Url) -> Option<String> {
    let authorization = req.headers().get("authorization").ok().flatten();
    let query_token = query_param(url, "token");
    let sources =
        TokenSources { authorization: authorization.as_deref(), query_token: query_token.as_deref(), protocols: None };
    find_token(sources).map(|credential| credential.token)
}

/// The caller when the request carries a token (a bad one is refused), `None` when it carries
/// none.
pub fn authenticate_if_given(req: &Request, url: &Url, config: &Config, now_ms: i64) -> Result<Option<Caller>, Error> {
    let headers = req.headers();
    let authorization = headers.get("authorization").ok().flatten();
    let protocols = headers.get("sec-websocket-protocol").ok().flatten();
    let query_token = query_param(url, "token");
    let Some(credential) = find_token(TokenSources {
        authorization: authorization.as_deref(),
        query_token: query_token.as_deref(),
        protocols: protocols.as_deref(),
    }) else {
        return Ok(None);
    };
    let identity = config.verifier.verify(&credential.token, now_ms)?;
    Ok(Some(Caller { identity, select_protocol: credential.select_protocol }))
}
