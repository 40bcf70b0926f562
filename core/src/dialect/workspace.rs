//! The `workspace` dialect: the Socket.IO workspace API Herald replaces, for its clients
//! unchanged (docs/dialects.md, "workspace").
//!
//! | client event                                        | becomes                                                   |
//! |-----------------------------------------------------|-----------------------------------------------------------|
//! | `auth {token, workspaceId, onlineStatus?}`          | join `workspace:{workspaceId}`, `status` frame; the welcome answers `auth-success {transaction?, userId}` |
//! | `select-channel {channelId, userMediaState?}`       | `focus` frame; publish `user-selected-channel {userId, channelId, userMediaState}` (after `user-unselected-channel` for the channel selected before, if another) |
//! | `unselect-channel {}`                               | `focus` null; publish `user-unselected-channel {userId, channelId}` |
//! | `update-online-status {onlineStatus}`               | `status` frame                                            |
//! | `update-media-state {userMediaState}`               | publish `media-state-updated {userId, userMediaState}`    |
//!
//! | from the room                     | becomes                                                       |
//! |-----------------------------------|---------------------------------------------------------------|
//! | `message` (any publisher, REST too) | the event it was published under, its data the argument (`channel-created`, `user-joined`, …) |
//! | `status {user, status}`           | `online-status-updated {userId, onlineStatus}`                |
//! | `moved {user, conn, focus}`       | `user-changed-device` (null); the connection that lost the focus forgets its channel and publishes `user-unselected-channel` for it unless it is the one now focused |
//! | `error`                           | `socket-api-error {event, message, code}` (+ `socket-api-error-<transaction> {message, code}`) |
//!
//! Every client event may carry `transaction` (a string of at most [`TRANSACTION_MAX`] bytes,
//! or a number). A refused event, or one the room refuses later, gets `socket-api-error` and,
//! with a transaction, `socket-api-error-<transaction>`: frames sent to the room carry the
//! event's name and transaction in their own `transaction`, so a room's error names them.
//! Errors the room raises on its own (the token ran out) name `auth`, and the connection is
//! unauthenticated again. A session that ends with a channel selected publishes
//! `user-unselected-channel` for it, then leaves; the room announces the status change.

use super::membership::{Memberships, Phase as Membership, Update};
use super::rooms::RoomFrame;
use super::session::{ack, emit, event_parts, on_connect, pass_on, Auth};
use super::{Dialect, Effect, RoomCommand, RoomEvent};
use crate::error::{Error, ErrorCode};
use crate::ids::{RoomId, UserId};
use crate::protocol::{Status, FOCUS_MAX};
use crate::socketio::connection::{Connection, Incoming};
use crate::socketio::Kind;
use serde_json::{json, Map, Value};

/// The prefix of workspace rooms' ids.
pub const ROOM_PREFIX: &str = "workspace";
/// Longest `transaction` string, in bytes (it travels to the room inside a native one).
pub const TRANSACTION_MAX: usize = 100;
/// Largest `userMediaState`, in bytes of JSON.
pub const MEDIA_STATE_MAX: usize = 16 * 1024;

#[derive(Debug)]
pub struct Workspace {
    auth: Auth,
    socket_id: Option<String>,
    rooms: Memberships<()>,
    phase: Phase,
    /// The room explained why it ends the membership (an `error` frame without transaction).
    explained: bool,
}

#[derive(Debug)]
enum Phase {
    /// Not authenticated (yet, or any more).
    Guest,
    /// `auth` asked to join `room`; its welcome answers.
    Authenticating {
        room: RoomId,
        user: UserId,
        transaction: Option<Value>,
    },
    Ready(Member),
}

#[derive(Debug)]
struct Member {
    room: RoomId,
    user: UserId,
    /// This session's connection id in the room (the welcome's `conn`).
    conn: String,
    channel: Option<String>,
    /// The last `userMediaState` given (null until one is).
    media: Value,
}

impl Workspace {
    pub fn new(auth: Auth) -> Self {
        Self { auth, socket_id: None, rooms: Memberships::default(), phase: Phase::Guest, explained: false }
    }

    fn on_event(
        &mut self,
        name: &str,
        fields: &Map<String, Value>,
        tx: Option<&Value>,
        now: i64,
    ) -> Result<Vec<Effect>, Error> {
        if name == "auth" {
            return self.authenticate(fields, tx, now);
        }
        let member = match &mut self.phase {
            Phase::Ready(member) => member,
            Phase::Guest => return Err(not_authenticated("emit `auth` first")),
            Phase::Authenticating { .. } => {
                return Err(not_authenticated("`auth` is under way: wait for auth-success"))
            }
        };
        let user = member.user.as_str();
        let mut frames = Vec::new();
        match name {
            "select-channel" => {
                let channel = channel_id(fields)?;
                let media = match fields.get("userMediaState") {
                    None => member.media.clone(),
                    given => media_state(given)?,
                };
                if let Some(old) = member.channel.as_ref().filter(|old| **old != channel) {
                    frames.push(unselected(user, old));
                }
                frames.push(json!({ "type": "focus", "focus": channel }));
                let data = json!({ "userId": user, "channelId": channel, "userMediaState": media });
                frames.push(publish("user-selected-channel", data));
                member.channel = Some(channel);
                member.media = media;
            }
            "unselect-channel" => {
                let channel = member
                    .channel
                    .take()
                    .ok_or_else(|| Error::new(ErrorCode::NotJoined, "no channel is selected on this connection"))?;
                frames.push(json!({ "type": "focus", "focus": null }));
                frames.push(unselected(user, &channel));
            }
            "update-online-status" => {
                let status = Status::from_field("onlineStatus", fields.get("onlineStatus"))?;
                frames.push(json!({ "type": "status", "status": status }));
            }
            "update-media-state" => {
                let media = media_state(fields.get("userMediaState"))?;
                frames.push(publish("media-state-updated", json!({ "userId": user, "userMediaState": media })));
                member.media = media;
            }
            _ => {
                let known = "\"auth\", \"select-channel\", \"unselect-channel\", \"update-online-status\", \"update-media-state\"";
                return Err(Error::new(ErrorCode::UnknownType, format!("unknown event {name:?} (expected {known})")));
            }
        }
        let room = member.room.clone();
        let mut effects = Vec::new();
        for frame in frames {
            effects.extend(self.rooms.send(&room, RoomCommand::Frame(tagged(frame, name, tx)))?);
        }
        Ok(effects)
    }

    /// `auth`: checks the token and the workspace, joins it and sets the status; the room's
    /// welcome completes it.
    fn authenticate(
        &mut self,
        fields: &Map<String, Value>,
        tx: Option<&Value>,
        now: i64,
    ) -> Result<Vec<Effect>, Error> {
        if let Phase::Authenticating { room, .. } | Phase::Ready(Member { room, .. }) = &self.phase {
            return Err(Error::new(
                ErrorCode::AlreadyJoined,
                format!("this connection already authenticated (room {room}); connect again for another workspace"),
            ));
        }
        let workspace = match fields.get("workspaceId") {
            Some(Value::String(id)) if !id.is_empty() => id,
            Some(_) => return Err(Error::invalid_field("workspaceId", "must be a non-empty string")),
            None => return Err(Error::invalid_field("workspaceId", "is required")),
        };
        let status = match fields.get("onlineStatus") {
            None | Some(Value::Null) => Status::Online,
            given => Status::from_field("onlineStatus", given)?,
        };
        let room = RoomId::compose(ROOM_PREFIX, &[workspace])?;
        let payload = Value::Object(fields.clone());
        let token = self
            .auth
            .token(Some(&payload))?
            .ok_or_else(|| Error::new(ErrorCode::TokenMissing, "no token: give it as `token` in the auth event"))?;
        let identity = self.auth.verify(token, now)?;
        identity.require_room(&room)?;
        let expires_at = self.auth.session_end(&identity);
        let tag = self.socket_id.clone();
        let user = identity.user;
        let join =
            self.rooms.join(&room, RoomCommand::Join { user: user.clone(), expires_at, since: None, tag }, ())?;
        let frame = tagged(json!({ "type": "status", "status": status }), "auth", tx);
        let effects = join.into_iter().chain(self.rooms.send(&room, RoomCommand::Frame(frame))?).collect();
        self.phase = Phase::Authenticating { room, user: user.id, transaction: tx.cloned() };
        Ok(effects)
    }

    /// A frame of the room, for a session in it.
    fn on_frame(&mut self, frame: RoomFrame<'_>) -> Vec<Effect> {
        match (frame, &mut self.phase) {
            (RoomFrame::Welcome { conn, .. }, Phase::Authenticating { .. }) => {
                let Phase::Authenticating { room, user, transaction } =
                    std::mem::replace(&mut self.phase, Phase::Guest)
                else {
                    unreachable!("matched above")
                };
                let conn = conn.unwrap_or_default();
                let mut success = Map::new();
                if let Some(transaction) = transaction {
                    success.insert("transaction".into(), transaction);
                }
                success.insert("userId".into(), json!(user.as_str()));
                self.phase = Phase::Ready(Member { room, user, conn, channel: None, media: Value::Null });
                vec![emit("auth-success", &[Value::Object(success)])]
            }
            (RoomFrame::Message(message), Phase::Ready(_)) => pass_on(&message, &[]),
            (RoomFrame::Status { user, status }, Phase::Ready(_)) => {
                vec![emit("online-status-updated", &[json!({ "userId": user.id.as_str(), "onlineStatus": status })])]
            }
            (RoomFrame::Moved { user, conn, focus }, Phase::Ready(member)) if user.id == member.user => {
                let mut effects = vec![emit("user-changed-device", &[Value::Null])];
                if conn != member.conn {
                    // This connection lost the focus: its channel is no longer the user's, unless
                    // the other device entered that same channel.
                    if let Some(old) = member.channel.take().filter(|old| *old != focus) {
                        let frame = tagged(unselected(member.user.as_str(), &old), "select-channel", None);
                        effects.extend(self.rooms.send(&member.room, RoomCommand::Frame(frame)).ok().flatten());
                    }
                }
                effects
            }
            (RoomFrame::Error { code, message, transaction }, _) => {
                let (event, tx) = match transaction.as_ref().and_then(Value::as_str).and_then(untag) {
                    Some((event, tx)) => (event, tx.map(|t| Value::String(t.to_owned()))),
                    None => {
                        // The room's own reason for ending the membership (or refusing the join).
                        self.explained = true;
                        let tx = match &self.phase {
                            Phase::Authenticating { transaction, .. } => transaction.clone(),
                            _ => None,
                        };
                        ("auth", tx)
                    }
                };
                refusal(event, tx.as_ref(), &code, &message)
            }
            _ => Vec::new(),
        }
    }

    /// The membership is gone: the connection is unauthenticated again; told why unless the
    /// room already said.
    fn ended(&mut self, why: Option<&Error>) -> Vec<Effect> {
        let transaction = match std::mem::replace(&mut self.phase, Phase::Guest) {
            Phase::Guest => return Vec::new(),
            Phase::Authenticating { transaction, .. } => transaction,
            Phase::Ready(_) => None,
        };
        if std::mem::take(&mut self.explained) && why.is_none() {
            return Vec::new();
        }
        let fallback =
            Error::new(ErrorCode::NotJoined, "the workspace ended this connection's membership: emit auth again");
        let error = why.unwrap_or(&fallback);
        refusal("auth", transaction.as_ref(), error.code.as_str(), &error.message)
    }
}

impl Dialect for Workspace {
    fn on_incoming(
        &mut self,
        socketio: &mut Connection,
        incoming: Incoming,
        now: i64,
        fresh_id: &mut dyn FnMut() -> String,
    ) -> Vec<Effect> {
        match incoming {
            // Authentication is an event: any CONNECT to `/` is accepted.
            Incoming::Connect { nsp, .. } => on_connect(socketio, &nsp, fresh_id(), |socket_id| {
                self.socket_id = Some(socket_id.to_owned());
                Ok(())
            }),
            Incoming::Disconnect { .. } => self.on_closed(),
            Incoming::Packet(packet) if packet.kind == Kind::Event => {
                let id = packet.id;
                let Some((name, argument)) = event_parts(packet.data) else { return Vec::new() };
                let tx = match argument.as_ref().map(|a| a.get("transaction")) {
                    Some(Some(given)) => transaction(given),
                    _ => Ok(None),
                };
                let outcome = tx.clone().and_then(|tx| match &argument {
                    Some(Value::Object(fields)) => self.on_event(&name, fields, tx.as_ref(), now),
                    _ => Err(Error::invalid_field("arguments", "must be one object")),
                });
                match outcome {
                    Ok(mut effects) => {
                        effects.extend(id.map(|id| ack(id, &[])));
                        effects
                    }
                    Err(error) => {
                        let tx = tx.unwrap_or_default();
                        let mut effects = refusal(&name, tx.as_ref(), error.code.as_str(), &error.message);
                        let object = json!({ "event": name, "message": error.message, "code": error.code });
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
        Some(match self.rooms.on_room(room, event)? {
            // Nothing of a room being left reaches the client.
            Update::Frame { phase: Membership::Leaving, .. } => Vec::new(),
            Update::Frame { .. } => self.on_frame(RoomFrame::parse(text)),
            // Left as asked (the session ended it); a new `auth` that waited for it goes now.
            Update::Ended { asked: true, then, .. } | Update::Unseen { then, .. } => then,
            Update::Ended { failed, .. } => self.ended(failed),
        })
    }

    fn on_closed(&mut self) -> Vec<Effect> {
        let mut effects = Vec::new();
        if let Phase::Ready(Member { room, user, channel: Some(channel), .. }) = &self.phase {
            let frame = tagged(unselected(user.as_str(), channel), "unselect-channel", None);
            effects.extend(self.rooms.send(room, RoomCommand::Frame(frame)).ok().flatten());
        }
        self.phase = Phase::Guest;
        effects.extend(self.rooms.leave_all().0);
        effects
    }
}

/// `socket-api-error {event, message, code}`, and `socket-api-error-<transaction> {message,
/// code}` when the event carried a transaction.
fn refusal(event: &str, transaction: Option<&Value>, code: &str, message: &str) -> Vec<Effect> {
    let mut effects = vec![emit("socket-api-error", &[json!({ "event": event, "message": message, "code": code })])];
    if let Some(transaction) = transaction {
        let name = format!("socket-api-error-{}", transaction_text(transaction));
        effects.push(emit(&name, &[json!({ "message": message, "code": code })]));
    }
    effects
}

/// A client's `transaction`: a string of at most [`TRANSACTION_MAX`] bytes or a number; null
/// is none.
fn transaction(value: &Value) -> Result<Option<Value>, Error> {
    match value {
        Value::Null => Ok(None),
        Value::String(text) if text.len() <= TRANSACTION_MAX => Ok(Some(value.clone())),
        Value::Number(_) => Ok(Some(value.clone())),
        _ => Err(Error::invalid_field(
            "transaction",
            format!("must be a string of at most {TRANSACTION_MAX} bytes, or a number"),
        )),
    }
}

/// The transaction as JavaScript writes it into `socket-api-error-${transaction}`.
fn transaction_text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// A frame for the room, carrying the client event's name and transaction in its own
/// `transaction` (`"<event>"` or `"<event> <transaction>"`), which the room's answers echo.
fn tagged(mut frame: Value, event: &str, tx: Option<&Value>) -> String {
    let tag = match tx {
        Some(tx) => format!("{event} {}", transaction_text(tx)),
        None => event.to_owned(),
    };
    frame["transaction"] = Value::String(tag);
    frame.to_string()
}

/// The event and client transaction a room's answer echoes (see [`tagged`]).
fn untag(tag: &str) -> Option<(&str, Option<&str>)> {
    match tag.split_once(' ') {
        Some((event, tx)) => Some((event, Some(tx))),
        None if !tag.is_empty() => Some((tag, None)),
        None => None,
    }
}

fn publish(event: &str, data: Value) -> Value {
    json!({ "type": "publish", "event": event, "data": data })
}

fn unselected(user: &str, channel: &str) -> Value {
    publish("user-unselected-channel", json!({ "userId": user, "channelId": channel }))
}

fn channel_id(fields: &Map<String, Value>) -> Result<String, Error> {
    match fields.get("channelId") {
        Some(Value::String(id)) if !id.is_empty() && id.len() <= FOCUS_MAX => Ok(id.clone()),
        Some(_) => Err(Error::invalid_field("channelId", format!("must be a string of 1 to {FOCUS_MAX} bytes"))),
        None => Err(Error::invalid_field("channelId", "is required")),
    }
}

/// A `userMediaState`: an object of at most [`MEDIA_STATE_MAX`] bytes of JSON.
fn media_state(value: Option<&Value>) -> Result<Value, Error> {
    match value {
        Some(state @ Value::Object(_)) if state.to_string().len() <= MEDIA_STATE_MAX => Ok(state.clone()),
        Some(Value::Object(_)) => {
            Err(Error::invalid_field("userMediaState", format!("is over {MEDIA_STATE_MAX} bytes")))
        }
        Some(_) => Err(Error::invalid_field("userMediaState", "must be an object")),
        None => Err(Error::invalid_field("userMediaState", "is required")),
    }
}

fn not_authenticated(what: &str) -> Error {
    Error::new(ErrorCode::NotAuthenticated, format!("this connection is not authenticated: {what}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::dialect::{DialectKind, Endpoint};
    use crate::engineio::Payload;

    fn endpoint() -> Endpoint {
        let config =
            Config::from_vars(|name| (name == "JWT_SECRET").then(|| "a-unit-test-secret-of-32-bytes-or-more".into()));
        let verifier = Box::leak(Box::new(config.unwrap().verifier));
        let mut endpoint = Endpoint::new(DialectKind::Workspace, Auth::new(verifier));
        let connected = endpoint.on_message(Payload::Text("0".into()), 0, &mut || "sock-1".into());
        assert_eq!(sent(&connected), vec![json!(["#connect", { "sid": "sock-1" }])]);
        endpoint
    }

    /// The Socket.IO packets of `effects` as `[name, argument]` (a CONNECT as `#connect`).
    fn sent(effects: &[Effect]) -> Vec<Value> {
        effects
            .iter()
            .map(|effect| match effect {
                Effect::Send(Payload::Text(text)) if text.starts_with('0') => {
                    json!(["#connect", serde_json::from_str::<Value>(&text[1..]).unwrap()])
                }
                Effect::Send(Payload::Text(text)) => {
                    let json = text.trim_start_matches(|c: char| c.is_ascii_digit());
                    serde_json::from_str(json).unwrap()
                }
                other => panic!("not a packet to the client: {other:?}"),
            })
            .collect()
    }

    fn event(endpoint: &mut Endpoint, name: &str, argument: Value) -> Vec<Value> {
        let packet = format!("2{}", json!([name, argument]));
        sent(&endpoint.on_message(Payload::Text(packet), 0, &mut || unreachable!("no ids after CONNECT")))
    }

    fn error(event: &str, code: &str, message: &str) -> Value {
        json!(["socket-api-error", { "event": event, "message": message, "code": code }])
    }

    #[test]
    fn an_event_before_auth_gets_socket_api_error_and_its_transaction_variant() {
        let mut ws = endpoint();
        let message = "this connection is not authenticated: emit `auth` first";
        let got = event(&mut ws, "select-channel", json!({ "channelId": "c1", "transaction": "t-1" }));
        assert_eq!(
            got,
            vec![
                error("select-channel", "not_authenticated", message),
                json!(["socket-api-error-t-1", { "message": message, "code": "not_authenticated" }]),
            ]
        );
        // Without a transaction, only the first; a number names the second as JavaScript would.
        assert_eq!(
            event(&mut ws, "update-online-status", json!({})),
            vec![error("update-online-status", "not_authenticated", message)]
        );
        let got = event(&mut ws, "unselect-channel", json!({ "transaction": 42 }));
        assert_eq!(got[1][0], "socket-api-error-42");
    }

    #[test]
    fn malformed_auth_payloads_are_refused_by_field_before_the_token_is_read() {
        let mut ws = endpoint();
        let refused = |ws: &mut Endpoint, argument: Value| {
            let got = event(ws, "auth", argument);
            (got[0][1]["code"].as_str().unwrap().to_owned(), got[0][1]["message"].as_str().unwrap().to_owned())
        };
        let (code, message) = refused(&mut ws, json!({ "token": "x" }));
        assert_eq!((code.as_str(), message.as_str()), ("invalid_field", "`workspaceId` is required"));
        let (_, message) = refused(&mut ws, json!({ "token": "x", "workspaceId": 5 }));
        assert_eq!(message, "`workspaceId` must be a non-empty string");
        let (_, message) = refused(&mut ws, json!({ "token": "x", "workspaceId": "w", "onlineStatus": "away" }));
        assert!(message.starts_with("`onlineStatus`"), "{message}");
        let (code, _) = refused(&mut ws, json!({ "workspaceId": "w" }));
        assert_eq!(code, "token_missing");
        let (code, _) = refused(&mut ws, json!({ "workspaceId": "w", "token": 7 }));
        assert_eq!(code, "invalid_field");
        let (code, _) = refused(&mut ws, json!({ "workspaceId": "w", "token": "not.a.jwt" }));
        assert_eq!(code, "token_invalid");
        let (code, message) = refused(&mut ws, json!("w"));
        assert_eq!((code.as_str(), message.as_str()), ("invalid_field", "`arguments` must be one object"));
        let (code, _) = refused(&mut ws, json!({ "workspaceId": "w", "transaction": { "no": 1 } }));
        assert_eq!(code, "invalid_field", "a transaction of the wrong type is refused (with no variant event)");
        assert_eq!(event(&mut ws, "auth", json!({ "transaction": [1] })).len(), 1);
    }

    #[test]
    fn an_ack_callback_gets_nothing_when_taken_and_the_error_object_when_refused() {
        let mut ws = endpoint();
        let effects =
            ws.on_message(Payload::Text(r#"23["auth",{"workspaceId":"w"}]"#.into()), 0, &mut || unreachable!());
        let got = sent(&effects);
        assert_eq!(got.len(), 2);
        let Effect::Send(Payload::Text(ack)) = &effects[1] else { panic!() };
        assert!(ack.starts_with("33[{"), "{ack}");
        assert_eq!(got[1][0], json!({ "event": "auth", "message": got[0][1]["message"], "code": "token_missing" }));
    }

    #[test]
    fn frames_for_the_room_carry_the_event_and_transaction_the_rooms_answers_echo() {
        let frame = tagged(json!({ "type": "status", "status": "idle" }), "update-online-status", Some(&json!("t 1")));
        assert_eq!(
            serde_json::from_str::<Value>(&frame).unwrap(),
            json!({ "type": "status", "status": "idle", "transaction": "update-online-status t 1" })
        );
        assert_eq!(untag("update-online-status t 1"), Some(("update-online-status", Some("t 1"))));
        assert_eq!(untag("auth"), Some(("auth", None)));
        assert_eq!(untag(""), None);
        assert_eq!(transaction_text(&json!(7)), "7");
        let longest = format!("update-online-status {}", "x".repeat(TRANSACTION_MAX));
        assert!(longest.len() <= crate::protocol::native::TRANSACTION_MAX, "fits the native transaction");
    }

    #[test]
    fn media_states_are_objects_under_the_cap() {
        assert_eq!(media_state(Some(&json!({ "audio": true }))), Ok(json!({ "audio": true })));
        assert!(media_state(Some(&json!([1]))).unwrap_err().message.contains("must be an object"));
        assert!(media_state(None).is_err());
        let big = json!({ "x": "y".repeat(MEDIA_STATE_MAX) });
        assert!(media_state(Some(&big)).unwrap_err().message.contains("is over"));
    }

    #[test]
    fn other_namespaces_are_refused() {
        let mut endpoint = endpoint();
        let got = endpoint.on_message(Payload::Text("0/admin,".into()), 0, &mut || "s".into());
        assert_eq!(got, vec![Effect::Send(Payload::Text(r#"4/admin,{"message":"Invalid namespace"}"#.into()))]);
    }
}
