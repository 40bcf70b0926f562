//! Socket.IO and Engine.IO endpoints (the route table in the configuration names them): the
//! Worker checks the Engine.IO query, passes on the token a handshake carries (the dialect
//! checks it at CONNECT), and hands the request to the session's home object. A handshake chooses the home
//! ([`herald_core::home::choose_home`]); every later request finds it in the `sid`, so any
//! Worker instance reaches the same object.

use crate::{auth, rooms};
use herald_core::config::Config;
use herald_core::dialect::routes::Found;
use herald_core::engineio::session::Transport;
use herald_core::error::{Error, ErrorCode};
use herald_core::home;
use herald_core::internal as api;
use herald_platform::respond::internal;
use herald_platform::Url;
use herald_platform::{call_object_for, fresh_id, pass_client_address, query_param};
use worker::{Env, Headers, Method, Request, Response};

pub async fn handle(
    mut req: Request,
    env: &Env,
    url: &Url,
    route: Found<'_>,
    config: &Config,
) -> Result<Response, Error> {
    // Spec, Transports: a missing or wrong mandatory parameter is answered 400.
    match query_param(url, "EIO").as_deref() {
        Some("4") => {}
        other => {
            return Err(Error::new(
                ErrorCode::UnsupportedProtocol,
                format!("EIO must be 4 (Engine.IO v4, Socket.IO v3 and later clients), not {other:?}"),
            ))
        }
    }
    let transport = query_param(url, "transport");
    let Some(transport) = transport.as_deref().and_then(Transport::parse) else {
        return Err(Error::new(
            ErrorCode::UnknownTransport,
            format!("transport must be polling or websocket, not {transport:?}"),
        ));
    };
    // Engine.IO takes GET and POST; anything else is refused by name, not read as a GET.
    herald_core::route::allow(&herald_platform::method(&req), &["GET", "POST"])?;
    let upgrade = req.headers().get("upgrade").map_err(internal)?.unwrap_or_default();
    let is_upgrade = upgrade.eq_ignore_ascii_case("websocket");
    let method = req.method();
    match (transport, &method, is_upgrade) {
        (Transport::Websocket, Method::Get, true) | (Transport::Polling, Method::Get | Method::Post, false) => {}
        (Transport::Websocket, _, _) => {
            return Err(Error::new(ErrorCode::BadRequest, "transport=websocket needs a GET with Upgrade: websocket"))
        }
        _ => return Err(Error::new(ErrorCode::BadRequest, "polling takes GET (receive) and POST (send)")),
    }

    let headers = Headers::new();
    let home = match query_param(url, "sid") {
        Some(sid) => home::home_of(&sid)
            .ok_or_else(|| Error::new(ErrorCode::UnknownSession, format!("no session {sid:?}")))?
            .to_owned(),
        None => {
            if method == Method::Post {
                return Err(Error::new(ErrorCode::BadRequest, "a session opens with a GET, not a POST"));
            }
            // A token on the handshake is checked by the dialect at CONNECT, beside (and after)
            // one in the CONNECT auth payload, so a bad one is a CONNECT_ERROR the client can
            // read rather than a failed handshake.
            if let Some(token) = auth::handshake_token(&req, url, route.options.cookie.as_deref(), &config.origins)? {
                headers.set(api::TOKEN, &token).map_err(internal)?;
            }
            if route.options.anonymous {
                headers.set(api::ANONYMOUS, "1").map_err(internal)?;
            }
            pass_client_address(&req, &headers)?;
            let fresh = fresh_id();
            let home = home::choose_home(&fresh).to_owned();
            headers.set(api::SID, &home::new_sid(&home, &fresh)).map_err(internal)?;
            home
        }
    };
    headers.set(api::DIALECT, route.kind.as_str()).map_err(internal)?;
    if is_upgrade {
        headers.set("upgrade", "websocket").map_err(internal)?;
    }

    let body = if method == Method::Post {
        // Spec: a payload is at most maxPayload bytes. One over it is not passed on, only the
        // fact that it came: the session it was for ends (the home answers 413).
        match rooms::read_body(&mut req, config.engine.max_payload).await {
            Ok(bytes) => Some(
                String::from_utf8(bytes).map_err(|_| Error::new(ErrorCode::BadRequest, "the payload is not UTF-8"))?,
            ),
            Err(e) if e.code == ErrorCode::PayloadTooLarge => {
                headers.set(api::OVERSIZE, "1").map_err(internal)?;
                None
            }
            Err(e) => return Err(e),
        }
    } else {
        None
    };
    let path = format!("{}?{}", api::ENGINE, url.query().unwrap_or_default());
    // A held long-poll learns when its client goes away (the home gives back its answer).
    let signal = req.inner().signal();
    call_object_for(env, &home::object_name(&home), method, &path, headers, body, Some(&signal)).await
}
