//! `/v1/users/{user}/…`: calls about a user rather than a room.

use crate::auth::Caller;
use crate::rooms::read_body;
use herald_core::config::Config;
use herald_core::dialect::threedrepo::logout_request;
use herald_core::error::{Error, ErrorCode};
use herald_core::ids::UserId;
use herald_core::internal as api;
use herald_platform::call_object;
use herald_platform::respond::{self, internal};
use worker::{Env, Headers, Method, Request, Response};

/// `POST /v1/users/{user}/logout` with `{"reason"?}`, by an admin: every 3drepo session of the
/// user is sent `loggedOut {reason}` and closed, through the user's control room.
pub async fn logout(
    env: &Env,
    req: &mut Request,
    caller: &Caller,
    user: UserId,
    config: &Config,
) -> Result<Response, Error> {
    caller.identity.require_admin()?;
    let bytes = read_body(req, config.limits.max_frame_bytes).await?;
    let body = String::from_utf8(bytes).map_err(|_| Error::new(ErrorCode::MalformedJson, "the body is not UTF-8"))?;
    let logout = logout_request(&user, &caller.identity.user, &body)?;
    if let Some(room) = &logout.room {
        let body = serde_json::to_string(&logout.publish).map_err(|e| Error::internal(e.to_string()))?;
        let response =
            call_object(env, &room.object_name(), Method::Post, api::PUBLISH, Headers::new(), Some(body)).await?;
        if !(200..=299).contains(&response.status_code()) {
            // The room's own coded error, as it gave it.
            return Ok(response);
        }
    }
    respond::json(200, logout.answer).map_err(internal)
}
