//! One room object as the tests see it: the core's [`RoomHost`] over SQLite and a fake clock,
//! with the room's own sockets (native or tndata), Socket.IO clients held by homes (the calls
//! between homes and the room carried by hand, in order), REST publishes and the object's one
//! alarm. Every scenario test of a room's members drives this one world.

use crate::sio::{decode, room_commands, Got, Sio};
use crate::{conn, Sqlite, DAY, T0};
use herald_core::config::{Fallback, Limits, Retention};
use herald_core::dialect::RoomEvent;
use herald_core::gateway::Action;
use herald_core::host::{Codec, Output, RoomHost};
use herald_core::ids::{ConnId, RoomId, User};
use herald_core::internal::{DeliveryAnswer, DeliveryItem, MemberBatch, MemberCommand, PublishRequest};
use herald_core::message::Draft;
use herald_core::room::{Ack, Session};
use serde_json::Value;
use std::cell::Cell;
use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;

pub struct World {
    pub host: RoomHost<Sqlite>,
    pub db: Sqlite,
    pub now: i64,
    limits: Limits,
    retention: Retention,
    ids: Rc<Cell<u64>>,
    /// The codec and session of each of the room's own sockets that is open.
    open: BTreeMap<ConnId, Codec>,
    sessions: BTreeMap<ConnId, Session>,
    /// What each of the room's own sockets received, parsed.
    pub direct: BTreeMap<String, Vec<Value>>,
    /// The close code of each socket the room closed.
    pub closed: BTreeMap<String, u16>,
    /// Socket.IO clients by sid (`{home}.{session}`), and everything each was sent.
    pub clients: BTreeMap<String, Sio>,
    pub sent: BTreeMap<String, Vec<Action>>,
    /// Homes whose delivery calls fail.
    pub down: BTreeSet<String>,
    /// Commands on their way to the room, in order (one room, so one link per home).
    to_room: Vec<(String, MemberCommand)>,
    /// The object's alarm, as the platform keeps it.
    pub alarm: Option<i64>,
}

impl World {
    /// Room `room` over a fresh database.
    pub fn new(room: &str) -> Self {
        Self::with(room, Limits::default(), Retention::default())
    }

    pub fn with(room: &str, limits: Limits, retention: Retention) -> Self {
        Self::over(&Sqlite::in_memory(), room, limits, retention)
    }

    /// Room `room` over `db`: a room that was there before loads what it kept.
    pub fn over(db: &Sqlite, room: &str, limits: Limits, retention: Retention) -> Self {
        let db = db.clone();
        let ids = Rc::new(Cell::new(0));
        let host = open(room, &limits, &retention, &db, &ids);
        Self {
            host,
            db,
            now: T0,
            limits,
            retention,
            ids,
            open: BTreeMap::new(),
            sessions: BTreeMap::new(),
            direct: BTreeMap::new(),
            closed: BTreeMap::new(),
            clients: BTreeMap::new(),
            sent: BTreeMap::new(),
            down: BTreeSet::new(),
            to_room: Vec::new(),
            alarm: None,
        }
    }

    pub fn room_id(&self) -> RoomId {
        self.host.id().clone()
    }

    /// The object hibernates and wakes: a new host over the same database, its sockets found
    /// again (the remote members come back from storage).
    pub fn wake(&mut self) {
        let room = self.room_id();
        self.host = open(room.as_str(), &self.limits, &self.retention, &self.db, &self.ids);
        let sockets: Vec<(ConnId, Codec)> = self.open.iter().map(|(c, codec)| (c.clone(), *codec)).collect();
        for (conn, codec) in sockets {
            let session = self.sessions.get(&conn).cloned().expect("every socket has its session");
            self.host.restore_socket(self.now, session, codec);
        }
        self.host.restored(self.now).unwrap();
    }

    /// Opens socket `id` of `who` (a day's token), resuming after `since`.
    pub fn connect(&mut self, id: &str, who: &User, since: Option<u64>, codec: Codec) {
        self.connect_until(id, who, since, codec, self.now + DAY);
    }

    pub fn connect_until(&mut self, id: &str, who: &User, since: Option<u64>, codec: Codec, expires_at: i64) {
        let session = Session { conn: conn(id), user: who.clone(), expires_at, tag: None, address: None };
        self.direct.entry(id.into()).or_default();
        if let Err((text, code, _)) = self.host.admit(since, codec) {
            self.receive(id, &text);
            self.closed.insert(id.into(), code);
            return;
        }
        self.open.insert(conn(id), codec);
        self.sessions.insert(conn(id), session.clone());
        self.host.on_connect(self.now, session, since, codec);
        self.perform();
    }

    /// A text frame from socket `id`.
    pub fn send(&mut self, id: &str, text: &str) {
        self.host.on_frame(self.now, &conn(id), text);
        self.perform();
    }

    pub fn say(&mut self, id: &str, frame: Value) {
        self.send(id, &frame.to_string());
    }

    /// Socket `id` closes.
    pub fn close(&mut self, id: &str) {
        self.open.remove(&conn(id));
        self.host.on_close(&conn(id));
        self.perform();
    }

    /// A REST publish by `user`, not echoed to the socket tagged `except`.
    pub fn publish_rest(&mut self, user: &User, draft: Draft, except: Option<&str>) -> Ack {
        let request = PublishRequest { user: user.clone(), draft, except: except.map(str::to_owned) };
        let ack = self.host.on_publish(self.now, request).unwrap();
        self.perform();
        self.settle();
        ack
    }

    /// The platform fires the object's alarm, if it is due.
    pub fn fire_alarm(&mut self) {
        if self.alarm.is_some_and(|at| at <= self.now) {
            let due = self.host.on_alarm(self.now);
            let taken = vec![true; due.jobs.len()];
            self.host.on_enqueued(&due.jobs, &taken);
            self.alarm = self.host.after_alarm(self.now, &due);
            self.perform();
            self.settle();
        }
    }

    /// A Socket.IO client `sid` (`{home}.{session}`) that the world holds.
    pub fn client(&mut self, sid: &str, client: Sio) {
        self.clients.insert(sid.into(), client);
    }

    /// A text frame from Socket.IO client `sid`.
    pub fn frame(&mut self, sid: &str, text: &str) {
        let client = self.clients.get_mut(sid).expect("a client");
        client.now = self.now;
        let actions = client.frame(text);
        self.take(sid, actions);
    }

    /// An event from Socket.IO client `sid`, with an ack id when given.
    pub fn emit(&mut self, sid: &str, event: &str, argument: Value, ack: Option<u64>) {
        let client = self.clients.get_mut(sid).expect("a client");
        client.now = self.now;
        let actions = client.emit(event, argument, ack);
        self.take(sid, actions);
    }

    /// What a client's actions do: packets are kept as sent to it, commands go to the room.
    pub fn take(&mut self, sid: &str, actions: Vec<Action>) {
        let room = self.room_id();
        for (to, command) in room_commands(&actions) {
            assert_eq!(to, room, "one room in this world");
            let home = sid.split('.').next().expect("sid").to_owned();
            self.to_room.push((home, MemberCommand { conn: sid.into(), op: command.into() }));
        }
        self.sent.entry(sid.into()).or_default().extend(actions);
    }

    /// Carries the calls between homes and the room both ways until nothing is in flight.
    pub fn settle(&mut self) {
        loop {
            for (home, command) in std::mem::take(&mut self.to_room) {
                self.host.on_members(self.now, MemberBatch { home, commands: vec![command] });
                self.perform();
            }
            let ready = self.host.deliveries();
            if ready.is_empty() && self.to_room.is_empty() {
                return;
            }
            for (home, delivery) in ready {
                let answer = if self.down.contains(&home) {
                    Err("down".to_owned())
                } else {
                    Ok(DeliveryAnswer { unknown: self.deliver(&delivery.items) })
                };
                self.host.on_delivered(&home, answer);
                self.perform();
            }
        }
    }

    /// A home receives a delivery: the sessions it does not hold.
    fn deliver(&mut self, items: &[DeliveryItem]) -> Vec<String> {
        let room = self.room_id();
        let mut unknown = Vec::new();
        for item in items {
            let (to, event) = match item {
                DeliveryItem::Frame { to, text } => (to.clone(), RoomEvent::Frame(text)),
                DeliveryItem::Close { to } => (vec![to.clone()], RoomEvent::Closed),
            };
            for sid in to {
                let now = self.now;
                let client = self.clients.get_mut(&sid);
                match client.and_then(|c| {
                    c.now = now;
                    c.on_room(room.as_str(), event)
                }) {
                    Some(actions) => self.take(&sid, actions),
                    None => unknown.push(sid),
                }
            }
        }
        unknown
    }

    /// Performs the host's outputs as the Durable Object does, and sets the alarm it asks for.
    pub fn perform(&mut self) {
        for output in self.host.drain() {
            match output {
                Output::Send { to, text } => self.receive(&to.0, &text),
                Output::SendNative { text, except } => {
                    let to: Vec<String> = self
                        .open
                        .iter()
                        .filter(|(conn, codec)| **codec == Codec::Native && Some(*conn) != except.as_ref())
                        .map(|(conn, _)| conn.0.clone())
                        .collect();
                    for id in to {
                        self.receive(&id, &text);
                    }
                }
                Output::Close { to, code, .. } => {
                    self.open.remove(&to);
                    self.closed.insert(to.0, code);
                }
                Output::Log(_) | Output::Problem(_) => {}
            }
        }
        if let Some(at) = self.host.poll_timeout(self.now) {
            self.alarm = Some(at);
        }
    }

    fn receive(&mut self, id: &str, text: &str) {
        let frame = serde_json::from_str(text).unwrap_or_else(|e| panic!("{id} was sent non-JSON {text:?}: {e}"));
        self.direct.entry(id.into()).or_default().push(frame);
    }

    /// Everything socket `id` received since the last call.
    pub fn take_frames(&mut self, id: &str) -> Vec<Value> {
        self.direct.get_mut(id).map(std::mem::take).unwrap_or_default()
    }

    /// The frames of type `kind` socket `id` received since the last take.
    pub fn take_type(&mut self, id: &str, kind: &str) -> Vec<Value> {
        self.take_frames(id).into_iter().filter(|f| f["type"] == kind).collect()
    }

    /// The activity the room keeps in storage for socket `id` (its JSON), if any.
    pub fn stored_activity(&self, id: &str) -> Option<String> {
        use herald_core::store::{Sql, SqlValue};
        let rows =
            self.db.exec("SELECT activity FROM conn_activity WHERE conn = ?", &[SqlValue::Text(id.into())]).unwrap();
        rows.first().and_then(|row| row.first()).and_then(SqlValue::text).map(str::to_owned)
    }

    /// What Socket.IO client `sid` was sent, decoded.
    pub fn got(&self, sid: &str) -> Vec<Got> {
        decode(self.sent.get(sid).map(Vec::as_slice).unwrap_or_default())
    }

    pub fn is_open(&self, id: &str) -> bool {
        self.open.contains_key(&conn(id))
    }

    /// The `(seq, id)` of every message socket `id` received.
    pub fn direct_messages(&self, id: &str) -> Vec<(u64, String)> {
        self.direct[id]
            .iter()
            .filter(|f| f["type"] == "message")
            .map(|f| (f["seq"].as_u64().unwrap(), f["id"].as_str().unwrap().into()))
            .collect()
    }
}

fn open(room: &str, limits: &Limits, retention: &Retention, db: &Sqlite, ids: &Rc<Cell<u64>>) -> RoomHost<Sqlite> {
    let ids = ids.clone();
    let fresh = Box::new(move || {
        ids.set(ids.get() + 1);
        format!("gen-{}", ids.get())
    });
    let id = RoomId::parse(room).unwrap();
    RoomHost::open(id, limits, retention, &Fallback::default(), db.clone(), fresh).unwrap()
}
