//! Engine.IO v4 packets, their websocket frames and polling payloads (`engineio/packet.rs`).
//! The session that reads them is driven by [`super::dialects::client`], with the
//! `engine-echo` dialect.

use herald_core::engineio::packet::{decode_binary, decode_payload, decode_text, encode_payload};
use herald_core::engineio::{Frame, Packet};

/// A websocket text frame: refused with a [`herald_core::engineio::DecodeError`], or a packet
/// whose frame is the same text.
pub fn text_frame(text: &str) {
    if let Ok(packet) = decode_text(text) {
        assert_eq!(packet.to_frame(), Frame::Text(text.to_owned()), "{text:?} decoded as {packet:?}");
        assert_eq!(packet.encoded_len(), packet.encode_text().len(), "{packet:?}");
    }
}

/// A binary websocket frame is a binary message, its bytes as they are.
pub fn binary_frame(bytes: &[u8]) {
    let packet = decode_binary(bytes.to_vec());
    assert_eq!(packet.to_frame(), Frame::Binary(bytes.to_vec()));
}

/// A polling POST body: refused as a whole, or packets that encode back into the same body
/// (base64 included: only the canonical, padded form is read), whose lengths add up to it.
pub fn payload(body: &str) {
    if let Ok(packets) = decode_payload(body) {
        assert!(!packets.is_empty(), "{body:?}: a payload of no packets");
        assert_eq!(encode_payload(&packets), body, "{body:?} decoded as {packets:?}");
        let length: usize = packets.iter().map(Packet::encoded_len).sum::<usize>() + packets.len() - 1;
        assert_eq!(length, body.len(), "{body:?}");
    }
}

/// Packets written by the encoder read back the same: each alone over a websocket, all of them
/// in one polling payload when none holds the separator `\x1e` (the protocol has no escape
/// for it, so such a text can only travel over a websocket).
pub fn round_trip(packets: &[Packet]) {
    for packet in packets {
        let decoded = match packet.to_frame() {
            Frame::Text(text) => decode_text(&text).unwrap_or_else(|e| panic!("{packet:?} as {text:?}: {e}")),
            Frame::Binary(bytes) => decode_binary(bytes),
        };
        assert_eq!(&decoded, packet);
    }
    let body = encode_payload(packets);
    if packets.is_empty() || body.matches('\x1e').count() != packets.len() - 1 {
        return;
    }
    assert_eq!(decode_payload(&body).as_deref(), Ok(packets), "{body:?}");
}
