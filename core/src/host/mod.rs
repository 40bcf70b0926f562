//! The room host: everything one room object holds, as one sans-IO state machine.
//!
//! A [`RoomHost`] owns the room ([`Room`], its log), its members — the room's own sockets,
//! each with the codec it speaks (the native protocol, or tndata's), and the Socket.IO sessions
//! that homes hold ([`Remotes`]) — its read marks, each connection's activity, and, when the
//! room is a user's inbox, the [`Inbox`]. Its inputs are `on_*` calls, each given `now`; what
//! the shell must do comes out as [`Output`]s ([`RoomHost::drain`]), deliveries to homes
//! ([`RoomHost::deliveries`]) and one alarm ([`RoomHost::poll_timeout`]), decided here and
//! nowhere else. The Durable Object (`durable_objects/src/room.rs`) moves bytes and performs
//! these; the native tests drive the host directly.
//!
//! | input | what it does |
//! |---|---|
//! | [`RoomHost::open`] | opens every table and loads the room; then [`RoomHost::restore_socket`] per open socket and [`RoomHost::restored`] |
//! | [`RoomHost::on_connect`] | a socket of the room's own joins ([`RoomHost::admit`] first) |
//! | [`RoomHost::on_frame`], [`RoomHost::on_binary`] | a socket's frame, read by its codec (an inbox's marks first) |
//! | [`RoomHost::on_close`] | a socket closed |
//! | [`RoomHost::on_members`] | a home's joins, frames and leaves for its sessions |
//! | [`RoomHost::on_delivered`] | a home's answer to a delivery (or its failure) |
//! | [`RoomHost::on_publish`] | a REST publish |
//! | [`RoomHost::on_alarm`], [`RoomHost::after_alarm`] | the alarm: expired sessions, the inbox's due work |
//! | [`RoomHost::on_slow_consumers`] | sockets sent more than the bound since their last sign of life |
//! | [`RoomHost::inbox_call`] (`inbox.rs`) | the inbox's internal routes |

mod inbox;

pub use inbox::InboxCall;

use crate::backlog::Backlogs;
use crate::config::{Limits, Retention};
use crate::dialect::tndata::{self, Translation};
use crate::error::{close, Error, ErrorCode};
use crate::exchange::inbox::{Due, Inbox};
use crate::exchange::settings::Fallback;
use crate::exchange::Job;
use crate::ids::{ConnId, RoomId};
use crate::internal::{Delivery, DeliveryAnswer, MemberBatch, PublishRequest};
use crate::protocol::native::error_frame;
use crate::room::{
    presence_json, restore_activities, Ack, ActivityRows, Effect, HistoryQuery, MemberRows, ReadMarks, Remotes, Room,
    Session, SqlLog,
};
use crate::store::{Sql, StoreError};
use std::collections::{BTreeMap, BTreeSet};

/// What a socket of the room's own speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    /// The native JSON protocol (docs/protocol.md).
    Native,
    /// tndata's chat frames (docs/dialects.md, "tndata"), translated from the native ones.
    Tndata,
}

/// Something the shell must do, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Send `text` (already in the socket's codec) to one socket.
    Send { to: ConnId, text: String },
    /// Send the native frame `text` to every socket that speaks the native protocol, but
    /// `except` (one call for all of them).
    SendNative { text: String, except: Option<ConnId> },
    /// Close one socket with `code`, and forget its session at once: it must not come back
    /// after a hibernation even if the client never completes the close.
    Close { to: ConnId, code: u16, reason: String },
    /// A line for the log: what happened (a slow consumer closed, a fallback skipped).
    Log(String),
    /// A problem for the error log: a write that failed, a home that answered badly.
    Problem(String),
}

/// One object's room, its members, marks and inbox (see the module's documentation).
pub struct RoomHost<S: Sql + Clone> {
    room: Room<SqlLog<S>>,
    /// The room's own sockets and the codec each speaks; the tndata ones again, so that a
    /// fan-out finds them without going through every socket.
    sockets: BTreeMap<ConnId, Codec>,
    tndata: BTreeSet<ConnId>,
    /// What each socket was sent since its last sign of life.
    backlogs: Backlogs<ConnId>,
    remotes: Remotes,
    members: MemberRows<S>,
    reads: ReadMarks<S>,
    activity: ActivityRows<S>,
    inbox: Option<Inbox<S>>,
    out: Vec<Output>,
    /// The alarm the shell was last told to set, and whether it may have to change.
    alarm_set: Option<i64>,
    alarm_dirty: bool,
    ids: Box<dyn FnMut() -> String>,
}

impl<S: Sql + Clone> RoomHost<S> {
    /// Opens every table of room `id` over `sql` and loads the room; `ids` makes fresh ids.
    pub fn open(
        id: RoomId,
        limits: &Limits,
        retention: &Retention,
        fallback: &Fallback,
        sql: S,
        ids: Box<dyn FnMut() -> String>,
    ) -> Result<Self, Error> {
        fn fail(what: &'static str) -> impl Fn(StoreError) -> Error {
            move |e| Error::internal(format!("could not {what}: {e}"))
        }
        let log = SqlLog::open(sql.clone()).map_err(fail("open the room's log"))?;
        let members = MemberRows::open(sql.clone()).map_err(fail("open the room's members"))?;
        let reads = ReadMarks::open(sql.clone()).map_err(fail("read the room's read marks"))?;
        let activity = ActivityRows::open(sql.clone()).map_err(fail("open the room's activity"))?;
        let inbox = Inbox::open(&id, fallback, retention, sql).map_err(fail("open the inbox"))?;
        let room = Room::load(id, limits.clone(), retention.clone(), log).map_err(fail("load the room"))?;
        Ok(Self {
            room,
            sockets: BTreeMap::new(),
            tndata: BTreeSet::new(),
            backlogs: Backlogs::new(limits.max_backlog_bytes),
            remotes: Remotes::default(),
            members,
            reads,
            activity,
            inbox,
            out: Vec::new(),
            alarm_set: None,
            alarm_dirty: false,
            ids,
        })
    }

    /// A socket that was open before the object hibernated, found again with its session.
    pub fn restore_socket(&mut self, now: i64, session: Session, codec: Codec) {
        self.add_socket(now, &session.conn, codec);
        self.room.restore(now, session);
    }

    /// Every socket is restored: the remote members and each connection's activity follow.
    /// The alarm the room needs for its sessions was set before it hibernated.
    pub fn restored(&mut self, now: i64) -> Result<(), Error> {
        let rows =
            self.members.all().map_err(|e| Error::internal(format!("could not read the room's members: {e}")))?;
        for (home, session) in rows {
            self.remotes.add(session.conn.clone(), home);
            self.room.restore(now, session);
        }
        restore_activities(&mut self.room, &self.activity)
            .map_err(|e| Error::internal(format!("could not read the room's activity: {e}")))?;
        Ok(())
    }

    pub fn id(&self) -> &RoomId {
        self.room.id()
    }

    pub fn room(&self) -> &Room<SqlLog<S>> {
        &self.room
    }

    /// The room's read marks.
    pub fn reads(&self) -> &ReadMarks<S> {
        &self.reads
    }

    /// Whether `conn` is a member held by a home.
    pub fn is_remote(&self, conn: &ConnId) -> bool {
        self.remotes.is_remote(conn)
    }

    /// The inbox, when the room is a user's.
    pub fn inbox(&self) -> Option<&Inbox<S>> {
        self.inbox.as_ref()
    }

    /// How many sockets of its own and remote members the room holds.
    pub fn counts(&self) -> (usize, usize) {
        (self.sockets.len(), self.remotes.len())
    }

    pub fn codec(&self, conn: &ConnId) -> Option<Codec> {
        self.sockets.get(conn).copied()
    }

    /// Whether a socket with this resume point would be accepted now; when not, what to tell it
    /// (an error frame in `codec`) and the close code.
    pub fn admit(&mut self, since: Option<u64>, codec: Codec) -> Result<(), (String, u16, Error)> {
        self.room.admit(since).map_err(|(error, code)| (self.speak(codec, &error_frame(&error, None)), code, error))
    }

    /// A socket of the room's own opens with `session`, resuming after `since`.
    pub fn on_connect(&mut self, now: i64, session: Session, since: Option<u64>, codec: Codec) {
        self.add_socket(now, &session.conn, codec);
        let effects = self.room.on_connect(now, session, since);
        self.apply(effects);
    }

    /// A text frame of one of the room's sockets, read by its codec; an inbox's connections may
    /// send its marks first.
    pub fn on_frame(&mut self, now: i64, conn: &ConnId, text: &str) {
        let Some(codec) = self.codec(conn) else { return };
        self.backlogs.alive(conn, now);
        let effects = match (codec, self.inbox.as_mut()) {
            (Codec::Tndata, _) => self.room.on_tndata_frame(now, conn, text, &mut self.reads, &mut self.ids),
            (Codec::Native, Some(inbox)) => self.room.on_inbox_frame(now, conn, text, inbox, &mut self.ids),
            (Codec::Native, None) => self.room.on_frame(now, conn, text, &mut self.ids),
        };
        self.apply(effects);
    }

    /// A binary frame of `len` bytes (refused: both codecs are text).
    pub fn on_binary(&mut self, now: i64, conn: &ConnId, len: usize) {
        self.backlogs.alive(conn, now);
        let effects = self.room.on_binary(conn, len);
        self.apply(effects);
    }

    /// A socket of the room's own closed (or failed): it leaves.
    pub fn on_close(&mut self, conn: &ConnId) {
        self.forget_socket(conn);
        let effects = self.room.on_close(conn);
        self.apply(effects);
    }

    /// What a home asks for its sessions, in order.
    pub fn on_members(&mut self, now: i64, batch: MemberBatch) {
        for command in batch.commands {
            let (joined, effects) =
                self.room.on_member_command(now, &mut self.remotes, &batch.home, command, &mut self.ids);
            if let Some(session) = joined {
                if let Err(e) = self.members.insert(&batch.home, &session) {
                    self.out.push(Output::Problem(format!("room {}: remote member not stored: {e}", self.room.id())));
                }
            }
            self.apply(effects);
        }
    }

    /// The deliveries to start now: one per home with something queued and none in flight.
    pub fn deliveries(&mut self) -> Vec<(String, Delivery)> {
        let ready = self.remotes.ready();
        // Most events queue nothing (always, in a room without remote members).
        if ready.is_empty() {
            return Vec::new();
        }
        let room = self.room.id();
        ready.into_iter().map(|(home, items)| (home, Delivery { room: room.clone(), items })).collect()
    }

    /// `home` answered a delivery (`Ok`: the sessions it does not hold), or could not be reached
    /// or answered badly (`Err`: why): those members, or all of its, leave the room.
    pub fn on_delivered(&mut self, home: &str, answer: Result<DeliveryAnswer, String>) {
        let gone = match answer {
            Ok(answer) => self.remotes.delivered(home, &answer.unknown),
            Err(why) => {
                let line = format!("room {}: home {home}: {why}; its members dropped", self.room.id());
                self.out.push(Output::Problem(line));
                self.remotes.failed(home)
            }
        };
        for conn in gone {
            self.forget_member(&conn);
            let effects = self.room.on_close(&conn);
            self.apply(effects);
        }
    }

    /// A REST publish.
    pub fn on_publish(&mut self, now: i64, request: PublishRequest) -> Result<Ack, Error> {
        let (ack, effects) =
            self.room.publish(now, &request.user, request.draft, request.except.as_deref(), &mut self.ids)?;
        self.apply(effects);
        Ok(ack)
    }

    /// The alarm fired: the sessions whose token expired end, then the inbox's due work runs.
    /// What the inbox decided to send is returned for the shell to queue ([`Due::jobs`]);
    /// then [`RoomHost::on_enqueued`] and [`RoomHost::after_alarm`].
    pub fn on_alarm(&mut self, now: i64) -> Due {
        self.alarm_set = None;
        self.alarm_dirty = true;
        let effects = self.room.on_alarm(now);
        self.apply(effects);
        let Some(inbox) = self.inbox.as_mut() else { return Due::default() };
        let mut due = inbox.on_alarm(now, &mut self.room);
        let effects = std::mem::take(&mut due.effects);
        self.apply(effects);
        let room = self.room.id().clone();
        self.out.extend(due.problems.iter().map(|problem| Output::Problem(format!("inbox {room}: {problem}"))));
        for (seq, channel, why) in &due.skipped {
            let line = format!("inbox {room}: {} of {seq} skipped: {}", channel.as_str(), why.as_str());
            self.out.push(Output::Log(line));
        }
        due
    }

    /// The queue took the `jobs` marked in `taken`; the others are queued again by a later alarm.
    pub fn on_enqueued(&mut self, jobs: &[Job], taken: &[bool]) {
        let Some(inbox) = self.inbox.as_mut() else { return };
        if let Err(e) = inbox.enqueued(jobs, taken) {
            let line = format!("jobs queued but not marked (a later alarm queues them again): {e}");
            self.out.push(Output::Problem(line));
        }
    }

    /// The alarm to set once an alarm's work is done (`due`, what its inbox pass met).
    pub fn after_alarm(&mut self, now: i64, due: &Due) -> Option<i64> {
        let next = match &self.inbox {
            Some(inbox) => inbox.alarm_after(now, &self.room, due),
            None => self.room.alarm_at(),
        };
        self.alarm_set = next;
        self.alarm_dirty = false;
        next
    }

    /// The alarm the shell must set, when it may have changed since it was last set: the
    /// earlier of the room's (its sessions' expiry) and the inbox's next work. `None`: leave it
    /// as it is. (After a wake nothing is known to be set: the first change sets it again.) A
    /// shell that could not set it says so ([`RoomHost::alarm_not_set`]).
    pub fn poll_timeout(&mut self, now: i64) -> Option<i64> {
        if !std::mem::take(&mut self.alarm_dirty) {
            return None;
        }
        let wanted = match &self.inbox {
            Some(inbox) => inbox.alarm_after(now, &self.room, &Due::default()),
            None => self.room.alarm_at(),
        };
        let change = wanted.filter(|at| self.alarm_set.is_none_or(|set| *at != set));
        if change.is_some() {
            self.alarm_set = change;
        }
        change
    }

    /// Setting the alarm [`RoomHost::poll_timeout`] asked for failed: the next event asks again.
    pub fn alarm_not_set(&mut self) {
        self.alarm_set = None;
        self.alarm_dirty = true;
    }

    /// Closes the sockets sent more than the slow-consumer bound since their last sign of life,
    /// with 4003 so that they resume with `since`; `pinged_at` says when the runtime last
    /// answered a ping of a socket by itself (a later sign of life). The room sees them leave;
    /// their `left` may take others past the bound in turn, hence the loop (each pass closes at
    /// least one socket, so it ends).
    pub fn on_slow_consumers(&mut self, mut pinged_at: impl FnMut(&ConnId) -> Option<i64>) {
        loop {
            let mut slow = self.backlogs.candidates();
            slow.retain(|conn| {
                if let Some(at) = pinged_at(conn) {
                    self.backlogs.alive(conn, at);
                }
                self.backlogs.is_over(conn)
            });
            if slow.is_empty() {
                return;
            }
            for conn in slow {
                let Some(codec) = self.forget_socket(&conn) else { continue };
                self.out.push(Output::Log(format!("room {}: {} closed as a slow consumer", self.room.id(), conn.0)));
                let error = Error::new(
                    ErrorCode::SlowConsumer,
                    "this connection was sent more than MAX_BACKLOG_BYTES since it last showed it was reading \
                     (a frame or a ping): reconnect with since",
                );
                let text = self.speak(codec, &error_frame(&error, None));
                self.out.push(Output::Send { to: conn.clone(), text });
                let reason = error.code.as_str().to_owned();
                self.out.push(Output::Close { to: conn.clone(), code: close::SLOW_CONSUMER, reason });
                let effects = self.room.on_close(&conn);
                self.apply(effects);
            }
        }
    }

    /// A page of the room's history as JSON.
    pub fn history(&mut self, now: i64, query: HistoryQuery) -> Result<String, Error> {
        let page = self.room.history(now, query)?;
        Ok(page.to_json(self.room.id()))
    }

    /// A page of a tndata conversation, with read flags.
    pub fn tndata_history(&mut self, now: i64, query: tndata::HistoryQuery) -> Result<String, Error> {
        self.room.tndata_history(now, query, &self.reads)
    }

    pub fn presence_json(&self) -> String {
        presence_json(self.room.id(), &self.room.presence(), self.room.connection_count())
    }

    pub fn reads_json(&self) -> String {
        self.reads.to_json(self.room.id())
    }

    /// Takes what the shell must do, in order.
    pub fn drain(&mut self) -> Vec<Output> {
        std::mem::take(&mut self.out)
    }

    /// An error frame (or any native frame) for a socket that speaks `codec`.
    pub fn speak(&mut self, codec: Codec, native: &str) -> String {
        let room = (codec == Codec::Tndata).then(|| self.room.id());
        speak(room, native.to_owned(), &mut self.ids)
    }

    /// Performs the room's effects: on the room's own sockets (in their codecs) or through the
    /// homes of remote members. Sends to a socket count against its backlog.
    fn apply(&mut self, effects: Vec<Effect>) {
        for effect in effects {
            match effect {
                Effect::Send { to, text } => {
                    if self.remotes.send(&to, &text) {
                        continue;
                    }
                    let Some(codec) = self.codec(&to) else { continue };
                    let text = match codec {
                        Codec::Native => text,
                        Codec::Tndata => match tndata::to_client(self.room.id(), &text, &mut self.ids) {
                            Some(text) => text,
                            None => continue,
                        },
                    };
                    self.backlogs.sent(&to, text.len());
                    self.out.push(Output::Send { to, text });
                }
                Effect::Broadcast { text, except } => {
                    self.remotes.broadcast(&text, except.as_ref());
                    self.broadcast(text, except);
                }
                Effect::Close { to, code, reason } => {
                    if self.remotes.close(&to) {
                        self.forget_member(&to);
                    } else if self.forget_socket(&to).is_some() {
                        self.out.push(Output::Close { to, code, reason });
                    }
                }
                Effect::SetAlarm { .. } => self.alarm_dirty = true,
                Effect::Remember { conn, activity } => {
                    // A failed write only loses the activity if the room hibernates before the
                    // connection sets it again.
                    if let Err(e) = self.activity.put(&conn, activity.as_ref()) {
                        let line = format!("room {}: activity of {} not stored: {e}", self.room.id(), conn.0);
                        self.out.push(Output::Problem(line));
                    }
                }
            }
        }
    }

    /// A native frame to every socket of the room's own but `except`: once as it is to the
    /// native ones, translated once for the tndata ones.
    fn broadcast(&mut self, text: String, except: Option<ConnId>) {
        if self.sockets.is_empty() {
            return;
        }
        self.backlogs.broadcast(text.len(), except.as_ref());
        let tndata: Vec<ConnId> = self.tndata.iter().filter(|conn| Some(*conn) != except.as_ref()).cloned().collect();
        if tndata.is_empty() {
            self.out.push(Output::SendNative { text, except });
            return;
        }
        let mut translation = Translation::new(self.room.id(), &text);
        let translated = translation.text(&mut self.ids).map(str::to_owned);
        for conn in tndata {
            // A tndata socket is sent the translation: its backlog counts the translation's length.
            let sent = translated.as_ref().map_or(0, String::len);
            self.backlogs.adjust(&conn, sent as i64 - text.len() as i64);
            if let Some(text) = &translated {
                self.out.push(Output::Send { to: conn, text: text.clone() });
            }
        }
        self.out.push(Output::SendNative { text, except });
    }

    fn add_socket(&mut self, now: i64, conn: &ConnId, codec: Codec) {
        self.backlogs.insert(conn.clone(), now);
        if codec == Codec::Tndata {
            self.tndata.insert(conn.clone());
        }
        self.sockets.insert(conn.clone(), codec);
    }

    /// Forgets a socket of the room's own; the codec it spoke, when it was one.
    fn forget_socket(&mut self, conn: &ConnId) -> Option<Codec> {
        self.backlogs.remove(conn);
        self.tndata.remove(conn);
        self.sockets.remove(conn)
    }

    /// Deletes a remote member's row. A failed delete only brings the member back after the
    /// next wake, where the first delivery to its home drops it again.
    fn forget_member(&mut self, conn: &ConnId) {
        if let Err(e) = self.members.delete(conn) {
            let line = format!("room {}: remote member {} not deleted: {e}", self.room.id(), conn.0);
            self.out.push(Output::Problem(line));
        }
    }
}

/// A native frame for a socket: as it is, or translated for a tndata socket of `tndata_room`
/// (as it is when it has no translation). For the host's own sockets, and for the sockets of a
/// room the object could not even load.
pub fn speak(tndata_room: Option<&RoomId>, native: String, fresh_id: impl FnOnce() -> String) -> String {
    match tndata_room {
        Some(room) => tndata::to_client(room, &native, fresh_id).unwrap_or(native),
        None => native,
    }
}
