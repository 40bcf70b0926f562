//! The `3drepo` dialect: 3D Repo's chat service, Socket.IO on path `/chat`, for its clients
//! unchanged (docs/dialects.md, "3drepo").
//!
//! | client event                        | becomes                                              | answered, once done, by |
//! |-------------------------------------|------------------------------------------------------|-------------------------|
//! | CONNECT `/`, with or without token  | accepted; a valid token logs in, and the session joins `sessions:{user}` (not shown) | the CONNECT |
//! | `join {notifications: true}`        | join `inbox:{user}`, the user's own                   | `message {event: "success", data: {action: "join", data}}` at the room's welcome |
//! | `join {teamspace, project, model}`  | join `3drepo:{teamspace}:{project}:{model}`, if the token's `rooms` allow it | the same |
//! | `leave` with a join's data          | leave that room                                      | `message {event: "success", data: {action: "leave", data}}` once the room let go |
//!
//! Every message of a joined room (apps publish over REST) reaches the client as the event it
//! was published under, with its data as the argument; a REST call naming this socket in
//! `x-socket-id` skips it (joins carry the socket id as the member's tag). A refusal is
//! `error {code, message, details: {action, data}}`, `data` being what the client sent, with
//! 3D Repo's codes (`UNAUTHORISED`, `ROOM_NOT_FOUND`), [`UNKNOWN_EVENT`], and Herald's own codes
//! in capitals for what a room says (`ROOM_FULL`, `INTERNAL`, …). The token running out, and a
//! `loggedOut` message in `sessions:{user}` (an admin's `POST /v1/users/{user}/logout`, see
//! [`logout_request`]), become `loggedOut {reason}`, then a DISCONNECT; every room is left, and
//! the session is closed [`CLOSE_GRACE_MS`] later if the client has not closed it by then.
//!
//! - here: the session (login, memberships and what they owe, logout);
//! - `requests.rs`: the room a `join` / `leave` names, and the shapes of the answers;
//! - `logout.rs`: the admin's REST logout, as the message it publishes.

mod logout;
mod requests;

pub use logout::{logout_request, Logout, LOGGED_OUT_BY_ADMIN, REASON_MAX};
pub use requests::{ROOM_NOT_FOUND, UNAUTHORISED, UNKNOWN_EVENT};

use super::membership::{Leave, Memberships, Phase, Update};
use super::rooms::RoomFrame;
use super::session::{ack, emit, event_parts, on_connect, pass_on, Auth, NSP};
use super::{Dialect, Effect, RoomCommand, RoomEvent};
use crate::auth::Identity;
use crate::error::{Error, ErrorCode};
use crate::ids::{RoomId, CONTROL_PREFIX};
use crate::socketio::connection::{Connection, Incoming};
use crate::socketio::{Kind, Packet};
use requests::{refusal, room_of, success, Action};
use serde::Deserialize;
use serde_json::{json, Value};

/// The prefix of model rooms' ids.
pub const ROOM_PREFIX: &str = "3drepo";
/// The prefix of users' notification rooms (`inbox:{user}`).
pub const INBOX_PREFIX: &str = "inbox";
/// The event that ends a logged-in session.
pub const LOGGED_OUT: &str = "loggedOut";
/// The `reason` of a `loggedOut` for a token that ran out.
pub const EXPIRED: &str = "Your session has expired";
/// How long a logged-out client has to close the session itself (it does at once on the
/// DISCONNECT; a polling one once its next GET brought it), before the session is closed.
pub const CLOSE_GRACE_MS: i64 = 5_000;

/// What one room the session asked for (or its control room) owes the client.
#[derive(Debug, Default)]
struct Owed {
    /// The data of the join that opened it: the details of what the room says on its own.
    data: Value,
    /// Joins answered at the room's welcome, leaves once it let go (their data).
    joins: Vec<Value>,
    leaves: Vec<Value>,
    /// The room's last refusal was told to the client: the close that follows needs no other.
    told: bool,
    /// The user's control room (`sessions:{user}`), which the client never names.
    control: bool,
}

#[derive(Debug)]
struct Login {
    identity: Identity,
    /// When the token runs out (`exp` plus the leeway).
    ends_at: i64,
    /// The user's control room, while this session is a member there.
    control: Option<RoomId>,
}

#[derive(Debug)]
pub struct ThreeDRepo {
    auth: Auth,
    /// Who is logged in, or why nobody is.
    login: Result<Login, String>,
    /// The socket id the CONNECT was given (what `x-socket-id` names).
    socket_id: Option<String>,
    rooms: Memberships<Owed>,
    /// After `loggedOut`: when the session is closed if the client has not closed it.
    closing_at: Option<i64>,
}

/// What a room's frame calls for.
enum Outcome {
    Effects(Vec<Effect>),
    /// The token ran out: `loggedOut` with this reason.
    LogOut(&'static str),
}

impl ThreeDRepo {
    pub fn new(auth: Auth) -> Self {
        let login = Err("the client has not connected".into());
        Self { auth, login, socket_id: None, rooms: Memberships::default(), closing_at: None }
    }

    /// A CONNECT to `/`: always accepted; logged in when a valid token came with it.
    fn connect(&mut self, payload: Option<&Value>, now: i64, socket_id: String) -> Vec<Effect> {
        let mut effects = self.leave_all();
        self.closing_at = None;
        self.socket_id = Some(socket_id);
        self.login = self.log_in(payload, now);
        if let Ok(login) = &self.login {
            let control = login.control.clone().expect("a new login has its control room");
            let command = RoomCommand::Join {
                user: login.identity.user.clone(),
                expires_at: login.ends_at,
                since: None,
                tag: None,
            };
            // The control room of a login before this one may still be being left: then this
            // join waits for it to let go.
            let owed = Owed { control: true, ..Owed::default() };
            effects.extend(self.rooms.join(&control, command, owed).ok().flatten());
        }
        effects
    }

    fn log_in(&self, payload: Option<&Value>, now: i64) -> Result<Login, String> {
        let token = self.auth.token(payload).map_err(|e| e.message)?.ok_or_else(|| {
            "no token (give it in the auth payload {\"token\": \"<jwt>\"}, an Authorization header, ?token= or the session cookie)"
                .to_owned()
        })?;
        let identity = self.auth.verify(token, now).map_err(|e| e.message)?;
        let control = RoomId::compose(CONTROL_PREFIX, &[identity.user.id.as_str()])
            .map_err(|_| "the token's user id is too long for this service".to_owned())?;
        let ends_at = self.auth.session_end(&identity);
        Ok(Login { identity, ends_at, control: Some(control) })
    }

    fn on_event(&mut self, name: &str, data: Value, now: i64) -> Vec<Effect> {
        let action = match name {
            "join" => Action::Join,
            "leave" => Action::Leave,
            _ => {
                let message = format!("unknown event {name:?}: this service takes \"join\" and \"leave\"");
                return vec![refusal(UNKNOWN_EVENT, &message, json!(name), data)];
            }
        };
        let mut effects = match &self.login {
            Ok(login) if login.ends_at <= now => self.log_out(EXPIRED, now),
            _ => Vec::new(),
        };
        effects.extend(self.request(action, data));
        effects
    }

    /// A `join` or `leave`, answered now or once its room has done it.
    fn request(&mut self, action: Action, data: Value) -> Vec<Effect> {
        let login = match &self.login {
            Ok(login) => login,
            Err(why) => {
                return vec![refusal(UNAUTHORISED, &format!("You are not logged in: {why}"), action.into(), data)];
            }
        };
        let room = match room_of(&data, &login.identity, action) {
            Ok(room) => room,
            Err(message) => return vec![refusal(ROOM_NOT_FOUND, &message, action.into(), data)],
        };
        let phase = self.rooms.phase(&room);
        match (action, phase) {
            (Action::Join, None | Some(Phase::Leaving)) => {
                let user = login.identity.user.clone();
                let command =
                    RoomCommand::Join { user, expires_at: login.ends_at, since: None, tag: self.socket_id.clone() };
                let owed = Owed { data: data.clone(), joins: vec![data], ..Owed::default() };
                // A room still being left: the join waits for it to let go.
                self.rooms.join(&room, command, owed).ok().flatten().into_iter().collect()
            }
            // Joining a room twice is fine, as it is with 3D Repo; leaving one never joined too.
            (Action::Join, Some(Phase::Joined)) | (Action::Leave, None) => vec![success(action, data)],
            (Action::Join, Some(Phase::Joining)) => {
                self.owed(&room).joins.push(data);
                Vec::new()
            }
            (Action::Leave, Some(Phase::Joining | Phase::Joined)) => match self.rooms.leave(&room) {
                Ok(Leave::Sent(leave)) => {
                    self.owed(&room).leaves.push(data);
                    vec![leave]
                }
                // A join that waited for the room to let go never goes: as if it had been
                // joined and left at once.
                Ok(Leave::Cancelled(cancelled)) => {
                    let mut effects: Vec<Effect> =
                        cancelled.joins.into_iter().map(|data| success(Action::Join, data)).collect();
                    effects.push(success(action, data));
                    effects
                }
                Err(_) => vec![success(action, data)],
            },
            // Answered once the room has let go.
            (Action::Leave, Some(Phase::Leaving)) => {
                self.owed(&room).leaves.push(data);
                Vec::new()
            }
        }
    }

    /// What the membership of `room` that the client's requests are about owes.
    fn owed(&mut self, room: &RoomId) -> &mut Owed {
        self.rooms.addressed(room).expect("a membership of the room").1
    }

    /// A frame of a room the client asked for, its membership in `phase`.
    fn on_frame(owed: &mut Owed, text: &str, phase: Phase) -> Outcome {
        match RoomFrame::parse(text) {
            RoomFrame::Welcome { .. } => {
                Outcome::Effects(owed.joins.drain(..).map(|data| success(Action::Join, data)).collect())
            }
            // `loggedOut` comes only from the control room (an admin's logout).
            RoomFrame::Message(message) if phase == Phase::Joined => {
                Outcome::Effects(pass_on(&message, &["loggedOut"]))
            }
            RoomFrame::Error { code, .. } if code == ErrorCode::TokenExpired.as_str() => Outcome::LogOut(EXPIRED),
            RoomFrame::Error { code, message, .. } => {
                owed.told = true;
                let code = code.to_ascii_uppercase();
                // The joins waiting are answered; with none, the join that opened the membership.
                if owed.joins.is_empty() {
                    owed.joins.push(owed.data.clone());
                }
                Outcome::Effects(
                    owed.joins.drain(..).map(|data| refusal(&code, &message, "join".into(), data)).collect(),
                )
            }
            _ => Outcome::Effects(Vec::new()),
        }
    }

    /// A membership ended: as asked, on the room's own (`failure` when it could not be
    /// reached). What it owes is answered.
    fn ended(owed: Owed, asked: bool, failure: Option<&Error>) -> Vec<Effect> {
        let (code, message) = match failure {
            Some(error) => (error.code.as_str().to_ascii_uppercase(), error.message.clone()),
            None => ("NOT_JOINED".to_owned(), "the room ended this membership; join again".to_owned()),
        };
        let mut effects: Vec<Effect> =
            owed.joins.iter().map(|data| refusal(&code, &message, "join".into(), data.clone())).collect();
        if !asked && owed.joins.is_empty() && !owed.told {
            effects.push(refusal(&code, &message, "join".into(), owed.data));
        }
        effects.extend(owed.leaves.into_iter().map(|data| success(Action::Leave, data)));
        effects
    }

    /// Something from the user's control room: an admin's logout, or the token's end.
    fn on_control(&mut self, event: RoomEvent<'_>, now: i64) -> Vec<Effect> {
        match event {
            RoomEvent::Frame(text) => match RoomFrame::parse(text) {
                RoomFrame::Message(message) if message.event == LOGGED_OUT => {
                    #[derive(Deserialize)]
                    struct Data {
                        reason: String,
                    }
                    let reason = serde_json::from_str::<Data>(message.data.get()).map(|d| d.reason);
                    self.log_out(reason.as_deref().unwrap_or(LOGGED_OUT_BY_ADMIN), now)
                }
                RoomFrame::Error { code, .. } if code == ErrorCode::TokenExpired.as_str() => self.log_out(EXPIRED, now),
                _ => Vec::new(),
            },
            RoomEvent::Closed | RoomEvent::Failed(_) => Vec::new(),
        }
    }

    /// `loggedOut {reason}`, the DISCONNECT, every room left; the close comes later.
    fn log_out(&mut self, reason: &str, now: i64) -> Vec<Effect> {
        let mut effects = vec![emit(LOGGED_OUT, &[json!({ "reason": reason })])];
        effects.extend(Effect::emit(&Packet::disconnect(NSP)));
        effects.extend(self.leave_all());
        self.login = Err(format!("this session was logged out ({reason})"));
        self.closing_at = Some(now + CLOSE_GRACE_MS);
        effects
    }

    /// Leaves every room (the control room too); nothing more will be answered. Each stays
    /// being left until its room lets go (a join meanwhile waits for that).
    fn leave_all(&mut self) -> Vec<Effect> {
        if let Ok(login) = &mut self.login {
            login.control = None;
        }
        self.rooms.leave_all().0
    }

    fn is_control(&self, room: &RoomId) -> bool {
        self.login.as_ref().is_ok_and(|login| login.control.as_ref() == Some(room))
    }
}

impl Dialect for ThreeDRepo {
    fn on_incoming(
        &mut self,
        socketio: &mut Connection,
        incoming: Incoming,
        now: i64,
        fresh_id: &mut dyn FnMut() -> String,
    ) -> Vec<Effect> {
        match incoming {
            // 3D Repo lets a socket in before it logs in: every CONNECT to `/` is accepted.
            Incoming::Connect { nsp, auth } => {
                let mut login = Vec::new();
                let mut effects = on_connect(socketio, &nsp, fresh_id(), |socket_id| {
                    login = self.connect(auth.as_ref(), now, socket_id.to_owned());
                    Ok(())
                });
                effects.extend(login);
                effects
            }
            Incoming::Disconnect { .. } => {
                let effects = self.leave_all();
                self.login = Err("the client left".into());
                effects
            }
            Incoming::Packet(packet) if packet.kind == Kind::Event => {
                let id = packet.id;
                // The decoder lets through only events that start with their name.
                let Some((name, data)) = event_parts(packet.data) else { return Vec::new() };
                let mut effects = self.on_event(&name, data.unwrap_or(Value::Null), now);
                // 3D Repo never acks; a client that asks anyway is not left waiting.
                effects.extend(id.map(|id| ack(id, &[])));
                effects
            }
            Incoming::Packet(_) => Vec::new(),
        }
    }

    fn on_room(&mut self, room: &RoomId, event: RoomEvent<'_>, now: i64) -> Option<Vec<Effect>> {
        if self.is_control(room) && matches!(event, RoomEvent::Frame(_)) {
            return Some(self.on_control(event, now));
        }
        let text = match event {
            RoomEvent::Frame(text) => text,
            _ => "",
        };
        let outcome = match self.rooms.on_room(room, event)? {
            Update::Frame { phase, data, .. } if !data.control => Self::on_frame(data, text, phase),
            Update::Frame { .. } => Outcome::Effects(Vec::new()),
            // Left with every room (a logout, a new CONNECT): nothing of it is answered any more;
            // a join that waited for it goes.
            Update::Unseen { then, .. } => Outcome::Effects(then),
            Update::Ended { data, then, .. } if data.control => {
                // Without its control room the session can no longer be logged out by an admin,
                // unless a new login's join of it waited for this close.
                if then.is_empty() && self.is_control(room) {
                    if let Ok(login) = &mut self.login {
                        login.control = None;
                    }
                }
                Outcome::Effects(then)
            }
            Update::Ended { asked, failed, data, then } => {
                let mut effects = Self::ended(data, asked, failed);
                effects.extend(then);
                Outcome::Effects(effects)
            }
        };
        Some(match outcome {
            Outcome::Effects(effects) => effects,
            Outcome::LogOut(reason) => self.log_out(reason, now),
        })
    }

    fn on_closed(&mut self) -> Vec<Effect> {
        self.leave_all()
    }

    fn deadline(&self) -> Option<i64> {
        self.closing_at.or_else(|| self.login.as_ref().ok().map(|login| login.ends_at))
    }

    fn on_tick(&mut self, now: i64) -> Vec<Effect> {
        match self.closing_at {
            Some(at) if at <= now => {
                self.closing_at = None;
                vec![Effect::Close]
            }
            Some(_) => Vec::new(),
            None => match &self.login {
                Ok(login) if login.ends_at <= now => self.log_out(EXPIRED, now),
                _ => Vec::new(),
            },
        }
    }
}
