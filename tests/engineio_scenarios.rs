//! Engine.IO v4 sessions and the Socket.IO echo gateway under scenarios: the handshake,
//! long-polling (held GETs, payloads, POSTs), the heartbeat, the upgrade to websocket and how
//! each broken client is closed; then [`Client`] with the `engine-echo` and `echo` dialects,
//! fed frames as the official conformance suites send them (socket.io repository,
//! `docs/engine.io-protocol/v4-test-suite/`, `docs/socket.io-protocol/v5-test-suite/`).

use herald_core::dialect::DialectKind;
use herald_core::engineio::session::{
    CloseReason, Output, Poll, Post, Session, Settings, Transport, PROBE_NOOP_DELAY_MS,
};
use herald_core::engineio::{Frame, Packet, Payload};
use herald_core::gateway::{Action, Client};
use herald_tests::{no_handshake_auth, T0};
use serde_json::{json, Value};

/// The conformance suites' settings: a ping every 300 ms, 200 ms to answer it.
const INTERVAL: i64 = 300;
const TIMEOUT: i64 = 200;

fn settings() -> Settings {
    Settings { ping_interval_ms: INTERVAL, ping_timeout_ms: TIMEOUT, max_payload: 1_000_000, ..Settings::default() }
}

fn open_with(settings: Settings, transport: Transport) -> Session {
    Session::open(T0, "sid-1".into(), settings, transport).0
}

fn open(transport: Transport) -> Session {
    open_with(settings(), transport)
}

fn text(frame: &str) -> Frame {
    Frame::Text(frame.to_owned())
}

/// A text message from the client, as the application receives it.
fn received(data: &str) -> Output {
    Output::Message(Payload::Text(data.to_owned()))
}

fn message(data: &str) -> Payload {
    Payload::Text(data.to_owned())
}

fn answer(body: &str) -> Output {
    Output::AnswerPoll(body.to_owned())
}

/// A GET answered at once with `body`.
fn right_away(body: &str) -> Poll {
    Poll::Now(body.to_owned())
}

/// A long-polling GET at `now`: how it is answered, and what else it caused.
fn get(session: &mut Session, now: i64) -> (Poll, Vec<Output>) {
    let mut outputs = Vec::new();
    let poll = session.on_poll(now, &mut outputs);
    (poll, outputs)
}

/// What a session ended by a protocol violation on its (probing) websocket puts out.
fn violation_on_socket() -> Vec<Output> {
    vec![Output::CloseSocket, Output::Closed(CloseReason::ProtocolViolation)]
}

/// A polling session whose websocket answered `2probe` with `3probe`, before `5`.
fn probing() -> Session {
    let mut session = open(Transport::Polling);
    assert_eq!(session.on_upgrade_socket(T0), (true, vec![]));
    assert_eq!(session.on_frame(T0, text("2probe")), vec![Output::SendFrame(text("3probe"))]);
    session
}

/// A polling session upgraded to websocket.
fn upgraded() -> Session {
    let mut session = probing();
    assert_eq!(session.on_frame(T0, text("5")), vec![]);
    session
}

#[test]
fn the_polling_handshake_states_exactly_the_five_fields_and_offers_websocket() {
    let (session, handshake) = Session::open(T0, "sid-1".into(), settings(), Transport::Polling);
    let Packet::Open(data) = handshake else { panic!("not an open packet: {handshake:?}") };
    let fields: Value = serde_json::from_str(&data).unwrap();
    let expected = json!({
        "sid": "sid-1", "upgrades": ["websocket"], "pingInterval": 300, "pingTimeout": 200, "maxPayload": 1_000_000
    });
    assert_eq!(fields, expected);
    assert_eq!(session.transport(), Transport::Polling);
}

#[test]
fn the_websocket_handshake_offers_no_upgrade() {
    let (session, handshake) = Session::open(T0, "sid-1".into(), settings(), Transport::Websocket);
    let Packet::Open(data) = handshake else { panic!("not an open packet: {handshake:?}") };
    let fields: Value = serde_json::from_str(&data).unwrap();
    assert_eq!(fields["upgrades"], json!([]));
    assert_eq!(fields["sid"], "sid-1");
    assert_eq!(session.transport(), Transport::Websocket);
}

#[test]
fn a_get_with_nothing_buffered_is_held_and_answered_when_a_message_is_sent() {
    let mut session = open(Transport::Polling);
    assert_eq!(get(&mut session, T0 + 1), (Poll::Hold, vec![]));
    assert_eq!(session.send(message("hello")), vec![], "sends are buffered until the event ends");
    assert_eq!(session.flush(), vec![answer("4hello")]);
    assert_eq!(get(&mut session, T0 + 2), (Poll::Hold, vec![]), "the answered GET is no longer held");
}

#[test]
fn buffered_packets_are_joined_and_a_payload_stops_at_max_payload_the_rest_following_in_order() {
    // "4aaaa" and "4bbbb" joined are 11 bytes; a third packet would not fit.
    let mut session = open_with(Settings { max_payload: 11, ..settings() }, Transport::Polling);
    for data in ["aaaa", "bbbb", "cccc"] {
        assert_eq!(session.send(message(data)), vec![]);
    }
    session.send(Payload::Binary(vec![1, 2, 3]));
    assert_eq!(get(&mut session, T0).0, right_away("4aaaa\x1e4bbbb"));
    assert_eq!(get(&mut session, T0).0, right_away("4cccc\x1ebAQID"));
    assert_eq!(get(&mut session, T0).0, Poll::Hold);
}

#[test]
fn a_post_is_ok_and_yields_its_messages_in_order() {
    let mut session = open(Transport::Polling);
    let (post, outputs) = session.on_post(T0, "4one\x1e4two\x1ebAQIDBA==\x1e4three");
    assert_eq!(post, Post::Ok);
    let binary = Output::Message(Payload::Binary(vec![1, 2, 3, 4]));
    assert_eq!(outputs, vec![received("one"), received("two"), binary, received("three")]);
}

#[test]
fn the_first_ping_goes_at_exactly_one_interval_and_a_pong_schedules_the_next_an_interval_later() {
    let mut session = open(Transport::Polling);
    assert_eq!(session.deadline(), Some(T0 + INTERVAL));
    assert_eq!(get(&mut session, T0 + INTERVAL - 1), (Poll::Hold, vec![]));
    assert_eq!(session.on_tick(T0 + INTERVAL - 1), vec![]);
    assert_eq!(session.on_tick(T0 + INTERVAL), vec![answer("2")]);
    assert_eq!(session.deadline(), Some(T0 + INTERVAL + TIMEOUT));

    // The pong comes 50 ms after the ping: the next ping is an interval after the pong.
    let pong_at = T0 + INTERVAL + 50;
    assert_eq!(session.on_post(pong_at, "3"), (Post::Ok, vec![]));
    assert_eq!(session.deadline(), Some(pong_at + INTERVAL));
    assert_eq!(get(&mut session, pong_at + INTERVAL - 1), (Poll::Hold, vec![]));
    assert_eq!(session.on_tick(pong_at + INTERVAL), vec![answer("2")]);
}

#[test]
fn no_pong_within_the_timeout_closes_the_session_and_answers_the_held_get_with_close() {
    let mut session = open(Transport::Polling);
    assert_eq!(get(&mut session, T0 + INTERVAL).0, right_away("2"));
    assert_eq!(get(&mut session, T0 + INTERVAL + 1).0, Poll::Hold);
    assert_eq!(session.on_tick(T0 + INTERVAL + TIMEOUT - 1), vec![]);
    let timeout = session.on_tick(T0 + INTERVAL + TIMEOUT);
    assert_eq!(timeout, vec![answer("1"), Output::Closed(CloseReason::PingTimeout)]);
    assert!(session.is_closed());
    assert_eq!(session.deadline(), None);
}

#[test]
fn an_overdue_session_first_seen_by_a_get_is_closed_and_the_get_refused_not_given_a_ping() {
    let mut just_in_time = open(Transport::Polling);
    assert_eq!(get(&mut just_in_time, T0 + INTERVAL + TIMEOUT - 1).0, right_away("2"));

    let mut overdue = open(Transport::Polling);
    let (poll, outputs) = get(&mut overdue, T0 + INTERVAL + TIMEOUT);
    assert_eq!(poll, Poll::Refuse);
    assert_eq!(outputs, vec![Output::Closed(CloseReason::PingTimeout)]);
}

#[test]
fn a_pong_posted_after_its_deadline_does_not_save_the_session() {
    let mut session = open(Transport::Polling);
    assert_eq!(get(&mut session, T0 + INTERVAL).0, right_away("2"));
    let (post, outputs) = session.on_post(T0 + INTERVAL + TIMEOUT, "3");
    assert_eq!(post, Post::BadRequest);
    assert_eq!(outputs, vec![Output::Closed(CloseReason::PingTimeout)]);
}

#[test]
fn a_second_get_is_refused_the_held_one_answered_with_close_and_the_session_closed() {
    let mut session = open(Transport::Polling);
    assert_eq!(get(&mut session, T0).0, Poll::Hold);
    let (poll, outputs) = get(&mut session, T0 + 5);
    assert_eq!(poll, Poll::Refuse);
    assert_eq!(outputs, vec![answer("1"), Output::Closed(CloseReason::ProtocolViolation)]);
    assert_eq!(get(&mut session, T0 + 10), (Poll::Refuse, vec![]));
}

#[test]
fn an_abandoned_get_loses_nothing_what_comes_after_waits_for_the_next_get() {
    let mut session = open(Transport::Polling);
    assert_eq!(get(&mut session, T0).0, Poll::Hold);
    session.on_poll_abandoned(None);
    assert_eq!(session.send(message("after")), vec![]);
    assert_eq!(session.flush(), vec![], "no GET is held: it waits in the buffer");
    assert_eq!(get(&mut session, T0 + 5), (right_away("4after"), vec![]));
}

#[test]
fn an_answer_that_never_left_goes_back_in_front_of_the_buffer_in_order() {
    let mut session = open(Transport::Polling);
    assert_eq!(get(&mut session, T0).0, Poll::Hold);
    session.send(message("a"));
    session.send(Payload::Binary(vec![1, 2]));
    let unsent = "4a\x1ebAQI=";
    assert_eq!(session.flush(), vec![answer(unsent)]);
    session.send(message("c"));
    session.on_poll_abandoned(Some(unsent));
    assert_eq!(get(&mut session, T0 + 5), (right_away("4a\x1ebAQI=\x1e4c"), vec![]));
    // Held again, then abandoned while nothing was made for it: nothing changes but the hold.
    assert_eq!(get(&mut session, T0 + 6).0, Poll::Hold);
    session.on_poll_abandoned(None);
    session.send(message("d"));
    assert_eq!(get(&mut session, T0 + 7), (right_away("4d"), vec![]));
}

#[test]
fn a_get_abandoned_while_probing_an_upgrade_gets_no_noop_and_the_upgrade_takes_the_buffer() {
    let mut session = probing();
    assert_eq!(get(&mut session, T0).0, Poll::Hold);
    session.on_poll_abandoned(None);
    assert_eq!(session.on_tick(T0 + PROBE_NOOP_DELAY_MS), vec![], "no GET left to end with a noop");
    // The noop made for a GET held while probing is not kept when it does not leave.
    assert_eq!(get(&mut session, T0 + PROBE_NOOP_DELAY_MS).0, Poll::Hold);
    assert_eq!(session.on_tick(T0 + 2 * PROBE_NOOP_DELAY_MS), vec![answer("6")]);
    session.on_poll_abandoned(Some("6"));
    session.send(message("m"));
    assert_eq!(session.on_frame(T0, text("5")), vec![Output::SendFrame(text("4m"))]);
}

#[test]
fn a_closed_session_takes_nothing_back() {
    let mut session = open(Transport::Polling);
    assert_eq!(get(&mut session, T0).0, Poll::Hold);
    session.close_by_server();
    session.on_poll_abandoned(Some("4lost"));
    assert_eq!(get(&mut session, T0 + 5), (Poll::Refuse, vec![]));
}

#[test]
fn a_malformed_post_is_a_bad_request_that_delivers_nothing_and_closes_the_session() {
    let mut session = open(Transport::Polling);
    assert_eq!(get(&mut session, T0).0, Poll::Hold);
    let (post, outputs) = session.on_post(T0, "4fine\x1eabc");
    assert_eq!(post, Post::BadRequest);
    assert_eq!(outputs, vec![answer("1"), Output::Closed(CloseReason::ProtocolViolation)]);
    assert_eq!(get(&mut session, T0 + 5), (Poll::Refuse, vec![]));
}

#[test]
fn a_post_over_max_payload_is_too_large_and_closes_the_session_one_at_the_limit_is_ok() {
    let limited = Settings { max_payload: 10, ..settings() };
    let mut at_limit = open_with(limited, Transport::Polling);
    assert_eq!(at_limit.on_post(T0, "4123456789"), (Post::Ok, vec![received("123456789")]));

    let mut over = open_with(limited, Transport::Polling);
    let (post, outputs) = over.on_post(T0, "41234567890");
    assert_eq!(post, Post::TooLarge);
    assert_eq!(outputs, vec![Output::Closed(CloseReason::ProtocolViolation)]);
    assert!(over.is_closed());
}

#[test]
fn a_post_refused_unread_for_its_size_ends_the_session_and_its_held_get_and_refuses_what_follows() {
    let mut session = open(Transport::Polling);
    assert_eq!(get(&mut session, T0).0, Poll::Hold);
    let (post, outputs) = session.on_oversize_post(T0 + 1);
    assert_eq!(post, Post::TooLarge);
    assert_eq!(outputs, vec![answer("1"), Output::Closed(CloseReason::ProtocolViolation)]);
    assert!(session.is_closed());
    assert_eq!(get(&mut session, T0 + 2), (Poll::Refuse, vec![]));
}

#[test]
fn a_post_over_max_payload_to_a_session_on_its_websocket_is_a_bad_request_that_leaves_it_open() {
    let mut session = open(Transport::Websocket);
    assert_eq!(session.on_oversize_post(T0 + 1), (Post::BadRequest, vec![]));
    assert!(!session.is_closed());
    assert_eq!(session.on_frame(T0 + 2, text("4still here")), vec![received("still here")]);
}

#[test]
fn a_close_packet_from_the_client_answers_the_held_get_with_a_noop_and_ends_the_session() {
    let mut session = open(Transport::Polling);
    assert_eq!(get(&mut session, T0).0, Poll::Hold);
    let (post, outputs) = session.on_post(T0 + 1, "1");
    assert_eq!(post, Post::Ok);
    assert_eq!(outputs, vec![answer("6"), Output::Closed(CloseReason::ClientClose)]);
    assert_eq!(get(&mut session, T0 + 2), (Poll::Refuse, vec![]));
}

#[test]
fn one_upgrade_socket_is_accepted_and_a_second_refused_without_disturbing_the_first() {
    let mut session = open(Transport::Polling);
    assert_eq!(session.on_upgrade_socket(T0), (true, vec![]));
    assert!(session.has_socket());
    assert_eq!(session.on_upgrade_socket(T0 + 1), (false, vec![]));
    assert_eq!(session.on_frame(T0 + 2, text("2probe")), vec![Output::SendFrame(text("3probe"))]);
    assert_eq!(session.on_frame(T0 + 3, text("5")), vec![]);
    assert_eq!(session.transport(), Transport::Websocket);

    let mut websocket = open(Transport::Websocket);
    assert_eq!(websocket.on_upgrade_socket(T0), (false, vec![]));
}

#[test]
fn a_probe_is_answered_and_ends_the_held_get_with_a_noop() {
    let mut session = open(Transport::Polling);
    assert_eq!(get(&mut session, T0).0, Poll::Hold);
    assert_eq!(session.on_upgrade_socket(T0 + 1), (true, vec![]));
    let outputs = session.on_frame(T0 + 2, text("2probe"));
    assert_eq!(outputs, vec![Output::SendFrame(text("3probe")), answer("6")]);
}

#[test]
fn a_get_during_probing_is_held_then_ended_with_a_noop_after_the_probe_delay() {
    let mut session = probing();
    let at = T0 + 10;
    assert_eq!(get(&mut session, at), (Poll::Hold, vec![]));
    assert_eq!(session.deadline(), Some(at + PROBE_NOOP_DELAY_MS));
    assert_eq!(session.on_tick(at + PROBE_NOOP_DELAY_MS - 1), vec![]);
    assert_eq!(session.on_tick(at + PROBE_NOOP_DELAY_MS), vec![answer("6")]);
    assert_eq!(session.deadline(), Some(T0 + INTERVAL));
}

#[test]
fn upgrade_refuses_the_get_held_meanwhile_and_flushes_what_polling_had_buffered_in_order() {
    let mut session = open(Transport::Polling);
    for data in ["a", "b"] {
        assert_eq!(session.send(message(data)), vec![]);
    }
    assert_eq!(session.on_upgrade_socket(T0), (true, vec![]));
    assert_eq!(session.on_frame(T0, text("2probe")), vec![Output::SendFrame(text("3probe"))]);
    assert_eq!(get(&mut session, T0 + 1), (Poll::Hold, vec![]), "a GET during probing gets no packets");
    let outputs = session.on_frame(T0 + 2, text("5"));
    assert_eq!(outputs, vec![Output::RefusePoll, Output::SendFrame(text("4a")), Output::SendFrame(text("4b"))]);
    assert_eq!(session.transport(), Transport::Websocket);
    assert_eq!(session.send(message("c")), vec![Output::SendFrame(text("4c"))]);
    assert_eq!(session.on_tick(T0 + 1 + PROBE_NOOP_DELAY_MS), vec![], "no noop is left pending");
}

#[test]
fn after_the_upgrade_polling_is_refused_and_the_websocket_carries_everything() {
    let mut session = upgraded();
    assert_eq!(get(&mut session, T0 + 1), (Poll::Refuse, vec![]));
    assert_eq!(session.on_post(T0 + 1, "4late"), (Post::BadRequest, vec![]));
    assert!(!session.is_closed(), "a stray POST does not end an upgraded session");
    assert_eq!(session.on_frame(T0 + 2, text("4hello")), vec![received("hello")]);
    assert_eq!(session.on_tick(T0 + INTERVAL), vec![Output::SendFrame(text("2"))]);
}

#[test]
fn anything_but_probe_then_upgrade_on_the_probing_socket_closes_the_session() {
    let before_probe = [text("4hello"), text("5"), text("3"), Frame::Binary(vec![1])];
    for frame in before_probe {
        let mut session = open(Transport::Polling);
        session.on_upgrade_socket(T0);
        assert_eq!(session.on_frame(T0, frame.clone()), violation_on_socket(), "{frame:?} before 2probe");
    }
    for frame in [text("2probe"), text("4hello"), text("1")] {
        let mut session = probing();
        assert_eq!(session.on_frame(T0, frame.clone()), violation_on_socket(), "{frame:?} after 2probe");
    }
}

#[test]
fn a_failed_probe_leaves_polling_working_and_allows_another_upgrade() {
    let mut session = probing();
    assert_eq!(session.on_socket_closed(), vec![]);
    assert!(!session.has_socket());
    assert_eq!(session.transport(), Transport::Polling);
    assert_eq!(get(&mut session, T0 + 1), (Poll::Hold, vec![]));
    assert_eq!(session.send(message("still here")), vec![]);
    assert_eq!(session.flush(), vec![answer("4still here")]);
    assert_eq!(session.on_post(T0 + 2, "4up"), (Post::Ok, vec![received("up")]));
    assert_eq!(session.on_upgrade_socket(T0 + 3), (true, vec![]));
}

#[test]
fn a_websocket_frame_over_max_payload_closes_the_session_one_at_the_limit_is_delivered() {
    let limited = Settings { max_payload: 10, ..settings() };
    let mut session = open_with(limited, Transport::Websocket);
    assert_eq!(session.on_frame(T0, text("4123456789")), vec![received("123456789")]);
    assert_eq!(session.on_frame(T0, Frame::Binary(vec![0; 10])), vec![Output::Message(Payload::Binary(vec![0; 10]))]);
    assert_eq!(session.on_frame(T0, Frame::Binary(vec![0; 11])), violation_on_socket());

    let mut text_over = open_with(limited, Transport::Websocket);
    assert_eq!(text_over.on_frame(T0, text("41234567890")), violation_on_socket());
}

#[test]
fn an_invalid_text_frame_closes_a_websocket_session() {
    for frame in ["abc", "", "1x", "bAQID"] {
        let mut session = open(Transport::Websocket);
        assert_eq!(session.on_frame(T0, text(frame)), violation_on_socket(), "{frame:?}");
    }
}

#[test]
fn a_ping_from_the_client_is_the_wrong_heartbeat_direction_and_closes_the_session() {
    // Engine.IO v4 reversed the heartbeat: only the server pings (spec: History, v3 to v4).
    let mut websocket = open(Transport::Websocket);
    assert_eq!(websocket.on_frame(T0, text("2")), violation_on_socket());
    let mut polling = open(Transport::Polling);
    let (post, outputs) = polling.on_post(T0, "2");
    assert_eq!((post, outputs), (Post::Ok, vec![Output::Closed(CloseReason::ProtocolViolation)]));
}

#[test]
fn a_binary_frame_is_a_binary_message() {
    let mut session = open(Transport::Websocket);
    let outputs = session.on_frame(T0, Frame::Binary(vec![1, 2, 3, 4]));
    assert_eq!(outputs, vec![Output::Message(Payload::Binary(vec![1, 2, 3, 4]))]);
    assert_eq!(session.send(Payload::Binary(vec![5])), vec![Output::SendFrame(Frame::Binary(vec![5]))]);
}

#[test]
fn a_websocket_session_pings_on_its_socket_and_closes_it_when_the_pong_is_late() {
    let mut session = open(Transport::Websocket);
    assert_eq!(session.on_tick(T0 + INTERVAL), vec![Output::SendFrame(text("2"))]);
    assert_eq!(session.on_frame(T0 + INTERVAL + 10, text("3")), vec![]);
    let second_ping = T0 + 2 * INTERVAL + 10;
    assert_eq!(session.on_tick(second_ping), vec![Output::SendFrame(text("2"))]);
    let late = session.on_tick(second_ping + TIMEOUT);
    assert_eq!(late, vec![Output::CloseSocket, Output::Closed(CloseReason::PingTimeout)]);
}

#[test]
fn a_closed_websocket_ends_its_session_as_a_client_close_and_nothing_comes_after() {
    let mut session = open(Transport::Websocket);
    assert_eq!(session.on_socket_closed(), vec![Output::Closed(CloseReason::ClientClose)]);
    assert!(session.is_closed());
    assert_eq!(session.send(message("too late")), vec![]);
    assert_eq!(session.on_tick(T0 + 10 * INTERVAL), vec![]);
    assert_eq!(session.on_socket_closed(), vec![]);
}

// The gateway: a session and a dialect endpoint, fed what the conformance suites send.

/// One client of the gateway over a fake clock, with socket ids `socket-1`, `socket-2`, ….
struct Peer {
    client: Client,
    now: i64,
    ids: Box<dyn FnMut() -> String>,
}

impl Peer {
    fn open(transport: Transport, kind: DialectKind) -> Self {
        let (client, _) = Client::open(T0, "sid-1".into(), settings(), transport, kind, no_handshake_auth());
        let mut count = 0;
        let ids = Box::new(move || {
            count += 1;
            format!("socket-{count}")
        });
        Self { client, now: T0 + 1, ids }
    }

    /// A Socket.IO echo client over websocket, connected to `/`, its greeting read.
    fn connected() -> Self {
        let mut peer = Self::open(Transport::Websocket, DialectKind::Echo);
        assert_eq!(peer.text("40").len(), 2);
        peer
    }

    fn text(&mut self, frame: &str) -> Vec<Action> {
        self.client.on_frame(self.now, text(frame), &mut *self.ids)
    }

    fn binary(&mut self, bytes: &[u8]) -> Vec<Action> {
        self.client.on_frame(self.now, Frame::Binary(bytes.to_vec()), &mut *self.ids)
    }

    fn post(&mut self, body: &str) -> (Post, Vec<Action>) {
        self.client.on_post(self.now, body, &mut *self.ids)
    }

    fn get(&mut self) -> (Poll, Vec<Action>) {
        self.client.on_poll(self.now, &mut *self.ids)
    }
}

fn sent(frame: &str) -> Action {
    Action::SendFrame(text(frame))
}

fn sent_binary(bytes: &[u8]) -> Action {
    Action::SendFrame(Frame::Binary(bytes.to_vec()))
}

fn closed_by_server() -> Vec<Action> {
    vec![Action::CloseSocket, Action::Closed(CloseReason::ServerClose)]
}

#[test]
fn a_polling_client_whose_held_get_leaves_more_than_the_bound_is_closed_and_forgotten() {
    // The CONNECT's two answers (20 and 13 bytes) in one event, a GET held that takes at most
    // 20 bytes, and a bound of 10.
    let tight = Settings { max_payload: 20, max_backlog_bytes: 10, ping_interval_ms: 600_000, ..settings() };
    let (client, _) =
        Client::open(T0, "sid-1".into(), tight, Transport::Polling, DialectKind::Echo, no_handshake_auth());
    let mut peer = Peer { client, now: T0 + 1, ids: Box::new(|| "socket-1".into()) };
    assert_eq!(peer.get().0, Poll::Hold);
    let (post, actions) = peer.post("40");
    assert_eq!(post, Post::Ok);
    assert_eq!(
        actions,
        vec![Action::AnswerPoll(r#"40{"sid":"socket-1"}"#.into()), Action::Closed(CloseReason::SlowConsumer)],
        "13 bytes wait past the bound: the session ends, and its home is told to forget it"
    );
}

#[test]
fn engine_echo_sends_text_and_binary_messages_back_as_they_came() {
    let mut peer = Peer::open(Transport::Websocket, DialectKind::EngineEcho);
    assert_eq!(peer.text("4hello"), vec![sent("4hello")]);
    assert_eq!(peer.binary(&[1, 2, 3, 4]), vec![sent_binary(&[1, 2, 3, 4])]);
}

#[test]
fn engine_echo_over_polling_answers_a_post_on_the_next_get() {
    let mut peer = Peer::open(Transport::Polling, DialectKind::EngineEcho);
    assert_eq!(peer.post("4hello\x1ebAQIDBA=="), (Post::Ok, vec![]));
    assert_eq!(peer.get(), (right_away("4hello\x1ebAQIDBA=="), vec![]));
}

#[test]
fn connecting_to_the_main_namespace_gives_a_socket_id_then_emits_auth_with_an_empty_object() {
    let mut peer = Peer::open(Transport::Websocket, DialectKind::Echo);
    assert_eq!(peer.text("40"), vec![sent(r#"40{"sid":"socket-1"}"#), sent(r#"42["auth",{}]"#)]);
}

#[test]
fn the_connect_payload_is_echoed_in_the_auth_event() {
    let mut peer = Peer::open(Transport::Websocket, DialectKind::Echo);
    let actions = peer.text(r#"40{"token":"123"}"#);
    assert_eq!(actions, vec![sent(r#"40{"sid":"socket-1"}"#), sent(r#"42["auth",{"token":"123"}]"#)]);
}

#[test]
fn the_custom_namespace_accepts_and_an_unknown_one_is_refused_without_ending_the_session() {
    let mut peer = Peer::open(Transport::Websocket, DialectKind::Echo);
    assert_eq!(peer.text("40/random"), vec![sent(r#"44/random,{"message":"Invalid namespace"}"#)]);
    let actions = peer.text(r#"40/custom,{"token":"abc"}"#);
    assert_eq!(actions, vec![sent(r#"40/custom,{"sid":"socket-1"}"#), sent(r#"42/custom,["auth",{"token":"abc"}]"#)]);
    assert_eq!(peer.text("40"), vec![sent(r#"40{"sid":"socket-2"}"#), sent(r#"42["auth",{}]"#)]);
}

#[test]
fn a_message_event_is_answered_with_message_back_and_the_same_arguments() {
    let mut peer = Peer::connected();
    let actions = peer.text(r#"42["message",1,"2",{"3":[true]}]"#);
    assert_eq!(actions, vec![sent(r#"42["message-back",1,"2",{"3":[true]}]"#)]);
}

#[test]
fn a_message_with_ack_is_acknowledged_with_its_id_and_arguments() {
    let mut peer = Peer::connected();
    assert_eq!(peer.text(r#"42456["message-with-ack",1]"#), vec![sent("43456[1]")]);
    let actions = peer.text(r#"42457["message-with-ack",1,"2",{"3":[false]}]"#);
    assert_eq!(actions, vec![sent(r#"43457[1,"2",{"3":[false]}]"#)]);
}

#[test]
fn a_binary_event_waits_for_its_attachments_and_comes_back_with_them_in_order() {
    let placeholders = r#"{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}"#;
    let mut peer = Peer::connected();
    assert_eq!(peer.text(&format!(r#"452-["message",{placeholders}]"#)), vec![]);
    assert_eq!(peer.binary(&[1, 2, 3]), vec![]);
    let actions = peer.binary(&[4, 5, 6]);
    let header = sent(&format!(r#"452-["message-back",{placeholders}]"#));
    assert_eq!(actions, vec![header, sent_binary(&[1, 2, 3]), sent_binary(&[4, 5, 6])]);

    assert_eq!(peer.text(&format!(r#"452-789["message-with-ack",{placeholders}]"#)), vec![]);
    peer.binary(&[7]);
    let actions = peer.binary(&[8]);
    assert_eq!(actions, vec![sent(&format!("462-789[{placeholders}]")), sent_binary(&[7]), sent_binary(&[8])]);
}

#[test]
fn a_first_packet_that_is_not_connect_closes_the_session() {
    let mut peer = Peer::open(Transport::Websocket, DialectKind::Echo);
    assert_eq!(peer.text(r#"42["message",1]"#), closed_by_server());
    assert!(peer.client.session().is_closed());
    assert_eq!(peer.text("40"), vec![], "nothing comes out of a closed session");
}

#[test]
fn a_malformed_socketio_packet_closes_the_session() {
    for frame in ["4abc", "42{}", r#"42abc["message-with-ack",1,"2",{"3":[false]}]"#, "4"] {
        let mut peer = Peer::connected();
        assert_eq!(peer.text(frame), closed_by_server(), "{frame:?}");
    }
    let mut peer = Peer::connected();
    assert_eq!(peer.binary(&[1]), closed_by_server(), "an attachment nobody announced");
}

#[test]
fn leaving_the_main_namespace_makes_its_events_a_violation_while_custom_stays_usable() {
    let mut peer = Peer::connected();
    assert_eq!(peer.text("40/custom,").len(), 2);
    assert_eq!(peer.text("41"), vec![]);
    let actions = peer.text(r#"42/custom,["message","still here"]"#);
    assert_eq!(actions, vec![sent(r#"42/custom,["message-back","still here"]"#)]);
    assert_eq!(peer.text(r#"42["message","gone"]"#), closed_by_server());
}

#[test]
fn over_polling_the_echo_reply_to_a_post_arrives_on_the_next_get() {
    let mut peer = Peer::open(Transport::Polling, DialectKind::Echo);
    assert_eq!(peer.post("40"), (Post::Ok, vec![]));
    assert_eq!(peer.get(), (right_away("40{\"sid\":\"socket-1\"}\x1e42[\"auth\",{}]"), vec![]));
    let binary = "451-[\"message\",{\"_placeholder\":true,\"num\":0}]\x1ebAQID";
    assert_eq!(peer.post(binary), (Post::Ok, vec![]));
    assert_eq!(peer.get().0, right_away(&binary.replace("message", "message-back")));
}

#[test]
fn over_polling_the_replies_of_one_post_reach_the_held_get_together_in_order() {
    let mut peer = Peer::open(Transport::Polling, DialectKind::Echo);
    assert_eq!(peer.get(), (Poll::Hold, vec![]));
    let (post, actions) = peer.post("40\x1e42[\"message\",1]");
    assert_eq!(post, Post::Ok);
    let [Action::AnswerPoll(body)] = actions.as_slice() else { panic!("one held GET, one answer: {actions:?}") };
    let packets: Vec<&str> = body.split('\x1e').collect();
    assert_eq!(packets, [r#"40{"sid":"socket-1"}"#, r#"42["auth",{}]"#, r#"42["message-back",1]"#]);
    assert_eq!(peer.get().0, Poll::Hold, "nothing was left behind for the next GET");
}

#[test]
fn over_polling_a_violation_answers_the_held_get_with_a_close_packet() {
    let mut peer = Peer::open(Transport::Polling, DialectKind::Echo);
    assert_eq!(peer.get(), (Poll::Hold, vec![]));
    let (post, actions) = peer.post(r#"42["message"]"#);
    assert_eq!(post, Post::Ok);
    assert_eq!(actions, vec![Action::AnswerPoll("1".into()), Action::Closed(CloseReason::ServerClose)]);
    assert_eq!(peer.get(), (Poll::Refuse, vec![]));
}

#[test]
fn a_socketio_client_that_never_joins_a_namespace_is_closed_after_the_connect_timeout() {
    use herald_core::gateway::CONNECT_TIMEOUT_MS;
    let settings =
        Settings { ping_interval_ms: 60_000, ping_timeout_ms: 60_000, max_payload: 1_000_000, ..Settings::default() };
    let (mut idle, _) =
        Client::open(T0, "idle".into(), settings, Transport::Websocket, DialectKind::Echo, no_handshake_auth());
    let (mut joined, _) =
        Client::open(T0, "joined".into(), settings, Transport::Websocket, DialectKind::Echo, no_handshake_auth());
    let mut ids = {
        let mut n = 0;
        move || {
            n += 1;
            format!("socket-{n}")
        }
    };
    joined.on_frame(T0 + 1, text("40"), &mut ids);
    assert_eq!(idle.deadline(), Some(T0 + CONNECT_TIMEOUT_MS));
    assert_eq!(idle.on_tick(T0 + CONNECT_TIMEOUT_MS - 1, &mut ids), vec![]);
    assert_eq!(
        idle.on_tick(T0 + CONNECT_TIMEOUT_MS, &mut ids),
        vec![Action::CloseSocket, Action::Closed(CloseReason::ServerClose)]
    );
    assert_eq!(joined.on_tick(T0 + CONNECT_TIMEOUT_MS, &mut ids), vec![], "a client in a namespace stays");
}

/// A session whose slow-consumer bound is 100 bytes; its heartbeat far away.
fn bounded(transport: Transport) -> Session {
    let quiet = Settings { ping_interval_ms: 600_000, ping_timeout_ms: 600_000, max_backlog_bytes: 100, ..settings() };
    open_with(quiet, transport)
}

#[test]
fn a_websocket_client_sent_past_the_bound_since_its_last_frame_is_closed_as_a_slow_consumer() {
    let mut session = bounded(Transport::Websocket);
    let forty = "x".repeat(39); // a message packet of 40 bytes: `4` and the data
    assert_eq!(session.send(message(&forty)).len(), 1);
    assert_eq!(session.send(message(&forty)).len(), 1);
    // Any frame from the client is a sign of life: the count starts again.
    assert_eq!(session.on_frame(T0 + 10, text("4hello")), vec![received("hello")]);
    assert_eq!(session.send(message(&forty)).len(), 1);
    assert_eq!(session.send(message(&forty)).len(), 1);
    let out = session.send(message(&forty));
    assert_eq!(
        out,
        vec![
            Output::SendFrame(text(&format!("4{forty}"))),
            Output::CloseSocket,
            Output::Closed(CloseReason::SlowConsumer)
        ]
    );
    assert!(session.is_closed());
    assert_eq!(session.send(message("more")), vec![], "nothing after the close");
}

#[test]
fn a_polling_client_that_stops_getting_is_closed_once_its_buffer_passes_the_bound() {
    let mut session = bounded(Transport::Polling);
    let forty = "x".repeat(39);
    for _ in 0..2 {
        assert_eq!(session.send(message(&forty)), vec![]);
    }
    // A GET takes the buffer: it is the polling client's sign of life.
    let (poll, _) = get(&mut session, T0 + 5);
    assert!(matches!(poll, Poll::Now(_)), "{poll:?}");
    for _ in 0..2 {
        assert_eq!(session.send(message(&forty)), vec![]);
    }
    // No GET since: the third packet passes the bound.
    assert_eq!(session.send(message(&forty)), vec![Output::Closed(CloseReason::SlowConsumer)]);
    assert_eq!(get(&mut session, T0 + 6).0, Poll::Refuse);
}

#[test]
fn what_one_poll_could_not_take_still_counts_against_the_bound() {
    // Payloads of at most 100 bytes, a bound of 150: a GET takes two 40-byte packets of three.
    let settings = Settings { max_payload: 100, max_backlog_bytes: 150, ping_interval_ms: 600_000, ..settings() };
    let mut session = open_with(settings, Transport::Polling);
    let forty = "x".repeat(39);
    for _ in 0..3 {
        assert_eq!(session.send(message(&forty)), vec![]);
    }
    get(&mut session, T0 + 1);
    assert_eq!(session.send(message(&forty)), vec![], "80 bytes wait: within 150");
    assert_eq!(session.send(message(&forty)), vec![], "120: within");
    assert_eq!(session.send(message(&forty)), vec![Output::Closed(CloseReason::SlowConsumer)], "160: past");
}

#[test]
fn a_websocket_client_sent_half_the_bound_is_pinged_at_once_and_its_pong_keeps_it_open() {
    let mut session = bounded(Transport::Websocket);
    let forty = "x".repeat(39);
    session.send(message(&forty));
    assert_eq!(session.deadline(), Some(T0 + 600_000), "the next ping at its interval");
    session.send(message(&forty));
    assert!(session.deadline().is_some_and(|at| at <= T0), "past half the bound, a ping is due at once");
    assert_eq!(session.on_tick(T0 + 50), vec![Output::SendFrame(text("2"))]);
    assert_eq!(session.deadline(), Some(T0 + 50 + 600_000), "its pong is due a timeout after it was sent");
    // The client reads and answers: a sign of life, and the heartbeat goes on from there.
    assert_eq!(session.on_frame(T0 + 60, text("3")), vec![]);
    assert_eq!(session.deadline(), Some(T0 + 60 + 600_000));
    for _ in 0..2 {
        assert_eq!(session.send(message(&forty)).len(), 1, "within the bound again");
    }
}

#[test]
fn a_burst_to_a_polling_client_with_a_get_held_is_judged_by_what_the_get_leaves() {
    // Payloads of at most 100 bytes, a bound of 100.
    let settings = Settings { max_payload: 100, max_backlog_bytes: 100, ping_interval_ms: 600_000, ..settings() };
    let mut session = open_with(settings, Transport::Polling);
    assert_eq!(get(&mut session, T0).0, Poll::Hold);
    let forty = "x".repeat(39);
    for _ in 0..4 {
        assert_eq!(session.send(message(&forty)), vec![], "160 bytes with a GET held: judged at the flush");
    }
    let out = session.flush();
    assert!(matches!(out.as_slice(), [Output::AnswerPoll(_)]), "the GET takes two, 80 bytes wait: {out:?}");
    assert!(!session.is_closed());
    // With no GET held, a burst is judged as it comes.
    for _ in 0..3 {
        session.send(message(&forty));
    }
    assert!(session.is_closed(), "80 waiting and 120 more, no GET");
}

#[test]
fn a_replay_the_client_asked_for_does_not_count_against_the_bound() {
    let mut session = bounded(Transport::Websocket);
    let forty = "x".repeat(39);
    session.expect_replay();
    session.expect_replay();
    for _ in 0..5 {
        assert_eq!(
            session.send(message(&forty)).len(),
            1,
            "200 bytes: a bound's worth asked for (the most), a bound not"
        );
    }
    assert!(!session.is_closed());
    session.send(message(&forty));
    assert!(session.is_closed(), "past the credit and the bound");
}

#[test]
fn a_replay_asked_for_over_polling_does_not_count_while_it_waits_for_a_get() {
    let settings = Settings { max_payload: 50, max_backlog_bytes: 100, ping_interval_ms: 600_000, ..settings() };
    let mut session = open_with(settings, Transport::Polling);
    session.expect_replay();
    assert_eq!(get(&mut session, T0).0, Poll::Hold);
    let forty = "x".repeat(39);
    for _ in 0..4 {
        session.send(message(&forty));
    }
    let out = session.flush();
    assert!(matches!(out.as_slice(), [Output::AnswerPoll(_)]), "{out:?}");
    assert!(!session.is_closed(), "120 bytes wait after the GET: 100 of them asked for");
}

#[test]
fn a_polling_client_probing_an_upgrade_is_judged_as_its_buffer_grows() {
    let mut session = bounded(Transport::Polling);
    assert_eq!(session.on_upgrade_socket(T0), (true, vec![]));
    assert_eq!(session.on_frame(T0, text("2probe")), vec![Output::SendFrame(text("3probe"))]);
    assert_eq!(get(&mut session, T0 + 1).0, Poll::Hold, "a GET held while probing waits for its noop");
    let forty = "x".repeat(39);
    for _ in 0..3 {
        session.send(message(&forty));
    }
    assert!(session.is_closed(), "120 bytes buffered with no GET that could take them");
}
