//! The home side of the object: Socket.IO / Engine.IO clients whose sid names this object.
//!
//! Each client is a core [`Client`] plus its transports: the held long-polling GET (a channel
//! its answer goes through) and its websocket. Every event runs the core and performs the
//! [`Action`]s it returns. A timer task, running while clients exist, ticks each client at its
//! deadline (pings, ping timeouts).
//!
//! Engine.IO websockets are accepted without hibernation: the server pings every
//! `pingInterval` anyway, and local workerd keeps the TCP connection of a hibernatable socket
//! open ~10 s after the object closes it from anywhere but that socket's own event (a ping
//! timeout is exactly such a close). Polling clients always have a request in flight.
//! Either way a home holds its clients in memory, in [`Home`], shared with the tasks that read
//! the sockets and run the timer.
//!
//! Sessions of the `native` dialect join rooms: their commands for a room go out in order, in
//! batches, one call to that room at a time (`POST /members`); what rooms send them comes in
//! through `POST /deliver`, which answers with the sessions this home does not hold.

use futures_channel::{mpsc, oneshot};
use futures_util::future::{select, Either};
use futures_util::StreamExt;
use herald_core::connections::Holder;
use herald_core::dialect::{Auth, DialectKind, RoomEvent, UserCount};
use herald_core::engineio::packet::encode_payload;
use herald_core::engineio::session::{CloseReason, Poll, Post, Settings, Transport};
use herald_core::engineio::Frame;
use herald_core::error::{close, Error, ErrorCode};
use herald_core::gateway::{Action, Client};
use herald_core::home;
use herald_core::ids::RoomId;
use herald_core::internal::{self as api, Delivery, DeliveryAnswer, DeliveryItem, MemberBatch, MemberCommand};
use herald_platform::respond::{self, internal};
use herald_platform::{config, fresh_id, now_ms, post_to_object, query_param, Url};
use std::cell::RefCell;
use std::collections::{BTreeSet, HashMap};
use std::rc::Rc;
use std::time::Duration;
use worker::wasm_bindgen::closure::Closure;
use worker::wasm_bindgen::JsCast;
use worker::wasm_bindgen_futures::spawn_local;
use worker::web_sys::AbortSignal;
use worker::{Delay, Env, Method, Request, Response, WebSocket, WebSocketPair, WebsocketEvent};

/// Most commands in one call to a room.
const MEMBER_BATCH_MAX: usize = 256;

/// The clients of one home, shared by the object's handlers and its tasks. Never borrowed
/// across an `.await`.
#[derive(Clone)]
pub struct Home {
    clients: Rc<RefCell<Clients>>,
    env: Env,
    /// Whether this instance has served a call yet.
    started: Rc<std::cell::Cell<bool>>,
}

#[derive(Default)]
struct Clients {
    by_sid: HashMap<String, Live>,
    /// Wakes the timer task when a deadline earlier than the one it sleeps to appears; `None`
    /// while no timer task runs.
    timer: Option<(mpsc::UnboundedSender<()>, i64)>,
    /// Commands for each room, in order, not yet sent; a room is in here while a call to it
    /// is in flight.
    links: HashMap<RoomId, Vec<MemberCommand>>,
    /// Sessions with a websocket still open under the runtime (their reading task runs): such
    /// a session keeps its place in the connection caps until the socket's close completes,
    /// even once it ended.
    sockets_open: HashMap<String, usize>,
}

impl Clients {
    /// An ended session gives its place in the connection caps back, unless its websocket is
    /// still open under the runtime (then its reading task does, once the close completes).
    fn release_unless_socket_open(&self, sid: &str) {
        if !self.sockets_open.contains_key(sid) {
            crate::connections::release(sid);
        }
    }
}

/// How a GET is answered.
enum Waiting {
    Ready(String),
    Refused(Error),
    Held(oneshot::Receiver<Option<String>>),
}

struct Live {
    sid: String,
    client: Client,
    /// The answer channel of the held long-polling GET.
    poll: Option<oneshot::Sender<Option<String>>>,
    /// The client's websocket (the one probing an upgrade, then the transport).
    socket: Option<WebSocket>,
    /// Commands for rooms the last event produced, for [`Home::with_client`] to send.
    outgoing: Vec<(RoomId, MemberCommand)>,
}

impl Live {
    fn new(sid: String, client: Client, socket: Option<WebSocket>) -> Self {
        Self { sid, client, poll: None, socket, outgoing: Vec::new() }
    }

    /// Performs the actions in order; why the client ended, when it did.
    fn perform(&mut self, actions: Vec<Action>) -> Option<CloseReason> {
        let mut ended = None;
        let mut returned = None;
        // A websocket closed because its session ends says why (the session's last action).
        let closing = actions.iter().find_map(|action| match action {
            Action::Closed(reason) => Some(*reason),
            _ => None,
        });
        for action in actions {
            match action {
                // An answer its GET can no longer take (the GET was abandoned) goes back to the
                // session, for the next GET.
                Action::AnswerPoll(body) => {
                    if let Some(Err(Some(body))) = self.poll.take().map(|poll| poll.send(Some(body))) {
                        returned = Some(body);
                    }
                }
                Action::RefusePoll => {
                    if let Some(poll) = self.poll.take() {
                        let _ = poll.send(None);
                    }
                }
                // Send errors come from a socket already closing; its close event cleans up.
                Action::SendFrame(Frame::Text(text)) => {
                    if let Some(ws) = &self.socket {
                        let _ = ws.send_with_str(text);
                    }
                }
                Action::SendFrame(Frame::Binary(bytes)) => {
                    if let Some(ws) = &self.socket {
                        let _ = ws.send_with_bytes(&bytes);
                    }
                }
                Action::CloseSocket => {
                    if let Some(ws) = self.socket.take() {
                        let (code, reason) = match closing {
                            Some(CloseReason::SlowConsumer) => (close::SLOW_CONSUMER, ErrorCode::SlowConsumer.as_str()),
                            _ => (close::NORMAL, "session closed"),
                        };
                        let _ = ws.close(Some(code), Some(reason));
                    }
                }
                Action::Room { room, command } => {
                    self.outgoing.push((room, MemberCommand { conn: self.sid.clone(), op: command.into() }));
                }
                Action::Closed(reason) => ended = Some(reason),
            }
        }
        match returned {
            Some(body) => {
                let actions = self.client.on_poll_abandoned(now_ms(), Some(&body), &mut fresh_id);
                self.perform(actions).or(ended)
            }
            None => ended,
        }
    }
}

impl Home {
    pub fn new(env: Env) -> Self {
        Self { clients: Rc::default(), env, started: Rc::default() }
    }

    /// The first call to this instance of home `id`: the sessions a replaced instance held are
    /// gone with it (they lived in its memory), and give their places in the connection caps
    /// back.
    pub fn begin(&self, id: &str) {
        if !self.started.replace(true) {
            crate::connections::forget_home(id);
        }
    }

    /// `GET`/`POST /eio?…` from the Worker: a handshake, a poll, a post, or a websocket.
    pub async fn handle(&self, req: &mut Request) -> Result<Response, Error> {
        let url = Url::of(req);
        let header = |name: &str| req.headers().get(name).map_err(internal);
        let upgrade = header("upgrade")?.is_some();
        let Some(sid) = query_param(&url, "sid") else {
            let sid = header(api::SID)?.ok_or_else(|| Error::internal("internal handshake without a sid"))?;
            let kind = header(api::DIALECT)?
                .and_then(|d| DialectKind::parse(&d))
                .ok_or_else(|| Error::internal("internal handshake without a dialect"))?;
            let config = config(&self.env)?;
            let caps = config.limits.caps();
            let auth = Auth {
                verifier: &config.verifier,
                handshake_token: header(api::TOKEN)?,
                anonymous: header(api::ANONYMOUS)?.is_some(),
                counted: Some(UserCount { key: sid.clone(), caps, count: crate::connections::add_user }),
            };
            // A session counts against the caps from its handshake, by the client's address and
            // under the handshake token's user: past a cap it is refused before it opens. A user
            // it proves later (the CONNECT payload's token) counts from then (`Auth::verify`).
            let user = auth.handshake_user(now_ms()).map(|id| id.as_str().to_owned());
            let holder = Holder { user, address: header(api::ADDRESS)? };
            let home = home::home_of(&sid).ok_or_else(|| Error::internal("internal handshake with a bad sid"))?;
            crate::connections::admit_session(&caps, home, &sid, holder)?;
            let opening = Opening { settings: config.engine, kind, auth };
            let opened = if upgrade {
                self.open_websocket(sid.clone(), opening)
            } else {
                self.open_polling(sid.clone(), opening)
            };
            return opened.inspect_err(|_| crate::connections::release(&sid));
        };
        if upgrade {
            self.upgrade(&sid)
        } else if req.method() == Method::Post && header(api::OVERSIZE)?.is_some() {
            self.post(&sid, None)
        } else if req.method() == Method::Post {
            let body = req.text().await.map_err(internal)?;
            self.post(&sid, Some(&body))
        } else {
            self.poll(&sid, req.inner().signal()).await
        }
    }

    /// A handshake over polling: the first GET's answer.
    fn open_polling(&self, sid: String, o: Opening) -> Result<Response, Error> {
        let (client, open) = Client::open(now_ms(), sid.clone(), o.settings, Transport::Polling, o.kind, o.auth);
        self.insert(sid.clone(), Live::new(sid, client, None));
        text(200, encode_payload(&[open]))
    }

    /// A handshake over websocket: the handshake is the socket's first frame.
    fn open_websocket(&self, sid: String, o: Opening) -> Result<Response, Error> {
        let pair = WebSocketPair::new().map_err(internal)?;
        pair.server.accept().map_err(internal)?;
        let (client, open) = Client::open(now_ms(), sid.clone(), o.settings, Transport::Websocket, o.kind, o.auth);
        let _ = pair.server.send_with_str(open.encode_text());
        self.insert(sid.clone(), Live::new(sid.clone(), client, Some(pair.server.clone())));
        self.read_socket(sid, pair.server);
        Response::from_websocket(pair.client).map_err(internal)
    }

    /// A long-polling GET: answered now, or held until the client has something to receive.
    pub async fn poll(&self, sid: &str, signal: AbortSignal) -> Result<Response, Error> {
        let waiting = self.with_client(sid, |live| {
            let (poll, actions) = live.client.on_poll(now_ms(), &mut fresh_id);
            let ended = live.perform(actions);
            let waiting = match (poll, ended) {
                (Poll::Now(body), _) => Waiting::Ready(body),
                // This GET found the session overdue: it timed out before the GET came.
                (Poll::Refuse, Some(CloseReason::PingTimeout)) => Waiting::Refused(unknown(sid)),
                (Poll::Refuse, Some(_)) => Waiting::Refused(Error::new(
                    ErrorCode::BadRequest,
                    "a second GET while one is held; session closed",
                )),
                (Poll::Refuse, None) => {
                    Waiting::Refused(Error::new(ErrorCode::BadRequest, "this session moved to its websocket"))
                }
                (Poll::Hold, _) => {
                    let (sender, receiver) = oneshot::channel();
                    live.poll = Some(sender);
                    Waiting::Held(receiver)
                }
            };
            (waiting, ended.is_some())
        })?;
        match waiting {
            Waiting::Ready(body) => text(200, body),
            Waiting::Refused(error) => Err(error),
            Waiting::Held(receiver) => match until_aborted(&signal, receiver).await {
                Some(Ok(Some(body))) if !signal.aborted() => text(200, body),
                Some(Ok(None)) => Err(Error::new(ErrorCode::BadRequest, "the session moved to its websocket")),
                Some(Err(_)) => Err(Error::new(ErrorCode::BadRequest, "the session ended")),
                // The client went away: what was made for this GET (if anything) goes back.
                Some(Ok(Some(body))) => self.abandoned(sid, Some(&body)),
                None => self.abandoned(sid, None),
            },
        }
    }

    /// The held GET of `sid` was abandoned by its client: the session stops holding it, and
    /// `unsent` (an answer made for it) waits for the next GET.
    fn abandoned(&self, sid: &str, unsent: Option<&str>) -> Result<Response, Error> {
        let _ = self.with_client(sid, |live| {
            // Unanswered, this GET is the one held, unless another replaced it meanwhile (its
            // receiver is gone, so its sender says it was cancelled).
            if unsent.is_none() && !live.poll.as_ref().is_some_and(oneshot::Sender::is_canceled) {
                return ((), false);
            }
            if unsent.is_none() {
                live.poll = None;
            }
            let actions = live.client.on_poll_abandoned(now_ms(), unsent, &mut fresh_id);
            ((), live.perform(actions).is_some())
        });
        Err(Error::new(ErrorCode::BadRequest, "the client abandoned this GET"))
    }

    /// A POST of packets; `None` for one over maxPayload that the Worker refused unread.
    pub fn post(&self, sid: &str, body: Option<&str>) -> Result<Response, Error> {
        let post = self.with_client(sid, |live| {
            let (post, actions) = match body {
                Some(body) => live.client.on_post(now_ms(), body, &mut fresh_id),
                None => live.client.on_oversize_post(now_ms(), &mut fresh_id),
            };
            (post, live.perform(actions).is_some())
        })?;
        match post {
            Post::Ok => text(200, "ok".into()),
            Post::BadRequest => Err(Error::new(ErrorCode::BadRequest, "the payload does not decode; session closed")),
            Post::TooLarge => {
                let limit = config(&self.env)?.engine.max_payload;
                let message = format!("the payload is over maxPayload ({limit} bytes); session closed");
                Err(Error::new(ErrorCode::PayloadTooLarge, message).with_details(serde_json::json!({ "limit": limit })))
            }
        }
    }

    /// A websocket for an existing session: the upgrade from polling, or one too many.
    pub fn upgrade(&self, sid: &str) -> Result<Response, Error> {
        // A sid that names no session is refused before the handshake, 400, as the reference
        // server does (engine.io `Server#verify`: UNKNOWN_SID, then `abortUpgrade`).
        let takes = match self.clients.borrow().by_sid.get(sid) {
            Some(live) => live.client.takes_socket(),
            None => return Err(unknown(sid)),
        };
        // A websocket the session will not take is completed, then closed (below); until that
        // close completes it is a connection like any other, counted as the session is.
        let extra = if takes {
            None
        } else {
            let home = home::home_of(sid).ok_or_else(|| unknown(sid))?;
            let key = home::new_sid(home, &fresh_id());
            crate::connections::admit_like(&config(&self.env)?.limits.caps(), home, &key, sid)?;
            Some(key)
        };
        let pair = WebSocketPair::new().map_err(internal)?;
        pair.server.accept().map_err(internal)?;
        let accepted = self
            .with_client(sid, |live| {
                let (accepted, actions) = live.client.on_upgrade_socket(now_ms(), &mut fresh_id);
                if accepted {
                    live.socket = Some(pair.server.clone());
                }
                (accepted, live.perform(actions).is_some())
            })
            .unwrap_or(false);
        if accepted {
            self.read_socket(sid.to_owned(), pair.server);
        } else {
            // Spec, WebSocket: a second websocket for a session is closed. It is completed
            // first, so the client sees a close, not a failed upgrade (the reference server's
            // `onWebSocket` does the same for a session already upgrading or upgraded).
            let _ = pair.server.close(Some(1008), Some("the session takes no other websocket"));
            if let Some(key) = extra {
                crate::connections::release_when_closed(pair.server.clone(), key);
            }
        }
        Response::from_websocket(pair.client).map_err(internal)
    }

    /// Reads a client's websocket until it closes, feeding each frame to the client.
    fn read_socket(&self, sid: String, ws: WebSocket) {
        // Binary messages as ArrayBuffers: at recent compatibility dates a socket's default
        // binaryType is the standard "blob", which cannot be read synchronously.
        let _ = worker::js_sys::Reflect::set(ws.as_ref(), &"binaryType".into(), &"arraybuffer".into());
        let home = self.clone();
        *home.clients.borrow_mut().sockets_open.entry(sid.clone()).or_default() += 1;
        spawn_local(async move {
            home.read_frames(&sid, &ws).await;
            // The socket is gone: a session that ended meanwhile gives its place back now.
            let mut clients = home.clients.borrow_mut();
            if let Some(open) = clients.sockets_open.get_mut(&sid) {
                *open -= 1;
                if *open == 0 {
                    clients.sockets_open.remove(&sid);
                }
            }
            if !clients.by_sid.contains_key(&sid) && !clients.sockets_open.contains_key(&sid) {
                crate::connections::release(&sid);
            }
        });
    }

    /// Feeds a websocket's frames to its client until the socket closes, then tells it so.
    async fn read_frames(&self, sid: &str, ws: &WebSocket) {
        if let Ok(mut events) = ws.events() {
            while let Some(event) = events.next().await {
                let frame = match event {
                    Ok(WebsocketEvent::Message(message)) => match (message.text(), message.bytes()) {
                        (Some(text), _) => Frame::Text(text),
                        (None, Some(bytes)) => Frame::Binary(bytes),
                        (None, None) => continue,
                    },
                    Ok(WebsocketEvent::Close(_)) | Err(_) => break,
                };
                let _ = self.with_client(sid, |live| {
                    // Frames from a socket that is no longer the client's are dropped.
                    if live.socket.as_ref() != Some(ws) {
                        return ((), false);
                    }
                    let actions = live.client.on_frame(now_ms(), frame, &mut fresh_id);
                    ((), live.perform(actions).is_some())
                });
            }
        }
        let _ = self.with_client(sid, |live| {
            if live.socket.as_ref() != Some(ws) {
                return ((), false);
            }
            live.socket = None;
            let actions = live.client.on_socket_closed(now_ms(), &mut fresh_id);
            ((), live.perform(actions).is_some())
        });
    }

    /// Runs `event` on one client; `event` returns its result and whether the client is gone.
    /// Afterwards the timer is told about the client's new deadline.
    fn with_client<T>(&self, sid: &str, event: impl FnOnce(&mut Live) -> (T, bool)) -> Result<T, Error> {
        // The work around `event` is the same for every caller: one copy of it in the wasm
        // (`on_client`), not one per closure.
        let mut event = Some(event);
        let mut answer = None;
        self.on_client(sid, &mut |live| {
            let (value, gone) = (event.take().expect("on_client runs the event once"))(live);
            answer = Some(value);
            gone
        })?;
        Ok(answer.expect("on_client ran the event"))
    }

    /// [`Self::with_client`]'s body, for `event` called once; it answers whether the client is
    /// gone.
    fn on_client(&self, sid: &str, event: &mut dyn FnMut(&mut Live) -> bool) -> Result<(), Error> {
        let mut clients = self.clients.borrow_mut();
        let live = clients.by_sid.get_mut(sid).ok_or_else(|| unknown(sid))?;
        let gone = event(live);
        let deadline = live.client.deadline();
        let outgoing = std::mem::take(&mut live.outgoing);
        if gone {
            clients.by_sid.remove(sid);
            clients.release_unless_socket_open(sid);
        }
        drop(clients);
        self.send_to_rooms(outgoing);
        if let Some(at) = deadline.filter(|_| !gone) {
            self.wake_timer(at);
        }
        Ok(())
    }

    /// Queues commands for their rooms, and starts a sender for each room without one.
    fn send_to_rooms(&self, commands: Vec<(RoomId, MemberCommand)>) {
        for (room, command) in commands {
            let mut clients = self.clients.borrow_mut();
            let idle = !clients.links.contains_key(&room);
            clients.links.entry(room.clone()).or_default().push(command);
            drop(clients);
            if idle {
                spawn_local(self.clone().run_link(room));
            }
        }
    }

    /// Sends a room the commands queued for it, one call at a time, until none are left. A call
    /// that fails is reported to each session it carried commands of: they are no longer
    /// members there.
    async fn run_link(self, room: RoomId) {
        loop {
            let batch: Vec<MemberCommand> = {
                let mut clients = self.clients.borrow_mut();
                let Some(queue) = clients.links.get_mut(&room) else { return };
                if queue.is_empty() {
                    clients.links.remove(&room);
                    return;
                }
                let take = queue.len().min(MEMBER_BATCH_MAX);
                queue.drain(..take).collect()
            };
            let Some(home) = batch.first().and_then(|c| home::home_of(&c.conn)).map(str::to_owned) else { continue };
            let sessions: BTreeSet<String> = batch.iter().map(|c| c.conn.clone()).collect();
            let body = serde_json::to_string(&MemberBatch { home, commands: batch }).expect("batches serialize");
            if let Err(error) = post_to_object(&self.env, &room.object_name(), api::MEMBERS, body).await {
                worker::console_error!("room {room} unreachable from its members' home: {error}");
                for sid in sessions {
                    let _ = self.with_client(&sid, |live| {
                        let actions = live
                            .client
                            .on_room(now_ms(), &room, RoomEvent::Failed(&error), &mut fresh_id)
                            .unwrap_or_default();
                        ((), live.perform(actions).is_some())
                    });
                }
            }
        }
    }

    /// `POST /deliver` from a room: frames and closes for sessions here, in the room's order.
    pub async fn deliver(&self, req: &mut Request) -> Result<Response, Error> {
        let body = req.text().await.map_err(internal)?;
        let delivery: Delivery = serde_json::from_str(&body)
            .map_err(|e| Error::internal(format!("internal delivery with a bad body: {e}")))?;
        let room = &delivery.room;
        let mut unknown = BTreeSet::new();
        for item in &delivery.items {
            let (to, event) = match item {
                DeliveryItem::Frame { to, text } => (to.as_slice(), RoomEvent::Frame(text)),
                DeliveryItem::Close { to } => (std::slice::from_ref(to), RoomEvent::Closed),
            };
            for sid in to {
                let known =
                    self.with_client(sid, |live| match live.client.on_room(now_ms(), room, event, &mut fresh_id) {
                        Some(actions) => (true, live.perform(actions).is_some()),
                        None => (false, false),
                    });
                if !matches!(known, Ok(true)) && matches!(event, RoomEvent::Frame(_)) {
                    unknown.insert(sid.clone());
                }
            }
        }
        let answer = DeliveryAnswer { unknown: unknown.into_iter().collect() };
        respond::json(200, serde_json::to_string(&answer).expect("answers serialize")).map_err(internal)
    }

    fn insert(&self, sid: String, live: Live) {
        let deadline = live.client.deadline();
        self.clients.borrow_mut().by_sid.insert(sid, live);
        if let Some(at) = deadline {
            self.wake_timer(at);
        }
    }

    /// Makes sure the timer task runs and wakes no later than `at`.
    fn wake_timer(&self, at: i64) {
        let mut clients = self.clients.borrow_mut();
        match &mut clients.timer {
            Some((wake, target)) => {
                if at < *target {
                    *target = at;
                    let _ = wake.unbounded_send(());
                }
            }
            None => {
                let (wake, woken) = mpsc::unbounded();
                clients.timer = Some((wake, at));
                drop(clients);
                spawn_local(self.clone().run_timer(woken));
            }
        }
    }

    /// Ticks every client at its deadline, while there are clients.
    async fn run_timer(self, mut woken: mpsc::UnboundedReceiver<()>) {
        loop {
            let target = match &self.clients.borrow().timer {
                Some((_, target)) => *target,
                None => return,
            };
            let wait = (target - now_ms()).max(0) as u64;
            if wait > 0 {
                let sleep = Delay::from(Duration::from_millis(wait));
                if let Either::Right((Some(()), _)) = select(sleep, woken.next()).await {
                    continue;
                }
            }
            let mut clients = self.clients.borrow_mut();
            let now = now_ms();
            let mut gone = Vec::new();
            let mut outgoing = Vec::new();
            for (sid, live) in clients.by_sid.iter_mut() {
                if live.client.deadline().is_some_and(|at| at <= now) {
                    let actions = live.client.on_tick(now, &mut fresh_id);
                    if live.perform(actions).is_some() {
                        gone.push(sid.clone());
                    }
                    outgoing.append(&mut live.outgoing);
                }
            }
            for sid in gone {
                clients.by_sid.remove(&sid);
                clients.release_unless_socket_open(&sid);
            }
            if !outgoing.is_empty() {
                drop(clients);
                self.send_to_rooms(outgoing);
                clients = self.clients.borrow_mut();
            }
            let next = clients.by_sid.values().filter_map(|l| l.client.deadline()).min();
            match (next, &mut clients.timer) {
                (Some(next), Some((_, target))) => *target = next,
                _ => {
                    clients.timer = None;
                    return;
                }
            }
        }
    }
}

/// What a handshake opens a client with.
struct Opening {
    settings: Settings,
    kind: DialectKind,
    auth: Auth,
}

/// `waiting`'s outcome, or `None` when `signal` aborts first (the client that sent the request
/// went away).
async fn until_aborted<T>(signal: &AbortSignal, waiting: oneshot::Receiver<T>) -> Option<Result<T, oneshot::Canceled>> {
    if signal.aborted() {
        return None;
    }
    let (abort, aborted) = oneshot::channel::<()>();
    let abort = RefCell::new(Some(abort));
    let on_abort = Closure::<dyn FnMut()>::new(move || {
        if let Some(abort) = abort.borrow_mut().take() {
            let _ = abort.send(());
        }
    });
    signal.set_onabort(Some(on_abort.as_ref().unchecked_ref()));
    let outcome = match select(waiting, aborted).await {
        Either::Left((outcome, _)) => Some(outcome),
        Either::Right(_) => None,
    };
    // The handler must not outlive its closure.
    signal.set_onabort(None);
    outcome
}

fn unknown(sid: &str) -> Error {
    Error::new(ErrorCode::UnknownSession, format!("no session {sid:?} (it ended, or never existed)"))
}

fn text(status: u16, body: String) -> Result<Response, Error> {
    let response = Response::ok(body).map_err(internal)?.with_status(status);
    response.headers().set("content-type", "text/plain; charset=utf-8").map_err(internal)?;
    Ok(response)
}
