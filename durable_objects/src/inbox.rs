//! The inbox side of the room object (`inbox:{user}`; the rules are
//! `herald_core::exchange::inbox`): its internal routes, its share of the object's one alarm,
//! and the fallback jobs that alarm sends to the queue.
//!
//! | internal request | answer |
//! |---|---|
//! | `POST /notify` ([`NotifyRequest`]) | 201 `{id, seq}` or `{id, scheduled}`; 200 with `duplicate` for a key seen before |
//! | `POST /jobs/claim` ([`JobKey`]) | [`JobClaim`] |
//! | `POST /jobs/done`, `/jobs/release` ([`JobKey`]) | `{}` |
//! | `GET /inbox/contacts`, `PUT /inbox/contacts` (a contacts update) | the contacts |
//! | `POST /inbox/devices` ([`Device`]) | `true` |
//! | `GET /inbox/devices` | the devices as the user may see them |
//! | `POST /inbox/devices/remove` ([`RemoveDevice`]) | [`Deleted`](herald_core::exchange::inbox::Deleted) |
//! | `POST /inbox/devices/forget` ([`ForgetDevice`]) | [`Deleted`](herald_core::exchange::inbox::Deleted) |
//! | `POST /inbox/devices/outcome` ([`DeviceOutcome`]) | `{"kept": bool}` |
//! | `GET /inbox/page?before=&limit=` | a page |
//! | `POST /inbox/read` (`{seq}`) | `{last_read, unread}` |
//! | `POST /inbox/receipt` ([`api::ReceiptCall`]) | `{seq, state}`: how far the notification got |
//!
//! The object has one alarm for the room (sessions whose token expires) and the inbox
//! (fallbacks and scheduled sends): it is always set to the earlier of the two, and when it
//! fires both run. Jobs go to the `FALLBACK` queue after the object's state is released, in
//! `sendBatch` calls; each one the queue took is marked so, and one it did not is tried again by
//! a later alarm. A pass that could not do its work (the object did not load, storage failed)
//! sets the alarm again [`RETRY_MS`] on, so no fallback is lost to it.
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

use super::{Loaded, RoomObject};
use herald_core::error::{Error, ErrorCode};
use herald_core::exchange::contacts::ContactsUpdate;
use herald_core::exchange::directory::{self, AddRequest};
use herald_core::exchange::fanout::send_batches;
use herald_core::exchange::inbox::{DeviceOutcome, Due, ForgetDevice, RemoveDevice, RETRY_MS};
use herald_core::exchange::push::receipts::ReceiptState;
use herald_core::exchange::requests::{self, Device};
use herald_core::exchange::{Job, NotifyRequest};
use herald_core::internal::{self as api, JobClaim, JobKey};
use herald_platform::respond::{self, internal};
use herald_platform::{config, fresh_id, now_ms, post_to_object, query_param, Url};
use worker::{js_sys, Method, QueueContentType, RawMessageBuilder, Request, Response};

/// The queue binding fallback jobs go to (wrangler.toml).
const FALLBACK_QUEUE: &str = "FALLBACK";

/// Whether `path` is one of the inbox's internal routes.
pub fn serves(path: &str) -> bool {
    path == api::NOTIFY || path.starts_with("/jobs/") || path.starts_with("/inbox/")
}

fn body_of<T: serde::de::DeserializeOwned>(text: &str, what: &str) -> Result<T, Error> {
    serde_json::from_str(text).map_err(|e| Error::internal(format!("internal {what} with a bad body: {e}")))
}

impl RoomObject {
    /// One of the inbox's internal routes ([`serves`]).
    pub(super) async fn inbox_request(&self, method: Method, req: &mut Request) -> Result<Response, Error> {
        let path = req.path();
        let body = match method {
            Method::Post | Method::Put => req.text().await.map_err(internal)?,
            _ => String::new(),
        };
        let url = Url::of(req);
        let now = now_ms();
        let lists_owner =
            matches!((&method, path.as_str()), (Method::Post, api::INBOX_DEVICES) | (Method::Put, api::INBOX_CONTACTS));
        // Every route below runs on the loaded room and inbox, without an `.await`.
        let answer = self.with_inbox(|loaded| -> Result<(u16, String), Error> {
            let Loaded { room, inbox, .. } = loaded;
            let inbox = inbox.as_mut().expect("with_inbox checked");
            match (method, path.as_str()) {
                (Method::Post, api::NOTIFY) => {
                    let request: NotifyRequest = body_of(&body, "notify")?;
                    let (answer, effects) = inbox.on_notify(now, room, request, fresh_id)?;
                    let status = if answer["duplicate"] == true { 200 } else { 201 };
                    // Publishing never asks for an alarm; the inbox's is set below.
                    let _ = loaded.apply(effects);
                    Ok((status, answer.to_string()))
                }
                (Method::Post, api::JOB_CLAIM) => {
                    let key: JobKey = body_of(&body, "claim")?;
                    let claim: JobClaim = inbox.claim(now, &key.key, key.expires_at)?;
                    Ok((200, serde_json::to_string(&claim).map_err(|e| Error::internal(e.to_string()))?))
                }
                (Method::Post, api::JOB_DONE) => {
                    let key: JobKey = body_of(&body, "done")?;
                    inbox.done(now, &key.key)?;
                    inbox.keep_outcome(&key);
                    Ok((200, "{}".into()))
                }
                (Method::Post, api::JOB_RELEASE) => {
                    let key: JobKey = body_of(&body, "release")?;
                    inbox.release(&key.key, key.claim)?;
                    inbox.keep_outcome(&key);
                    Ok((200, "{}".into()))
                }
                (Method::Get, api::INBOX_CONTACTS) => Ok((200, inbox.contacts().to_json())),
                (Method::Put, api::INBOX_CONTACTS) => Ok((200, inbox.update_contacts(ContactsUpdate::parse(&body)?)?)),
                (Method::Post, api::INBOX_DEVICES) => {
                    inbox.subscribe(now, &body_of::<Device>(&body, "subscribe")?)?;
                    Ok((200, "true".into()))
                }
                (Method::Get, api::INBOX_DEVICES) => Ok((200, inbox.devices_json()?)),
                (Method::Post, api::INBOX_DEVICES_REMOVE) => {
                    let deleted = inbox.remove_device(&body_of::<RemoveDevice>(&body, "device removal")?.id)?;
                    Ok((200, serde_json::to_string(&deleted).map_err(|e| Error::internal(e.to_string()))?))
                }
                (Method::Post, api::INBOX_DEVICES_FORGET) => {
                    let deleted = inbox.forget_device(&body_of::<ForgetDevice>(&body, "device forget")?)?;
                    Ok((200, serde_json::to_string(&deleted).map_err(|e| Error::internal(e.to_string()))?))
                }
                (Method::Post, api::INBOX_DEVICES_OUTCOME) => {
                    let kept = inbox.record_outcome(&body_of::<DeviceOutcome>(&body, "device outcome")?)?;
                    Ok((200, format!(r#"{{"kept":{kept}}}"#)))
                }
                (Method::Get, api::INBOX_PAGE) => {
                    let (before, limit) = requests::page_query(
                        query_param(&url, "before").as_deref(),
                        query_param(&url, "limit").as_deref(),
                    )?;
                    Ok((200, inbox.page(before, limit)?))
                }
                (Method::Post, api::INBOX_RECEIPT) => {
                    let call: api::ReceiptCall = body_of(&body, "receipt")?;
                    let state = match call.state.as_str() {
                        "read" => ReceiptState::Read,
                        _ => ReceiptState::Delivered,
                    };
                    let effects = inbox.receipt(now, room, call.seq, state)?;
                    let reached = inbox.reached(call.seq).map_err(|e| Error::internal(e.to_string()))?;
                    let _ = loaded.apply(effects);
                    // Written out, as `json!` would (a number and a fixed word): a `Value` costs code.
                    Ok((200, format!(r#"{{"seq":{},"state":"{}"}}"#, call.seq, reached.as_str())))
                }
                (Method::Post, api::INBOX_READ) => {
                    let effects = inbox.read(now, room, requests::read(&body)?)?;
                    let answer = inbox.read_json()?;
                    let _ = loaded.apply(effects);
                    Ok((200, answer))
                }
                (method, path) => Err(Error::new(ErrorCode::NotFound, format!("no internal route {method:?} {path}"))),
            }
        })??;
        // (A next alarm that cannot be read is asked for in a while rather than not at all.)
        let alarm = self.with_inbox(|loaded| {
            loaded.inbox.as_ref().and_then(|inbox| inbox.alarm_after(now, &loaded.room, &Due::default()))
        })?;
        self.set_alarm(alarm).await;
        // A failed listing fails the call (its effect is kept; the flag is not set): the
        // client's retry of a subscribe or a contacts update is harmless, and lists them.
        if lists_owner {
            self.list_owner().await?;
        }
        let (status, body) = answer;
        respond::json(status, body).map_err(internal)
    }

    /// Puts the inbox's owner in the user directory, unless the inbox did before (then it costs
    /// one local read). Nothing for an object that is no inbox. The flag is set only once the
    /// shard took them: a failure is tried again by the next call that lists.
    pub(super) async fn list_owner(&self) -> Result<(), Error> {
        let owner = self.with_room(|loaded| match loaded.inbox.as_ref() {
            Some(inbox) => inbox.owner_listed().map(|listed| (!listed).then(|| inbox.owner().clone())),
            None => Ok(None),
        })??;
        let Some(owner) = owner else { return Ok(()) };
        let shard = directory::shard_of(&owner, config(&self.env)?.fallback.directory_shards);
        let add = AddRequest { users: vec![owner] };
        let body = serde_json::to_string(&add).map_err(|e| Error::internal(e.to_string()))?;
        post_to_object(&self.env, &directory::object_name(shard), directory::ADD, body).await?;
        self.with_inbox(|loaded| loaded.inbox.as_mut().expect("with_inbox checked").set_owner_listed())?
    }

    /// Runs `f` on the loaded object when it is an inbox; `not_found` otherwise.
    fn with_inbox<T>(&self, f: impl FnOnce(&mut Loaded) -> T) -> Result<T, Error> {
        self.with_room(|loaded| match loaded.inbox {
            Some(_) => Ok(f(loaded)),
            None => Err(Error::new(ErrorCode::NotFound, format!("room {} is not an inbox", loaded.room.id()))),
        })?
    }

    /// The inbox's share of a fired alarm (after the room's): scheduled sends go out, and the
    /// jobs of the fallbacks that fell due go to the queue. Answers the object's next alarm;
    /// `room_alarm` is the room's when this object is no inbox. An inbox that cannot be reached
    /// asks for the alarm again in [`RETRY_MS`].
    pub(super) async fn inbox_alarm(&self, now: i64, room_alarm: Option<i64>) -> Option<i64> {
        let due = self.with_room(|loaded| {
            let Loaded { room, inbox, .. } = loaded;
            let due = inbox.as_mut()?.on_alarm(now, room);
            let _ = loaded.apply(due.effects);
            for problem in &due.problems {
                worker::console_error!("inbox {}: {problem}", loaded.room.id());
            }
            for (seq, channel, why) in &due.skipped {
                worker::console_log!(
                    "inbox {}: {} of {seq} skipped: {}",
                    loaded.room.id(),
                    channel.as_str(),
                    why.as_str()
                );
            }
            Some(Due { effects: Vec::new(), ..due })
        });
        let mut due = match due {
            Ok(Some(due)) => due,
            Ok(None) => return room_alarm,
            Err(e) => {
                worker::console_error!("inbox alarm: {e}; again in {} s", RETRY_MS / 1000);
                return Some(room_alarm.map_or(now + RETRY_MS, |at| at.min(now + RETRY_MS)));
            }
        };
        let jobs = std::mem::take(&mut due.jobs);
        let mut taken = vec![false; jobs.len()];
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
        self.enqueued(&jobs, &taken);
        match self
            .with_room(|loaded| loaded.inbox.as_ref().and_then(|inbox| inbox.alarm_after(now, &loaded.room, &due)))
        {
            Ok(alarm) => alarm,
            Err(e) => {
                worker::console_error!("inbox alarm: {e}; again in {} s", RETRY_MS / 1000);
                Some(room_alarm.map_or(now + RETRY_MS, |at| at.min(now + RETRY_MS)))
            }
        }
    }

    /// Marks the `jobs` the queue took (`taken`); a step whose jobs were not all taken is queued
    /// again by a later alarm (the ledger keeps a job from being sent twice).
    fn enqueued(&self, jobs: &[Job], taken: &[bool]) {
        for (job, _) in jobs.iter().zip(taken).filter(|(_, taken)| **taken) {
            worker::console_log!("job {} queued ({} to {})", job.key, job.channel.as_str(), job.to);
        }
        let marked = self.with_inbox(|loaded| loaded.inbox.as_mut().expect("with_inbox checked").enqueued(jobs, taken));
        if let Ok(Err(e)) | Err(e) = marked {
            worker::console_error!("jobs queued but not marked (a later alarm queues them again): {e}");
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
