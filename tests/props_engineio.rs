//! Engine.IO v4 packets, frames and polling payloads, and the session that reads them, under
//! generated input (`support/checks/engineio.rs`, `support/checks/dialects.rs`).

mod props;

use herald_core::dialect::DialectKind;
use herald_core::engineio::session::Transport;
use herald_core::engineio::{Packet, Payload};
use herald_tests::checks::dialects::{client, ClientInput};
use herald_tests::checks::engineio;
use props::gen::{mutate, odd_bytes, odd_string};
use props::{config, within};
use proptest::prelude::*;

fn packet() -> impl Strategy<Value = Packet> {
    prop_oneof![
        odd_string(24).prop_map(Packet::Open),
        Just(Packet::Close),
        odd_string(8).prop_map(Packet::Ping),
        odd_string(8).prop_map(Packet::Pong),
        odd_string(40).prop_map(|text| Packet::Message(Payload::Text(text))),
        proptest::collection::vec(any::<u8>(), 0..40).prop_map(|bytes| Packet::Message(Payload::Binary(bytes))),
        Just(Packet::Upgrade),
        Just(Packet::Noop),
    ]
}

/// A frame or a payload written by the encoder, often mutated: what a broken client sends.
fn frame_text() -> impl Strategy<Value = String> {
    prop_oneof![
        odd_string(40),
        packet().prop_flat_map(|p| mutate(p.encode_text())),
        proptest::collection::vec(packet(), 1..6)
            .prop_flat_map(|ps| mutate(herald_core::engineio::packet::encode_payload(&ps))),
        "[0-6b]{0,2}[A-Za-z0-9+/=]{0,12}",
    ]
}

/// What a client sends a session, over either transport.
fn session_input() -> impl Strategy<Value = ClientInput> {
    prop_oneof![
        4 => frame_text().prop_map(ClientInput::Frame),
        1 => proptest::collection::vec(any::<u8>(), 0..16).prop_map(ClientInput::Binary),
        4 => frame_text().prop_map(ClientInput::Post),
        2 => Just(ClientInput::Poll),
        1 => Just(ClientInput::Upgrade),
        1 => Just(ClientInput::SocketClosed),
        2 => prop_oneof![Just("2probe"), Just("3probe"), Just("5"), Just("3"), Just("1"), Just("4hi")]
            .prop_map(|t| ClientInput::Frame(t.to_owned())),
        2 => (0u32..60_000).prop_map(ClientInput::Tick),
    ]
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn any_text_frame_is_refused_or_a_packet_whose_frame_is_that_text(text in frame_text()) {
        within(text.len(), || engineio::text_frame(&text));
    }

    #[test]
    fn any_binary_frame_is_a_binary_message_of_the_same_bytes(bytes in odd_bytes(64)) {
        within(bytes.len(), || engineio::binary_frame(&bytes));
    }

    #[test]
    fn any_polling_body_is_refused_whole_or_packets_that_encode_back_into_it(body in frame_text()) {
        within(body.len(), || engineio::payload(&body));
    }

    #[test]
    fn packets_read_back_as_the_encoder_wrote_them_by_websocket_and_by_polling(
        packets in proptest::collection::vec(packet(), 0..8),
    ) {
        engineio::round_trip(&packets);
    }

    #[test]
    fn a_session_answers_any_script_of_requests_and_frames_with_valid_engine_io(
        websocket in any::<bool>(),
        inputs in proptest::collection::vec(session_input(), 0..24),
    ) {
        let transport = if websocket { Transport::Websocket } else { Transport::Polling };
        let size = inputs.iter().map(|i| format!("{i:?}").len()).sum();
        within(size, || client(DialectKind::EngineEcho, transport, false, &inputs));
    }
}

#[test]
fn a_payload_of_a_megabyte_of_base64_takes_memory_in_proportion() {
    let body = format!("b{}", "QUFB".repeat(256 * 1024));
    let (_, held) = props::peak(|| engineio::payload(&body));
    assert!(held <= 4 * body.len(), "{held} bytes for a body of {}", body.len());
}
