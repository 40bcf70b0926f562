//! Whether the inbox's owner is in the user directory yet, so that a broadcast reaches every
//! user of the platform: a user who only subscribed a device, set contacts or connected to
//! their inbox is put there once (the object calls the directory, then [`Inbox::set_owner_listed`]).
//! The flag is a row of `inbox_marks` (`listed`): checking it costs one local read, so users
//! already known cost no directory call.

use super::{storage, Inbox};
use crate::error::Error;
use crate::store::{Sql, SqlValue};

const LISTED: &str = "listed";

impl<S: Sql + Clone> Inbox<S> {
    /// Whether the owner was put in the directory (by this inbox; a send or multicast may have
    /// put them there too, which the inbox does not know, and adding again is harmless).
    pub fn owner_listed(&self) -> Result<bool, Error> {
        let rows = self
            .sql
            .exec("SELECT seq FROM inbox_marks WHERE name = ?", &[SqlValue::Text(LISTED.into())])
            .map_err(storage)?;
        Ok(rows.first().and_then(|r| r.first()).and_then(SqlValue::int).is_some_and(|flag| flag > 0))
    }

    /// The directory has the owner now.
    pub fn set_owner_listed(&mut self) -> Result<(), Error> {
        self.sql
            .exec("INSERT OR REPLACE INTO inbox_marks (name, seq) VALUES (?, 1)", &[SqlValue::Text(LISTED.into())])
            .map_err(storage)?;
        Ok(())
    }
}
