//! Dialects: the application protocols spoken over Socket.IO (and, for conformance, plain
//! Engine.IO). Each is a small translation between its events and the core's.
//!
//! An [`Endpoint`] is one client's application side of an Engine.IO session: it takes the
//! session's messages and answers with [`Effect`]s. Which dialect it speaks comes from the
//! route the client connected to ([`routes`]).
//!
//! - [`routes`]: which dialect speaks at which path (configuration).
//! - [`echo`]: the conformance dialects `engine-echo` and `echo`.

pub mod echo;
pub mod routes;

pub use routes::{DialectKind, RouteTable};

use crate::engineio::Payload;
use crate::socketio::connection::{to_messages, Connection, Incoming};
use crate::socketio::Packet;
use serde::{Deserialize, Serialize};

/// What the shell must do for an endpoint, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// An Engine.IO message to this client.
    Send(Payload),
    /// End the session (a protocol violation, or the dialect's decision).
    Close,
}

impl Effect {
    /// A Socket.IO packet as the messages that carry it.
    pub fn emit(packet: &Packet) -> Vec<Effect> {
        to_messages(packet).into_iter().map(Effect::Send).collect()
    }
}

/// One client's application side. Serializable: a websocket session's endpoint survives the
/// object's hibernation.
#[derive(Debug, Serialize, Deserialize)]
pub struct Endpoint {
    kind: DialectKind,
    socketio: Connection,
}

impl Endpoint {
    pub fn new(kind: DialectKind) -> Self {
        Self { kind, socketio: Connection::new() }
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
    pub fn on_message(&mut self, payload: Payload, fresh_id: &mut dyn FnMut() -> String) -> Vec<Effect> {
        if self.kind == DialectKind::EngineEcho {
            return vec![Effect::Send(payload)];
        }
        let incoming = match self.socketio.on_message(payload) {
            Ok(Some(incoming)) => incoming,
            Ok(None) => return Vec::new(),
            Err(_) => return vec![Effect::Close],
        };
        match (self.kind, incoming) {
            (DialectKind::Echo, incoming) => echo::on_incoming(&mut self.socketio, incoming, fresh_id),
            // Rooms over Socket.IO (the home registering with each room's object) are not
            // served yet: a client is told so at once instead of waiting for events that
            // never come.
            (DialectKind::Native, Incoming::Connect { nsp, .. }) => {
                let data = serde_json::json!({ "code": "not_implemented" });
                Effect::emit(&Connection::refuse(&nsp, "the native Socket.IO dialect is not served yet", Some(data)))
            }
            (DialectKind::EngineEcho | DialectKind::Native, _) => Vec::new(),
        }
    }
}
