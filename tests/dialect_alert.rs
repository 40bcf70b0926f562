//! The `alert` dialect's translation: alert's `joined` / `text` / `left` into room commands, the
//! room's messages into `status` / `message` events, and its refusals.

use herald_core::dialect::{Auth, DialectKind, RoomCommand, RoomEvent};
use herald_core::engineio::session::{Settings, Transport};
use herald_core::gateway::{Action, Client};
use herald_core::ids::RoomId;
use herald_tests::sio::{decode, room_commands, Got, Sio};
use herald_tests::{token, verifier, DAY, T0};
use serde_json::{json, Value};

const SID: &str = "0000000000000001.0000000000000001";

fn anonymous_route() -> Auth {
    Auth { anonymous: true, ..Auth::new(verifier()) }
}

/// An alert client connected to `/` (anonymously unless `connect` carries a token).
fn connected(auth: Auth, connect: &str) -> Sio {
    let mut sio = Sio::of(DialectKind::Alert, T0, SID, auth);
    assert_eq!(decode(&sio.frame(connect)), vec![Got::Connected(json!({ "sid": "socket-1" }))]);
    sio
}

fn room(raw: &str) -> RoomId {
    RoomId::compose("alert", &[raw]).unwrap()
}

/// The room commands as `(room, what)`: publishes as their event and data.
fn commands(actions: &[Action]) -> Vec<(String, Value)> {
    room_commands(actions)
        .into_iter()
        .map(|(room, command)| {
            let what = match command {
                RoomCommand::Join { user, since, tag, .. } => {
                    json!({ "join": { "user": user, "since": since, "tag": tag } })
                }
                RoomCommand::Frame(text) => {
                    let frame: Value = serde_json::from_str(&text).unwrap();
                    assert_eq!(frame["type"], "publish", "{text}");
                    json!({ "publish": [frame["event"], frame["data"]] })
                }
                RoomCommand::Leave => json!("leave"),
            };
            (room.as_str().to_owned(), what)
        })
        .collect()
}

fn message_frame(room: &RoomId, seq: u64, event: &str, data: Value) -> String {
    json!({
        "type": "message", "room": room, "seq": seq, "id": format!("m{seq}"), "event": event,
        "data": data, "from": { "id": "someone" }, "ts": T0,
    })
    .to_string()
}

#[test]
fn a_client_without_a_token_is_let_in_as_a_user_of_its_own_where_the_route_allows_it() {
    let mut sio = connected(anonymous_route(), "40");
    let actions = sio.emit("joined", json!({ "name": "Ann", "room": "D5DB0B29" }), None);
    let user = json!({ "id": "anonymous:socket-1", "name": "Ann" });
    assert_eq!(
        commands(&actions),
        vec![
            ("alert:D5DB0B29".into(), json!({ "join": { "user": user, "since": null, "tag": null } })),
            ("alert:D5DB0B29".into(), json!({ "publish": ["status", { "name": "Ann", "state": "joined" }] })),
        ]
    );

    let mut closed = Sio::of(DialectKind::Alert, T0, SID, Auth::new(verifier()));
    match decode(&closed.frame("40")).as_slice() {
        [Got::ConnectError(data)] => assert_eq!(data["data"]["code"], "token_missing"),
        other => panic!("expected a CONNECT_ERROR, got {other:?}"),
    }
}

#[test]
fn a_token_given_is_checked_even_where_anonymous_clients_are_allowed_and_names_the_user() {
    let mut bad = Sio::of(DialectKind::Alert, T0, SID, anonymous_route());
    match decode(&bad.frame(r#"40{"token":"not.a.jwt"}"#)).as_slice() {
        [Got::ConnectError(data)] => assert_eq!(data["data"]["code"], "token_invalid"),
        other => panic!("expected a CONNECT_ERROR, got {other:?}"),
    }
    let mut sio = connected(anonymous_route(), &format!(r#"40{{"token":"{}"}}"#, token("alice", json!({}))));
    let actions = sio.emit("joined", json!({ "name": "Alice A.", "room": "r1" }), None);
    let (_, join) = &commands(&actions)[0];
    assert_eq!(join["join"]["user"], json!({ "id": "alice", "name": "Alice A." }));
}

#[test]
fn text_and_left_publish_into_the_room_and_the_room_s_messages_become_events_of_their_own_name() {
    let mut sio = connected(anonymous_route(), "40");
    let r = room("r1");
    sio.emit("joined", json!({ "name": "Ann", "room": "r1" }), None);
    let actions = sio.emit("text", json!({ "name": "Ann", "msg": "Class ends in 5 minutes" }), Some(4));
    assert_eq!(
        commands(&actions),
        vec![(
            "alert:r1".into(),
            json!({ "publish": ["message", { "name": "Ann", "msg": "Class ends in 5 minutes" }] })
        )]
    );
    assert_eq!(decode(&actions), vec![Got::Ack(4, Value::Null)], "a handled event is acked with no arguments");

    let welcome = json!({ "type": "welcome", "conn": SID, "user": { "id": "x" }, "room": r, "seq": 0 }).to_string();
    assert_eq!(decode(&sio.on_room("alert:r1", RoomEvent::Frame(&welcome)).unwrap()), vec![]);
    let presence = json!({ "type": "joined", "user": { "id": "bob" } }).to_string();
    assert_eq!(decode(&sio.on_room("alert:r1", RoomEvent::Frame(&presence)).unwrap()), vec![]);
    let status = message_frame(&r, 1, "status", json!({ "name": "Bob", "state": "joined" }));
    assert_eq!(
        decode(&sio.on_room("alert:r1", RoomEvent::Frame(&status)).unwrap()),
        vec![Got::Event("status".into(), json!({ "name": "Bob", "state": "joined" }))]
    );
    let text = message_frame(&r, 2, "message", json!({ "name": "Bob", "msg": "hi" }));
    assert_eq!(
        decode(&sio.on_room("alert:r1", RoomEvent::Frame(&text)).unwrap()),
        vec![Got::Event("message".into(), json!({ "name": "Bob", "msg": "hi" }))]
    );
    let reserved = message_frame(&r, 3, "disconnect", json!("io server disconnect"));
    assert_eq!(
        decode(&sio.on_room("alert:r1", RoomEvent::Frame(&reserved)).unwrap()),
        vec![],
        "a name Socket.IO reserves"
    );
    let limited = json!({ "type": "error", "code": "rate_limited", "message": "slow down" }).to_string();
    assert_eq!(
        decode(&sio.on_room("alert:r1", RoomEvent::Frame(&limited)).unwrap()),
        vec![Got::Event("error".into(), json!({ "code": "rate_limited", "message": "slow down" }))]
    );

    let actions = sio.emit("left", json!({ "name": "Ann" }), None);
    assert_eq!(commands(&actions), announced_left("alert:r1", "Ann"));
}

/// What leaving `room` as `name` sends the room: the `left` status, then the leave.
fn announced_left(room: &str, name: &str) -> Vec<(String, Value)> {
    vec![
        (room.into(), json!({ "publish": ["status", { "name": name, "state": "left" }] })),
        (room.into(), json!("leave")),
    ]
}

#[test]
fn joining_another_room_announces_leaving_the_first() {
    let mut sio = connected(anonymous_route(), "40");
    sio.emit("joined", json!({ "name": "Ann", "room": "one" }), None);
    let actions = sio.emit("joined", json!({ "name": "Ann", "room": "two" }), None);
    let rooms_and_kinds: Vec<(String, String)> = commands(&actions)
        .into_iter()
        .map(|(room, what)| (room, what.as_object().map_or("leave".into(), |o| o.keys().next().unwrap().clone())))
        .collect();
    let pairs: Vec<(&str, &str)> = rooms_and_kinds.iter().map(|(r, k)| (r.as_str(), k.as_str())).collect();
    assert_eq!(
        pairs,
        [("alert:one", "publish"), ("alert:one", "leave"), ("alert:two", "join"), ("alert:two", "publish")]
    );

    let again = sio.emit("joined", json!({ "name": "Ann", "room": "two" }), None);
    assert_eq!(room_commands(&again), vec![]);
    assert!(
        matches!(decode(&again).as_slice(), [Got::Event(name, e)] if name == "error" && e["code"] == "already_joined")
    );
}

#[test]
fn a_session_that_ends_in_a_room_is_announced_as_left_there() {
    let mut sio = connected(anonymous_route(), "40");
    sio.emit("joined", json!({ "name": "Ann", "room": "r1" }), None);
    let actions = sio.frame("41");
    assert_eq!(commands(&actions), announced_left("alert:r1", "Ann"));
}

#[test]
fn malformed_events_are_refused_with_a_coded_error_and_the_connection_stays_usable() {
    let mut sio = connected(anonymous_route(), "40");
    let refusal = |sio: &mut Sio, event: &str, argument: Value| -> Value {
        let actions = sio.emit(event, argument, Some(9));
        assert_eq!(room_commands(&actions), vec![], "{event} must reach no room");
        match decode(&actions).as_slice() {
            [Got::Event(name, error), Got::Ack(9, acked)] if name == "error" => {
                assert_eq!(acked, error, "the ack carries the same refusal");
                error.clone()
            }
            other => panic!("expected an error event and ack, got {other:?}"),
        }
    };
    let code = |e: Value| (e["code"].as_str().unwrap().to_owned(), e["event"].as_str().unwrap().to_owned());
    assert_eq!(
        code(refusal(&mut sio, "text", json!({ "name": "Ann", "msg": "hi" }))),
        ("not_joined".into(), "text".into())
    );
    assert_eq!(code(refusal(&mut sio, "left", json!({ "name": "Ann" }))), ("not_joined".into(), "left".into()));
    assert_eq!(code(refusal(&mut sio, "joined", json!("lobby"))).0, "invalid_field");
    assert_eq!(code(refusal(&mut sio, "joined", json!({ "room": "r" }))).0, "invalid_field");
    assert_eq!(code(refusal(&mut sio, "joined", json!({ "name": 5, "room": "r" }))).0, "invalid_field");
    assert_eq!(code(refusal(&mut sio, "joined", json!({ "name": "Ann", "room": "" }))).0, "invalid_field");
    assert_eq!(
        code(refusal(&mut sio, "joined", json!({ "name": "Ann", "room": "x".repeat(200) }))).0,
        "invalid_room_id"
    );
    assert_eq!(code(refusal(&mut sio, "shout", json!({ "name": "Ann" }))).0, "unknown_type");
    let error = refusal(&mut sio, "text", json!({ "name": "Ann" }));
    assert_eq!(error["code"], "invalid_field");
    assert!(error["message"].as_str().unwrap().contains("msg"), "{error}");

    // Still usable: the next good event goes through.
    let actions = sio.emit("joined", json!({ "name": "Ann", "room": "r1" }), None);
    assert_eq!(room_commands(&actions).len(), 2);
}

#[test]
fn a_room_the_token_does_not_allow_is_refused() {
    let claims = json!({ "rooms": ["alert:allowed"] });
    let mut sio = connected(anonymous_route(), &format!(r#"40{{"token":"{}"}}"#, token("alice", claims)));
    let actions = sio.emit("joined", json!({ "name": "A", "room": "secret" }), None);
    assert_eq!(room_commands(&actions), vec![]);
    assert!(matches!(decode(&actions).as_slice(), [Got::Event(n, e)] if n == "error" && e["code"] == "room_forbidden"));
    assert_eq!(room_commands(&sio.emit("joined", json!({ "name": "A", "room": "allowed" }), None)).len(), 2);
}

#[test]
fn a_room_that_ends_the_membership_or_fails_leaves_the_session_free_to_join_again() {
    let mut sio = connected(anonymous_route(), "40");
    sio.emit("joined", json!({ "name": "Ann", "room": "r1" }), None);
    let error = herald_core::error::Error::internal("room unreachable");
    let failed = sio.on_room("alert:r1", RoomEvent::Failed(&error)).unwrap();
    assert!(matches!(decode(&failed).as_slice(), [Got::Event(n, e)] if n == "error" && e["code"] == "internal"));
    assert_eq!(room_commands(&sio.emit("text", json!({ "name": "Ann", "msg": "x" }), None)), vec![]);
    assert_eq!(room_commands(&sio.emit("joined", json!({ "name": "Ann", "room": "r1" }), None)).len(), 2);
    assert_eq!(sio.on_room("alert:r1", RoomEvent::Closed).map(|a| decode(&a)), Some(vec![]));
    assert_eq!(sio.on_room("alert:r1", RoomEvent::Closed), None, "no longer a member");
}

#[test]
fn joining_back_a_room_still_being_left_waits_for_the_room_to_let_go_then_joins() {
    let mut sio = connected(anonymous_route(), "40");
    sio.emit("joined", json!({ "name": "Ann", "room": "a" }), None);
    sio.emit("joined", json!({ "name": "Ann", "room": "b" }), None);
    let actions = sio.emit("joined", json!({ "name": "Ann", "room": "a" }), None);
    // b is announced as left and left; the join of a waits for a's close.
    assert_eq!(commands(&actions), announced_left("alert:b", "Ann"));
    assert!(decode(&actions).is_empty(), "no refusal");
    let text = commands(&sio.emit("text", json!({ "name": "Ann", "msg": "in a" }), None));
    assert!(text.is_empty(), "it follows the join that waits: {text:?}");
    let old = message_frame(&room("a"), 9, "message", json!({ "name": "Bob", "msg": "late" }));
    assert_eq!(
        decode(&sio.on_room("alert:a", RoomEvent::Frame(&old)).unwrap()),
        vec![],
        "nothing of a room being left"
    );
    // a's close: the join goes, with its announcement and the text that followed, in order.
    let joined = commands(&sio.on_room("alert:a", RoomEvent::Closed).unwrap());
    let what: Vec<&Value> = joined
        .iter()
        .map(|(room, what)| {
            assert_eq!(room, "alert:a");
            what
        })
        .collect();
    assert!(what[0].get("join").is_some(), "{what:?}");
    assert_eq!(what[1], &json!({ "publish": ["status", { "name": "Ann", "state": "joined" }] }));
    assert_eq!(what[2], &json!({ "publish": ["message", { "name": "Ann", "msg": "in a" }] }));
    assert_eq!(what.len(), 3);
    // Joined again: the session is in a, and b's close changes nothing.
    assert_eq!(sio.on_room("alert:b", RoomEvent::Closed).map(|a| a.len()), Some(0));
    assert_eq!(commands(&sio.emit("text", json!({ "name": "Ann", "msg": "x" }), None))[0].0, "alert:a");
}

#[test]
fn a_session_whose_token_runs_out_announces_left_before_the_room_ends_it() {
    // Heartbeats far apart: the token (a day) runs out before the first is due.
    let settings = Settings {
        ping_interval_ms: 100 * DAY,
        ping_timeout_ms: 100 * DAY,
        max_payload: 1_000_000,
        max_backlog_bytes: 4 << 20,
    };
    let (client, _) =
        Client::open(T0, SID.into(), settings, Transport::Websocket, DialectKind::Alert, anonymous_route());
    let mut sio = Sio { client, now: T0, socket_id: None };
    let short = token("alice", json!({}));
    assert!(matches!(decode(&sio.frame(&format!(r#"40{{"token":"{short}"}}"#))).as_slice(), [Got::Connected(_)]));
    let heartbeat = sio.client.deadline().unwrap();
    sio.emit("joined", json!({ "name": "Alice", "room": "r1" }), None);
    let ends = verifier().session_end(&verifier().verify(&short, T0).unwrap());
    let due = ends - herald_core::dialect::alert::EXPIRY_MARGIN_MS;
    assert!(due < heartbeat);
    assert_eq!(sio.client.deadline(), Some(due), "in a room, the token's end is the next thing to do");
    let mut ids = herald_tests::sio::fresh_ids("x");
    let actions = sio.client.on_tick(due, &mut ids);
    assert_eq!(commands(&actions), announced_left("alert:r1", "Alice"));
    assert!(matches!(decode(&actions).as_slice(), [Got::Event(n, e)] if n == "error" && e["code"] == "token_expired"));
    assert_eq!(sio.client.deadline(), Some(heartbeat), "out of the room, only heartbeats are left");
}
