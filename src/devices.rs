//! The caller's push devices (docs/notifications.md, "Devices"): subscribe, list, remove, and
//! unsubscribe on logout. A device lives in its user's inbox; the device index
//! ([`herald_core::exchange::device_owners`], in the directory's shards) knows which user holds
//! it, so that a device subscribed by another user leaves the previous one.
//!
//! | call | what it does |
//! |---|---|
//! | `POST /api/v1/native/subscribe` | inbox `POST /inbox/devices`, index claim, previous holder's inbox `POST /inbox/devices/remove` → `true` |
//! | `DELETE /api/v1/native/subscribe` (the same body) | inbox `POST /inbox/devices/remove`, index release → 204, there or not |
//! | `GET /api/v1/native/devices` | inbox `GET /inbox/devices` → the list |
//! | `DELETE /api/v1/native/devices/{id}` | inbox `POST /inbox/devices/remove`, index release → 204, or 404 |
//!
//! **Order and failures of a subscribe.** (1) The caller's inbox stores the device (and puts the
//! caller in the directory, once). (2) The index records the caller as its holder and answers
//! who held it before. (3) That user's inbox forgets it (by public id; forgetting what is not
//! there changes nothing). When (2) or (3) fails, the subscribe answers 500 `internal`, saying
//! to retry: the device may then be with both users until the client retries, which is safe —
//! (1) replaces the device, and the index answers the previous holder again to a claim by the
//! holder (it keeps them), so (3) is done again. A client that never retries leaves it with both
//! until the phone subscribes again (apps do at each start). Two users subscribing the same
//! device at the same instant may each make the other's inbox forget it: it may then end with
//! neither — never silently with both — until it subscribes again.
//!
//! **Removals.** The device goes from the caller's inbox first; then the index lets go of it if
//! it still names the caller. A failed release is only logged: an index entry naming a user
//! who no longer has the device costs one forget of nothing when another user subscribes it.

use crate::notify::{call, inbox};
use herald_core::error::{Error, ErrorCode};
use herald_core::exchange::device::Device;
use herald_core::exchange::device_owners::{self, shard_of_device, ClaimAnswer, DeviceClaim};
use herald_core::exchange::directory::object_name;
use herald_core::exchange::inbox::{Deleted, RemoveDevice};
use herald_core::ids::UserId;
use herald_core::internal as api;
use herald_platform::post_to_object;
use herald_platform::respond::{self, internal};
use worker::{Env, Method, Response};

/// `POST /api/v1/native/subscribe`: `device` is the caller's (`me`) from now on, and no other
/// user's.
pub async fn subscribe(env: &Env, shards: u32, me: &UserId, device: &Device) -> Result<Response, Error> {
    let stored = serde_json::to_string(device).map_err(|e| Error::internal(e.to_string()))?;
    let response = call(env, &inbox(me)?, Method::Post, api::INBOX_DEVICES, Some(stored)).await?;
    if !(200..=299).contains(&response.status_code()) {
        return Ok(response);
    }
    let public_id = device.public_id();
    let retry = |e: Error| {
        Error::internal(format!(
            "the device is stored, but another user who had it may still have it; subscribe again: {}",
            e.message
        ))
    };
    let claim = DeviceClaim { device: public_id.clone(), user: me.clone() };
    let answer = index(env, shards, device_owners::CLAIM, &claim).await.map_err(retry)?;
    let previous: ClaimAnswer =
        serde_json::from_str(&answer).map_err(|e| retry(Error::internal(format!("a claim's answer: {e}"))))?;
    if let Some(previous) = previous.previous.filter(|previous| previous != me) {
        remove(env, &previous, &public_id).await.map_err(retry)?;
    }
    respond::json(200, "true".into()).map_err(internal)
}

/// `DELETE /api/v1/native/subscribe` (logout on a phone): 204 whether or not the caller had it,
/// so a logout may be repeated.
pub async fn unsubscribe(env: &Env, shards: u32, me: &UserId, device: &Device) -> Result<Response, Error> {
    let public_id = device.public_id();
    if remove(env, me, &public_id).await?.deleted {
        release(env, shards, me, public_id).await;
    }
    no_content()
}

/// `DELETE /api/v1/native/devices/{id}`: 204, or 404 `not_found` when the caller has no such
/// device.
pub async fn remove_by_id(env: &Env, shards: u32, me: &UserId, public_id: String) -> Result<Response, Error> {
    if !remove(env, me, &public_id).await?.deleted {
        return Err(Error::new(ErrorCode::NotFound, "you have no device with this id: see GET /api/v1/native/devices"));
    }
    release(env, shards, me, public_id).await;
    no_content()
}

/// `GET /api/v1/native/devices`: the caller's devices, as their inbox lists them.
pub async fn list(env: &Env, me: &UserId) -> Result<Response, Error> {
    call(env, &inbox(me)?, Method::Get, api::INBOX_DEVICES, None).await
}

/// `user`'s inbox deletes the device with public id `public_id`.
async fn remove(env: &Env, user: &UserId, public_id: &str) -> Result<Deleted, Error> {
    let body = serde_json::to_string(&RemoveDevice { id: public_id.to_owned() })
        .map_err(|e| Error::internal(e.to_string()))?;
    let answer = post_to_object(env, &inbox(user)?.object_name(), api::INBOX_DEVICES_REMOVE, body).await?;
    serde_json::from_str(&answer).map_err(|e| Error::internal(format!("an inbox answered a removal with {e}")))
}

/// The index lets go of the device if it names `me` (logged when it cannot be asked).
async fn release(env: &Env, shards: u32, me: &UserId, public_id: String) {
    let claim = DeviceClaim { device: public_id, user: me.clone() };
    if let Err(e) = index(env, shards, device_owners::RELEASE, &claim).await {
        worker::console_error!(
            "device {} not released from the index (harmless, see src/devices.rs): {e}",
            claim.device
        );
    }
}

/// A call to the index's shard of the device.
async fn index(env: &Env, shards: u32, path: &str, claim: &DeviceClaim) -> Result<String, Error> {
    let body = serde_json::to_string(claim).map_err(|e| Error::internal(e.to_string()))?;
    post_to_object(env, &object_name(shard_of_device(&claim.device, shards)), path, body).await
}

fn no_content() -> Result<Response, Error> {
    Ok(Response::empty().map_err(internal)?.with_status(204))
}
