//! The calls between a home and a room, as they travel (`POST /members`, `POST /deliver`;
//! [`crate::internal`] lists every internal call): a home's commands for its sessions, and what
//! the room delivers to them.

use crate::ids::{RoomId, User};
use serde::{Deserialize, Serialize};

/// What a home asks of a room for its sessions, in the order the sessions asked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MemberBatch {
    /// The home's id: where the room delivers to these members.
    pub home: String,
    pub commands: Vec<MemberCommand>,
}

/// One command for the member `conn` (the session's Engine.IO sid).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MemberCommand {
    pub conn: String,
    #[serde(flatten)]
    pub op: MemberOp,
}

impl<'de> Deserialize<'de> for MemberCommand {
    // By hand, as the derive would with `op` flattened and tagged `op`
    // ([`crate::json::required`]).
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use crate::json::required;
        #[derive(Deserialize)]
        struct Wire {
            conn: String,
            op: String,
            user: Option<User>,
            expires_at: Option<i64>,
            since: Option<u64>,
            tag: Option<String>,
            text: Option<String>,
        }
        let w = Wire::deserialize(d)?;
        let op = match w.op.as_str() {
            "join" => MemberOp::Join {
                user: required(w.user, "user")?,
                expires_at: required(w.expires_at, "expires_at")?,
                since: w.since,
                tag: w.tag,
            },
            "frame" => MemberOp::Frame { text: required(w.text, "text")? },
            "leave" => MemberOp::Leave,
            other => return Err(serde::de::Error::unknown_variant(other, &["join", "frame", "leave"])),
        };
        Ok(Self { conn: w.conn, op })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "op", rename_all = "lowercase")]
pub enum MemberOp {
    /// Join the room as `user` until `expires_at` (ms since the epoch), resuming after `since`.
    Join {
        user: User,
        expires_at: i64,
        since: Option<u64>,
        /// The session's socket id (see [`crate::room::Session::tag`]).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        tag: Option<String>,
    },
    /// A native protocol frame from the member, as a websocket client would send it.
    Frame { text: String },
    /// Leave the room. The room answers with a [`DeliveryItem::Close`] once it is done.
    Leave,
}

/// What a room sends to the members one home holds, in the room's order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Delivery {
    pub room: RoomId,
    pub items: Vec<DeliveryItem>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum DeliveryItem {
    /// A native protocol frame for each member in `to`.
    Frame { to: Vec<String>, text: String },
    /// The membership of `to` ended (the room closed it, or a leave completed).
    Close { to: String },
}

impl<'de> Deserialize<'de> for DeliveryItem {
    // By hand, as the derive would with `tag = "kind"` ([`crate::json::required`]). `to` is a
    // list of members in a frame, one member in a close.
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::{Error as _, Unexpected};
        use serde_json::Value;
        #[derive(Deserialize)]
        struct Wire {
            kind: String,
            to: Value,
            text: Option<String>,
        }
        let w = Wire::deserialize(d)?;
        match (w.kind.as_str(), w.to) {
            ("frame", Value::Array(to)) => {
                let to = to.into_iter().map(|member| match member {
                    Value::String(member) => Ok(member),
                    _ => Err(D::Error::invalid_type(Unexpected::Other("a non-string member"), &"a member's sid")),
                });
                Ok(Self::Frame { to: to.collect::<Result<_, _>>()?, text: crate::json::required(w.text, "text")? })
            }
            ("close", Value::String(to)) => Ok(Self::Close { to }),
            ("frame", _) => Err(D::Error::invalid_type(Unexpected::Other("`to`"), &"a sequence")),
            ("close", _) => Err(D::Error::invalid_type(Unexpected::Other("`to`"), &"a string")),
            (other, _) => Err(D::Error::unknown_variant(other, &["frame", "close"])),
        }
    }
}

/// A home's answer to a [`Delivery`]: the members it does not hold (their session ended, or
/// the home lost it); the room drops them.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct DeliveryAnswer {
    pub unknown: Vec<String>,
}
