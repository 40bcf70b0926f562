//! Authentication at the edge: find the token on the request and verify it, before any
//! Durable Object is reached.

use herald_core::auth::token::{find_token, Credential, TokenSources};
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
    let credential = credential(req, url, true).ok_or_else(|| {
        Error::new(
            ErrorCode::TokenMissing,
            "no token: send `Authorization: Bearer <jwt>`, `?token=<jwt>`, or offer it in Sec-WebSocket-Protocol",
        )
    })?;
    let identity = config.verifier.verify(&credential.token, now_ms)?;
    Ok(Caller { identity, select_protocol: credential.select_protocol })
}

/// The token a request carries in `Authorization: Bearer` or `?token=`, unverified (a
/// Socket.IO handshake's, which its dialect checks at CONNECT).
pub fn handshake_token(req: &Request, url: &Url) -> Option<String> {
    credential(req, url, false).map(|credential| credential.token)
}

/// The token on the request, from `Sec-WebSocket-Protocol` too when `protocols` is set.
fn credential(req: &Request, url: &Url, protocols: bool) -> Option<Credential> {
    let headers = req.headers();
    let authorization = headers.get("authorization").ok().flatten();
    let offered = if protocols { headers.get("sec-websocket-protocol").ok().flatten() } else { None };
    let query_token = query_param(url, "token");
    find_token(TokenSources {
        authorization: authorization.as_deref(),
        query_token: query_token.as_deref(),
        protocols: offered.as_deref(),
    })
}
