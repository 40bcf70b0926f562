//! `/v1/rooms/{room}/…`, for a caller already allowed in the room: validate, then call the
//! room's Durable Object over the internal API.

use crate::auth::Caller;
use futures_util::StreamExt;
use herald_core::body::{BodyLimit, Chunk};
use herald_core::config::Config;
use herald_core::error::{Error, ErrorCode};
use herald_core::ids::RoomId;
use herald_core::internal::{self as api, header_json, PublishRequest};
use herald_core::message::Draft;
use herald_core::room::HistoryQuery;
use herald_platform::respond::internal;
use herald_platform::Url;
use herald_platform::{call_object, pass_client_address, query_param};
use worker::{Env, Headers, Method, Request, Response};

/// Calls the room's object. `path_and_query` is an internal path (see `herald_core::internal`).
async fn call(
    env: &Env,
    room: &RoomId,
    method: Method,
    path_and_query: &str,
    headers: Headers,
    body: Option<String>,
) -> Result<Response, Error> {
    call_object(env, &room.object_name(), method, path_and_query, headers, body).await
}

/// A websocket route reached without `Upgrade: websocket` is told so, not left hanging.
pub fn require_upgrade(req: &Request) -> Result<(), Error> {
    let upgrade = req.headers().get("upgrade").map_err(internal)?.unwrap_or_default();
    if upgrade.eq_ignore_ascii_case("websocket") {
        Ok(())
    } else {
        Err(Error::new(ErrorCode::UpgradeRequired, "this is a websocket endpoint: send `Upgrade: websocket`"))
    }
}

/// `GET /v1/rooms/{room}/ws[?since=N]`: hands the upgrade to the room's object, with the
/// client's address for the connection caps.
pub async fn connect(
    req: &Request,
    env: &Env,
    url: &Url,
    caller: &Caller,
    room: RoomId,
    config: &Config,
) -> Result<Response, Error> {
    let since = query_param(url, "since")
        .map(|s| {
            s.parse::<u64>().map_err(|_| Error::invalid_field("since", format!("must be a whole number, not {s:?}")))
        })
        .transpose()?;
    let headers = Headers::new();
    headers.set("upgrade", "websocket").map_err(internal)?;
    headers.set(api::USER, &header_json(&caller.identity.user)).map_err(internal)?;
    let expires = config.verifier.session_end(&caller.identity);
    headers.set(api::EXPIRES, &expires.to_string()).map_err(internal)?;
    if let Some(since) = since {
        headers.set(api::SINCE, &since.to_string()).map_err(internal)?;
    }
    pass_client_address(req, &headers)?;
    if let Some(protocol) = &caller.select_protocol {
        headers.set(api::PROTOCOL, protocol).map_err(internal)?;
    }
    call(env, &room, Method::Get, api::CONNECT, headers, None).await
}

/// `POST /v1/rooms/{room}/messages` with `{event, data}` and an optional `Idempotency-Key`.
pub async fn publish(
    env: &Env,
    req: &mut Request,
    caller: &Caller,
    room: RoomId,
    config: &Config,
) -> Result<Response, Error> {
    let bytes = read_body(req, config.limits.max_frame_bytes).await?;
    let body = String::from_utf8(bytes).map_err(|_| Error::new(ErrorCode::MalformedJson, "the body is not UTF-8"))?;
    let key = req.headers().get("idempotency-key").map_err(internal)?;
    let draft = Draft::from_rest_body(&body, key.as_deref())?;
    let request = PublishRequest { user: caller.identity.user.clone(), draft, except: socket_id(req)? };
    let body = serde_json::to_string(&request).map_err(|e| Error::internal(e.to_string()))?;
    call(env, &room, Method::Post, api::PUBLISH, Headers::new(), Some(body)).await
}

/// The `x-socket-id` a REST call names: that Socket.IO socket is not sent what the call
/// publishes (3D Repo's convention; the 3drepo and workspace dialects tag their members with their socket id).
fn socket_id(req: &Request) -> Result<Option<String>, Error> {
    let id = req.headers().get("x-socket-id").map_err(internal)?;
    match id {
        Some(id) if id.len() > 128 || id.is_empty() => {
            Err(Error::invalid_field("x-socket-id", "must be a socket id (1 to 128 characters)"))
        }
        other => Ok(other),
    }
}

/// A request body of at most `limit` bytes, whatever it declares (chunked bodies declare
/// nothing): `payload_too_large` past it, naming the limit. A body over the limit is read to
/// its end before the refusal (within reason: [`BodyLimit`] says why and how far).
pub async fn read_body(req: &mut Request, limit: usize) -> Result<Vec<u8>, Error> {
    let mut body = BodyLimit::new(limit);
    let declared = req.headers().get("content-length").map_err(internal)?.and_then(|l| l.parse::<usize>().ok());
    body.on_declared(declared)?;
    let mut bytes = Vec::new();
    if req.inner().body().is_some() {
        let mut stream = req.stream().map_err(internal)?;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(internal)?;
            match body.on_chunk(chunk.len()) {
                Chunk::Keep => bytes.extend_from_slice(&chunk),
                Chunk::Discard => {}
                Chunk::GiveUp => break,
            }
        }
    }
    body.on_end()?;
    Ok(bytes)
}

/// `GET /v1/rooms/{room}/messages?after=&before=&limit=`
pub async fn history(env: &Env, url: &Url, room: RoomId) -> Result<Response, Error> {
    let (after, before, limit) = (query_param(url, "after"), query_param(url, "before"), query_param(url, "limit"));
    let query = HistoryQuery::parse(after.as_deref(), before.as_deref(), limit.as_deref())?;
    let mut path = format!("{}?after={}&limit={}", api::MESSAGES, query.after, query.limit);
    if let Some(before) = query.before {
        path.push_str(&format!("&before={before}"));
    }
    call(env, &room, Method::Get, &path, Headers::new(), None).await
}

/// `GET /v1/rooms/{room}/presence`
pub async fn presence(env: &Env, room: RoomId) -> Result<Response, Error> {
    call(env, &room, Method::Get, api::PRESENCE, Headers::new(), None).await
}
