//! The native protocol under generated input: client frames, rooms taking scripts of
//! connections and frames, and the frames rooms send as the dialects read them
//! (`support/checks/native.rs`).

mod props;

use herald_core::ids::{RoomId, User, UserId};
use herald_core::protocol::native::ServerFrame;
use herald_core::protocol::Status;
use herald_tests::checks::native::{self, RoomInput, RoomKind};
use props::gen::{json, key, nesting, odd_number, odd_string, valid_or_mutated};
use props::{config, within};
use proptest::prelude::*;
use serde_json::value::RawValue;
use serde_json::{json, Map, Value};

fn transaction() -> impl Strategy<Value = Value> {
    prop_oneof![odd_string(140).prop_map(Value::from), any::<i64>().prop_map(Value::from), json()]
}

/// A client frame of any documented type, with fields right and wrong, and extra ones.
fn client_frame() -> impl Strategy<Value = String> {
    let kind = prop_oneof![
        4 => prop_oneof![Just("publish"), Just("ping"), Just("status"), Just("focus"), Just("received"), Just("read")]
            .prop_map(Value::from),
        1 => json(),
    ];
    let status = prop_oneof![Just(json!("online")), Just(json!("idle")), Just(json!("offline")), json()];
    let field = prop_oneof![odd_string(20).prop_map(Value::from), json(), odd_number().prop_map(|n| json!(n))];
    (
        kind,
        proptest::option::of(odd_string(20)),
        proptest::option::of(json()),
        proptest::option::of(field.clone()),
        proptest::option::of(transaction()),
        proptest::option::of(status),
        proptest::option::of(field),
        proptest::collection::vec((key(), json()), 0..2),
    )
        .prop_map(|(kind, event, data, id, transaction, status, focus, extra)| {
            let mut frame = Map::new();
            frame.insert("type".into(), kind);
            let fields = [("event", event.map(Value::from)), ("data", data), ("id", id), ("transaction", transaction)];
            for (name, value) in fields.into_iter().chain([("status", status), ("focus", focus), ("seq", None)]) {
                if let Some(value) = value {
                    frame.insert(name.into(), value);
                }
            }
            frame.extend(extra);
            Value::Object(frame).to_string()
        })
}

fn frame_text() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => valid_or_mutated(client_frame()),
        1 => odd_string(40),
        1 => nesting(),
        1 => (0u64..20).prop_map(|seq| format!(r#"{{"type":"read","seq":{seq}}}"#)),
        1 => (odd_string(20)).prop_map(|text| json!({ "text": text, "from": "alice" }).to_string()),
        1 => (0u64..4).prop_map(|seq| json!({ "received": herald_core::dialect::tndata::digest(&RoomId::parse("tndata:alice:bob").unwrap(), seq) }).to_string()),
    ]
}

fn room_input() -> impl Strategy<Value = RoomInput> {
    prop_oneof![
        2 => (0u8..4, proptest::option::of(0u64..6)).prop_map(|(conn, since)| RoomInput::Connect { conn, since }),
        8 => (0u8..4, frame_text()).prop_map(|(conn, text)| RoomInput::Frame { conn, text }),
        1 => (0u8..4, 0usize..100_000).prop_map(|(conn, len)| RoomInput::Binary { conn, len }),
        1 => (0u8..4).prop_map(|conn| RoomInput::Close { conn }),
        1 => prop_oneof![0u32..2_000, Just(86_400_000)].prop_map(RoomInput::Advance),
    ]
}

fn room_kind() -> impl Strategy<Value = RoomKind> {
    prop_oneof![Just(RoomKind::Shared), Just(RoomKind::Tndata), Just(RoomKind::Inbox)]
}

/// A frame a room sends, written by the room's own encoder, often mutated.
fn room_frame() -> impl Strategy<Value = String> {
    let user = (odd_string(10), proptest::option::of(odd_string(10))).prop_map(|(id, name)| User {
        id: UserId::parse(&id).unwrap_or_else(|_| UserId::parse("u").unwrap()),
        name,
        avatar: None,
    });
    let frame = (user, any::<u64>(), odd_string(10), json(), 0u8..6).prop_map(|(user, seq, event, data, which)| {
        let room = RoomId::parse("tndata:alice:bob").unwrap();
        let data = RawValue::from_string(data.to_string()).unwrap();
        match which {
            0 => ServerFrame::Message { room: &room, seq, id: "m", event: &event, data: &data, from: &user, ts: 9 }
                .encode(),
            1 => ServerFrame::Welcome { conn: "c", user: &user, room: &room, seq, gap: None, truncated: None }.encode(),
            2 => ServerFrame::Joined { user: &user }.encode(),
            3 => ServerFrame::Status { user: &user, status: Status::Idle }.encode(),
            4 => ServerFrame::Presence { members: vec![&user] }.encode(),
            _ => json!({ "type": "error", "code": "invalid_field", "message": event }).to_string(),
        }
    });
    prop_oneof![4 => valid_or_mutated(frame), 1 => odd_string(30), 1 => nesting()]
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn any_client_frame_is_refused_with_a_frame_code_or_decoded_into_what_encodes_back_into_it(text in frame_text()) {
        within(text.len(), || native::frame(&text));
    }

    #[test]
    fn a_room_answers_any_script_of_connections_and_frames_with_documented_frames_in_seq_order(
        kind in room_kind(),
        inputs in proptest::collection::vec(room_input(), 0..24),
    ) {
        let size = inputs.iter().map(|i| format!("{i:?}").len()).sum();
        within(size, || native::room(kind, &inputs));
    }

    #[test]
    fn any_frame_from_a_room_is_read_by_the_dialects_without_a_panic(text in room_frame()) {
        within(text.len(), || native::from_room(&text));
    }
}

/// `data` is kept as the publisher wrote it, however deep it nests: the reader skips it without
/// recursing, so it is never refused for depth, and never overflows the stack.
#[test]
fn a_publish_whose_data_nests_far_past_the_json_reader_limit_keeps_it_verbatim() {
    use herald_core::protocol::native::{decode, Command};
    for depth in [200, 100_000] {
        let data = format!("{}1{}", "[".repeat(depth), "]".repeat(depth));
        let frame = decode(&format!(r#"{{"type":"publish","event":"e","data":{data}}}"#)).unwrap();
        let Command::Publish(draft) = frame.command else { panic!("not a publish") };
        assert_eq!(draft.data.get(), data);
    }
}
