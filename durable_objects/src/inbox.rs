//! The inbox side of the room object (`inbox:{user}`): its internal routes go to the core's host
//! ([`herald_core::host::InboxCall`] lists them), and the fallback jobs its alarm decides go to
//! the queue.
//!
//! Jobs go to the `FALLBACK` queue after the object's state is released, in `sendBatch` calls;
//! each one the queue took is marked so, and one it did not is tried again by a later alarm. A
//! pass that could not do its work (the object did not load, storage failed) sets the alarm
//! again [`RETRY_MS`] on, so no fallback is lost to it.
//!
//! Every user of the platform is reachable by a broadcast: the inbox puts its owner in the
//! directory the first time a device is subscribed, contacts are set, or a connection joins it
//! ([`RoomObject::list_owner`]), and keeps a flag once it did, so later calls cost one local read.
//! It is done here rather than at the Worker's edge because every way into an inbox ends here —
//! the native websocket, Socket.IO sessions joining from their homes (any dialect), the REST
//! calls — and only the object can keep the flag: the Worker holds no state, and would have to
//! call the directory on every connection.
//!
//! A child module of `room`: it works on the object's loaded state like the room's own
//! handlers do.

use super::RoomObject;
use herald_core::error::Error;
use herald_core::exchange::directory::{self, AddRequest};
use herald_core::exchange::fanout::send_batches;
use herald_core::exchange::inbox::{Due, RETRY_MS};
use herald_core::host::InboxCall;
use herald_platform::respond::{self, internal};
use herald_platform::{config, now_ms, post_to_object, query_param, Url};
use worker::{js_sys, Method, QueueContentType, RawMessageBuilder, Request, Response};

/// The queue binding fallback jobs go to (wrangler.toml).
const FALLBACK_QUEUE: &str = "FALLBACK";

impl RoomObject {
    /// One of the inbox's internal routes ([`InboxCall::serves`]).
    pub(super) async fn inbox_request(&self, method: Method, req: &mut Request) -> Result<Response, Error> {
        let path = req.path();
        let body = match method {
            Method::Post | Method::Put => req.text().await.map_err(internal)?,
            _ => String::new(),
        };
        let url = Url::of(req);
        let (before, limit) = (query_param(&url, "before"), query_param(&url, "limit"));
        let call = InboxCall {
            method: method.as_ref(),
            path: &path,
            body: &body,
            before: before.as_deref(),
            limit: limit.as_deref(),
        };
        let now = now_ms();
        let (status, answer) = self.with_room(|loaded| loaded.host.inbox_call(now, &call))??;
        self.set_alarm().await;
        // A failed listing fails the call (its effect is kept; the flag is not set): the
        // client's retry of a subscribe or a contacts update is harmless, and lists them.
        if call.lists_owner() {
            self.list_owner().await?;
        }
        respond::json(status, answer).map_err(internal)
    }

    /// Puts the inbox's owner in the user directory, unless the inbox did before (then it costs
    /// one local read). Nothing for an object that is no inbox. The flag is set only once the
    /// shard took them: a failure is tried again by the next call that lists.
    pub(super) async fn list_owner(&self) -> Result<(), Error> {
        let Some(owner) = self.with_room(|loaded| loaded.host.owner_to_list())?? else { return Ok(()) };
        let shard = directory::shard_of(&owner, config(&self.env)?.fallback.directory_shards);
        let add = AddRequest { users: vec![owner] };
        let body = serde_json::to_string(&add).map_err(|e| Error::internal(e.to_string()))?;
        post_to_object(&self.env, &directory::object_name(shard), directory::ADD, body).await?;
        self.with_room(|loaded| loaded.host.owner_listed())?
    }

    /// The rest of a fired alarm, once the host has run it (`due`): the jobs of the fallbacks
    /// that fell due go to the queue. Answers the object's next alarm; one that cannot be read
    /// is asked for again in [`RETRY_MS`].
    pub(super) async fn inbox_alarm(&self, now: i64, mut due: Due) -> Option<i64> {
        let jobs = std::mem::take(&mut due.jobs);
        let mut taken = vec![false; jobs.len()];
        if !jobs.is_empty() {
            match send_batches(&jobs) {
                Ok(batches) => {
                    let mut start = 0;
                    for batch in batches {
                        let end = start + batch.len();
                        match self.enqueue(&batch).await {
                            Ok(()) => taken[start..end].fill(true),
                            Err(e) => worker::console_error!("{} jobs not queued; tried again later: {e}", batch.len()),
                        }
                        start = end;
                    }
                }
                Err(e) => worker::console_error!("jobs not queued; tried again later: {e}"),
            }
            for (job, _) in jobs.iter().zip(&taken).filter(|(_, taken)| **taken) {
                worker::console_log!("job {} queued ({} to {})", job.key, job.channel.as_str(), job.to);
            }
        }
        let next = self.with_room(|loaded| {
            loaded.host.on_enqueued(&jobs, &taken);
            loaded.host.after_alarm(now, &due)
        });
        match next {
            Ok(next) => next,
            Err(e) => {
                worker::console_error!("inbox alarm: {e}; again in {} s", RETRY_MS / 1000);
                Some(now + RETRY_MS)
            }
        }
    }

    /// One `sendBatch` of jobs (JSON texts, [`send_batches`]) to the fallback queue.
    async fn enqueue(&self, batch: &[String]) -> Result<(), Error> {
        let queue = self.env.queue(FALLBACK_QUEUE).map_err(internal)?;
        let messages = batch
            .iter()
            .map(|json| {
                let body = js_sys::JSON::parse(json).map_err(|e| Error::internal(format!("{e:?}")))?;
                Ok(RawMessageBuilder::new(body).build_with_content_type(QueueContentType::Json))
            })
            .collect::<Result<Vec<_>, Error>>()?;
        queue.send_raw_batch(messages).await.map_err(internal)
    }
}
