//! The `echo` dialects, for protocol conformance runs (the official Engine.IO v4 and
//! Socket.IO v5 test suites expect exactly this server).
//!
//! - `engine-echo`: every Engine.IO message goes back as it came.
//! - `echo`: namespaces `/` and `/custom` exist (others are refused with "Invalid
//!   namespace"); on connect the server emits `auth` with the handshake's auth payload (`{}`
//!   when none); `message` is answered with `message-back` carrying the same arguments,
//!   binary included; `message-with-ack` is acknowledged with the same arguments.

use super::{Dialect, Effect, RoomEvent};
use crate::ids::RoomId;
use crate::socketio::connection::{Connection, Incoming};
use crate::socketio::{Kind, Packet};
use serde_json::Value;

const NAMESPACES: [&str; 2] = ["/", "/custom"];

/// The `echo` dialect (it joins no rooms).
#[derive(Debug)]
pub struct Echo;

impl Dialect for Echo {
    fn on_incoming(
        &mut self,
        conn: &mut Connection,
        incoming: Incoming,
        _now: i64,
        fresh_id: &mut dyn FnMut() -> String,
    ) -> Vec<Effect> {
        on_incoming(conn, incoming, fresh_id)
    }

    fn on_room(&mut self, _room: &RoomId, _event: RoomEvent<'_>, _now: i64) -> Option<Vec<Effect>> {
        None
    }

    fn on_closed(&mut self) -> Vec<Effect> {
        Vec::new()
    }
}

fn on_incoming(conn: &mut Connection, incoming: Incoming, fresh_id: &mut dyn FnMut() -> String) -> Vec<Effect> {
    match incoming {
        Incoming::Connect { nsp, auth } if NAMESPACES.contains(&nsp.as_str()) => {
            let accepted = conn.accept(&nsp, fresh_id());
            let auth = auth.unwrap_or_else(|| Value::Object(Default::default()));
            let greeting = Packet::event(nsp, serde_json::json!(["auth", auth]));
            Effect::emit(&accepted).into_iter().chain(Effect::emit(&greeting)).collect()
        }
        Incoming::Connect { nsp, .. } => Effect::emit(&Connection::refuse(&nsp, "Invalid namespace", None)),
        Incoming::Packet(packet) if packet.kind == Kind::Event => {
            let Some(Value::Array(mut args)) = packet.data else { return Vec::new() };
            let name = args.remove(0);
            let reply = match (name.as_str(), packet.id) {
                (Some("message"), _) => {
                    args.insert(0, Value::from("message-back"));
                    Packet::event(packet.nsp, Value::Array(args))
                }
                (Some("message-with-ack"), Some(id)) => Packet::ack(packet.nsp, id, Value::Array(args)),
                _ => return Vec::new(),
            };
            Effect::emit(&reply.with_attachments(packet.attachments))
        }
        Incoming::Packet(_) | Incoming::Disconnect { .. } => Vec::new(),
    }
}
