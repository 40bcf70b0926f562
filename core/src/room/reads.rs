//! Read marks: for each user, the highest seq they have read in the room (every message up to
//! it counts as read). A mark only moves forward and never past the room's last message; it is
//! written to the room's SQLite (`room_reads`) before it counts, and read back when the room
//! loads.
//!
//! tndata's receipts set them (`tndata.rs`). What a fallback asks before it emails or texts
//! someone about message N is [`ReadMarks::has_read`].

use super::{Log, Room};
use crate::error::Error;
use crate::ids::{RoomId, UserId};
use crate::store::{Sql, SqlValue, StoreError};
use crate::vec_map::VecMap;

pub struct ReadMarks<S: Sql> {
    sql: S,
    marks: VecMap<UserId, u64>,
}

impl<S: Sql> ReadMarks<S> {
    /// Opens the table (creating it when it does not exist) and reads every mark.
    pub fn open(sql: S) -> Result<Self, StoreError> {
        sql.exec("CREATE TABLE IF NOT EXISTS room_reads (user TEXT PRIMARY KEY, seq INTEGER NOT NULL)", &[])?;
        let mut marks = VecMap::new();
        for row in sql.exec("SELECT user, seq FROM room_reads", &[])? {
            let (user, seq) = match row.as_slice() {
                [SqlValue::Text(user), seq] if seq.int().is_some() => (user, seq.int().unwrap_or_default()),
                _ => return Err(StoreError("a read mark row has the wrong columns".into())),
            };
            let user = UserId::parse(user).map_err(|why| StoreError(format!("a read mark's user id {why}")))?;
            marks.insert(user, seq as u64);
        }
        Ok(Self { sql, marks })
    }

    /// The highest seq `user` has read; 0 when none.
    pub fn read_upto(&self, user: &UserId) -> u64 {
        self.marks.get(user).copied().unwrap_or(0)
    }

    /// Whether `user` has read message `seq`.
    pub fn has_read(&self, user: &UserId, seq: u64) -> bool {
        seq <= self.read_upto(user)
    }

    /// Moves `user`'s mark to `seq`, unless it is there or past it already; true when it moved.
    /// Use [`Room::mark_read`], which also checks `seq` against the room.
    fn advance(&mut self, user: &UserId, seq: u64) -> Result<bool, StoreError> {
        if seq <= self.read_upto(user) {
            return Ok(false);
        }
        let params = [SqlValue::Text(user.as_str().to_owned()), SqlValue::Int(seq as i64)];
        self.sql.exec("INSERT OR REPLACE INTO room_reads (user, seq) VALUES (?, ?)", &params)?;
        self.marks.insert(user.clone(), seq);
        Ok(true)
    }

    /// `{"room": .., "reads": {user: seq, ..}}`
    pub fn to_json(&self, room: &RoomId) -> String {
        serde_json::json!({ "room": room, "reads": self.marks }).to_string()
    }
}

impl<L: Log> Room<L> {
    /// `user` has read every message up to `seq`, which the room must have; true when the mark
    /// moved (an older mark changes nothing).
    pub fn mark_read<S: Sql>(&self, marks: &mut ReadMarks<S>, user: &UserId, seq: u64) -> Result<bool, Error> {
        if seq > self.last_seq {
            let message = format!("message {seq} does not exist; the last one is {}", self.last_seq);
            return Err(Error::invalid_field("seq", message));
        }
        marks.advance(user, seq).map_err(|e| Error::internal(format!("the read mark was not stored: {e}")))
    }
}
