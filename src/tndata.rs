//! tndata's conversations at the edge: `/chat/{user}/` (the websocket; the room's object
//! accepts it and speaks tndata to it) and `GET /api/chat/{user}/` (the history). The
//! conversation is the room of the caller and `{user}` ([`herald_core::dialect::tndata`]),
//! which the caller's token must allow.

use crate::{auth, rooms};
use herald_core::config::Config;
use herald_core::dialect::tndata::{self, HistoryQuery};
use herald_core::dialect::DialectKind;
use herald_core::error::Error;
use herald_core::ids::RoomId;
use herald_core::internal::{self as api, header_json};
use herald_platform::respond::internal;
use herald_platform::Url;
use herald_platform::{call_object, method, now_ms, pass_client_address, query_param};
use worker::{Env, Headers, Method, Request, Response};

/// The caller and the conversation they ask for, refused before any object is reached.
fn conversation(req: &Request, url: &Url, segment: &str, config: &Config) -> Result<(auth::Caller, RoomId), Error> {
    let caller = auth::authenticate(req, url, config, now_ms())?;
    let room = tndata::conversation(&caller.identity.user.id, segment)?;
    caller.identity.require_room(&room)?;
    Ok((caller, room))
}

/// `GET /chat/{user}/` with `Upgrade: websocket`: hands the upgrade to the conversation's room.
pub async fn connect(req: &Request, env: &Env, url: &Url, segment: &str, config: &Config) -> Result<Response, Error> {
    herald_core::route::allow(&method(req), &["GET"])?;
    rooms::require_upgrade(req)?;
    let (caller, room) = conversation(req, url, segment, config)?;
    let headers = Headers::new();
    headers.set("upgrade", "websocket").map_err(internal)?;
    headers.set(api::USER, &header_json(&caller.identity.user)).map_err(internal)?;
    let expires = config.verifier.session_end(&caller.identity);
    headers.set(api::EXPIRES, &expires.to_string()).map_err(internal)?;
    headers.set(api::DIALECT, DialectKind::Tndata.as_str()).map_err(internal)?;
    pass_client_address(req, &headers)?;
    if let Some(protocol) = &caller.select_protocol {
        headers.set(api::PROTOCOL, protocol).map_err(internal)?;
    }
    call_object(env, &room.object_name(), Method::Get, api::CONNECT, headers, None).await
}

/// `GET /api/chat/{user}/?order=newest|oldest&limit=N&cursor=C`
pub async fn history(req: &Request, env: &Env, url: &Url, segment: &str, config: &Config) -> Result<Response, Error> {
    let (_, room) = conversation(req, url, segment, config)?;
    let param = |name| query_param(url, name);
    let query = HistoryQuery::parse(param("order").as_deref(), param("limit").as_deref(), param("cursor").as_deref())?;
    let path = format!("{}?{}", api::TNDATA_HISTORY, query.to_query());
    call_object(env, &room.object_name(), Method::Get, &path, Headers::new(), None).await
}
