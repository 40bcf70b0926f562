//! The rooms a Socket.IO session of a seed dialect is in, and what those rooms send it.
//!
//! A session's memberships go Joining → Joined (the room's `welcome`) → Leaving → gone (the
//! room closes the membership). [`Memberships`] turns the dialect's wishes into
//! [`RoomCommand`]s and the room's answers into [`Update`]s: native frames parsed into
//! [`RoomFrame`]s, which the dialect translates into its own events.

use super::{Effect, RoomCommand, RoomEvent};
use crate::error::{Error, ErrorCode};
use crate::ids::{RoomId, User};
use crate::room::Status;
use crate::vec_map::VecMap;
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{json, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Asked to join; no `welcome` yet.
    Joining,
    Joined,
    /// Asked to leave; the room has not closed the membership yet.
    Leaving,
}

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

/// What a room's event means for the session.
#[derive(Debug, Clone, PartialEq)]
pub enum Update<'a> {
    /// A frame; a `welcome` has already moved the membership to [`Phase::Joined`], and
    /// `joining` says it did (it answers the join).
    Frame { frame: RoomFrame<'a>, joining: bool },
    /// The room closed the membership: as asked (`asked`, after a leave), or on its own (after
    /// an `error` frame it sent, or a refused join).
    Ended { asked: bool },
    /// The room could not be reached: the membership is gone.
    Failed(&'a Error),
}

#[derive(Debug, Default)]
pub struct Memberships {
    rooms: VecMap<RoomId, Phase>,
}

impl Memberships {
    pub fn phase(&self, room: &RoomId) -> Option<Phase> {
        self.rooms.get(room).copied()
    }

    /// Rooms joined or being joined (not those being left).
    pub fn active(&self) -> impl Iterator<Item = &RoomId> {
        self.rooms.iter().filter(|(_, p)| **p != Phase::Leaving).map(|(room, _)| room)
    }

    /// Asks to join `room` with `command` (a [`RoomCommand::Join`]).
    pub fn join(&mut self, room: &RoomId, command: RoomCommand) -> Result<Effect, Error> {
        if let Some(phase) = self.rooms.get(room) {
            let why = match phase {
                Phase::Leaving => "is being left; join again once that is done",
                _ => "is already joined",
            };
            return Err(Error::new(ErrorCode::AlreadyJoined, format!("room {room} {why}")));
        }
        self.rooms.insert(room.clone(), Phase::Joining);
        Ok(Effect::Room { room: room.clone(), command })
    }

    /// A native publish of `event` with `data` into `room`, which must be joined or being
    /// joined (commands keep their order, so a publish right after the join is the member's).
    pub fn publish(&self, room: &RoomId, event: &str, data: &Value) -> Result<Effect, Error> {
        let frame = json!({ "type": "publish", "event": event, "data": data });
        self.frame(room, frame.to_string())
    }

    /// Any native frame from the member into `room`.
    pub fn frame(&self, room: &RoomId, text: String) -> Result<Effect, Error> {
        match self.rooms.get(room) {
            Some(Phase::Joining | Phase::Joined) => {
                Ok(Effect::Room { room: room.clone(), command: RoomCommand::Frame(text) })
            }
            _ => Err(not_joined(room)),
        }
    }

    /// Asks to leave `room`.
    pub fn leave(&mut self, room: &RoomId) -> Result<Effect, Error> {
        match self.rooms.get_mut(room) {
            Some(phase @ (Phase::Joining | Phase::Joined)) => {
                *phase = Phase::Leaving;
                Ok(Effect::Room { room: room.clone(), command: RoomCommand::Leave })
            }
            _ => Err(not_joined(room)),
        }
    }

    /// Leaves every room at once (the session ended, or left the namespace). Each stays
    /// [`Phase::Leaving`] until its room closes the membership, so that a close still on its
    /// way cannot end a membership joined again meanwhile.
    pub fn leave_all(&mut self) -> Vec<Effect> {
        let mut effects = Vec::new();
        for (room, phase) in self.rooms.iter_mut().filter(|(_, phase)| **phase != Phase::Leaving) {
            *phase = Phase::Leaving;
            effects.push(Effect::Room { room: room.clone(), command: RoomCommand::Leave });
        }
        effects
    }

    /// A room's event; `None` when this session is not a member there.
    pub fn on_room<'a>(&mut self, room: &RoomId, event: RoomEvent<'a>) -> Option<Update<'a>> {
        let phase = self.rooms.get_mut(room)?;
        Some(match event {
            // Nothing of a room being left reaches the client.
            RoomEvent::Frame(_) if *phase == Phase::Leaving => {
                Update::Frame { frame: RoomFrame::Other, joining: false }
            }
            RoomEvent::Frame(text) => {
                let frame = RoomFrame::parse(text);
                let joining = matches!(frame, RoomFrame::Welcome { .. }) && *phase == Phase::Joining;
                if joining {
                    *phase = Phase::Joined;
                }
                Update::Frame { frame, joining }
            }
            RoomEvent::Closed => {
                let asked = self.rooms.remove(room) == Some(Phase::Leaving);
                Update::Ended { asked }
            }
            RoomEvent::Failed(error) => {
                self.rooms.remove(room);
                Update::Failed(error)
            }
        })
    }
}

pub fn not_joined(room: &RoomId) -> Error {
    Error::new(ErrorCode::NotJoined, format!("room {room} is not joined"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::UserId;

    fn room(id: &str) -> RoomId {
        RoomId::parse(id).unwrap()
    }

    fn join_command() -> RoomCommand {
        let user = User::anonymous_profile(UserId::parse("u").unwrap());
        RoomCommand::Join { user, expires_at: 10, since: None, tag: None }
    }

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

    #[test]
    fn a_membership_goes_joining_joined_leaving_gone() {
        let mut rooms = Memberships::default();
        let r = room("r");
        assert!(matches!(rooms.join(&r, join_command()), Ok(Effect::Room { command: RoomCommand::Join { .. }, .. })));
        assert_eq!(rooms.join(&r, join_command()).unwrap_err().code, ErrorCode::AlreadyJoined);
        assert!(rooms.publish(&r, "e", &json!(1)).is_ok(), "a publish may follow the join at once");
        let welcome = r#"{"type":"welcome","conn":"c","user":{"id":"u"},"room":"r","seq":0}"#;
        assert!(matches!(rooms.on_room(&r, RoomEvent::Frame(welcome)), Some(Update::Frame { joining: true, .. })));
        assert_eq!(rooms.phase(&r), Some(Phase::Joined));
        assert!(matches!(rooms.leave(&r), Ok(Effect::Room { command: RoomCommand::Leave, .. })));
        assert_eq!(rooms.publish(&r, "e", &json!(1)).unwrap_err().code, ErrorCode::NotJoined);
        assert_eq!(rooms.leave(&r).unwrap_err().code, ErrorCode::NotJoined);
        assert_eq!(rooms.on_room(&r, RoomEvent::Closed), Some(Update::Ended { asked: true }));
        assert_eq!(rooms.on_room(&r, RoomEvent::Closed), None);
    }

    #[test]
    fn a_room_ending_a_membership_on_its_own_is_told_apart_from_a_leave() {
        let mut rooms = Memberships::default();
        let r = room("r");
        rooms.join(&r, join_command()).unwrap();
        assert_eq!(rooms.on_room(&r, RoomEvent::Closed), Some(Update::Ended { asked: false }));
        rooms.join(&r, join_command()).unwrap();
        let error = Error::internal("down");
        assert_eq!(rooms.on_room(&r, RoomEvent::Failed(&error)), Some(Update::Failed(&error)));
        assert_eq!(rooms.phase(&r), None);
    }

    #[test]
    fn leaving_everything_skips_rooms_already_being_left() {
        let mut rooms = Memberships::default();
        let (a, b) = (room("a"), room("b"));
        rooms.join(&a, join_command()).unwrap();
        rooms.join(&b, join_command()).unwrap();
        rooms.leave(&a).unwrap();
        let leaves = rooms.leave_all();
        assert_eq!(leaves, vec![Effect::Room { room: b.clone(), command: RoomCommand::Leave }]);
        assert_eq!(rooms.active().count(), 0);
        // Until the room closes the membership, a join waits, and the room's frames are dropped.
        assert_eq!(rooms.join(&b, join_command()).unwrap_err().code, ErrorCode::AlreadyJoined);
        let message = r#"{"type":"message","room":"b","seq":1,"id":"m","event":"e","data":1,"from":{"id":"u"},"ts":1}"#;
        assert_eq!(
            rooms.on_room(&b, RoomEvent::Frame(message)),
            Some(Update::Frame { frame: RoomFrame::Other, joining: false })
        );
        assert_eq!(rooms.on_room(&b, RoomEvent::Closed), Some(Update::Ended { asked: true }));
        assert!(rooms.join(&b, join_command()).is_ok());
    }
}
