//! The `3drepo` dialect's translation, natively: a socket.io client (the gateway over a
//! websocket transport) speaking 3D Repo's chat protocol, its rooms played by hand with the
//! frames a room sends, over a fake clock.

use herald_core::dialect::threedrepo::{CLOSE_GRACE_MS, EXPIRED};
use herald_core::dialect::{Auth, DialectKind, RoomCommand, RoomEvent};
use herald_core::engineio::session::{CloseReason, Settings, Transport};
use herald_core::engineio::Frame;
use herald_core::error::{Error, ErrorCode};
use herald_core::gateway::{Action, Client};
use herald_core::ids::RoomId;
use herald_tests::sio::{decode, Got};
use herald_tests::{no_handshake_auth, room_id, token, user, verifier, DAY, T0};
use serde_json::{json, Value};

/// Pings far apart (past every token's end): heartbeats play no part here, and a client's
/// deadline is its dialect's.
const SETTINGS: Settings = Settings {
    ping_interval_ms: 100 * DAY,
    ping_timeout_ms: 100 * DAY,
    max_payload: 1_000_000,
    max_backlog_bytes: 4 << 20,
};

const NOTIFICATIONS: &str = "inbox:alice";
const CONTROL: &str = "sessions:alice";
const MODEL: &str = "3drepo:acme:p1:m1";

fn commands(actions: &[Action]) -> Vec<(String, RoomCommand)> {
    let room = |(room, command): (&RoomId, &RoomCommand)| (room.as_str().to_owned(), command.clone());
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Room { room: r, command } => Some(room((r, command))),
            _ => None,
        })
        .collect()
}

fn leave(room: &str) -> (String, RoomCommand) {
    (room.to_owned(), RoomCommand::Leave)
}

fn success(action: &str, data: Value) -> Got {
    Got::Event("message".into(), json!({ "event": "success", "data": { "action": action, "data": data } }))
}

fn error(code: &str, message: &str, action: &str, data: Value) -> Got {
    Got::Event(
        "error".into(),
        json!({ "code": code, "message": message, "details": { "action": action, "data": data } }),
    )
}

fn welcome(room: &str) -> String {
    format!(r#"{{"type":"welcome","conn":"c","user":{{"id":"alice"}},"room":"{room}","seq":0}}"#)
}

fn message(room: &str, event: &str, data: &str) -> String {
    format!(
        r#"{{"type":"message","room":"{room}","seq":1,"id":"m1","event":"{event}","data":{data},"from":{{"id":"app"}},"ts":1}}"#
    )
}

const MODEL_DATA: fn() -> Value = || json!({ "teamspace": "acme", "project": "p1", "model": "m1" });

/// A 3drepo client over a websocket, at its own time.
struct Repo {
    client: Client,
    now: i64,
}

impl Repo {
    fn open(auth: Auth) -> Self {
        Self::open_at(T0, auth)
    }

    fn open_at(now: i64, auth: Auth) -> Self {
        let sid = "0000000000000001.0000000000000001".to_owned();
        let (client, _) = Client::open(now, sid, SETTINGS, Transport::Websocket, DialectKind::ThreeDRepo, auth);
        Self { client, now }
    }

    /// Connected to `/` with `connect` (`40…`), expecting it accepted with socket id `socket-1`.
    fn connected(auth: Auth, connect: &str) -> (Self, Vec<Action>) {
        let mut repo = Self::open(auth);
        let actions = repo.frame(connect);
        assert_eq!(decode(&actions), vec![Got::Connected(json!({ "sid": "socket-1" }))]);
        (repo, actions)
    }

    /// alice, logged in with a token in the auth payload (`claims` added to it).
    fn alice(claims: Value) -> Self {
        let (repo, actions) =
            Self::connected(no_handshake_auth(), &format!(r#"40{{"token":"{}"}}"#, token("alice", claims)));
        assert_eq!(commands(&actions), vec![(CONTROL.to_owned(), join_command(None))], "the hidden control room");
        repo
    }

    fn frame(&mut self, text: &str) -> Vec<Action> {
        let mut n = 0;
        let mut ids = move || {
            n += 1;
            format!("socket-{n}")
        };
        self.client.on_frame(self.now, Frame::Text(text.into()), &mut ids)
    }

    fn emit(&mut self, event: &str, data: Value) -> Vec<Action> {
        self.frame(&format!("42{}", json!([event, data])))
    }

    fn room(&mut self, room: &str, event: RoomEvent<'_>) -> Vec<Action> {
        let mut ids = || unreachable!("rooms' events need no ids");
        self.client
            .on_room(self.now, &room_id(room), event, &mut ids)
            .unwrap_or_else(|| panic!("not a member of {room}"))
    }

    fn frame_from(&mut self, room: &str, text: &str) -> Vec<Got> {
        decode(&self.room(room, RoomEvent::Frame(text)))
    }

    fn tick(&mut self, at: i64) -> Vec<Action> {
        self.now = at;
        let mut ids = || unreachable!("ticks need no ids");
        self.client.on_tick(at, &mut ids)
    }

    /// Joins `data`'s room `room`, welcomed.
    fn joined(&mut self, room: &str, data: Value) {
        let actions = self.emit("join", data.clone());
        assert_eq!(commands(&actions), vec![(room.to_owned(), join_command(Some("socket-1")))]);
        assert_eq!(self.frame_from(room, &welcome(room)), vec![success("join", data)]);
    }
}

fn ends_at() -> i64 {
    T0 + DAY + i64::from(verifier().leeway_seconds) * 1000
}

fn join_command(tag: Option<&str>) -> RoomCommand {
    RoomCommand::Join { user: user("alice"), expires_at: ends_at(), since: None, tag: tag.map(str::to_owned) }
}

#[test]
fn a_join_is_answered_success_once_the_room_welcomed_it_and_the_rooms_messages_arrive_under_their_own_names() {
    let mut repo = Repo::alice(json!({}));
    let actions = repo.emit("join", json!({ "notifications": true }));
    assert_eq!(decode(&actions), vec![], "nothing is answered before the room does");
    assert_eq!(commands(&actions), vec![(NOTIFICATIONS.to_owned(), join_command(Some("socket-1")))]);
    assert_eq!(
        repo.frame_from(NOTIFICATIONS, &welcome(NOTIFICATIONS)),
        vec![success("join", json!({ "notifications": true }))]
    );
    let presence = r#"{"type":"presence","members":[{"id":"alice"}]}"#;
    assert_eq!(repo.frame_from(NOTIFICATIONS, presence), vec![], "presence is not part of 3D Repo's protocol");
    assert_eq!(repo.frame_from(NOTIFICATIONS, r#"{"type":"joined","user":{"id":"bob"}}"#), vec![]);

    let imported = message(NOTIFICATIONS, "importSuccess", r#"{"model":"m1","n":[1,2]}"#);
    assert_eq!(
        repo.frame_from(NOTIFICATIONS, &imported),
        vec![Got::Event("importSuccess".into(), json!({ "model": "m1", "n": [1, 2] }))]
    );

    repo.joined(MODEL, MODEL_DATA());
    let revision = message(MODEL, "containerNewRevision", r#""r2""#);
    assert_eq!(repo.frame_from(MODEL, &revision), vec![Got::Event("containerNewRevision".into(), json!("r2"))]);
}

#[test]
fn a_leave_is_answered_once_the_room_let_go_and_nothing_of_the_room_arrives_after_it() {
    let mut repo = Repo::alice(json!({}));
    repo.joined(MODEL, MODEL_DATA());
    let actions = repo.emit("leave", MODEL_DATA());
    assert_eq!((decode(&actions), commands(&actions)), (vec![], vec![leave(MODEL)]));
    assert_eq!(repo.frame_from(MODEL, &message(MODEL, "late", "1")), vec![], "the client asked to leave");
    assert_eq!(decode(&repo.room(MODEL, RoomEvent::Closed)), vec![success("leave", MODEL_DATA())]);
}

#[test]
fn joining_twice_and_leaving_a_room_never_joined_succeed_as_with_3d_repo() {
    let mut repo = Repo::alice(json!({}));
    let first = json!({ "notifications": true });
    let second = json!({ "notifications": true, "again": 1 });
    repo.emit("join", first.clone());
    let actions = repo.emit("join", second.clone());
    assert_eq!((decode(&actions), commands(&actions)), (vec![], vec![]), "one membership; the welcome answers both");
    let answers = repo.frame_from(NOTIFICATIONS, &welcome(NOTIFICATIONS));
    assert_eq!(answers, vec![success("join", first.clone()), success("join", second)]);
    let actions = repo.emit("join", first.clone());
    assert_eq!((decode(&actions), commands(&actions)), (vec![success("join", first)], vec![]));
    let actions = repo.emit("leave", MODEL_DATA());
    assert_eq!((decode(&actions), commands(&actions)), (vec![success("leave", MODEL_DATA())], vec![]));
}

#[test]
fn a_join_asked_while_leaving_waits_for_the_room_to_let_go_then_joins_again() {
    let mut repo = Repo::alice(json!({}));
    repo.joined(MODEL, MODEL_DATA());
    repo.emit("leave", MODEL_DATA());
    let actions = repo.emit("join", MODEL_DATA());
    assert_eq!((decode(&actions), commands(&actions)), (vec![], vec![]), "not sent before the leave is done");
    let actions = repo.room(MODEL, RoomEvent::Closed);
    assert_eq!(decode(&actions), vec![success("leave", MODEL_DATA())]);
    assert_eq!(commands(&actions), vec![(MODEL.to_owned(), join_command(Some("socket-1")))]);
    assert_eq!(repo.frame_from(MODEL, &welcome(MODEL)), vec![success("join", MODEL_DATA())]);
}

#[test]
fn a_disconnect_then_a_new_connect_and_join_on_the_same_session_keep_the_new_memberships() {
    let mut repo = Repo::alice(json!({}));
    repo.joined(MODEL, MODEL_DATA());
    repo.frame_from(CONTROL, &welcome(CONTROL));
    // Out of the namespace and back at once, then the same model again: both rooms are being
    // left, so the control room's join and the model's wait for them to let go.
    let actions = repo.frame("41");
    assert_eq!(commands(&actions), vec![leave(MODEL), leave(CONTROL)]);
    let actions = repo.frame(&format!(r#"40{{"token":"{}"}}"#, token("alice", json!({}))));
    assert_eq!(decode(&actions), vec![Got::Connected(json!({ "sid": "socket-1" }))]);
    assert_eq!(commands(&actions), vec![], "the control room's join waits");
    assert_eq!(commands(&repo.emit("join", MODEL_DATA())), vec![], "the model's join waits");
    let actions = repo.room(CONTROL, RoomEvent::Closed);
    assert_eq!(commands(&actions), vec![(CONTROL.to_owned(), join_command(None))]);
    let actions = repo.room(MODEL, RoomEvent::Closed);
    assert_eq!(decode(&actions), vec![], "the old membership owed nothing more");
    assert_eq!(commands(&actions), vec![(MODEL.to_owned(), join_command(Some("socket-1")))]);
    assert_eq!(repo.frame_from(MODEL, &welcome(MODEL)), vec![success("join", MODEL_DATA())]);
    // The new control membership works: an admin's logout reaches the session.
    repo.frame_from(CONTROL, &welcome(CONTROL));
    let logout = message(CONTROL, "loggedOut", r#"{"reason":"Password changed"}"#);
    let got = repo.frame_from(CONTROL, &logout);
    assert_eq!(got[0], Got::Event("loggedOut".into(), json!({ "reason": "Password changed" })));
}

#[test]
fn what_the_rooms_a_session_left_say_afterwards_changes_nothing() {
    let mut repo = Repo::alice(json!({}));
    repo.joined(MODEL, MODEL_DATA());
    repo.frame_from(CONTROL, &welcome(CONTROL));
    repo.frame("41");
    let actions = repo.frame(&format!(r#"40{{"token":"{}"}}"#, token("alice", json!({}))));
    assert_eq!(decode(&actions), vec![Got::Connected(json!({ "sid": "socket-1" }))]);
    // The model room ends the old membership on its own (the token it was joined with ran
    // out) before it had the leave: neither a logout of the new login nor a refusal.
    let expired =
        r#"{"type":"error","code":"token_expired","message":"the token this connection opened with has expired"}"#;
    assert_eq!(repo.frame_from(MODEL, expired), vec![]);
    assert_eq!(decode(&repo.room(MODEL, RoomEvent::Closed)), vec![]);
    assert!(repo.client.deadline().is_some_and(|at| at > repo.now + CLOSE_GRACE_MS), "not logged out");
}

#[test]
fn a_leave_right_after_a_join_answers_both_in_order() {
    let mut repo = Repo::alice(json!({}));
    repo.emit("join", MODEL_DATA());
    let actions = repo.emit("leave", MODEL_DATA());
    assert_eq!(commands(&actions), vec![leave(MODEL)], "commands keep their order: the room welcomes, then lets go");
    assert_eq!(repo.frame_from(MODEL, &welcome(MODEL)), vec![success("join", MODEL_DATA())]);
    assert_eq!(decode(&repo.room(MODEL, RoomEvent::Closed)), vec![success("leave", MODEL_DATA())]);
}

#[test]
fn without_a_valid_token_the_socket_connects_but_every_join_and_leave_is_unauthorised_and_it_stays_usable() {
    let no_token = "You are not logged in: no token (give it in the auth payload {\"token\": \"<jwt>\"}, an Authorization header, ?token= or the session cookie)";
    let cases = [
        ("40".to_owned(), no_token.to_owned()),
        (r#"40{"token":"not.a.jwt"}"#.to_owned(), "You are not logged in: the token is not a JWT".to_owned()),
        (r#"40{"token":7}"#.to_owned(), "You are not logged in: `token` must be a string (a JWT)".to_owned()),
    ];
    for (connect, why) in cases {
        let (mut repo, actions) = Repo::connected(no_handshake_auth(), &connect);
        assert_eq!(commands(&actions), vec![], "no control room without a login");
        let data = json!({ "notifications": true });
        for action in ["join", "leave", "join"] {
            let actions = repo.emit(action, data.clone());
            let got = decode(&actions);
            let [Got::Event(name, body)] = got.as_slice() else { panic!("{got:?}") };
            assert_eq!(
                (name.as_str(), &body["code"], &body["details"]),
                ("error", &json!("UNAUTHORISED"), &json!({ "action": action, "data": data }))
            );
            assert!(body["message"].as_str().unwrap().starts_with(&why), "{connect}: {body}");
            assert_eq!(commands(&actions), vec![]);
        }
        assert_eq!(repo.client.deadline(), Some(T0 + 100 * DAY), "no token to run out; the session lives on");
    }
    // An expired token (here: connecting two days after it was issued) says so.
    let mut late =
        Repo::open_at(T0 + 2 * DAY, Auth { handshake_token: Some(token("alice", json!({}))), ..no_handshake_auth() });
    assert_eq!(decode(&late.frame("40")), vec![Got::Connected(json!({ "sid": "socket-1" }))]);
    let got = decode(&late.emit("join", json!({ "notifications": true })));
    assert_eq!(
        got,
        vec![error(
            "UNAUTHORISED",
            "You are not logged in: the token has expired",
            "join",
            json!({ "notifications": true })
        )]
    );
}

#[test]
fn a_token_from_the_handshake_logs_in_and_one_in_the_auth_payload_wins_over_it() {
    let handshake = Auth { handshake_token: Some(token("alice", json!({}))), ..no_handshake_auth() };
    let (_, actions) = Repo::connected(handshake, "40");
    assert_eq!(commands(&actions), vec![(CONTROL.to_owned(), join_command(None))]);
    let bad_handshake = Auth { handshake_token: Some("bad".into()), ..no_handshake_auth() };
    let (_, actions) = Repo::connected(bad_handshake, &format!(r#"40{{"token":"{}"}}"#, token("alice", json!({}))));
    assert_eq!(commands(&actions), vec![(CONTROL.to_owned(), join_command(None))]);
}

#[test]
fn malformed_payloads_unknown_events_and_models_the_token_does_not_allow_are_refused_in_3d_repos_shape() {
    let mut repo = Repo::alice(json!({ "rooms": ["3drepo:acme:*"] }));
    let cannot = |why: &str| format!("Cannot identify the room indicated: {why}");
    let refusals = [
        (
            "join",
            json!("notifications"),
            "ROOM_NOT_FOUND",
            cannot("expected {notifications: true} or {teamspace, project, model}"),
        ),
        ("join", json!({ "teamspace": "acme", "project": "p1" }), "ROOM_NOT_FOUND", cannot("`model` is missing")),
        (
            "leave",
            json!({ "notifications": true, "model": "m" }),
            "ROOM_NOT_FOUND",
            cannot("give either notifications: true or teamspace, project and model, not both"),
        ),
        (
            "join",
            json!({ "teamspace": "other", "project": "p1", "model": "m1" }),
            "ROOM_NOT_FOUND",
            "Model not found or not accessible: the token's `rooms` claim does not include 3drepo:other:p1:m1".into(),
        ),
        (
            "subscribe",
            json!({ "notifications": true }),
            "UNKNOWN_EVENT",
            "unknown event \"subscribe\": this service takes \"join\" and \"leave\"".into(),
        ),
    ];
    for (event, data, code, message) in refusals {
        let actions = repo.emit(event, data.clone());
        assert_eq!(decode(&actions), vec![error(code, &message, event, data)]);
        assert_eq!(commands(&actions), vec![]);
    }
    // A join without data.
    assert_eq!(
        decode(&repo.frame(r#"42["join"]"#)),
        vec![error(
            "ROOM_NOT_FOUND",
            &cannot("expected {notifications: true} or {teamspace, project, model}"),
            "join",
            Value::Null
        )]
    );
    // A client that asks for an ack gets an empty one besides the answer.
    assert_eq!(
        decode(&repo.frame(r#"427["leave",{"notifications":true}]"#)),
        vec![success("leave", json!({ "notifications": true })), Got::Ack(7, Value::Null)]
    );
    // Still usable: an allowed model joins.
    repo.joined(MODEL, MODEL_DATA());
    // Other namespaces do not exist.
    assert_eq!(decode(&repo.frame("40/admin,")), vec![Got::ConnectError(json!({ "message": "Invalid namespace" }))]);
}

#[test]
fn what_a_room_refuses_or_a_room_that_fails_is_an_error_with_the_join_it_concerns() {
    let mut repo = Repo::alice(json!({}));
    repo.emit("join", MODEL_DATA());
    let full = r#"{"type":"error","code":"room_full","message":"room 3drepo:acme:p1:m1 already has 10 connections, its limit"}"#;
    let message = "room 3drepo:acme:p1:m1 already has 10 connections, its limit";
    assert_eq!(repo.frame_from(MODEL, full), vec![error("ROOM_FULL", message, "join", MODEL_DATA())]);
    assert_eq!(decode(&repo.room(MODEL, RoomEvent::Closed)), vec![], "the refusal was told once");
    repo.joined(MODEL, MODEL_DATA());

    let down = Error::internal("the room could not be reached");
    let got = decode(&repo.room(MODEL, RoomEvent::Failed(&down)));
    assert_eq!(got, vec![error("INTERNAL", "the room could not be reached", "join", MODEL_DATA())]);
    repo.joined(MODEL, MODEL_DATA());
}

#[test]
fn the_token_running_out_logs_out_disconnects_leaves_every_room_and_closes_after_the_grace() {
    let mut repo = Repo::alice(json!({}));
    repo.joined(NOTIFICATIONS, json!({ "notifications": true }));
    repo.joined(MODEL, MODEL_DATA());
    assert_eq!(repo.client.deadline(), Some(ends_at()));
    assert_eq!(decode(&repo.tick(ends_at() - 1)), vec![]);
    let actions = repo.tick(ends_at());
    assert_eq!(decode(&actions), vec![Got::Event("loggedOut".into(), json!({ "reason": EXPIRED })), Got::Disconnect]);
    assert_eq!(commands(&actions), vec![leave(MODEL), leave(NOTIFICATIONS), leave(CONTROL)]);
    assert!(!actions.iter().any(|a| matches!(a, Action::CloseSocket | Action::Closed(_))), "the client closes first");
    assert_eq!(repo.client.deadline(), Some(ends_at() + CLOSE_GRACE_MS));
    let got = decode(&repo.emit("join", json!({ "notifications": true })));
    let [Got::Event(_, body)] = got.as_slice() else { panic!("{got:?}") };
    assert_eq!(
        (&body["code"], &body["message"]),
        (&json!("UNAUTHORISED"), &json!(format!("You are not logged in: this session was logged out ({EXPIRED})")))
    );
    let actions = repo.tick(ends_at() + CLOSE_GRACE_MS);
    assert_eq!(actions, vec![Action::CloseSocket, Action::Closed(CloseReason::ServerClose)]);
}

#[test]
fn a_logged_out_message_in_the_control_room_logs_out_with_its_reason() {
    let mut repo = Repo::alice(json!({}));
    repo.joined(MODEL, MODEL_DATA());
    assert_eq!(repo.frame_from(CONTROL, &welcome(CONTROL)), vec![], "the control room is not shown");
    let actions =
        repo.room(CONTROL, RoomEvent::Frame(&message(CONTROL, "loggedOut", r#"{"reason":"Password changed"}"#)));
    assert_eq!(
        decode(&actions),
        vec![Got::Event("loggedOut".into(), json!({ "reason": "Password changed" })), Got::Disconnect]
    );
    assert_eq!(commands(&actions), vec![leave(MODEL), leave(CONTROL)]);
    // The rooms letting go afterwards tell the client nothing, and are then forgotten.
    let mut ids = || unreachable!();
    assert_eq!(repo.client.on_room(repo.now, &room_id(MODEL), RoomEvent::Closed, &mut ids), Some(vec![]));
    assert_eq!(repo.client.on_room(repo.now, &room_id(MODEL), RoomEvent::Closed, &mut ids), None);
}

#[test]
fn a_logged_out_or_socket_io_reserved_event_published_in_a_model_room_is_not_passed_on() {
    let mut repo = Repo::alice(json!({}));
    repo.joined(MODEL, MODEL_DATA());
    for event in ["loggedOut", "disconnect", "connect_error"] {
        let got = repo.frame_from(MODEL, &message(MODEL, event, r#"{"reason":"x"}"#));
        assert_eq!(got, vec![], "{event} must not reach the client from a model room");
    }
    assert_eq!(repo.client.deadline(), Some(ends_at()), "still logged in");
    let got = repo.frame_from(MODEL, &message(MODEL, "issueUpdated", r#"{"id":1}"#));
    assert_eq!(got, vec![Got::Event("issueUpdated".into(), json!({ "id": 1 }))]);
}

#[test]
fn the_control_room_expiring_the_member_logs_out_as_the_token_running_out_does() {
    let mut repo = Repo::alice(json!({}));
    let expired = r#"{"type":"error","code":"token_expired","message":"the token this connection opened with has expired; reconnect with a new one"}"#;
    let got = repo.frame_from(CONTROL, expired);
    assert_eq!(got, vec![Got::Event("loggedOut".into(), json!({ "reason": EXPIRED })), Got::Disconnect]);
}

#[test]
fn control_rooms_are_for_admin_tokens_only_whatever_the_rooms_claim() {
    let control = room_id(CONTROL);
    let anyone = verifier().verify(&token("mallory", json!({})), T0).unwrap();
    assert_eq!(anyone.require_room(&control).unwrap_err().code, ErrorCode::RoomForbidden);
    let wildcard = verifier().verify(&token("mallory", json!({ "rooms": ["*"] })), T0).unwrap();
    assert_eq!(wildcard.require_room(&control).unwrap_err().code, ErrorCode::RoomForbidden);
    let admin = verifier().verify(&token("ops", json!({ "role": "admin" })), T0).unwrap();
    assert!(admin.require_room(&control).is_ok());

    // The native Socket.IO dialect, which joins any room by id, refuses it too.
    let (mut client, _) = Client::open(
        T0,
        "0000000000000002.0000000000000001".into(),
        SETTINGS,
        Transport::Websocket,
        DialectKind::Native,
        no_handshake_auth(),
    );
    let mut ids = || "s".to_owned();
    let connect = format!(r#"40{{"token":"{}"}}"#, token("mallory", json!({})));
    client.on_frame(T0, Frame::Text(connect), &mut ids);
    let actions = client.on_frame(T0, Frame::Text(format!(r#"421{}"#, json!(["join", { "room": CONTROL }]))), &mut ids);
    assert_eq!(commands(&actions), vec![]);
    let got = decode(&actions);
    let [Got::Ack(1, answer)] = got.as_slice() else { panic!("{got:?}") };
    assert_eq!(answer["code"], "room_forbidden");
}
