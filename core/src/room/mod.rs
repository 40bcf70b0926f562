//! The room state machine: one room's connections, presence, order and log.
//!
//! Inputs are `on_*` calls (and [`Room::publish`] for REST), each given `now`; outputs are
//! [`Effect`]s for the shell to perform. Reads and writes of the log happen inside the call,
//! synchronously, before any effect exists: a message is stored with its idempotency key
//! before anyone can be told about it.
//!
//! | input                      | what it does                                                   |
//! |----------------------------|----------------------------------------------------------------|
//! | [`Room::on_connect`]       | limits, `welcome`, `presence`, replay after `since`, `joined`   |
//! | [`Room::on_frame`]         | size, decode, rate, then `publish` → `ack` + `message`, `ping`  |
//! | [`Room::on_binary`]        | refused: the native protocol is text                          |
//! | [`Room::on_close`]         | forget the connection; `left` when it was the user's last     |
//! | [`Room::restore`]          | re-register a connection after the object woke from hibernation |
//! | [`Room::publish`]          | a REST publish: same order and idempotency as a websocket one |
//! | [`Room::history`], [`Room::presence`] | reads                                           |

mod history;
mod log;
mod rate;
mod sql_log;

pub use history::{ack_json, presence_json, HistoryQuery, Page, PAGE_DEFAULT, PAGE_MAX};
pub use log::{Entry, Log, MemoryLog, StoreError};
pub use rate::TokenBucket;
pub use sql_log::{Sql, SqlLog, SqlValue};

use crate::config::{Limits, Retention};
use crate::error::{close, Error, ErrorCode};
use crate::ids::{ConnId, RoomId, User, UserId};
use crate::message::Draft;
use crate::protocol::native::{self, error_frame, Command, Gap, ServerFrame};
use serde::Serialize;
use std::collections::BTreeMap;

/// Something the shell must do. A list of effects is applied in order; the log was already
/// written when the list was made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Send `text` to one connection.
    Send { to: ConnId, text: String },
    /// Send `text` to every open connection of the room, except `except`.
    Broadcast { text: String, except: Option<ConnId> },
    /// Close one connection with `code` and forget its socket.
    Close { to: ConnId, code: u16, reason: String },
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

/// How many appends pass between two physical prunes. Reads apply retention exactly whatever
/// is still stored, so pruning can be lazy.
const PRUNE_EVERY: u32 = 64;

/// Replay reads the log in chunks of this many messages.
const REPLAY_CHUNK: usize = 256;

struct Conn {
    user: UserId,
    bucket: TokenBucket,
}

struct Member {
    profile: User,
    connections: usize,
}

pub struct Room<L: Log> {
    id: RoomId,
    limits: Limits,
    retention: Retention,
    log: L,
    last_seq: u64,
    conns: BTreeMap<ConnId, Conn>,
    members: BTreeMap<UserId, Member>,
    appends_since_prune: u32,
}

impl<L: Log> Room<L> {
    /// Loads a room over its log (a new room when the log is empty).
    pub fn load(id: RoomId, limits: Limits, retention: Retention, mut log: L) -> Result<Self, StoreError> {
        let last_seq = log.last_seq()?;
        Ok(Self {
            id,
            limits,
            retention,
            log,
            last_seq,
            conns: BTreeMap::new(),
            members: BTreeMap::new(),
            appends_since_prune: 0,
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

    pub fn connection_count(&self) -> usize {
        self.conns.len()
    }

    pub fn log_mut(&mut self) -> &mut L {
        &mut self.log
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
    pub fn on_connect(&mut self, now: i64, conn: ConnId, user: User, since: Option<u64>) -> Vec<Effect> {
        if let Err((error, code)) = self.admit(since) {
            return refuse(conn, &error, code);
        }
        let mut effects = Vec::new();
        match self.replay(now, since, &conn, &user, &mut effects) {
            Ok(()) => {}
            Err(e) => {
                return refuse(conn, &Error::internal(format!("could not read the room's log: {e}")), close::INTERNAL)
            }
        }
        let is_new_member = self.add_connection(now, conn.clone(), user);
        if is_new_member {
            let profile = &self.members[&self.conns[&conn].user].profile;
            effects
                .push(Effect::Broadcast { text: ServerFrame::Joined { user: profile }.encode(), except: Some(conn) });
        }
        effects
    }

    /// `welcome`, `presence`, then the messages after `since` (all before the connection is
    /// registered, so nothing live can slip between them).
    fn replay(
        &mut self,
        now: i64,
        since: Option<u64>,
        conn: &ConnId,
        user: &User,
        effects: &mut Vec<Effect>,
    ) -> Result<(), StoreError> {
        let (floor, min_ts) = self.window(now);
        let first = match since {
            Some(since) if since < self.last_seq => {
                self.log.read(since.max(floor), self.last_seq + 1, min_ts, 1)?.into_iter().next()
            }
            _ => None,
        };
        let gap = since.filter(|&s| s < self.last_seq).and_then(|since| {
            let first_kept = first.as_ref().map_or(self.last_seq + 1, |e| e.seq);
            (first_kept > since + 1).then_some(Gap { from: since + 1, to: first_kept - 1 })
        });
        let welcome = ServerFrame::Welcome { conn: &conn.0, user, room: &self.id, seq: self.last_seq, gap }.encode();
        effects.push(Effect::Send { to: conn.clone(), text: welcome });

        let mut members: Vec<&User> = self.members.values().map(|m| &m.profile).collect();
        if !self.members.contains_key(&user.id) {
            members.push(user);
        }
        effects.push(Effect::Send { to: conn.clone(), text: ServerFrame::Presence { members }.encode() });

        let Some(first) = first else { return Ok(()) };
        let mut after = first.seq;
        effects.push(Effect::Send { to: conn.clone(), text: first.frame });
        loop {
            let chunk = self.log.read(after, self.last_seq + 1, min_ts, REPLAY_CHUNK)?;
            let done = chunk.len() < REPLAY_CHUNK;
            for entry in chunk {
                after = entry.seq;
                effects.push(Effect::Send { to: conn.clone(), text: entry.frame });
            }
            if done {
                return Ok(());
            }
        }
    }

    /// Registers a connection; true when it is the user's first (a new member).
    fn add_connection(&mut self, now: i64, conn: ConnId, user: User) -> bool {
        let user_id = user.id.clone();
        let bucket = TokenBucket::new(now, self.limits.messages_per_second, self.limits.message_burst);
        self.conns.insert(conn, Conn { user: user_id.clone(), bucket });
        let member = self.members.entry(user_id).or_insert(Member { profile: user, connections: 0 });
        member.connections += 1;
        member.connections == 1
    }

    /// Re-registers a connection that was open before the object hibernated. No frames: the
    /// client saw nothing happen.
    pub fn restore(&mut self, now: i64, conn: ConnId, user: User) {
        if !self.conns.contains_key(&conn) {
            self.add_connection(now, conn, user);
        }
    }

    /// A text frame arrives on `conn`. `fresh_id` names a message published without an id.
    pub fn on_frame(&mut self, now: i64, conn: &ConnId, text: &str, fresh_id: impl FnOnce() -> String) -> Vec<Effect> {
        if !self.conns.contains_key(conn) {
            // A socket the room refused or already closed; its close is under way.
            return Vec::new();
        }
        if text.len() > self.limits.max_frame_bytes {
            return self.too_big(conn, text.len());
        }
        let decoded = native::decode(text);
        let transaction = match &decoded {
            Ok(frame) => frame.transaction.clone(),
            Err(e) => e.transaction.clone(),
        };
        let send = |text: String| vec![Effect::Send { to: conn.clone(), text }];
        if let Err(wait_ms) = self.conns.get_mut(conn).expect("checked above").bucket.take(now) {
            let error = Error::new(
                ErrorCode::RateLimited,
                format!(
                    "more than {} messages per second; this frame was not processed",
                    self.limits.messages_per_second
                ),
            )
            .with_details(serde_json::json!({ "retry_after_ms": wait_ms }));
            return send(error_frame(&error, transaction.as_ref()));
        }
        let frame = match decoded {
            Ok(frame) => frame,
            Err(e) => return send(error_frame(&e.error, e.transaction.as_ref())),
        };
        match frame.command {
            Command::Ping => send(ServerFrame::Pong { transaction: transaction.as_ref() }.encode()),
            Command::Publish(draft) => {
                let from = self.profile_of(conn).clone();
                match self.commit(now, &from, draft, fresh_id) {
                    Ok((ack, message)) => {
                        let ack_frame = ServerFrame::Ack {
                            id: &ack.id,
                            seq: ack.seq,
                            duplicate: ack.duplicate,
                            transaction: transaction.as_ref(),
                        };
                        let mut effects = send(ack_frame.encode());
                        effects.extend(message.map(|text| Effect::Broadcast { text, except: None }));
                        effects
                    }
                    Err(error) => send(error_frame(&error, transaction.as_ref())),
                }
            }
        }
    }

    /// A binary frame arrives: the native protocol is JSON text only.
    pub fn on_binary(&mut self, conn: &ConnId, len: usize) -> Vec<Effect> {
        if !self.conns.contains_key(conn) {
            return Vec::new();
        }
        if len > self.limits.max_frame_bytes {
            return self.too_big(conn, len);
        }
        let error =
            Error::new(ErrorCode::InvalidField, "binary frames are not part of the native protocol; send JSON text");
        vec![Effect::Send { to: conn.clone(), text: error_frame(&error, None) }]
    }

    /// Refuses the frame and ends the connection: it leaves the room now (with `left` when it
    /// was the user's last), not when the client gets round to completing the close.
    fn too_big(&mut self, conn: &ConnId, len: usize) -> Vec<Effect> {
        let error = Error::new(
            ErrorCode::FrameTooLarge,
            format!("a {len}-byte frame is over the {}-byte limit", self.limits.max_frame_bytes),
        );
        let mut effects = refuse(conn.clone(), &error, close::MESSAGE_TOO_BIG);
        effects.extend(self.on_close(conn));
        effects
    }

    /// A connection closed (or errored). Announces `left` when it was the user's last.
    pub fn on_close(&mut self, conn: &ConnId) -> Vec<Effect> {
        let Some(gone) = self.conns.remove(conn) else { return Vec::new() };
        let member = self.members.get_mut(&gone.user).expect("every connection has a member");
        member.connections -= 1;
        if member.connections > 0 {
            return Vec::new();
        }
        let member = self.members.remove(&gone.user).expect("present above");
        vec![Effect::Broadcast { text: ServerFrame::Left { user: &member.profile }.encode(), except: None }]
    }

    /// A REST publish by `from`: the same order, log and idempotency as a websocket publish.
    pub fn publish(
        &mut self,
        now: i64,
        from: &User,
        draft: Draft,
        fresh_id: impl FnOnce() -> String,
    ) -> Result<(Ack, Vec<Effect>), Error> {
        let (ack, message) = self.commit(now, from, draft, fresh_id)?;
        Ok((ack, message.map(|text| Effect::Broadcast { text, except: None }).into_iter().collect()))
    }

    /// Gives the draft its seq and stores it, or finds the first publish of its key. Returns
    /// the ack and, for a new message, the `message` frame to broadcast.
    fn commit(
        &mut self,
        now: i64,
        from: &User,
        draft: Draft,
        fresh_id: impl FnOnce() -> String,
    ) -> Result<(Ack, Option<String>), Error> {
        let storage = |e: StoreError| Error::internal(format!("the message was not published: {e}"));
        if let Some(key) = &draft.key {
            if let Some(seq) = self.log.find(from.id.as_str(), key).map_err(storage)? {
                return Ok((Ack { id: key.clone(), seq, duplicate: true }, None));
            }
        }
        let id = draft.key.unwrap_or_else(fresh_id);
        let seq = self.last_seq + 1;
        let frame = ServerFrame::Message {
            room: &self.id,
            seq,
            id: &id,
            event: &draft.event,
            data: &draft.data,
            from,
            ts: now,
        }
        .encode();
        let entry = Entry { seq, id, publisher: from.id.as_str().to_owned(), ts: now, frame };
        self.log.append(&entry).map_err(storage)?;
        self.last_seq = seq;
        self.prune_now_and_then(now);
        Ok((Ack { id: entry.id, seq, duplicate: false }, Some(entry.frame)))
    }

    fn prune_now_and_then(&mut self, now: i64) {
        self.appends_since_prune += 1;
        if self.appends_since_prune < PRUNE_EVERY {
            return;
        }
        self.appends_since_prune = 0;
        let (floor, min_ts) = self.window(now);
        // A failed prune only keeps old messages longer; reads apply retention anyway.
        let _ = self.log.prune(floor + 1, min_ts);
    }

    /// Retention as read bounds: messages at or below `floor`, or older than `min_ts`, are gone.
    fn window(&self, now: i64) -> (u64, i64) {
        (self.last_seq.saturating_sub(self.retention.max_messages), now.saturating_sub(self.retention.max_age_ms))
    }

    /// The room's members (one entry per user, however many connections), by user id.
    pub fn presence(&self) -> Vec<&User> {
        self.members.values().map(|m| &m.profile).collect()
    }

    fn profile_of(&self, conn: &ConnId) -> &User {
        &self.members[&self.conns[conn].user].profile
    }
}

/// An error frame, then a close.
fn refuse(conn: ConnId, error: &Error, code: u16) -> Vec<Effect> {
    vec![
        Effect::Send { to: conn.clone(), text: error_frame(error, None) },
        Effect::Close { to: conn, code, reason: error.code.as_str().to_owned() },
    ]
}
