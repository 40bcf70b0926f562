//! A connection's activity: its status (`online`, `idle`, `offline`) and its focus (what it
//! is working on, such as a channel), and what the room announces about them
//! (docs/protocol.md, "status" and "focus").
//!
//! A user may be connected several times (devices, tabs), through this room's own sockets or
//! through homes; the room is the one place that sees all of them, so it decides:
//!
//! - A user's status is the highest any of their connections set (online > idle > offline); a
//!   user with no connection, or none that set a status, is offline. The room broadcasts
//!   `{"type":"status","user","status"}` only when that aggregate changes, including when the
//!   last connection that held it closes. A newcomer is sent the status of every user who is
//!   not offline, after `presence`.
//! - One connection of a user holds their focus. When another connection of that user sets a
//!   focus, the old one's is cleared and every connection of the user gets
//!   `{"type":"moved","user","conn","focus"}` naming the connection that now holds it.
//!
//! Activity is kept with each connection and, through [`Effect::Remember`], in storage
//! ([`ActivityRows`]), so a room that wakes from hibernation still knows it.

use super::{Conn, Effect, Log, Room};
use crate::ids::{ConnId, User, UserId};
use crate::protocol::native::ServerFrame;
use crate::protocol::Status;
use crate::store::{Sql, SqlValue, StoreError};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What a connection set: its status and its focus.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Activity {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<Status>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub focus: Option<String>,
}

impl Activity {
    pub fn is_empty(&self) -> bool {
        self.status.is_none() && self.focus.is_none()
    }
}

impl<L: Log> Room<L> {
    /// A user's status: the highest of their connections' (offline when none set one).
    pub fn status_of(&self, user: &UserId) -> Status {
        self.conns_of(user).filter_map(|(_, c)| c.activity.status).max().unwrap_or(Status::Offline)
    }

    /// `conn`'s activity (restored after a wake, or read by tools and tests).
    pub fn activity(&self, conn: &ConnId) -> Option<&Activity> {
        self.conns.get(conn).map(|c| &c.activity)
    }

    /// Puts back what a connection set before the room hibernated: no frames.
    pub fn restore_activity(&mut self, conn: &ConnId, activity: Activity) {
        if let Some(c) = self.conns.get_mut(conn) {
            c.activity = activity;
        }
    }

    /// A `status` frame from `conn`.
    pub(super) fn set_status(&mut self, conn: &ConnId, status: Status) -> Vec<Effect> {
        let Some(user) = self.conns.get(conn).map(|c| c.profile.id.clone()) else { return Vec::new() };
        let before = self.status_of(&user);
        self.conns.get_mut(conn).expect("present above").activity.status = Some(status);
        let mut effects = vec![self.remember(conn)];
        effects.extend(self.announce(&user, before, self.status_of(&user)));
        effects
    }

    /// A `focus` frame from `conn`: when another connection of the same user holds a focus,
    /// that one is cleared and the user's connections are told where the focus went.
    pub(super) fn set_focus(&mut self, conn: &ConnId, focus: Option<String>) -> Vec<Effect> {
        let Some(user) = self.conns.get(conn).map(|c| c.profile.id.clone()) else { return Vec::new() };
        let mut effects = Vec::new();
        if let Some(focus) = &focus {
            let others: Vec<ConnId> = self
                .conns_of(&user)
                .filter(|(id, c)| *id != conn && c.activity.focus.is_some())
                .map(|(id, _)| id.clone())
                .collect();
            for other in &others {
                self.conns.get_mut(other).expect("listed above").activity.focus = None;
                effects.push(self.remember(other));
            }
            if !others.is_empty() {
                let profile = &self.members[&user].profile;
                let text = ServerFrame::Moved { user: profile, conn: &conn.0, focus }.encode();
                let to: Vec<ConnId> = self.conns_of(&user).map(|(id, _)| id.clone()).collect();
                effects.extend(to.into_iter().map(|to| Effect::Send { to, text: text.clone() }));
            }
        }
        self.conns.get_mut(conn).expect("present above").activity.focus = focus;
        effects.insert(0, self.remember(conn));
        effects
    }

    /// `gone` was removed from the connections (its member not yet): its stored activity is
    /// dropped, and its user's status announced when it changes without it.
    pub(super) fn activity_closed(&mut self, conn: &ConnId, gone: &Conn) -> Vec<Effect> {
        if gone.activity.is_empty() {
            return Vec::new();
        }
        let user = &gone.profile.id;
        let after = self.status_of(user);
        let before = gone.activity.status.map_or(after, |status| status.max(after));
        let mut effects = vec![Effect::Remember { conn: conn.clone(), activity: None }];
        effects.extend(self.announce(user, before, after));
        effects
    }

    /// The status of every user who is not offline, for a newcomer.
    pub(super) fn statuses_for(&self, to: &ConnId) -> Vec<Effect> {
        let mut statuses: BTreeMap<&UserId, Status> = BTreeMap::new();
        for conn in self.conns.values() {
            if let Some(status) = conn.activity.status.filter(|s| *s != Status::Offline) {
                let best = statuses.entry(&conn.profile.id).or_insert(status);
                *best = (*best).max(status);
            }
        }
        statuses
            .into_iter()
            .map(|(user, status)| {
                let text = ServerFrame::Status { user: &self.members[user].profile, status }.encode();
                Effect::Send { to: to.clone(), text }
            })
            .collect()
    }

    fn conns_of<'a>(&'a self, user: &'a UserId) -> impl Iterator<Item = (&'a ConnId, &'a Conn)> + 'a {
        self.conns.iter().filter(move |(_, c)| &c.profile.id == user)
    }

    fn remember(&self, conn: &ConnId) -> Effect {
        let activity = &self.conns[conn].activity;
        Effect::Remember { conn: conn.clone(), activity: (!activity.is_empty()).then(|| activity.clone()) }
    }

    fn announce(&self, user: &UserId, before: Status, after: Status) -> Vec<Effect> {
        if before == after {
            return Vec::new();
        }
        let profile: &User = &self.members[user].profile;
        vec![Effect::Broadcast { text: ServerFrame::Status { user: profile, status: after }.encode(), except: None }]
    }
}

/// Each connection's activity in SQLite, written by the shell for every [`Effect::Remember`]
/// and read back when the room loads.
pub struct ActivityRows<S: Sql>(S);

impl<S: Sql> ActivityRows<S> {
    /// Opens the table, creating it when it does not exist.
    pub fn open(sql: S) -> Result<Self, StoreError> {
        sql.exec("CREATE TABLE IF NOT EXISTS conn_activity (conn TEXT PRIMARY KEY, activity TEXT NOT NULL)", &[])?;
        Ok(Self(sql))
    }

    /// Stores `activity` for `conn`, or forgets it (`None`).
    pub fn put(&self, conn: &ConnId, activity: Option<&Activity>) -> Result<(), StoreError> {
        let key = SqlValue::Text(conn.0.clone());
        match activity {
            Some(activity) => {
                let json = SqlValue::Text(serde_json::to_string(activity).expect("activities serialize"));
                self.0.exec("INSERT OR REPLACE INTO conn_activity (conn, activity) VALUES (?, ?)", &[key, json])?
            }
            None => self.0.exec("DELETE FROM conn_activity WHERE conn = ?", &[key])?,
        };
        Ok(())
    }

    /// Every stored activity, by connection.
    pub fn all(&self) -> Result<Vec<(ConnId, Activity)>, StoreError> {
        let rows = self.0.exec("SELECT conn, activity FROM conn_activity ORDER BY conn", &[])?;
        rows.into_iter()
            .map(|row| match row.as_slice() {
                [SqlValue::Text(conn), SqlValue::Text(json)] => serde_json::from_str(json)
                    .map(|activity| (ConnId(conn.clone()), activity))
                    .map_err(|e| StoreError(format!("an activity row does not decode: {e}"))),
                _ => Err(StoreError("an activity row has the wrong columns".into())),
            })
            .collect()
    }
}

/// Puts back the stored activity of the connections the room restored, and forgets the rows of
/// connections it no longer has (they closed while the room was away).
pub fn restore_activities<L: Log, S: Sql>(room: &mut Room<L>, rows: &ActivityRows<S>) -> Result<(), StoreError> {
    for (conn, activity) in rows.all()? {
        if room.has_connection(&conn) {
            room.restore_activity(&conn, activity);
        } else {
            rows.put(&conn, None)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_empty_activity_serializes_to_an_empty_object() {
        assert_eq!(serde_json::to_string(&Activity::default()).unwrap(), "{}");
        let full = Activity { status: Some(Status::Idle), focus: Some("c".into()) };
        assert_eq!(serde_json::to_value(&full).unwrap(), json!({ "status": "idle", "focus": "c" }));
        assert_eq!(serde_json::from_str::<Activity>("{}").unwrap(), Activity::default());
    }
}
