//! One Engine.IO session: handshake, HTTP long-polling, websocket, the upgrade between them,
//! heartbeat and close, as the Engine.IO v4 specification has them (linked from [`super`]).
//!
//! The shell owns the transports; this state machine decides what happens on each of them.
//! Inputs are `on_*` calls, each given `now` (ms); every call returns [`Output`]s, applied in
//! order. Application messages come out as [`Output::Message`] and go in through
//! [`Session::send`].
//!
//! | input                   | transport | what it does                                               |
//! |-------------------------|-----------|------------------------------------------------------------|
//! | [`Session::open`]       | either    | the handshake packet; the first ping is due one interval on |
//! | [`Session::on_poll`]    | polling   | answer now (buffered packets, `6` while upgrading), hold, or refuse |
//! | [`Session::on_post`]    | polling   | decode a payload; `ok`, or 400 and close on a bad one      |
//! | [`Session::on_upgrade_socket`] | websocket | a second transport for this session: probe it, or refuse |
//! | [`Session::on_frame`]   | websocket | one packet per frame                                       |
//! | [`Session::on_tick`]    | either    | send the ping that is due, or close when the pong is late  |

use super::packet::{decode_binary, decode_payload, decode_text, encode_payload, Frame, Packet, Payload};
use crate::backlog::Backlog;
use serde::{Deserialize, Serialize};

/// Heartbeat and size settings, sent to the client in the handshake (all but the last).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settings {
    pub ping_interval_ms: i64,
    pub ping_timeout_ms: i64,
    /// Largest polling payload and websocket frame either side may send, in bytes.
    pub max_payload: usize,
    /// Bytes sent to the client since its last sign of life (on websocket: any frame; over
    /// polling: what waits in the buffer for a GET) past which it is a slow consumer and the
    /// session ends ([`crate::backlog`]).
    #[serde(default = "default_backlog")]
    pub max_backlog_bytes: usize,
}

fn default_backlog() -> usize {
    crate::backlog::DEFAULT_MAX_BYTES
}

impl Default for Settings {
    /// The Engine.IO reference server's defaults, and Herald's slow-consumer bound.
    fn default() -> Self {
        Self {
            ping_interval_ms: 25_000,
            ping_timeout_ms: 20_000,
            max_payload: 1_000_000,
            max_backlog_bytes: default_backlog(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Transport {
    Polling,
    Websocket,
}

impl Transport {
    /// The `transport` query parameter's value.
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "polling" => Some(Self::Polling),
            "websocket" => Some(Self::Websocket),
            _ => None,
        }
    }
}

/// Why a session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseReason {
    /// The client sent `1`, or closed its websocket.
    ClientClose,
    /// No pong within the timeout after a ping.
    PingTimeout,
    /// Something the protocol forbids: a malformed packet, a second GET, an oversized payload.
    ProtocolViolation,
    /// The server ended it (the application asked).
    ServerClose,
    /// The client was sent more than the slow-consumer bound since its last sign of life.
    SlowConsumer,
}

/// What the shell must do, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Answer the held long-polling GET with this body (status 200).
    AnswerPoll(String),
    /// Answer the held long-polling GET with 400: the session moved to its websocket.
    RefusePoll,
    /// Send this frame on the session's websocket (the probing one during an upgrade).
    SendFrame(Frame),
    /// Close the session's websocket, if it has one.
    CloseSocket,
    /// A message from the client, for the application.
    Message(Payload),
    /// The session is over: forget it. Nothing more will come out of it.
    Closed(CloseReason),
}

/// How to answer a long-polling GET.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Poll {
    /// Answer now with this body.
    Now(String),
    /// Hold the request; an [`Output::AnswerPoll`] answers it later.
    Hold,
    /// Answer 400: the session cannot be polled (closed, or upgraded to websocket).
    Refuse,
}

/// How to answer a POST: `ok` (200) or 400. Other outputs come along either way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Post {
    Ok,
    BadRequest,
    TooLarge,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
enum State {
    /// Long-polling; `probing` once a websocket answered `2probe` and until `5` completes the
    /// upgrade.
    Polling {
        probing: bool,
        upgrade_socket: bool,
    },
    Websocket,
    Closed,
}

/// One session. Serializable so a websocket session survives the object's hibernation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    sid: String,
    settings: Settings,
    state: State,
    /// Packets for a polling client that no GET has taken yet.
    #[serde(skip)]
    buffer: Vec<Packet>,
    /// A long-polling GET is held open.
    #[serde(skip)]
    poll_held: bool,
    /// When the next ping is due; `None` while one waits for its pong.
    next_ping_at: Option<i64>,
    /// When the pong to the last ping is late.
    pong_due_at: Option<i64>,
    /// While probing: when a GET held since the probe is ended with a noop.
    #[serde(skip)]
    noop_at: Option<i64>,
    /// What the client was sent since its last sign of life (slow consumers).
    #[serde(skip)]
    backlog: Backlog,
    /// A websocket client was sent half the slow-consumer bound without a word: ping it now
    /// rather than at the next interval, so that one that is reading answers (a pong is a sign
    /// of life) before it reaches the bound.
    #[serde(skip)]
    probe: bool,
    /// The encoded size of what [`Session::buffer`] holds.
    #[serde(skip)]
    buffered: usize,
}

/// How long a GET that arrives during an upgrade is held before it is ended with a noop: the
/// `5` that completes the upgrade usually follows at once, and then the GET is refused, as it
/// would be had it come after the `5` (it raced it over another connection).
pub const PROBE_NOOP_DELAY_MS: i64 = 100;

impl Session {
    /// A new session on `transport`, and the handshake (`0{...}`) that opens it. Over polling
    /// the handshake is the first GET's answer; over websocket, the first frame.
    pub fn open(now: i64, sid: String, settings: Settings, transport: Transport) -> (Self, Packet) {
        // A websocket session has nothing to upgrade to (spec: Handshake, `upgrades`).
        let upgrades: &[&str] = match transport {
            Transport::Polling => &["websocket"],
            Transport::Websocket => &[],
        };
        let handshake = serde_json::json!({
            "sid": sid,
            "upgrades": upgrades,
            "pingInterval": settings.ping_interval_ms,
            "pingTimeout": settings.ping_timeout_ms,
            "maxPayload": settings.max_payload,
        });
        let state = match transport {
            Transport::Polling => State::Polling { probing: false, upgrade_socket: false },
            Transport::Websocket => State::Websocket,
        };
        let session = Self {
            sid,
            settings,
            state,
            buffer: Vec::new(),
            poll_held: false,
            next_ping_at: Some(now + settings.ping_interval_ms),
            pong_due_at: None,
            noop_at: None,
            backlog: Backlog::new(now),
            buffered: 0,
            probe: false,
        };
        (session, Packet::Open(handshake.to_string()))
    }

    pub fn sid(&self) -> &str {
        &self.sid
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    pub fn is_closed(&self) -> bool {
        self.state == State::Closed
    }

    /// Which transport carries packets to the client now.
    pub fn transport(&self) -> Transport {
        match self.state {
            State::Websocket => Transport::Websocket,
            _ => Transport::Polling,
        }
    }

    /// Whether a websocket for this session would be taken now ([`Session::on_upgrade_socket`]):
    /// a polling session that has none yet.
    pub fn takes_socket(&self) -> bool {
        self.state == State::Polling { probing: false, upgrade_socket: false }
    }

    /// Whether a websocket belongs to this session (its own, or the one probing an upgrade).
    pub fn has_socket(&self) -> bool {
        matches!(self.state, State::Websocket | State::Polling { upgrade_socket: true, .. })
    }

    /// The next time [`Session::on_tick`] has something to do.
    pub fn deadline(&self) -> Option<i64> {
        if self.is_closed() {
            return None;
        }
        // A probe is due at once: any time already past will do.
        let probe = self.probe.then(|| self.backlog.life_at());
        let heartbeat = self.pong_due_at.or(probe).or(self.next_ping_at);
        match (heartbeat, self.noop_at) {
            (Some(h), Some(n)) => Some(h.min(n)),
            (h, n) => h.or(n),
        }
    }

    /// Time passes: sends the ping that is due and closes the session when a pong is late.
    /// A ping counts as sent at its scheduled time, so a late tick (or a request that finds the
    /// session overdue) judges the client by the schedule it was told in the handshake.
    pub fn on_tick(&mut self, now: i64) -> Vec<Output> {
        let mut out = Vec::new();
        if self.is_closed() {
            return out;
        }
        if self.noop_at.is_some_and(|at| at <= now) {
            self.noop_at = None;
            if std::mem::take(&mut self.poll_held) {
                out.push(Output::AnswerPoll(encode_payload(&[Packet::Noop])));
            }
        }
        // The ping due by the schedule counts from its scheduled time; an early one (a probe)
        // from now.
        let ping_at = match self.next_ping_at.filter(|&at| at <= now) {
            Some(at) => Some(at),
            None => (std::mem::take(&mut self.probe) && self.pong_due_at.is_none()).then_some(now),
        };
        if let Some(at) = ping_at {
            self.next_ping_at = None;
            self.pong_due_at = Some(at + self.settings.ping_timeout_ms);
            out.extend(self.push(Packet::Ping(String::new())));
        }
        if self.pong_due_at.is_some_and(|due| due <= now) {
            out.extend(self.close(CloseReason::PingTimeout));
        }
        out.extend(self.flush());
        out
    }

    /// A long-polling GET arrived. `outputs` gets what else must happen (a duplicate GET ends
    /// the session, and the held one is answered with `1`).
    pub fn on_poll(&mut self, now: i64, outputs: &mut Vec<Output>) -> Poll {
        outputs.extend(self.on_tick(now));
        let poll = self.poll(now, outputs);
        // A GET is the polling client's sign of life; what it did not take still waits.
        self.backlog.waiting(now, self.buffered);
        poll
    }

    fn poll(&mut self, now: i64, outputs: &mut Vec<Output>) -> Poll {
        match self.state {
            State::Closed | State::Websocket => Poll::Refuse,
            State::Polling { .. } if self.poll_held => {
                // Spec, Receiving data: more than one active GET is an error that closes the
                // session; the held one learns it from a close packet.
                outputs.extend(self.close(CloseReason::ProtocolViolation));
                Poll::Refuse
            }
            // Spec, Upgrade: while a websocket is being probed, polling ends with a noop (after
            // a moment: see PROBE_NOOP_DELAY_MS).
            State::Polling { probing: true, .. } => {
                self.poll_held = true;
                self.noop_at = Some(now + PROBE_NOOP_DELAY_MS);
                Poll::Hold
            }
            State::Polling { .. } if !self.buffer.is_empty() => Poll::Now(self.drain()),
            State::Polling { .. } => {
                self.poll_held = true;
                Poll::Hold
            }
        }
    }

    /// A GET went away (the client abandoned it), and with it `unsent`, the answer made for
    /// it, if one was. Without an answer it was the held GET: the session no longer holds it,
    /// and what is buffered waits for the next one. An answer's packets go back to the front
    /// of the buffer, in order, for the next GET (one held already takes them at the next
    /// [`Session::flush`]). So an abandoned GET loses no packet. (The reference server closes
    /// the session instead, as it cannot tell whether an answer left; the shell calls this
    /// only when it knows one did not.)
    pub fn on_poll_abandoned(&mut self, unsent: Option<&str>) {
        if self.is_closed() {
            return;
        }
        let Some(packets) = unsent.and_then(|body| decode_payload(body).ok()) else {
            self.poll_held = false;
            self.noop_at = None;
            return;
        };
        // A noop (the answer of a GET held while probing) carries nothing to keep.
        let packets: Vec<Packet> = packets.into_iter().filter(|p| *p != Packet::Noop).collect();
        self.buffered += packets.iter().map(Packet::encoded_len).sum::<usize>();
        self.buffer.splice(0..0, packets);
    }

    /// A POST with a payload of packets.
    pub fn on_post(&mut self, now: i64, body: &str) -> (Post, Vec<Output>) {
        if body.len() > self.settings.max_payload {
            return self.on_oversize_post(now);
        }
        let mut out = self.on_tick(now);
        if !matches!(self.state, State::Polling { .. }) {
            return (Post::BadRequest, out);
        }
        let packets = match decode_payload(body) {
            Ok(packets) => packets,
            Err(_) => {
                out.extend(self.close(CloseReason::ProtocolViolation));
                return (Post::BadRequest, out);
            }
        };
        for packet in packets {
            out.extend(self.on_packet(now, packet));
            if self.is_closed() {
                break;
            }
        }
        (Post::Ok, out)
    }

    /// A POST whose payload is over `maxPayload` (the Worker refuses one unread and passes on
    /// only that it came): the packets in it are lost, so the session ends (413) and what
    /// follows is refused as for any closed session. To a session that is no longer polling it
    /// is a bad request like any POST, and leaves the session be.
    pub fn on_oversize_post(&mut self, now: i64) -> (Post, Vec<Output>) {
        let mut out = self.on_tick(now);
        if !matches!(self.state, State::Polling { .. }) {
            return (Post::BadRequest, out);
        }
        out.extend(self.close(CloseReason::ProtocolViolation));
        (Post::TooLarge, out)
    }

    /// A websocket opened for an existing session (`sid` in its query). The caller accepts it
    /// only when this is true; otherwise it closes the new socket at once and the session is
    /// untouched (spec: one websocket per session).
    pub fn on_upgrade_socket(&mut self, now: i64) -> (bool, Vec<Output>) {
        let out = self.on_tick(now);
        match self.state {
            State::Polling { probing: false, upgrade_socket: false } => {
                self.state = State::Polling { probing: false, upgrade_socket: true };
                (true, out)
            }
            _ => (false, out),
        }
    }

    /// A websocket frame from the session's socket (or the one probing an upgrade).
    pub fn on_frame(&mut self, now: i64, frame: Frame) -> Vec<Output> {
        // Any frame is the websocket client's sign of life (it reads its socket too), which
        // makes an early ping needless.
        if self.transport() == Transport::Websocket {
            self.backlog.alive(now);
            self.probe = false;
        }
        let mut out = self.on_tick(now);
        if self.is_closed() {
            return out;
        }
        let size = match &frame {
            Frame::Text(text) => text.len(),
            Frame::Binary(bytes) => bytes.len(),
        };
        if size > self.settings.max_payload {
            out.extend(self.close(CloseReason::ProtocolViolation));
            return out;
        }
        let packet = match frame {
            Frame::Text(text) => match decode_text(&text) {
                Ok(packet) => packet,
                Err(_) => {
                    out.extend(self.close(CloseReason::ProtocolViolation));
                    return out;
                }
            },
            Frame::Binary(bytes) => decode_binary(bytes),
        };
        if let State::Polling { probing, .. } = self.state {
            out.extend(self.on_probe_packet(probing, packet));
        } else {
            out.extend(self.on_packet(now, packet));
        }
        out
    }

    /// The session's websocket closed (or failed) under it.
    pub fn on_socket_closed(&mut self) -> Vec<Output> {
        match self.state {
            State::Websocket => {
                self.state = State::Closed;
                vec![Output::Closed(CloseReason::ClientClose)]
            }
            // A failed probe leaves the polling session as it was (spec: Upgrade).
            State::Polling { .. } => {
                self.state = State::Polling { probing: false, upgrade_socket: false };
                Vec::new()
            }
            State::Closed => Vec::new(),
        }
    }

    /// A message packet from the application to the client: a frame over websocket; over
    /// polling it waits in the buffer for a GET (see [`Session::flush`]).
    pub fn send(&mut self, payload: Payload) -> Vec<Output> {
        if self.is_closed() {
            return Vec::new();
        }
        self.push(Packet::Message(payload))
    }

    /// The application ends the session.
    pub fn close_by_server(&mut self) -> Vec<Output> {
        self.close(CloseReason::ServerClose)
    }

    /// Packets on the websocket that is probing an upgrade (spec: Upgrade): `2probe` is
    /// answered `3probe` and pending polling ends with a noop; `5` completes the upgrade and
    /// what was buffered for polling follows on the websocket.
    fn on_probe_packet(&mut self, probing: bool, packet: Packet) -> Vec<Output> {
        match packet {
            Packet::Ping(data) if data == "probe" && !probing => {
                self.state = State::Polling { probing: true, upgrade_socket: true };
                let mut out = vec![Output::SendFrame(Packet::Pong(data).to_frame())];
                if std::mem::take(&mut self.poll_held) {
                    out.push(Output::AnswerPoll(encode_payload(&[Packet::Noop])));
                }
                out
            }
            Packet::Upgrade if probing => {
                self.state = State::Websocket;
                self.noop_at = None;
                let mut out = Vec::new();
                if std::mem::take(&mut self.poll_held) {
                    out.push(Output::RefusePoll);
                }
                self.buffered = 0;
                out.extend(std::mem::take(&mut self.buffer).into_iter().map(|p| Output::SendFrame(p.to_frame())));
                out
            }
            // Anything else on a socket that has not finished its upgrade is a broken client.
            _ => self.close(CloseReason::ProtocolViolation),
        }
    }

    /// A packet from the client on the session's current transport.
    fn on_packet(&mut self, now: i64, packet: Packet) -> Vec<Output> {
        match packet {
            Packet::Message(payload) => vec![Output::Message(payload)],
            Packet::Pong(_) => {
                if self.pong_due_at.take().is_some() {
                    self.next_ping_at = Some(now + self.settings.ping_interval_ms);
                }
                Vec::new()
            }
            Packet::Close => self.close(CloseReason::ClientClose),
            Packet::Noop => Vec::new(),
            // Open and upgrade never come from a client on an open transport; a client ping
            // is an Engine.IO v3 habit the v4 server does not answer.
            Packet::Open(_) | Packet::Upgrade | Packet::Ping(_) => self.close(CloseReason::ProtocolViolation),
        }
    }

    /// Queues or sends a packet to the client on the current transport; past the
    /// slow-consumer bound, ends the session instead.
    fn push(&mut self, packet: Packet) -> Vec<Output> {
        let len = packet.encoded_len();
        let out = match self.state {
            State::Closed => return Vec::new(),
            State::Websocket => vec![Output::SendFrame(packet.to_frame())],
            State::Polling { .. } => {
                self.buffer.push(packet);
                self.buffered += len;
                Vec::new()
            }
        };
        let mut out = out;
        let bound = self.settings.max_backlog_bytes;
        // A held GET takes the buffer at the end of this event ([`Session::flush`]), which
        // judges what it leaves.
        // (Not while probing an upgrade: a GET held then waits for a noop, not the buffer.)
        let held = self.poll_held && matches!(self.state, State::Polling { probing: false, .. });
        if self.backlog.sent(len, bound) && !held {
            out.extend(self.close(CloseReason::SlowConsumer));
        } else if self.state == State::Websocket && self.backlog.bytes() > bound / 2 && self.pong_due_at.is_none() {
            self.probe = true;
        }
        out
    }

    /// The client asked for a replay (a room's log since a seq, at most one bound's worth by
    /// the configuration's rule): it does not count against the slow-consumer bound when it
    /// comes ([`Backlog::asked`]).
    pub fn expect_replay(&mut self) {
        let bound = self.settings.max_backlog_bytes;
        self.backlog.asked(bound, bound);
    }

    /// Answers the held GET with what is buffered, if both exist. Called once at the end of
    /// each event rather than per packet, so replies made together leave in one payload.
    pub fn flush(&mut self) -> Vec<Output> {
        // While probing, a held GET waits for its noop; the buffer goes to the websocket.
        if !matches!(self.state, State::Polling { probing: false, .. }) || self.buffer.is_empty() || !self.poll_held {
            return Vec::new();
        }
        self.poll_held = false;
        let answer = self.drain();
        self.backlog.waiting(self.backlog.life_at(), self.buffered);
        let mut out = vec![Output::AnswerPoll(answer)];
        if self.backlog.is_over(self.settings.max_backlog_bytes) {
            out.extend(self.close(CloseReason::SlowConsumer));
        }
        out
    }

    /// Takes as many buffered packets as fit in one payload of `max_payload` bytes (always at
    /// least one), in order.
    fn drain(&mut self) -> String {
        let mut size = 0;
        let mut count = 0;
        for packet in &self.buffer {
            let len = packet.encoded_len() + usize::from(count > 0);
            if count > 0 && size + len > self.settings.max_payload {
                break;
            }
            size += len;
            count += 1;
        }
        let taken: Vec<Packet> = self.buffer.drain(..count).collect();
        self.buffered = self.buffer.iter().map(Packet::encoded_len).sum();
        encode_payload(&taken)
    }

    /// Ends the session. A held GET is answered: with a noop when the client asked to close
    /// (it is waiting for nothing more), with a close packet otherwise.
    fn close(&mut self, reason: CloseReason) -> Vec<Output> {
        if self.is_closed() {
            return Vec::new();
        }
        let had_socket = self.has_socket();
        self.state = State::Closed;
        self.buffer.clear();
        self.buffered = 0;
        let mut out = Vec::new();
        if std::mem::take(&mut self.poll_held) {
            let last = if reason == CloseReason::ClientClose { Packet::Noop } else { Packet::Close };
            out.push(Output::AnswerPoll(encode_payload(&[last])));
        }
        if had_socket {
            out.push(Output::CloseSocket);
        }
        out.push(Output::Closed(reason));
        out
    }
}
