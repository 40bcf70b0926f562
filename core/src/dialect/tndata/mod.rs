//! The `tndata` dialect: tndata's person-to-person chat over a plain websocket
//! (docs/dialects.md, "tndata").
//!
//! `/chat/{user}/` names the other person. The conversation is the room of the pair,
//! `tndata:{a}:{b}` with the two user ids sorted ([`conversation`]), whichever side connects.
//! The room's object accepts the socket itself (tagged [`SOCKET_TAG`]) and speaks this dialect
//! to it: what the client sends is decoded here ([`decode`]) into the room's commands, and each
//! native frame the room sends is translated once ([`Translation`]) for all its tndata sockets.
//!
//! | client sends             | becomes                                                        |
//! |--------------------------|----------------------------------------------------------------|
//! | `{text, from?, token?}`  | publish `message` with data `{"text": text}`                   |
//! | `{received: digest}`     | a read mark: that message and all before it read by the socket's user |
//! | anything else            | an error message (below); the socket stays open                |
//!
//! | room sends                           | client receives                                  |
//! |--------------------------------------|--------------------------------------------------|
//! | `message`                            | `{from_id, avatar, from, message, digest}`       |
//! | `welcome` (the newcomer), `joined`   | `{from_id: "", avatar: "", from: "system", message: "{name} joined.", digest}` |
//! | `left`                               | the same with `"{name} left."`                   |
//! | `error`                              | a system message with the error's `message`, plus `error: code` |
//! | `presence`, `ack`, `pong`            | nothing                                          |
//!
//! A digest is 32 lowercase hex characters: 16 derived from the room, then the message's seq
//! in 16, so a receipt maps back to its message and one from another conversation is refused.
//! A system message's digest has the room's other prefix and a fresh tail: receipts of those are
//! accepted and mark nothing.

// The room side: tndata sockets' frames and history pages (an adapter above the room).
mod room;

use super::rooms::{Message, RoomFrame};
use super::routes::percent_decode;
use crate::error::{Error, ErrorCode};
use crate::ids::{RoomId, User, UserId};
use serde_json::value::RawValue;
use serde_json::{json, Map, Value};

/// The prefix of conversation rooms' ids.
pub const ROOM_PREFIX: &str = "tndata";
/// The websocket tag (beside the connection id) of sockets that speak this dialect, so the room
/// object knows them again after hibernation.
pub const SOCKET_TAG: &str = "tndata";
/// `from` of system messages.
pub const SYSTEM: &str = "system";

/// The conversation between `me` and the user a `/chat/{user}/` path segment names (as the
/// request has it, percent-encoded).
pub fn conversation(me: &UserId, segment: &str) -> Result<RoomId, Error> {
    let raw = percent_decode(segment).ok_or_else(|| Error::invalid_field("user_id", "is not percent-encoded UTF-8"))?;
    let other = UserId::parse(&raw).map_err(|why| Error::invalid_field("user_id", why))?;
    pair_room(me, &other)
}

/// The room of `a` and `b`, the same whichever comes first.
pub fn pair_room(a: &UserId, b: &UserId) -> Result<RoomId, Error> {
    if a == b {
        let message = format!("a conversation takes two people; {a:?} is this token's own user id");
        return Err(Error::new(ErrorCode::ChatWithSelf, message));
    }
    let (first, second) = if a < b { (a, b) } else { (b, a) };
    RoomId::compose(ROOM_PREFIX, &[first.as_str(), second.as_str()]).map_err(|_| {
        Error::invalid_field("user_id", "and this token's user id are too long together for a conversation id")
    })
}

/// The two users of a conversation room; `None` for any other room.
pub fn participants(room: &RoomId) -> Option<[UserId; 2]> {
    let (a, b) = room.as_str().strip_prefix(ROOM_PREFIX)?.strip_prefix(':')?.split_once(':')?;
    Some([UserId::parse(&unescape(a)?).ok()?, UserId::parse(&unescape(b)?).ok()?])
}

/// A part of a composed room id back as it was named (`_XX` is the byte XX).
fn unescape(part: &str) -> Option<String> {
    let mut out = Vec::with_capacity(part.len());
    let mut i = 0;
    while i < part.len() {
        if part.as_bytes()[i] == b'_' {
            out.push(u8::from_str_radix(part.get(i + 1..i + 3)?, 16).ok()?);
            i += 3;
        } else {
            out.push(part.as_bytes()[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// FNV-1a, 64 bits: a stable hash, the same natively and in wasm.
fn fnv(parts: &[&str]) -> u64 {
    parts
        .iter()
        .flat_map(|p| p.bytes().chain([0]))
        .fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

fn prefix(room: &RoomId, kind: &str) -> u64 {
    fnv(&[ROOM_PREFIX, kind, room.as_str()])
}

/// The digest of message `seq` of `room`.
pub fn digest(room: &RoomId, seq: u64) -> String {
    format!("{:016x}{seq:016x}", prefix(room, "message"))
}

/// A system message's digest, from a fresh id.
pub fn system_digest(room: &RoomId, fresh: &str) -> String {
    format!("{:016x}{:016x}", prefix(room, SYSTEM), fnv(&[fresh]))
}

/// What a receipt's digest names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Receipt {
    /// The message of this seq.
    Message(u64),
    /// A system message: nothing to mark.
    System,
}

/// Reads a receipt's digest; refused unless it is one this conversation gave out.
pub fn receipt(room: &RoomId, digest: &str) -> Result<Receipt, Error> {
    if digest.len() != 32 || !digest.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(Error::invalid_field("received", "must be a message's digest (32 hex characters)"));
    }
    let (head, tail) = digest.split_at(16);
    let head = u64::from_str_radix(head, 16).expect("checked hex");
    let seq = u64::from_str_radix(tail, 16).expect("checked hex");
    if head == prefix(room, "message") && seq > 0 {
        Ok(Receipt::Message(seq))
    } else if head == prefix(room, SYSTEM) {
        Ok(Receipt::System)
    } else {
        Err(Error::invalid_field("received", format!("{digest:?} is not the digest of a message of this conversation")))
    }
}

/// What a client frame asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientCommand {
    /// A native `publish` frame to hand to the room as the socket's own.
    Publish(String),
    Received(Receipt),
}

/// A client frame of the socket of user `me` in `room`. `token` is ignored: the socket's own
/// authentication counts.
pub fn decode(room: &RoomId, me: &UserId, text: &str) -> Result<ClientCommand, Error> {
    let fields: Map<String, Value> = crate::json::object(text, "message")?;
    if let Some(received) = fields.get("received") {
        let Value::String(digest) = received else {
            return Err(Error::invalid_field("received", "must be a message's digest (a string)"));
        };
        return receipt(room, digest).map(ClientCommand::Received);
    }
    let text = match fields.get("text") {
        Some(Value::String(text)) if !text.is_empty() => text,
        Some(Value::String(_)) => return Err(Error::invalid_field("text", "must not be empty")),
        Some(_) => return Err(Error::invalid_field("text", "must be a string")),
        None => return Err(Error::invalid_field("text", "is required (or send {\"received\": digest})")),
    };
    match fields.get("from") {
        None | Some(Value::Null) => {}
        Some(Value::String(from)) if from == me.as_str() => {}
        Some(Value::Number(from)) if from.to_string() == me.as_str() => {}
        Some(_) => return Err(Error::invalid_field("from", format!("must be your own user id, {:?}", me.as_str()))),
    }
    Ok(ClientCommand::Publish(json!({ "type": "publish", "event": "message", "data": { "text": text } }).to_string()))
}

fn display_name(user: &User) -> &str {
    user.name.as_deref().unwrap_or(user.id.as_str())
}

/// What a message shows as its text: `data.text` when it is a string (every tndata client's
/// message), a string `data` itself, any other data as JSON text.
fn text_of(data: &RawValue) -> String {
    match serde_json::from_str::<Value>(data.get()) {
        Ok(Value::Object(mut fields)) if fields.get("text").is_some_and(Value::is_string) => {
            fields.remove("text").and_then(|t| t.as_str().map(str::to_owned)).unwrap_or_default()
        }
        Ok(Value::String(text)) => text,
        _ => data.get().to_owned(),
    }
}

/// A room message in the client's shape: `{from_id, avatar, from, message, digest}`.
pub fn chat_message(room: &RoomId, message: &Message<'_>) -> Map<String, Value> {
    let mut fields = Map::new();
    fields.insert("from_id".into(), json!(message.from.id));
    fields.insert("avatar".into(), json!(message.from.avatar.as_deref().unwrap_or_default()));
    fields.insert("from".into(), json!(display_name(&message.from)));
    fields.insert("message".into(), json!(text_of(message.data)));
    fields.insert("digest".into(), json!(digest(room, message.seq)));
    fields
}

fn system(room: &RoomId, message: String, error: Option<String>, fresh: impl FnOnce() -> String) -> String {
    let mut fields = json!({
        "from_id": "", "avatar": "", "from": SYSTEM, "message": message, "digest": system_digest(room, &fresh()),
    });
    if let Some(code) = error {
        fields["error"] = Value::String(code);
    }
    fields.to_string()
}

/// A native frame of `room` as its tndata clients get it; `None` for frames they do not see.
/// `fresh` gives a system message its digest.
pub fn to_client(room: &RoomId, native: &str, fresh: impl FnOnce() -> String) -> Option<String> {
    match RoomFrame::parse(native) {
        RoomFrame::Message(message) => Some(Value::Object(chat_message(room, &message)).to_string()),
        RoomFrame::Welcome { user, .. } => Some(system(room, format!("{} joined.", display_name(&user?)), None, fresh)),
        RoomFrame::Joined { user } => Some(system(room, format!("{} joined.", display_name(&user)), None, fresh)),
        RoomFrame::Left { user } => Some(system(room, format!("{} left.", display_name(&user)), None, fresh)),
        RoomFrame::Error { code, message, .. } => Some(system(room, message, Some(code), fresh)),
        RoomFrame::Presence { .. }
        | RoomFrame::Ack { .. }
        | RoomFrame::Status { .. }
        | RoomFrame::Moved { .. }
        | RoomFrame::Other => None,
    }
}

/// One native frame's tndata text, made at most once however many sockets it goes to (a
/// system message keeps one digest).
pub struct Translation<'a> {
    room: &'a RoomId,
    native: &'a str,
    text: Option<Option<String>>,
}

impl<'a> Translation<'a> {
    pub fn new(room: &'a RoomId, native: &'a str) -> Self {
        Self { room, native, text: None }
    }

    pub fn text(&mut self, fresh: impl FnOnce() -> String) -> Option<&str> {
        let (room, native) = (self.room, self.native);
        self.text.get_or_insert_with(|| to_client(room, native, fresh)).as_deref()
    }
}

/// The order of a history page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    NewestFirst,
    OldestFirst,
}

/// Default and largest history page.
pub const HISTORY_DEFAULT: usize = 20;
pub const HISTORY_MAX: usize = 100;

/// `GET /api/chat/{user}/?order=newest|oldest&limit=N&cursor=C`. The cursor is the `next` of the
/// page before, in the same order (today the seq that page ended at).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HistoryQuery {
    pub order: Order,
    pub limit: usize,
    pub cursor: Option<u64>,
}

impl HistoryQuery {
    pub fn parse(order: Option<&str>, limit: Option<&str>, cursor: Option<&str>) -> Result<Self, Error> {
        let order = match order {
            None | Some("newest") => Order::NewestFirst,
            Some("oldest") => Order::OldestFirst,
            Some(other) => {
                return Err(Error::invalid_field("order", format!("must be newest or oldest, not {other:?}")))
            }
        };
        let limit = match limit.map(str::parse::<usize>) {
            None => HISTORY_DEFAULT,
            Some(Ok(n)) if (1..=HISTORY_MAX).contains(&n) => n,
            Some(_) => {
                return Err(Error::invalid_field("limit", format!("must be a whole number from 1 to {HISTORY_MAX}")))
            }
        };
        let cursor = cursor
            .map(|c| c.parse::<u64>().map_err(|_| Error::invalid_field("cursor", "must be the `next` of a page")))
            .transpose()?;
        Ok(Self { order, limit, cursor })
    }

    /// The query string that [`HistoryQuery::parse`] reads back.
    pub fn to_query(&self) -> String {
        let order = if self.order == Order::NewestFirst { "newest" } else { "oldest" };
        let cursor = self.cursor.map(|c| format!("&cursor={c}")).unwrap_or_default();
        format!("order={order}&limit={}{cursor}", self.limit)
    }
}

/// A stored `message` frame as a history item: the websocket shape plus `read` (every
/// participant but the sender has read it), `seq` and `ts`.
pub fn history_item(room: &RoomId, frame: &str, has_read: impl Fn(&UserId, u64) -> bool) -> Option<Value> {
    let RoomFrame::Message(message) = RoomFrame::parse(frame) else { return None };
    let read = participants(room)
        .is_some_and(|users| users.iter().filter(|u| **u != message.from.id).all(|u| has_read(u, message.seq)));
    let mut fields = chat_message(room, &message);
    fields.insert("read".into(), json!(read));
    fields.insert("seq".into(), json!(message.seq));
    fields.insert("ts".into(), json!(message.ts));
    Some(Value::Object(fields))
}

/// `{"results": [..], "next": cursor or null}`
pub fn page_json(results: Vec<Value>, next: Option<u64>) -> String {
    json!({ "results": results, "next": next.map(|n| n.to_string()) }).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(raw: &str) -> UserId {
        UserId::parse(raw).unwrap()
    }

    fn room() -> RoomId {
        pair_room(&id("alice"), &id("bob")).unwrap()
    }

    fn message_frame(seq: u64, data: &str, from: &str) -> String {
        format!(
            r#"{{"type":"message","room":"{}","seq":{seq},"id":"m{seq}","event":"message","data":{data},"from":{from},"ts":7}}"#,
            room()
        )
    }

    fn parsed(text: &str) -> Value {
        serde_json::from_str(text).unwrap()
    }

    #[test]
    fn both_sides_of_a_conversation_name_the_same_room() {
        assert_eq!(room().as_str(), "tndata:alice:bob");
        assert_eq!(conversation(&id("bob"), "alice").unwrap(), room());
        let escaped = conversation(&id("42"), "z%C3%B6e%3A1").unwrap();
        assert_eq!(escaped.as_str(), "tndata:42:z_C3_B6e_3A1");
        assert_eq!(participants(&escaped), Some([id("42"), id("zöe:1")]));
        assert_eq!(participants(&RoomId::parse("alert:x").unwrap()), None);
    }

    #[test]
    fn a_conversation_with_oneself_or_a_bad_user_id_is_refused() {
        assert_eq!(conversation(&id("alice"), "alice").unwrap_err().code, ErrorCode::ChatWithSelf);
        assert_eq!(conversation(&id("alice"), "a%0Ab").unwrap_err().code, ErrorCode::InvalidField);
        assert_eq!(conversation(&id("alice"), "%ff").unwrap_err().code, ErrorCode::InvalidField);
        assert_eq!(conversation(&id("alice"), &"x".repeat(128)).unwrap_err().code, ErrorCode::InvalidField);
    }

    #[test]
    fn a_digest_maps_back_to_its_seq_in_its_own_room_only() {
        let d = digest(&room(), 300);
        assert!(d.len() == 32 && d.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()), "{d}");
        assert!(d.ends_with("000000000000012c"));
        assert_eq!(receipt(&room(), &d), Ok(Receipt::Message(300)));
        assert_eq!(receipt(&room(), &d.to_uppercase()), Ok(Receipt::Message(300)));
        let other = pair_room(&id("alice"), &id("carol")).unwrap();
        assert_eq!(receipt(&other, &d).unwrap_err().code, ErrorCode::InvalidField);
        assert_eq!(receipt(&room(), "abc").unwrap_err().code, ErrorCode::InvalidField);
        let system = system_digest(&room(), "fresh-1");
        assert_eq!(receipt(&room(), &system), Ok(Receipt::System));
        assert_ne!(system, system_digest(&room(), "fresh-2"));
    }

    #[test]
    fn a_chat_message_becomes_a_native_publish_of_its_text() {
        let publish = |text: &str| match decode(&room(), &id("42"), text) {
            Ok(ClientCommand::Publish(frame)) => parsed(&frame),
            other => panic!("not a publish: {other:?}"),
        };
        let expected = json!({ "type": "publish", "event": "message", "data": { "text": "hi" } });
        assert_eq!(publish(r#"{"text":"hi"}"#), expected);
        assert_eq!(publish(r#"{"text":"hi","from":42,"token":"anything"}"#), expected);
        assert_eq!(publish(r#"{"text":"hi","from":"42"}"#), expected);
    }

    #[test]
    fn malformed_chat_frames_are_refused_naming_what_is_wrong() {
        let refusal = |text: &str| decode(&room(), &id("42"), text).unwrap_err();
        assert_eq!(refusal("hello").code, ErrorCode::MalformedJson);
        assert_eq!(refusal("[1]").code, ErrorCode::InvalidField);
        assert!(refusal("{}").message.contains("`text`"));
        assert!(refusal(r#"{"text":5}"#).message.contains("`text`"));
        assert!(refusal(r#"{"text":""}"#).message.contains("`text`"));
        let from = refusal(r#"{"text":"hi","from":"7"}"#);
        assert_eq!(from.details, Some(json!({ "field": "from" })));
        assert!(refusal(r#"{"received":12}"#).message.contains("`received`"));
    }

    #[test]
    fn a_receipt_names_its_message() {
        let d = digest(&room(), 3);
        let text = json!({ "received": d }).to_string();
        assert_eq!(decode(&room(), &id("bob"), &text), Ok(ClientCommand::Received(Receipt::Message(3))));
    }

    #[test]
    fn room_messages_reach_the_client_in_the_seed_shape() {
        let from = r#"{"id":"42","name":"Brad Montgomery","avatar":"//a/p.jpg"}"#;
        let text = to_client(&room(), &message_frame(5, r#"{"text":"Hello World!"}"#, from), || unreachable!());
        let expected = json!({
            "from_id": "42", "avatar": "//a/p.jpg", "from": "Brad Montgomery",
            "message": "Hello World!", "digest": digest(&room(), 5),
        });
        assert_eq!(parsed(&text.unwrap()), expected);
        let bare = to_client(&room(), &message_frame(6, r#"{"n":1}"#, r#"{"id":"app"}"#), String::new).unwrap();
        let bare = parsed(&bare);
        assert_eq!(
            (&bare["from"], &bare["avatar"], &bare["message"]),
            (&json!("app"), &json!(""), &json!(r#"{"n":1}"#))
        );
        let string = to_client(&room(), &message_frame(7, r#""plain""#, r#"{"id":"app"}"#), String::new).unwrap();
        assert_eq!(parsed(&string)["message"], "plain");
    }

    #[test]
    fn arrivals_departures_and_errors_are_system_messages() {
        let system = |native: &str| to_client(&room(), native, || "f".into()).map(|t| parsed(&t));
        let digest = system_digest(&room(), "f");
        let joined = system(r#"{"type":"joined","user":{"id":"bob","name":"Bob B"}}"#);
        let expected =
            json!({ "from_id": "", "avatar": "", "from": "system", "message": "Bob B joined.", "digest": digest });
        assert_eq!(joined, Some(expected));
        let welcome = system(r#"{"type":"welcome","conn":"c","user":{"id":"bob"},"room":"r","seq":0}"#).unwrap();
        assert_eq!(welcome["message"], "bob joined.");
        assert_eq!(system(r#"{"type":"left","user":{"id":"bob","name":"Bob B"}}"#).unwrap()["message"], "Bob B left.");
        let error = system(r#"{"type":"error","code":"rate_limited","message":"slow down"}"#).unwrap();
        assert_eq!(
            (&error["error"], &error["message"], &error["from"]),
            (&json!("rate_limited"), &json!("slow down"), &json!("system"))
        );
        for silent in
            [r#"{"type":"presence","members":[]}"#, r#"{"type":"ack","id":"m","seq":1}"#, r#"{"type":"pong"}"#]
        {
            assert_eq!(system(silent), None, "{silent}");
        }
    }

    #[test]
    fn a_translation_is_made_once_for_every_socket() {
        let native = r#"{"type":"left","user":{"id":"bob"}}"#;
        let room = room();
        let mut translation = Translation::new(&room, native);
        let first = translation.text(|| "one".into()).map(str::to_owned);
        let second = translation.text(|| "two".into()).map(str::to_owned);
        assert_eq!(first, second);
        assert_eq!(parsed(&first.unwrap())["digest"], system_digest(&room, "one"));
    }

    #[test]
    fn history_queries_default_validate_and_round_trip() {
        let q = HistoryQuery::parse(None, None, None).unwrap();
        assert_eq!(q, HistoryQuery { order: Order::NewestFirst, limit: HISTORY_DEFAULT, cursor: None });
        let q = HistoryQuery::parse(Some("oldest"), Some("5"), Some("9")).unwrap();
        assert_eq!(HistoryQuery::parse(Some("oldest"), Some("5"), Some("9")), Ok(q));
        assert_eq!(q.to_query(), "order=oldest&limit=5&cursor=9");
        for (order, limit, cursor, field) in [
            (Some("up"), None, None, "order"),
            (None, Some("0"), None, "limit"),
            (None, Some("101"), None, "limit"),
            (None, None, Some("x"), "cursor"),
        ] {
            let e = HistoryQuery::parse(order, limit, cursor).unwrap_err();
            assert_eq!((e.code, e.details), (ErrorCode::InvalidField, Some(json!({ "field": field }))));
        }
    }

    #[test]
    fn a_history_item_is_read_when_the_other_participant_has_read_it() {
        let frame = message_frame(4, r#"{"text":"hi"}"#, r#"{"id":"alice"}"#);
        let bob_read_up_to = |n: u64| move |user: &UserId, seq: u64| user.as_str() == "bob" && seq <= n;
        let item = history_item(&room(), &frame, bob_read_up_to(4)).unwrap();
        assert_eq!(item["read"], true);
        assert_eq!((&item["seq"], &item["ts"], &item["message"]), (&json!(4), &json!(7), &json!("hi")));
        assert_eq!(history_item(&room(), &frame, bob_read_up_to(3)).unwrap()["read"], false);
        let app = message_frame(4, r#"{"text":"hi"}"#, r#"{"id":"app"}"#);
        assert_eq!(history_item(&room(), &app, bob_read_up_to(4)).unwrap()["read"], false, "alice has not read it");
    }
}
