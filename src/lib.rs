//! Herald's Worker: the only entry point. It holds no state: it routes, authenticates,
//! validates, and forwards to the room's Durable Object.
//!
//! A request flows: [`fetch`] (a CORS preflight is answered there, and every answer gets the
//! CORS headers its page may have, [`cors`]) → [`herald_core::route::Route::parse`] → [`auth::authenticate`]
//! (JWT, before any object is reached) → a handler in [`rooms`] that validates the input and
//! calls the room's object over the internal API ([`herald_core::internal`]). Every refusal is
//! a coded JSON error ([`herald_platform::respond`]).
//!
//! - [`auth`]: the token from the request, verified into an identity.
//! - [`rooms`]: `/v1/rooms/{room}/…`: websocket upgrade, publish, history, presence.
//! - [`users`]: `/v1/users/{user}/logout`: an admin logs a user's 3drepo sessions out.
//! - [`notify`]: the exchange's calls about a user's inbox: `send`, contacts, the inbox's page
//!   and read mark; [`devices`]: push devices (`native/subscribe`, `native/devices`) and the
//!   device index.
//! - [`socketio`]: the Socket.IO / Engine.IO paths of the route table, handed to each
//!   session's home object.
//! - [`broadcast`]: `/api/v1/multicast` and `/api/v1/broadcast` (admin): a notification to
//!   listed users' inboxes, or to every known user through [`fanout`], the fan-out queue's
//!   consumer, which reads the user [`directory`] a page at a time.
//! - [`dead_letters`]: `/api/v1/admin/dead-letters`: the fallback jobs that will not be sent.
//! - [`receipts`]: the push routes that take no user token: the VAPID public key, and push
//!   receipts (their credential says whose notification it is).
//! - [`queue`]: the queue entry; [`fanout`] takes broadcast tasks. Email / SMS / push jobs are
//!   sent by the delivery Worker (the `herald-delivery` crate, `delivery/`), a Worker of its
//!   own that consumes the fallback queues.
//! - [`tndata`]: tndata's `/chat/{user}/` websocket (the route table's `{user}` route) and
//!   `/api/chat/{user}/` history, handed to the conversation's room object.
//!
//! The Durable Object classes live in the `herald-durable-objects` crate and are re-exported
//! here so the runtime finds them in this module.

mod auth;
mod broadcast;
mod cors;
mod dead_letters;
mod devices;
mod directory;
mod fanout;
mod notify;
mod queue;
mod receipts;
mod rooms;
mod socketio;
mod tndata;
mod users;

pub use herald_durable_objects::RoomObject;

use herald_core::dialect::DialectKind;
use herald_core::error::{Error, ErrorCode};
use herald_core::ids::RoomId;
use herald_core::route::{RoomRoute, Route};
use herald_platform::respond::{self, internal};
use herald_platform::Url;
use herald_platform::{boxed, config, method, now_ms};
use worker::{event, Context, Env, Request, Response, Result};

#[event(fetch)]
pub async fn fetch(req: Request, env: Env, _ctx: Context) -> Result<Response> {
    let cors = cors::Cors::of(&req, &req.path(), config(&env).ok());
    if let Some(answer) = cors.preflight(&req) {
        return Ok(answer);
    }
    Ok(cors.apply(handle(req, &env).await.unwrap_or_else(|e| respond::error(&e))))
}

/// Each route's future is awaited `boxed` (see there): its own function in the wasm.
async fn handle(req: Request, env: &Env) -> std::result::Result<Response, Error> {
    let url = Url::of(&req);
    match Route::parse(&method(&req), url.path()) {
        Ok(Route::Ping) => respond::json(200, r#"{"ok":true}"#.into()).map_err(internal),
        Ok(Route::Room(room, what)) => boxed(room_route(req, env, &url, room, what)).await,
        Ok(Route::ChatHistory(user)) => boxed(tndata::history(&req, env, &url, &user, config(env)?)).await,
        Ok(Route::DeadLetters) => {
            let config = config(env)?;
            let caller = auth::authenticate(&req, &url, config, now_ms())?;
            boxed(dead_letters::list(env, &url, &caller)).await
        }
        Ok(Route::Logout(user)) => {
            let mut req = req;
            let config = config(env)?;
            let caller = auth::authenticate(&req, &url, config, now_ms())?;
            boxed(users::logout(env, &mut req, &caller, user, config)).await
        }
        Ok(Route::Notify(route)) => {
            let (mut req, config) = (req, config(env)?);
            let caller = auth::authenticate(&req, &url, config, now_ms())?;
            boxed(notify::handle(&mut req, env, &url, &caller, route, config)).await
        }
        Ok(Route::VapidKey) => receipts::vapid_public_key(config(env)?),
        Ok(Route::Receipt) => {
            let mut req = req;
            boxed(receipts::receipt(&mut req, env, &url, config(env)?)).await
        }
        Ok(Route::Multicast) => boxed(broadcast::multicast(req, env, &url)).await,
        Ok(Route::Broadcast) => boxed(broadcast::broadcast(req, env, &url)).await,
        // Socket.IO paths are configuration: the route table is consulted for what the fixed
        // routes do not name.
        Err(not_found) if not_found.code == ErrorCode::NotFound => {
            let config = config(env)?;
            match config.routes.find(url.path()) {
                Some(route) if route.kind == DialectKind::Tndata => {
                    boxed(tndata::connect(&req, env, &url, route.user.unwrap_or_default(), config)).await
                }
                Some(route) => boxed(socketio::handle(req, env, &url, route, config)).await,
                None => Err(not_found),
            }
        }
        Err(e) => Err(e),
    }
}

/// `/v1/rooms/{room}/…`: configuration, then the token (which must allow this room), then the
/// room's handler.
async fn room_route(
    mut req: Request,
    env: &Env,
    url: &Url,
    room: RoomId,
    what: RoomRoute,
) -> std::result::Result<Response, Error> {
    let config = config(env)?;
    if what == RoomRoute::Socket {
        rooms::require_upgrade(&req)?;
    }
    let caller = auth::authenticate(&req, url, config, now_ms())?;
    caller.identity.require_room(&room)?;
    match what {
        RoomRoute::Socket => rooms::connect(&req, env, url, &caller, room, config).await,
        RoomRoute::Publish => rooms::publish(env, &mut req, &caller, room, config).await,
        RoomRoute::History => rooms::history(env, url, room).await,
        RoomRoute::Presence => rooms::presence(env, room).await,
    }
}
