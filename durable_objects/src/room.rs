//! The room's Durable Object: hibernatable websockets, SQLite, and the core's room.
//!
//! Lifecycle: the runtime constructs the object (again after every hibernation); the first
//! event loads the room from SQLite and re-registers every open websocket from its
//! attachment (a [`Session`]). Each event then decodes, calls the core, and applies the
//! effects in order. No `.await` happens between reading state and applying effects, so each
//! event is atomic, and the runtime's output gate holds every send until the SQLite writes
//! made before it are durable. Websocket frames are handled in batches ([`crate::batch`]):
//! the frames that arrive together are handled together, in order, one commit for all; any
//! other event that reaches the room through `with_room` handles the frames queued before it
//! first. (A home's answer to a delivery, which may drop remote members, does not wait for
//! them: its `left` may go out before the effects of frames queued meanwhile, as if it came
//! first.) The one effect that needs an `.await`, setting the alarm, is performed after the
//! others, with no state borrowed.
//!
//! Some connections are remote: Socket.IO sessions held by their home objects, which join with
//! `POST /members`. What the room sends them goes through [`Remotes`], one outbox per home,
//! delivered by a task per home with one `POST /deliver` in flight at a time; members are kept
//! in SQLite ([`MemberRows`]) and restored on load like sockets are.
//!
//! Sockets of tndata conversations (`/chat/{user}/`) are accepted here too, tagged
//! [`tndata::SOCKET_TAG`]: their frames go to [`Room::on_tndata_frame`], and what the room sends
//! them passes through [`tndata::Translation`], once per frame. Read marks ([`ReadMarks`]) are
//! loaded with the room.
//!
//! Each connection's activity (status and focus, [`ActivityRows`]) is kept in SQLite too,
//! written for every `Remember` effect and restored on load.
//!
//! A user's inbox (`inbox:{user}`) is this object too, with an [`Inbox`] loaded beside the
//! room: its internal routes, its frames (`received`, `read`) and its share of the alarm are
//! in [`inbox`].

// The inbox's side of this object, working on its state (`durable_objects/src/inbox.rs`).
#[path = "inbox.rs"]
mod inbox;

use crate::batch::{self, Batch};
use crate::dead_letters;
use crate::home::Home;
use crate::identity::Identity;
use crate::sockets::Sockets;
use crate::sql::DurableSql;
use herald_core::connections::Holder;
use herald_core::dialect::tndata;
use herald_core::dialect::DialectKind;
use herald_core::error::{close, Error, ErrorCode};
use herald_core::exchange::inbox::Inbox;
use herald_core::home;
use herald_core::ids::{ConnId, RoomId, User};
use herald_core::internal::{self as api, Delivery, DeliveryAnswer, MemberBatch, MemberOp, PublishRequest};
use herald_core::object::Role;
use herald_core::protocol::native::error_frame;
use herald_core::room::{
    ack_json, presence_json, restore_activities, ActivityRows, Effect, HistoryQuery, MemberRows, ReadMarks, Remotes,
    Room, Session, SqlLog,
};
use herald_platform::respond::{self, internal};
use herald_platform::{boxed, config, fresh_id, now_ms, post_to_object, query_param, Url};
use std::cell::RefCell;
use std::collections::HashSet;
use std::rc::Rc;
use worker::wasm_bindgen::JsCast;
use worker::wasm_bindgen_futures::spawn_local;
use worker::worker_sys::DurableObjectState;
use worker::{
    durable_object, js_sys, wasm_bindgen::JsValue, DurableObject, Env, Request, Response, Result, ScheduledTime, State,
    WebSocket, WebSocketIncomingMessage, WebSocketPair, WebSocketRequestResponsePair,
};

/// How soon an alarm that could not load the room comes again.
const ALARM_RETRY_MS: i64 = 30_000;

/// The exact ping text the runtime answers by itself, without waking the object.
pub const AUTO_PING: &str = r#"{"type":"ping"}"#;
pub const AUTO_PONG: &str = r#"{"type":"pong"}"#;

struct Loaded {
    room: Room<SqlLog<DurableSql>>,
    sockets: Sockets,
    remotes: Remotes,
    members: MemberRows<DurableSql>,
    reads: ReadMarks<DurableSql>,
    activity: ActivityRows<DurableSql>,
    /// The inbox, when this room is a user's (`inbox:{user}`).
    inbox: Option<Inbox<DurableSql>>,
}

/// The loaded room, shared with the delivery tasks.
type Slot = Rc<RefCell<Option<Loaded>>>;

impl Loaded {
    /// Performs the core's effects, in order, and returns the alarm to set, if any (setting it
    /// needs an `.await`, which must not happen while the room is borrowed). Send errors come
    /// from sockets that are already closing; their close event cleans up, so they are ignored.
    #[must_use]
    fn apply(&mut self, effects: Vec<Effect>) -> Option<i64> {
        let mut alarm = None;
        for effect in effects {
            match effect {
                Effect::Send { to, text } => {
                    if self.remotes.send(&to, &text) {
                        continue;
                    }
                    self.sockets.send(self.room.id(), &to, &text);
                }
                Effect::Broadcast { text, except } => {
                    self.sockets.broadcast(self.room.id(), &text, except.as_ref());
                    self.remotes.broadcast(&text, except.as_ref());
                }
                Effect::Close { to, code, reason } => {
                    if self.remotes.close(&to) {
                        self.forget_member(&to);
                    } else if let Some(ws) = self.sockets.remove(&to) {
                        // Drop the session first: a client that never completes the close must
                        // not be restored as a member when the room next wakes.
                        crate::sockets::drop_session(&ws);
                        let _ = ws.close(Some(code), Some(reason));
                    }
                }
                // The object's one alarm also serves the inbox: the earlier of the two.
                Effect::SetAlarm { at } => {
                    alarm = Some(self.inbox.as_ref().and_then(|inbox| inbox.alarm_with(&self.room)).unwrap_or(at))
                }
                Effect::Remember { conn, activity } => {
                    // A failed write only loses the activity if the room hibernates before the
                    // connection sets it again.
                    if let Err(e) = self.activity.put(&conn, activity.as_ref()) {
                        worker::console_error!("room {}: activity of {} not stored: {e}", self.room.id(), conn.0);
                    }
                }
            }
        }
        alarm
    }

    /// A websocket frame of `conn`, in the dialect it speaks.
    fn on_message(&mut self, now: i64, conn: &ConnId, message: WebSocketIncomingMessage) -> Vec<Effect> {
        match message {
            WebSocketIncomingMessage::String(text) if self.sockets.speaks_tndata(conn) => {
                self.room.on_tndata_frame(now, conn, &text, &mut self.reads, fresh_id)
            }
            WebSocketIncomingMessage::String(text) => match self.inbox.as_mut() {
                Some(inbox) => self.room.on_inbox_frame(now, conn, &text, inbox, fresh_id),
                None => self.room.on_frame(now, conn, &text, fresh_id),
            },
            WebSocketIncomingMessage::Binary(bytes) => self.room.on_binary(conn, bytes.len()),
        }
    }

    /// Deletes a remote member's row. A failed delete only brings the member back after the
    /// next wake, where the first delivery to its home drops it again.
    fn forget_member(&mut self, conn: &ConnId) {
        if let Err(e) = self.members.delete(conn) {
            worker::console_error!("room {}: remote member {} not deleted: {e}", self.room.id(), conn.0);
        }
    }

    /// Members a home no longer holds leave the room (with `left` to the others).
    fn drop_members(&mut self, gone: Vec<ConnId>) {
        for conn in gone {
            self.forget_member(&conn);
            let effects = self.room.on_close(&conn);
            // Closing never asks for an alarm.
            let _ = self.apply(effects);
        }
    }

    /// What a home asks for its sessions, in order; the alarm to set, if any.
    fn on_members(&mut self, now: i64, batch: MemberBatch) -> Option<i64> {
        let mut alarm = None;
        for command in batch.commands {
            let (joined, effects) = self.room.on_member_command(now, &mut self.remotes, &batch.home, command, fresh_id);
            if let Some(session) = joined {
                if let Err(e) = self.members.insert(&batch.home, &session) {
                    worker::console_error!("room {}: remote member not stored: {e}", self.room.id());
                }
            }
            alarm = self.apply(effects).or(alarm);
        }
        alarm
    }
}

/// Starts a delivery for each home with something queued and none in flight.
fn deliver(slot: &Slot, env: &Env) {
    let (room, ready) = match slot.borrow_mut().as_mut() {
        Some(loaded) => {
            let ready = loaded.remotes.ready();
            // Most events queue nothing (always, in a room without remote members).
            if ready.is_empty() {
                return;
            }
            (loaded.room.id().clone(), ready)
        }
        None => return,
    };
    for (home, items) in ready {
        let body = serde_json::to_string(&Delivery { room: room.clone(), items }).expect("deliveries serialize");
        spawn_local(deliver_to(slot.clone(), env.clone(), home, body));
    }
}

/// One delivery call to a home. Its answer names the sessions the home does not hold, and a
/// failed call means the home holds none: either way those members leave the room. Then the
/// next delivery, if anything piled up meanwhile.
async fn deliver_to(slot: Slot, env: Env, home: String, body: String) {
    let result = post_to_object(&env, &home::object_name(&home), api::DELIVER, body).await;
    if let Some(loaded) = slot.borrow_mut().as_mut() {
        let gone = match result.map(|text| serde_json::from_str::<DeliveryAnswer>(&text)) {
            Ok(Ok(answer)) => loaded.remotes.delivered(&home, &answer.unknown),
            Ok(Err(e)) => {
                worker::console_error!("home {home} answered a delivery with a bad body: {e}");
                loaded.remotes.failed(&home)
            }
            Err(e) => {
                worker::console_error!("room {}: home {home} unreachable, its members dropped: {e}", loaded.room.id());
                loaded.remotes.failed(&home)
            }
        };
        loaded.drop_members(gone);
    }
    deliver(&slot, &env);
}

#[durable_object]
pub struct RoomObject {
    state: State,
    /// The runtime's state object itself, for the one method workers-rs does not bind
    /// (`getWebSocketAutoResponseTimestamp`, [`Sockets::slow_consumers`]).
    raw: DurableObjectState,
    env: Env,
    loaded: Slot,
    /// The frames waiting for the next batch (group commit).
    batch: Batch,
    /// Socket.IO clients whose home this object is (see [`crate::home`]).
    home: Home,
    /// Who this object is (its name and role), however it was woken.
    identity: Identity,
}

impl DurableObject for RoomObject {
    fn new(state: State, env: Env) -> Self {
        let raw = state._inner();
        let state = State::from(raw.clone().unchecked_into::<DurableObjectState>());
        // Plain pings are answered by the runtime, so idle clients never wake a hibernating room.
        if let Ok(pair) = WebSocketRequestResponsePair::new(AUTO_PING, AUTO_PONG) {
            state.set_websocket_auto_response(&pair);
        }
        let home = Home::new(env.clone());
        Self { state, raw, env, loaded: Slot::default(), batch: Batch::default(), home, identity: Identity::default() }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        let role = match self.identity.from_request(&self.state, &req) {
            Ok((_, role)) => role,
            Err(e) => return Ok(respond::error(&e)),
        };
        if let Role::Home(id) = &role {
            self.home.begin(id);
        }
        let path = req.path();
        // Each route's future is awaited `boxed` (see there).
        let answer = match (req.method(), path.as_str()) {
            (worker::Method::Get, api::CONNECT) => boxed(self.open_socket(&req)).await,
            (worker::Method::Post, api::PUBLISH) => boxed(self.publish_message(&mut req)).await,
            (worker::Method::Post, api::MEMBERS) => boxed(self.remote_members(&mut req)).await,
            (worker::Method::Get, api::MESSAGES) => self.read_history(&req),
            (worker::Method::Get, api::PRESENCE) => self.read_presence(),
            (worker::Method::Get, api::TNDATA_HISTORY) => self.read_tndata_history(&req),
            (worker::Method::Get, api::READS) => self.read_marks(),
            (_, api::ENGINE) => boxed(self.home.handle(&mut req)).await,
            (worker::Method::Post, api::DELIVER) => boxed(self.home.deliver(&mut req)).await,
            (method, path) if inbox::serves(path) => boxed(self.inbox_request(method, &mut req)).await,
            (_, p) if crate::directory::serves(p) => {
                boxed(crate::directory::handle(&self.state, &role, &mut req)).await
            }
            (_, api::DEAD_LETTERS | api::DEAD_LETTER_NOTES | api::PUSH_BREAKER) => {
                boxed(dead_letters::handle(&self.state, &self.env, &role, &mut req)).await
            }
            _ => Err(Error::new(ErrorCode::NotFound, format!("no internal route {path}"))),
        };
        Ok(answer.unwrap_or_else(|e| respond::error(&e)))
    }

    /// Ends the sessions whose token expired, then runs an inbox's fallbacks and scheduled
    /// sends. (Under local workerd a socket closed from an alarm finishes its TCP teardown only
    /// ~10 s later; the client has the close frame at once.)
    ///
    /// A room that cannot load sets its alarm again [`ALARM_RETRY_MS`] on: answering OK without
    /// one would end the alarm for good, and with it every fallback the inbox still owes. When
    /// even that cannot be set, the alarm fails, and the runtime retries it.
    ///
    /// An object that does not know its name (it kept none: its alarm was set before objects
    /// stored their names, and nothing has called it since) cannot load, and never will until
    /// a call names it: it says so once and lets the alarm end rather than retry forever. The
    /// next call to it loads it, and whatever it still owes sets the alarm again.
    async fn alarm(&self) -> Result<Response> {
        if self.identity.recall(&self.state).is_none() {
            worker::console_error!(
                "an alarm woke an object that does not know its name (none stored); its alarm stops until a call names it"
            );
            return Response::ok("");
        }
        let now = now_ms();
        let alarm = self.with_room(|loaded| {
            let effects = loaded.room.on_alarm(now);
            loaded.apply(effects)
        });
        let queued = self.batch.take_alarm();
        let alarm = alarm.map(|at| at.or(queued));
        let next = match alarm {
            Ok(alarm) => self.inbox_alarm(now, alarm).await,
            Err(e) => {
                worker::console_error!("room alarm: {e}; again in {} s", ALARM_RETRY_MS / 1000);
                Some(now + ALARM_RETRY_MS)
            }
        };
        if let Some(at) = next {
            let when = ScheduledTime::new(js_sys::Date::new(&JsValue::from_f64(at as f64)));
            self.state.storage().set_alarm(when).await?;
        }
        Response::ok("")
    }

    /// Queues the frame for the room's next batch ([`crate::batch`]); the batch's first frame
    /// handles them all, one commit for the lot.
    async fn websocket_message(&self, ws: WebSocket, message: WebSocketIncomingMessage) -> Result<()> {
        if !self.batch.push(ws, message) {
            return Ok(());
        }
        batch::gather().await;
        // Loading the room handles the queue; an alarm a frame asked for is set after.
        match self.with_room(|_| ()) {
            Ok(()) => self.set_alarm(None).await,
            Err(e) => {
                // One error and close per socket, however many of its frames were queued.
                let mut told = HashSet::new();
                for (ws, _) in self.batch.take() {
                    if told.insert(self.conn_of(&ws)) {
                        close_with_error(&ws, &e, self.tndata_room(&ws).as_ref());
                    }
                }
            }
        }
        Ok(())
    }

    async fn websocket_close(&self, ws: WebSocket, code: usize, reason: String, _was_clean: bool) -> Result<()> {
        self.forget(&ws);
        // Answer the client's close frame (the runtime already does at recent compatibility
        // dates, and then this call is a harmless no-op).
        let _ = ws.close(Some(reply_code(code)), Some(reason));
        Ok(())
    }

    async fn websocket_error(&self, ws: WebSocket, _error: worker::Error) -> Result<()> {
        self.forget(&ws);
        let _ = ws.close(Some(close::INTERNAL), Some("websocket error"));
        Ok(())
    }
}

impl RoomObject {
    /// Runs `f` on the loaded room, loading it first after construction or hibernation, and
    /// after handling the frames queued before this event; then starts the deliveries to homes
    /// that they queued.
    fn with_room<T>(&self, f: impl FnOnce(&mut Loaded) -> T) -> std::result::Result<T, Error> {
        // The work around `f` is the same for every caller: one copy of it in the wasm
        // (`on_room`), not one per closure.
        let mut f = Some(f);
        let mut answer = None;
        self.on_room(&mut |loaded| answer = f.take().map(|f| f(loaded)))?;
        Ok(answer.expect("on_room runs f once the room is loaded"))
    }

    /// [`Self::with_room`]'s body, for `f` called once.
    fn on_room(&self, f: &mut dyn FnMut(&mut Loaded)) -> std::result::Result<(), Error> {
        {
            let mut slot = self.loaded.borrow_mut();
            if slot.is_none() {
                *slot = Some(self.load()?);
            }
            let loaded = slot.as_mut().expect("loaded above");
            self.handle_frames(loaded);
            f(loaded);
            self.close_slow_consumers(loaded);
        }
        deliver(&self.loaded, &self.env);
        Ok(())
    }

    /// Handles the queued frames in arrival order, without an `.await`: one SQLite commit for
    /// all. The alarm they ask for waits in the batch for the next event that sets one.
    fn handle_frames(&self, loaded: &mut Loaded) {
        let frames = self.batch.take();
        if frames.is_empty() {
            return;
        }
        let now = now_ms();
        for (ws, message) in frames {
            let Some(conn) = self.conn_of(&ws) else { continue };
            loaded.sockets.alive(&conn, now);
            let effects = loaded.on_message(now, &conn, message);
            if let Some(at) = loaded.apply(effects) {
                self.batch.ask_alarm(at);
            }
        }
    }

    /// Closes the sockets that were sent more than the slow-consumer bound since their last
    /// sign of life ([`Sockets::slow_consumers`]), with 4003 so that they resume with `since`;
    /// the room sees them leave. (Their `left` may take others past the bound in turn, hence
    /// the loop; each pass closes at least one socket, so it ends.)
    fn close_slow_consumers(&self, loaded: &mut Loaded) {
        loop {
            let slow = loaded.sockets.slow_consumers(&self.raw);
            if slow.is_empty() {
                return;
            }
            for conn in slow {
                let Some(ws) = loaded.sockets.remove(&conn) else { continue };
                worker::console_log!("room {}: {} closed as a slow consumer", loaded.room.id(), conn.0);
                let error = Error::new(
                    ErrorCode::SlowConsumer,
                    "this connection was sent more than MAX_BACKLOG_BYTES since it last showed it was reading \
                     (a frame or a ping): reconnect with since",
                );
                crate::sockets::drop_session(&ws);
                let _ = ws.send_with_str(speak(error_frame(&error, None), self.tndata_room(&ws).as_ref()));
                let _ = ws.close(Some(close::SLOW_CONSUMER), Some(error.code.as_str()));
                let effects = loaded.room.on_close(&conn);
                // Closing never asks for an alarm.
                let _ = loaded.apply(effects);
            }
        }
    }

    fn load(&self) -> std::result::Result<Loaded, Error> {
        let config = config(&self.env)?;
        let id = self.room_id()?;
        let log = SqlLog::open(DurableSql(self.state.storage().sql()))
            .map_err(|e| Error::internal(format!("could not open the room's log: {e}")))?;
        let members = MemberRows::open(DurableSql(self.state.storage().sql()))
            .map_err(|e| Error::internal(format!("could not open the room's members: {e}")))?;
        let reads = ReadMarks::open(DurableSql(self.state.storage().sql()))
            .map_err(|e| Error::internal(format!("could not read the room's read marks: {e}")))?;
        let activity = ActivityRows::open(DurableSql(self.state.storage().sql()))
            .map_err(|e| Error::internal(format!("could not open the room's activity: {e}")))?;
        let inbox = Inbox::open(&id, &config.fallback, &config.retention, DurableSql(self.state.storage().sql()))
            .map_err(|e| Error::internal(format!("could not open the inbox: {e}")))?;
        let mut room = Room::load(id, config.limits.clone(), config.retention.clone(), log)
            .map_err(|e| Error::internal(format!("could not load the room: {e}")))?;
        let now = now_ms();
        let mut sockets = Sockets::new(config.limits.max_backlog_bytes);
        for ws in self.state.get_websockets() {
            match ws.deserialize_attachment::<Session>() {
                Ok(Some(session)) => {
                    // Counted again if this process did not count it yet (a new isolate).
                    crate::connections::restore(&session.conn.0, holder(&session));
                    sockets.insert(now, session.conn.clone(), ws.clone(), self.speaks_tndata(&ws));
                    room.restore(now, session);
                }
                // A socket the room refused or ended (its session was dropped): finish closing.
                _ => {
                    let _ = ws.close(Some(close::NORMAL), Some("closed"));
                }
            }
        }
        let mut remotes = Remotes::default();
        let rows = members.all().map_err(|e| Error::internal(format!("could not read the room's members: {e}")))?;
        for (home, session) in rows {
            remotes.add(session.conn.clone(), home);
            room.restore(now, session);
        }
        restore_activities(&mut room, &activity)
            .map_err(|e| Error::internal(format!("could not read the room's activity: {e}")))?;
        // One line per wake, not per message: operators see hibernation working.
        worker::console_log!(
            "room {} loaded: {} sockets and {} remote members restored, last seq {}",
            room.id(),
            sockets.len(),
            remotes.len(),
            room.last_seq()
        );
        Ok(Loaded { room, sockets, remotes, members, reads, activity, inbox })
    }

    /// Sets the alarm to `at`, or else to the one the frames handled meanwhile asked for.
    async fn set_alarm(&self, at: Option<i64>) {
        // The batch's alarm is taken either way: once a later one is set, it is stale.
        let queued = self.batch.take_alarm();
        let Some(at) = at.or(queued) else { return };
        let when = ScheduledTime::new(js_sys::Date::new(&JsValue::from_f64(at as f64)));
        if let Err(e) = self.state.storage().set_alarm(when).await {
            worker::console_error!("room alarm could not be set: {e}");
        }
    }

    fn conn_of(&self, ws: &WebSocket) -> Option<ConnId> {
        self.state.get_tags(ws).into_iter().next().map(ConnId)
    }

    /// Whether `ws` was accepted as a tndata socket.
    fn speaks_tndata(&self, ws: &WebSocket) -> bool {
        self.state.get_tags(ws).iter().skip(1).any(|tag| tag == tndata::SOCKET_TAG)
    }

    /// This room, when `ws` speaks tndata (whose error messages name the room in their digest).
    fn tndata_room(&self, ws: &WebSocket) -> Option<RoomId> {
        self.room_id().ok().filter(|_| self.speaks_tndata(ws))
    }

    /// The room this object is: from the call that woke it, or else from its storage.
    fn room_id(&self) -> std::result::Result<RoomId, Error> {
        match self.identity.recall(&self.state) {
            Some((_, Role::Room(id))) => Ok(id),
            Some((name, _)) => Err(Error::internal(format!("this object is {name:?}, not a room"))),
            None => Err(Error::internal("this object does not know its name (none stored, none told)")),
        }
    }

    /// A socket's close completed (or it failed): it leaves the room, and gives its place in the
    /// connection caps back. Only now: a socket the room closed holds its place (and the
    /// runtime its file descriptor) until the client answers the close or goes away.
    fn forget(&self, ws: &WebSocket) {
        let Some(conn) = self.conn_of(ws) else { return };
        let _ = self.with_room(|loaded| {
            loaded.sockets.remove(&conn);
            let effects = loaded.room.on_close(&conn);
            // Closing never asks for an alarm; a stale one fires and finds nothing to do.
            let _ = loaded.apply(effects);
        });
        // Released after the room was loaded, and whether or not it could be: a room woken by
        // this close finds the closing socket among its own and counts it again as it loads.
        crate::connections::release(&conn.0);
    }

    /// Accepts a websocket the Worker already authenticated: the user, the token's expiry,
    /// the resume point and the dialect it speaks (native unless `tndata`) come in internal
    /// headers.
    async fn open_socket(&self, req: &Request) -> std::result::Result<Response, Error> {
        let user: User = serde_json::from_str(&header(req, api::USER)?.unwrap_or_default())
            .map_err(|e| Error::internal(format!("internal connect without a valid user: {e}")))?;
        let expires_at = header(req, api::EXPIRES)?
            .and_then(|s| s.parse::<i64>().ok())
            .ok_or_else(|| Error::internal("internal connect without a valid expiry"))?;
        let since = header(req, api::SINCE)?
            .map(|s| s.parse::<u64>().map_err(|_| Error::internal(format!("internal connect with since={s:?}"))))
            .transpose()?;
        let protocol = header(req, api::PROTOCOL)?;
        let address = header(req, api::ADDRESS)?;
        let speaks_tndata =
            header(req, api::DIALECT)?.as_deref().and_then(DialectKind::parse) == Some(DialectKind::Tndata);
        let session = Session { conn: ConnId(fresh_id()), user, expires_at, tag: None, address };
        // Counted before anything is accepted. Past a cap the upgrade is refused with 429 before
        // any websocket exists: a refusal that completed the upgrade would hold a socket (and a
        // file descriptor) for as long as the client leaves its close unanswered.
        crate::connections::admit(&config(&self.env)?.limits.caps(), &session.conn.0, holder(&session))?;
        let conn = session.conn.clone();
        // A socket that never opened gives its place back (one that did gives it when it closes).
        let opened = self.accept_socket(session, since, protocol, speaks_tndata).await;
        opened.inspect_err(|_| crate::connections::release(&conn.0))
    }

    /// Accepts the socket of `session`, counted already, or completes the upgrade only to
    /// refuse it as the room says.
    async fn accept_socket(
        &self,
        session: Session,
        since: Option<u64>,
        protocol: Option<String>,
        speaks_tndata: bool,
    ) -> std::result::Result<Response, Error> {
        // Load before accepting, so a room that cannot load answers with an HTTP error.
        let (admitted, room) = self.with_room(|loaded| (loaded.room.admit(since), loaded.room.id().clone()))?;
        let pair = WebSocketPair::new().map_err(internal)?;
        if let Err((error, code)) = admitted {
            return refuse_socket(pair, &session.conn, &error, code, protocol, speaks_tndata.then_some(&room));
        }

        if speaks_tndata {
            self.state.accept_websocket_with_tags(&pair.server, &[&session.conn.0, tndata::SOCKET_TAG]);
        } else {
            self.state.accept_websocket_with_tags(&pair.server, &[&session.conn.0]);
        }
        let now = now_ms();
        // Stored before the room can send anything: every registered socket has its session.
        pair.server.serialize_attachment(&session).map_err(internal)?;
        let alarm = self.with_room(|loaded| {
            loaded.sockets.insert(now, session.conn.clone(), pair.server.clone(), speaks_tndata);
            let effects = loaded.room.on_connect(now, session, since);
            loaded.apply(effects)
        })?;
        self.set_alarm(alarm).await;
        self.list_inbox_owner().await;
        upgrade_response(pair.client, protocol)
    }

    /// A connection joined: when this is an inbox whose owner is not in the directory yet, they
    /// are put there ([`inbox`]'s `list_owner`), before the connect is answered (once per
    /// user: later connections cost one local read). A failure does not refuse the
    /// connection; the next one tries again.
    async fn list_inbox_owner(&self) {
        if let Err(e) = self.list_owner().await {
            worker::console_error!("inbox owner not put in the directory (the next connection tries again): {e}");
        }
    }

    async fn publish_message(&self, req: &mut Request) -> std::result::Result<Response, Error> {
        let body = req.text().await.map_err(internal)?;
        let request: PublishRequest = serde_json::from_str(&body)
            .map_err(|e| Error::internal(format!("internal publish with a bad body: {e}")))?;
        let now = now_ms();
        let ack = self.with_room(|loaded| {
            let (ack, effects) =
                loaded.room.publish(now, &request.user, request.draft, request.except.as_deref(), fresh_id)?;
            // Publishing never asks for an alarm.
            let _ = loaded.apply(effects);
            Ok::<_, Error>(ack)
        })??;
        respond::json(if ack.duplicate { 200 } else { 201 }, ack_json(&ack)).map_err(internal)
    }

    /// Joins, frames and leaves of remote members, from the home that holds them.
    async fn remote_members(&self, req: &mut Request) -> std::result::Result<Response, Error> {
        let body = req.text().await.map_err(internal)?;
        let batch: MemberBatch = serde_json::from_str(&body)
            .map_err(|e| Error::internal(format!("internal member commands with a bad body: {e}")))?;
        let now = now_ms();
        let joins = batch.commands.iter().any(|command| matches!(command.op, MemberOp::Join { .. }));
        let alarm = self.with_room(|loaded| loaded.on_members(now, batch))?;
        self.set_alarm(alarm).await;
        if joins {
            self.list_inbox_owner().await;
        }
        respond::json(200, "{}".into()).map_err(internal)
    }

    fn read_history(&self, req: &Request) -> std::result::Result<Response, Error> {
        let url = Url::of(req);
        let (after, before, limit) =
            (query_param(&url, "after"), query_param(&url, "before"), query_param(&url, "limit"));
        let query = HistoryQuery::parse(after.as_deref(), before.as_deref(), limit.as_deref())?;
        let now = now_ms();
        let body = self.with_room(|loaded| {
            let page = loaded.room.history(now, query)?;
            Ok::<_, Error>(page.to_json(loaded.room.id()))
        })??;
        respond::json(200, body).map_err(internal)
    }

    /// A page of a tndata conversation, with read flags.
    fn read_tndata_history(&self, req: &Request) -> std::result::Result<Response, Error> {
        let url = Url::of(req);
        let param = |name| query_param(&url, name);
        let query = tndata::HistoryQuery::parse(
            param("order").as_deref(),
            param("limit").as_deref(),
            param("cursor").as_deref(),
        )?;
        let now = now_ms();
        let body = self.with_room(|loaded| loaded.room.tndata_history(now, query, &loaded.reads))??;
        respond::json(200, body).map_err(internal)
    }

    fn read_marks(&self) -> std::result::Result<Response, Error> {
        let body = self.with_room(|loaded| loaded.reads.to_json(loaded.room.id()))?;
        respond::json(200, body).map_err(internal)
    }

    fn read_presence(&self) -> std::result::Result<Response, Error> {
        let body = self.with_room(|loaded| {
            presence_json(loaded.room.id(), &loaded.room.presence(), loaded.room.connection_count())
        })?;
        respond::json(200, body).map_err(internal)
    }
}

/// Who holds a socket, as the connection caps count it.
fn holder(session: &Session) -> Holder {
    Holder { user: Some(session.user.id.as_str().to_owned()), address: session.address.clone() }
}

fn header(req: &Request, name: &str) -> std::result::Result<Option<String>, Error> {
    req.headers().get(name).map_err(internal)
}

/// The 101 answer carrying the client's end, with the subprotocol the client must see selected.
fn upgrade_response(client: WebSocket, protocol: Option<String>) -> std::result::Result<Response, Error> {
    let mut response = Response::from_websocket(client).map_err(internal)?;
    if let Some(protocol) = protocol {
        response.headers_mut().set("sec-websocket-protocol", &protocol).map_err(internal)?;
    }
    Ok(response)
}

/// Completes the upgrade only to say why the room refuses: an error frame, then a close. The
/// socket is accepted without hibernation: it never joins the room and the runtime finishes
/// the close handshake on its own (a hibernatable socket closed before its 101 was sent lingers
/// until a timeout). It keeps its place `conn` in the connection caps until its close
/// completes: a client that never answers the close holds the socket open, and must not open
/// refused sockets without end. (Should accepting fail, the caller gives the place back.)
fn refuse_socket(
    pair: WebSocketPair,
    conn: &ConnId,
    error: &Error,
    code: u16,
    protocol: Option<String>,
    tndata_room: Option<&RoomId>,
) -> std::result::Result<Response, Error> {
    pair.server.accept().map_err(internal)?;
    let _ = pair.server.send_with_str(speak(error_frame(error, None), tndata_room));
    let _ = pair.server.close(Some(code), Some(error.code.as_str()));
    crate::connections::release_when_closed(pair.server.clone(), conn.0.clone());
    upgrade_response(pair.client, protocol)
}

/// The code to answer a client's close with: its own, unless it is one that must not be sent
/// on the wire (1005 "no status", 1006 "abnormal", 1015 "TLS"; RFC 6455 §7.4.1).
fn reply_code(code: usize) -> u16 {
    match u16::try_from(code) {
        Ok(c @ (1000..=1003 | 1007..=1014 | 3000..=4999)) => c,
        _ => close::NORMAL,
    }
}

/// A native frame for a socket outside the room's effects: as is, or translated for a tndata
/// socket of `tndata_room`.
fn speak(native: String, tndata_room: Option<&RoomId>) -> String {
    match tndata_room {
        Some(room) => tndata::to_client(room, &native, fresh_id).unwrap_or(native),
        None => native,
    }
}

/// An event the room could not even load for: tell the client why, then close (reconnectable).
fn close_with_error(ws: &WebSocket, error: &Error, tndata_room: Option<&RoomId>) {
    let _ = ws.send_with_str(speak(error_frame(error, None), tndata_room));
    let _ = ws.close(Some(close::INTERNAL), Some(error.code.as_str()));
}
