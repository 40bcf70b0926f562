//! The tndata dialect in its room: tndata sockets beside native ones, chat messages and system
//! messages in the seed's shape, receipts moving read marks (stored, never backwards, restored on
//! load), digests that round-trip and refuse other conversations, refusals that leave the socket
//! usable, and history pages in both orders with read flags.

use herald_core::config::{Limits, Retention};
use herald_core::dialect::tndata::{self, HistoryQuery, Order};
use herald_core::error::close;
use herald_core::host::Codec;
use herald_core::ids::{RoomId, User, UserId};
use herald_core::message::Draft;
use herald_core::room::ReadMarks;
use herald_tests::world::World;
use herald_tests::{user, Sqlite, DAY, T0};
use serde_json::{json, Value};

/// The conversation of alice and bob over SQLite: the shared world, its sockets speaking
/// tndata or the native protocol.
struct Chat(World);

fn uid(raw: &str) -> UserId {
    UserId::parse(raw).unwrap()
}

fn pair() -> RoomId {
    tndata::pair_room(&uid("bob"), &uid("alice")).unwrap()
}

impl Chat {
    fn new() -> Self {
        Self::load(&Sqlite::in_memory(), Limits::default(), Retention::default())
    }

    fn load(db: &Sqlite, limits: Limits, retention: Retention) -> Self {
        Self(World::over(db, pair().as_str(), limits, retention))
    }

    fn connect(&mut self, id: &str, who: &User, speaks_tndata: bool) {
        let codec = if speaks_tndata { Codec::Tndata } else { Codec::Native };
        self.0.connect(id, who, None, codec);
    }

    /// A text frame from `id`, in the dialect it speaks.
    fn send(&mut self, id: &str, text: &str) {
        self.0.send(id, text);
    }

    fn say(&mut self, id: &str, frame: Value) {
        self.send(id, &frame.to_string());
    }

    fn receipt(&mut self, id: &str, digest: &str) {
        self.say(id, json!({ "received": digest }));
    }

    fn close(&mut self, id: &str) {
        self.0.close(id);
    }

    fn take(&mut self, id: &str) -> Vec<Value> {
        self.0.take_frames(id)
    }

    fn marks(&self) -> &ReadMarks<Sqlite> {
        self.0.host.reads()
    }

    /// alice on `a` and bob on `b`, both tndata, greetings taken.
    fn pair_connected() -> Self {
        let mut chat = Self::new();
        chat.connect("a", &user("alice"), true);
        chat.connect("b", &user("bob"), true);
        chat.take("a");
        chat.take("b");
        chat
    }

    fn history(&mut self, order: Order, limit: usize, cursor: Option<u64>) -> Value {
        let query = HistoryQuery { order, limit, cursor };
        serde_json::from_str(&self.0.host.tndata_history(self.0.now, query).unwrap()).unwrap()
    }
}

fn chat_message(from: &str, text: &str, seq: u64) -> Value {
    json!({ "from_id": from, "avatar": "", "from": format!("{from} name"), "message": text, "digest": tndata::digest(&pair(), seq) })
}

/// A system message's fields but its digest, which is fresh.
fn system(message: &Value) -> Value {
    let mut message = message.clone();
    let digest = message.as_object_mut().unwrap().remove("digest").unwrap();
    assert_eq!(tndata::receipt(&pair(), digest.as_str().unwrap()), Ok(tndata::Receipt::System));
    message
}

fn refusal(code: &str) -> impl Fn(&Value) -> bool + '_ {
    move |m: &Value| m["from"] == "system" && m["error"] == code
}

#[test]
fn both_users_get_each_message_in_the_seed_shape_and_the_sender_gets_no_ack() {
    let mut chat = Chat::pair_connected();
    chat.say("a", json!({ "text": "Hello World!", "from": "alice", "token": "ignored" }));
    chat.say("b", json!({ "text": "hi alice" }));
    let expected = vec![chat_message("alice", "Hello World!", 1), chat_message("bob", "hi alice", 2)];
    assert_eq!(chat.take("a"), expected);
    assert_eq!(chat.take("b"), expected);
}

#[test]
fn connecting_and_disconnecting_are_system_messages() {
    let mut chat = Chat::new();
    chat.connect("a", &user("alice"), true);
    let greeting: Vec<Value> = chat.take("a").iter().map(system).collect();
    assert_eq!(
        greeting,
        vec![json!({ "from_id": "", "avatar": "", "from": "system", "message": "alice name joined." })]
    );
    chat.connect("b", &user("bob"), true);
    let bob_joined = json!({ "from_id": "", "avatar": "", "from": "system", "message": "bob name joined." });
    assert_eq!(chat.take("a").iter().map(system).collect::<Vec<_>>(), vec![bob_joined.clone()]);
    assert_eq!(chat.take("b").iter().map(system).collect::<Vec<_>>(), vec![bob_joined]);
    chat.close("b");
    let left = json!({ "from_id": "", "avatar": "", "from": "system", "message": "bob name left." });
    assert_eq!(chat.take("a").iter().map(system).collect::<Vec<_>>(), vec![left]);
}

#[test]
fn a_broadcast_is_translated_once_so_every_socket_gets_the_same_digest() {
    let mut chat = Chat::new();
    chat.connect("a1", &user("alice"), true);
    chat.connect("a2", &user("alice"), true);
    chat.connect("b", &user("bob"), true);
    let (one, two) = (chat.take("a1"), chat.take("a2"));
    assert_eq!(one.last().unwrap()["message"], "bob name joined.");
    assert_eq!(one.last(), two.last(), "one translation, one digest");
}

#[test]
fn a_receipt_marks_that_message_and_all_before_it_read_for_its_sender_only() {
    let mut chat = Chat::pair_connected();
    for text in ["one", "two", "three"] {
        chat.say("a", json!({ "text": text }));
    }
    let received = chat.take("b");
    chat.take("a");
    chat.receipt("b", received[1]["digest"].as_str().unwrap());
    assert!(chat.take("b").is_empty(), "a receipt is not answered");
    assert!(chat.take("a").is_empty(), "nor told to the sender");
    assert_eq!(chat.marks().read_upto(&uid("bob")), 2);
    assert!(chat.marks().has_read(&uid("bob"), 1) && chat.marks().has_read(&uid("bob"), 2));
    assert!(!chat.marks().has_read(&uid("bob"), 3));
    assert_eq!(chat.marks().read_upto(&uid("alice")), 0);
}

#[test]
fn read_marks_never_move_backwards_and_survive_a_reload() {
    let db = Sqlite::in_memory();
    let mut chat = Chat::load(&db, Limits::default(), Retention::default());
    chat.connect("a", &user("alice"), true);
    chat.connect("b", &user("bob"), true);
    for text in ["one", "two", "three"] {
        chat.say("a", json!({ "text": text }));
    }
    chat.receipt("b", &tndata::digest(&pair(), 3));
    chat.receipt("b", &tndata::digest(&pair(), 1));
    assert_eq!(chat.marks().read_upto(&uid("bob")), 3);
    assert_eq!(db.count("room_reads"), 1);
    let reloaded = Chat::load(&db, Limits::default(), Retention::default());
    assert_eq!(reloaded.marks().read_upto(&uid("bob")), 3);
    assert!(reloaded.marks().has_read(&uid("bob"), 3));
    assert_eq!(reloaded.marks().to_json(&pair()), r#"{"reads":{"bob":3},"room":"tndata:alice:bob"}"#);
}

#[test]
fn a_receipt_for_another_conversation_or_a_message_not_yet_sent_is_refused_and_the_socket_still_works() {
    let mut chat = Chat::pair_connected();
    chat.say("a", json!({ "text": "one" }));
    chat.take("a");
    chat.take("b");
    let elsewhere = tndata::pair_room(&uid("bob"), &uid("carol")).unwrap();
    chat.receipt("b", &tndata::digest(&elsewhere, 1));
    chat.receipt("b", &tndata::digest(&pair(), 2));
    chat.receipt("b", "not-a-digest");
    let refusals = chat.take("b");
    assert_eq!(refusals.len(), 3);
    assert!(refusals.iter().all(refusal("invalid_field")), "{refusals:?}");
    assert_eq!(system(&refusals[1])["message"], "`received` names a message this conversation does not have");
    assert_eq!(chat.marks().read_upto(&uid("bob")), 0);
    chat.say("b", json!({ "text": "still here" }));
    assert_eq!(chat.take("a"), vec![chat_message("bob", "still here", 2)]);
}

#[test]
fn a_receipt_for_a_system_message_is_accepted_and_marks_nothing() {
    let mut chat = Chat::new();
    chat.connect("a", &user("alice"), true);
    let greeting = chat.take("a");
    chat.receipt("a", greeting[0]["digest"].as_str().unwrap());
    assert!(chat.take("a").is_empty());
    assert_eq!(chat.marks().read_upto(&uid("alice")), 0);
}

#[test]
fn malformed_frames_get_a_coded_system_message_and_the_socket_keeps_working() {
    let mut chat = Chat::pair_connected();
    chat.send("a", "hello there");
    chat.say("a", json!({ "text": 5 }));
    chat.say("a", json!({ "msg": "hi" }));
    chat.say("a", json!({ "text": "hi", "from": "bob" }));
    let got: Vec<Value> = chat.take("a").iter().map(system).collect();
    let error = |code: &str, message: &str| json!({ "from_id": "", "avatar": "", "from": "system", "message": message, "error": code });
    assert_eq!(got.len(), 4);
    assert_eq!(got[0]["error"], "malformed_json");
    assert_eq!(got[1], error("invalid_field", "`text` must be a string"));
    assert_eq!(got[2], error("invalid_field", r#"`text` is required (or send {"received": digest})"#));
    assert_eq!(got[3], error("invalid_field", r#"`from` must be your own user id, "alice""#));
    assert!(chat.take("b").is_empty(), "refusals go to the sender only");
    chat.say("a", json!({ "text": "fine now" }));
    assert_eq!(chat.take("b"), vec![chat_message("alice", "fine now", 1)]);
}

#[test]
fn frames_past_the_rate_are_refused_with_a_system_message() {
    let limits = Limits { messages_per_second: 1, message_burst: 2, ..Limits::default() };
    let mut chat = Chat::load(&Sqlite::in_memory(), limits, Retention::default());
    chat.connect("a", &user("alice"), true);
    chat.take("a");
    chat.say("a", json!({ "text": "one" }));
    chat.say("a", json!({ "nonsense": true }));
    chat.say("a", json!({ "text": "three" }));
    let got = chat.take("a");
    assert_eq!(got.len(), 3);
    assert_eq!(got[0], chat_message("alice", "one", 1));
    assert!(refusal("invalid_field")(&got[1]));
    assert!(refusal("rate_limited")(&got[2]), "{:?}", got[2]);
    assert_eq!(chat.0.host.room().last_seq(), 1);
}

#[test]
fn an_oversized_frame_or_an_expired_token_ends_the_socket_after_telling_it_why() {
    let limits = Limits { max_frame_bytes: 64, ..Limits::default() };
    let mut chat = Chat::load(&Sqlite::in_memory(), limits, Retention::default());
    chat.connect("a", &user("alice"), true);
    chat.connect("b", &user("bob"), true);
    chat.take("a");
    chat.say("a", json!({ "text": "x".repeat(100) }));
    assert!(refusal("frame_too_large")(&chat.take("a")[0]));
    assert_eq!(chat.0.closed.get("a"), Some(&close::MESSAGE_TOO_BIG));
    chat.0.now += DAY;
    chat.say("b", json!({ "text": "late" }));
    let told = chat.take("b");
    assert!(told.iter().any(refusal("token_expired")), "{told:?}");
    assert_eq!(chat.0.closed.get("b"), Some(&close::TOKEN_EXPIRED));
}

#[test]
fn a_native_client_in_the_same_room_sees_the_same_messages_in_its_own_shape() {
    let mut chat = Chat::pair_connected();
    chat.connect("n", &user("carol"), false);
    assert_eq!(chat.take("a").iter().map(system).collect::<Vec<_>>()[0]["message"], "carol name joined.");
    chat.take("b");
    let greeting = chat.take("n");
    assert_eq!(greeting[0]["type"], "welcome");
    chat.say("a", json!({ "text": "hi all" }));
    let native = chat.take("n");
    assert_eq!(native.len(), 1);
    assert_eq!(native[0]["type"], "message");
    assert_eq!(native[0]["room"], "tndata:alice:bob");
    assert_eq!((&native[0]["seq"], &native[0]["event"]), (&json!(1), &json!("message")));
    assert_eq!(native[0]["data"], json!({ "text": "hi all" }));
    assert_eq!(native[0]["from"], json!({ "id": "alice", "name": "alice name" }));
    chat.say("n", json!({ "type": "publish", "event": "message", "data": { "text": "hello from carol" } }));
    assert_eq!(chat.take("n")[0]["type"], "ack", "the native client keeps its ack");
    assert_eq!(chat.take("b").last(), Some(&chat_message("carol", "hello from carol", 2)));
}

#[test]
fn a_message_published_over_rest_with_other_data_carries_it_as_json_text() {
    let mut chat = Chat::pair_connected();
    let draft = Draft::from_rest_body(r#"{"event":"alert","data":{"level":3}}"#, None).unwrap();
    let app = User { id: uid("app"), name: None, avatar: Some("//a/app.png".into()) };
    chat.0.publish_rest(&app, draft, None);
    let expected = json!({ "from_id": "app", "avatar": "//a/app.png", "from": "app", "message": r#"{"level":3}"#, "digest": tndata::digest(&pair(), 1) });
    assert_eq!(chat.take("b"), vec![expected]);
}

/// Five messages, alice and bob alternating (alice first); bob has read up to 3.
fn conversation_of_five() -> Chat {
    let mut chat = Chat::pair_connected();
    for i in 1..=5 {
        let who = if i % 2 == 1 { "a" } else { "b" };
        chat.say(who, json!({ "text": format!("m{i}") }));
    }
    chat.receipt("b", &tndata::digest(&pair(), 3));
    chat.take("a");
    chat.take("b");
    chat
}

fn seqs(page: &Value) -> Vec<u64> {
    page["results"].as_array().unwrap().iter().map(|m| m["seq"].as_u64().unwrap()).collect()
}

#[test]
fn history_pages_go_newest_first_by_default_and_follow_their_cursor_to_the_end() {
    let mut chat = conversation_of_five();
    let first = chat.history(Order::NewestFirst, 2, None);
    assert_eq!((seqs(&first), &first["next"]), (vec![5, 4], &json!("4")));
    let second = chat.history(Order::NewestFirst, 2, Some(4));
    assert_eq!((seqs(&second), &second["next"]), (vec![3, 2], &json!("2")));
    let last = chat.history(Order::NewestFirst, 2, Some(2));
    assert_eq!((seqs(&last), &last["next"]), (vec![1], &Value::Null));
    let all = chat.history(Order::NewestFirst, 5, None);
    assert_eq!((seqs(&all), &all["next"]), (vec![5, 4, 3, 2, 1], &Value::Null));
}

#[test]
fn history_pages_go_oldest_first_when_asked() {
    let mut chat = conversation_of_five();
    let first = chat.history(Order::OldestFirst, 2, None);
    assert_eq!((seqs(&first), &first["next"]), (vec![1, 2], &json!("2")));
    let second = chat.history(Order::OldestFirst, 2, Some(2));
    assert_eq!((seqs(&second), &second["next"]), (vec![3, 4], &json!("4")));
    let last = chat.history(Order::OldestFirst, 2, Some(4));
    assert_eq!((seqs(&last), &last["next"]), (vec![5], &Value::Null));
}

#[test]
fn history_items_are_websocket_messages_with_the_recipients_read_state() {
    let mut chat = conversation_of_five();
    let page = chat.history(Order::OldestFirst, 5, None);
    let items = page["results"].as_array().unwrap();
    let mut first = chat_message("alice", "m1", 1);
    first["read"] = json!(true);
    first["seq"] = json!(1);
    first["ts"] = json!(T0);
    assert_eq!(items[0], first);
    let read: Vec<bool> = items.iter().map(|m| m["read"].as_bool().unwrap()).collect();
    // bob read alice's 1, 3 (not 5); alice has read nothing of bob's.
    assert_eq!(read, vec![true, false, true, false, false]);
    chat.receipt("a", &tndata::digest(&pair(), 4));
    let page = chat.history(Order::OldestFirst, 5, None);
    let read: Vec<bool> = page["results"].as_array().unwrap().iter().map(|m| m["read"].as_bool().unwrap()).collect();
    assert_eq!(read, vec![true, true, true, true, false]);
}

#[test]
fn history_skips_what_retention_dropped() {
    let retention = Retention { max_messages: 3, ..Retention::default() };
    let mut chat = Chat::load(&Sqlite::in_memory(), Limits::default(), retention);
    chat.connect("a", &user("alice"), true);
    for i in 1..=6 {
        chat.say("a", json!({ "text": format!("m{i}") }));
    }
    let newest = chat.history(Order::NewestFirst, 10, None);
    assert_eq!((seqs(&newest), &newest["next"]), (vec![6, 5, 4], &Value::Null));
    let oldest = chat.history(Order::OldestFirst, 2, None);
    assert_eq!((seqs(&oldest), &oldest["next"]), (vec![4, 5], &json!("5")));
    assert_eq!(seqs(&chat.history(Order::NewestFirst, 10, Some(4))), Vec::<u64>::new());
}

#[test]
fn a_history_page_past_the_byte_cap_stops_early_with_a_cursor() {
    let limits = Limits { max_batch_bytes: 400, ..Limits::default() };
    let mut chat = Chat::load(&Sqlite::in_memory(), limits, Retention::default());
    chat.connect("a", &user("alice"), true);
    for _ in 1..=4 {
        chat.say("a", json!({ "text": "y".repeat(150) }));
    }
    let page = chat.history(Order::NewestFirst, 4, None);
    assert_eq!((seqs(&page), &page["next"]), (vec![4], &json!("4")));
    let rest = chat.history(Order::NewestFirst, 4, Some(4));
    assert_eq!(seqs(&rest), vec![3]);
}
