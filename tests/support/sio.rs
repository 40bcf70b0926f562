//! Socket.IO clients of any dialect in tests: a gateway [`Client`] over a websocket, driven
//! with text frames, and what it was sent decoded into [`Got`]s.

use crate::{no_handshake_auth, room_id, token, T0};
use herald_core::dialect::{Auth, DialectKind, RoomCommand, RoomEvent};
use herald_core::engineio::session::{Settings, Transport};
use herald_core::engineio::Frame;
use herald_core::gateway::{Action, Client};
use herald_core::ids::RoomId;
use serde_json::{json, Value};

/// Pings far apart: heartbeats play no part here.
pub const SETTINGS: Settings = Settings {
    ping_interval_ms: 600_000,
    ping_timeout_ms: 600_000,
    max_payload: 1_000_000,
    max_backlog_bytes: 4 << 20,
};

/// What a Socket.IO client received, decoded.
#[derive(Debug, Clone, PartialEq)]
pub enum Got {
    /// CONNECT, with its data (`{sid}`).
    Connected(Value),
    /// DISCONNECT: the server ended the namespace.
    Disconnect,
    ConnectError(Value),
    Event(String, Value),
    Ack(u64, Value),
}

/// Decodes the Engine.IO message frames a client was sent.
pub fn decode(actions: &[Action]) -> Vec<Got> {
    let mut got = Vec::new();
    for action in actions {
        let Action::SendFrame(Frame::Text(text)) = action else { continue };
        let Some(packet) = text.strip_prefix('4') else { continue };
        let (kind, rest) = packet.split_at(1);
        // A namespace other than `/` comes first, up to its comma.
        let rest = if rest.starts_with('/') { &rest[rest.find(',').unwrap() + 1..] } else { rest };
        let digits = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
        let (id, json) = rest.split_at(digits);
        let data: Value = serde_json::from_str(json).unwrap_or(Value::Null);
        got.push(match kind {
            "0" => Got::Connected(data),
            "1" => Got::Disconnect,
            "4" => Got::ConnectError(data),
            "2" => Got::Event(data[0].as_str().unwrap().to_owned(), data[1].clone()),
            "3" => Got::Ack(id.parse().unwrap(), data[0].clone()),
            other => panic!("unexpected packet type {other} in {text}"),
        });
    }
    got
}

pub fn room_commands(actions: &[Action]) -> Vec<(RoomId, RoomCommand)> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Room { room, command } => Some((room.clone(), command.clone())),
            _ => None,
        })
        .collect()
}

/// One Socket.IO client of a dialect, over a websocket.
pub struct Sio {
    pub client: Client,
    pub now: i64,
    /// The socket id its CONNECTs are given (`socket-1`, `socket-2`, … when `None`).
    pub socket_id: Option<String>,
}

impl Sio {
    /// A client of the native dialect.
    pub fn open(sid: &str, auth: Auth) -> Self {
        Self::open_at(T0, sid, auth)
    }

    pub fn open_at(now: i64, sid: &str, auth: Auth) -> Self {
        Self::of(DialectKind::Native, now, sid, auth)
    }

    /// A client of the dialect `kind`.
    pub fn of(kind: DialectKind, now: i64, sid: &str, auth: Auth) -> Self {
        let (client, _) = Client::open(now, sid.into(), SETTINGS, Transport::Websocket, kind, auth);
        Self { client, now, socket_id: None }
    }

    /// A native client connected to `/` with a token for `sub` in its auth payload.
    pub fn connected(sid: &str, sub: &str) -> Self {
        let mut sio = Self::open(sid, no_handshake_auth());
        let got = decode(&sio.frame(&format!(r#"40{{"token":"{}"}}"#, token(sub, json!({})))));
        assert!(matches!(got.as_slice(), [Got::Connected(_)]), "{got:?}");
        sio
    }

    pub fn frame(&mut self, text: &str) -> Vec<Action> {
        let mut numbered = fresh_ids("socket");
        let named = self.socket_id.clone();
        let mut ids = move || named.clone().unwrap_or_else(&mut numbered);
        self.client.on_frame(self.now, Frame::Text(text.into()), &mut ids)
    }

    /// Emits `event` with `argument`, asking for an ack `ack` when given.
    pub fn emit(&mut self, event: &str, argument: Value, ack: Option<u64>) -> Vec<Action> {
        let id = ack.map(|n| n.to_string()).unwrap_or_default();
        self.frame(&format!("42{id}{}", json!([event, argument])))
    }

    pub fn on_room(&mut self, room: &str, event: RoomEvent<'_>) -> Option<Vec<Action>> {
        let mut ids = fresh_ids("socket");
        self.client.on_room(self.now, &room_id(room), event, &mut ids)
    }
}

pub fn fresh_ids(prefix: &'static str) -> impl FnMut() -> String {
    let mut n = 0;
    move || {
        n += 1;
        format!("{prefix}-{n}")
    }
}
