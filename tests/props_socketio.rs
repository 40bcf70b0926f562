//! Socket.IO v5 packets, binary attachments and one connection's namespaces under generated
//! input (`support/checks/socketio.rs`).

mod props;

use herald_core::engineio::Payload;
use herald_core::socketio::packet::{DecodeError, Decoder, Kind, Packet, RESERVED_EVENTS};
use herald_tests::checks::socketio;
use props::gen::{json, mutate, odd_bytes, odd_number, odd_string};
use props::{config, within};
use proptest::prelude::*;
use serde_json::{json, Value};

fn holds_placeholder(value: &Value) -> bool {
    match value {
        Value::Object(fields) => fields.contains_key("_placeholder") || fields.values().any(holds_placeholder),
        Value::Array(items) => items.iter().any(holds_placeholder),
        _ => false,
    }
}

fn namespace() -> impl Strategy<Value = String> {
    prop_oneof![Just("/".to_owned()), "/[a-z0-9_.-]{1,8}(/[a-z]{1,4})?"]
}

fn args() -> impl Strategy<Value = Vec<Value>> {
    proptest::collection::vec(json().prop_filter("no placeholder", |v| !holds_placeholder(v)), 0..4)
}

/// Any packet a client may send, binary ones with their attachments and placeholders.
fn packet() -> impl Strategy<Value = Packet> {
    let name = odd_string(12).prop_filter("an event name", |n| !RESERVED_EVENTS.contains(&n.as_str()));
    let attachments = proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..12), 0..4);
    let event = (namespace(), name, args(), proptest::option::of(any::<u64>()), attachments.clone()).prop_map(
        |(nsp, name, args, id, attachments)| {
            let mut data = vec![Value::from(name)];
            data.extend(args);
            data.extend((0..attachments.len()).map(|num| json!({"_placeholder": true, "num": num})));
            let packet = Packet::event(nsp, Value::Array(data)).with_attachments(attachments);
            match id {
                Some(id) => packet.with_id(id),
                None => packet,
            }
        },
    );
    let ack = (namespace(), args(), any::<u64>(), attachments).prop_map(|(nsp, args, id, attachments)| {
        let mut data = args;
        data.extend((0..attachments.len()).map(|num| json!({"_placeholder": true, "num": num})));
        Packet::ack(nsp, id, Value::Array(data)).with_attachments(attachments)
    });
    let auth = proptest::collection::btree_map("[a-z]{1,6}", json(), 0..3)
        .prop_map(|fields| Value::Object(fields.into_iter().collect()))
        .prop_filter("no placeholder", |v| !holds_placeholder(v));
    prop_oneof![
        (namespace(), proptest::option::of(auth)).prop_map(|(nsp, auth)| Packet::connect(nsp, auth)),
        namespace().prop_map(Packet::disconnect),
        event,
        ack,
        (namespace(), odd_string(12)).prop_map(|(nsp, m)| Packet::connect_error(nsp, json!({ "message": m }))),
    ]
}

/// A packet's text, mutated; or a binary header declaring a count far past the cap.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => packet().prop_flat_map(|p| mutate(p.encode().0)),
        2 => odd_string(32),
        1 => (5u8..=6, odd_number(), odd_string(8)).prop_map(|(kind, count, rest)| format!("{kind}{count}-{rest}")),
        1 => (0u8..=6, "/[a-z]{0,4},?", odd_number(), odd_string(8)).prop_map(|(k, nsp, id, rest)| format!("{k}{nsp}{id}{rest}")),
    ]
}

fn message() -> impl Strategy<Value = Payload> {
    prop_oneof![3 => text().prop_map(Payload::Text), 1 => odd_bytes(16).prop_map(Payload::Binary)]
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn any_packet_reads_back_from_the_messages_it_encodes_into(packet in packet()) {
        socketio::round_trip(&packet);
    }

    #[test]
    fn any_messages_are_refused_wait_for_attachments_or_make_packets_that_round_trip(
        messages in proptest::collection::vec(message(), 0..12),
    ) {
        let size = messages.iter().map(|m| format!("{m:?}").len()).sum();
        within(size, || socketio::messages(&messages));
    }

    #[test]
    fn a_connection_gives_its_dialect_only_packets_of_namespaces_it_joined(
        messages in proptest::collection::vec(message(), 0..12),
    ) {
        let size = messages.iter().map(|m| format!("{m:?}").len()).sum();
        within(size, || socketio::connection(&messages));
    }
}

#[test]
fn a_binary_header_declaring_a_huge_count_is_refused_before_anything_is_kept_for_it() {
    for count in ["4294967296", "18446744073709551615", "18446744073709551616", &"9".repeat(10_000)] {
        let text = format!(r#"5{count}-["m",{{"_placeholder":true,"num":0}}]"#);
        let (refused, held) = props::peak(|| Decoder::default().on_text(&text));
        assert!(
            matches!(refused, Err(DecodeError::TooManyAttachments { .. } | DecodeError::BadAttachmentCount)),
            "{refused:?}"
        );
        assert!(held <= 2 * text.len() + 1024, "{held} bytes held for a header of {} bytes", text.len());
    }
}

/// An event nested inside arrays is refused for its shape while the JSON reader can read it,
/// and as invalid JSON past its recursion limit (128): never a stack overflow.
#[test]
fn a_payload_nested_past_the_json_reader_limit_is_refused() {
    for depth in [2, 127, 128, 10_000] {
        let text = format!("2{}\"m\"{}", "[".repeat(depth), "]".repeat(depth));
        let refused = Decoder::default().on_text(&text).unwrap_err();
        match depth {
            ..=127 => {
                assert!(matches!(refused, DecodeError::BadPayload { kind: Kind::Event, .. }), "{depth}: {refused:?}")
            }
            _ => assert!(matches!(refused, DecodeError::InvalidJson(_)), "{depth}: {refused:?}"),
        }
    }
}
