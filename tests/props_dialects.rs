//! Each dialect under generated input: a client of it (Engine.IO session, Socket.IO
//! connection, dialect) taking scripts of what the client and its rooms send, and tndata's
//! client frames (`support/checks/dialects.rs`).

mod props;

use herald_core::dialect::DialectKind;
use herald_core::engineio::session::Transport;
use herald_tests::checks::dialects::{self, ClientInput, TOKEN};
use props::gen::{json, mutate, odd_bytes, odd_number, odd_string, valid_or_mutated};
use props::{config, within};
use proptest::prelude::*;
use serde_json::{json, Map, Value};

/// Every event name a dialect has, and some it has not.
fn event_name() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => proptest::sample::select(vec![
            "join", "leave", "publish", "joined", "text", "left", "auth", "select-channel", "unselect-channel",
            "update-online-status", "update-media-state", "message", "message-with-ack", "connect", "error",
        ])
        .prop_map(str::to_owned),
        1 => odd_string(12),
    ]
}

/// An event's argument: an object of the fields the dialects read, right or wrong, or any JSON.
fn argument() -> impl Strategy<Value = Value> {
    let value = prop_oneof![
        3 => proptest::sample::select(vec![
            json!("lobby"), json!("room-1"), json!("ws-1"), json!("ch-1"), json!("Ann"), json!("hi"), json!(true),
            json!("online"), json!("away"), json!(7), json!(0), json!(null), json!(TOKEN), json!({"mic": true}),
            json!("a".repeat(300)),
        ]),
        2 => json(),
        1 => odd_string(24).prop_map(Value::from),
        1 => odd_number().prop_map(|n| serde_json::from_str(&n).unwrap_or(Value::Null)),
    ];
    let name = proptest::sample::select(vec![
        "room",
        "since",
        "event",
        "data",
        "id",
        "transaction",
        "name",
        "msg",
        "notifications",
        "teamspace",
        "project",
        "model",
        "token",
        "workspaceId",
        "onlineStatus",
        "channelId",
        "userMediaState",
    ]);
    prop_oneof![
        4 => proptest::collection::vec((name, value), 0..5).prop_map(|fields| {
            Value::Object(fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect::<Map<_, _>>())
        }),
        1 => json(),
    ]
}

/// What a client and its rooms send.
fn input() -> impl Strategy<Value = ClientInput> {
    let packet = prop_oneof![
        Just(format!(r#"0{{"token":"{TOKEN}"}}"#)),
        Just("0".to_owned()),
        Just(r#"0/custom,{}"#.to_owned()),
        Just("1".to_owned()),
        Just(r#"2["join",{"room":"lobby"}]"#.to_owned()),
        Just(r#"51-["message",{"_placeholder":true,"num":0}]"#.to_owned()),
        Just(r#"3["ack"]"#.to_owned()),
    ];
    prop_oneof![
        2 => ((odd_string(10).prop_filter("a user id", |s| !s.is_empty() && s.len() < 100)), any::<bool>())
            .prop_map(|(sub, admin)| ClientInput::Login { sub, admin }),
        1 => Just(ClientInput::Login { sub: "alice".into(), admin: false }),
        8 => (event_name(), proptest::collection::vec(argument(), 0..3), proptest::option::of(0u64..1000))
            .prop_map(|(name, args, ack)| ClientInput::Emit { name, args, ack }),
        3 => valid_or_mutated(packet).prop_map(ClientInput::Packet),
        1 => odd_string(20).prop_map(ClientInput::Frame),
        1 => odd_bytes(12).prop_map(ClientInput::Binary),
        1 => odd_string(20).prop_map(ClientInput::Post),
        1 => Just(ClientInput::Poll),
        3 => (any::<u8>()).prop_map(|room| ClientInput::RoomWelcome { room }),
        3 => (any::<u8>(), event_name(), json()).prop_map(|(room, event, data)| ClientInput::RoomMessage { room, event, data }),
        2 => (any::<u8>(), room_frame()).prop_map(|(room, text)| ClientInput::RoomFrame { room, text }),
        1 => any::<u8>().prop_map(ClientInput::RoomClosed),
        1 => any::<u8>().prop_map(ClientInput::RoomFailed),
        1 => prop_oneof![0u32..30_000, Just(86_400_000)].prop_map(ClientInput::Tick),
    ]
}

/// Frames a room sends a member: each documented type, often mutated.
fn room_frame() -> impl Strategy<Value = String> {
    let frame = prop_oneof![
        Just(r#"{"type":"ack","id":"m","seq":3,"transaction":"sio-ack:1"}"#),
        Just(r#"{"type":"error","code":"room_full","message":"full","transaction":"sio-ack:2"}"#),
        Just(r#"{"type":"error","code":"token_expired","message":"expired"}"#),
        Just(r#"{"type":"presence","members":[{"id":"alice"},{"id":"bob","name":"Bob"}]}"#),
        Just(r#"{"type":"joined","user":{"id":"bob"}}"#),
        Just(r#"{"type":"left","user":{"id":"bob"}}"#),
        Just(r#"{"type":"status","user":{"id":"bob"},"status":"idle"}"#),
        Just(r#"{"type":"moved","user":{"id":"alice"},"conn":"c2","focus":"doc"}"#),
        Just(r#"{"type":"read","seq":2}"#),
    ]
    .prop_map(str::to_owned);
    prop_oneof![4 => frame.prop_flat_map(|f| prop_oneof![Just(f.clone()), mutate(f)]), 1 => odd_string(24)]
}

fn dialect() -> impl Strategy<Value = DialectKind> {
    proptest::sample::select(vec![
        DialectKind::Native,
        DialectKind::Alert,
        DialectKind::ThreeDRepo,
        DialectKind::Workspace,
        DialectKind::Echo,
        DialectKind::EngineEcho,
    ])
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn each_dialect_answers_any_script_with_readable_packets_documented_codes_and_frames_a_room_reads(
        kind in dialect(),
        websocket in any::<bool>(),
        anonymous in any::<bool>(),
        inputs in proptest::collection::vec(input(), 0..20),
    ) {
        let transport = if websocket { Transport::Websocket } else { Transport::Polling };
        let size = inputs.iter().map(|i| format!("{i:?}").len()).sum();
        within(size, || dialects::client(kind, transport, anonymous, &inputs));
    }

    #[test]
    fn any_tndata_client_frame_is_a_publish_a_receipt_or_a_coded_refusal(
        text in prop_oneof![
            (odd_string(20), json()).prop_map(|(text, from)| json!({ "text": text, "from": from, "token": "x" }).to_string()),
            json().prop_map(|v| v.to_string()),
            odd_string(40),
        ].prop_flat_map(|t| prop_oneof![Just(t.clone()), mutate(t)]),
    ) {
        within(text.len(), || dialects::tndata_frame(&text));
    }
}
