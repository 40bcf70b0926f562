//! The exchange's calls about one user's inbox (docs/notifications.md): validate at the edge,
//! then call the inbox's object (`inbox:{uid}`) over its internal routes
//! (`herald_durable_objects::room`'s inbox side).
//!
//! | call | inbox | answer |
//! |---|---|---|
//! | `POST /api/v1/send` `{msg, uid, opts?}` | `uid`'s, `POST /notify` | `true` once the inbox stored it |
//! | `POST`/`DELETE /api/v1/native/subscribe`, `GET /api/v1/native/devices`, `DELETE /api/v1/native/devices/{id}` | the caller's, `/inbox/devices…` ([`crate::devices`]) | `true`, 204, the list |
//! | `GET`/`PUT /api/v1/users/{uid}/contacts` (self or admin) | `uid`'s, `/inbox/contacts` | the contacts |
//! | `GET /api/v1/inbox?before=&limit=` | the caller's, `GET /inbox/page` | a page |
//! | `POST /api/v1/inbox/read` `{seq}` | the caller's, `POST /inbox/read` | `{last_read, unread}` |
//!
//! An inbox's refusal (its coded error) is answered as it gave it.

use crate::auth::Caller;
use crate::devices;
use crate::rooms::read_body;
use herald_core::config::Config;
use herald_core::error::{Error, ErrorCode};
use herald_core::exchange::contacts::ContactsUpdate;
use herald_core::exchange::inbox_of;
use herald_core::exchange::requests::{self, Device};
use herald_core::ids::{RoomId, UserId};
use herald_core::internal as api;
use herald_core::route::NotifyRoute;
use herald_platform::respond::{self, internal};
use herald_platform::Url;
use herald_platform::{call_object, now_ms, query_param};
use worker::{Env, Headers, Method, Request, Response};

pub async fn handle(
    req: &mut Request,
    env: &Env,
    url: &Url,
    caller: &Caller,
    route: NotifyRoute,
    config: &Config,
) -> Result<Response, Error> {
    let me = &caller.identity.user;
    match route {
        NotifyRoute::Send => {
            let body = body(req, config).await?;
            let key = req.headers().get("idempotency-key").map_err(internal)?;
            let (uid, inbox, notify) = requests::send(&body, key.as_deref(), me, now_ms())?;
            // The recipient becomes known to the directory first, so broadcasts reach them.
            crate::directory::register(env, config.fallback.directory_shards, &[uid]).await?;
            let notify = serde_json::to_string(&notify).map_err(|e| Error::internal(e.to_string()))?;
            accepted(call(env, &inbox, Method::Post, api::NOTIFY, Some(notify)).await?)
        }
        NotifyRoute::Subscribe | NotifyRoute::Unsubscribe => {
            let device = Device::parse(&body(req, config).await?, &config.push_endpoints)?;
            let shards = config.fallback.directory_shards;
            if route == NotifyRoute::Subscribe {
                devices::subscribe(env, shards, &me.id, &device).await
            } else {
                devices::unsubscribe(env, shards, &me.id, &device).await
            }
        }
        NotifyRoute::Devices => devices::list(env, &me.id).await,
        NotifyRoute::RemoveDevice(id) => devices::remove_by_id(env, config.fallback.directory_shards, &me.id, id).await,
        NotifyRoute::Contacts { user, put } => {
            if user != me.id && !caller.identity.admin {
                return Err(Error::new(
                    ErrorCode::AdminRequired,
                    "a user's contacts are theirs: only they, or an admin token, may read or set them",
                ));
            }
            let update = if put {
                let body = body(req, config).await?;
                ContactsUpdate::parse(&body)?;
                Some(body)
            } else {
                None
            };
            let method = if put { Method::Put } else { Method::Get };
            call(env, &inbox(&user)?, method, api::INBOX_CONTACTS, update).await
        }
        NotifyRoute::Inbox => {
            let (before, limit) =
                requests::page_query(query_param(url, "before").as_deref(), query_param(url, "limit").as_deref())?;
            let mut path = format!("{}?limit={limit}", api::INBOX_PAGE);
            if let Some(before) = before {
                path.push_str(&format!("&before={before}"));
            }
            call(env, &inbox(&me.id)?, Method::Get, &path, None).await
        }
        NotifyRoute::InboxRead => {
            let seq = requests::read(&body(req, config).await?)?;
            let body = format!(r#"{{"seq":{seq}}}"#);
            call(env, &inbox(&me.id)?, Method::Post, api::INBOX_READ, Some(body)).await
        }
    }
}

/// The request's body as UTF-8 text, within the frame limit.
async fn body(req: &mut Request, config: &Config) -> Result<String, Error> {
    let bytes = read_body(req, config.limits.max_frame_bytes).await?;
    String::from_utf8(bytes).map_err(|_| Error::new(ErrorCode::MalformedJson, "the body is not UTF-8"))
}

/// `user`'s inbox room.
pub(crate) fn inbox(user: &UserId) -> Result<RoomId, Error> {
    inbox_of(user).ok_or_else(|| Error::invalid_field("user", "is too long to have an inbox (escaped, over 122 bytes)"))
}

pub(crate) async fn call(
    env: &Env,
    inbox: &RoomId,
    method: Method,
    path: &str,
    body: Option<String>,
) -> Result<Response, Error> {
    let headers = Headers::new();
    if body.is_some() {
        headers.set("content-type", "application/json").map_err(internal)?;
    }
    call_object(env, &inbox.object_name(), method, path, headers, body).await
}

/// The seed's answer, `true`, once the inbox took the request; its refusal as it gave it.
fn accepted(response: Response) -> Result<Response, Error> {
    if (200..=299).contains(&response.status_code()) {
        respond::json(200, "true".into()).map_err(internal)
    } else {
        Ok(response)
    }
}
