//! Identifiers and the public face of a user.
//!
//! Room ids come from URLs, user ids from the `sub` claim; both are checked once, here, and are
//! then carried as types that cannot hold a bad value.

use crate::error::{Error, ErrorCode};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Longest room id, in bytes.
pub const ROOM_ID_MAX: usize = 128;
/// Longest user id (`sub`), in bytes.
pub const USER_ID_MAX: usize = 128;
/// Longest display name (`name` claim), in bytes.
pub const NAME_MAX: usize = 256;
/// Longest avatar URL (`avatar` claim), in bytes.
pub const AVATAR_MAX: usize = 1024;

/// The prefix of Herald's own control rooms, one per user (`sessions:{user}`): the 3drepo
/// dialect's sessions listen there for an admin's logout. Only admin tokens may reach them.
pub const CONTROL_PREFIX: &str = "sessions";

/// Room kinds that belong to users: a user's inbox (`inbox:{user}`, 3drepo's notifications)
/// and a tndata conversation (`tndata:{a}:{b}`). Only their users (and admins, and tokens
/// whose `rooms` claim names them) may reach them; see [`RoomId::owners`].
pub const OWNED_PREFIXES: [&str; 2] = ["inbox", "tndata"];

/// A room id: 1 to 128 characters from `A-Z a-z 0-9 _ - . :`, starting with a letter or digit.
///
/// The first-character rule keeps `.` and `..` (which URLs collapse) out; the character set
/// keeps ids safe in a URL path segment without escaping.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct RoomId(String);

impl RoomId {
    pub fn parse(raw: &str) -> Result<Self, Error> {
        let refuse = |why: &str| {
            Err(Error::new(ErrorCode::InvalidRoomId, format!("room id {raw:?} {why}")).with_details(
                serde_json::json!({
                    "rule": "1-128 characters from A-Z a-z 0-9 _ - . :, starting with a letter or digit"
                }),
            ))
        };
        if raw.is_empty() {
            return refuse("is empty");
        }
        if raw.len() > ROOM_ID_MAX {
            return refuse("is longer than 128 characters");
        }
        if !raw.as_bytes()[0].is_ascii_alphanumeric() {
            return refuse("must start with a letter or digit");
        }
        if !raw.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b':')) {
            return refuse("has a character outside A-Z a-z 0-9 _ - . :");
        }
        Ok(Self(raw.to_owned()))
    }

    /// The room a dialect names by `parts` under its own `prefix` (`alert`, `3drepo`, …), so
    /// that no dialect's rooms can be reached as another's: `prefix:part:part`. Each part is
    /// kept as it is when it has only `A-Z a-z 0-9 - .`; any other byte (`_` and `:` too) is
    /// written `_XX` (hex), so different parts never make the same id.
    pub fn compose(prefix: &str, parts: &[&str]) -> Result<Self, Error> {
        let mut id = prefix.to_owned();
        for part in parts {
            id.push(':');
            id.push_str(&escape_part(part));
        }
        Self::parse(&id)
    }

    /// The users a room belongs to, as their ids are written in it (escaped, see
    /// [`RoomId::compose`]): an inbox's user, a conversation's two. `None` for shared rooms.
    pub fn owners(&self) -> Option<Vec<&str>> {
        let (prefix, rest) = self.0.split_once(':')?;
        OWNED_PREFIXES.contains(&prefix).then(|| rest.split(':').collect())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A control room ([`CONTROL_PREFIX`]): only admin tokens may use it.
    pub fn is_reserved(&self) -> bool {
        self.0.strip_prefix(CONTROL_PREFIX).is_some_and(|rest| rest.starts_with(':'))
    }

    /// The name of the Durable Object that holds this room. Every kind of object has its own
    /// prefix, so a room can never be confused with another kind of object of the same name.
    pub fn object_name(&self) -> String {
        format!("room:{}", self.0)
    }

    /// The room id back from a Durable Object name made by [`RoomId::object_name`].
    pub fn from_object_name(name: &str) -> Option<Self> {
        name.strip_prefix("room:").and_then(|id| Self::parse(id).ok())
    }
}

impl fmt::Display for RoomId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for RoomId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        Self::parse(&raw).map_err(|e| serde::de::Error::custom(e.message))
    }
}

/// One part of a composed room id: kept when it has only `A-Z a-z 0-9 - .`, any other byte
/// written `_XX` (hex).
pub fn escape_part(part: &str) -> String {
    let mut out = String::with_capacity(part.len());
    for byte in part.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("_{byte:02X}"));
        }
    }
    out
}

/// A user id, from the token's `sub`: 1 to 128 bytes, no control characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct UserId(String);

impl UserId {
    pub fn parse(raw: &str) -> Result<Self, String> {
        if raw.is_empty() {
            return Err("is empty".into());
        }
        if raw.len() > USER_ID_MAX {
            return Err(format!("is longer than {USER_ID_MAX} bytes"));
        }
        if raw.chars().any(char::is_control) {
            return Err("has a control character".into());
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for UserId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        Self::parse(&raw).map_err(|why| serde::de::Error::custom(format!("user id {why}")))
    }
}

/// What other members see of a user: `{id, name?, avatar?}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub id: UserId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub avatar: Option<String>,
}

impl User {
    /// A user known only by id.
    pub fn anonymous_profile(id: UserId) -> Self {
        Self { id, name: None, avatar: None }
    }
}

/// The id of one websocket connection, unique within its room. Fresh ids come from the shell.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ConnId(pub String);

impl fmt::Display for ConnId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn room_ids_follow_the_documented_rule() {
        for ok in ["a", "lobby", "team:42", "a.b-c_d", "9", &"x".repeat(128)] {
            assert!(RoomId::parse(ok).is_ok(), "{ok} should be accepted");
        }
        for bad in ["", ".", "..", "-a", "a/b", "a b", "é", "a%20", &"x".repeat(129)] {
            let err = RoomId::parse(bad).unwrap_err();
            assert_eq!(err.code, ErrorCode::InvalidRoomId, "{bad:?}");
        }
    }

    #[test]
    fn composed_ids_escape_their_parts_so_different_parts_never_collide() {
        let id = |parts: &[&str]| RoomId::compose("x", parts).unwrap();
        assert_eq!(id(&["D5DB0B29", "a.b-c"]).as_str(), "x:D5DB0B29:a.b-c");
        assert_eq!(id(&["Room 1"]).as_str(), "x:Room_201");
        assert_ne!(id(&["a:b", "c"]), id(&["a", "b:c"]));
        assert_ne!(id(&["a_3Ab"]), id(&["a:b"]));
        assert_eq!(id(&["é"]).as_str(), "x:_C3_A9");
        assert_eq!(RoomId::compose("x", &[&"y".repeat(127)]).unwrap_err().code, ErrorCode::InvalidRoomId);
    }

    #[test]
    fn only_control_rooms_are_reserved() {
        assert!(RoomId::compose(CONTROL_PREFIX, &["alice"]).unwrap().is_reserved());
        for open in ["sessions", "sessionsx:a", "lobby", "inbox:alice", "a:sessions:b"] {
            assert!(!RoomId::parse(open).unwrap().is_reserved(), "{open}");
        }
    }

    #[test]
    fn object_names_round_trip_and_are_prefixed() {
        let room = RoomId::parse("team:42").unwrap();
        assert_eq!(room.object_name(), "room:team:42");
        assert_eq!(RoomId::from_object_name("room:team:42"), Some(room));
        assert_eq!(RoomId::from_object_name("inbox:team:42"), None);
    }

    #[test]
    fn user_ids_refuse_empty_long_and_control_characters() {
        assert!(UserId::parse("alice@example.com").is_ok());
        assert!(UserId::parse("").is_err());
        assert!(UserId::parse("a\nb").is_err());
        assert!(UserId::parse(&"u".repeat(129)).is_err());
    }
}
