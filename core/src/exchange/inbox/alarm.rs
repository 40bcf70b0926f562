//! An inbox's alarm: scheduled sends going out, and each fallback that fell due decided
//! (`policy.rs`) into a job for the queue, a skip or a later try; then the fallback consumer's
//! calls on the job ledger (`ledger.rs`).

use super::{int, storage, text, Inbox};
use crate::error::Error;
use crate::exchange::policy::{self, Decision, Moment, Skip};
use crate::exchange::{Channel, Job, NotifyRequest, Urgency};
use crate::ids::User;
use crate::internal::JobClaim;
use crate::room::{Effect, Log, Room, Sql, SqlValue, StoreError};
use serde_json::{json, Value};

/// A job the alarm queued is tried again this long after, unless the queue took it (a failed
/// queue send must not lose a fallback; a duplicate is stopped by the ledger).
pub const REQUEUE_MS: i64 = 30_000;

/// What an alarm asks of the shell, in order: apply `effects` (scheduled notifications going
/// out), then send `jobs` to the fallback queue, calling [`Inbox::enqueued`] for each the queue
/// took.
#[derive(Debug, Default)]
pub struct Due {
    pub effects: Vec<Effect>,
    pub jobs: Vec<Job>,
    /// Fallbacks decided against, and why (for the log and the tests).
    pub skipped: Vec<(u64, Channel, Skip)>,
    /// What failed; the rest was done, and what failed stays due.
    pub problems: Vec<String>,
}

impl<S: Sql + Clone> Inbox<S> {
    /// The alarm fired at `now`: scheduled sends that are due go out, then each fallback that is
    /// due is decided. See [`Due`] for what the shell does with the answer.
    pub fn on_alarm<L: Log>(&mut self, now: i64, room: &mut Room<L>) -> Due {
        let mut due = Due::default();
        if let Err(e) = self.send_scheduled(now, room, &mut due) {
            due.problems.push(format!("scheduled sends: {e}"));
        }
        if let Err(e) = self.escalate(now, room, &mut due) {
            due.problems.push(format!("fallbacks: {e}"));
        }
        due
    }

    fn send_scheduled<L: Log>(&mut self, now: i64, room: &mut Room<L>, due: &mut Due) -> Result<(), Error> {
        let rows = self
            .sql
            .exec(
                "SELECT sender, id, request FROM inbox_scheduled WHERE due <= ? ORDER BY due, sender, id",
                &[SqlValue::Int(now)],
            )
            .map_err(storage)?;
        for row in rows {
            let [SqlValue::Text(sender), SqlValue::Text(id), SqlValue::Text(request)] = row.as_slice() else {
                return Err(storage(StoreError("an inbox_scheduled row has the wrong columns".into())));
            };
            let request: NotifyRequest =
                serde_json::from_str(request).map_err(|e| Error::internal(format!("a stored send: {e}")))?;
            let (_, effects) = self.deliver(now, room, request, id.clone())?;
            due.effects.extend(effects);
            let key = [SqlValue::Text(sender.clone()), SqlValue::Text(id.clone())];
            self.sql.exec("DELETE FROM inbox_scheduled WHERE sender = ? AND id = ?", &key).map_err(storage)?;
        }
        Ok(())
    }

    fn escalate<L: Log>(&mut self, now: i64, room: &Room<L>, due: &mut Due) -> Result<(), Error> {
        let rows = self
            .sql
            .exec(
                "SELECT d.seq, d.channel, n.urgency, n.expires_at, n.note FROM inbox_due d
                 LEFT JOIN inbox_notes n ON n.seq = d.seq WHERE d.due <= ? ORDER BY d.due, d.seq, d.channel",
                &[SqlValue::Int(now)],
            )
            .map_err(storage)?;
        let online = room.presence().iter().any(|user| user.id == self.owner);
        for row in rows {
            let (Some(seq), Some(channel)) = (int(&row[0]), text(&row[1]).and_then(Channel::parse)) else {
                return Err(storage(StoreError("an inbox_due row has the wrong columns".into())));
            };
            let seq = seq as u64;
            let where_ = [SqlValue::Int(seq as i64), SqlValue::Text(channel.as_str().into())];
            let note = text(&row[4]).and_then(|n| serde_json::from_str::<Value>(n).ok());
            let urgency = int(&row[2]).and_then(|n| Urgency::parse(&json!(n)).ok());
            let (Some(note), Some(urgency)) = (note, urgency) else {
                // Its notification is past retention: nothing left to send.
                self.sql.exec("DELETE FROM inbox_due WHERE seq = ? AND channel = ?", &where_).map_err(storage)?;
                continue;
            };
            let moment = Moment {
                now,
                online,
                delivered: seq <= self.delivered,
                read: seq <= self.read,
                expires_at: int(&row[3]),
            };
            match policy::decide(urgency, channel, &moment, &self.contacts) {
                Decision::Send { to } => {
                    let job = self.job(seq, channel, to, &note, int(&row[3]));
                    self.ledger.queued(&job.key, seq).map_err(storage)?;
                    let retry = [SqlValue::Int(now + REQUEUE_MS), where_[0].clone(), where_[1].clone()];
                    self.sql
                        .exec("UPDATE inbox_due SET due = ? WHERE seq = ? AND channel = ?", &retry)
                        .map_err(storage)?;
                    due.jobs.push(job);
                }
                Decision::Skip(why) => {
                    self.sql.exec("DELETE FROM inbox_due WHERE seq = ? AND channel = ?", &where_).map_err(storage)?;
                    due.skipped.push((seq, channel, why));
                }
                Decision::Defer { until } => {
                    let later = [SqlValue::Int(until), where_[0].clone(), where_[1].clone()];
                    self.sql
                        .exec("UPDATE inbox_due SET due = ? WHERE seq = ? AND channel = ?", &later)
                        .map_err(storage)?;
                }
            }
        }
        Ok(())
    }

    /// The job for notification `seq` through `channel`: the email's subject names the sender,
    /// its text (and an SMS's) is the notification's `msg`.
    fn job(&self, seq: u64, channel: Channel, to: String, note: &Value, expires_at: Option<i64>) -> Job {
        let id = note["id"].as_str().unwrap_or_default().to_owned();
        let from: Option<User> = serde_json::from_value(note["from"].clone()).ok();
        let sender = from.map(|u| u.name.unwrap_or_else(|| u.id.as_str().to_owned())).unwrap_or_default();
        Job {
            // The seq, not the id, names the notification: ids are keys of their senders, and two
            // senders may use the same one.
            key: format!("{}/{}/{}", self.owner, seq, channel.as_str()),
            user: self.owner.clone(),
            channel,
            to,
            seq,
            notification: id,
            subject: format!("Notification from {sender}"),
            text: note["msg"].as_str().unwrap_or_default().to_owned(),
            expires_at,
        }
    }

    /// The queue took `job`: its fallback is done.
    pub fn enqueued(&mut self, job: &Job) -> Result<(), Error> {
        let where_ = [SqlValue::Int(job.seq as i64), SqlValue::Text(job.channel.as_str().into())];
        self.sql.exec("DELETE FROM inbox_due WHERE seq = ? AND channel = ?", &where_).map_err(storage)?;
        Ok(())
    }

    /// The fallback consumer asks whether to send job `key` now, which is worth sending until
    /// `expires_at` (`ledger.rs`).
    pub fn claim(&self, now: i64, key: &str, expires_at: Option<i64>) -> Result<JobClaim, Error> {
        self.ledger.claim(now, key, self.read, expires_at).map(JobClaim::from).map_err(storage)
    }

    /// The provider took job `key` (or may have).
    pub fn done(&self, key: &str) -> Result<(), Error> {
        self.ledger.done(key).map_err(storage)
    }

    /// The attempt holding job `key` with claim number `claim` failed.
    pub fn release(&self, key: &str, claim: Option<u64>) -> Result<(), Error> {
        self.ledger.release(key, claim).map_err(storage)
    }
}
