//! Herald's Worker: the only entry point. It holds no state: it routes, authenticates,
//! validates, and forwards to the room's Durable Object.
//!
//! A request flows: [`fetch`] → [`herald_core::route::Route::parse`] → [`auth::authenticate`]
//! (JWT, before any object is reached) → a handler in [`rooms`] that validates the input and
//! calls the room's object over the internal API ([`herald_core::internal`]). Every refusal is
//! a coded JSON error ([`herald_durable_objects::respond`]).
//!
//! - [`auth`]: the token from the request, verified into an identity.
//! - [`rooms`]: `/v1/rooms/{room}/…`: websocket upgrade, publish, history, presence.
//!
//! The Durable Object classes live in the `herald-durable-objects` crate and are re-exported
//! here so the runtime finds them in this module.

mod auth;
mod rooms;

pub use herald_durable_objects::RoomObject;

use herald_core::error::Error;
use herald_core::route::Route;
use herald_durable_objects::platform::{config, now_ms};
use herald_durable_objects::respond::{self, internal};
use worker::{event, Context, Env, Request, Response, Result};

#[event(fetch)]
pub async fn fetch(req: Request, env: Env, _ctx: Context) -> Result<Response> {
    Ok(handle(req, &env).await.unwrap_or_else(|e| respond::error(&e)))
}

async fn handle(mut req: Request, env: &Env) -> std::result::Result<Response, Error> {
    let url = req.url().map_err(internal)?;
    let route = Route::parse(req.method().as_ref(), url.path())?;
    if route == Route::Ping {
        return respond::json(200, r#"{"ok":true}"#.into()).map_err(internal);
    }
    let config = config(env)?;
    if let Route::RoomSocket(_) = route {
        rooms::require_upgrade(&req)?;
    }
    let caller = auth::authenticate(&req, &url, config, now_ms())?;
    match route {
        Route::Ping => unreachable!("answered above"),
        Route::RoomSocket(room) => rooms::connect(env, &url, &caller, room, config).await,
        Route::RoomPublish(room) => rooms::publish(env, &mut req, &caller, room, config).await,
        Route::RoomHistory(room) => rooms::history(env, &url, &caller, room).await,
        Route::RoomPresence(room) => rooms::presence(env, &caller, room).await,
    }
}
