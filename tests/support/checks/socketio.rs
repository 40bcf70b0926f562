//! Socket.IO v5 packets and binary attachments (`socketio/packet.rs`), and one connection's
//! namespaces (`socketio/connection.rs`).

use herald_core::engineio::Payload;
use herald_core::socketio::connection::{to_messages, Connection, Incoming, Violation};
use herald_core::socketio::packet::{Decoded, Decoder, Kind, Packet, DEFAULT_MAX_ATTACHMENTS};
use serde_json::Value;

/// Engine.IO messages into one decoder: each is refused with a
/// [`herald_core::socketio::DecodeError`], or waits for attachments, or completes a packet that
/// the encoder writes back into messages a fresh decoder reads as the same packet. A refusal
/// leaves the decoder empty, as documented; a packet never holds more attachments than it
/// declared, nor more than the cap.
pub fn messages(messages: &[Payload]) {
    let mut decoder = Decoder::default();
    for message in messages {
        let decoded = match message.clone() {
            Payload::Text(text) => decoder.on_text(&text),
            Payload::Binary(bytes) => decoder.on_binary(bytes),
        };
        match decoded {
            Ok(Decoded::Packet(packet)) => {
                assert!(packet.attachments.len() <= DEFAULT_MAX_ATTACHMENTS, "{message:?}");
                round_trip(&packet);
            }
            Ok(Decoded::AwaitingAttachments) => {}
            Err(e) => assert!(!e.to_string().is_empty()),
        }
    }
}

/// A packet (its attachments included) read back the same from the messages it encodes into.
/// Packets with placeholders that name no attachment cannot be written by a client, nor read.
pub fn round_trip(packet: &Packet) {
    let messages = to_messages(packet);
    let mut decoder = Decoder::default();
    let mut decoded = None;
    for (i, message) in messages.iter().enumerate() {
        let step = match message.clone() {
            Payload::Text(text) => decoder.on_text(&text),
            Payload::Binary(bytes) => decoder.on_binary(bytes),
        };
        match step {
            Ok(Decoded::Packet(p)) => {
                assert_eq!(i, messages.len() - 1, "{packet:?}: complete before its last message");
                decoded = Some(p);
            }
            Ok(Decoded::AwaitingAttachments) => {}
            Err(e) => panic!("{packet:?} encoded as {messages:?} does not decode: {e}"),
        }
    }
    assert_eq!(decoded.as_ref(), Some(packet), "{messages:?}");
}

/// One connection reading messages: a violation (which ends the session) or what the dialect
/// gets, never an event for a namespace it has not joined. A CONNECT is accepted so that
/// what follows reaches the namespace.
pub fn connection(messages: &[Payload]) {
    let mut connection = Connection::new();
    for message in messages {
        match connection.on_message(message.clone()) {
            Ok(Some(Incoming::Connect { nsp, auth })) => {
                assert!(matches!(auth, None | Some(Value::Object(_))), "{message:?}: auth {auth:?}");
                connection.accept(&nsp, format!("socket-{nsp}"));
            }
            Ok(Some(Incoming::Packet(packet))) => {
                assert!(connection.is_connected(&packet.nsp), "{message:?}: a packet of {}", packet.nsp);
                assert!(matches!(packet.kind, Kind::Event | Kind::Ack), "{packet:?}");
            }
            Ok(Some(Incoming::Disconnect { nsp })) => assert!(!connection.is_connected(&nsp)),
            Ok(None) => {}
            Err(Violation::Decode(_) | Violation::NotConnected { .. } | Violation::ClientConnectError) => {
                connection = Connection::new();
            }
        }
    }
}
