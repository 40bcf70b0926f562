//! Dialects: the application protocols spoken over Socket.IO (and, for conformance, plain
//! Engine.IO). Each is a small translation between its events and the core's.
//!
//! An [`Endpoint`] is one client's application side of an Engine.IO session: it takes the
//! session's messages and answers with [`Effect`]s. Which dialect it speaks comes from the
//! route the client connected to ([`routes`]).
//!
//! - [`routes`]: which dialect speaks at which path (configuration).
//! - [`native`]: Herald's room protocol as Socket.IO events, rooms joined after connecting.
//! - [`echo`]: the conformance dialects `engine-echo` and `echo`.

pub mod echo;
pub mod native;
pub mod routes;

pub use native::{Auth, RoomCommand, RoomEvent};
pub use routes::{DialectKind, RouteTable};

use crate::engineio::Payload;
use crate::ids::RoomId;
use crate::socketio::connection::{to_messages, Connection};
use crate::socketio::Packet;
use native::Native;

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

/// One client's application side.
#[derive(Debug)]
pub struct Endpoint {
    kind: DialectKind,
    socketio: Connection,
    native: Native,
}

impl Endpoint {
    pub fn new(kind: DialectKind, auth: Auth) -> Self {
        Self { kind, socketio: Connection::new(), native: Native::new(auth) }
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
        if self.kind == DialectKind::EngineEcho {
            return vec![Effect::Send(payload)];
        }
        let incoming = match self.socketio.on_message(payload) {
            Ok(Some(incoming)) => incoming,
            Ok(None) => return Vec::new(),
            Err(_) => return vec![Effect::Close],
        };
        match self.kind {
            DialectKind::Echo => echo::on_incoming(&mut self.socketio, incoming, fresh_id),
            DialectKind::Native => self.native.on_incoming(&mut self.socketio, incoming, now, fresh_id),
            DialectKind::EngineEcho => Vec::new(),
        }
    }

    /// Something from a room this client joined; `None` when it is not a member there.
    pub fn on_room(&mut self, room: &RoomId, event: RoomEvent<'_>) -> Option<Vec<Effect>> {
        self.native.on_room(room, event)
    }

    /// The session ended: what the rooms it joined must be told.
    pub fn on_closed(&mut self) -> Vec<Effect> {
        self.native.on_closed()
    }
}
