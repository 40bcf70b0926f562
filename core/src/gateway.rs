//! A Socket.IO (or plain Engine.IO) client as its home object holds it: the Engine.IO
//! [`Session`] below, the dialect's [`Endpoint`] above, and the loop between them.
//!
//! Each `on_*` call runs the session, hands every message it yields to the endpoint, feeds what
//! the endpoint sends back into the session, and returns the [`Action`]s left for the shell,
//! in order. The shell performs them and nothing else.

use crate::dialect::{Auth, DialectKind, Effect, Endpoint, RoomCommand, RoomEvent};
use crate::engineio::session::{CloseReason, Output, Poll, Post, Session, Settings, Transport};
use crate::engineio::{Frame, Packet};
use crate::ids::RoomId;

/// What the shell must do for a client, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Answer the held long-polling GET with this body.
    AnswerPoll(String),
    /// Answer the held long-polling GET with 400.
    RefusePoll,
    /// Send a frame on the client's websocket.
    SendFrame(Frame),
    /// Close the client's websocket.
    CloseSocket,
    /// Ask a room's object for something on this client's behalf (commands for one room keep
    /// their order).
    Room { room: RoomId, command: RoomCommand },
    /// The client is gone: forget it.
    Closed(CloseReason),
}

/// How long a Socket.IO client may stay without joining any namespace (the reference
/// server's `connectTimeout`): a client that answers pings but never sends CONNECT is closed.
pub const CONNECT_TIMEOUT_MS: i64 = 45_000;

#[derive(Debug)]
pub struct Client {
    session: Session,
    endpoint: Endpoint,
    /// Until the client first joins a namespace: when it is closed for not having done so.
    connect_by: Option<i64>,
}

impl Client {
    /// A new client on `transport`, and its handshake packet.
    pub fn open(
        now: i64,
        sid: String,
        settings: Settings,
        transport: Transport,
        kind: DialectKind,
        auth: Auth,
    ) -> (Self, Packet) {
        let (session, handshake) = Session::open(now, sid, settings, transport);
        let connect_by = kind.is_socketio().then_some(now + CONNECT_TIMEOUT_MS);
        (Self { session, endpoint: Endpoint::new(kind, auth), connect_by }, handshake)
    }

    pub fn session(&self) -> &Session {
        &self.session
    }

    /// Whether a websocket for this client's session would be taken now.
    pub fn takes_socket(&self) -> bool {
        self.session.takes_socket()
    }

    /// When [`Client::on_tick`] has something to do next.
    pub fn deadline(&self) -> Option<i64> {
        if self.session.is_closed() {
            return None;
        }
        [self.session.deadline(), self.connect_by, self.endpoint.deadline()].into_iter().flatten().min()
    }

    pub fn on_tick(&mut self, now: i64, fresh_id: &mut dyn FnMut() -> String) -> Vec<Action> {
        let mut outputs = self.session.on_tick(now);
        if self.connect_by.is_some_and(|at| at <= now) {
            self.connect_by = None;
            outputs.extend(self.session.close_by_server());
        }
        let mut actions = Vec::new();
        if !self.session.is_closed() {
            let effects = self.endpoint.on_tick(now);
            outputs.extend(self.perform(effects, &mut actions));
        }
        self.settle_into(now, outputs, fresh_id, actions)
    }

    pub fn on_poll(&mut self, now: i64, fresh_id: &mut dyn FnMut() -> String) -> (Poll, Vec<Action>) {
        let mut outputs = Vec::new();
        let poll = self.session.on_poll(now, &mut outputs);
        (poll, self.settle(now, outputs, fresh_id))
    }

    /// A GET went away with `unsent`, the answer made for it if one was
    /// ([`crate::engineio::session::Session::on_poll_abandoned`]); a GET held since takes it.
    pub fn on_poll_abandoned(
        &mut self,
        now: i64,
        unsent: Option<&str>,
        fresh_id: &mut dyn FnMut() -> String,
    ) -> Vec<Action> {
        self.session.on_poll_abandoned(unsent);
        self.settle(now, Vec::new(), fresh_id)
    }

    pub fn on_post(&mut self, now: i64, body: &str, fresh_id: &mut dyn FnMut() -> String) -> (Post, Vec<Action>) {
        let (post, outputs) = self.session.on_post(now, body);
        (post, self.settle(now, outputs, fresh_id))
    }

    /// A POST over `maxPayload` that the Worker refused unread.
    pub fn on_oversize_post(&mut self, now: i64, fresh_id: &mut dyn FnMut() -> String) -> (Post, Vec<Action>) {
        let (post, outputs) = self.session.on_oversize_post(now);
        (post, self.settle(now, outputs, fresh_id))
    }

    /// A websocket for this client's session arrived; accept it only when the first is true.
    pub fn on_upgrade_socket(&mut self, now: i64, fresh_id: &mut dyn FnMut() -> String) -> (bool, Vec<Action>) {
        let (accepted, outputs) = self.session.on_upgrade_socket(now);
        (accepted, self.settle(now, outputs, fresh_id))
    }

    pub fn on_frame(&mut self, now: i64, frame: Frame, fresh_id: &mut dyn FnMut() -> String) -> Vec<Action> {
        let outputs = self.session.on_frame(now, frame);
        self.settle(now, outputs, fresh_id)
    }

    pub fn on_socket_closed(&mut self, now: i64, fresh_id: &mut dyn FnMut() -> String) -> Vec<Action> {
        let outputs = self.session.on_socket_closed();
        self.settle(now, outputs, fresh_id)
    }

    /// Something from `room` for this client; `None` when the client is not a member there.
    pub fn on_room(
        &mut self,
        now: i64,
        room: &RoomId,
        event: RoomEvent<'_>,
        fresh_id: &mut dyn FnMut() -> String,
    ) -> Option<Vec<Action>> {
        let effects = self.endpoint.on_room(room, event, now)?;
        let mut actions = Vec::new();
        let outputs = self.perform(effects, &mut actions);
        Some(self.settle_into(now, outputs, fresh_id, actions))
    }

    /// Runs the session's outputs through the endpoint until only transport work is left.
    fn settle(&mut self, now: i64, outputs: Vec<Output>, fresh_id: &mut dyn FnMut() -> String) -> Vec<Action> {
        self.settle_into(now, outputs, fresh_id, Vec::new())
    }

    /// The endpoint's effects: room commands become actions, the rest session outputs.
    fn perform(&mut self, effects: Vec<Effect>, actions: &mut Vec<Action>) -> Vec<Output> {
        let mut outputs = Vec::new();
        for effect in effects {
            match effect {
                Effect::Send(payload) => outputs.extend(self.session.send(payload)),
                Effect::Close => outputs.extend(self.session.close_by_server()),
                Effect::Room { room, command } => {
                    // A join that resumes asks the room for its log since a seq: the replay
                    // that comes back was asked for, and is not a slow consumer's backlog.
                    if matches!(command, RoomCommand::Join { since: Some(_), .. }) {
                        self.session.expect_replay();
                    }
                    actions.push(Action::Room { room, command });
                }
            }
        }
        outputs
    }

    fn settle_into(
        &mut self,
        now: i64,
        outputs: Vec<Output>,
        fresh_id: &mut dyn FnMut() -> String,
        mut actions: Vec<Action>,
    ) -> Vec<Action> {
        let mut pending: std::collections::VecDeque<Output> = outputs.into();
        // Everything this event produced for a polling client leaves in one answer, made once
        // the event is done (`flush`), which may end the session in turn (a slow consumer).
        loop {
            let Some(output) = pending.pop_front() else {
                let flushed = self.session.flush();
                if flushed.is_empty() {
                    break;
                }
                pending.extend(flushed);
                continue;
            };
            match output {
                Output::AnswerPoll(body) => actions.push(Action::AnswerPoll(body)),
                Output::RefusePoll => actions.push(Action::RefusePoll),
                Output::SendFrame(frame) => actions.push(Action::SendFrame(frame)),
                Output::CloseSocket => actions.push(Action::CloseSocket),
                Output::Closed(reason) => {
                    // The rooms the client joined are left before it is forgotten.
                    let leaves = self.endpoint.on_closed();
                    let more = self.perform(leaves, &mut actions);
                    pending.extend(more);
                    actions.push(Action::Closed(reason));
                }
                Output::Message(payload) => {
                    let effects = self.endpoint.on_message(payload, now, fresh_id);
                    let more = self.perform(effects, &mut actions);
                    pending.extend(more);
                }
            }
        }
        if self.endpoint.has_joined() {
            self.connect_by = None;
        }
        actions
    }
}
