//! Members of a room whose sockets live in other objects, their homes (DESIGN.md, "Where a
//! connection lives"), and what the room owes each home.
//!
//! The room core treats a remote member as any other connection; the shell asks [`Remotes`]
//! whether a connection is remote and, if so, queues what the core sends it here instead of
//! on a socket. Each home has one outbox, delivered by one call at a time: order holds, and
//! what piles up while a call is in flight leaves in the next call, as one batch.

use super::wire::{DeliveryItem, MemberCommand, MemberOp};
use super::{Effect, Log, Room, Session};
use crate::error::close;
use crate::ids::ConnId;
use crate::store::{Sql, SqlValue, StoreError};
use crate::vec_map::VecMap;
use std::collections::HashMap;

/// Most items in one delivery call.
pub const DELIVERY_MAX_ITEMS: usize = 512;

#[derive(Debug, Default)]
pub struct Remotes {
    home_of: HashMap<ConnId, String>,
    homes: VecMap<String, Outbox>,
}

#[derive(Debug, Default)]
struct Outbox {
    /// The home's members (a set: the values are empty).
    members: VecMap<ConnId, ()>,
    queue: Vec<DeliveryItem>,
    in_flight: bool,
}

impl Remotes {
    /// `conn` is a member held by `home`.
    pub fn add(&mut self, conn: ConnId, home: String) {
        self.homes.get_or_insert_with(home.clone(), Outbox::default).members.insert(conn.clone(), ());
        self.home_of.insert(conn, home);
    }

    /// Forgets `conn` (nothing is sent); the home that held it.
    pub fn remove(&mut self, conn: &ConnId) -> Option<String> {
        let home = self.home_of.remove(conn)?;
        if let Some(outbox) = self.homes.get_mut(&home) {
            outbox.members.remove(conn);
        }
        self.tidy(&home);
        Some(home)
    }

    pub fn is_remote(&self, conn: &ConnId) -> bool {
        self.home_of.contains_key(conn)
    }

    pub fn len(&self) -> usize {
        self.home_of.len()
    }

    pub fn is_empty(&self) -> bool {
        self.home_of.is_empty()
    }

    /// Queues `text` for `conn` when it is remote; false when it is not.
    pub fn send(&mut self, conn: &ConnId, text: &str) -> bool {
        let Some(home) = self.home_of.get(conn) else { return false };
        let outbox = self.homes.get_mut(home).expect("every member's home has an outbox");
        outbox.queue.push(DeliveryItem::Frame { to: vec![conn.0.clone()], text: text.to_owned() });
        true
    }

    /// Queues `text` for every remote member but `except`: one item per home.
    pub fn broadcast(&mut self, text: &str, except: Option<&ConnId>) {
        for outbox in self.homes.values_mut() {
            let to: Vec<String> = outbox.members.keys().filter(|c| Some(*c) != except).map(|c| c.0.clone()).collect();
            if !to.is_empty() {
                outbox.queue.push(DeliveryItem::Frame { to, text: text.to_owned() });
            }
        }
    }

    /// Ends the membership of `conn` and tells its home; false when `conn` is not remote.
    pub fn close(&mut self, conn: &ConnId) -> bool {
        let Some(home) = self.home_of.get(conn).cloned() else { return false };
        self.homes.get_mut(&home).expect("outbox").queue.push(DeliveryItem::Close { to: conn.0.clone() });
        self.remove(conn);
        true
    }

    /// Tells `home` that `conn`, which the room does not hold, is not a member (a frame or a
    /// leave from a session the room already dropped).
    pub fn close_unknown(&mut self, home: &str, conn: &str) {
        self.homes
            .get_or_insert_with(home.to_owned(), Outbox::default)
            .queue
            .push(DeliveryItem::Close { to: conn.to_owned() });
    }

    /// The deliveries to start now: each home with something queued and no call in flight,
    /// with up to [`DELIVERY_MAX_ITEMS`] items. Those homes are in flight until
    /// [`Remotes::delivered`] or [`Remotes::failed`].
    pub fn ready(&mut self) -> Vec<(String, Vec<DeliveryItem>)> {
        let mut out = Vec::new();
        for (home, outbox) in self.homes.iter_mut() {
            if !outbox.in_flight && !outbox.queue.is_empty() {
                let take = outbox.queue.len().min(DELIVERY_MAX_ITEMS);
                out.push((home.clone(), outbox.queue.drain(..take).collect()));
                outbox.in_flight = true;
            }
        }
        out
    }

    /// A delivery to `home` arrived; the home did not know `unknown`. Returns the members to
    /// drop: those of `unknown` still held by that home.
    pub fn delivered(&mut self, home: &str, unknown: &[String]) -> Vec<ConnId> {
        let Some(outbox) = self.homes.get_mut(home) else { return Vec::new() };
        outbox.in_flight = false;
        let gone: Vec<ConnId> =
            unknown.iter().map(|c| ConnId(c.clone())).filter(|c| outbox.members.contains_key(c)).collect();
        for conn in &gone {
            self.remove(conn);
        }
        self.tidy(home);
        gone
    }

    /// A delivery to `home` failed: the home is gone or broken. Everything queued for it is
    /// dropped, and so are all its members (returned).
    pub fn failed(&mut self, home: &str) -> Vec<ConnId> {
        let Some(outbox) = self.homes.remove(home) else { return Vec::new() };
        for conn in outbox.members.keys() {
            self.home_of.remove(conn);
        }
        outbox.members.into_keys().collect()
    }

    /// Drops the outbox of a home with no members, nothing queued and nothing in flight.
    fn tidy(&mut self, home: &str) {
        if self.homes.get(home).is_some_and(|o| o.members.is_empty() && o.queue.is_empty() && !o.in_flight) {
            self.homes.remove(home);
        }
    }
}

impl<L: Log> Room<L> {
    /// A command of `home` for one of its sessions. Returns the session to store as a member
    /// (on a join) and the effects, whose sends and closes for remote members the shell routes
    /// through `remotes`.
    pub fn on_member_command(
        &mut self,
        now: i64,
        remotes: &mut Remotes,
        home: &str,
        command: MemberCommand,
        fresh_id: impl FnOnce() -> String,
    ) -> (Option<Session>, Vec<Effect>) {
        let conn = ConnId(command.conn);
        let held = remotes.is_remote(&conn) && self.has_connection(&conn);
        match command.op {
            MemberOp::Join { user, expires_at, since, tag } => {
                // Joining again replaces the membership.
                let mut effects = if held { self.on_close(&conn) } else { Vec::new() };
                let session = Session { conn: conn.clone(), user, expires_at, tag, address: None };
                remotes.add(conn, home.to_owned());
                effects.extend(self.on_connect(now, session.clone(), since));
                (Some(session), effects)
            }
            MemberOp::Frame { text } if held => (None, self.on_frame(now, &conn, &text, fresh_id)),
            MemberOp::Leave if held => {
                // Closed first, so the member does not get its own `left`.
                let done = Effect::Close { to: conn.clone(), code: close::NORMAL, reason: "left".into() };
                (None, std::iter::once(done).chain(self.on_close(&conn)).collect())
            }
            // A session the room already dropped: its home learns it is not a member.
            MemberOp::Frame { .. } | MemberOp::Leave => {
                remotes.close_unknown(home, &conn.0);
                (None, Vec::new())
            }
        }
    }
}

/// Remote members in SQLite, so that a room that wakes from hibernation (or restarts) still
/// delivers to them: each member's session and the home that holds it.
pub struct MemberRows<S: Sql>(S);

impl<S: Sql> MemberRows<S> {
    /// Opens the table, creating it when it does not exist.
    pub fn open(sql: S) -> Result<Self, StoreError> {
        sql.exec(
            "CREATE TABLE IF NOT EXISTS remote_members (conn TEXT PRIMARY KEY, home TEXT NOT NULL, session TEXT NOT NULL)",
            &[],
        )?;
        Ok(Self(sql))
    }

    pub fn insert(&self, home: &str, session: &Session) -> Result<(), StoreError> {
        let json = serde_json::to_string(session).expect("sessions serialize");
        let params = [SqlValue::Text(session.conn.0.clone()), SqlValue::Text(home.to_owned()), SqlValue::Text(json)];
        self.0.exec("INSERT OR REPLACE INTO remote_members (conn, home, session) VALUES (?, ?, ?)", &params)?;
        Ok(())
    }

    pub fn delete(&self, conn: &ConnId) -> Result<(), StoreError> {
        self.0.exec("DELETE FROM remote_members WHERE conn = ?", &[SqlValue::Text(conn.0.clone())])?;
        Ok(())
    }

    /// Every member, with its home, by home and then by id: the order [`Remotes`] keeps them
    /// in, so that restoring a room appends each one (`VecMap`) instead of moving the rest.
    pub fn all(&self) -> Result<Vec<(String, Session)>, StoreError> {
        let rows = self.0.exec("SELECT home, session FROM remote_members ORDER BY home, conn", &[])?;
        rows.into_iter()
            .map(|row| match row.as_slice() {
                [SqlValue::Text(home), SqlValue::Text(json)] => serde_json::from_str(json)
                    .map(|session| (home.clone(), session))
                    .map_err(|e| StoreError(format!("a remote member row does not decode: {e}"))),
                _ => Err(StoreError("a remote member row has the wrong columns".into())),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conn(id: &str) -> ConnId {
        ConnId(id.into())
    }

    fn frame(to: &[&str], text: &str) -> DeliveryItem {
        DeliveryItem::Frame { to: to.iter().map(|s| s.to_string()).collect(), text: text.into() }
    }

    #[test]
    fn a_broadcast_is_one_item_per_home_naming_its_members_but_the_excepted() {
        let mut r = Remotes::default();
        r.add(conn("a1"), "A".into());
        r.add(conn("a2"), "A".into());
        r.add(conn("b1"), "B".into());
        r.broadcast("m", Some(&conn("a2")));
        // Homes come in their id's order.
        let ready = r.ready();
        assert_eq!(ready, vec![("A".into(), vec![frame(&["a1"], "m")]), ("B".into(), vec![frame(&["b1"], "m")])]);
    }

    #[test]
    fn one_call_per_home_at_a_time_and_what_piles_up_leaves_together_in_order() {
        let mut r = Remotes::default();
        r.add(conn("a1"), "A".into());
        r.send(&conn("a1"), "1");
        assert_eq!(r.ready(), vec![("A".into(), vec![frame(&["a1"], "1")])]);
        r.send(&conn("a1"), "2");
        r.broadcast("3", None);
        assert!(r.ready().is_empty(), "a call is in flight");
        assert!(r.delivered("A", &[]).is_empty());
        assert_eq!(r.ready(), vec![("A".into(), vec![frame(&["a1"], "2"), frame(&["a1"], "3")])]);
    }

    #[test]
    fn local_connections_are_not_queued() {
        let mut r = Remotes::default();
        assert!(!r.send(&conn("local"), "x"));
        assert!(!r.close(&conn("local")));
        r.broadcast("x", None);
        assert!(r.ready().is_empty());
    }

    #[test]
    fn a_close_is_delivered_after_what_came_before_and_forgets_the_member() {
        let mut r = Remotes::default();
        r.add(conn("a1"), "A".into());
        r.send(&conn("a1"), "bye");
        assert!(r.close(&conn("a1")));
        assert!(!r.is_remote(&conn("a1")));
        assert_eq!(r.ready(), vec![("A".into(), vec![frame(&["a1"], "bye"), DeliveryItem::Close { to: "a1".into() }])]);
        r.delivered("A", &[]);
        assert!(r.homes.is_empty(), "an empty home's outbox is dropped");
    }

    #[test]
    fn members_a_home_does_not_know_are_dropped_and_others_kept() {
        let mut r = Remotes::default();
        r.add(conn("a1"), "A".into());
        r.add(conn("a2"), "A".into());
        r.broadcast("m", None);
        r.ready();
        assert_eq!(r.delivered("A", &["a2".into(), "never".into()]), vec![conn("a2")]);
        assert!(r.is_remote(&conn("a1")) && !r.is_remote(&conn("a2")));
    }

    #[test]
    fn a_failed_home_loses_its_members_and_queue_without_touching_other_homes() {
        let mut r = Remotes::default();
        r.add(conn("a1"), "A".into());
        r.add(conn("a2"), "A".into());
        r.add(conn("b1"), "B".into());
        r.broadcast("1", None);
        r.ready();
        r.broadcast("2", None);
        let mut gone = r.failed("A");
        gone.sort();
        assert_eq!(gone, vec![conn("a1"), conn("a2")]);
        assert_eq!(r.len(), 1);
        r.delivered("B", &[]);
        assert_eq!(r.ready(), vec![("B".into(), vec![frame(&["b1"], "2")])]);
    }

    #[test]
    fn a_delivery_holds_at_most_the_item_cap_and_the_rest_follows() {
        let mut r = Remotes::default();
        r.add(conn("a1"), "A".into());
        for i in 0..DELIVERY_MAX_ITEMS + 3 {
            r.send(&conn("a1"), &i.to_string());
        }
        assert_eq!(r.ready()[0].1.len(), DELIVERY_MAX_ITEMS);
        r.delivered("A", &[]);
        let rest = r.ready();
        assert_eq!(rest[0].1.len(), 3);
        assert_eq!(rest[0].1[0], frame(&["a1"], &DELIVERY_MAX_ITEMS.to_string()));
    }

    #[test]
    fn an_unknown_member_of_a_home_gets_a_close() {
        let mut r = Remotes::default();
        r.close_unknown("A", "gone");
        assert_eq!(r.ready(), vec![("A".into(), vec![DeliveryItem::Close { to: "gone".into() }])]);
    }
}
