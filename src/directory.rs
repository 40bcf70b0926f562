//! The Worker's calls to the user directory's shards ([`herald_core::exchange::directory`]):
//! make users known, read a shard's pages.
//!
//! A user is known once Herald has seen them as the recipient of a notification: the
//! exchange's REST handlers call [`register`] with the users they address before asking their
//! inboxes (multicast; `send` is to do the same for its recipient). Registering first means a
//! failed registration fails the request before anyone is notified, so a retry is clean.

use futures_util::StreamExt;
use herald_core::error::Error;
use herald_core::exchange::directory::{by_shard, object_name, AddRequest, Page, PageQuery, ADD};
use herald_core::exchange::fanout::CALLS_IN_FLIGHT;
use herald_core::ids::UserId;
use herald_platform::respond::internal;
use herald_platform::{call_object, post_to_object};
use worker::{Env, Headers, Method};

/// Makes `users` known to the directory of `shards` shards: one call per shard they hash to.
pub async fn register(env: &Env, shards: u32, users: &[UserId]) -> Result<(), Error> {
    let calls = by_shard(users, shards).into_iter().map(|(shard, users)| async move {
        let body = serde_json::to_string(&AddRequest { users }).map_err(|e| Error::internal(e.to_string()))?;
        post_to_object(env, &object_name(shard), ADD, body).await.map(drop)
    });
    let results: Vec<Result<(), Error>> =
        futures_util::stream::iter(calls).buffer_unordered(CALLS_IN_FLIGHT).collect().await;
    results.into_iter().collect()
}

/// The page `query` asks of shard `shard`.
pub async fn page(env: &Env, shard: u32, query: &PageQuery) -> Result<Page, Error> {
    let name = object_name(shard);
    let mut response = call_object(env, &name, Method::Get, &query.path(), Headers::new(), None).await?;
    let text = response.text().await.map_err(internal)?;
    match response.status_code() {
        200 => serde_json::from_str(&text).map_err(|e| Error::internal(format!("{name} answered a page with {e}"))),
        status => Err(Error::internal(format!("{name} answered a page with {status}: {text}"))),
    }
}
