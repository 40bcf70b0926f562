//! The two push routes that take no user token.
//!
//! - `GET /api/v1/push/vapid-public-key` → `{"public_key": …}`: the Web Push application
//!   server key an app passes to `pushManager.subscribe`; 503 `push_unavailable` when Web Push
//!   is off.
//! - `POST /api/v1/receipts` `{receipt, state}` → `{seq, state}`: a service worker's or a
//!   notification extension's receipt for the one notification its credential names
//!   ([`receipts`]): `delivered` when shown, `read` when opened. A forged or changed credential
//!   is 401 `receipt_invalid`, an expired one 401 `receipt_expired`; with a user token too,
//!   one of another user's notifications is 403 `receipt_forbidden`. A refused receipt
//!   changes nothing.

use crate::rooms::read_body;
use herald_core::config::Config;
use herald_core::error::{Error, ErrorCode};
use herald_core::exchange::inbox_of;
use herald_core::exchange::push::receipts;
use herald_core::internal::{self as api, ReceiptCall};
use herald_platform::respond::{self, internal};
use herald_platform::{now_ms, post_to_object, Url};
use worker::{Env, Request, Response};

pub fn vapid_public_key(config: &Config) -> Result<Response, Error> {
    let web =
        config.fallback.push.web_push.as_ref().ok_or_else(|| {
            Error::new(ErrorCode::PushUnavailable, "Web Push is off on this Herald: VAPID_* is not set")
        })?;
    let key = serde_json::Value::from(web.public_key.as_str());
    respond::json(200, format!(r#"{{"public_key":{key}}}"#)).map_err(internal)
}

pub async fn receipt(req: &mut Request, env: &Env, url: &Url, config: &Config) -> Result<Response, Error> {
    let bytes = read_body(req, config.limits.max_frame_bytes).await?;
    let body = String::from_utf8(bytes).map_err(|_| Error::new(ErrorCode::MalformedJson, "the body is not UTF-8"))?;
    let (credential, state) = receipts::parse_request(&body)?;
    let secret = config.fallback.push.receipt_secret.as_ref().ok_or_else(|| {
        Error::new(ErrorCode::PushUnavailable, "push is off on this Herald: no receipt was ever issued")
    })?;
    let now = now_ms();
    let receipt = receipts::verify(secret.0.as_bytes(), &credential, now)?;
    // A receipt needs no token; one that comes with a token must be that user's own.
    if req.headers().get("authorization").ok().flatten().is_some() {
        let caller = crate::auth::authenticate(req, url, config, now)?;
        if caller.identity.user.id != receipt.user {
            return Err(Error::new(
                ErrorCode::ReceiptForbidden,
                "this receipt acknowledges another user's notification",
            ));
        }
    }
    let inbox = inbox_of(&receipt.user).ok_or_else(|| Error::internal("a receipt for a user without an inbox"))?;
    let call = ReceiptCall { seq: receipt.seq, state: state.as_str().into() };
    let call = serde_json::to_string(&call).map_err(|e| Error::internal(e.to_string()))?;
    let answer = post_to_object(env, &inbox.object_name(), api::INBOX_RECEIPT, call).await?;
    respond::json(200, answer).map_err(internal)
}
