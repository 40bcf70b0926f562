//! `POST /api/v1/multicast` and `POST /api/v1/broadcast`: an admin's notification to the users
//! it lists, or to every user Herald knows (docs/notifications.md). The rules are in
//! [`herald_core::exchange::requests_fanout`] and [`herald_core::exchange::fanout`].
//!
//! - multicast: the recipients are made known to the directory, then each inbox is asked to
//!   take the notification (`/notify`, a few calls in flight at a time); `true` once every
//!   inbox stored it, `undelivered` naming who was not reached otherwise.
//! - broadcast: one fan-out task per directory shard goes on the `FANOUT` queue; `true` once
//!   they are queued, an error naming the broadcast's idempotency key (to retry with) when
//!   they could not all be. The queue's consumer ([`crate::fanout`]) does the rest.

use crate::auth::{self, Caller};
use crate::rooms::read_body;
use futures_util::StreamExt;
use herald_core::config::Config;
use herald_core::error::{Error, ErrorCode};
use herald_core::exchange::fanout::{self, CALLS_IN_FLIGHT};
use herald_core::exchange::requests_fanout::{self, undelivered};
use herald_core::exchange::{inbox_of, NotifyRequest};
use herald_core::ids::UserId;
use herald_core::internal as api;
use herald_platform::respond::{self, internal};
use herald_platform::Url;
use herald_platform::{config, fresh_id, now_ms, post_to_object};
use worker::{Env, Request, Response};

/// `POST /api/v1/multicast` `{msg, uids, opts?}` (admin).
pub async fn multicast(mut req: Request, env: &Env, url: &Url) -> Result<Response, Error> {
    let (config, caller) = admin(&req, env, url)?;
    let (body, key) = body_and_key(&mut req, config).await?;
    let multicast = requests_fanout::multicast(&body, key.as_deref(), &caller.identity.user, now_ms())?;
    crate::directory::register(env, config.fallback.directory_shards, &multicast.uids).await?;
    let unreached = notify_all(env, &multicast.uids, &multicast.notify).await?;
    if !unreached.is_empty() {
        let keyed = multicast.notify.opts.idempotency_key.is_some();
        return Err(undelivered(&unreached, multicast.uids.len(), keyed));
    }
    respond::json(200, "true".into()).map_err(internal)
}

/// `POST /api/v1/broadcast` `{msg, opts?}` (admin).
pub async fn broadcast(mut req: Request, env: &Env, url: &Url) -> Result<Response, Error> {
    let (config, caller) = admin(&req, env, url)?;
    let (body, key) = body_and_key(&mut req, config).await?;
    let broadcast = requests_fanout::broadcast(&body, key.as_deref(), &caller.identity.user, &fresh_id(), now_ms())?;
    let tasks = fanout::start(&broadcast.id, &broadcast.notify, config.fallback.directory_shards);
    // Some batches may have been queued before one failed: the answer names the key to retry
    // with (made up here when the caller gave none).
    crate::fanout::enqueue(env, &tasks).await.map_err(|e| requests_fanout::not_queued(e, &broadcast))?;
    worker::console_log!("broadcast {} queued: {} shards", broadcast.id, tasks.len());
    respond::json(200, "true".into()).map_err(internal)
}

/// The configuration and the caller, who must hold an admin token.
fn admin(req: &Request, env: &Env, url: &Url) -> Result<(&'static Config, Caller), Error> {
    let config = config(env)?;
    let caller = auth::authenticate(req, url, config, now_ms())?;
    caller.identity.require_admin()?;
    Ok((config, caller))
}

/// The body as text (within the size limit) and the `Idempotency-Key` header.
async fn body_and_key(req: &mut Request, config: &Config) -> Result<(String, Option<String>), Error> {
    let bytes = read_body(req, config.limits.max_frame_bytes).await?;
    let body = String::from_utf8(bytes).map_err(|_| Error::new(ErrorCode::MalformedJson, "the body is not UTF-8"))?;
    let key = req.headers().get("idempotency-key").map_err(internal)?;
    Ok((body, key))
}

/// Asks each of `users`' inboxes to take `notify`, a few at a time; the users whose inbox did
/// not (with its error).
pub async fn notify_all(env: &Env, users: &[UserId], notify: &NotifyRequest) -> Result<Vec<(UserId, Error)>, Error> {
    let body = serde_json::to_string(notify).map_err(|e| Error::internal(e.to_string()))?;
    let calls = users.iter().map(|user| {
        let body = body.clone();
        async move {
            let inbox = inbox_of(user).ok_or_else(|| Error::internal(format!("user {user} has no inbox")));
            let result = match inbox {
                Ok(inbox) => post_to_object(env, &inbox.object_name(), api::NOTIFY, body).await.map(drop),
                Err(e) => Err(e),
            };
            result.err().map(|e| (user.clone(), e))
        }
    });
    let failed: Vec<Option<(UserId, Error)>> =
        futures_util::stream::iter(calls).buffer_unordered(CALLS_IN_FLIGHT).collect().await;
    Ok(failed.into_iter().flatten().collect())
}
