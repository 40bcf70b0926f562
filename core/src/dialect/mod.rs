//! Dialects: the application protocols clients speak, each a small translation between its
//! events and the core's room commands and frames.
//!
//! Most speak over Socket.IO: an [`Endpoint`] is one client's application side of an
//! Engine.IO session, which takes the session's messages and answers with [`Effect`]s. Which
//! dialect it speaks comes from the route the client connected to ([`routes`]). The rooms a
//! session joins are reached with [`RoomCommand`]s and answer with native protocol frames
//! ([`RoomEvent`]); [`membership`] is the one membership machine every dialect keeps its rooms
//! in, and [`rooms`] reads the frames rooms send.
//!
//! - [`routes`]: which dialect speaks at which path (configuration).
//! - [`native`]: Herald's room protocol as Socket.IO events, rooms joined after connecting.
//! - [`alert`], [`threedrepo`], [`workspace`]: the seed services' Socket.IO protocols.
//! - [`tndata`]: tndata's plain-websocket chat, spoken by the room object to its own sockets.
//! - [`echo`]: the conformance dialects `engine-echo` and `echo`.
//! - [`membership`], [`rooms`], [`session`]: memberships, room frames, authentication and
//!   emits, shared.

pub mod alert;
pub mod echo;
pub mod membership;
pub mod native;
pub mod rooms;
pub mod routes;
pub mod session;
pub mod threedrepo;
pub mod tndata;
pub mod workspace;

pub use native::{RoomCommand, RoomEvent};
pub use routes::{DialectKind, RouteTable};
pub use session::{Auth, UserCount};

use crate::engineio::Payload;
use crate::ids::RoomId;
use crate::socketio::connection::{to_messages, Connection, Incoming};
use crate::socketio::Packet;
use std::fmt::Debug;

/// What the shell must do for an endpoint, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// An Engine.IO message to this client.
    Send(Payload),
    /// End the session (a protocol violation, or the dialect's decision).
    Close,
    /// Ask `room` (its object) for something on this session's behalf.
    Room { room: RoomId, command: RoomCommand },
}

impl Effect {
    /// A Socket.IO packet as the messages that carry it.
    pub fn emit(packet: &Packet) -> Vec<Effect> {
        to_messages(packet).into_iter().map(Effect::Send).collect()
    }
}

/// A Socket.IO dialect: one session's application state. Every input is answered with
/// effects, applied in order.
pub trait Dialect {
    /// A CONNECT, DISCONNECT or packet from the client (`socketio` accepts or refuses
    /// namespaces).
    fn on_incoming(
        &mut self,
        socketio: &mut Connection,
        incoming: Incoming,
        now: i64,
        fresh_id: &mut dyn FnMut() -> String,
    ) -> Vec<Effect>;

    /// Something from a room this session joined; `None` when it is not a member there.
    fn on_room(&mut self, room: &RoomId, event: RoomEvent<'_>, now: i64) -> Option<Vec<Effect>>;

    /// The session ended: what the rooms it joined must be told.
    fn on_closed(&mut self) -> Vec<Effect>;

    /// When [`Dialect::on_tick`] has something to do (a token running out).
    fn deadline(&self) -> Option<i64> {
        None
    }

    fn on_tick(&mut self, _now: i64) -> Vec<Effect> {
        Vec::new()
    }
}

/// One client's application side.
pub struct Endpoint {
    kind: DialectKind,
    socketio: Connection,
    /// `None` for `engine-echo`, which has no Socket.IO layer.
    dialect: Option<Box<dyn Dialect>>,
}

// By hand, without the dialect's state: a `Debug` bound on `Dialect` would put every dialect's
// `Debug` (and its fields') into the wasm bundle through the trait objects' tables, used or not.
impl Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint").field("kind", &self.kind).field("socketio", &self.socketio).finish_non_exhaustive()
    }
}

impl Endpoint {
    pub fn new(kind: DialectKind, auth: Auth) -> Self {
        let dialect: Option<Box<dyn Dialect>> = match kind {
            DialectKind::EngineEcho | DialectKind::Tndata => None,
            DialectKind::Echo => Some(Box::new(echo::Echo)),
            DialectKind::Native => Some(Box::new(native::Native::new(auth))),
            DialectKind::Alert => Some(Box::new(alert::Alert::new(auth))),
            DialectKind::ThreeDRepo => Some(Box::new(threedrepo::ThreeDRepo::new(auth))),
            DialectKind::Workspace => Some(Box::new(workspace::Workspace::new(auth))),
        };
        Self { kind, socketio: Connection::new(), dialect }
    }

    pub fn kind(&self) -> DialectKind {
        self.kind
    }

    /// Whether the client is in at least one Socket.IO namespace (always true for plain
    /// Engine.IO, which has none to join).
    pub fn has_joined(&self) -> bool {
        !self.kind.is_socketio() || self.socketio.namespaces().next().is_some()
    }

    /// A message from the client.
    pub fn on_message(&mut self, payload: Payload, now: i64, fresh_id: &mut dyn FnMut() -> String) -> Vec<Effect> {
        let Some(dialect) = self.dialect.as_mut() else { return vec![Effect::Send(payload)] };
        match self.socketio.on_message(payload) {
            Ok(Some(incoming)) => dialect.on_incoming(&mut self.socketio, incoming, now, fresh_id),
            Ok(None) => Vec::new(),
            Err(_) => vec![Effect::Close],
        }
    }

    /// Something from a room this client joined; `None` when it is not a member there.
    pub fn on_room(&mut self, room: &RoomId, event: RoomEvent<'_>, now: i64) -> Option<Vec<Effect>> {
        self.dialect.as_mut()?.on_room(room, event, now)
    }

    /// The session ended: what the rooms it joined must be told.
    pub fn on_closed(&mut self) -> Vec<Effect> {
        self.dialect.as_mut().map(|d| d.on_closed()).unwrap_or_default()
    }

    pub fn deadline(&self) -> Option<i64> {
        self.dialect.as_ref()?.deadline()
    }

    pub fn on_tick(&mut self, now: i64) -> Vec<Effect> {
        match self.dialect.as_mut() {
            Some(dialect) if dialect.deadline().is_some_and(|at| at <= now) => dialect.on_tick(now),
            _ => Vec::new(),
        }
    }
}
