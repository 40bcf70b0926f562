//! The `workspace` dialect's translation, natively: first the room's activity feature alone
//! (status and focus frames over fake connections), then workspace clients (the gateway over a
//! websocket transport) held by homes in one workspace room, the calls between them carried
//! by hand as the object shells carry them.

use herald_core::config::Limits;
use herald_core::dialect::{Auth, DialectKind};
use herald_core::engineio::session::{Settings, Transport};
use herald_core::engineio::Frame;
use herald_core::gateway::{Action, Client};
use herald_core::host::Codec;
use herald_core::ids::ConnId;
use herald_core::message::Draft;
use herald_core::protocol::Status;
use herald_core::room::{Activity, ActivityRows};
use herald_tests::sio::Sio;
use herald_tests::world::World;
use herald_tests::{no_handshake_auth, token, user, DAY, T0};
use serde_json::{json, Value};
use std::collections::BTreeMap;

// --- The room's activity: status and focus frames ---

fn status(id: &str, name: &str, status: &str) -> Value {
    json!({ "type": "status", "user": { "id": id, "name": name }, "status": status })
}

/// The `status` frames `id` received since the last take, as `(user, status)`.
fn statuses(h: &mut World, id: &str) -> Vec<(String, String)> {
    let frames = h.take_type(id, "status");
    frames.iter().map(|f| (f["user"]["id"].as_str().unwrap().into(), f["status"].as_str().unwrap().into())).collect()
}

fn set(h: &mut World, id: &str, value: &str) {
    h.say(id, json!({ "type": "status", "status": value }));
}

/// A room with alice on two connections (a1, a2) and bob on one (b1), every inbox empty.
fn two_users() -> World {
    let mut h = World::new("lobby");
    h.connect("a1", &user("alice"), None, Codec::Native);
    h.connect("a2", &user("alice"), None, Codec::Native);
    h.connect("b1", &user("bob"), None, Codec::Native);
    for id in ["a1", "a2", "b1"] {
        h.take_frames(id);
    }
    h
}

#[test]
fn a_users_status_is_announced_to_everyone_once_however_many_connections_set_it() {
    let mut h = two_users();
    set(&mut h, "a1", "online");
    assert_eq!(h.take_frames("b1"), vec![status("alice", "alice name", "online")], "the exact frame");
    assert_eq!(statuses(&mut h, "a1"), vec![("alice".into(), "online".into())], "the user's own connections too");
    h.take_frames("a2");
    set(&mut h, "a2", "online");
    set(&mut h, "a1", "online");
    for id in ["a1", "a2", "b1"] {
        assert_eq!(h.take_frames(id), Vec::<Value>::new(), "{id}: no change, nothing announced");
    }
    assert_eq!(h.host.room().status_of(&user("alice").id), Status::Online);
}

#[test]
fn online_on_one_connection_beats_idle_on_another_and_idle_beats_offline() {
    let mut h = two_users();
    set(&mut h, "a1", "idle");
    assert_eq!(statuses(&mut h, "b1"), vec![("alice".into(), "idle".into())]);
    set(&mut h, "a2", "online");
    assert_eq!(statuses(&mut h, "b1"), vec![("alice".into(), "online".into())]);
    set(&mut h, "a2", "offline");
    assert_eq!(statuses(&mut h, "b1"), vec![("alice".into(), "idle".into())], "back to a1's idle");
    set(&mut h, "a1", "offline");
    assert_eq!(statuses(&mut h, "b1"), vec![("alice".into(), "offline".into())]);
    h.take_frames("a1");
    set(&mut h, "b1", "offline");
    assert!(statuses(&mut h, "a1").is_empty(), "a user who set nothing is already offline");
}

#[test]
fn connections_closing_announce_the_status_left_and_the_last_one_announces_offline_before_left() {
    let mut h = two_users();
    set(&mut h, "a1", "online");
    set(&mut h, "a2", "idle");
    h.take_frames("b1");
    h.close("a1");
    assert_eq!(statuses(&mut h, "b1"), vec![("alice".into(), "idle".into())]);
    h.close("a2");
    let got = h.take_frames("b1");
    assert_eq!(
        got,
        vec![
            status("alice", "alice name", "offline"),
            json!({ "type": "left", "user": { "id": "alice", "name": "alice name" } })
        ]
    );
    // A user who never set a status leaves without one.
    h.connect("c1", &user("carol"), None, Codec::Native);
    h.take_frames("b1");
    h.close("c1");
    assert_eq!(h.take_type("b1", "status"), Vec::<Value>::new());
    assert_eq!(h.db.count("conn_activity"), 0, "closed connections' activity is forgotten");
}

#[test]
fn a_newcomer_is_told_the_status_of_every_user_who_is_not_offline() {
    let mut h = two_users();
    set(&mut h, "a1", "idle");
    set(&mut h, "a2", "online");
    set(&mut h, "b1", "offline");
    h.connect("c1", &user("carol"), None, Codec::Native);
    let got = h.take_frames("c1");
    let kinds: Vec<&str> = got.iter().map(|f| f["type"].as_str().unwrap()).collect();
    assert_eq!(kinds, vec!["welcome", "presence", "status"]);
    assert_eq!(got[2], status("alice", "alice name", "online"));
}

#[test]
fn a_second_connection_taking_the_focus_clears_the_first_and_tells_only_that_users_connections() {
    let mut h = two_users();
    h.say("a1", json!({ "type": "focus", "focus": "general" }));
    h.say("b1", json!({ "type": "focus", "focus": "general" }));
    for id in ["a1", "a2", "b1"] {
        assert_eq!(h.take_frames(id), Vec::<Value>::new(), "{id}: a first focus is nobody's business");
    }
    h.say("a2", json!({ "type": "focus", "focus": "random" }));
    let moved =
        json!({ "type": "moved", "user": { "id": "alice", "name": "alice name" }, "conn": "a2", "focus": "random" });
    assert_eq!(h.take_frames("a1"), vec![moved.clone()]);
    assert_eq!(h.take_frames("a2"), vec![moved]);
    assert_eq!(h.take_frames("b1"), Vec::<Value>::new());
    assert_eq!(h.host.room().activity(&ConnId("a1".into())).unwrap().focus, None);
    assert_eq!(h.host.room().activity(&ConnId("a2".into())).unwrap().focus.as_deref(), Some("random"));
    // The holder changing its focus, or clearing it, moves nothing.
    h.say("a2", json!({ "type": "focus", "focus": "general" }));
    h.say("a2", json!({ "type": "focus", "focus": null }));
    h.say("a1", json!({ "type": "focus", "focus": "general" }));
    assert_eq!(h.take_frames("a1"), Vec::<Value>::new());
    assert_eq!(h.stored_activity("a2"), None, "a connection with no activity left is forgotten");
}

#[test]
fn bad_status_and_focus_frames_get_coded_errors_echoing_the_transaction_and_the_socket_stays() {
    let mut h = two_users();
    h.say("a1", json!({ "type": "status", "status": "away", "transaction": "t1" }));
    h.say("a1", json!({ "type": "status", "transaction": 2 }));
    h.say("a1", json!({ "type": "focus", "focus": 5 }));
    h.say("a1", json!({ "type": "focus", "focus": "x".repeat(129) }));
    let got = h.take_frames("a1");
    let codes: Vec<(&str, &Value)> = got.iter().map(|f| (f["code"].as_str().unwrap(), &f["transaction"])).collect();
    assert_eq!(
        codes,
        vec![
            ("invalid_field", &json!("t1")),
            ("invalid_field", &json!(2)),
            ("invalid_field", &Value::Null),
            ("invalid_field", &Value::Null)
        ]
    );
    assert_eq!(got[0]["message"], "`status` must be \"online\", \"idle\" or \"offline\"");
    assert!(h.is_open("a1"));
    assert!(h.take_frames("b1").is_empty());
}

#[test]
fn a_room_that_wakes_from_hibernation_keeps_each_connections_status_and_focus() {
    let mut h = two_users();
    set(&mut h, "a1", "online");
    set(&mut h, "a2", "idle");
    h.say("a1", json!({ "type": "focus", "focus": "general" }));
    // A row of a connection that closed while the room was away is dropped as it wakes.
    let gone = Activity { status: Some(Status::Online), focus: None };
    ActivityRows::open(h.db.clone()).unwrap().put(&ConnId("gone".into()), Some(&gone)).unwrap();
    h.wake();
    assert_eq!(h.db.count("conn_activity"), 2, "the row of a connection that did not come back is dropped");
    h.connect("b2", &user("bob"), None, Codec::Native);
    let expected = Activity { status: Some(Status::Online), focus: Some("general".into()) };
    assert_eq!(h.host.room().activity(&ConnId("a1".into())), Some(&expected));
    // a1 going offline leaves a2's idle: one announcement, not a fresh "online" guess.
    h.take_frames("b2");
    h.say("a1", json!({ "type": "status", "status": "offline" }));
    let got = h.take_type("b2", "status");
    assert_eq!(got, vec![status("alice", "alice name", "idle")]);
    h.say("a2", json!({ "type": "focus", "focus": "random" }));
    assert_eq!(h.take_type("a1", "moved").len(), 1, "the focus a1 held before the wake still counts");
}

// --- Workspace clients in a room ---

/// Pings far apart (beyond a token's day): heartbeats play no part here.
const SETTINGS: Settings = Settings {
    ping_interval_ms: 7 * DAY,
    ping_timeout_ms: 7 * DAY,
    max_payload: 1_000_000,
    max_backlog_bytes: 4 << 20,
};
const ROOM: &str = "workspace:w1";

/// Alice's phone and laptop, Bob's laptop: on two homes.
const ALICE_PHONE: &str = "home-a.alice-phone";
const ALICE_LAPTOP: &str = "home-b.alice-laptop";
const BOB: &str = "home-a.bob";

/// One workspace room, workspace clients held by homes, and REST publishes: the shared world.
struct Ws {
    world: World,
    /// How many of each client's actions [`Ws::events`] has read.
    seen: BTreeMap<String, usize>,
}

impl std::ops::Deref for Ws {
    type Target = World;
    fn deref(&self) -> &World {
        &self.world
    }
}

impl std::ops::DerefMut for Ws {
    fn deref_mut(&mut self) -> &mut World {
        &mut self.world
    }
}

impl Ws {
    fn new() -> Self {
        Self::with(Limits::default())
    }

    fn with(limits: Limits) -> Self {
        Self { world: World::with(ROOM, limits, Default::default()), seen: BTreeMap::new() }
    }

    /// A client connected to `/` (no token needed for that), its socket id `socket-of-{sid}`.
    fn connect(&mut self, sid: &str) {
        let mut sio = Sio::of(DialectKind::Workspace, self.now, sid, auth());
        sio.client =
            Client::open(self.now, sid.into(), SETTINGS, Transport::Websocket, DialectKind::Workspace, auth()).0;
        sio.socket_id = Some(format!("socket-of-{sid}"));
        self.client(sid, sio);
        self.frame(sid, "40");
        assert_eq!(self.events(sid), Vec::<Value>::new(), "the CONNECT answer is not an event");
    }

    fn emit(&mut self, sid: &str, event: &str, argument: Value) {
        self.world.emit(sid, event, argument, None);
    }

    /// A connected client that authenticated as `sub` in w1 (settled, its events taken).
    fn authed(&mut self, sid: &str, sub: &str) {
        self.connect(sid);
        self.emit(sid, "auth", json!({ "token": token(sub, json!({})), "workspaceId": "w1" }));
        self.settle();
        self.events(sid);
    }

    fn rest(&mut self, event: &str, data: Value, except: Option<&str>) {
        let draft = Draft::from_rest_body(&json!({ "event": event, "data": data }).to_string(), None).unwrap();
        self.world.publish_rest(&user("app"), draft, except);
    }

    /// Every event `sid` received since the last call, as `[event, argument]`.
    fn events(&mut self, sid: &str) -> Vec<Value> {
        let sent = self.world.sent.get(sid).map(Vec::as_slice).unwrap_or_default();
        let seen = self.seen.entry(sid.into()).or_default();
        let events = sent[*seen..]
            .iter()
            .filter_map(|action| match action {
                Action::SendFrame(Frame::Text(text)) => {
                    text.strip_prefix("42").map(|p| serde_json::from_str(p).unwrap())
                }
                _ => None,
            })
            .collect();
        *seen = sent.len();
        events
    }
}

fn auth() -> Auth {
    no_handshake_auth()
}

/// A token for `sub` issued at `at`, valid for a day ([`token`] is issued at [`T0`]).
fn token_from(at: i64, sub: &str) -> String {
    use jwt_compact::alg::{Hs256, Hs256Key};
    use jwt_compact::{AlgorithmExt, Claims, Header, TimeOptions};
    let issued = chrono::DateTime::from_timestamp_millis(at).unwrap();
    let time = TimeOptions::new(chrono::Duration::seconds(0), move || issued);
    let claims =
        Claims::new(json!({ "sub": sub })).set_duration_and_issuance(&time, chrono::Duration::milliseconds(DAY));
    Hs256.token(&Header::empty(), &claims, &Hs256Key::new(herald_tests::SECRET)).unwrap()
}

fn ev(name: &str, argument: Value) -> Value {
    json!([name, argument])
}

#[test]
fn auth_joins_the_workspace_and_the_welcome_answers_auth_success_with_the_transaction() {
    let mut w = Ws::new();
    w.connect(ALICE_PHONE);
    let alice = token("alice", json!({ "rooms": ["workspace:*"] }));
    w.emit(ALICE_PHONE, "auth", json!({ "transaction": "tx-1", "token": alice, "workspaceId": "w1" }));
    assert_eq!(w.events(ALICE_PHONE), Vec::<Value>::new(), "answered by the room");
    w.emit(ALICE_PHONE, "select-channel", json!({ "channelId": "c1" }));
    let under_way = "this connection is not authenticated: `auth` is under way: wait for auth-success";
    let refused = json!({ "event": "select-channel", "message": under_way, "code": "not_authenticated" });
    assert_eq!(w.events(ALICE_PHONE), vec![ev("socket-api-error", refused)]);
    w.settle();
    assert_eq!(
        w.events(ALICE_PHONE),
        vec![
            ev("auth-success", json!({ "transaction": "tx-1", "userId": "alice" })),
            ev("online-status-updated", json!({ "userId": "alice", "onlineStatus": "online" })),
        ]
    );
    // Without a transaction, auth-success has none; onlineStatus idle is announced as such.
    w.connect(BOB);
    w.emit(BOB, "auth", json!({ "token": token("bob", json!({})), "workspaceId": "w1", "onlineStatus": "idle" }));
    w.settle();
    assert_eq!(
        w.events(BOB),
        vec![
            ev("auth-success", json!({ "userId": "bob" })),
            ev("online-status-updated", json!({ "userId": "alice", "onlineStatus": "online" })),
            ev("online-status-updated", json!({ "userId": "bob", "onlineStatus": "idle" })),
        ]
    );
    assert_eq!(
        w.events(ALICE_PHONE),
        vec![ev("online-status-updated", json!({ "userId": "bob", "onlineStatus": "idle" }))]
    );
    assert_eq!(w.host.room().tagged("socket-of-home-a.bob"), Some(&ConnId(BOB.into())), "joined under its socket id");
    // A second auth is refused; the session stays in the workspace.
    w.emit(BOB, "auth", json!({ "token": token("bob", json!({})), "workspaceId": "w2", "transaction": 9 }));
    let got = w.events(BOB);
    assert_eq!(got[0][1]["code"], "already_joined");
    assert_eq!(got[1][0], "socket-api-error-9");
}

#[test]
fn a_workspace_outside_the_tokens_rooms_claim_is_refused_and_another_auth_can_follow() {
    let mut w = Ws::new();
    w.connect(BOB);
    let limited = token("bob", json!({ "rooms": ["workspace:w2"] }));
    w.emit(BOB, "auth", json!({ "token": limited, "workspaceId": "w1", "transaction": "a" }));
    let message = "this token's `rooms` claim does not include room \"workspace:w1\"";
    assert_eq!(
        w.events(BOB),
        vec![
            ev("socket-api-error", json!({ "event": "auth", "message": message, "code": "room_forbidden" })),
            ev("socket-api-error-a", json!({ "message": message, "code": "room_forbidden" })),
        ]
    );
    w.emit(BOB, "auth", json!({ "token": token("bob", json!({})), "workspaceId": "w1" }));
    w.settle();
    assert_eq!(w.events(BOB)[0], ev("auth-success", json!({ "userId": "bob" })));
}

#[test]
fn selecting_unselecting_and_media_state_reach_every_member_with_the_seeds_shapes() {
    let mut w = Ws::new();
    w.authed(ALICE_PHONE, "alice");
    w.authed(BOB, "bob");
    w.events(ALICE_PHONE);
    w.emit(ALICE_PHONE, "select-channel", json!({ "channelId": "c1", "userMediaState": { "mic": true } }));
    w.emit(ALICE_PHONE, "update-media-state", json!({ "userMediaState": { "mic": false } }));
    w.emit(ALICE_PHONE, "select-channel", json!({ "channelId": "c2" }));
    w.emit(ALICE_PHONE, "unselect-channel", json!({}));
    w.settle();
    let expected = vec![
        ev("user-selected-channel", json!({ "userId": "alice", "channelId": "c1", "userMediaState": { "mic": true } })),
        ev("media-state-updated", json!({ "userId": "alice", "userMediaState": { "mic": false } })),
        ev("user-unselected-channel", json!({ "userId": "alice", "channelId": "c1" })),
        ev(
            "user-selected-channel",
            json!({ "userId": "alice", "channelId": "c2", "userMediaState": { "mic": false } }),
        ),
        ev("user-unselected-channel", json!({ "userId": "alice", "channelId": "c2" })),
    ];
    assert_eq!(w.events(BOB), expected);
    assert_eq!(w.events(ALICE_PHONE), expected, "the sender too");
    // Nothing selected any more.
    w.emit(ALICE_PHONE, "unselect-channel", json!({ "transaction": "u" }));
    let got = w.events(ALICE_PHONE);
    assert_eq!(
        got[0],
        ev(
            "socket-api-error",
            json!({ "event": "unselect-channel", "message": "no channel is selected on this connection", "code": "not_joined" })
        )
    );
}

#[test]
fn the_second_device_entering_a_channel_tells_all_the_users_clients_and_the_first_leaves_its_channel() {
    let mut w = Ws::new();
    w.authed(ALICE_PHONE, "alice");
    w.authed(ALICE_LAPTOP, "alice");
    w.authed(BOB, "bob");
    w.emit(ALICE_PHONE, "select-channel", json!({ "channelId": "c1", "userMediaState": {} }));
    w.settle();
    for sid in [ALICE_PHONE, ALICE_LAPTOP, BOB] {
        w.events(sid);
    }
    w.emit(ALICE_LAPTOP, "select-channel", json!({ "channelId": "c2", "userMediaState": { "cam": 1 } }));
    w.settle();
    let selected =
        ev("user-selected-channel", json!({ "userId": "alice", "channelId": "c2", "userMediaState": { "cam": 1 } }));
    let unselected = ev("user-unselected-channel", json!({ "userId": "alice", "channelId": "c1" }));
    let changed = ev("user-changed-device", Value::Null);
    assert_eq!(w.events(ALICE_PHONE), vec![changed.clone(), selected.clone(), unselected.clone()]);
    assert_eq!(w.events(ALICE_LAPTOP), vec![changed, selected.clone(), unselected.clone()]);
    assert_eq!(w.events(BOB), vec![selected, unselected], "other users see the channels, not the device change");
    // The phone no longer has a channel; the laptop does.
    w.emit(ALICE_PHONE, "unselect-channel", json!({}));
    assert_eq!(w.events(ALICE_PHONE)[0][1]["code"], "not_joined");
    // Entering the same channel from the other device does not unselect it.
    w.emit(ALICE_PHONE, "select-channel", json!({ "channelId": "c2" }));
    w.settle();
    let got = w.events(BOB);
    let media = json!({}); // the phone's own last media state
    assert_eq!(
        got,
        vec![ev("user-selected-channel", json!({ "userId": "alice", "channelId": "c2", "userMediaState": media }))]
    );
    assert_eq!(w.events(ALICE_LAPTOP)[0], ev("user-changed-device", Value::Null));
}

#[test]
fn online_status_is_announced_once_per_change_of_the_users_aggregate_across_devices() {
    let mut w = Ws::new();
    w.authed(BOB, "bob");
    w.authed(ALICE_PHONE, "alice");
    assert_eq!(
        w.events(BOB),
        vec![ev("online-status-updated", json!({ "userId": "alice", "onlineStatus": "online" }))]
    );
    w.authed(ALICE_LAPTOP, "alice");
    assert_eq!(w.events(BOB), Vec::<Value>::new(), "a second online device changes nothing");
    w.emit(ALICE_PHONE, "update-online-status", json!({ "onlineStatus": "idle" }));
    w.settle();
    assert_eq!(w.events(BOB), Vec::<Value>::new(), "the laptop is still online");
    w.emit(ALICE_LAPTOP, "update-online-status", json!({ "onlineStatus": "idle" }));
    w.settle();
    assert_eq!(w.events(BOB), vec![ev("online-status-updated", json!({ "userId": "alice", "onlineStatus": "idle" }))]);
    // The laptop's session ends, with a channel selected: unselected, and alice stays idle.
    w.emit(ALICE_LAPTOP, "select-channel", json!({ "channelId": "c9" }));
    w.settle();
    w.events(BOB);
    w.frame(ALICE_LAPTOP, "1");
    w.settle();
    assert_eq!(w.events(BOB), vec![ev("user-unselected-channel", json!({ "userId": "alice", "channelId": "c9" }))]);
    w.frame(ALICE_PHONE, "1");
    w.settle();
    assert_eq!(
        w.events(BOB),
        vec![ev("online-status-updated", json!({ "userId": "alice", "onlineStatus": "offline" }))]
    );
}

#[test]
fn events_the_app_publishes_over_rest_reach_every_client_as_themselves_except_a_named_socket() {
    let mut w = Ws::new();
    w.authed(ALICE_PHONE, "alice");
    w.authed(BOB, "bob");
    w.events(ALICE_PHONE);
    w.rest("channel-created", json!({ "channelId": "c7" }), None);
    w.rest("user-joined", json!({ "user": { "id": "carol", "name": "Carol" } }), Some("socket-of-home-a.bob"));
    assert_eq!(
        w.events(ALICE_PHONE),
        vec![
            ev("channel-created", json!({ "channelId": "c7" })),
            ev("user-joined", json!({ "user": { "id": "carol", "name": "Carol" } })),
        ]
    );
    assert_eq!(w.events(BOB), vec![ev("channel-created", json!({ "channelId": "c7" }))]);
}

#[test]
fn a_refusal_by_the_room_names_the_clients_event_and_transaction() {
    let limits = Limits { messages_per_second: 1, message_burst: 2, ..Limits::default() };
    let mut w = Ws::with(limits);
    w.authed(ALICE_PHONE, "alice");
    // auth's status frame took one of the two; the next one passes, the third is refused.
    w.emit(ALICE_PHONE, "update-online-status", json!({ "onlineStatus": "idle" }));
    w.emit(ALICE_PHONE, "update-media-state", json!({ "userMediaState": {}, "transaction": "m 1" }));
    w.settle();
    let got = w.events(ALICE_PHONE);
    assert_eq!(got[0], ev("online-status-updated", json!({ "userId": "alice", "onlineStatus": "idle" })));
    assert_eq!(got[1][0], "socket-api-error");
    assert_eq!(got[1][1]["event"], "update-media-state");
    assert_eq!(got[1][1]["code"], "rate_limited");
    assert_eq!(got[2][0], "socket-api-error-m 1");
    assert_eq!(got[2][1], json!({ "message": got[1][1]["message"], "code": "rate_limited" }));
}

#[test]
fn a_token_that_runs_out_ends_the_membership_with_an_auth_error_and_auth_can_start_again() {
    let mut w = Ws::new();
    w.authed(ALICE_PHONE, "alice");
    w.authed(BOB, "bob");
    w.events(ALICE_PHONE);
    w.now = T0 + 2 * DAY;
    w.fire_alarm();
    let got = w.events(ALICE_PHONE);
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0][1]["event"], "auth");
    assert_eq!(got[0][1]["code"], "token_expired");
    w.emit(ALICE_PHONE, "update-online-status", json!({ "onlineStatus": "idle" }));
    assert_eq!(w.events(ALICE_PHONE)[0][1]["code"], "not_authenticated");
    let fresh = token_from(w.now, "alice");
    w.emit(ALICE_PHONE, "auth", json!({ "token": fresh, "workspaceId": "w1" }));
    w.settle();
    assert_eq!(w.events(ALICE_PHONE)[0], ev("auth-success", json!({ "userId": "alice" })));
}

#[test]
fn malformed_events_after_auth_are_refused_by_field_and_the_connection_stays_in_the_workspace() {
    let mut w = Ws::new();
    w.authed(ALICE_PHONE, "alice");
    let cases = [
        ("select-channel", json!({}), "`channelId` is required"),
        ("select-channel", json!({ "channelId": 1 }), "`channelId` must be a string of 1 to 128 bytes"),
        ("select-channel", json!({ "channelId": "c", "userMediaState": "on" }), "`userMediaState` must be an object"),
        (
            "update-online-status",
            json!({ "onlineStatus": "busy" }),
            "`onlineStatus` must be \"online\", \"idle\" or \"offline\"",
        ),
        ("update-media-state", json!({}), "`userMediaState` is required"),
        ("update-media-state", json!([1]), "`arguments` must be one object"),
    ];
    for (event, argument, message) in cases {
        w.emit(ALICE_PHONE, event, argument);
        let got = w.events(ALICE_PHONE);
        assert_eq!(
            got,
            vec![ev("socket-api-error", json!({ "event": event, "message": message, "code": "invalid_field" }))]
        );
    }
    w.emit(ALICE_PHONE, "shout", json!({}));
    assert_eq!(w.events(ALICE_PHONE)[0][1]["code"], "unknown_type");
    w.emit(ALICE_PHONE, "select-channel", json!({ "channelId": "ok" }));
    w.settle();
    assert_eq!(w.events(ALICE_PHONE)[0][0], "user-selected-channel");
}

#[test]
fn a_second_device_authenticating_idle_while_the_first_is_online_changes_and_announces_nothing() {
    let mut w = Ws::new();
    w.authed(BOB, "bob");
    w.authed(ALICE_PHONE, "alice");
    assert_eq!(
        w.events(BOB),
        vec![ev("online-status-updated", json!({ "userId": "alice", "onlineStatus": "online" }))]
    );
    w.connect(ALICE_LAPTOP);
    let idle = json!({ "token": token("alice", json!({})), "workspaceId": "w1", "onlineStatus": "idle" });
    w.emit(ALICE_LAPTOP, "auth", idle);
    w.settle();
    assert_eq!(w.events(BOB), Vec::<Value>::new(), "alice is still online (the phone's)");
    let laptop = w.events(ALICE_LAPTOP);
    assert!(laptop.contains(&ev("online-status-updated", json!({ "userId": "alice", "onlineStatus": "online" }))));
    assert!(!laptop.iter().any(|e| e[1]["onlineStatus"] == "idle"), "{laptop:?}");
}

#[test]
fn a_disconnect_then_a_new_connect_and_auth_on_the_same_session_is_a_member_again() {
    let mut w = Ws::new();
    w.authed(BOB, "bob");
    w.authed(ALICE_PHONE, "alice");
    w.events(BOB);
    // Out of the namespace and back at once: the new auth waits for the room to let go.
    w.frame(ALICE_PHONE, "41");
    w.frame(ALICE_PHONE, "40");
    w.emit(ALICE_PHONE, "auth", json!({ "token": token("alice", json!({})), "workspaceId": "w1", "transaction": 2 }));
    w.settle();
    let events = w.events(ALICE_PHONE);
    assert!(events.contains(&ev("auth-success", json!({ "transaction": 2, "userId": "alice" }))), "{events:?}");
    assert!(!events.iter().any(|e| e[0] == "socket-api-error"), "{events:?}");
    w.rest("channel-created", json!({ "channelId": "c1" }), None);
    assert_eq!(w.events(ALICE_PHONE), vec![ev("channel-created", json!({ "channelId": "c1" }))]);
    assert_eq!(w.host.room().presence().len(), 2);
}
