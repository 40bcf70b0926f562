//! The native protocol (docs/protocol.md): a client frame on its own, a room taking a script of
//! connections and frames (a shared room, a tndata conversation, an inbox), and the frames a
//! room sends as the dialects read them back.

use super::{assert_coded, documented};
use crate::{user, Harness, Sqlite, DAY, T0};
use herald_core::config::{Fallback, Limits, Retention};
use herald_core::dialect::rooms::RoomFrame;
use herald_core::dialect::tndata;
use herald_core::error::{close, ErrorCode};
use herald_core::exchange::inbox::Inbox;
use herald_core::ids::{ConnId, RoomId, UserId};
use herald_core::protocol::native::{decode, ClientFrame, Command, TRANSACTION_MAX};
use herald_core::room::{Effect, MemoryLog, ReadMarks, Room, Session};
use serde_json::{json, Value};

/// What a client frame may be refused with (docs/protocol.md, "Errors").
pub const FRAME_CODES: [ErrorCode; 3] = [ErrorCode::MalformedJson, ErrorCode::InvalidField, ErrorCode::UnknownType];

/// What a room answers a connection with, in an `error` frame or a close.
pub const ROOM_CODES: [ErrorCode; 9] = [
    ErrorCode::MalformedJson,
    ErrorCode::InvalidField,
    ErrorCode::UnknownType,
    ErrorCode::RateLimited,
    ErrorCode::FrameTooLarge,
    ErrorCode::TokenExpired,
    ErrorCode::RoomForbidden,
    ErrorCode::SinceAhead,
    ErrorCode::RoomFull,
];

/// One client frame: refused with a frame code (echoing only a well-formed transaction), or
/// decoded into a frame that [`encode`] writes back into the same frame.
pub fn frame(text: &str) {
    match decode(text) {
        Ok(frame) => {
            check_transaction(frame.transaction.as_ref(), text);
            let again = encode(&frame);
            assert_eq!(decode(&again).as_ref(), Ok(&frame), "{text:?} decoded, written as {again:?}");
        }
        Err(refusal) => {
            assert_coded(&refusal.error, &FRAME_CODES, &text);
            check_transaction(refusal.transaction.as_ref(), text);
        }
    }
}

fn check_transaction(transaction: Option<&Value>, text: &str) {
    match transaction {
        None | Some(Value::Number(_)) => {}
        Some(Value::String(t)) => assert!(t.len() <= TRANSACTION_MAX, "{text:?}: a transaction of {} bytes", t.len()),
        Some(other) => panic!("{text:?}: transaction {other:?}"),
    }
}

/// A client frame as docs/protocol.md writes it: what a client library would send.
pub fn encode(frame: &ClientFrame) -> String {
    let mut out = match &frame.command {
        Command::Ping => json!({ "type": "ping" }),
        Command::Status(status) => json!({ "type": "status", "status": status }),
        Command::Focus(focus) => json!({ "type": "focus", "focus": focus }),
        Command::Publish(draft) => {
            let mut out = json!({ "type": "publish", "event": draft.event });
            if let Some(key) = &draft.key {
                out["id"] = Value::from(key.as_str());
            }
            out
        }
    };
    if let Some(transaction) = &frame.transaction {
        out["transaction"] = transaction.clone();
    }
    let text = out.to_string();
    match &frame.command {
        // `data` goes back exactly as it was written: the room keeps the publisher's text.
        Command::Publish(draft) => format!("{},\"data\":{}}}", &text[..text.len() - 1], draft.data.get()),
        _ => text,
    }
}

/// Which room a script plays in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoomKind {
    /// A shared room (`lobby`): the native protocol.
    Shared,
    /// A tndata conversation of `alice` and `bob`: tndata frames ([`tndata::decode`]).
    Tndata,
    /// `alice`'s inbox: `received` / `read` frames, then the native protocol.
    Inbox,
}

/// One step of a room's life. Connections are numbered 0 to 3: 0 and 2 are `alice`'s, 1 and 3
/// `bob`'s.
#[derive(Debug, Clone)]
pub enum RoomInput {
    Connect {
        conn: u8,
        since: Option<u64>,
    },
    Frame {
        conn: u8,
        text: String,
    },
    Binary {
        conn: u8,
        len: usize,
    },
    Close {
        conn: u8,
    },
    /// Time passes (ms), and the alarm fires when due.
    Advance(u32),
}

/// A room takes `inputs` and answers each with effects the protocol allows: every frame is a
/// JSON object with a `type`; every `error` frame and every close carries a code the room
/// documents; messages take the room's next seq, one after the other, each acked to its
/// publisher first.
pub fn room(kind: RoomKind, inputs: &[RoomInput]) {
    let id = match kind {
        RoomKind::Shared => "lobby",
        RoomKind::Tndata => "tndata:alice:bob",
        RoomKind::Inbox => "inbox:alice",
    };
    let room_id = RoomId::parse(id).unwrap();
    let limits = Limits { max_frame_bytes: 4096, messages_per_second: 5, message_burst: 8, ..Limits::default() };
    let room = Room::load(room_id.clone(), limits, Retention::default(), MemoryLog::new()).unwrap();
    let mut harness = Harness::over(room);
    let db = Sqlite::in_memory();
    let mut marks = ReadMarks::open(db.clone()).unwrap();
    let mut inbox = Inbox::open(&room_id, &Fallback::default(), &Retention::default(), db).unwrap();
    let mut fresh = 0u64;
    let mut last_seq = 0;
    for input in inputs {
        let effects = match input {
            RoomInput::Connect { conn, since } => {
                let session = Session {
                    conn: conn_id(*conn),
                    user: user(owner(*conn)),
                    expires_at: T0 + DAY,
                    tag: None,
                    address: None,
                };
                harness.room.on_connect(harness.now, session, *since)
            }
            RoomInput::Frame { conn, text } => {
                fresh += 1;
                let fresh_id = || format!("fresh-{fresh}");
                let (now, conn) = (harness.now, conn_id(*conn));
                match (kind, inbox.as_mut()) {
                    (RoomKind::Tndata, _) => harness.room.on_tndata_frame(now, &conn, text, &mut marks, fresh_id),
                    (RoomKind::Inbox, Some(inbox)) => harness.room.on_inbox_frame(now, &conn, text, inbox, fresh_id),
                    _ => harness.room.on_frame(now, &conn, text, fresh_id),
                }
            }
            RoomInput::Binary { conn, len } => harness.room.on_binary(&conn_id(*conn), *len),
            RoomInput::Close { conn } => harness.room.on_close(&conn_id(*conn)),
            RoomInput::Advance(ms) => {
                harness.advance(i64::from(*ms));
                match harness.alarm {
                    Some(at) if at <= harness.now => {
                        harness.alarm = None;
                        harness.room.on_alarm(harness.now)
                    }
                    _ => Vec::new(),
                }
            }
        };
        last_seq = check_effects(&effects, last_seq, input);
        assert_eq!(harness.room.last_seq(), last_seq, "{input:?}: the room's last seq");
        harness.apply(effects);
    }
}

fn owner(conn: u8) -> &'static str {
    if conn.is_multiple_of(2) {
        "alice"
    } else {
        "bob"
    }
}

fn conn_id(conn: u8) -> ConnId {
    ConnId(format!("c{}", conn % 4))
}

/// The frames of one input's effects; the last seq after them.
fn check_effects(effects: &[Effect], mut last_seq: u64, input: &RoomInput) -> u64 {
    let mut acked = Vec::new();
    let mut replayed = 0;
    for effect in effects {
        let (text, live) = match effect {
            Effect::Send { text, .. } => (text, false),
            Effect::Broadcast { text, .. } => (text, true),
            Effect::Close { code, reason, .. } => {
                assert!(
                    [close::NORMAL, close::MESSAGE_TOO_BIG, close::INTERNAL].contains(code)
                        || (4000..=4999).contains(code),
                    "{input:?}: close code {code}"
                );
                assert!(reason.is_empty() || documented(reason), "{input:?}: close reason {reason:?}");
                continue;
            }
            _ => continue,
        };
        let frame: Value = serde_json::from_str(text).unwrap_or_else(|e| panic!("{input:?}: sent {text:?}: {e}"));
        let kind = frame["type"].as_str().unwrap_or_else(|| panic!("{input:?}: a frame without a type: {text}"));
        match kind {
            "error" => {
                let code = frame["code"].as_str().unwrap_or_default();
                assert!(
                    ROOM_CODES.iter().any(|c| c.as_str() == code),
                    "{input:?}: error frame with code {code:?}: {text}"
                );
            }
            "ack" if frame["duplicate"] != json!(true) => acked.push(frame["seq"].as_u64().unwrap()),
            // A new message goes to everyone, after its ack; a resume replays old ones to one
            // connection, oldest first.
            "message" if live => {
                let seq = frame["seq"].as_u64().unwrap();
                assert_eq!(seq, last_seq + 1, "{input:?}: messages take the room's next seq");
                assert!(acked.contains(&seq), "{input:?}: message {seq} before its ack");
                last_seq = seq;
            }
            "message" => {
                let seq = frame["seq"].as_u64().unwrap();
                assert!(
                    replayed < seq && seq <= last_seq,
                    "{input:?}: replayed {seq} after {replayed}, last {last_seq}"
                );
                replayed = seq;
            }
            _ => {}
        }
    }
    last_seq
}

/// A frame from a room, as the dialects read it: parsed into a [`RoomFrame`] (anything
/// unexpected is [`RoomFrame::Other`]), and into tndata's shapes, without a panic.
pub fn from_room(text: &str) {
    let parsed = RoomFrame::parse(text);
    if !matches!(parsed, RoomFrame::Other) {
        assert!(serde_json::from_str::<Value>(text).is_ok(), "{text:?} parsed as {parsed:?}");
    }
    let room = RoomId::parse("tndata:alice:bob").unwrap();
    if let Some(out) = tndata::to_client(&room, text, || "fresh".into()) {
        let out: Value = serde_json::from_str(&out).unwrap();
        for field in ["from_id", "avatar", "from", "message", "digest"] {
            assert!(out[field].is_string(), "{text:?} became {out}");
        }
    }
    let alice = UserId::parse("alice").unwrap();
    if let Some(item) = tndata::history_item(&room, text, |user, _| user == &alice) {
        assert!(item["seq"].is_u64() && item["read"].is_boolean(), "{text:?} became {item}");
    }
}
