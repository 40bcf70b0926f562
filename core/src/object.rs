//! Who a Durable Object is. Herald has one object class; an object is a room (an inbox is a
//! room), a Socket.IO home, a directory shard or the dead-letter store by the name it was
//! created under ([`Role`]).
//!
//! The runtime does not always tell an object its name: an alarm that wakes an object in a
//! process where no call has named it yet (after a restart of the local runtime, for one)
//! finds no name. So an object never takes its name from the runtime alone: every call to it
//! says whom it calls ([`crate::internal::OBJECT`]), and an object that keeps anything in its
//! storage stores that name the first time it hears it ([`StoredName`]) and reads it from there
//! whenever it wakes without one. [`learn`] decides what a told name means next to a stored one.

use crate::error::Error;
use crate::exchange::directory::shard_from_object_name;
use crate::ids::RoomId;
use crate::internal::DEAD_LETTERS_OBJECT;
use crate::store::{Sql, SqlValue, StoreError};

/// What an object is, from its name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Role {
    /// `room:{id}`: a room, and an inbox when the id is `inbox:{user}`.
    Room(RoomId),
    /// `home:{id}`: the home of Socket.IO sessions.
    Home(String),
    /// `directory:{n}`: a shard of the user directory.
    Directory(u32),
    /// The one dead-letter store.
    DeadLetters,
}

impl Role {
    /// The role an object's name gives it; `None` for a name no Herald object has.
    pub fn of(name: &str) -> Option<Self> {
        if let Some(room) = RoomId::from_object_name(name) {
            return Some(Self::Room(room));
        }
        if let Some(home) = name.strip_prefix("home:") {
            return crate::home::is_home_id(home).then(|| Self::Home(home.to_owned()));
        }
        if let Some(shard) = shard_from_object_name(name) {
            return Some(Self::Directory(shard));
        }
        (name == DEAD_LETTERS_OBJECT).then_some(Self::DeadLetters)
    }

    /// Whether an object of this role keeps its name in its storage. A home keeps nothing
    /// durable (its sessions live in memory) and sets no alarm, so every event that wakes it
    /// is a call that names it; storing the name would leave a row behind for every session.
    pub fn stores_name(&self) -> bool {
        !matches!(self, Self::Home(_))
    }
}

/// What [`learn`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Learned {
    /// The object already knew this name.
    Known,
    /// The first time the object hears its name: store it.
    Store,
}

/// What an object makes of the name a call tells it, given the one it stored (if any). A call
/// that names another object than the stored one is refused: the object will not serve as
/// something it is not.
pub fn learn(stored: Option<&str>, told: &str) -> Result<(Role, Learned), Error> {
    let role = Role::of(told).ok_or_else(|| Error::internal(format!("{told:?} is not the name of a Herald object")))?;
    match stored {
        Some(stored) if stored == told => Ok((role, Learned::Known)),
        Some(stored) => Err(Error::internal(format!("this object is {stored:?}; a call named it {told:?}"))),
        None if role.stores_name() => Ok((role, Learned::Store)),
        None => Ok((role, Learned::Known)),
    }
}

const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS object_name (name TEXT NOT NULL)";

/// The object's name in its own storage: one row, written once.
pub struct StoredName<S: Sql> {
    sql: S,
}

impl<S: Sql> StoredName<S> {
    /// Opens the table, creating it when it does not exist.
    pub fn open(sql: S) -> Result<Self, StoreError> {
        sql.exec(SCHEMA, &[])?;
        Ok(Self { sql })
    }

    /// The stored name, if one was stored.
    pub fn get(&self) -> Result<Option<String>, StoreError> {
        let rows = self.sql.exec("SELECT name FROM object_name LIMIT 1", &[])?;
        match rows.into_iter().next().and_then(|row| row.into_iter().next()) {
            None => Ok(None),
            Some(SqlValue::Text(name)) => Ok(Some(name)),
            Some(other) => Err(StoreError(format!("the stored object name is {other:?}, not text"))),
        }
    }

    /// Stores `name`, replacing nothing: a name is stored at most once ([`learn`] says when).
    pub fn set(&self, name: &str) -> Result<(), StoreError> {
        self.sql.exec(
            "INSERT INTO object_name (name) SELECT ? WHERE NOT EXISTS (SELECT 1 FROM object_name)",
            &[SqlValue::Text(name.to_owned())],
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    #[test]
    fn every_kind_of_object_name_has_its_role() {
        let room = RoomId::parse("inbox:alice").unwrap();
        assert_eq!(Role::of("room:inbox:alice"), Some(Role::Room(room)));
        assert_eq!(Role::of("home:0123456789abcdef"), Some(Role::Home("0123456789abcdef".into())));
        assert_eq!(Role::of("directory:7"), Some(Role::Directory(7)));
        assert_eq!(Role::of(DEAD_LETTERS_OBJECT), Some(Role::DeadLetters));
        for name in ["", "room:", "room:bad room", "home:xyz", "directory:07", "deadletters:other", "lobby"] {
            assert_eq!(Role::of(name), None, "{name:?}");
        }
    }

    #[test]
    fn the_first_name_heard_is_stored_and_a_different_one_refused() {
        assert_eq!(learn(None, "room:lobby").unwrap().1, Learned::Store);
        assert_eq!(learn(Some("room:lobby"), "room:lobby").unwrap().1, Learned::Known);
        let other = learn(Some("room:lobby"), "room:other").unwrap_err();
        assert_eq!(other.code, ErrorCode::Internal);
        assert!(other.message.contains("room:other"), "{other}");
        assert_eq!(learn(None, "nonsense").unwrap_err().code, ErrorCode::Internal);
    }

    #[test]
    fn a_home_never_stores_its_name() {
        let (role, learned) = learn(None, "home:0123456789abcdef").unwrap();
        assert!(!role.stores_name());
        assert_eq!(learned, Learned::Known);
        for name in ["room:lobby", "directory:0", DEAD_LETTERS_OBJECT] {
            assert!(Role::of(name).unwrap().stores_name(), "{name}");
        }
    }
}
