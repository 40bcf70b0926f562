//! The native protocol: JSON text frames over a websocket (`docs/protocol.md`).
//!
//! `decode` turns a client frame into a [`ClientFrame`]; `encode` turns a [`ServerFrame`] into
//! text. Every frame is an object with a `type`; a client may add `transaction` to any frame
//! and errors caused by that frame echo it.

use super::status::{focus_from_field, Status};
use crate::error::{Error, ErrorCode};
use crate::ids::{RoomId, User};
use crate::json;
use crate::message::Draft;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::Value;

/// Longest `transaction`, in bytes when it is a string.
pub const TRANSACTION_MAX: usize = 128;

/// A decoded client frame.
#[derive(Debug, Clone, PartialEq)]
pub struct ClientFrame {
    pub command: Command,
    pub transaction: Option<Value>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// `{"type":"publish","event":..,"data":..,"id"?:..}`
    Publish(Draft),
    /// `{"type":"ping"}`; answered with `pong`. (The exact text `{"type":"ping"}` is answered by
    /// the runtime without waking the room; see docs/protocol.md.)
    Ping,
    /// `{"type":"status","status":"online"|"idle"|"offline"}`: this connection's status.
    Status(Status),
    /// `{"type":"focus","focus":"<1..128 bytes>"|null}`: what this connection works on.
    Focus(Option<String>),
}

/// A frame that could not be decoded, with the transaction to echo when one was readable.
#[derive(Debug, Clone, PartialEq)]
pub struct FrameError {
    pub error: Error,
    pub transaction: Option<Value>,
}

/// Every field a client frame may carry. Fields are taken loosely (as JSON values) so that one
/// wrong field is reported by name, and `transaction` is echoed even when the rest is wrong.
#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(rename = "type")]
    kind: Option<Value>,
    transaction: Option<Value>,
    event: Option<Value>,
    #[serde(borrow)]
    data: Option<&'a RawValue>,
    id: Option<Value>,
    status: Option<Value>,
    focus: Option<Value>,
}

pub fn decode(text: &str) -> Result<ClientFrame, FrameError> {
    let envelope: Envelope<'_> =
        json::object(text, "frame").map_err(|error| FrameError { error, transaction: None })?;
    let transaction = match envelope.transaction {
        None | Some(Value::Null) => None,
        Some(Value::String(t)) if t.len() <= TRANSACTION_MAX => Some(Value::String(t)),
        Some(Value::Number(n)) => Some(Value::Number(n)),
        Some(_) => {
            return Err(FrameError {
                error: Error::invalid_field(
                    "transaction",
                    format!("must be a string of at most {TRANSACTION_MAX} bytes or a number"),
                ),
                transaction: None,
            })
        }
    };
    let fail = |error: Error| FrameError { error, transaction: transaction.clone() };
    let command = match envelope.kind.as_ref() {
        Some(Value::String(kind)) if kind == "publish" => {
            Command::Publish(Draft::new(envelope.event.as_ref(), envelope.data, envelope.id.as_ref()).map_err(fail)?)
        }
        Some(Value::String(kind)) if kind == "ping" => Command::Ping,
        Some(Value::String(kind)) if kind == "status" => {
            Command::Status(Status::from_field("status", envelope.status.as_ref()).map_err(fail)?)
        }
        Some(Value::String(kind)) if kind == "focus" => {
            Command::Focus(focus_from_field("focus", envelope.focus.as_ref()).map_err(fail)?)
        }
        Some(Value::String(kind)) => {
            return Err(fail(
                Error::new(
                    ErrorCode::UnknownType,
                    format!("unknown frame type {kind:?} (expected \"publish\", \"ping\", \"status\" or \"focus\")"),
                )
                .with_details(serde_json::json!({ "type": kind })),
            ))
        }
        Some(_) => return Err(fail(Error::invalid_field("type", "must be a string"))),
        None => return Err(fail(Error::invalid_field("type", "is required"))),
    };
    Ok(ClientFrame { command, transaction })
}

/// Frames the server sends.
#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum ServerFrame<'a> {
    /// First frame on every connection.
    Welcome {
        conn: &'a str,
        user: &'a User,
        room: &'a RoomId,
        seq: u64,
        /// Messages a resume asked for that retention already dropped.
        #[serde(skip_serializing_if = "Option::is_none")]
        gap: Option<Span>,
        /// Messages a resume asked for that were not replayed (the replay's size cap): fetch
        /// them from REST history. Live messages start after `seq` either way.
        #[serde(skip_serializing_if = "Option::is_none")]
        truncated: Option<Span>,
    },
    /// Answer to a publish: the message's id and seq. `duplicate` is set when the id had been
    /// published before and this is the first ack again.
    Ack {
        id: &'a str,
        seq: u64,
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        duplicate: bool,
        #[serde(skip_serializing_if = "Option::is_none")]
        transaction: Option<&'a Value>,
    },
    /// A message of the room, to every member (the publisher too).
    Message { room: &'a RoomId, seq: u64, id: &'a str, event: &'a str, data: &'a RawValue, from: &'a User, ts: i64 },
    /// The room's members, to a newcomer.
    Presence { members: Vec<&'a User> },
    /// A user's first connection opened.
    Joined { user: &'a User },
    /// A user's last connection closed.
    Left { user: &'a User },
    /// A user's status across their connections changed (`room/status.rs`).
    Status { user: &'a User, status: Status },
    /// A user's focus moved to their connection `conn`; to each of that user's connections.
    Moved { user: &'a User, conn: &'a str, focus: &'a str },
    Pong {
        #[serde(skip_serializing_if = "Option::is_none")]
        transaction: Option<&'a Value>,
    },
    Error {
        code: ErrorCode,
        message: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        details: Option<&'a Value>,
        #[serde(skip_serializing_if = "Option::is_none")]
        transaction: Option<&'a Value>,
    },
}

/// A range of seqs, both ends included.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Span {
    /// First seq of the range.
    pub from: u64,
    /// Last seq of the range.
    pub to: u64,
}

impl ServerFrame<'_> {
    pub fn encode(&self) -> String {
        serde_json::to_string(self).expect("server frames always serialize")
    }
}

/// The error frame for `error`, echoing `transaction`.
pub fn error_frame(error: &Error, transaction: Option<&Value>) -> String {
    ServerFrame::Error { code: error.code, message: &error.message, details: error.details.as_ref(), transaction }
        .encode()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn err(text: &str) -> FrameError {
        decode(text).unwrap_err()
    }

    #[test]
    fn publish_decodes_with_event_data_id_and_transaction() {
        let frame =
            decode(r#"{"type":"publish","event":"chat","data":{"t":"hi"},"id":"k1","transaction":"t1"}"#).unwrap();
        assert_eq!(frame.transaction, Some(json!("t1")));
        let Command::Publish(draft) = frame.command else { panic!("not a publish") };
        assert_eq!(draft.event, "chat");
        assert_eq!(draft.data.get(), r#"{"t":"hi"}"#);
        assert_eq!(draft.key.as_deref(), Some("k1"));
    }

    #[test]
    fn missing_data_is_null() {
        let frame = decode(r#"{"type":"publish","event":"e"}"#).unwrap();
        let Command::Publish(draft) = frame.command else { panic!() };
        assert_eq!(draft.data.get(), "null");
    }

    #[test]
    fn malformed_json_and_non_objects_are_told_apart() {
        assert_eq!(err("{nope").error.code, ErrorCode::MalformedJson);
        assert_eq!(err("[1,2]").error.code, ErrorCode::InvalidField);
        assert_eq!(err("\"publish\"").error.code, ErrorCode::InvalidField);
        assert_eq!(err(r#"["publish","t1","chat",{"x":1},null]"#).error.code, ErrorCode::InvalidField);
    }

    #[test]
    fn errors_echo_the_transaction() {
        let e = err(r#"{"type":"publish","transaction":7}"#);
        assert_eq!(e.error.code, ErrorCode::InvalidField);
        assert_eq!(e.transaction, Some(json!(7)));
        let e = err(r#"{"type":"shout","transaction":"x"}"#);
        assert_eq!(e.error.code, ErrorCode::UnknownType);
        assert_eq!(e.transaction, Some(json!("x")));
    }

    #[test]
    fn wrong_types_name_the_field() {
        assert!(err(r#"{"type":"publish","event":5}"#).error.message.contains("`event`"));
        assert!(err(r#"{"type":"publish","event":"e","id":{}}"#).error.message.contains("`id`"));
        assert!(err(r#"{"type":1}"#).error.message.contains("`type`"));
        assert!(err(r#"{"event":"e"}"#).error.message.contains("`type`"));
    }

    #[test]
    fn server_frames_have_the_documented_shape() {
        let user = User::anonymous_profile(crate::ids::UserId::parse("u1").unwrap());
        let room = RoomId::parse("r").unwrap();
        let data = RawValue::from_string("[1]".into()).unwrap();
        let text =
            ServerFrame::Message { room: &room, seq: 3, id: "m", event: "e", data: &data, from: &user, ts: 9 }.encode();
        assert_eq!(
            serde_json::from_str::<Value>(&text).unwrap(),
            json!({"type":"message","room":"r","seq":3,"id":"m","event":"e","data":[1],"from":{"id":"u1"},"ts":9})
        );
        let ack = ServerFrame::Ack { id: "m", seq: 3, duplicate: false, transaction: None }.encode();
        assert_eq!(ack, r#"{"type":"ack","id":"m","seq":3}"#);
    }
}
