//! Reads told to the phones a notification was pushed to. A device keeps showing a pushed
//! notification until it learns that the user read it elsewhere. Live connections learn it at
//! once (`{"type":"read","seq":N}`, `{"type":"read_one","seq":N}`); a phone the notification
//! was pushed to learns it from a push of its own, a silent one (an APNs background push, an
//! FCM data message) that names the read the same way, so that the app removes what it shows.
//!
//! Web Push subscriptions get none: a browser must show a notification for every push (Safari
//! withdraws the permission of a site whose pushes show nothing; Chrome shows one of its own),
//! so a service worker learns reads from the `last_read` each later push carries, and its page
//! from its live connection (docs/notifications.md, "Reads on pushed devices").
//!
//! The devices told are those a push of a read notification was sent to (its job `done` in the
//! ledger, at the read or after it: [`Inbox::tell_late_push`]) and that are still the user's.
//! Each read becomes rows of `inbox_told` (device, kind, seq, due), due [`TELL_AFTER_MS`] later
//! so that reads in quick succession make one push — a later `read` for a device replaces what
//! it has not yet been told up to that seq — which the alarm makes into jobs
//! ([`Inbox::tell_due`]) on the same queue, ledger and retries as every push, keyed
//! `{user}/{seq}/{read|read_one}/{device}`.

use super::acks::Reached;
use super::alarm::{Due, REQUEUE_MS};
use super::Inbox;
use crate::exchange::requests::Device;
use crate::exchange::{Channel, Job, PushContent, Told, Urgency};
use crate::store::{Sql, SqlValue, StoreError};

/// How long after a read its phones are told: reads within it make one push.
pub const TELL_AFTER_MS: i64 = 2_000;

pub(super) const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS inbox_told (device TEXT NOT NULL, kind TEXT NOT NULL,
    seq INTEGER NOT NULL, due INTEGER NOT NULL, PRIMARY KEY (device, kind, seq))";

impl<S: Sql + Clone> Inbox<S> {
    /// The parts of job key `key` of this inbox: (seq, kind, device) for a push
    /// (`{owner}/{seq}/push/{device}`) or a told read (`…/read/{device}`, `…/read_one/…`).
    /// The owner is stripped whole, so a `/` in it is harmless.
    pub(super) fn device_job<'k>(&self, key: &'k str) -> Option<(&'k str, &'k str, &'k str)> {
        let rest = key.strip_prefix(self.owner.as_str())?.strip_prefix('/')?;
        let mut parts = rest.split('/');
        let (seq, kind, device) = (parts.next()?, parts.next()?, parts.next()?);
        (parts.next().is_none() && matches!(kind, "push" | "read" | "read_one")).then_some((seq, kind, device))
    }

    /// Plans telling read `kind` of seq `upto` to the phones a notification in
    /// `after + 1 ..= upto` was pushed to. True when one is to be told: the object's alarm must
    /// then come [`TELL_AFTER_MS`] after `now`.
    pub(super) fn plan_told(&self, now: i64, kind: Told, after: u64, upto: u64) -> Result<bool, StoreError> {
        let rows = self.sql.exec(
            "SELECT key FROM inbox_jobs WHERE state = 'done' AND seq > ? AND seq <= ?",
            &[SqlValue::Int(after as i64), SqlValue::Int(upto as i64)],
        )?;
        let pushed: Vec<&str> = rows
            .iter()
            .filter_map(|row| self.device_job(row.first()?.text()?))
            .filter(|&(_, kind, _)| kind == "push")
            .map(|(_, _, device)| device)
            .collect();
        if pushed.is_empty() {
            return Ok(false);
        }
        let mut told = false;
        for (device, _) in self.push_devices()? {
            if pushed.contains(&device.public_id().as_str()) {
                told |= self.tell(now, &device, kind, upto)?;
            }
        }
        Ok(told)
    }

    /// A push the provider took (`key` done) whose notification was read meanwhile: its phone
    /// is told the read it missed, `read` up to the mark or `read_one` of a receipt's.
    pub(super) fn tell_late_push(&self, now: i64, key: &str) -> Result<(), StoreError> {
        let Some((seq, "push", id)) = self.device_job(key) else { return Ok(()) };
        let Ok(seq) = seq.parse::<u64>() else { return Ok(()) };
        let (kind, upto) = match self.reached(seq)? {
            Reached::Read if seq <= self.read => (Told::Read, self.read),
            Reached::Read => (Told::ReadOne, seq),
            _ => return Ok(()),
        };
        if let Some((device, _)) = self.push_device(id)? {
            self.tell(now, &device, kind, upto)?;
        }
        Ok(())
    }

    /// A row that tells `device` read `kind` of seq `upto`, due [`TELL_AFTER_MS`] after `now`;
    /// a `read` replaces what the device was not yet told up to `upto`. Nothing for a Web Push
    /// subscription (see the module doc). True when a row was planned.
    fn tell(&self, now: i64, device: &Device, kind: Told, upto: u64) -> Result<bool, StoreError> {
        if matches!(device, Device::WebPush { .. }) {
            return Ok(false);
        }
        let id = SqlValue::Text(device.public_id());
        if kind == Told::Read {
            self.sql.exec(
                "DELETE FROM inbox_told WHERE device = ? AND seq <= ?",
                &[id.clone(), SqlValue::Int(upto as i64)],
            )?;
        }
        self.sql.exec(
            "INSERT OR IGNORE INTO inbox_told (device, kind, seq, due) VALUES (?, ?, ?, ?)",
            &[id, SqlValue::Text(kind.as_str().into()), SqlValue::Int(upto as i64), SqlValue::Int(now + TELL_AFTER_MS)],
        )?;
        Ok(true)
    }

    /// The alarm's pass over the reads to tell: a job for each row due, at most `budget`; a
    /// row whose device is no longer the user's is dropped. The queue taking a job ends its row
    /// ([`Inbox::enqueued`]); until then it comes again in [`REQUEUE_MS`].
    pub(super) fn tell_due(&self, now: i64, due: &mut Due, budget: usize) -> Result<(), StoreError> {
        let rows = self.sql.exec(
            "SELECT rowid, device, kind, seq FROM inbox_told WHERE due <= ? ORDER BY due, seq LIMIT ?",
            &[SqlValue::Int(now), SqlValue::Int(budget as i64)],
        )?;
        if rows.is_empty() {
            return Ok(());
        }
        let devices = self.push_devices()?;
        for row in rows {
            let Some(rowid) = due.rowid(&row, "a read to tell") else { continue };
            let found = match row.as_slice() {
                [_, SqlValue::Text(device), SqlValue::Text(kind), seq] => {
                    Told::parse(kind).zip(seq.int()).map(|(kind, seq)| (device.as_str(), kind, seq as u64))
                }
                _ => None,
            };
            let subscribed = found.and_then(|(id, kind, seq)| {
                let (device, added) = devices.iter().find(|(device, _)| device.public_id() == id)?;
                Some((device.clone(), *added, kind, seq))
            });
            let Some((device, added, kind, seq)) = subscribed else {
                // Unreadable, or its device was removed since: there is no one to tell.
                self.sql.exec("DELETE FROM inbox_told WHERE rowid = ?", &[rowid])?;
                continue;
            };
            let job = self.told_job(seq, kind, device, added);
            self.ledger.queued(&job.key, seq)?;
            self.sql
                .exec("UPDATE inbox_told SET due = ? WHERE rowid = ?", &[SqlValue::Int(now + REQUEUE_MS), rowid])?;
            due.jobs.push(job);
        }
        Ok(())
    }

    /// The push that tells `device` (subscribed at `added`) of read `kind` of seq `seq`.
    fn told_job(&self, seq: u64, kind: Told, device: Device, added: i64) -> Job {
        let to = device.public_id();
        Job {
            key: format!("{}/{}/{}/{}", self.owner, seq, kind.as_str(), to),
            user: self.owner.clone(),
            channel: Channel::Push,
            to,
            seq,
            notification: String::new(),
            subject: String::new(),
            text: String::new(),
            expires_at: None,
            push: Some(PushContent {
                device,
                subscribed_at: added,
                title: None,
                url: None,
                data: None,
                urgency: Urgency::Low,
                receipt: String::new(),
                last_read: self.read,
                told: Some(kind),
            }),
        }
    }

    /// The queue took told job `job`: its row is done.
    pub(super) fn told_enqueued(&self, job: &Job) -> Result<(), StoreError> {
        let Some(kind) = job.push.as_ref().and_then(|push| push.told) else { return Ok(()) };
        self.sql.exec(
            "DELETE FROM inbox_told WHERE device = ? AND kind = ? AND seq = ?",
            &[SqlValue::Text(job.to.clone()), SqlValue::Text(kind.as_str().into()), SqlValue::Int(job.seq as i64)],
        )?;
        Ok(())
    }
}
