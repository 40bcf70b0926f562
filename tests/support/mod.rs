//! Native scenario tests of Herald's core, and their support.
//!
//! - `room_scenarios.rs`: the room state machine as conversations between fake connections
//!   (order, the resume seam, idempotency, presence, limits, retention, failure, waking up).
//! - `log_suite.rs`: one suite every room log implementation passes (memory, SQL).
//! - `jwt.rs`: which tokens verify and which are refused, with which code. The tokens are minted
//!   with jwt-compact, which Herald verified with before `auth::jws`, and refusals are checked
//!   against what it made of the same tokens.
//! - `oracles.rs`: Herald's own small readers and writers (an email's `Date`, a request's query)
//!   against the crates they replace in the wasm (chrono, url).
//! - `engineio_scenarios.rs`: Engine.IO sessions (polling, websocket, upgrade, heartbeat,
//!   close) and Socket.IO clients of the echo dialects, over a fake clock.
//! - `socketio_native.rs`: the `native` dialect, and Socket.IO members held by homes in a room
//!   (the calls between them carried by hand): same sequence as a direct connection, failed
//!   and forgetful homes dropped.
//! - `dialect_alert.rs`, `dialect_threedrepo.rs`, `dialect_workspace.rs`, `dialect_tndata.rs`:
//!   each seed dialect's translation between its client's events and the rooms' frames.
//! - `exchange_inbox.rs`: a user's inbox (notifications, marks, fallbacks decided into jobs, the
//!   job ledger, scheduled sends) over SQLite, across reloads.
//! - `exchange_directory.rs`: a directory shard's users in SQLite, and a broadcast walked to its
//!   end over several shards and pages (every known user once).
//! - `props_*.rs`: property tests of every decoder of outside input (generated structured and
//!   random inputs, `props/` holds the generators), asserting the properties in [`checks`],
//!   which the fuzz targets (`fuzz/`) assert too.
//! - `sio.rs`: Socket.IO clients of any dialect ([`sio::Sio`]) and what they were sent, decoded.
//! - `world.rs`: one room object as the tests see it ([`world::World`]): the core's room host
//!   over SQLite, its own sockets (native or tndata), Socket.IO clients held by homes, REST
//!   publishes and the alarm. `socketio_native.rs`, `dialect_workspace.rs` and
//!   `dialect_tndata.rs` drive it.
//! - this file: [`Harness`] (the room state machine alone over a fake clock and fake
//!   connections, keeping what each connection received, parsed, for the room's own scenarios
//!   and the inbox's), [`Sqlite`] (the core's [`Sql`] over rusqlite), users and ids.

pub mod checks;
pub mod sio;
pub mod world;

use herald_core::auth::Verifier;
use herald_core::config::{Config, Limits, Retention};
use herald_core::dialect::Auth;
use herald_core::ids::{ConnId, RoomId, User, UserId};
use herald_core::room::{Activity, Effect, Log, MemoryLog, Room, Session, SqlLog};
use herald_core::store::{Sql, SqlValue, StoreError};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;

/// Monday 2026-11-02 09:00 UTC: tests start here.
/// An APNs `.p8` key as Apple hands it out (PKCS#8 with the curve and the public key inside
/// the ECPrivateKey), of the P-256 scalar 0x21..0x40.
pub const APNS_P8: &str = "-----BEGIN PRIVATE KEY-----
MIGTAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBHkwdwIBAQQgISIjJCUmJygpKiss
LS4vMDEyMzQ1Njc4OTo7PD0+P0CgCgYIKoZIzj0DAQehRANCAAQfFAFGv7GyUfhP
Tdvg1M3P13r9mEqVIONXlAIfgxK7nuyZWgix+ncE3z3MC1CpZlJj+3cR+V+fikSc
UJbkfIkr
-----END PRIVATE KEY-----
";

pub const T0: i64 = 1_793_610_000_000;

pub const DAY: i64 = 24 * 3600 * 1000;

/// A session of `who` on connection `id`, valid for a day from [`T0`].
pub fn session(id: &str, who: &User) -> Session {
    Session { conn: conn(id), user: who.clone(), expires_at: T0 + DAY, tag: None, address: None }
}

/// The HS256 secret of [`verifier`].
pub const SECRET: &str = "a-local-test-secret-that-is-32-bytes!";

/// A verifier of HS256 tokens signed with [`SECRET`], as the object shells get one: for the
/// life of the process.
pub fn verifier() -> &'static Verifier {
    let config = Config::from_vars(|name| (name == "JWT_SECRET").then(|| SECRET.to_owned())).unwrap();
    Box::leak(Box::new(config.verifier))
}

/// An HS256 token for `sub` signed with [`SECRET`], valid from [`T0`] for a day, with `extra`
/// claims (`name` is `"{sub} name"` unless given).
pub fn token(sub: &str, extra: Value) -> String {
    use jwt_compact::alg::{Hs256, Hs256Key};
    use jwt_compact::{AlgorithmExt, Claims, Header, TimeOptions};
    let mut custom = serde_json::json!({ "sub": sub, "name": format!("{sub} name") });
    if let (Value::Object(custom), Value::Object(extra)) = (&mut custom, extra) {
        custom.extend(extra);
    }
    let at = chrono::DateTime::from_timestamp_millis(T0).unwrap();
    let time = TimeOptions::new(chrono::Duration::seconds(0), move || at);
    let claims = Claims::new(custom).set_duration_and_issuance(&time, chrono::Duration::milliseconds(DAY));
    Hs256.token(&Header::empty(), &claims, &Hs256Key::new(SECRET)).unwrap()
}

/// How a Socket.IO session is authenticated when its handshake carried no token.
pub fn no_handshake_auth() -> Auth {
    Auth::new(verifier())
}

pub fn user(id: &str) -> User {
    User { id: UserId::parse(id).unwrap(), name: Some(format!("{id} name")), avatar: None }
}

pub fn conn(id: &str) -> ConnId {
    ConnId(id.to_owned())
}

pub fn room_id(id: &str) -> RoomId {
    RoomId::parse(id).unwrap()
}

/// SQLite in memory, shared by clones: the same database survives a room being dropped and
/// loaded again, as a Durable Object's storage survives hibernation.
#[derive(Clone)]
pub struct Sqlite(Rc<rusqlite::Connection>);

impl Sqlite {
    pub fn in_memory() -> Self {
        Self(Rc::new(rusqlite::Connection::open_in_memory().unwrap()))
    }

    pub fn count(&self, table: &str) -> i64 {
        self.0.query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0)).unwrap()
    }

    /// Runs statements behind the code's back: a row no code would write, a trigger that makes
    /// a write fail.
    pub fn execute(&self, sql: &str) {
        self.0.execute_batch(sql).unwrap();
    }
}

impl Sql for Sqlite {
    fn exec(&self, sql: &str, params: &[SqlValue]) -> Result<Vec<Vec<SqlValue>>, StoreError> {
        use rusqlite::types::Value as V;
        let err = |e: rusqlite::Error| StoreError(e.to_string());
        let mut statement = self.0.prepare(sql).map_err(err)?;
        let values: Vec<V> = params
            .iter()
            .map(|p| match p {
                SqlValue::Null => V::Null,
                SqlValue::Int(i) => V::Integer(*i),
                SqlValue::Real(f) => V::Real(*f),
                SqlValue::Text(s) => V::Text(s.clone()),
            })
            .collect();
        let columns = statement.column_count();
        let mut rows = statement.query(rusqlite::params_from_iter(values)).map_err(err)?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(err)? {
            let mut values = Vec::with_capacity(columns);
            for i in 0..columns {
                values.push(match row.get::<_, V>(i).map_err(err)? {
                    V::Null => SqlValue::Null,
                    V::Integer(i) => SqlValue::Int(i),
                    V::Real(f) => SqlValue::Real(f),
                    V::Text(s) => SqlValue::Text(s),
                    V::Blob(_) => return Err(StoreError("unexpected blob".into())),
                });
            }
            out.push(values);
        }
        Ok(out)
    }
}

/// A room over a fake clock and fake connections.
pub struct Harness<L: Log> {
    pub room: Room<L>,
    pub now: i64,
    next_id: u64,
    open: BTreeSet<ConnId>,
    inbox: BTreeMap<ConnId, Vec<Value>>,
    closed: BTreeMap<ConnId, u16>,
    /// The alarm the room asked for last, as the platform keeps it.
    pub alarm: Option<i64>,
    /// Each connection's activity as the shell stores it ([`Effect::Remember`]).
    pub remembered: BTreeMap<ConnId, Activity>,
}

impl Harness<MemoryLog> {
    pub fn new() -> Self {
        Self::with(Limits::default(), Retention::default())
    }

    pub fn with(limits: Limits, retention: Retention) -> Self {
        Self::over(Room::load(room_id("lobby"), limits, retention, MemoryLog::new()).unwrap())
    }
}

impl Default for Harness<MemoryLog> {
    fn default() -> Self {
        Self::new()
    }
}

impl Harness<SqlLog<Sqlite>> {
    /// A room over SQLite; load it again over the same `db` to model a wake-up.
    pub fn sqlite(db: &Sqlite, limits: Limits, retention: Retention) -> Self {
        let log = SqlLog::open(db.clone()).unwrap();
        Self::over(Room::load(room_id("lobby"), limits, retention, log).unwrap())
    }
}

impl<L: Log> Harness<L> {
    pub fn over(room: Room<L>) -> Self {
        Self {
            room,
            now: T0,
            next_id: 0,
            open: BTreeSet::new(),
            inbox: BTreeMap::new(),
            closed: BTreeMap::new(),
            alarm: None,
            remembered: BTreeMap::new(),
        }
    }

    pub fn advance(&mut self, ms: i64) {
        self.now += ms;
    }

    fn fresh_id(&mut self) -> String {
        self.next_id += 1;
        format!("gen-{}", self.next_id)
    }

    /// Applies effects exactly as the Durable Object shell does.
    pub fn apply(&mut self, effects: Vec<Effect>) {
        for effect in effects {
            match effect {
                Effect::Send { to, text } => self.deliver(&to, &text),
                Effect::Broadcast { text, except } => {
                    let targets: Vec<ConnId> =
                        self.open.iter().filter(|c| Some(*c) != except.as_ref()).cloned().collect();
                    for to in targets {
                        self.deliver(&to, &text);
                    }
                }
                Effect::Close { to, code, .. } => {
                    self.open.remove(&to);
                    self.closed.insert(to, code);
                }
                Effect::SetAlarm { at } => self.alarm = Some(at),
                Effect::Remember { conn, activity: Some(activity) } => {
                    self.remembered.insert(conn, activity);
                }
                Effect::Remember { conn, activity: None } => {
                    self.remembered.remove(&conn);
                }
            }
        }
    }

    fn deliver(&mut self, to: &ConnId, text: &str) {
        let frame: Value = serde_json::from_str(text).unwrap_or_else(|e| panic!("server sent non-JSON {text:?}: {e}"));
        self.inbox.entry(to.clone()).or_default().push(frame);
    }

    /// Opens connection `id` for `who` with a token valid for a day.
    pub fn connect(&mut self, id: &str, who: &User, since: Option<u64>) {
        self.connect_until(id, who, since, self.now + DAY);
    }

    /// Opens connection `id` for `who` with a token valid until `expires_at`.
    pub fn connect_until(&mut self, id: &str, who: &User, since: Option<u64>, expires_at: i64) {
        let c = conn(id);
        self.open.insert(c.clone());
        let effects = self.room.on_connect(
            self.now,
            Session { conn: c, user: who.clone(), expires_at, tag: None, address: None },
            since,
        );
        self.apply(effects);
    }

    /// The platform fires the room's alarm (if it is due).
    pub fn fire_alarm(&mut self) {
        if self.alarm.is_some_and(|at| at <= self.now) {
            self.alarm = None;
            let effects = self.room.on_alarm(self.now);
            self.apply(effects);
        }
    }

    pub fn send(&mut self, id: &str, text: &str) {
        let fresh = self.fresh_id();
        let effects = self.room.on_frame(self.now, &conn(id), text, || fresh);
        self.apply(effects);
    }

    pub fn send_json(&mut self, id: &str, frame: Value) {
        self.send(id, &frame.to_string());
    }

    /// Publishes `event` with `data` (and an idempotency key when given) over the websocket.
    pub fn publish(&mut self, id: &str, event: &str, data: Value, key: Option<&str>) {
        let mut frame = serde_json::json!({ "type": "publish", "event": event, "data": data });
        if let Some(key) = key {
            frame["id"] = Value::from(key);
        }
        self.send_json(id, frame);
    }

    pub fn close(&mut self, id: &str) {
        let c = conn(id);
        self.open.remove(&c);
        let effects = self.room.on_close(&c);
        self.apply(effects);
    }

    /// Everything `id` received since the last call.
    pub fn take(&mut self, id: &str) -> Vec<Value> {
        self.inbox.remove(&conn(id)).unwrap_or_default()
    }

    /// Received frames of one type.
    pub fn take_type(&mut self, id: &str, kind: &str) -> Vec<Value> {
        self.take(id).into_iter().filter(|f| f["type"] == kind).collect()
    }

    /// The seqs of the `message` frames `id` received since the last take.
    pub fn seqs(&mut self, id: &str) -> Vec<u64> {
        self.take_type(id, "message").iter().map(|m| m["seq"].as_u64().unwrap()).collect()
    }

    pub fn is_open(&self, id: &str) -> bool {
        self.open.contains(&conn(id))
    }

    pub fn close_code(&self, id: &str) -> Option<u16> {
        self.closed.get(&conn(id)).copied()
    }
}
