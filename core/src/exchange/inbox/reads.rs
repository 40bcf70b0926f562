//! Reading an inbox and keeping what its user told it: pages, unread counts, contacts (devices
//! are `devices.rs`'s).

use super::{storage, Inbox};
use crate::error::Error;
use crate::exchange::contacts::ContactsUpdate;
use crate::store::{Sql, SqlValue, StoreError};
use serde_json::{json, Value};

/// Default and largest inbox page.
pub const PAGE_DEFAULT: usize = 20;
pub const PAGE_MAX: usize = 100;

impl<S: Sql + Clone> Inbox<S> {
    /// Notifications after the read mark, but for those read one by one (a push's receipt).
    pub fn unread(&self) -> Result<u64, Error> {
        let rows = self
            .sql
            .exec(
                "SELECT COUNT(*) FROM inbox_notes WHERE seq > ?
                 AND seq NOT IN (SELECT seq FROM inbox_acks WHERE state = 'read')",
                &[SqlValue::Int(self.read as i64)],
            )
            .map_err(storage)?;
        Ok(rows.first().and_then(|r| r.first()).and_then(SqlValue::int).unwrap_or(0) as u64)
    }

    /// `{last_read, unread}`: the answer to a read.
    pub fn read_json(&self) -> Result<String, Error> {
        Ok(json!({ "last_read": self.read, "unread": self.unread()? }).to_string())
    }

    /// A page of notifications, newest first, with seq below `before`:
    /// `{unread, last_read, notifications: [{seq, ts, state, id, msg, data, urgency, from}], next}`
    /// where `state` is `sent`, `delivered` or `read`, and `next` is the `before` of the next
    /// page (`null` at the oldest).
    pub fn page(&self, before: Option<u64>, limit: usize) -> Result<String, Error> {
        let before = before.map_or(i64::MAX, |b| b.min(i64::MAX as u64) as i64);
        let rows = self
            .sql
            .exec(
                "SELECT seq, ts, note FROM inbox_notes WHERE seq < ? ORDER BY seq DESC LIMIT ?",
                &[SqlValue::Int(before), SqlValue::Int(limit as i64 + 1)],
            )
            .map_err(storage)?;
        let more = rows.len() > limit;
        let mut notifications = Vec::new();
        for row in rows.iter().take(limit) {
            let (Some(seq), Some(ts), Some(note)) = (row[0].int(), row[1].int(), row[2].text()) else {
                return Err(storage(StoreError("an inbox_notes row has the wrong columns".into())));
            };
            let mut item: Value = serde_json::from_str(note).map_err(|e| Error::internal(e.to_string()))?;
            let seq = seq as u64;
            let state = self.reached(seq).map_err(storage)?.as_str();
            item["seq"] = json!(seq);
            item["ts"] = json!(ts);
            item["state"] = json!(state);
            notifications.push(item);
        }
        let next = if more { notifications.last().map(|n| n["seq"].clone()) } else { None };
        let answer = json!({
            "unread": self.unread()?,
            "last_read": self.read,
            "notifications": notifications,
            "next": next,
        });
        Ok(answer.to_string())
    }

    /// Applies a contacts update and answers the contacts.
    pub fn update_contacts(&mut self, update: ContactsUpdate) -> Result<String, Error> {
        let mut contacts = self.contacts.clone();
        contacts.apply(update);
        let stored = serde_json::to_string(&contacts).map_err(|e| Error::internal(e.to_string()))?;
        self.sql
            .exec("INSERT OR REPLACE INTO inbox_contacts (id, contacts) VALUES (1, ?)", &[SqlValue::Text(stored)])
            .map_err(storage)?;
        self.contacts = contacts;
        Ok(self.contacts.to_json())
    }
}
