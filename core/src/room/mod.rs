//! The room state machine: one room's connections, presence, order and log.
//!
//! Inputs are `on_*` calls (and [`Room::publish`] for REST), each given `now`; outputs are
//! [`Effect`]s for the shell to perform. Reads and writes of the log happen inside the call,
//! synchronously, before any effect exists: a message is stored with its idempotency key
//! before anyone can be told about it.
//!
//! | input                      | what it does                                                   | file |
//! |----------------------------|----------------------------------------------------------------|------|
//! | [`Room::on_connect`]       | limits, `welcome`, `presence`, replay after `since`, `joined`   | here |
//! | [`Room::restore`]          | re-register a connection after the object woke from hibernation | here |
//! | [`Room::on_close`]         | forget the connection; `left` when it was the user's last     | here |
//! | [`Room::on_alarm`]         | end the sessions whose token expired                         | here |
//! | [`Room::on_frame`]         | size, expiry, decode, rate, then `publish` → `ack` + `message`, `ping` | `publish.rs` |
//! | `status` / `focus` frames  | a user's status across connections, their focus moving between them | `status.rs` |
//! | [`Room::on_binary`]        | refused: the native protocol is text                          | `publish.rs` |
//! | [`Room::publish`]          | a REST publish: same order and idempotency as a websocket one | `publish.rs` |
//! | [`Room::history`], [`Room::presence`] | reads                                           | `history.rs` |
//! | [`Room::mark_read`]        | a user's read mark moves forward ([`ReadMarks`])              | `reads.rs` |
//!
//! Adapters above the room read some frames of their own connections before it and go
//! through its inputs: tndata sockets (`Room::on_tndata_frame`, `Room::tndata_history`, in
//! `dialect/tndata/room.rs`) and an inbox's marks (`Room::on_inbox_frame`, in
//! `exchange/inbox/frames.rs`). The room itself knows the native protocol and its storage
//! contract only.
//!
//! A connection may be remote: a Socket.IO session held by its home object. The room does not
//! tell them apart; the room host ([`crate::host`]) routes what is sent to remote members
//! through [`Remotes`] (`remote.rs`).

mod history;
mod limits;
mod log;
mod publish;
mod rate;
mod reads;
mod remote;
mod sql_log;
mod status;
pub mod wire;

pub use history::{ack_json, presence_json, HistoryQuery, Page, PAGE_DEFAULT, PAGE_MAX};
pub use limits::{Limits, Retention};
pub use log::{Entry, Log, MemoryLog};
pub use rate::TokenBucket;
pub use reads::ReadMarks;
pub use remote::{MemberRows, Remotes, DELIVERY_MAX_ITEMS};
pub use sql_log::SqlLog;
pub use status::{restore_activities, Activity, ActivityRows};

use crate::error::{close, Error, ErrorCode};
use crate::ids::{ConnId, RoomId, User, UserId};
use crate::protocol::native::{error_frame, ServerFrame, Span};
use crate::store::StoreError;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Something the shell must do. A list of effects is applied in order; the log was already
/// written when the list was made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Send `text` to one connection.
    Send { to: ConnId, text: String },
    /// Send `text` to every open connection of the room, except `except`.
    Broadcast { text: String, except: Option<ConnId> },
    /// Close one connection with `code`, and forget its socket: it must not come back after a
    /// hibernation even if the client never completes the close.
    Close { to: ConnId, code: u16, reason: String },
    /// Wake the room at `at` (ms since the epoch) and call [`Room::on_alarm`]. Replaces any
    /// alarm set before.
    SetAlarm { at: i64 },
    /// Store `conn`'s activity (`status.rs`) where it outlives a hibernation ([`ActivityRows`]),
    /// replacing what was stored; `None` forgets it.
    Remember { conn: ConnId, activity: Option<Activity> },
}

/// The answer to a publish: what the `ack` frame and the REST reply carry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Ack {
    pub id: String,
    pub seq: u64,
    /// The id had been published before; this is that first publish's ack.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub duplicate: bool,
}

/// One connection as the room knows it: what the shell keeps with the socket (its attachment)
/// so the connection can be restored after hibernation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    pub conn: ConnId,
    pub user: User,
    /// When the token that opened it stops being valid (ms since the epoch, leeway included).
    pub expires_at: i64,
    /// A name the connection is also known by outside the room: a Socket.IO session's socket
    /// id, which a REST publish names (`x-socket-id`) to not be echoed to that socket.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    /// The client's address ([`crate::connections::address_key`]), which the connection caps
    /// count it under; kept so a socket found again after hibernation is counted the same.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
}

struct Conn {
    /// The profile from this connection's own token: its messages carry it.
    profile: User,
    expires_at: i64,
    bucket: TokenBucket,
    tag: Option<String>,
    activity: Activity,
}

struct Member {
    /// The profile of the user's newest connection.
    profile: User,
    connections: usize,
}

pub struct Room<L: Log> {
    id: RoomId,
    limits: Limits,
    retention: Retention,
    log: L,
    last_seq: u64,
    /// The ts of the last message; a new message's ts is never earlier, so retention by age
    /// drops a prefix of the log.
    last_ts: i64,
    conns: BTreeMap<ConnId, Conn>,
    members: BTreeMap<UserId, Member>,
    /// The alarm this room asked for and has not seen fire yet.
    alarm_at: Option<i64>,
}

impl<L: Log> Room<L> {
    /// Loads a room over its log (a new room when the log is empty).
    pub fn load(id: RoomId, limits: Limits, retention: Retention, mut log: L) -> Result<Self, StoreError> {
        let last_seq = log.last_seq()?;
        let last_ts = match last_seq {
            0 => i64::MIN,
            seq => log.read(seq - 1, seq + 1, i64::MIN, 1)?.first().map_or(i64::MIN, |e| e.ts),
        };
        Ok(Self {
            id,
            limits,
            retention,
            log,
            last_seq,
            last_ts,
            conns: BTreeMap::new(),
            members: BTreeMap::new(),
            alarm_at: None,
        })
    }

    pub fn id(&self) -> &RoomId {
        &self.id
    }

    /// The seq of the last message; 0 when nothing was ever published.
    pub fn last_seq(&self) -> u64 {
        self.last_seq
    }

    /// Whether `conn` is registered (a refused connection never is).
    pub fn has_connection(&self, conn: &ConnId) -> bool {
        self.conns.contains_key(conn)
    }

    /// The connection known by `tag` (see [`Session::tag`]).
    pub fn tagged(&self, tag: &str) -> Option<&ConnId> {
        self.conns.iter().find(|(_, c)| c.tag.as_deref() == Some(tag)).map(|(id, _)| id)
    }

    pub fn connection_count(&self) -> usize {
        self.conns.len()
    }

    /// The log, for tests and tools (the room's own users go through its inputs).
    pub fn log_mut(&mut self) -> &mut L {
        &mut self.log
    }

    /// The seq of the message `publisher` published with idempotency key `id`, if it is
    /// still in the log.
    pub fn find(&mut self, publisher: &str, id: &str) -> Result<Option<u64>, StoreError> {
        self.log.find(publisher, id)
    }

    /// Whether a connection with this resume point would be accepted now; when not, the error
    /// to tell the client and the close code. [`Room::on_connect`] applies the same check.
    pub fn admit(&self, since: Option<u64>) -> Result<(), (Error, u16)> {
        if self.conns.len() >= self.limits.max_connections_per_room {
            let error = Error::new(
                ErrorCode::RoomFull,
                format!("room {} already has {} connections, its limit", self.id, self.conns.len()),
            );
            return Err((error, close::ROOM_FULL));
        }
        if let Some(since) = since.filter(|&s| s > self.last_seq) {
            let error = Error::new(
                ErrorCode::SinceAhead,
                format!(
                    "since={since} is past room {}'s last message ({}); reconnect without since",
                    self.id, self.last_seq
                ),
            )
            .with_details(serde_json::json!({ "since": since, "seq": self.last_seq }));
            return Err((error, close::SINCE_AHEAD));
        }
        Ok(())
    }

    /// A connection opens. `since` asks for every message after that seq before live ones.
    pub fn on_connect(&mut self, now: i64, session: Session, since: Option<u64>) -> Vec<Effect> {
        let conn = session.conn.clone();
        if let Err((error, code)) = self.admit(since) {
            return refuse(conn, &error, code);
        }
        let mut effects = match self.greet(now, &session, since) {
            Ok(effects) => effects,
            Err(e) => {
                let error = Error::internal(format!("could not read the room's log: {e}"));
                return refuse(conn, &error, close::INTERNAL);
            }
        };
        effects.extend(self.statuses_for(&conn));
        let expires_at = session.expires_at;
        if self.add_connection(now, session) {
            let profile = &self.members[&self.conns[&conn].profile.id].profile;
            let text = ServerFrame::Joined { user: profile }.encode();
            effects.push(Effect::Broadcast { text, except: Some(conn) });
        }
        if self.alarm_at.is_none_or(|at| expires_at < at) {
            self.alarm_at = Some(expires_at);
            effects.push(Effect::SetAlarm { at: expires_at });
        }
        effects
    }

    /// `welcome`, `presence`, then the messages after `since`: made before the connection is
    /// registered, so nothing live can slip between them. The replay holds at most
    /// `max_batch_bytes` of messages; past that, `welcome.truncated` names the rest to fetch
    /// over REST history, and `welcome.gap` names what retention already dropped.
    fn greet(&mut self, now: i64, session: &Session, since: Option<u64>) -> Result<Vec<Effect>, StoreError> {
        let (floor, min_ts) = self.window(now);
        let (replay, truncated, gap) = match since.filter(|&s| s < self.last_seq) {
            None => (Vec::new(), None, None),
            Some(since) => {
                let (entries, more) =
                    self.collect(since.max(floor), self.last_seq + 1, min_ts, usize::MAX, self.limits.max_batch_bytes)?;
                let first_kept = entries.first().map_or(self.last_seq + 1, |e| e.seq);
                let gap = (first_kept > since + 1).then_some(Span { from: since + 1, to: first_kept - 1 });
                let truncated = entries.last().filter(|_| more).map(|e| Span { from: e.seq + 1, to: self.last_seq });
                (entries, truncated, gap)
            }
        };
        let to = &session.conn;
        let welcome = ServerFrame::Welcome {
            conn: &to.0,
            user: &session.user,
            room: &self.id,
            seq: self.last_seq,
            gap,
            truncated,
        };
        let mut members: Vec<&User> = self.members.values().map(|m| &m.profile).collect();
        if !self.members.contains_key(&session.user.id) {
            members.push(&session.user);
        }
        let mut effects = vec![
            Effect::Send { to: to.clone(), text: welcome.encode() },
            Effect::Send { to: to.clone(), text: ServerFrame::Presence { members }.encode() },
        ];
        effects.extend(replay.into_iter().map(|e| Effect::Send { to: to.clone(), text: e.frame }));
        Ok(effects)
    }

    /// Registers a connection; true when it is the user's first (a new member).
    fn add_connection(&mut self, now: i64, session: Session) -> bool {
        let bucket = TokenBucket::new(now, self.limits.messages_per_second, self.limits.message_burst);
        let user_id = session.user.id.clone();
        let member = self.members.entry(user_id).or_insert(Member { profile: session.user.clone(), connections: 0 });
        member.profile = session.user.clone();
        member.connections += 1;
        let first = member.connections == 1;
        let conn = Conn {
            profile: session.user,
            expires_at: session.expires_at,
            bucket,
            tag: session.tag,
            activity: Activity::default(),
        };
        self.conns.insert(session.conn, conn);
        first
    }

    /// Re-registers a connection that was open before the object hibernated. No frames: the
    /// client saw nothing happen. Its expiry alarm was set when it connected.
    pub fn restore(&mut self, now: i64, session: Session) {
        if !self.conns.contains_key(&session.conn) {
            self.alarm_at = Some(self.alarm_at.map_or(session.expires_at, |at| at.min(session.expires_at)));
            self.add_connection(now, session);
        }
    }

    /// A connection closed (or errored). Announces its user's new status when it changes
    /// (`status.rs`), and `left` when it was the user's last.
    pub fn on_close(&mut self, conn: &ConnId) -> Vec<Effect> {
        let Some(gone) = self.conns.remove(conn) else { return Vec::new() };
        let mut effects = self.activity_closed(conn, &gone);
        let member = self.members.get_mut(&gone.profile.id).expect("every connection has a member");
        member.connections -= 1;
        if member.connections > 0 {
            return effects;
        }
        let member = self.members.remove(&gone.profile.id).expect("present above");
        effects.push(Effect::Broadcast { text: ServerFrame::Left { user: &member.profile }.encode(), except: None });
        effects
    }

    /// The room's alarm fired: ends every session whose token has expired, and asks for the
    /// next alarm if sessions remain.
    pub fn on_alarm(&mut self, now: i64) -> Vec<Effect> {
        self.alarm_at = None;
        let expired: Vec<ConnId> =
            self.conns.iter().filter(|(_, c)| c.expires_at <= now).map(|(id, _)| id.clone()).collect();
        let mut effects: Vec<Effect> = expired.iter().flat_map(|conn| self.expire(conn)).collect();
        if let Some(next) = self.conns.values().map(|c| c.expires_at).min() {
            self.alarm_at = Some(next);
            effects.push(Effect::SetAlarm { at: next });
        }
        effects
    }

    /// Ends a session whose token expired: the client is told, then closed with a code that
    /// says "reconnect only with a new token".
    pub(crate) fn expire(&mut self, conn: &ConnId) -> Vec<Effect> {
        let error = Error::new(
            ErrorCode::TokenExpired,
            "the token this connection opened with has expired; reconnect with a new one",
        );
        self.end(conn, &error, close::TOKEN_EXPIRED)
    }

    /// Tells a registered connection why, closes it, and removes it from the room at once
    /// (with `left` when it was the user's last), not when the client completes the close.
    fn end(&mut self, conn: &ConnId, error: &Error, code: u16) -> Vec<Effect> {
        let mut effects = refuse(conn.clone(), error, code);
        effects.extend(self.on_close(conn));
        effects
    }

    /// Retention as read bounds: messages at or below `floor`, or older than `min_ts`, are gone.
    pub(crate) fn window(&self, now: i64) -> (u64, i64) {
        (self.last_seq.saturating_sub(self.retention.max_messages), now.saturating_sub(self.retention.max_age_ms))
    }

    /// The room's limits.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// The user of `conn` and when its token stops being valid, for the adapters above the room
    /// that read some of a connection's frames themselves (tndata, an inbox's marks).
    pub(crate) fn session_of(&self, conn: &ConnId) -> Option<(&UserId, i64)> {
        self.conns.get(conn).map(|c| (&c.profile.id, c.expires_at))
    }

    /// The alarm this room asked for and has not seen fire yet (its sessions' expiry), for a
    /// shell that shares the object's one alarm with something else (an inbox).
    pub fn alarm_at(&self) -> Option<i64> {
        self.alarm_at
    }

    /// The room's members (one entry per user, however many connections), by user id.
    pub fn presence(&self) -> Vec<&User> {
        self.members.values().map(|m| &m.profile).collect()
    }
}

/// An error frame, then a close.
fn refuse(conn: ConnId, error: &Error, code: u16) -> Vec<Effect> {
    vec![
        Effect::Send { to: conn.clone(), text: error_frame(error, None) },
        Effect::Close { to: conn, code, reason: error.code.as_str().to_owned() },
    ]
}
