//! Engine.IO v4 packets and their two encodings (spec "Packet encoding"): one packet per
//! websocket frame, or several joined by `\x1e` in an HTTP long-polling payload.
//!
//! A packet is a type digit (spec "Protocol": 0 open … 6 noop) and optional data. Decoding is
//! syntactic only: whether a packet is allowed now (an `open` from a client, a `pong` nobody
//! asked for) is the session's decision.

use base64ct::{Base64, Encoding};

/// The data of a `message` packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Payload {
    Text(String),
    Binary(Vec<u8>),
}

/// One Engine.IO packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Packet {
    /// The handshake JSON text, written verbatim after `0`.
    Open(String),
    Close,
    /// The data after the type digit, usually `""` or `"probe"` (spec "Upgrade").
    Ping(String),
    Pong(String),
    Message(Payload),
    Upgrade,
    Noop,
}

/// One websocket frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    Text(String),
    Binary(Vec<u8>),
}

/// Why a frame or payload is not a valid Engine.IO packet.
///
/// `close`, `upgrade` and `noop` carrying data are refused: the spec gives them none, and the
/// reference parser's silent acceptance would hide a confused client. `open` keeps its data,
/// since it is the handshake JSON.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("an empty packet: every packet starts with its type digit")]
    EmptyPacket,
    #[error("an empty payload: a polling POST carries at least one packet")]
    EmptyPayload,
    #[error("unknown packet type {0:?}: expected a digit 0 to 6")]
    UnknownType(char),
    /// Standard alphabet with `=` padding only, as every v4 client writes it; the reference
    /// server's `Buffer.from(_, "base64")` is laxer.
    #[error("a binary packet whose data is not standard, padded base64")]
    BadBase64,
    #[error("a {0} packet carries no data")]
    UnexpectedData(&'static str),
}

/// The record separator between packets of a polling payload (spec "HTTP long-polling").
const SEPARATOR: &str = "\x1e";

/// Marks a base64 binary message in a polling payload, in place of the type digit.
const BINARY_PREFIX: char = 'b';

impl Packet {
    /// The websocket encoding: binary messages go as binary frames, as is, with no type prefix
    /// (spec "WebSocket"); everything else is a text frame `<type><data>`.
    pub fn to_frame(&self) -> Frame {
        match self {
            Packet::Message(Payload::Binary(bytes)) => Frame::Binary(bytes.clone()),
            _ => Frame::Text(self.encode_text()),
        }
    }

    /// The polling encoding of this one packet: `<type><data>`, or `b` + padded base64 for a
    /// binary message (spec "HTTP long-polling").
    pub fn encode_text(&self) -> String {
        match self {
            Packet::Message(Payload::Binary(bytes)) => format!("{BINARY_PREFIX}{}", Base64::encode_string(bytes)),
            _ => format!("{}{}", self.type_digit(), self.text_data()),
        }
    }

    /// Encoded length in bytes as it would appear in a polling payload (for maxPayload
    /// accounting). The `\x1e` separators between packets are not counted: a payload of `n`
    /// packets is the sum of their lengths plus `n - 1`.
    pub fn encoded_len(&self) -> usize {
        match self {
            Packet::Message(Payload::Binary(bytes)) => 1 + Base64::encoded_len(bytes),
            _ => 1 + self.text_data().len(),
        }
    }

    fn type_digit(&self) -> char {
        match self {
            Packet::Open(_) => '0',
            Packet::Close => '1',
            Packet::Ping(_) => '2',
            Packet::Pong(_) => '3',
            Packet::Message(_) => '4',
            Packet::Upgrade => '5',
            Packet::Noop => '6',
        }
    }

    /// The text after the type digit; empty for binary, which is never written this way.
    fn text_data(&self) -> &str {
        match self {
            Packet::Open(data) | Packet::Ping(data) | Packet::Pong(data) => data,
            Packet::Message(Payload::Text(text)) => text,
            _ => "",
        }
    }
}

/// Decodes a websocket text frame `<type><data>`.
///
/// A leading `b` is refused as an unknown type: base64 binary exists only in polling payloads,
/// a websocket sends binary as a binary frame (spec "WebSocket"). The reference parser shares
/// one decoder between transports and would accept it; no v4 client sends it.
pub fn decode_text(frame: &str) -> Result<Packet, DecodeError> {
    let mut chars = frame.chars();
    let kind = chars.next().ok_or(DecodeError::EmptyPacket)?;
    let data = chars.as_str();
    let bare = |packet: Packet, name: &'static str| {
        if data.is_empty() {
            Ok(packet)
        } else {
            Err(DecodeError::UnexpectedData(name))
        }
    };
    match kind {
        '0' => Ok(Packet::Open(data.to_owned())),
        '1' => bare(Packet::Close, "close"),
        '2' => Ok(Packet::Ping(data.to_owned())),
        '3' => Ok(Packet::Pong(data.to_owned())),
        '4' => Ok(Packet::Message(Payload::Text(data.to_owned()))),
        '5' => bare(Packet::Upgrade, "upgrade"),
        '6' => bare(Packet::Noop, "noop"),
        other => Err(DecodeError::UnknownType(other)),
    }
}

/// Decodes a websocket binary frame: always a binary message, its bytes as is.
pub fn decode_binary(frame: Vec<u8>) -> Packet {
    Packet::Message(Payload::Binary(frame))
}

/// Decodes an HTTP long-polling POST body: packets joined by `\x1e`, binary messages as `b` +
/// padded base64. An empty body, an empty record or any bad record fails the whole body: the
/// reference parser keeps the packets before a bad record, but a client that wrote one is broken
/// and acting on half of its body would only hide that.
pub fn decode_payload(body: &str) -> Result<Vec<Packet>, DecodeError> {
    if body.is_empty() {
        return Err(DecodeError::EmptyPayload);
    }
    body.split(SEPARATOR)
        .map(|record| match record.strip_prefix(BINARY_PREFIX) {
            Some(base64) => Base64::decode_vec(base64).map(decode_binary).map_err(|_| DecodeError::BadBase64),
            None => decode_text(record),
        })
        .collect()
}

/// Encodes packets as a polling payload for a GET answer: each [`Packet::encode_text`], joined
/// by `\x1e`. The protocol has no escape, so a text message containing `\x1e` cannot travel
/// intact by polling (it can over a websocket).
pub fn encode_payload(packets: &[Packet]) -> String {
    packets.iter().map(Packet::encode_text).collect::<Vec<_>>().join(SEPARATOR)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> Packet {
        Packet::Message(Payload::Text(s.to_owned()))
    }

    fn binary(bytes: &[u8]) -> Packet {
        Packet::Message(Payload::Binary(bytes.to_vec()))
    }

    /// One of every packet type, with the data each may carry.
    fn every_type() -> Vec<Packet> {
        vec![
            Packet::Open(r#"{"sid":"lv_VI97HAXpY6yYWAAAC","upgrades":["websocket"]}"#.to_owned()),
            Packet::Close,
            Packet::Ping(String::new()),
            Packet::Ping("probe".to_owned()),
            Packet::Pong(String::new()),
            Packet::Pong("probe".to_owned()),
            text("hello"),
            text(""),
            binary(&[1, 2, 3, 4]),
            binary(&[]),
            Packet::Upgrade,
            Packet::Noop,
        ]
    }

    #[test]
    fn every_packet_type_round_trips_over_a_websocket() {
        for packet in every_type() {
            let decoded = match packet.to_frame() {
                Frame::Text(frame) => decode_text(&frame).unwrap(),
                Frame::Binary(frame) => decode_binary(frame),
            };
            assert_eq!(decoded, packet);
        }
    }

    #[test]
    fn every_packet_type_round_trips_alone_and_together_in_a_payload() {
        for packet in every_type() {
            assert_eq!(decode_payload(&encode_payload(std::slice::from_ref(&packet))).unwrap(), vec![packet]);
        }
        assert_eq!(decode_payload(&encode_payload(&every_type())).unwrap(), every_type());
    }

    #[test]
    fn a_payload_of_text_and_binary_round_trips() {
        let wire = "4hello\x1ebAQIDBA==";
        let packets = vec![text("hello"), binary(&[1, 2, 3, 4])];
        assert_eq!(decode_payload(wire).unwrap(), packets);
        assert_eq!(encode_payload(&packets), wire);
    }

    #[test]
    fn the_frames_on_the_wire_are_those_of_the_spec() {
        assert_eq!(decode_text("2probe").unwrap(), Packet::Ping("probe".to_owned()));
        assert_eq!(Packet::Pong("probe".to_owned()).to_frame(), Frame::Text("3probe".to_owned()));
        assert_eq!(decode_text("4").unwrap(), text(""));
        assert_eq!(decode_text("5").unwrap(), Packet::Upgrade);
        assert_eq!(Packet::Open("{}".to_owned()).encode_text(), "0{}");
        assert_eq!(binary(&[1, 2]).to_frame(), Frame::Binary(vec![1, 2]));
        // decodable so that the session, not the codec, refuses an `open` from a client
        assert_eq!(decode_text("0").unwrap(), Packet::Open(String::new()));
        assert_eq!(
            decode_payload("4hello\x1e2\x1e4world").unwrap(),
            [text("hello"), Packet::Ping("".into()), text("world")]
        );
    }

    #[test]
    fn encoding_one_packet_has_no_separator() {
        assert_eq!(encode_payload(&[text("hello")]), "4hello");
        assert_eq!(encode_payload(&[]), "");
    }

    #[test]
    fn encoded_len_is_the_byte_length_of_the_polling_encoding() {
        for packet in every_type().into_iter().chain([text("héllo"), binary(&[0xff; 7])]) {
            assert_eq!(packet.encoded_len(), packet.encode_text().len(), "{packet:?}");
        }
    }

    #[test]
    fn an_unknown_type_is_rejected_with_its_char() {
        assert_eq!(decode_text("abc"), Err(DecodeError::UnknownType('a')));
        assert_eq!(decode_text("7"), Err(DecodeError::UnknownType('7')));
        assert_eq!(decode_text("é4"), Err(DecodeError::UnknownType('é')));
        assert_eq!(decode_payload("4a\x1eabc"), Err(DecodeError::UnknownType('a')));
        // base64 binary belongs to polling payloads only
        assert_eq!(decode_text("bAQIDBA=="), Err(DecodeError::UnknownType('b')));
    }

    #[test]
    fn empty_frames_bodies_and_records_are_rejected() {
        assert_eq!(decode_text(""), Err(DecodeError::EmptyPacket));
        assert_eq!(decode_payload(""), Err(DecodeError::EmptyPayload));
        assert_eq!(decode_payload("4a\x1e\x1e4b"), Err(DecodeError::EmptyPacket));
        assert_eq!(decode_payload("4a\x1e"), Err(DecodeError::EmptyPacket));
    }

    #[test]
    fn bad_base64_in_a_payload_is_rejected() {
        assert_eq!(decode_payload("bnot-base64!"), Err(DecodeError::BadBase64));
        assert_eq!(decode_payload("4ok\x1ebAQIDBA"), Err(DecodeError::BadBase64), "padding is required");
        assert_eq!(decode_payload("b_-8="), Err(DecodeError::BadBase64), "the URL-safe alphabet is not base64");
    }

    #[test]
    fn close_upgrade_and_noop_carrying_data_are_rejected() {
        assert_eq!(decode_text("1x"), Err(DecodeError::UnexpectedData("close")));
        assert_eq!(decode_text("5probe"), Err(DecodeError::UnexpectedData("upgrade")));
        assert_eq!(decode_payload("6\x1e6x"), Err(DecodeError::UnexpectedData("noop")));
    }

    #[test]
    fn text_message_data_is_kept_verbatim() {
        assert_eq!(decode_text("42[\"chat\",\"é 😀\"]").unwrap(), text("2[\"chat\",\"é 😀\"]"));
        assert_eq!(decode_payload("4b\x1e4").unwrap(), [text("b"), text("")]);
    }
}
