//! A Socket.IO or Engine.IO client as its home holds it (`gateway.rs`: the Engine.IO session,
//! the Socket.IO connection, the dialect), taking a script of what the client and its rooms
//! send; and tndata's client frames on their own.

use super::{auth, documented, has_undocumented_code, native::FRAME_CODES};
use crate::T0;
use herald_core::dialect::threedrepo::{ROOM_NOT_FOUND, UNAUTHORISED, UNKNOWN_EVENT};
use herald_core::dialect::{tndata, Auth, DialectKind, RoomCommand, RoomEvent};
use herald_core::engineio::packet::{decode_payload, decode_text};
use herald_core::engineio::session::{Settings, Transport};
use herald_core::engineio::{Frame, Packet as EnginePacket, Payload};
use herald_core::error::{Error, ErrorCode};
use herald_core::gateway::{Action, Client};
use herald_core::ids::{RoomId, UserId};
use herald_core::protocol::native::{self, ServerFrame};
use herald_core::socketio::packet::{DecodeError, Decoded, Decoder, Kind, Packet};
use serde_json::value::RawValue;
use serde_json::{json, Value};

/// Stands for a valid token (for `alice`) wherever a script writes it.
pub const TOKEN: &str = "$TOKEN";

/// Heartbeats a script can reach: a ping every 25 s, 20 s for its pong.
const SETTINGS: Settings =
    Settings { ping_interval_ms: 25_000, ping_timeout_ms: 20_000, max_payload: 100_000, max_backlog_bytes: 4 << 20 };

/// What reaches the client, one step at a time.
#[derive(Debug, Clone)]
pub enum ClientInput {
    /// An Engine.IO websocket text frame, as it is.
    Frame(String),
    /// A binary websocket frame (an attachment).
    Binary(Vec<u8>),
    /// A Socket.IO packet's text, in an Engine.IO message over the current transport.
    Packet(String),
    /// A CONNECT to `/` with a valid token for `sub`, `admin` or not.
    Login {
        sub: String,
        admin: bool,
    },
    /// An event `[name, ...args]`, asking for an ack when `ack` is given.
    Emit {
        name: String,
        args: Vec<Value>,
        ack: Option<u64>,
    },
    /// A polling POST, as it is.
    Post(String),
    /// A long-polling GET.
    Poll,
    /// A websocket arrives for the session (the upgrade), or the one it has closes.
    Upgrade,
    SocketClosed,
    /// A frame from the `n`th room the client asked to join, as it is.
    RoomFrame {
        room: u8,
        text: String,
    },
    /// The `welcome` of that room, or one of its messages.
    RoomWelcome {
        room: u8,
    },
    RoomMessage {
        room: u8,
        event: String,
        data: Value,
    },
    /// That room ended the membership, or could not be reached.
    RoomClosed(u8),
    RoomFailed(u8),
    /// Time passes (ms); the client is ticked when something is due.
    Tick(u32),
}

/// A client of the dialect `kind`, opened over `transport`, takes `inputs`. Whatever they are:
/// every frame and poll answer it sends is Engine.IO the reference client reads; every
/// Socket.IO packet in them decodes (no reserved event name, placeholders that name
/// attachments); every code in a refusal is documented; every frame it asks a room to take is
/// JSON the room reads; and once it is closed nothing more comes out.
pub fn client(kind: DialectKind, transport: Transport, anonymous: bool, inputs: &[ClientInput]) {
    let auth = Auth { anonymous, ..Auth::new(super::verifier()) };
    let mut fresh = 0u64;
    let mut ids = move || {
        fresh += 1;
        format!("socket-{fresh}")
    };
    let (mut client, handshake) = Client::open(T0, "sid-1".into(), SETTINGS, transport, kind, auth);
    assert!(matches!(handshake, EnginePacket::Open(_)));
    let mut sent = ServerSide::new(kind);
    let mut rooms: Vec<RoomId> = Vec::new();
    let mut now = T0;
    for input in inputs {
        let websocket = client.session().transport() == Transport::Websocket;
        let message = |text: String| -> ClientMessage {
            if websocket {
                ClientMessage::Frame(Frame::Text(format!("4{text}")))
            } else {
                ClientMessage::Post(format!("4{text}"))
            }
        };
        let step = match input {
            ClientInput::Frame(text) => ClientMessage::Frame(Frame::Text(text.replace(TOKEN, &token("alice", false)))),
            ClientInput::Binary(bytes) => ClientMessage::Frame(Frame::Binary(bytes.clone())),
            ClientInput::Packet(text) => message(text.replace(TOKEN, &token("alice", false))),
            ClientInput::Login { sub, admin } => message(format!("0{}", json!({ "token": token(sub, *admin) }))),
            ClientInput::Emit { name, args, ack } => {
                let mut event = vec![Value::from(name.as_str())];
                event.extend(args.iter().map(with_token));
                let ack = ack.map(|id| id.to_string()).unwrap_or_default();
                message(format!("2{ack}{}", Value::Array(event)))
            }
            ClientInput::Post(body) => ClientMessage::Post(body.clone()),
            ClientInput::Poll => ClientMessage::Poll,
            ClientInput::Upgrade => ClientMessage::Upgrade,
            ClientInput::SocketClosed => ClientMessage::SocketClosed,
            ClientInput::RoomFrame { room, text } => {
                if !a_room_could_write(text) {
                    continue;
                }
                ClientMessage::Room(*room, RoomSays::Frame(text.clone()))
            }
            ClientInput::RoomWelcome { room } => ClientMessage::Room(*room, RoomSays::Welcome),
            ClientInput::RoomMessage { room, event, data } => {
                if has_undocumented_code(data) || event.is_empty() {
                    continue;
                }
                ClientMessage::Room(*room, RoomSays::Message(event.clone(), data.to_string()))
            }
            ClientInput::RoomClosed(room) => ClientMessage::Room(*room, RoomSays::Closed),
            ClientInput::RoomFailed(room) => ClientMessage::Room(*room, RoomSays::Failed),
            ClientInput::Tick(ms) => {
                now += i64::from(*ms);
                ClientMessage::Tick
            }
        };
        let actions = match step {
            ClientMessage::Frame(frame) => client.on_frame(now, frame, &mut ids),
            ClientMessage::Post(body) => client.on_post(now, &body, &mut ids).1,
            ClientMessage::Poll => client.on_poll(now, &mut ids).1,
            ClientMessage::Upgrade => client.on_upgrade_socket(now, &mut ids).1,
            ClientMessage::SocketClosed => client.on_socket_closed(now, &mut ids),
            ClientMessage::Tick => match client.deadline() {
                Some(at) if at <= now => client.on_tick(now, &mut ids),
                _ => Vec::new(),
            },
            ClientMessage::Room(n, says) => {
                let Some(room) = rooms.get(usize::from(n) % rooms.len().max(1)).cloned() else { continue };
                let seq = sent.next_seq();
                let frame = says.frame(&room, seq);
                let failure = Error::internal("the room could not be reached");
                let event = match &says {
                    RoomSays::Closed => RoomEvent::Closed,
                    RoomSays::Failed => RoomEvent::Failed(&failure),
                    _ => RoomEvent::Frame(&frame),
                };
                client.on_room(now, &room, event, &mut ids).unwrap_or_default()
            }
        };
        let closed = sent.check(&actions, &mut rooms, input);
        if closed {
            return;
        }
    }
}

/// A step of a script, as the gateway takes it.
enum ClientMessage {
    Frame(Frame),
    Post(String),
    Poll,
    Upgrade,
    SocketClosed,
    Tick,
    Room(u8, RoomSays),
}

enum RoomSays {
    Frame(String),
    Welcome,
    Message(String, String),
    Closed,
    Failed,
}

impl RoomSays {
    fn frame(&self, room: &RoomId, seq: u64) -> String {
        let alice = crate::user("alice");
        match self {
            RoomSays::Frame(text) => text.clone(),
            RoomSays::Welcome => {
                ServerFrame::Welcome { conn: "c", user: &alice, room, seq, gap: None, truncated: None }.encode()
            }
            RoomSays::Message(event, data) => {
                let data = RawValue::from_string(data.clone()).unwrap();
                ServerFrame::Message { room, seq, id: "m", event, data: &data, from: &alice, ts: T0 }.encode()
            }
            RoomSays::Closed | RoomSays::Failed => String::new(),
        }
    }
}

/// Whether a room could send `text`: rooms write every frame as a JSON object with its `type`
/// (a lowercase word) first (`ServerFrame`), and only codes of their own; the dialects read a
/// frame's type from its first bytes and splice the rest, as they may.
fn a_room_could_write(text: &str) -> bool {
    let Ok(Value::Object(frame)) = serde_json::from_str::<Value>(text) else { return false };
    let Some(kind) = frame.get("type").and_then(Value::as_str) else { return false };
    !kind.is_empty()
        && kind.bytes().all(|b| b.is_ascii_lowercase())
        && text.starts_with(&format!(r#"{{"type":"{kind}""#))
        && !has_undocumented_code(&Value::Object(frame))
}

/// `value` with every string [`TOKEN`] a valid token.
fn with_token(value: &Value) -> Value {
    match value {
        Value::String(s) if s == TOKEN => Value::from(token("alice", false)),
        Value::Array(items) => Value::Array(items.iter().map(with_token).collect()),
        Value::Object(fields) => Value::Object(fields.iter().map(|(k, v)| (k.clone(), with_token(v))).collect()),
        other => other.clone(),
    }
}

/// A token for `sub` valid for a day from [`T0`].
pub fn token(sub: &str, admin: bool) -> String {
    let mut claims = json!({ "sub": sub, "exp": T0 / 1000 + 86_400, "name": format!("{sub} name") });
    if admin {
        claims["role"] = json!("admin");
    }
    auth::sign(br#"{"alg":"HS256","typ":"JWT"}"#, claims.to_string().as_bytes())
}

/// What the client was sent, read as its own library reads it.
struct ServerSide {
    kind: DialectKind,
    decoder: Decoder,
    closed: bool,
    seq: u64,
}

impl ServerSide {
    fn new(kind: DialectKind) -> Self {
        Self { kind, decoder: Decoder::default(), closed: false, seq: 0 }
    }

    fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    /// Checks one step's actions; whether the client is now closed.
    fn check(&mut self, actions: &[Action], rooms: &mut Vec<RoomId>, input: &ClientInput) -> bool {
        for action in actions {
            assert!(!self.closed, "{input:?}: {action:?} after the client closed");
            match action {
                Action::SendFrame(Frame::Text(text)) => {
                    let packet = decode_text(text).unwrap_or_else(|e| panic!("{input:?}: sent {text:?}: {e}"));
                    self.engine_packet(packet, input);
                }
                Action::SendFrame(Frame::Binary(bytes)) => {
                    self.engine_packet(EnginePacket::Message(Payload::Binary(bytes.clone())), input)
                }
                Action::AnswerPoll(body) => {
                    let packets = decode_payload(body).unwrap_or_else(|e| panic!("{input:?}: answered {body:?}: {e}"));
                    for packet in packets {
                        self.engine_packet(packet, input);
                    }
                }
                Action::Room { room, command } => match command {
                    RoomCommand::Join { user, .. } => {
                        assert!(UserId::parse(user.id.as_str()).is_ok());
                        if !rooms.contains(room) {
                            rooms.push(room.clone());
                        }
                    }
                    RoomCommand::Frame(text) => {
                        if let Err(refusal) = native::decode(text) {
                            assert!(refusal.error.code != ErrorCode::MalformedJson, "{input:?}: {text:?}");
                            super::assert_coded(&refusal.error, &FRAME_CODES, text);
                        }
                    }
                    RoomCommand::Leave => {}
                },
                Action::Closed(_) => self.closed = true,
                Action::RefusePoll | Action::CloseSocket => {}
            }
        }
        self.closed
    }

    fn engine_packet(&mut self, packet: EnginePacket, input: &ClientInput) {
        let EnginePacket::Message(payload) = packet else { return };
        if !self.kind.is_socketio() {
            return;
        }
        let decoded = match payload {
            Payload::Text(text) => self.decoder.on_text(&text),
            Payload::Binary(bytes) => self.decoder.on_binary(bytes),
        };
        match decoded {
            Ok(Decoded::Packet(packet)) => self.socketio_packet(&packet, input),
            Ok(Decoded::AwaitingAttachments) => {}
            // A refusal quoting a client's binary event quotes its placeholders, in a packet
            // that is not binary: the client's parser reads them as the plain objects they are
            // (it puts attachments in binary packets only). Herald refuses them from a client.
            Err(DecodeError::BadPlaceholder { declared: 0 }) => {}
            Err(e) => panic!("{input:?}: the client cannot read what it was sent: {e}"),
        }
    }

    /// Every code a refusal carries is documented.
    fn socketio_packet(&self, packet: &Packet, input: &ClientInput) {
        let args = packet.data.as_ref().and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
        let refusal = match packet.kind {
            Kind::ConnectError => packet.data.as_ref().and_then(|d| d.get("data")),
            Kind::Event => match packet.event_name() {
                Some(name) if name == "error" || name.starts_with("socket-api-error") => args.get(1),
                _ => None,
            },
            // The echo dialect acks with the client's own arguments.
            Kind::Ack if self.kind != DialectKind::Echo => args.first(),
            _ => None,
        };
        if let Some(code) = refusal.and_then(|r| r.get("code")).and_then(Value::as_str) {
            assert!(documented_here(code), "{input:?}: refused with an undocumented code {code:?}: {packet:?}");
        }
    }
}

/// A code in docs/errors.md, or one of 3D Repo's (docs/dialects.md), or Herald's in capitals as
/// the 3drepo dialect writes them.
fn documented_here(code: &str) -> bool {
    documented(code)
        || documented(&code.to_ascii_lowercase())
        || [UNAUTHORISED, ROOM_NOT_FOUND, UNKNOWN_EVENT].contains(&code)
}

/// What tndata's socket takes from its client: a publish the room reads, a receipt, or a coded
/// refusal.
pub fn tndata_frame(text: &str) {
    let room = RoomId::parse("tndata:alice:bob").unwrap();
    let alice = UserId::parse("alice").unwrap();
    match tndata::decode(&room, &alice, text) {
        Ok(tndata::ClientCommand::Publish(frame)) => {
            assert!(native::decode(&frame).is_ok(), "{text:?} became {frame:?}");
        }
        Ok(tndata::ClientCommand::Received(_)) => {}
        Err(error) => super::assert_coded(&error, &[ErrorCode::MalformedJson, ErrorCode::InvalidField], &text),
    }
}
