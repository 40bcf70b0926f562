//! The room's Durable Object: hibernatable websockets and SQLite around the core's room host
//! ([`herald_core::host::RoomHost`]), which decides everything; this file moves bytes and
//! performs what the host puts out.
//!
//! Lifecycle: the runtime constructs the object (again after every hibernation); the first
//! event loads the host from SQLite and re-registers every open websocket from its attachment
//! (a [`Session`]). Each event then hands its input to the host and performs the host's
//! outputs in order. No `.await` happens between the input and its outputs, so each event is
//! atomic, and the runtime's output gate holds every send until the SQLite writes made before
//! it are durable. Websocket frames are handled in batches ([`crate::batch`]): the frames that
//! arrive together are handled together, in order, one commit for all; any other event that
//! reaches the room through `with_room` handles the frames queued before it first. (A home's
//! answer to a delivery, which may drop remote members, does not wait for them: its `left` may
//! go out before the effects of frames queued meanwhile, as if it came first.) Setting the
//! alarm ([`RoomHost::poll_timeout`]) and the calls to homes need an `.await`: they come after,
//! with no state borrowed.
//!
//! Remote members (Socket.IO sessions held by their homes) are delivered to by a task per home
//! with one `POST /deliver` in flight at a time ([`RoomHost::deliveries`]). A user's inbox
//! (`inbox:{user}`) is this object too: its internal routes and the jobs its alarm queues are in
//! [`inbox`].

// The inbox's side of this object: its routes and the jobs its alarm sends to the queue.
#[path = "inbox.rs"]
mod inbox;

use crate::batch::{self, Batch};
use crate::dead_letters;
use crate::home::Home;
use crate::identity::Identity;
use crate::sockets::{drop_session, Sockets};
use crate::sql::DurableSql;
use herald_core::connections::Holder;
use herald_core::dialect::tndata;
use herald_core::error::{close, Error, ErrorCode};
use herald_core::home;
use herald_core::host::{self, Codec, InboxCall, Output, RoomHost};
use herald_core::ids::{ConnId, RoomId};
use herald_core::internal::{self as api, DeliveryAnswer, MemberBatch, MemberOp, PublishRequest};
use herald_core::object::Role;
use herald_core::protocol::native::error_frame;
use herald_core::room::{ack_json, HistoryQuery, Session};
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

/// The loaded room: the core's host and the runtime's sockets it sends to.
struct Loaded {
    host: RoomHost<DurableSql>,
    sockets: Sockets,
}

/// The loaded room, shared with the delivery tasks.
type Slot = Rc<RefCell<Option<Loaded>>>;

impl Loaded {
    /// Performs what the host put out, in order. Send errors come from sockets that are
    /// already closing; their close event cleans up, so they are ignored.
    fn perform(&mut self) {
        for output in self.host.drain() {
            match output {
                Output::Send { to, text } => self.sockets.send(&to, &text),
                Output::SendNative { text, except } => self.sockets.send_native(&text, except.as_ref()),
                Output::Close { to, code, reason } => {
                    if let Some(ws) = self.sockets.remove(&to) {
                        // Drop the session first: a client that never completes the close must
                        // not be restored as a member when the room next wakes.
                        drop_session(&ws);
                        let _ = ws.close(Some(code), Some(reason));
                    }
                }
                Output::Log(line) => worker::console_log!("{line}"),
                Output::Problem(line) => worker::console_error!("{line}"),
            }
        }
    }
}

/// Starts a delivery for each home with something queued and none in flight.
fn deliver(slot: &Slot, env: &Env) {
    let ready = match slot.borrow_mut().as_mut() {
        Some(loaded) => loaded.host.deliveries(),
        None => return,
    };
    for (home, delivery) in ready {
        let body = serde_json::to_string(&delivery).expect("deliveries serialize");
        spawn_local(deliver_to(slot.clone(), env.clone(), home, body));
    }
}

/// One delivery call to a home; its answer (or its failure) goes to the host. Then the next
/// delivery, if anything piled up meanwhile.
async fn deliver_to(slot: Slot, env: Env, home: String, body: String) {
    let result = post_to_object(&env, &home::object_name(&home), api::DELIVER, body).await;
    if let Some(loaded) = slot.borrow_mut().as_mut() {
        let answer = match result.map(|text| serde_json::from_str::<DeliveryAnswer>(&text)) {
            Ok(Ok(answer)) => Ok(answer),
            Ok(Err(e)) => Err(format!("answered a delivery with a bad body: {e}")),
            Err(e) => Err(format!("unreachable: {e}")),
        };
        loaded.host.on_delivered(&home, answer);
        loaded.perform();
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
    /// Socket.IO clients whose home this object is (see [`crate::home`]), made by the first
    /// call to a home.
    home: std::cell::OnceCell<Home>,
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
        let home = std::cell::OnceCell::new();
        Self { state, raw, env, loaded: Slot::default(), batch: Batch::default(), home, identity: Identity::default() }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        let role = match self.identity.from_request(&self.state, &req) {
            Ok((_, role)) => role,
            Err(e) => return Ok(respond::error(&e)),
        };
        // The role, typed once from the object's name, picks the routes (each route's future
        // is awaited `boxed`, see there).
        let answer = match &role {
            Role::Room(_) => boxed(self.room_request(&mut req)).await,
            Role::Home(id) => boxed(self.home_request(id, &mut req)).await,
            Role::Directory(_) => boxed(crate::directory::handle(&self.state, &role, &mut req)).await,
            Role::DeadLetters => boxed(dead_letters::handle(&self.state, &self.env, &role, &mut req)).await,
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
        let next = match self.with_room(|loaded| loaded.host.on_alarm(now)) {
            Ok(due) => self.inbox_alarm(now, due).await,
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
            Ok(()) => self.set_alarm().await,
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
        let _ = ws.close(Some(close::answer(code)), Some(reason));
        Ok(())
    }

    async fn websocket_error(&self, ws: WebSocket, _error: worker::Error) -> Result<()> {
        self.forget(&ws);
        let _ = ws.close(Some(close::INTERNAL), Some("websocket error"));
        Ok(())
    }
}

impl RoomObject {
    /// A call to a room (an inbox too): the room's internal routes.
    async fn room_request(&self, req: &mut Request) -> std::result::Result<Response, Error> {
        let path = req.path();
        match (req.method(), path.as_str()) {
            (worker::Method::Get, api::CONNECT) => boxed(self.open_socket(req)).await,
            (worker::Method::Post, api::PUBLISH) => boxed(self.publish_message(req)).await,
            (worker::Method::Post, api::MEMBERS) => boxed(self.remote_members(req)).await,
            (worker::Method::Get, api::MESSAGES) => self.read_history(req),
            (worker::Method::Get, api::PRESENCE) => self.read_presence(),
            (worker::Method::Get, api::TNDATA_HISTORY) => self.read_tndata_history(req),
            (worker::Method::Get, api::READS) => self.read_marks(),
            (method, path) if InboxCall::serves(path) => boxed(self.inbox_request(method, req)).await,
            _ => Err(Error::new(ErrorCode::NotFound, format!("no internal route {path} for a room"))),
        }
    }

    /// A call to a home: its Engine.IO sessions, and the rooms' deliveries to them. The home
    /// is made by the first call to this instance.
    async fn home_request(&self, id: &str, req: &mut Request) -> std::result::Result<Response, Error> {
        let home = self.home.get_or_init(|| Home::new(self.env.clone()));
        home.begin(id);
        let path = req.path();
        match (req.method(), path.as_str()) {
            (_, api::ENGINE) => boxed(home.handle(req)).await,
            (worker::Method::Post, api::DELIVER) => boxed(home.deliver(req)).await,
            _ => Err(Error::new(ErrorCode::NotFound, format!("no internal route {path} for a home"))),
        }
    }

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
            // Before `f`, which may remove a socket that its frames' answers are for.
            loaded.perform();
            f(loaded);
            let Loaded { host, sockets } = loaded;
            host.on_slow_consumers(|conn| sockets.pinged_at(&self.raw, conn));
            loaded.perform();
        }
        deliver(&self.loaded, &self.env);
        Ok(())
    }

    /// Hands the queued frames to the host in arrival order, without an `.await`: one SQLite
    /// commit for all.
    fn handle_frames(&self, loaded: &mut Loaded) {
        let frames = self.batch.take();
        if frames.is_empty() {
            return;
        }
        let now = now_ms();
        for (ws, message) in frames {
            let Some(conn) = self.conn_of(&ws) else { continue };
            match message {
                WebSocketIncomingMessage::String(text) => loaded.host.on_frame(now, &conn, &text),
                WebSocketIncomingMessage::Binary(bytes) => loaded.host.on_binary(now, &conn, bytes.len()),
            }
        }
    }

    fn load(&self) -> std::result::Result<Loaded, Error> {
        let config = config(&self.env)?;
        let id = self.room_id()?;
        let sql = DurableSql(self.state.storage().sql());
        let mut host =
            RoomHost::open(id, &config.limits, &config.retention, &config.fallback, sql, Box::new(fresh_id))?;
        let now = now_ms();
        let mut sockets = Sockets::default();
        for ws in self.state.get_websockets() {
            match ws.deserialize_attachment::<Session>() {
                Ok(Some(session)) => {
                    // Counted again if this process did not count it yet (a new isolate).
                    crate::connections::restore(&session.conn.0, holder(&session));
                    let tndata = self.speaks_tndata(&ws);
                    sockets.insert(session.conn.clone(), ws.clone(), tndata);
                    host.restore_socket(now, session, if tndata { Codec::Tndata } else { Codec::Native });
                }
                // A socket the room refused or ended (its session was dropped): finish closing.
                _ => {
                    let _ = ws.close(Some(close::NORMAL), Some("closed"));
                }
            }
        }
        host.restored(now)?;
        let (own, remote) = host.counts();
        // One line per wake, not per message: operators see hibernation working.
        worker::console_log!(
            "room {} loaded: {own} sockets and {remote} remote members restored, last seq {}",
            host.id(),
            host.room().last_seq()
        );
        Ok(Loaded { host, sockets })
    }

    /// Sets the alarm the host asks for, when it changed ([`RoomHost::poll_timeout`]).
    async fn set_alarm(&self) {
        // The loaded host only: this follows an event that loaded it (and handled its frames).
        let wanted = self.loaded.borrow_mut().as_mut().and_then(|loaded| loaded.host.poll_timeout(now_ms()));
        let Some(at) = wanted else { return };
        let when = ScheduledTime::new(js_sys::Date::new(&JsValue::from_f64(at as f64)));
        if let Err(e) = self.state.storage().set_alarm(when).await {
            worker::console_error!("room alarm could not be set (the next event tries again): {e}");
            if let Some(loaded) = self.loaded.borrow_mut().as_mut() {
                loaded.host.alarm_not_set();
            }
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
            loaded.host.on_close(&conn);
        });
        // Released after the room was loaded, and whether or not it could be: a room woken by
        // this close finds the closing socket among its own and counts it again as it loads.
        crate::connections::release(&conn.0);
    }

    /// Accepts a websocket the Worker already authenticated: the user, the token's expiry,
    /// the resume point and the dialect it speaks (native unless `tndata`) come in internal
    /// headers.
    async fn open_socket(&self, req: &Request) -> std::result::Result<Response, Error> {
        let headers = req.headers();
        let connect = api::Connect::from_headers(|name| headers.get(name).ok().flatten())?;
        let (since, protocol, speaks_tndata) = (connect.since, connect.protocol, connect.tndata);
        let session = Session {
            conn: ConnId(fresh_id()),
            user: connect.user,
            expires_at: connect.expires_at,
            tag: None,
            address: connect.address,
        };
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
        let codec = if speaks_tndata { Codec::Tndata } else { Codec::Native };
        let admitted = self.with_room(|loaded| loaded.host.admit(since, codec))?;
        let pair = WebSocketPair::new().map_err(internal)?;
        if let Err((text, code, error)) = admitted {
            return refuse_socket(pair, &session.conn, &text, code, &error, protocol);
        }

        if speaks_tndata {
            self.state.accept_websocket_with_tags(&pair.server, &[&session.conn.0, tndata::SOCKET_TAG]);
        } else {
            self.state.accept_websocket_with_tags(&pair.server, &[&session.conn.0]);
        }
        let now = now_ms();
        // Stored before the room can send anything: every registered socket has its session.
        pair.server.serialize_attachment(&session).map_err(internal)?;
        self.with_room(|loaded| {
            loaded.sockets.insert(session.conn.clone(), pair.server.clone(), speaks_tndata);
            loaded.host.on_connect(now, session, since, codec);
        })?;
        self.set_alarm().await;
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
        let ack = self.with_room(|loaded| loaded.host.on_publish(now, request))??;
        respond::json(if ack.duplicate { 200 } else { 201 }, ack_json(&ack)).map_err(internal)
    }

    /// Joins, frames and leaves of remote members, from the home that holds them.
    async fn remote_members(&self, req: &mut Request) -> std::result::Result<Response, Error> {
        let body = req.text().await.map_err(internal)?;
        let batch: MemberBatch = serde_json::from_str(&body)
            .map_err(|e| Error::internal(format!("internal member commands with a bad body: {e}")))?;
        let now = now_ms();
        let joins = batch.commands.iter().any(|command| matches!(command.op, MemberOp::Join { .. }));
        self.with_room(|loaded| loaded.host.on_members(now, batch))?;
        self.set_alarm().await;
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
        let body = self.with_room(|loaded| loaded.host.history(now, query))??;
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
        let body = self.with_room(|loaded| loaded.host.tndata_history(now, query))??;
        respond::json(200, body).map_err(internal)
    }

    fn read_marks(&self) -> std::result::Result<Response, Error> {
        let body = self.with_room(|loaded| loaded.host.reads_json())?;
        respond::json(200, body).map_err(internal)
    }

    fn read_presence(&self) -> std::result::Result<Response, Error> {
        let body = self.with_room(|loaded| loaded.host.presence_json())?;
        respond::json(200, body).map_err(internal)
    }
}

/// Who holds a socket, as the connection caps count it.
fn holder(session: &Session) -> Holder {
    Holder { user: Some(session.user.id.as_str().to_owned()), address: session.address.clone() }
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
    frame: &str,
    code: u16,
    error: &Error,
    protocol: Option<String>,
) -> std::result::Result<Response, Error> {
    pair.server.accept().map_err(internal)?;
    let _ = pair.server.send_with_str(frame);
    let _ = pair.server.close(Some(code), Some(error.code.as_str()));
    crate::connections::release_when_closed(pair.server.clone(), conn.0.clone());
    upgrade_response(pair.client, protocol)
}

/// An event the room could not even load for: tell the client why, then close (reconnectable).
fn close_with_error(ws: &WebSocket, error: &Error, tndata_room: Option<&RoomId>) {
    let _ = ws.send_with_str(host::speak(tndata_room, error_frame(error, None), fresh_id));
    let _ = ws.close(Some(close::INTERNAL), Some(error.code.as_str()));
}
