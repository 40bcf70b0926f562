//! An inbox's alarm: scheduled sends going out, and each fallback that fell due decided
//! (`policy.rs`) into a job for the queue, a skip or a later try; then the fallback consumer's
//! calls on the job ledger (`ledger.rs`).
//!
//! A pass takes at most [`ALARM_BATCH`] due rows (scheduled sends first, then fallbacks); what
//! it leaves is still due, so the next alarm is at once. Each row is handled on its own: a row
//! that cannot be read is dropped (and reported), one whose work fails waits [`RETRY_MS`], and
//! the others are done. When storage itself fails, the inbox asks for its alarm again in
//! [`RETRY_MS`] ([`Inbox::alarm_after`]), never in the past.

use super::acks::Reached;
use super::{storage, Inbox};
use crate::error::Error;
use crate::exchange::policy::{self, Decision, Moment, Skip};
use crate::exchange::push::outbound;
use crate::exchange::requests::Device;
use crate::exchange::wire::{JobClaim, JobKey};
use crate::exchange::{Channel, Job, NotifyRequest, PushContent, Urgency, TTL_MAX_SECONDS};
use crate::ids::User;
use crate::room::{Effect, Log, Room};
use crate::store::{Sql, SqlValue, StoreError};
use serde_json::{json, Value};

/// A job the alarm queued is tried again this long after, unless the queue took it (a failed
/// queue send must not lose a fallback; a duplicate is stopped by the ledger).
pub const REQUEUE_MS: i64 = 30_000;
/// How long a row whose work failed waits, and how soon an alarm that met a storage failure
/// comes again.
pub const RETRY_MS: i64 = 30_000;
/// Due rows one alarm pass takes on: its queue sends and its work stay bounded.
pub const ALARM_BATCH: usize = 100;

/// What an alarm asks of the shell, in order: apply `effects` (scheduled notifications going
/// out), then send `jobs` to the fallback queue, calling [`Inbox::enqueued`] for each the queue
/// took; then set the alarm to [`Inbox::alarm_after`].
#[derive(Debug, Default)]
pub struct Due {
    pub effects: Vec<Effect>,
    pub jobs: Vec<Job>,
    /// Fallbacks decided against, and why (for the log and the tests).
    pub skipped: Vec<(u64, Channel, Skip)>,
    /// What failed, for the log. A row that could not be read was dropped; a row whose work
    /// failed waits [`RETRY_MS`]; a query that failed is tried again by the next alarm, in
    /// [`RETRY_MS`]. Everything else was done.
    pub problems: Vec<String>,
    /// A storage failure left due work undone: the alarm must come again (in [`RETRY_MS`]).
    pub retry: bool,
}

impl Due {
    /// The rowid of `row`, a row of `what` read by a pass (its first column); `None`, the
    /// problem noted and the alarm asked to come again, when it has none.
    pub(super) fn rowid(&mut self, row: &[SqlValue], what: &str) -> Option<SqlValue> {
        let rowid = row.first().and_then(SqlValue::int).map(SqlValue::Int);
        if rowid.is_none() {
            self.problems.push(format!("{what} without a rowid"));
            self.retry = true;
        }
        rowid
    }
}

impl<S: Sql + Clone> Inbox<S> {
    /// The alarm fired at `now`: scheduled sends that are due go out, then each fallback that is
    /// due is decided. See [`Due`] for what the shell does with the answer.
    pub fn on_alarm<L: Log>(&mut self, now: i64, room: &mut Room<L>) -> Due {
        let mut due = Due::default();
        let mut budget = ALARM_BATCH;
        if let Err(e) = self.send_scheduled(now, room, &mut due, &mut budget) {
            due.problems.push(format!("scheduled sends: {e}"));
            due.retry = true;
        }
        if let Err(e) = self.escalate(now, room, &mut due, &mut budget) {
            due.problems.push(format!("fallbacks: {e}"));
            due.retry = true;
        }
        if let Err(e) = self.tell_due(now, &mut due, budget) {
            due.problems.push(format!("reads to tell: {e}"));
            due.retry = true;
        }
        due
    }

    /// When the object's alarm must fire after this pass: the room's or the inbox's next work,
    /// whichever is first; when the pass met a storage failure (or the next work cannot be
    /// read), no sooner than [`RETRY_MS`] from `now` for the inbox's part, so a failure cannot
    /// make the alarm fire again and again.
    pub fn alarm_after<L: Log>(&self, now: i64, room: &Room<L>, due: &Due) -> Option<i64> {
        let inbox = match self.next_alarm() {
            Ok(next) if due.retry => Some(next.map_or(now + RETRY_MS, |at| at.max(now + RETRY_MS))),
            Ok(next) => next,
            Err(_) => Some(now + RETRY_MS),
        };
        match (room.alarm_at(), inbox) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn send_scheduled<L: Log>(
        &mut self,
        now: i64,
        room: &mut Room<L>,
        due: &mut Due,
        budget: &mut usize,
    ) -> Result<(), StoreError> {
        let rows = self.sql.exec(
            "SELECT rowid, sender, id, request FROM inbox_scheduled WHERE due <= ? ORDER BY due, sender, id LIMIT ?",
            &[SqlValue::Int(now), SqlValue::Int(*budget as i64)],
        )?;
        *budget -= rows.len().min(*budget);
        for row in rows {
            let Some(rowid) = due.rowid(&row, "a scheduled send") else { continue };
            let rowid = [rowid];
            let request = match row.as_slice() {
                [_, SqlValue::Text(_), SqlValue::Text(id), SqlValue::Text(request)] => {
                    serde_json::from_str::<NotifyRequest>(request).map(|r| (id.clone(), r)).map_err(|e| e.to_string())
                }
                _ => Err("the row has the wrong columns".into()),
            };
            let (id, request) = match request {
                Ok(found) => found,
                Err(e) => {
                    // No later alarm could read it either: it goes, and the others go on.
                    due.problems.push(format!("a scheduled send that cannot be read was dropped: {e}"));
                    self.sql.exec("DELETE FROM inbox_scheduled WHERE rowid = ?", &rowid)?;
                    continue;
                }
            };
            match self.deliver(now, room, request, id.clone()) {
                Ok((_, effects)) => {
                    due.effects.extend(effects);
                    self.sql.exec("DELETE FROM inbox_scheduled WHERE rowid = ?", &rowid)?;
                }
                // Sent again later: a publish that went through is found by its key then.
                Err(e) => {
                    due.problems.push(format!("scheduled send {id:?} not sent, tried again later: {e}"));
                    self.sql.exec(
                        "UPDATE inbox_scheduled SET due = ? WHERE rowid = ?",
                        &[SqlValue::Int(now + RETRY_MS), rowid[0].clone()],
                    )?;
                }
            }
        }
        Ok(())
    }

    fn escalate<L: Log>(
        &mut self,
        now: i64,
        room: &Room<L>,
        due: &mut Due,
        budget: &mut usize,
    ) -> Result<(), StoreError> {
        let rows = self.sql.exec(
            "SELECT d.rowid, d.seq, d.channel, n.urgency, n.expires_at, n.note FROM inbox_due d
             LEFT JOIN inbox_notes n ON n.seq = d.seq WHERE d.due <= ? ORDER BY d.due, d.seq, d.channel LIMIT ?",
            &[SqlValue::Int(now), SqlValue::Int(*budget as i64)],
        )?;
        *budget -= rows.len().min(*budget);
        let online = room.presence().iter().any(|user| user.id == self.owner);
        for row in rows {
            let Some(rowid) = due.rowid(&row, "a due fallback") else { continue };
            let forget =
                |inbox: &Self| inbox.sql.exec("DELETE FROM inbox_due WHERE rowid = ?", std::slice::from_ref(&rowid));
            let (Some(seq), Some(channel)) = (row[1].int(), row[2].text().and_then(Channel::parse)) else {
                due.problems.push(format!("a due fallback that cannot be read was dropped: {:?}", &row[1..3]));
                forget(self)?;
                continue;
            };
            let seq = seq as u64;
            let note = row[5].text().and_then(|n| serde_json::from_str::<Value>(n).ok());
            let urgency = row[3].int().and_then(|n| Urgency::parse(&json!(n)).ok());
            let (Some(note), Some(urgency)) = (note, urgency) else {
                // Its notification is past retention (or its note cannot be read): nothing
                // left to send.
                forget(self)?;
                continue;
            };
            let expires_at = row[4].int();
            let reached = match self.reached(seq) {
                Ok(reached) => reached,
                Err(e) => {
                    due.problems.push(format!("the {} step of {seq}: {e}", channel.as_str()));
                    due.retry = true;
                    continue;
                }
            };
            // The devices a push goes to; for the other steps, only whether there are any (a
            // step quiet hours hold back waits for the push to go first, `after_quiet_hours`).
            let devices = match channel {
                Channel::Push => self.push_devices().map(|list| (!list.is_empty(), list)),
                _ => self.has_devices().map(|any| (any, Vec::new())),
            };
            let Ok((has_devices, devices)) = devices else {
                due.problems.push(format!("the {} step of {seq}: the devices cannot be read", channel.as_str()));
                due.retry = true;
                continue;
            };
            let moment = Moment {
                now,
                online,
                delivered: reached >= Reached::Delivered,
                read: reached == Reached::Read,
                expires_at,
                devices: has_devices,
            };
            let decided = match policy::decide(urgency, channel, &moment, &self.contacts) {
                Decision::Send { to } => {
                    let jobs = match channel {
                        Channel::Push => devices
                            .into_iter()
                            .map(|(device, added)| self.push_job(now, seq, device, added, &note, urgency, expires_at))
                            .collect(),
                        _ => vec![self.job(seq, channel, to, &note, expires_at)],
                    };
                    let queued = jobs.iter().try_for_each(|job| self.ledger.queued(&job.key, seq)).and_then(|()| {
                        self.sql.exec(
                            "UPDATE inbox_due SET due = ? WHERE rowid = ?",
                            &[SqlValue::Int(now + REQUEUE_MS), rowid.clone()],
                        )
                    });
                    queued.map(|_| due.jobs.extend(jobs))
                }
                Decision::Skip(why) => forget(self).map(|_| due.skipped.push((seq, channel, why))),
                Decision::Defer { until } => {
                    let until = policy::after_quiet_hours(urgency, channel, until, moment.devices, &self.deadlines);
                    self.sql
                        .exec("UPDATE inbox_due SET due = ? WHERE rowid = ?", &[SqlValue::Int(until), rowid.clone()])
                        .map(drop)
                }
            };
            if let Err(e) = decided {
                due.problems.push(format!("the {} fallback of {seq}: {e}", channel.as_str()));
                due.retry = true;
            }
        }
        Ok(())
    }

    /// The job for notification `seq` through `channel`: the email's subject is the
    /// notification's title, or names the sender; its text (and an SMS's) is the notification's
    /// `msg`, and an email's ends with the notification's link.
    fn job(&self, seq: u64, channel: Channel, to: String, note: &Value, expires_at: Option<i64>) -> Job {
        let id = note["id"].as_str().unwrap_or_default().to_owned();
        // Through the text, not `from_value`: a `User` is read from JSON text everywhere else, and
        // reading one from a `Value` too would compile a second reader into the wasm.
        let from: Option<User> = serde_json::from_str(&note["from"].to_string()).ok();
        let sender = from.map(|u| u.name.unwrap_or_else(|| u.id.as_str().to_owned())).unwrap_or_default();
        let mut text = note["msg"].as_str().unwrap_or_default().to_owned();
        if let (Channel::Email, Some(url)) = (channel, note["url"].as_str()) {
            text = format!("{text}\n\n{url}");
        }
        Job {
            // The seq, not the id, names the notification: ids are keys of their senders, and two
            // senders may use the same one.
            key: format!("{}/{}/{}", self.owner, seq, channel.as_str()),
            user: self.owner.clone(),
            channel,
            to,
            seq,
            notification: id,
            subject: note["title"].as_str().map_or_else(|| format!("Notification from {sender}"), str::to_owned),
            text,
            expires_at,
            push: None,
        }
    }

    /// The push of notification `seq` to one device, subscribed at `added`: keyed by the
    /// device, so each device's push is sent at most once, with a receipt credential good
    /// until the notification's ttl (or [`TTL_MAX_SECONDS`] when it has none).
    #[allow(clippy::too_many_arguments)]
    fn push_job(
        &self,
        now: i64,
        seq: u64,
        device: Device,
        added: i64,
        note: &Value,
        urgency: Urgency,
        expires_at: Option<i64>,
    ) -> Job {
        let mut job = self.job(seq, Channel::Push, device.public_id(), note, expires_at);
        job.key = format!("{}/{}", job.key, job.to);
        let until = expires_at.unwrap_or(now.saturating_add(TTL_MAX_SECONDS * 1000));
        job.push = Some(PushContent {
            device,
            subscribed_at: added,
            title: note["title"].as_str().map(str::to_owned),
            url: note["url"].as_str().map(str::to_owned),
            data: Some(note["data"].clone()).filter(|d| !d.is_null()),
            urgency,
            receipt: outbound::receipt(&self.deadlines.push, &self.owner, seq, until),
            last_read: self.read,
            told: None,
        });
        job
    }

    /// The devices a push goes to, each with when it was subscribed.
    pub(super) fn push_devices(&self) -> Result<Vec<(Device, i64)>, StoreError> {
        let rows = self.sql.exec("SELECT device, added FROM inbox_devices ORDER BY added DESC, id", &[])?;
        Ok(rows
            .iter()
            .filter_map(|r| Some((serde_json::from_str(r.first()?.text()?).ok()?, r.get(1)?.int()?)))
            .collect())
    }

    /// The push device with public id `id`, with when it was subscribed, while it is the user's.
    pub(super) fn push_device(&self, id: &str) -> Result<Option<(Device, i64)>, StoreError> {
        Ok(self.push_devices()?.into_iter().find(|(device, _)| device.public_id() == id))
    }

    /// The queue took those of `jobs` that `taken` says: a step is done once every job it made
    /// was taken (a push makes one per device); the rest are queued again by a later alarm.
    pub fn enqueued(&mut self, jobs: &[Job], taken: &[bool]) -> Result<(), Error> {
        let mut steps: Vec<(u64, Channel, bool)> = Vec::new();
        for (job, &taken) in jobs.iter().zip(taken) {
            // A read told to a phone is no step of the ladder: its own row ends (`told.rs`).
            if job.push.as_ref().is_some_and(|push| push.told.is_some()) {
                if taken {
                    self.told_enqueued(job).map_err(storage)?;
                }
                continue;
            }
            match steps.iter_mut().find(|(seq, channel, _)| (*seq, *channel) == (job.seq, job.channel)) {
                Some(step) => step.2 &= taken,
                None => steps.push((job.seq, job.channel, taken)),
            }
        }
        for (seq, channel, _) in steps.into_iter().filter(|step| step.2) {
            let where_ = [SqlValue::Int(seq as i64), SqlValue::Text(channel.as_str().into())];
            self.sql.exec("DELETE FROM inbox_due WHERE seq = ? AND channel = ?", &where_).map_err(storage)?;
        }
        Ok(())
    }

    /// The fallback consumer asks whether to send job `key` now, which is worth sending until
    /// `expires_at` (`ledger.rs`). A job is no longer needed once its notification was read; a
    /// push, once a device acknowledged it.
    ///
    /// A push's key ends with its device's public id: once that device is no longer the
    /// user's (removed, logged out, or subscribed since by another user), its job is not sent.
    pub fn claim(&self, now: i64, key: &str, expires_at: Option<i64>) -> Result<JobClaim, Error> {
        // A push, or a read told to a phone (`told.rs`), ends with its device's public id.
        let job = self.device_job(key);
        let gone = match job {
            Some((_, _, id)) => self.push_device(id).map_err(storage)?.is_none(),
            None => false,
        };
        let tells = job.is_some_and(|(_, kind, _)| kind != "push");
        let settled = |seq: u64| {
            let reached = self.reached(seq).unwrap_or(Reached::Sent);
            // A read is told whatever the notification reached: it is about the read.
            gone || (!tells && (reached == Reached::Read || (job.is_some() && reached == Reached::Delivered)))
        };
        self.ledger.claim(now, key, settled, expires_at).map(JobClaim::from).map_err(storage)
    }

    /// A push job's report carries its provider's answer: kept with its device for support. A
    /// device deleted since, or an outcome that cannot be kept, changes nothing else.
    pub fn keep_outcome(&mut self, key: &JobKey) {
        if let Some(outcome) = &key.outcome {
            let _ = self.record_outcome(outcome);
        }
    }

    /// The provider took job `key` (or may have), at `now`. A push that was on its way while its
    /// notification was read is told to its phone now (`told.rs`).
    pub fn done(&self, now: i64, key: &str) -> Result<(), Error> {
        self.ledger.done(key).map_err(storage)?;
        self.tell_late_push(now, key).map_err(storage)
    }

    /// The attempt holding job `key` with claim number `claim` failed.
    pub fn release(&self, key: &str, claim: Option<u64>) -> Result<(), Error> {
        self.ledger.release(key, claim).map_err(storage)
    }
}
