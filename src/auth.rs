//! Authentication at the edge: find the token on the request and verify it, before any
//! Durable Object is reached.

use herald_core::auth::token::{cookie, find_token, Credential, TokenSources};
use herald_core::auth::Identity;
use herald_core::config::Config;
use herald_core::error::{Error, ErrorCode};
use herald_core::origin::AllowedOrigins;
use herald_platform::query_param;
use herald_platform::Url;
use worker::Request;

/// A verified caller, and the subprotocol to select when the token came in
/// `Sec-WebSocket-Protocol`.
pub struct Caller {
    pub identity: Identity,
    pub select_protocol: Option<String>,
}

pub fn authenticate(req: &Request, url: &Url, config: &Config, now_ms: i64) -> Result<Caller, Error> {
    let credential = credential(req, url, true, None).ok_or_else(|| {
        Error::new(
            ErrorCode::TokenMissing,
            "no token: send `Authorization: Bearer <jwt>`, `?token=<jwt>`, or offer it in Sec-WebSocket-Protocol",
        )
    })?;
    let identity = config.verifier.verify(&credential.token, now_ms)?;
    Ok(Caller { identity, select_protocol: credential.select_protocol })
}

/// The token a request carries in `Authorization`, `?token=` or the cookie named
/// `cookie_name`, unverified (a Socket.IO handshake's, which its dialect checks at CONNECT).
/// One from the cookie is taken only from a page `origins` allows (`origin_forbidden`).
pub fn handshake_token(
    req: &Request,
    url: &Url,
    cookie_name: Option<&str>,
    origins: &AllowedOrigins,
) -> Result<Option<String>, Error> {
    let Some(credential) = credential(req, url, false, cookie_name) else { return Ok(None) };
    if credential.ambient {
        let origin = req.headers().get("origin").ok().flatten();
        origins.check_ambient(origin.as_deref(), herald_core::origin::of_url(&req.inner().url()))?;
    }
    Ok(Some(credential.token))
}

/// The token on the request, from `Sec-WebSocket-Protocol` too when `protocols` is set, and
/// from the cookie `cookie_name` when there is one.
fn credential(req: &Request, url: &Url, protocols: bool, cookie_name: Option<&str>) -> Option<Credential> {
    let headers = req.headers();
    let authorization = headers.get("authorization").ok().flatten();
    let offered = if protocols { headers.get("sec-websocket-protocol").ok().flatten() } else { None };
    let cookies = cookie_name.and_then(|_| headers.get("cookie").ok().flatten());
    let query_token = query_param(url, "token");
    find_token(TokenSources {
        authorization: authorization.as_deref(),
        query_token: query_token.as_deref(),
        cookie: cookie_name.zip(cookies.as_deref()).and_then(|(name, header)| cookie(header, name)),
        protocols: offered.as_deref(),
    })
}
