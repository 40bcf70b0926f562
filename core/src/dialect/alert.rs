//! The `alert` dialect: the Flask-SocketIO room chat Herald replaces, for its clients unchanged
//! (docs/dialects.md, "alert").
//!
//! | client event          | becomes                                                              |
//! |-----------------------|----------------------------------------------------------------------|
//! | `joined {name, room}` | join room `alert:{room}`, then publish `status {name, state: "joined"}` |
//! | `text {name, msg}`    | publish `message {name, msg}`                                        |
//! | `left {name}`         | publish `status {name, state: "left"}`, then leave                   |
//!
//! Every message of the room reaches every member (the sender too) as the event it was
//! published under, with its data as the argument: `status` and `message` from alert clients,
//! any other event an app publishes over REST. A session is in one room at a time (a
//! `joined` for another room leaves the first, announced); a session that ends while in a
//! room is announced as `left` there. Clients need no token unless the route says so
//! (`anonymous=false`); a token given in the auth payload or on the handshake is checked.
//! Refusals are `error {code, message, event}` events, and the ack when the client asked for
//! one; a handled event is acked with no arguments, as Flask-SocketIO does.

use super::membership::{publish, Leave, Memberships, Phase, Update};
use super::rooms::RoomFrame;
use super::session::{ack, anonymous, authenticate, emit, event_parts, on_connect, pass_on, Auth};
use super::{Dialect, Effect, RoomCommand, RoomEvent};
use crate::auth::Identity;
use crate::error::{Error, ErrorCode};
use crate::ids::{RoomId, NAME_MAX};
use crate::socketio::connection::{Connection, Incoming};
use crate::socketio::Kind;
use serde_json::{json, Map, Value};

/// The prefix of alert rooms' ids.
pub const ROOM_PREFIX: &str = "alert";

/// How long before its token runs out a session announces `left` and leaves its room: the
/// room ends the membership at that moment, after which nothing could be announced there.
pub const EXPIRY_MARGIN_MS: i64 = 5_000;

#[derive(Debug)]
pub struct Alert {
    auth: Auth,
    identity: Option<Identity>,
    rooms: Memberships<()>,
    /// The room the session is in, and the name it joined with.
    current: Option<(RoomId, String)>,
}

impl Alert {
    pub fn new(auth: Auth) -> Self {
        Self { auth, identity: None, rooms: Memberships::default(), current: None }
    }

    fn connect(&self, payload: Option<&Value>, now: i64, socket_id: &str) -> Result<Identity, Error> {
        match self.auth.token(payload)? {
            None if self.auth.anonymous => Ok(anonymous(socket_id, now)),
            _ => authenticate(&self.auth, payload, now),
        }
    }

    fn on_event(&mut self, name: &str, argument: Option<Value>) -> Result<Vec<Effect>, Error> {
        if !matches!(name, "joined" | "text" | "left") {
            return Err(Error::new(
                ErrorCode::UnknownType,
                format!("unknown event {name:?} (expected \"joined\", \"text\" or \"left\")"),
            ));
        }
        let Some(Value::Object(fields)) = argument else {
            return Err(Error::invalid_field("arguments", format!("`{name}` takes one object")));
        };
        let who = text_field(&fields, "name", NAME_MAX)?;
        match name {
            "joined" => {
                let raw = text_field(&fields, "room", usize::MAX)?;
                let room = RoomId::compose(ROOM_PREFIX, &[raw])?;
                self.join(room, who)
            }
            "text" => {
                // The room's frame limit caps the length.
                let msg = text_field(&fields, "msg", usize::MAX)?;
                let (room, _) = self.current.as_ref().ok_or_else(not_in_a_room)?;
                let message = publish("message", &json!({ "name": who, "msg": msg }));
                Ok(self.rooms.send(room, message)?.into_iter().collect())
            }
            _ => {
                let (room, _) = self.current.take().ok_or_else(not_in_a_room)?;
                Ok(self.part(&room, who))
            }
        }
    }

    fn join(&mut self, room: RoomId, name: &str) -> Result<Vec<Effect>, Error> {
        let identity = self.identity.as_ref().expect("events come only after a CONNECT");
        identity.require_room(&room)?;
        // Checked before the current room is left: a refusal must change nothing. (A room
        // still being left may be joined: the join waits for the room to let go.)
        if self.current.as_ref().is_none_or(|(current, _)| *current != room) {
            self.rooms.may_join(&room)?;
        }
        let mut user = identity.user.clone();
        user.name = Some(name.to_owned());
        let expires_at = self.auth.session_end(identity);
        let mut effects = Vec::new();
        match self.current.take() {
            Some((current, _)) if current == room => {
                self.current = Some((current, name.to_owned()));
                return Err(Error::new(ErrorCode::AlreadyJoined, "this connection is already in that room"));
            }
            Some((previous, previous_name)) => effects.extend(self.part(&previous, &previous_name)),
            None => {}
        }
        let command = RoomCommand::Join { user, expires_at, since: None, tag: None };
        effects.extend(self.rooms.join(&room, command, ())?);
        effects.extend(self.rooms.send(&room, publish("status", &json!({ "name": name, "state": "joined" })))?);
        self.current = Some((room, name.to_owned()));
        Ok(effects)
    }

    /// Announces `name` as left in `room`, and leaves it.
    fn part(&mut self, room: &RoomId, name: &str) -> Vec<Effect> {
        let announce = self.rooms.send(room, publish("status", &json!({ "name": name, "state": "left" })));
        let mut effects: Vec<Effect> = announce.ok().flatten().into_iter().collect();
        // A join that waited for the room's close is cancelled with what followed it.
        if let Ok(Leave::Sent(leave)) = self.rooms.leave(room) {
            effects.push(leave);
        }
        effects
    }
}

impl Dialect for Alert {
    fn on_incoming(
        &mut self,
        socketio: &mut Connection,
        incoming: Incoming,
        now: i64,
        fresh_id: &mut dyn FnMut() -> String,
    ) -> Vec<Effect> {
        match incoming {
            Incoming::Connect { nsp, auth } => on_connect(socketio, &nsp, fresh_id(), |socket_id| {
                self.identity = Some(self.connect(auth.as_ref(), now, socket_id)?);
                Ok(())
            }),
            Incoming::Disconnect { .. } => {
                self.identity = None;
                self.on_closed()
            }
            Incoming::Packet(packet) if packet.kind == Kind::Event => {
                let id = packet.id;
                let Some((name, argument)) = event_parts(packet.data) else { return Vec::new() };
                match self.on_event(&name, argument) {
                    Ok(mut effects) => {
                        effects.extend(id.map(|id| ack(id, &[])));
                        effects
                    }
                    Err(error) => {
                        let object = refusal(&error, Some(&name));
                        let mut effects = vec![emit("error", std::slice::from_ref(&object))];
                        effects.extend(id.map(|id| ack(id, &[object])));
                        effects
                    }
                }
            }
            Incoming::Packet(_) => Vec::new(),
        }
    }

    fn on_room(&mut self, room: &RoomId, event: RoomEvent<'_>, _now: i64) -> Option<Vec<Effect>> {
        let text = match event {
            RoomEvent::Frame(text) => text,
            _ => "",
        };
        let effects = match self.rooms.on_room(room, event)? {
            // Nothing of a room being left reaches the client.
            Update::Frame { phase: Phase::Leaving, .. } => Vec::new(),
            Update::Frame { .. } => match RoomFrame::parse(text) {
                RoomFrame::Message(message) => pass_on(&message, &[]),
                RoomFrame::Error { code, message, .. } => {
                    vec![emit("error", &[json!({ "code": code, "message": message })])]
                }
                _ => Vec::new(),
            },
            Update::Unseen { failed, then } => {
                let mut effects = then;
                effects.extend(failed.map(|error| emit("error", &[refusal(error, None)])));
                effects
            }
            Update::Ended { failed, then, .. } => {
                // Joined again meanwhile (`then`): the session is in the room once more.
                if then.is_empty() && self.current.as_ref().is_some_and(|(current, _)| current == room) {
                    self.current = None;
                }
                let mut effects = then;
                effects.extend(failed.map(|error| emit("error", &[refusal(error, None)])));
                effects
            }
        };
        Some(effects)
    }

    /// While in a room: just before the token runs out.
    fn deadline(&self) -> Option<i64> {
        let identity = self.identity.as_ref()?;
        self.current.as_ref().map(|_| self.auth.session_end(identity) - EXPIRY_MARGIN_MS)
    }

    /// The token is about to run out: `left` is announced and the room left, and the client
    /// is told why.
    fn on_tick(&mut self, _now: i64) -> Vec<Effect> {
        let Some((room, name)) = self.current.take() else { return Vec::new() };
        let mut effects = self.part(&room, &name);
        let error =
            Error::new(ErrorCode::TokenExpired, "the token runs out: the room was left; connect with a new one");
        effects.push(emit("error", &[refusal(&error, None)]));
        effects
    }

    fn on_closed(&mut self) -> Vec<Effect> {
        let mut effects = match self.current.take() {
            Some((room, name)) => self.part(&room, &name),
            None => Vec::new(),
        };
        effects.extend(self.rooms.leave_all().0);
        effects
    }
}

/// The `error` event's argument.
fn refusal(error: &Error, event: Option<&str>) -> Value {
    let mut object = Map::new();
    object.insert("code".into(), json!(error.code));
    object.insert("message".into(), json!(error.message));
    if let Some(event) = event {
        object.insert("event".into(), json!(event));
    }
    Value::Object(object)
}

/// A required non-empty string field of at most `max` bytes.
fn text_field<'a>(fields: &'a Map<String, Value>, name: &str, max: usize) -> Result<&'a str, Error> {
    match fields.get(name) {
        Some(Value::String(text)) if !text.is_empty() && text.len() <= max => Ok(text),
        Some(Value::String(text)) if text.is_empty() => Err(Error::invalid_field(name, "must not be empty")),
        Some(Value::String(_)) => Err(Error::invalid_field(name, format!("is longer than {max} bytes"))),
        Some(_) => Err(Error::invalid_field(name, "must be a string")),
        None => Err(Error::invalid_field(name, "is required")),
    }
}

fn not_in_a_room() -> Error {
    Error::new(ErrorCode::NotJoined, "this connection is in no room; emit `joined` first")
}
