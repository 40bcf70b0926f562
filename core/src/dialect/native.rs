//! The `native` dialect: Herald's room protocol as Socket.IO events, any number of rooms over
//! one connection (docs/socketio.md, "The native dialect").
//!
//! The session lives in its home object; each room it joins is a membership here and a
//! connection of that room's object, reached with [`RoomCommand`]s. What the room sends back
//! arrives as [`RoomEvent`]s: native frames, each turned into an event named by its `type`
//! (or into the answer to a pending ack), with the room's id added where the frame lacks it.
//!
//! | client event | becomes                          | answered by                         |
//! |--------------|----------------------------------|-------------------------------------|
//! | `join`       | [`RoomCommand::Join`]            | the room's `welcome` (or `error`)   |
//! | `publish`    | [`RoomCommand::Frame`] (publish) | the room's `ack` (or `error`)       |
//! | `leave`      | [`RoomCommand::Leave`]           | the room's close of the membership  |

use super::membership::{Leave, Memberships, Phase, Update};
use super::session::{authenticate, on_connect, Auth, NSP};
use super::{Dialect, Effect};
use crate::auth::Identity;
use crate::engineio::Payload;
use crate::error::{Error, ErrorCode};
use crate::ids::{RoomId, User};
use crate::internal::MemberOp;
use crate::protocol::native::{ServerFrame, TRANSACTION_MAX};
use crate::socketio::connection::{Connection, Incoming};
use crate::socketio::{Kind, Packet};
use crate::vec_map::VecMap;
use serde_json::{json, Map, Value};

/// Transactions the dialect puts on publishes that wait for a Socket.IO ack.
const ACK_TRANSACTION: &str = "sio-ack:";

/// What a session asks of a room.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RoomCommand {
    /// Become a member as `user` until `expires_at`, resuming after `since`.
    Join {
        user: User,
        expires_at: i64,
        since: Option<u64>,
        /// The session's socket id, for REST publishes that name it (`x-socket-id`).
        tag: Option<String>,
    },
    /// A native protocol frame, as a websocket client of the room would send it.
    Frame(String),
    Leave,
}

impl From<RoomCommand> for MemberOp {
    /// A command as the home sends it to the room's object.
    fn from(command: RoomCommand) -> Self {
        match command {
            RoomCommand::Join { user, expires_at, since, tag } => MemberOp::Join { user, expires_at, since, tag },
            RoomCommand::Frame(text) => MemberOp::Frame { text },
            RoomCommand::Leave => MemberOp::Leave,
        }
    }
}

/// What reaches a session from a room.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RoomEvent<'a> {
    /// A native protocol frame the room sent this member.
    Frame(&'a str),
    /// The room ended the membership (after a leave, or on its own after an `error` frame).
    Closed,
    /// The room could not be reached with this session's commands: the membership is gone.
    Failed(&'a Error),
}

#[derive(Debug)]
pub struct Native {
    auth: Auth,
    identity: Option<Identity>,
    rooms: Memberships<Owed>,
}

/// What a membership owes the client: the answers its room has still to give.
#[derive(Debug, Default)]
struct Owed {
    /// The join's ack id, until the `welcome` (or an `error`, or the close) answers it; a join
    /// left before its welcome is answered all the same.
    join: Option<u64>,
    /// The leave's ack id, answered once the room let go.
    leave: Option<u64>,
    /// Publishes waiting for their Socket.IO ack, by the transaction given to the room.
    acks: VecMap<String, u64>,
    /// The `error` the room sent last, when it was the last frame: the reason of a close that
    /// follows, which the client has already seen.
    told: Option<Map<String, Value>>,
}

impl Native {
    pub fn new(auth: Auth) -> Self {
        Self { auth, identity: None, rooms: Memberships::default() }
    }
}

impl Dialect for Native {
    fn on_incoming(
        &mut self,
        socketio: &mut Connection,
        incoming: Incoming,
        now: i64,
        fresh_id: &mut dyn FnMut() -> String,
    ) -> Vec<Effect> {
        match incoming {
            Incoming::Connect { nsp, auth } => on_connect(socketio, &nsp, fresh_id(), |_| {
                self.identity = Some(authenticate(&self.auth, auth.as_ref(), now)?);
                Ok(())
            }),
            Incoming::Disconnect { .. } => {
                self.identity = None;
                self.on_closed()
            }
            Incoming::Packet(packet) if packet.kind == Kind::Event => self.on_event(packet, now),
            // The dialect never asks the client for an ack.
            Incoming::Packet(_) => Vec::new(),
        }
    }

    /// The client left the namespace (or the session ended): every room is left, and nothing
    /// more is answered. Each membership stays, being left, until its room closes it
    /// ([`Memberships`]), so a join after a new CONNECT waits for that close instead of being
    /// ended by it.
    fn on_closed(&mut self) -> Vec<Effect> {
        self.rooms.leave_all().0
    }

    /// Something from `room`; `None` when this session is not (any more) a member there.
    fn on_room(&mut self, room: &RoomId, event: RoomEvent<'_>, _now: i64) -> Option<Vec<Effect>> {
        let text = match event {
            RoomEvent::Frame(text) => text,
            _ => "",
        };
        Some(match self.rooms.on_room(room, event)? {
            Update::Frame { phase, joining, data } => data.on_frame(room, text, phase, joining),
            // A membership of a namespace the client left ends unseen; a join that waited goes.
            Update::Unseen { then, .. } => then,
            Update::Ended { asked, failed, data, then } => {
                let mut effects = match failed {
                    None => data.on_closed(room, asked),
                    Some(error) => data.on_failed(room, error),
                };
                // A join that waited for this close goes now.
                effects.extend(then);
                effects
            }
        })
    }
}

impl Native {
    fn on_event(&mut self, mut packet: Packet, now: i64) -> Vec<Effect> {
        let ack = packet.id;
        let Some(Value::Array(args)) = packet.data.take() else { return Vec::new() };
        let mut args = args.into_iter();
        let name = args.next().and_then(|n| n.as_str().map(str::to_owned)).unwrap_or_default();
        let argument = args.next();
        // Without an ack callback, an error echoes the client's own `transaction`.
        let transaction = match (&argument, ack) {
            (Some(Value::Object(fields)), None) => fields.get("transaction").filter(|t| is_transaction(t)).cloned(),
            _ => None,
        };
        let answer = |error: Error, room: Option<&RoomId>| reply(ack, error_object(&error, room, transaction.as_ref()));
        if !matches!(name.as_str(), "join" | "publish" | "leave") {
            let error = Error::new(
                ErrorCode::UnknownType,
                format!("unknown event {name:?} (expected \"join\", \"publish\" or \"leave\")"),
            )
            .with_details(json!({ "event": name }));
            return answer(error, None);
        }
        if !packet.attachments.is_empty() {
            let error = Error::invalid_field("data", "binary attachments are not part of the native dialect");
            return answer(error, None);
        }
        let Some(Value::Object(fields)) = argument else {
            return answer(Error::invalid_field("arguments", format!("`{name}` takes one object")), None);
        };
        let room = match fields.get("room") {
            Some(Value::String(raw)) => RoomId::parse(raw),
            Some(_) => Err(Error::invalid_field("room", "must be a string")),
            None => Err(Error::invalid_field("room", "is required")),
        };
        let room = match room {
            Ok(room) => room,
            Err(error) => return answer(error, None),
        };
        let effects = match name.as_str() {
            "join" => self.join(&room, &fields, ack, now),
            "publish" => self.publish(&room, fields, ack),
            _ => self.leave(&room, ack),
        };
        effects.unwrap_or_else(|error| answer(error, Some(&room)))
    }

    fn join(
        &mut self,
        room: &RoomId,
        fields: &Map<String, Value>,
        ack: Option<u64>,
        now: i64,
    ) -> Result<Vec<Effect>, Error> {
        let identity = self.identity.as_ref().expect("events come only after a CONNECT");
        identity.require_room(room)?;
        self.rooms.may_join(room)?;
        let since = match fields.get("since") {
            None | Some(Value::Null) => None,
            Some(v) => Some(v.as_u64().ok_or_else(|| Error::invalid_field("since", "must be a non-negative integer"))?),
        };
        let expires_at = self.auth.verifier.session_end(identity);
        if now >= expires_at {
            return Err(expired());
        }
        let command = RoomCommand::Join { user: identity.user.clone(), expires_at, since, tag: None };
        // Joined again while being left, it waits for the room to let go ([`Memberships`]).
        let sent = self.rooms.join(room, command, Owed { join: ack, ..Owed::default() })?;
        Ok(sent.into_iter().collect())
    }

    fn publish(
        &mut self,
        room: &RoomId,
        mut fields: Map<String, Value>,
        ack: Option<u64>,
    ) -> Result<Vec<Effect>, Error> {
        let owed = match self.rooms.addressed(room) {
            Some((Phase::Joining | Phase::Joined, owed)) => owed,
            _ => return Err(not_joined(room)),
        };
        fields.remove("room");
        fields.insert("type".into(), Value::from("publish"));
        if let Some(id) = ack {
            let transaction = format!("{ACK_TRANSACTION}{id}");
            fields.insert("transaction".into(), Value::from(transaction.clone()));
            owed.acks.insert(transaction, id);
        }
        let command = RoomCommand::Frame(Value::Object(fields).to_string());
        Ok(self.rooms.send(room, command)?.into_iter().collect())
    }

    fn leave(&mut self, room: &RoomId, ack: Option<u64>) -> Result<Vec<Effect>, Error> {
        if !matches!(self.rooms.phase(room), Some(Phase::Joining | Phase::Joined)) {
            return Err(not_joined(room));
        }
        match self.rooms.leave(room)? {
            Leave::Sent(leave) => {
                let (_, owed) = self.rooms.addressed(room).expect("being left");
                owed.leave = ack;
                Ok(vec![leave])
            }
            // The join that waited never goes: what it owes is answered as not joined, and
            // this leave at once (there is nothing else to wait for).
            Leave::Cancelled(owed) => {
                let mut effects = owed.fail_pending(&error_object(&not_joined(room), Some(room), None));
                effects.extend(reply(ack, as_object(json!({ "type": "leave", "room": room }))));
                Ok(effects)
            }
        }
    }
}

impl Owed {
    /// A frame of the room for this membership, in `phase`; `joining` when it is the welcome
    /// that joined it.
    fn on_frame(&mut self, room: &RoomId, text: &str, phase: Phase, joining: bool) -> Vec<Effect> {
        let parsed;
        let kind = match frame_type(text) {
            Some(kind) => kind,
            None => {
                parsed = parse(text);
                parsed.get("type").and_then(Value::as_str).unwrap_or("error")
            }
        };
        self.told = None;
        match kind {
            // The welcome answers the join, also one left before it was joined.
            "welcome" if joining || phase == Phase::Leaving => match self.join.take() {
                Some(id) => reply(Some(id), parse(text)),
                None => event(kind, text, room),
            },
            "ack" | "error" => {
                let mut object = parse(text);
                object.insert("room".into(), Value::from(room.as_str()));
                let pending = match object.get("transaction") {
                    Some(Value::String(t)) => self.acks.remove(t),
                    // An error without a transaction before the welcome answers the join.
                    None if kind == "error" => self.join.take(),
                    _ => None,
                };
                if pending.is_some() {
                    object.remove("transaction");
                }
                if kind == "error" {
                    self.told = Some(object.clone());
                }
                reply(pending, object)
            }
            _ => event(kind, text, room),
        }
    }

    /// The room ended this membership: a leave (`asked`) is answered; a pending join or
    /// publish gets the reason the room gave (`not_joined` when it gave none).
    fn on_closed(mut self, room: &RoomId, asked: bool) -> Vec<Effect> {
        if asked {
            let done = as_object(json!({ "type": "leave", "room": room }));
            let leave = self.leave.take();
            let mut effects = self.fail_pending(&error_object(&not_joined(room), Some(room), None));
            effects.extend(reply(leave, done));
            return effects;
        }
        let told = self.told.take();
        let ended = Error::new(ErrorCode::NotJoined, format!("room {room} ended this membership"));
        let reason = told.clone().unwrap_or_else(|| error_object(&ended, Some(room), None));
        let effects = self.fail_pending(&reason);
        if effects.is_empty() && told.is_none() {
            return reply(None, reason);
        }
        effects
    }

    /// The room could not be reached: every pending answer is this error; with none pending,
    /// the client is told with an `error` event.
    fn on_failed(mut self, room: &RoomId, error: &Error) -> Vec<Effect> {
        let reason = error_object(error, Some(room), None);
        // A leave waiting for the room is answered too: the membership is over either way.
        let leave = self.leave.take();
        let mut effects = self.fail_pending(&reason);
        if let Some(id) = leave {
            let mut answer = reason.clone();
            answer.remove("transaction");
            effects.extend(reply(Some(id), answer));
        }
        if effects.is_empty() {
            return reply(None, reason);
        }
        effects
    }

    /// Answers every pending join and publish with `reason`.
    fn fail_pending(self, reason: &Map<String, Value>) -> Vec<Effect> {
        let mut reason = reason.clone();
        reason.remove("transaction");
        self.join.into_iter().chain(self.acks.into_values()).flat_map(|id| reply(Some(id), reason.clone())).collect()
    }
}

/// Sends `object` as the ack `id`, or, without one, as an event named by its `type`.
fn reply(ack: Option<u64>, object: Map<String, Value>) -> Vec<Effect> {
    let packet = match ack {
        Some(id) => Packet::ack(NSP, id, json!([object])),
        None => {
            let name = object.get("type").cloned().unwrap_or(Value::from("error"));
            Packet::event(NSP, json!([name, object]))
        }
    };
    Effect::emit(&packet)
}

/// A room frame as the event named by its `type`, with `room` added unless the frame has it.
/// Built as text: messages are the hot path, and are passed on without being parsed. (Frames
/// the room writes start with their `type`; any other shape takes the slow path.)
fn event(kind: &str, text: &str, room: &RoomId) -> Vec<Effect> {
    let head = format!(r#"{{"type":"{kind}""#);
    let Some(rest) = text.strip_prefix(head.as_str()) else {
        let mut object = parse(text);
        object.insert("room".into(), Value::from(room.as_str()));
        return reply(None, object);
    };
    let frame = match kind {
        "message" | "welcome" => text.to_owned(),
        // Room ids need no escaping (their characters are A-Z a-z 0-9 _ - . :).
        _ => format!(r#"{head},"room":"{room}"{rest}"#),
    };
    vec![Effect::Send(Payload::Text(format!(r#"2["{kind}",{frame}]"#)))]
}

/// The `type` of a server frame: frames are written with it first.
fn frame_type(text: &str) -> Option<&str> {
    let rest = text.strip_prefix(r#"{"type":""#)?;
    rest.split('"').next()
}

fn parse(text: &str) -> Map<String, Value> {
    serde_json::from_str(text).unwrap_or_default()
}

fn as_object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

/// The native protocol's `error` frame as an object, with `room` when one is concerned.
fn error_object(error: &Error, room: Option<&RoomId>, transaction: Option<&Value>) -> Map<String, Value> {
    let frame =
        ServerFrame::Error { code: error.code, message: &error.message, details: error.details.as_ref(), transaction };
    let mut object = as_object(serde_json::to_value(frame).expect("frames serialize"));
    if let Some(room) = room {
        object.insert("room".into(), Value::from(room.as_str()));
    }
    object
}

/// A `transaction` the native protocol accepts (and so echoes).
fn is_transaction(value: &Value) -> bool {
    match value {
        Value::String(t) => t.len() <= TRANSACTION_MAX,
        Value::Number(_) => true,
        _ => false,
    }
}

fn not_joined(room: &RoomId) -> Error {
    Error::new(ErrorCode::NotJoined, format!("room {room} is not joined; emit `join` first"))
}

fn expired() -> Error {
    Error::new(ErrorCode::TokenExpired, "the token this connection opened with has expired; connect with a new one")
}
