//! A user's inbox: what makes the room `inbox:{user}` more than a room. It sits beside the
//! [`Room`] in the same object and keeps, in the object's SQLite (tables `inbox_*`):
//!
//! - the notifications (`inbox_notes`): each one's urgency, ttl and body, for pages, unread
//!   counts and fallbacks — the room's log holds the same notification as a `message`;
//! - the delivery marks (`inbox_marks`): delivered (a device sent `received`) and read, each
//!   the highest seq reached, moving only forward; read implies delivered; and one
//!   notification's own acknowledgement from a push receipt (`inbox_acks`);
//! - the fallbacks falling due (`inbox_due`: notification, channel, when) and the scheduled
//!   sends (`inbox_scheduled`) and the reads to tell pushed phones (`inbox_told`), which together
//!   set the object's alarm ([`Inbox::next_alarm`]);
//! - contacts (`inbox_contacts`), devices (`inbox_devices`, `inbox_device_outcomes`) and the job
//!   ledger (`ledger.rs`).
//!
//! | input | what it does |
//! |---|---|
//! | [`Inbox::on_notify`] | publish the notification (event `notification`) now, or keep it until `send_at` (at most [`SCHEDULED_MAX`] kept); plan its fallbacks (again, for a duplicate whose planning failed) |
//! | [`Inbox::received`], [`Inbox::read`] | move the marks; a read is told to every connection as `{"type":"read","seq":N}`, and by a silent push to the phones its notifications were pushed to (`told.rs`) |
//! | [`Inbox::receipt`] | a push receipt: one notification delivered or read (`acks.rs`); a read is told as `{"type":"read_one","seq":N}`, likewise |
//! | [`Inbox::on_alarm`], [`Inbox::alarm_after`] | publish scheduled sends that are due; decide each due fallback (`policy.rs`): jobs to queue, skips, deferrals — at most [`ALARM_BATCH`] rows a pass, row by row; then when the alarm comes next (`alarm.rs`) |
//! | [`Inbox::enqueued`] | a job reached the queue: its fallback is done |
//! | [`Inbox::claim`], [`Inbox::done`], [`Inbox::release`] | the fallback consumer's calls (`ledger.rs`) |
//! | [`Inbox::update_contacts`], [`Inbox::page`] | contacts, reads (`reads.rs`) |
//! | [`Inbox::subscribe`], [`Inbox::devices_json`], [`Inbox::remove_device`], [`Inbox::forget_device`], [`Inbox::record_outcome`] | push devices (`devices.rs`) |
//! | [`Inbox::owner_listed`], [`Inbox::set_owner_listed`] | whether the owner is in the directory yet (`listed.rs`) |

// The room side: the `received` / `read` frames of an inbox's connections.
mod acks;
mod alarm;
mod devices;
mod frames;
mod listed;
mod reads;
mod told;

pub use acks::Reached;
pub use alarm::{Due, ALARM_BATCH, REQUEUE_MS, RETRY_MS};
pub use devices::{Deleted, DeviceOutcome, ForgetDevice, Outcome, RemoveDevice, DEVICES_MAX, REASON_MAX};
pub use reads::{PAGE_DEFAULT, PAGE_MAX};
pub use told::TELL_AFTER_MS;

use super::contacts::Contacts;
use super::ledger::Ledger;
use super::policy;
use super::{inbox_of, NotifyRequest, Opts, INBOX_PREFIX, NOTIFICATION_EVENT};
use crate::error::{Error, ErrorCode};
use crate::exchange::settings::Fallback;
use crate::ids::{RoomId, UserId};
use crate::message::Draft;
use crate::room::Retention;
use crate::room::{Effect, Log, Room};
use crate::store::{Sql, SqlValue, StoreError};
use serde_json::value::RawValue;
use serde_json::{json, Value};

/// Notifications past retention are pruned when a seq is a multiple of this (as the room
/// prunes its log: the same window, in the same publish).
const PRUNE_EVERY: u64 = 64;
/// Scheduled sends one inbox keeps at once; one more is refused with `too_many_scheduled`.
pub const SCHEDULED_MAX: i64 = 1000;

const SCHEMA: [&str; 7] = [
    "CREATE TABLE IF NOT EXISTS inbox_notes (seq INTEGER PRIMARY KEY, ts INTEGER NOT NULL,
        urgency INTEGER NOT NULL, expires_at INTEGER, note TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS inbox_marks (name TEXT PRIMARY KEY, seq INTEGER NOT NULL)",
    "CREATE TABLE IF NOT EXISTS inbox_due (seq INTEGER NOT NULL, channel TEXT NOT NULL, due INTEGER NOT NULL,
        PRIMARY KEY (seq, channel))",
    "CREATE TABLE IF NOT EXISTS inbox_scheduled (sender TEXT NOT NULL, id TEXT NOT NULL, due INTEGER NOT NULL,
        request TEXT NOT NULL, PRIMARY KEY (sender, id))",
    "CREATE TABLE IF NOT EXISTS inbox_contacts (id INTEGER PRIMARY KEY CHECK (id = 1), contacts TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS inbox_devices (id TEXT PRIMARY KEY, device TEXT NOT NULL, added INTEGER NOT NULL)",
    // One notification's own acknowledgement, from a push receipt (`acks.rs`): `delivered` or
    // `read`. The marks above say "every notification up to"; these say "this one".
    "CREATE TABLE IF NOT EXISTS inbox_acks (seq INTEGER PRIMARY KEY, state TEXT NOT NULL)",
];

pub struct Inbox<S: Sql> {
    sql: S,
    ledger: Ledger<S>,
    owner: UserId,
    deadlines: Fallback,
    retention: Retention,
    delivered: u64,
    read: u64,
    contacts: Contacts,
}

/// The user whose inbox `room` is; `None` for any other room (an id that only looks like an
/// inbox's, not written the way [`inbox_of`] writes it, included).
pub fn owner_of(room: &RoomId) -> Option<UserId> {
    let rest = room.as_str().strip_prefix(INBOX_PREFIX)?.strip_prefix(':')?;
    let mut bytes = Vec::with_capacity(rest.len());
    let mut input = rest.bytes();
    while let Some(b) = input.next() {
        if b == b'_' {
            let hex = [input.next()?, input.next()?];
            bytes.push(u8::from_str_radix(std::str::from_utf8(&hex).ok()?, 16).ok()?);
        } else {
            bytes.push(b);
        }
    }
    let user = UserId::parse(&String::from_utf8(bytes).ok()?).ok()?;
    (inbox_of(&user).as_ref() == Some(room)).then_some(user)
}

fn storage(e: StoreError) -> Error {
    Error::internal(format!("the inbox's storage failed: {e}"))
}

impl<S: Sql + Clone> Inbox<S> {
    /// The inbox of `room`, its tables created when new; `None` when `room` is not an inbox.
    pub fn open(
        room: &RoomId,
        deadlines: &Fallback,
        retention: &Retention,
        sql: S,
    ) -> Result<Option<Self>, StoreError> {
        let Some(owner) = owner_of(room) else { return Ok(None) };
        for statement in SCHEMA.into_iter().chain([devices::SCHEMA, told::SCHEMA]) {
            sql.exec(statement, &[])?;
        }
        let mark = |name: &str| -> Result<u64, StoreError> {
            let rows = sql.exec("SELECT seq FROM inbox_marks WHERE name = ?", &[SqlValue::Text(name.into())])?;
            Ok(rows.first().and_then(|r| r.first()).and_then(SqlValue::int).unwrap_or(0) as u64)
        };
        let (delivered, read) = (mark("delivered")?, mark("read")?);
        let rows = sql.exec("SELECT contacts FROM inbox_contacts WHERE id = 1", &[])?;
        let contacts = match rows.first().and_then(|r| r.first()).and_then(SqlValue::text) {
            Some(json) => serde_json::from_str(json).map_err(|e| StoreError(format!("stored contacts: {e}")))?,
            None => Contacts::default(),
        };
        let ledger = Ledger::open(sql.clone())?;
        Ok(Some(Self {
            sql,
            ledger,
            owner,
            deadlines: deadlines.clone(),
            retention: retention.clone(),
            delivered,
            read,
            contacts,
        }))
    }

    pub fn owner(&self) -> &UserId {
        &self.owner
    }

    pub fn contacts(&self) -> &Contacts {
        &self.contacts
    }

    /// (delivered, read): the highest seq each reached.
    pub fn marks(&self) -> (u64, u64) {
        (self.delivered, self.read)
    }

    /// When the inbox needs its alarm: the earliest fallback, scheduled send or read to tell.
    pub fn next_alarm(&self) -> Result<Option<i64>, StoreError> {
        let rows = self.sql.exec(
            "SELECT MIN(due) FROM (SELECT due FROM inbox_due UNION ALL SELECT due FROM inbox_scheduled
                 UNION ALL SELECT due FROM inbox_told)",
            &[],
        )?;
        Ok(rows.first().and_then(|r| r.first()).and_then(SqlValue::int))
    }

    /// The alarm the object needs: the room's (sessions that expire) or the inbox's, whichever
    /// is first. A failed read of the inbox's leaves the room's.
    pub fn alarm_with<L: Log>(&self, room: &Room<L>) -> Option<i64> {
        let inbox = self.next_alarm().unwrap_or(None);
        match (room.alarm_at(), inbox) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Takes a notification (internal `POST /notify`): publishes it now, or keeps it for
    /// `send_at`. Answers `{id, seq, duplicate?}` or `{id, scheduled, duplicate?}`, and the
    /// effects of the publish. The id is the sender's idempotency key (a key the sender used
    /// before finds the first notification and changes nothing), or `fresh_id`.
    pub fn on_notify<L: Log>(
        &mut self,
        now: i64,
        room: &mut Room<L>,
        request: NotifyRequest,
        fresh_id: impl FnOnce() -> String,
    ) -> Result<(Value, Vec<Effect>), Error> {
        request.opts.check_send_at(now)?;
        let id = request.opts.idempotency_key.clone().unwrap_or_else(fresh_id);
        let Some(at) = request.opts.send_at.filter(|&at| at > now) else {
            return self.deliver(now, room, request, id);
        };
        let sender = request.from.id.as_str().to_owned();
        if let Some(seq) = room.find(&sender, &id).map_err(storage)? {
            return Ok((json!({ "id": id, "seq": seq, "duplicate": true }), Vec::new()));
        }
        let key = [SqlValue::Text(sender), SqlValue::Text(id.clone())];
        let rows =
            self.sql.exec("SELECT due FROM inbox_scheduled WHERE sender = ? AND id = ?", &key).map_err(storage)?;
        if let Some(due) = rows.first().and_then(|r| r.first()).and_then(SqlValue::int) {
            return Ok((json!({ "id": id, "scheduled": due, "duplicate": true }), Vec::new()));
        }
        let rows = self.sql.exec("SELECT COUNT(*) FROM inbox_scheduled", &[]).map_err(storage)?;
        if rows.first().and_then(|r| r.first()).and_then(SqlValue::int).unwrap_or(0) >= SCHEDULED_MAX {
            return Err(Error::new(
                ErrorCode::TooManyScheduled,
                format!(
                    "this user's inbox already holds {SCHEDULED_MAX} scheduled sends; send now, or once some went out"
                ),
            )
            .with_details(json!({ "limit": SCHEDULED_MAX })));
        }
        let stored = serde_json::to_string(&request).map_err(|e| Error::internal(e.to_string()))?;
        let [sender, id_value] = key;
        self.sql
            .exec(
                "INSERT INTO inbox_scheduled (sender, id, due, request) VALUES (?, ?, ?, ?)",
                &[sender, id_value, SqlValue::Int(at), SqlValue::Text(stored)],
            )
            .map_err(storage)?;
        Ok((json!({ "id": id, "scheduled": at }), Vec::new()))
    }

    /// Publishes a notification as message `id` of the inbox's room and plans its fallbacks.
    fn deliver<L: Log>(
        &mut self,
        now: i64,
        room: &mut Room<L>,
        request: NotifyRequest,
        id: String,
    ) -> Result<(Value, Vec<Effect>), Error> {
        let NotifyRequest { from, msg, opts } = request;
        let mut note = json!({
            "id": id,
            "msg": msg,
            "data": opts.data.clone().unwrap_or(Value::Null),
            "urgency": opts.urgency.number(),
            "from": from,
        });
        // Only when given: the notification's shape is unchanged for senders who never use them.
        if let Some(title) = &opts.title {
            note["title"] = json!(title);
        }
        if let Some(url) = &opts.url {
            note["url"] = json!(url);
        }
        let note = note.to_string();
        let data = RawValue::from_string(note.clone()).map_err(|e| Error::internal(e.to_string()))?;
        let draft = Draft { event: NOTIFICATION_EVENT.to_owned(), data, key: Some(id.clone()) };
        let (ack, effects) = room.publish(now, &from, draft, None, || id.clone())?;
        // The publish and the plan are two writes: when planning failed after the room stored
        // the message, the sender's retry finds a duplicate, and plans what is missing. (The
        // room prunes its log with the notes, so a duplicate the log still finds without its
        // note is one whose planning failed.)
        if !ack.duplicate || !self.planned(ack.seq).map_err(storage)? {
            let online = room.presence().iter().any(|user| user.id == self.owner);
            let reach = policy::Reach { online, devices: self.has_devices().map_err(storage)? };
            self.plan(now, ack.seq, &opts, &note, reach).map_err(storage)?;
        }
        let answer = serde_json::to_value(&ack).map_err(|e| Error::internal(e.to_string()))?;
        Ok((answer, effects))
    }

    /// Whether notification `seq` was planned: its note is kept.
    fn planned(&self, seq: u64) -> Result<bool, StoreError> {
        let rows = self.sql.exec("SELECT 1 FROM inbox_notes WHERE seq = ?", &[SqlValue::Int(seq as i64)])?;
        Ok(!rows.is_empty())
    }

    /// Stores the fallbacks notification `seq`'s urgency calls for, then its note, which says
    /// it was planned (a plan that fails midway is done again whole, [`Self::deliver`]).
    fn plan(&mut self, now: i64, seq: u64, opts: &Opts, note: &str, reach: policy::Reach) -> Result<(), StoreError> {
        let expires_at = opts.ttl_ms.map(|ttl| opts.send_at.unwrap_or(now).max(0).saturating_add(ttl));
        for (channel, due) in policy::plan(opts.urgency, opts.channels.as_deref(), now, reach, &self.deadlines) {
            self.sql.exec(
                "INSERT OR REPLACE INTO inbox_due (seq, channel, due) VALUES (?, ?, ?)",
                &[SqlValue::Int(seq as i64), SqlValue::Text(channel.as_str().into()), SqlValue::Int(due)],
            )?;
        }
        self.sql.exec(
            "INSERT OR REPLACE INTO inbox_notes (seq, ts, urgency, expires_at, note) VALUES (?, ?, ?, ?, ?)",
            &[
                SqlValue::Int(seq as i64),
                SqlValue::Int(now),
                SqlValue::Int(i64::from(opts.urgency.number())),
                expires_at.map_or(SqlValue::Null, SqlValue::Int),
                SqlValue::Text(note.to_owned()),
            ],
        )?;
        if seq.is_multiple_of(PRUNE_EVERY) {
            // A failed prune only keeps old rows longer: the notification is stored and planned.
            let _ = self.prune(now, seq);
        }
        Ok(())
    }

    /// Drops the notes past retention (the room's window, see [`Room`]), their fallbacks, and
    /// the finished jobs of notifications no longer kept.
    fn prune(&self, now: i64, seq: u64) -> Result<(), StoreError> {
        let floor = seq.saturating_sub(self.retention.max_messages) as i64;
        let min_ts = now.saturating_sub(self.retention.max_age_ms);
        self.sql
            .exec("DELETE FROM inbox_notes WHERE seq <= ? OR ts < ?", &[SqlValue::Int(floor), SqlValue::Int(min_ts)])?;
        self.sql.exec("DELETE FROM inbox_due WHERE seq NOT IN (SELECT seq FROM inbox_notes)", &[])?;
        self.sql.exec("DELETE FROM inbox_acks WHERE seq NOT IN (SELECT seq FROM inbox_notes)", &[])?;
        self.sql.exec("DELETE FROM inbox_told WHERE seq NOT IN (SELECT seq FROM inbox_notes)", &[])?;
        let rows = self.sql.exec("SELECT MIN(seq) FROM inbox_notes", &[])?;
        let oldest = rows.first().and_then(|r| r.first()).and_then(SqlValue::int).map_or(seq, |s| s as u64);
        self.ledger.prune(oldest)
    }

    fn set_mark(&mut self, name: &str, seq: u64) -> Result<(), StoreError> {
        self.sql.exec(
            "INSERT OR REPLACE INTO inbox_marks (name, seq) VALUES (?, ?)",
            &[SqlValue::Text(name.into()), SqlValue::Int(seq as i64)],
        )?;
        Ok(())
    }

    /// A device has every notification up to `seq` (checked against the room by the caller).
    /// True when the mark moved.
    pub fn received(&mut self, seq: u64) -> Result<bool, Error> {
        if seq <= self.delivered {
            return Ok(false);
        }
        self.set_mark("delivered", seq).map_err(storage)?;
        self.delivered = seq;
        Ok(true)
    }

    /// The user read every notification up to `seq`, which the room must have, at `now`. When
    /// the mark moves, every connection of the inbox is told (`{"type":"read","seq":N}`) so each
    /// device clears what was read on another, the phones that were pushed one of those
    /// notifications are to be told by a push (`told.rs`: the alarm is asked for at once), and
    /// the fallbacks of what was read are dropped.
    pub fn read<L: Log>(&mut self, now: i64, room: &Room<L>, seq: u64) -> Result<Vec<Effect>, Error> {
        if seq > room.last_seq() {
            let message = format!("notification {seq} does not exist; the last one is {}", room.last_seq());
            return Err(Error::invalid_field("seq", message));
        }
        if seq <= self.read {
            return Ok(Vec::new());
        }
        let before = self.read;
        self.set_mark("read", seq).map_err(storage)?;
        self.read = seq;
        if seq > self.delivered {
            self.set_mark("delivered", seq).map_err(storage)?;
            self.delivered = seq;
        }
        self.sql.exec("DELETE FROM inbox_due WHERE seq <= ?", &[SqlValue::Int(seq as i64)]).map_err(storage)?;
        // After the mark: a phone is never told of a read that was not kept.
        let tell = self.plan_told(now, super::Told::Read, before, seq).map_err(storage)?;
        let text = json!({ "type": "read", "seq": seq }).to_string();
        let mut effects = vec![Effect::Broadcast { text, except: None }];
        if tell {
            effects.push(Effect::SetAlarm { at: now + told::TELL_AFTER_MS });
        }
        Ok(effects)
    }
}
