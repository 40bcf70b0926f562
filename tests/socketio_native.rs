//! The `native` Socket.IO dialect, inside the core: Socket.IO clients (the gateway over a
//! websocket transport) held by homes, a room with direct connections and remote members, and
//! the calls between them (`/members`, `/deliver`) carried by hand, as the object shells
//! carry them — including a home that fails or forgets its sessions.

use herald_core::dialect::{Auth, RoomCommand, RoomEvent};
use herald_core::engineio::Frame;
use herald_core::gateway::Action;
use herald_core::host::{Codec, InboxCall};
use herald_core::ids::ConnId;
use herald_core::message::Draft;
use herald_tests::sio::{decode, fresh_ids, room_commands, Got, Sio};
use herald_tests::world::World;
use herald_tests::{no_handshake_auth, room_id, token, user, verifier, DAY, T0};
use serde_json::{json, Value};

/// The one frame a client's actions send to a room.
fn frame_sent(actions: &[Action]) -> String {
    match room_commands(actions).as_slice() {
        [(_, RoomCommand::Frame(text))] => text.clone(),
        other => panic!("expected one frame for a room, got {other:?}"),
    }
}

/// The error object an ack or event carries, as `(code, room)`.
fn code_and_room(value: &Value) -> (&str, Option<&str>) {
    (value["code"].as_str().unwrap_or("?"), value["room"].as_str())
}

// --- The dialect alone: connect, commands, answers ---

#[test]
fn a_token_in_the_auth_payload_or_on_the_handshake_connects_and_none_or_a_bad_one_is_refused_with_a_code() {
    let connect_error = |auth: Auth, packet: &str| {
        let mut sio = Sio::open("0000000000000001.0000000000000001", auth);
        match decode(&sio.frame(packet)).as_slice() {
            [Got::ConnectError(data)] => data["data"]["code"].as_str().unwrap().to_owned(),
            other => panic!("expected a CONNECT_ERROR, got {other:?}"),
        }
    };
    assert_eq!(connect_error(no_handshake_auth(), "40"), "token_missing");
    assert_eq!(connect_error(no_handshake_auth(), r#"40{"token":"not.a.jwt"}"#), "token_invalid");
    assert_eq!(connect_error(no_handshake_auth(), r#"40{"token":7}"#), "invalid_field");

    // A token from the handshake request counts when the auth payload has none, and loses to
    // one that it has; a bad or expired one is refused at CONNECT, with its code.
    let handshake = |token: String| Auth { handshake_token: Some(token), ..Auth::new(verifier()) };
    let mut sio = Sio::open("0000000000000001.0000000000000002", handshake(token("hand", json!({}))));
    assert_eq!(decode(&sio.frame("40")), vec![Got::Connected(json!({ "sid": "socket-1" }))]);
    assert_eq!(connect_error(handshake("bad".into()), "40"), "token_invalid");
    let mut payload_wins = Sio::open("0000000000000001.0000000000000004", handshake("bad".into()));
    let connect = format!(r#"40{{"token":"{}"}}"#, token("payload", json!({})));
    assert_eq!(decode(&payload_wins.frame(&connect)), vec![Got::Connected(json!({ "sid": "socket-1" }))]);
    let mut late = Sio::open_at(T0 + 2 * DAY, "0000000000000001.0000000000000005", handshake(token("hand", json!({}))));
    match decode(&late.frame("40")).as_slice() {
        [Got::ConnectError(data)] => assert_eq!(data["data"]["code"], "token_expired"),
        got => panic!("{got:?}"),
    }

    let mut other = Sio::open("0000000000000001.0000000000000003", no_handshake_auth());
    match decode(&other.frame(&format!(r#"40/other,{{"token":"{}"}}"#, token("u", json!({}))))).as_slice() {
        [Got::ConnectError(data)] => assert_eq!(data, &json!({ "message": "Invalid namespace" })),
        got => panic!("{got:?}"),
    }
}

#[test]
fn a_connect_whose_user_holds_its_most_connections_is_refused_with_too_many_connections() {
    use herald_core::connections::{Caps, Holder, Tally};
    use herald_core::dialect::UserCount;
    use std::cell::RefCell;
    thread_local! {
        static TALLY: RefCell<Tally> = RefCell::default();
    }
    fn count(caps: &Caps, key: &str, user: &str) -> Result<(), herald_core::Error> {
        TALLY.with(|tally| tally.borrow_mut().add_user(caps, key, user))
    }
    let caps = Caps { per_user: 1, per_address: 0, total: 0 };
    let counted = |key: &str| {
        TALLY.with(|tally| tally.borrow_mut().admit(&caps, key, Holder::default()).unwrap());
        Auth { counted: Some(UserCount { key: key.into(), caps, count }), ..Auth::new(verifier()) }
    };
    let connect = format!(r#"40{{"token":"{}"}}"#, token("busy", json!({})));
    let mut first = Sio::open("0000000000000001.0000000000000001", counted("0000000000000001.0000000000000001"));
    assert_eq!(decode(&first.frame(&connect)), vec![Got::Connected(json!({ "sid": "socket-1" }))]);
    let mut second = Sio::open("0000000000000001.0000000000000002", counted("0000000000000001.0000000000000002"));
    match decode(&second.frame(&connect)).as_slice() {
        [Got::ConnectError(data)] => {
            assert_eq!(data["data"]["code"], "too_many_connections");
        }
        got => panic!("{got:?}"),
    }
}

#[test]
fn join_asks_the_room_and_the_welcome_answers_its_ack_then_frames_become_events_with_the_room() {
    let mut sio = Sio::connected("0000000000000001.0000000000000001", "alice");
    let actions = sio.emit("join", json!({ "room": "lobby", "since": 3 }), Some(1));
    assert!(decode(&actions).is_empty(), "nothing is answered before the room does");
    let leeway = i64::from(verifier().leeway_seconds) * 1000;
    let join = RoomCommand::Join { user: user("alice"), expires_at: T0 + DAY + leeway, since: Some(3), tag: None };
    assert_eq!(room_commands(&actions), vec![(room_id("lobby"), join)]);

    let welcome = r#"{"type":"welcome","conn":"c","user":{"id":"alice"},"room":"lobby","seq":5}"#;
    let got = decode(&sio.on_room("lobby", RoomEvent::Frame(welcome)).unwrap());
    assert_eq!(got, vec![Got::Ack(1, serde_json::from_str(welcome).unwrap())]);
    let presence = r#"{"type":"presence","members":[{"id":"alice"}]}"#;
    let got = decode(&sio.on_room("lobby", RoomEvent::Frame(presence)).unwrap());
    assert_eq!(
        got,
        vec![Got::Event(
            "presence".into(),
            json!({ "type": "presence", "room": "lobby", "members": [{ "id": "alice" }] })
        )]
    );
    let message =
        r#"{"type":"message","room":"lobby","seq":6,"id":"m","event":"e","data":[1],"from":{"id":"bob"},"ts":1}"#;
    let got = decode(&sio.on_room("lobby", RoomEvent::Frame(message)).unwrap());
    assert_eq!(got, vec![Got::Event("message".into(), serde_json::from_str(message).unwrap())]);
}

#[test]
fn without_an_ack_callback_the_welcome_and_the_publish_ack_come_as_events_with_the_clients_transaction() {
    let mut sio = Sio::connected("0000000000000001.0000000000000001", "alice");
    sio.emit("join", json!({ "room": "lobby" }), None);
    let welcome = r#"{"type":"welcome","conn":"c","user":{"id":"alice"},"room":"lobby","seq":0}"#;
    let got = decode(&sio.on_room("lobby", RoomEvent::Frame(welcome)).unwrap());
    assert_eq!(got, vec![Got::Event("welcome".into(), serde_json::from_str(welcome).unwrap())]);

    let actions = sio.emit("publish", json!({ "room": "lobby", "event": "e", "transaction": "t1" }), None);
    let text = frame_sent(&actions);
    assert_eq!(
        serde_json::from_str::<Value>(&text).unwrap(),
        json!({ "type": "publish", "event": "e", "transaction": "t1" })
    );
    let ack = r#"{"type":"ack","id":"x","seq":1,"transaction":"t1"}"#;
    let got = decode(&sio.on_room("lobby", RoomEvent::Frame(ack)).unwrap());
    assert_eq!(
        got,
        vec![Got::Event(
            "ack".into(),
            json!({ "type": "ack", "id": "x", "seq": 1, "transaction": "t1", "room": "lobby" })
        )]
    );
}

#[test]
fn a_publish_with_an_ack_callback_is_answered_by_the_rooms_ack_or_error_for_it() {
    let mut sio = Sio::connected("0000000000000001.0000000000000001", "alice");
    sio.emit("join", json!({ "room": "lobby" }), None);
    let actions = sio.emit("publish", json!({ "room": "lobby", "event": "e", "data": { "x": 1 }, "id": "k" }), Some(7));
    let text = frame_sent(&actions);
    let frame: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(frame["type"], "publish");
    assert_eq!(frame["data"], json!({ "x": 1 }));
    assert_eq!(frame["id"], "k");
    assert!(frame.get("room").is_none(), "the room is the membership's, not a field of the frame");
    let transaction = frame["transaction"].as_str().unwrap().to_owned();

    let error = json!({ "type": "error", "code": "rate_limited", "message": "slow down", "transaction": transaction });
    let got = decode(&sio.on_room("lobby", RoomEvent::Frame(&error.to_string())).unwrap());
    assert_eq!(
        got,
        vec![Got::Ack(7, json!({ "type": "error", "code": "rate_limited", "message": "slow down", "room": "lobby" }))]
    );
    // Answered once: the same frame again is an event.
    let got = decode(&sio.on_room("lobby", RoomEvent::Frame(&error.to_string())).unwrap());
    assert!(matches!(got.as_slice(), [Got::Event(name, _)] if name == "error"));
}

#[test]
fn bad_commands_are_answered_with_a_coded_error_and_the_connection_stays() {
    let mut sio = Sio::open("0000000000000001.0000000000000001", no_handshake_auth());
    sio.frame(&format!(r#"40{{"token":"{}"}}"#, token("alice", json!({ "rooms": ["team-*"] }))));
    let answer =
        |sio: &mut Sio, event: &str, argument: Value| match decode(&sio.emit(event, argument, Some(1))).as_slice() {
            [Got::Ack(1, value)] => value.clone(),
            other => panic!("{event}: expected an ack, got {other:?}"),
        };
    assert_eq!(code_and_room(&answer(&mut sio, "join", json!({ "room": "../x" }))), ("invalid_room_id", None));
    assert_eq!(code_and_room(&answer(&mut sio, "join", json!({}))), ("invalid_field", None));
    assert_eq!(code_and_room(&answer(&mut sio, "join", json!("team-1"))), ("invalid_field", None));
    assert_eq!(code_and_room(&answer(&mut sio, "join", json!({ "room": "lobby" }))), ("room_forbidden", Some("lobby")));
    assert_eq!(
        code_and_room(&answer(&mut sio, "join", json!({ "room": "team-1", "since": -1 }))),
        ("invalid_field", Some("team-1"))
    );
    assert_eq!(
        code_and_room(&answer(&mut sio, "publish", json!({ "room": "team-1", "event": "e" }))),
        ("not_joined", Some("team-1"))
    );
    assert_eq!(code_and_room(&answer(&mut sio, "leave", json!({ "room": "team-1" }))), ("not_joined", Some("team-1")));
    assert_eq!(code_and_room(&answer(&mut sio, "shout", json!({ "room": "team-1" }))), ("unknown_type", None));
    let binary = sio.frame(r#"451-2["publish",{"room":"team-1","data":{"_placeholder":true,"num":0}}]"#);
    assert!(binary.is_empty(), "waits for its attachment");
    let got = decode(&sio.client.on_frame(T0, Frame::Binary(vec![1, 2]), &mut fresh_ids("s")));
    assert!(matches!(&got[..], [Got::Ack(2, v)] if v["code"] == "invalid_field"), "{got:?}");

    assert!(room_commands(&sio.emit("join", json!({ "room": "team-1" }), Some(3))).len() == 1);
    assert_eq!(
        code_and_room(&answer(&mut sio, "join", json!({ "room": "team-1" }))),
        ("already_joined", Some("team-1"))
    );
    // Without an ack callback the error is an event, echoing the client's transaction.
    let got = decode(&sio.emit("publish", json!({ "room": "team-2", "event": "e", "transaction": "tx-1" }), None));
    assert!(
        matches!(&got[..], [Got::Event(n, e)] if n == "error" && e["code"] == "not_joined" && e["transaction"] == "tx-1"),
        "{got:?}"
    );
    assert!(!sio.client.session().is_closed());
}

#[test]
fn a_leave_is_answered_when_the_room_closes_the_membership_and_pending_publishes_learn_they_get_no_answer() {
    let mut sio = Sio::connected("0000000000000001.0000000000000001", "alice");
    sio.emit("join", json!({ "room": "lobby" }), None);
    sio.emit("publish", json!({ "room": "lobby", "event": "e" }), Some(4));
    let actions = sio.emit("leave", json!({ "room": "lobby" }), Some(5));
    assert_eq!(room_commands(&actions), vec![(room_id("lobby"), RoomCommand::Leave)]);
    assert!(decode(&actions).is_empty());
    let got = decode(&sio.on_room("lobby", RoomEvent::Closed).unwrap());
    assert!(
        matches!(&got[..], [Got::Ack(4, e), Got::Ack(5, left)]
        if e["code"] == "not_joined" && left == &json!({ "type": "leave", "room": "lobby" })),
        "{got:?}"
    );
    assert!(sio.on_room("lobby", RoomEvent::Frame("{}")).is_none(), "no longer a member");
    // Without a callback, the end of a leave is a `leave` event.
    sio.emit("join", json!({ "room": "lobby" }), None);
    sio.emit("leave", json!({ "room": "lobby" }), None);
    let got = decode(&sio.on_room("lobby", RoomEvent::Closed).unwrap());
    assert_eq!(got, vec![Got::Event("leave".into(), json!({ "type": "leave", "room": "lobby" }))]);
}

#[test]
fn a_join_left_before_its_welcome_is_still_answered_by_the_welcome_or_else_by_the_close() {
    let mut sio = Sio::connected("0000000000000001.0000000000000001", "alice");
    sio.emit("join", json!({ "room": "lobby" }), Some(1));
    sio.emit("leave", json!({ "room": "lobby" }), Some(2));
    let welcome = r#"{"type":"welcome","conn":"c","user":{"id":"alice"},"room":"lobby","seq":5}"#;
    let got = decode(&sio.on_room("lobby", RoomEvent::Frame(welcome)).unwrap());
    assert_eq!(got, vec![Got::Ack(1, serde_json::from_str(welcome).unwrap())], "the join's answer");
    let got = decode(&sio.on_room("lobby", RoomEvent::Closed).unwrap());
    assert_eq!(got, vec![Got::Ack(2, json!({ "type": "leave", "room": "lobby" }))], "then the leave's");

    // The room closes the membership before any welcome: the join learns it was not joined.
    sio.emit("join", json!({ "room": "lobby" }), Some(3));
    sio.emit("leave", json!({ "room": "lobby" }), Some(4));
    let got = decode(&sio.on_room("lobby", RoomEvent::Closed).unwrap());
    assert!(
        matches!(&got[..], [Got::Ack(3, e), Got::Ack(4, left)]
        if e["code"] == "not_joined" && left == &json!({ "type": "leave", "room": "lobby" })),
        "{got:?}"
    );
}

#[test]
fn a_leave_waiting_for_a_room_that_cannot_be_reached_is_answered_with_why() {
    let mut sio = Sio::connected("0000000000000001.0000000000000001", "alice");
    sio.emit("join", json!({ "room": "lobby" }), None);
    let welcome = r#"{"type":"welcome","conn":"c","user":{"id":"alice"},"room":"lobby","seq":5}"#;
    sio.on_room("lobby", RoomEvent::Frame(welcome));
    sio.emit("leave", json!({ "room": "lobby" }), Some(7));
    let error = herald_core::Error::internal("the room is unreachable");
    let got = decode(&sio.on_room("lobby", RoomEvent::Failed(&error)).unwrap());
    assert!(matches!(&got[..], [Got::Ack(7, e)] if e["code"] == "internal" && e["room"] == "lobby"), "{got:?}");
    // Left before the welcome: both the join and the leave are answered.
    sio.emit("join", json!({ "room": "lobby" }), Some(1));
    sio.emit("leave", json!({ "room": "lobby" }), Some(2));
    let got = decode(&sio.on_room("lobby", RoomEvent::Failed(&error)).unwrap());
    assert!(matches!(&got[..], [Got::Ack(1, _), Got::Ack(2, _)]), "{got:?}");
}

#[test]
fn a_membership_the_room_ends_is_told_once_and_a_failed_room_answers_what_was_pending() {
    let mut sio = Sio::connected("0000000000000001.0000000000000001", "alice");
    sio.emit("join", json!({ "room": "a" }), None);
    sio.emit("join", json!({ "room": "b" }), None);
    sio.emit("join", json!({ "room": "c" }), Some(9));
    // The room explains, then closes: no second error.
    let expired = r#"{"type":"error","code":"token_expired","message":"m"}"#;
    let got = decode(&sio.on_room("a", RoomEvent::Frame(expired)).unwrap());
    assert!(matches!(&got[..], [Got::Event(n, e)] if n == "error" && e["room"] == "a"));
    assert!(decode(&sio.on_room("a", RoomEvent::Closed).unwrap()).is_empty());
    // A close with no explanation is told as not_joined.
    let got = decode(&sio.on_room("b", RoomEvent::Closed).unwrap());
    assert!(matches!(&got[..], [Got::Event(n, e)] if n == "error" && code_and_room(e) == ("not_joined", Some("b"))));
    // A join the room refuses is answered by the refusal; the close that follows adds nothing.
    sio.emit("join", json!({ "room": "e", "since": 99 }), Some(12));
    let ahead = r#"{"type":"error","code":"since_ahead","message":"m"}"#;
    let got = decode(&sio.on_room("e", RoomEvent::Frame(ahead)).unwrap());
    assert!(matches!(&got[..], [Got::Ack(12, e)] if code_and_room(e) == ("since_ahead", Some("e"))), "{got:?}");
    assert!(decode(&sio.on_room("e", RoomEvent::Closed).unwrap()).is_empty());
    // A publish pending when the room explains and closes gets the room's reason.
    sio.emit("join", json!({ "room": "d" }), None);
    sio.emit("publish", json!({ "room": "d", "event": "e" }), Some(11));
    let too_big = r#"{"type":"error","code":"frame_too_large","message":"m"}"#;
    sio.on_room("d", RoomEvent::Frame(too_big)).unwrap();
    let got = decode(&sio.on_room("d", RoomEvent::Closed).unwrap());
    assert!(matches!(&got[..], [Got::Ack(11, e)] if code_and_room(e) == ("frame_too_large", Some("d"))), "{got:?}");
    // The room could not be reached: the pending join gets the error.
    let error = herald_core::Error::internal("unreachable");
    let got = decode(&sio.on_room("c", RoomEvent::Failed(&error)).unwrap());
    assert!(matches!(&got[..], [Got::Ack(9, e)] if code_and_room(e) == ("internal", Some("c"))), "{got:?}");
    assert!(sio.on_room("c", RoomEvent::Closed).is_none());
}

#[test]
fn a_session_that_ends_leaves_every_room_it_joined_before_it_is_forgotten() {
    let mut sio = Sio::connected("0000000000000001.0000000000000001", "alice");
    sio.emit("join", json!({ "room": "a" }), None);
    sio.emit("join", json!({ "room": "b" }), None);
    let actions = sio.frame("1"); // Engine.IO close
    let leaves = room_commands(&actions);
    assert_eq!(leaves, vec![(room_id("a"), RoomCommand::Leave), (room_id("b"), RoomCommand::Leave)]);
    let leave_at = actions.iter().position(|a| matches!(a, Action::Room { .. })).unwrap();
    let closed_at = actions.iter().position(|a| matches!(a, Action::Closed(_))).unwrap();
    assert!(leave_at < closed_at);
}

// --- Homes and a room, the calls between them carried by hand ---

/// One room with direct connections and Socket.IO members held by homes: the shared world.
struct Homes(World);

impl std::ops::Deref for Homes {
    type Target = World;
    fn deref(&self) -> &World {
        &self.0
    }
}

impl std::ops::DerefMut for Homes {
    fn deref_mut(&mut self) -> &mut World {
        &mut self.0
    }
}

impl Homes {
    fn new() -> Self {
        Self(World::new("lobby"))
    }

    fn connect_direct(&mut self, id: &str, sub: &str) {
        self.connect(id, &user(sub), None, Codec::Native);
    }

    fn publish_direct(&mut self, id: &str, key: &str) {
        self.say(id, json!({ "type": "publish", "event": "e", "id": key }));
        self.settle();
    }

    fn publish_rest(&mut self, key: &str) {
        let draft = Draft::from_rest_body(r#"{"event":"e"}"#, Some(key)).unwrap();
        self.0.publish_rest(&user("api"), draft, None);
    }

    /// A Socket.IO client of `sub` on home `home` that joins the room (with `since`).
    fn join_sio(&mut self, sid: &str, sub: &str, since: Option<u64>) {
        self.client(sid, Sio::connected(sid, sub));
        self.emit(sid, "join", json!({ "room": "lobby", "since": since }), Some(1));
    }

    fn sio_messages(&self, sid: &str) -> Vec<(u64, String)> {
        self.sio_events(sid, "message")
            .iter()
            .map(|f| (f["seq"].as_u64().unwrap(), f["id"].as_str().unwrap().into()))
            .collect()
    }

    fn sio_events(&self, sid: &str, name: &str) -> Vec<Value> {
        self.got(sid)
            .into_iter()
            .filter_map(|g| match g {
                Got::Event(n, v) if n == name => Some(v),
                _ => None,
            })
            .collect()
    }

    fn presence(&self) -> Vec<String> {
        self.host.room().presence().iter().map(|u| u.id.as_str().to_owned()).collect()
    }
}

const A1: &str = "00000000000000aa.0000000000000001";
const A2: &str = "00000000000000aa.0000000000000002";
const B1: &str = "00000000000000bb.0000000000000001";

#[test]
fn members_held_by_homes_see_exactly_the_sequence_a_direct_connection_sees() {
    let mut w = Homes::new();
    w.connect_direct("d1", "dora");
    w.join_sio(A1, "alice", None);
    w.join_sio(A2, "amir", None);
    w.join_sio(B1, "bea", None);
    w.settle();
    for round in 0..30 {
        w.publish_direct("d1", &format!("d-{round}"));
        w.emit(A1, "publish", json!({ "room": "lobby", "event": "e", "id": format!("a-{round}") }), Some(100 + round));
        w.publish_rest(&format!("r-{round}"));
        // Calls are carried at uneven moments: several piled-up publishes leave in one delivery.
        if round % 4 == 0 {
            w.settle();
        }
    }
    w.settle();
    let direct = w.direct_messages("d1");
    assert_eq!(direct.iter().map(|m| m.0).collect::<Vec<_>>(), (1..=90).collect::<Vec<_>>());
    for sid in [A1, A2, B1] {
        assert_eq!(w.sio_messages(sid), direct, "{sid}");
    }
    let acks: Vec<u64> = w
        .got(A1)
        .iter()
        .filter_map(|g| match g {
            Got::Ack(id, v) if v["type"] == "ack" => Some(*id),
            _ => None,
        })
        .collect();
    assert_eq!(acks, (100..130).collect::<Vec<_>>(), "every publish acked once, in order");
}

#[test]
fn a_join_with_since_replays_through_the_home_after_the_welcome_ack() {
    let mut w = Homes::new();
    w.connect_direct("d1", "dora");
    for i in 0..5 {
        w.publish_direct("d1", &format!("m{i}"));
    }
    w.join_sio(A1, "alice", Some(2));
    w.settle();
    let got = &w.got(A1);
    assert!(matches!(&got[0], Got::Ack(1, welcome) if welcome["type"] == "welcome" && welcome["seq"] == 5), "{got:?}");
    assert!(matches!(&got[1], Got::Event(name, _) if name == "presence"));
    assert_eq!(w.sio_messages(A1).iter().map(|m| m.0).collect::<Vec<_>>(), vec![3, 4, 5]);
    assert_eq!(w.direct["d1"].iter().filter(|f| f["type"] == "joined").count(), 1);
}

#[test]
fn a_home_whose_delivery_fails_loses_its_members_and_the_others_are_not_held_up() {
    let mut w = Homes::new();
    w.connect_direct("d1", "dora");
    w.join_sio(A1, "alice", None);
    w.join_sio(B1, "bea", None);
    w.settle();
    w.down.insert("00000000000000aa".into());
    w.publish_rest("m1");
    w.settle();
    assert_eq!(w.presence(), vec!["bea", "dora"]);
    let left: Vec<Value> = w.direct["d1"].iter().filter(|f| f["type"] == "left").cloned().collect();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0]["user"]["id"], "alice");
    assert_eq!(w.sio_events(B1, "left").len(), 1, "other homes hear it too");
    assert_eq!(w.sio_messages(B1), vec![(1, "m1".into())]);
    w.publish_rest("m2");
    w.settle();
    assert_eq!(w.sio_messages(B1).len(), 2);
    assert_eq!(w.direct_messages("d1").len(), 2);
    assert!(!w.host.is_remote(&ConnId(A1.into())));
}

#[test]
fn a_home_that_no_longer_holds_a_session_gets_it_dropped_and_a_late_publish_from_it_is_answered() {
    let mut w = Homes::new();
    w.connect_direct("d1", "dora");
    w.join_sio(A1, "alice", None);
    w.join_sio(A2, "amir", None);
    w.settle();
    // The home lost A1 (say it restarted) without telling the room.
    let mut lost = w.clients.remove(A1).unwrap();
    w.publish_rest("m1");
    w.settle();
    assert_eq!(w.presence(), vec!["amir", "dora"]);
    assert_eq!(w.sio_messages(A2), vec![(1, "m1".into())]);
    // Were the session still around, its next publish would be answered, not lost.
    let actions = lost.emit("publish", json!({ "room": "lobby", "event": "e" }), Some(8));
    w.clients.insert(A1.into(), lost);
    w.take(A1, actions);
    w.settle();
    let last = w.got(A1).last().unwrap().clone();
    assert!(matches!(&last, Got::Ack(8, e) if code_and_room(e) == ("not_joined", Some("lobby"))), "{last:?}");
    assert_eq!(w.host.room().last_seq(), 1, "nothing was published for a session the room dropped");
}

#[test]
fn leaving_and_ending_a_session_take_the_member_out_with_left_for_the_others() {
    let mut w = Homes::new();
    w.connect_direct("d1", "dora");
    w.join_sio(A1, "alice", None);
    w.join_sio(B1, "bea", None);
    w.settle();
    w.emit(A1, "leave", json!({ "room": "lobby" }), Some(2));
    w.settle();
    assert!(matches!(w.got(A1).last().unwrap(), Got::Ack(2, v) if v == &json!({ "type": "leave", "room": "lobby" })));
    assert!(w.sio_events(A1, "left").is_empty(), "a member does not get its own left");
    w.publish_rest("after");
    w.settle();
    assert!(w.sio_messages(A1).is_empty());
    assert_eq!(w.presence(), vec!["bea", "dora"]);
    // B1's session ends: its home leaves for it.
    let actions = w.clients.get_mut(B1).unwrap().frame("1");
    w.take(B1, actions);
    w.settle();
    assert_eq!(w.presence(), vec!["dora"]);
    let left: Vec<String> = w.direct["d1"]
        .iter()
        .filter(|f| f["type"] == "left")
        .map(|f| f["user"]["id"].as_str().unwrap().into())
        .collect();
    assert_eq!(left, vec!["alice", "bea"]);
}

#[test]
fn a_disconnect_then_a_new_connect_and_join_on_the_same_session_keeps_the_new_membership() {
    let mut w = Homes::new();
    w.connect_direct("d1", "dora");
    w.join_sio(A1, "alice", None);
    w.settle();
    // The client leaves the namespace and comes back on the same Engine.IO session, then joins
    // again and publishes, all before the room has closed the first membership.
    let actions = w.clients.get_mut(A1).unwrap().frame("41");
    w.take(A1, actions);
    let connect = format!(r#"40{{"token":"{}"}}"#, herald_tests::token("alice", json!({})));
    let actions = w.clients.get_mut(A1).unwrap().frame(&connect);
    w.take(A1, actions);
    w.emit(A1, "join", json!({ "room": "lobby" }), Some(7));
    w.emit(A1, "publish", json!({ "room": "lobby", "event": "e", "id": "after-rejoin" }), Some(8));
    w.settle();
    let got = w.got(A1);
    let acks: Vec<&Got> = got.iter().filter(|g| matches!(g, Got::Ack(7 | 8, _))).collect();
    assert!(
        matches!(acks.as_slice(), [Got::Ack(7, welcome), Got::Ack(8, ack)]
        if welcome["type"] == "welcome" && ack["type"] == "ack"),
        "{acks:?}"
    );
    assert_eq!(w.presence(), vec!["alice", "dora"], "the new membership holds");
    w.publish_rest("later");
    w.settle();
    assert_eq!(w.sio_messages(A1), vec![(1, "after-rejoin".into()), (2, "later".into())]);
    assert!(w.host.room().has_connection(&ConnId(A1.into())));
}

#[test]
fn after_a_disconnect_nothing_of_the_rooms_being_left_reaches_the_client() {
    let mut w = Homes::new();
    w.join_sio(A1, "alice", None);
    w.settle();
    let before = w.got(A1).len();
    // The client leaves the namespace; a message published before the room had the leave
    // comes to the home, then the room's close of the membership.
    w.frame(A1, "41");
    w.publish_rest("while-leaving");
    let after: Vec<Got> = w.got(A1).split_off(before);
    assert!(after.is_empty(), "no message, no unasked-for leave: {after:?}");
    assert!(w.presence().is_empty());
}

#[test]
fn a_leave_of_a_join_that_waits_for_the_room_to_let_go_cancels_it_and_answers_both() {
    let mut w = Homes::new();
    w.join_sio(A1, "alice", None);
    w.settle();
    w.emit(A1, "leave", json!({ "room": "lobby" }), Some(2));
    w.emit(A1, "join", json!({ "room": "lobby" }), Some(3));
    w.emit(A1, "join", json!({ "room": "lobby" }), Some(4));
    w.emit(A1, "leave", json!({ "room": "lobby" }), Some(5));
    w.settle();
    let got = w.got(A1);
    let acks: Vec<(u64, &str)> = got
        .iter()
        .filter_map(|g| match g {
            Got::Ack(id @ 2..=5, v) => Some((*id, v["code"].as_str().or(v["type"].as_str()).unwrap())),
            _ => None,
        })
        .collect();
    // 4: one join waits already. 5 cancels the join that waited (3, answered not joined) and
    // has nothing else to wait for; 2 is answered once the room let go.
    assert_eq!(acks, vec![(4, "already_joined"), (3, "not_joined"), (5, "leave"), (2, "leave")]);
    assert!(w.presence().is_empty());
}

/// Found by the Socket.IO packet round-trip property (`props_socketio.rs`): serde_json read some
/// floats to a neighbouring double, so the native dialect, which reads a publish's arguments and
/// writes the room's frame from them, changed the last digit of a number a client published
/// (JavaScript writes such numbers). With `arbitrary_precision` a number keeps its text: it
/// reaches the room written exactly as the client wrote it.
#[test]
fn a_float_a_client_publishes_over_socket_io_reaches_the_room_digit_for_digit() {
    use serde_json::value::RawValue;
    #[derive(serde::Deserialize)]
    struct Frame {
        data: Box<RawValue>,
    }
    // The numbers as a client wrote them, and as they reach the room: the same digits (serde_json
    // writes an exponent with its sign), even past what a double holds.
    for (number, reaches) in [
        ("-5.3154629805947835e-34", "-5.3154629805947835e-34"),
        ("-5.315462980594783e-34", "-5.315462980594783e-34"),
        ("7.500437724092003e108", "7.500437724092003e+108"),
        ("0.30000000000000004", "0.30000000000000004"),
        ("1.0", "1.0"),
        ("123456789012345678901234567890", "123456789012345678901234567890"),
    ] {
        let mut sio = Sio::connected("sid-1", "alice");
        sio.emit("join", json!({ "room": "lobby" }), Some(1));
        let frame = frame_sent(&sio.frame(&format!(r#"42["publish",{{"room":"lobby","event":"e","data":{number}}}]"#)));
        let sent: Frame = serde_json::from_str(&frame).unwrap();
        assert_eq!(sent.data.get(), reaches, "{number} became {frame}");
    }
}

#[test]
fn the_object_sets_the_alarm_the_host_asks_for_once_and_again_after_a_failed_write_or_a_wake() {
    let mut w = World::new("lobby");
    w.alarm = None;
    w.connect_until("d1", &user("dora"), None, Codec::Native, T0 + DAY);
    assert_eq!(w.alarm, Some(T0 + DAY), "the session's expiry");
    // A later session that expires later changes nothing: nothing to set.
    w.alarm = None;
    w.connect_until("d2", &user("dan"), None, Codec::Native, T0 + 2 * DAY);
    assert_eq!(w.host.poll_timeout(w.now), None);
    assert_eq!(w.alarm, None, "not asked again");
    // An earlier one moves it; a write that fails is asked for again at the next change of need.
    w.connect_until("d3", &user("dee"), None, Codec::Native, T0 + DAY / 2);
    assert_eq!(w.alarm, Some(T0 + DAY / 2));
    w.host.alarm_not_set();
    assert_eq!(w.host.poll_timeout(w.now), Some(T0 + DAY / 2), "asked again after the failed write");
    // After a wake nothing is known to be set (an alarm may have ended meanwhile): an inbox's
    // call, which may change its need, sets it again even when the need looks the same.
    let mut inbox = World::new("inbox:bob");
    inbox.connect_until("b1", &user("bob"), None, Codec::Native, T0 + DAY);
    assert_eq!(inbox.alarm, Some(T0 + DAY));
    inbox.wake();
    inbox.alarm = None;
    let call = InboxCall { method: "GET", path: "/inbox/contacts", body: "", before: None, limit: None };
    inbox.host.inbox_call(inbox.now, &call).unwrap();
    assert_eq!(inbox.host.poll_timeout(inbox.now), Some(T0 + DAY));
}
