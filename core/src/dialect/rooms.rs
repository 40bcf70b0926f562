//! What rooms send a session of a seed dialect: native frames parsed into [`RoomFrame`]s, which
//! the dialect translates into its own events. (The memberships themselves are
//! [`super::membership`]'s.)

use crate::ids::User;
use crate::protocol::Status;
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;

/// A native frame from a room, as the seed dialects read it (docs/protocol.md).
#[derive(Debug, Clone, PartialEq)]
pub enum RoomFrame<'a> {
    Welcome {
        seq: u64,
        /// The connection welcomed, and its user (the room always sends both).
        conn: Option<String>,
        user: Option<User>,
    },
    Presence {
        members: Vec<User>,
    },
    Message(Message<'a>),
    Joined {
        user: User,
    },
    Left {
        user: User,
    },
    Ack {
        seq: u64,
        transaction: Option<Value>,
    },
    Error {
        code: String,
        message: String,
        transaction: Option<Value>,
    },
    /// A user's status across their connections changed.
    Status {
        user: User,
        status: Status,
    },
    /// A user's focus moved to their connection `conn`.
    Moved {
        user: User,
        conn: String,
        focus: String,
    },
    /// A frame type the dialects do not use.
    Other,
}

/// A room's message.
#[derive(Debug, Clone)]
pub struct Message<'a> {
    pub seq: u64,
    pub id: String,
    pub event: String,
    pub data: &'a RawValue,
    pub from: User,
    pub ts: i64,
}

impl PartialEq for Message<'_> {
    fn eq(&self, other: &Self) -> bool {
        (self.seq, &self.id, &self.event, self.data.get(), &self.from, self.ts)
            == (other.seq, &other.id, &other.event, other.data.get(), &other.from, other.ts)
    }
}

/// Every field of the frames the dialects read, each optional; the frame's `type` says which
/// must be there. One reader for every type of frame: a derived reader per type cost the wasm
/// about 12 KB. The room writes each field with one JSON type whatever the frame
/// (`protocol::native`), so no frame it sends reads differently here than alone.
#[derive(Deserialize)]
struct Fields<'a> {
    #[serde(rename = "type")]
    kind: Option<String>,
    seq: Option<u64>,
    members: Option<Vec<User>>,
    user: Option<User>,
    transaction: Option<Value>,
    status: Option<Status>,
    conn: Option<String>,
    focus: Option<String>,
    code: Option<String>,
    message: Option<String>,
    id: Option<String>,
    event: Option<String>,
    /// `null` data is data too (a message's), not a missing field.
    #[serde(borrow, default, deserialize_with = "present")]
    data: Option<&'a RawValue>,
    from: Option<User>,
    ts: Option<i64>,
}

fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<&'de RawValue>, D::Error> {
    <&RawValue>::deserialize(d).map(Some)
}

impl<'a> RoomFrame<'a> {
    /// Parses a frame a room sent.
    pub fn parse(text: &'a str) -> Self {
        let Ok(f) = serde_json::from_str::<Fields<'a>>(text) else { return RoomFrame::Other };
        let frame = match f.kind.as_deref().unwrap_or_default() {
            "message" => match (f.seq, f.id, f.event, f.data, f.from, f.ts) {
                (Some(seq), Some(id), Some(event), Some(data), Some(from), Some(ts)) => {
                    Some(RoomFrame::Message(Message { seq, id, event, data, from, ts }))
                }
                _ => None,
            },
            "welcome" => f.seq.map(|seq| RoomFrame::Welcome { seq, conn: f.conn, user: f.user }),
            "presence" => f.members.map(|members| RoomFrame::Presence { members }),
            "joined" => f.user.map(|user| RoomFrame::Joined { user }),
            "left" => f.user.map(|user| RoomFrame::Left { user }),
            "ack" => f.seq.map(|seq| RoomFrame::Ack { seq, transaction: f.transaction }),
            "status" => f.user.zip(f.status).map(|(user, status)| RoomFrame::Status { user, status }),
            "moved" => match (f.user, f.conn, f.focus) {
                (Some(user), Some(conn), Some(focus)) => Some(RoomFrame::Moved { user, conn, focus }),
                _ => None,
            },
            "error" => f.code.zip(f.message).map(|(code, message)| RoomFrame::Error {
                code,
                message,
                transaction: f.transaction,
            }),
            _ => None,
        };
        frame.unwrap_or(RoomFrame::Other)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::UserId;
    use serde_json::json;

    #[test]
    fn frames_parse_into_what_the_dialects_read() {
        let text = r#"{"type":"message","room":"r","seq":3,"id":"m","event":"text","data":{"msg":"hi"},"from":{"id":"u","name":"U"},"ts":5}"#;
        let RoomFrame::Message(message) = RoomFrame::parse(text) else { panic!("not a message") };
        assert_eq!((message.seq, message.event.as_str(), message.data.get()), (3, "text", r#"{"msg":"hi"}"#));
        assert_eq!(message.from.name.as_deref(), Some("U"));
        assert_eq!(
            RoomFrame::parse(r#"{"type":"welcome","conn":"c","user":{"id":"u"},"room":"r","seq":4}"#),
            RoomFrame::Welcome {
                seq: 4,
                conn: Some("c".into()),
                user: Some(User::anonymous_profile(UserId::parse("u").unwrap()))
            }
        );
        let left = RoomFrame::parse(r#"{"type":"left","user":{"id":"u"}}"#);
        assert!(matches!(left, RoomFrame::Left { user } if user.id.as_str() == "u"));
        let error = RoomFrame::parse(r#"{"type":"error","code":"rate_limited","message":"slow down","transaction":1}"#);
        assert_eq!(
            error,
            RoomFrame::Error { code: "rate_limited".into(), message: "slow down".into(), transaction: Some(json!(1)) }
        );
        let status = RoomFrame::parse(r#"{"type":"status","user":{"id":"u"},"status":"idle"}"#);
        assert!(matches!(status, RoomFrame::Status { user, status: Status::Idle } if user.id.as_str() == "u"));
        let moved = RoomFrame::parse(r#"{"type":"moved","user":{"id":"u"},"conn":"c2","focus":"f"}"#);
        assert!(matches!(moved, RoomFrame::Moved { conn, focus, .. } if conn == "c2" && focus == "f"));
        assert_eq!(RoomFrame::parse(r#"{"type":"pong"}"#), RoomFrame::Other);
        assert_eq!(
            RoomFrame::parse(r#"{"seq":2,"type":"welcome"}"#),
            RoomFrame::Welcome { seq: 2, conn: None, user: None }
        );
        assert_eq!(RoomFrame::parse(r#"{"type":"message"}"#), RoomFrame::Other);
    }

    #[test]
    fn a_message_whose_data_is_null_is_still_a_message() {
        let text = r#"{"type":"message","room":"r","seq":1,"id":"m","event":"e","data":null,"from":{"id":"u"},"ts":5}"#;
        let RoomFrame::Message(message) = RoomFrame::parse(text) else { panic!("not a message") };
        assert_eq!(message.data.get(), "null");
    }

    #[test]
    fn a_frame_missing_a_field_its_type_needs_is_other() {
        assert_eq!(RoomFrame::parse(r#"{"type":"joined"}"#), RoomFrame::Other);
        assert_eq!(RoomFrame::parse(r#"{"type":"error","code":"x"}"#), RoomFrame::Other);
        assert_eq!(RoomFrame::parse(r#"{"type":"welcome","seq":"1"}"#), RoomFrame::Other);
        assert_eq!(RoomFrame::parse("not json"), RoomFrame::Other);
    }
}
