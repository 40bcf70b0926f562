//! Socket.IO v5 packets (spec "Packet encoding" § Format):
//! `<type>[<# attachments>-][<namespace>,][<ack id>][JSON payload]`.
//!
//! [`Packet::encode`] gives the text frame and the binary attachments sent after it; a [`Decoder`]
//! reads them back one Engine.IO message at a time. Texts here are Socket.IO packets without the
//! Engine.IO `4` (message) prefix. A binary packet keeps its placeholders
//! (`{"_placeholder":true,"num":i}`) in `data` as JSON; placeholder `i` is `attachments[i]`.

use serde_json::Value;
use std::fmt::Write;

/// Attachments per packet a [`Decoder::default`] accepts (the JS parser's default).
pub const DEFAULT_MAX_ATTACHMENTS: usize = 10;

/// Event names the reference parser refuses: they mean something to the sockets themselves.
pub const RESERVED_EVENTS: [&str; 6] =
    ["connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener"];

/// What a packet does; the discriminant is its type digit. BINARY_EVENT (5) and BINARY_ACK (6)
/// are `Event` and `Ack` with attachments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Join a namespace (optional auth object), or the server's acceptance (`{"sid":..}`).
    Connect = 0,
    /// Leave a namespace. No payload.
    Disconnect = 1,
    /// `[name, ...args]`; an id asks for an ack.
    Event = 2,
    /// `[...args]`, answering the event with the same id.
    Ack = 3,
    /// The server refuses a CONNECT; an object (`{"message":..}`) or a string.
    ConnectError = 4,
}

/// Type digits 0 to 6; 5 and 6 are the binary forms of 2 and 3.
const KINDS: [Kind; 7] =
    [Kind::Connect, Kind::Disconnect, Kind::Event, Kind::Ack, Kind::ConnectError, Kind::Event, Kind::Ack];

/// One Socket.IO packet.
#[derive(Debug, Clone, PartialEq)]
pub struct Packet {
    pub kind: Kind,
    /// The namespace, `/` by default.
    pub nsp: String,
    /// The ack id.
    pub id: Option<u64>,
    /// The payload; placeholders for attachments stay in place, as JSON.
    pub data: Option<Value>,
    /// Binary attachments, in placeholder order; non-empty only for `Event` and `Ack`.
    pub attachments: Vec<Vec<u8>>,
}

impl Packet {
    fn new(kind: Kind, nsp: impl Into<String>, data: Option<Value>) -> Self {
        Self { kind, nsp: nsp.into(), id: None, data, attachments: Vec::new() }
    }

    /// A CONNECT: the client's join (with auth) or the server's acceptance (with `{"sid":..}`).
    pub fn connect(nsp: impl Into<String>, data: Option<Value>) -> Self {
        Self::new(Kind::Connect, nsp, data)
    }

    /// A DISCONNECT from `nsp`.
    pub fn disconnect(nsp: impl Into<String>) -> Self {
        Self::new(Kind::Disconnect, nsp, None)
    }

    /// An EVENT; `data` is `[name, ...args]`. Add [`Packet::with_id`] to ask for an ack.
    pub fn event(nsp: impl Into<String>, data: Value) -> Self {
        Self::new(Kind::Event, nsp, Some(data))
    }

    /// An ACK of the event `id`; `data` is the array of answers.
    pub fn ack(nsp: impl Into<String>, id: u64, data: Value) -> Self {
        Self::new(Kind::Ack, nsp, Some(data)).with_id(id)
    }

    /// A CONNECT_ERROR; `data` is `{"message":..}` (or a string).
    pub fn connect_error(nsp: impl Into<String>, data: Value) -> Self {
        Self::new(Kind::ConnectError, nsp, Some(data))
    }

    /// The same packet with an ack id.
    pub fn with_id(self, id: u64) -> Self {
        Self { id: Some(id), ..self }
    }

    /// The same packet with binary attachments; `data` must hold their placeholders.
    pub fn with_attachments(self, attachments: Vec<Vec<u8>>) -> Self {
        Self { attachments, ..self }
    }

    /// The text frame, then the attachments (each sent as its own binary message). Event/Ack with
    /// non-empty attachments are written as types 5/6 with `N-`.
    pub fn encode(&self) -> (String, Vec<Vec<u8>>) {
        debug_assert!(self.attachments.is_empty() || matches!(self.kind, Kind::Event | Kind::Ack));
        let binary = !self.attachments.is_empty() && matches!(self.kind, Kind::Event | Kind::Ack);
        let mut text = (self.kind as u8 + if binary { 3 } else { 0 }).to_string();
        if binary {
            let _ = write!(text, "{}-", self.attachments.len());
        }
        // The main namespace is implied; any other always takes its comma, even with nothing after.
        if !self.nsp.is_empty() && self.nsp != "/" {
            text.push_str(&self.nsp);
            text.push(',');
        }
        if let Some(id) = self.id {
            let _ = write!(text, "{id}");
        }
        if let Some(data) = &self.data {
            text.push_str(&data.to_string());
        }
        (text, if binary { self.attachments.clone() } else { Vec::new() })
    }

    /// For EVENT: the event name (first array element, a string) — None otherwise.
    pub fn event_name(&self) -> Option<&str> {
        match self.kind {
            Kind::Event => self.data.as_ref()?.as_array()?.first()?.as_str(),
            _ => None,
        }
    }
}

/// Why an Engine.IO message is not (part of) a Socket.IO packet. The spec asks the receiver to
/// close the connection on any of them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("empty packet")]
    Empty,
    #[error("unknown packet type {0:?} (expected 0 to 6)")]
    UnknownType(char),
    #[error("a binary packet's header needs its attachment count in digits, then `-`")]
    BadAttachmentCount,
    #[error("{declared} attachments declared, at most {max} accepted")]
    TooManyAttachments { declared: u64, max: usize },
    #[error("bad namespace {0:?}")]
    BadNamespace(String),
    #[error("bad ack id: {0}")]
    BadAckId(&'static str),
    #[error("invalid JSON payload: {0}")]
    InvalidJson(String),
    #[error("data after the JSON payload")]
    TrailingData,
    #[error("{kind:?} payload {reason}")]
    BadPayload { kind: Kind, reason: &'static str },
    #[error("a placeholder must have `num` below the {declared} attachment(s) declared")]
    BadPlaceholder { declared: usize },
    #[error("binary message with no packet awaiting attachments")]
    UnexpectedBinary,
    #[error("text message while {missing} attachment(s) are still expected")]
    AttachmentsPending { missing: usize },
}

/// What one Engine.IO message gave the [`Decoder`].
#[derive(Debug, Clone, PartialEq)]
pub enum Decoded {
    Packet(Packet),
    /// A binary packet's header, or one of its attachments, with more attachments to come.
    AwaitingAttachments,
}

/// Reassembles packets from Engine.IO messages: text frames, and binary frames that complete a
/// pending binary packet. After an error the decoder is empty again, but the connection should
/// be closed anyway.
#[derive(Debug)]
pub struct Decoder {
    max_attachments: usize,
    /// A binary packet's header, and how many attachments it declared.
    pending: Option<(Packet, usize)>,
}

impl Default for Decoder {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_ATTACHMENTS)
    }
}

impl Decoder {
    /// A decoder refusing packets that declare more than `max_attachments`.
    pub fn new(max_attachments: usize) -> Self {
        Self { max_attachments, pending: None }
    }

    /// A text message. A text while attachments are pending is an error.
    pub fn on_text(&mut self, text: &str) -> Result<Decoded, DecodeError> {
        if let Some((packet, declared)) = self.pending.take() {
            return Err(DecodeError::AttachmentsPending { missing: declared - packet.attachments.len() });
        }
        let (packet, declared) = decode_text(text, self.max_attachments)?;
        // `50-[..]` declares no attachments: the JS parser delivers it at once, and so do we.
        if declared == 0 {
            return Ok(Decoded::Packet(packet));
        }
        self.pending = Some((packet, declared));
        Ok(Decoded::AwaitingAttachments)
    }

    /// A binary message: the next attachment of the pending packet.
    pub fn on_binary(&mut self, bytes: Vec<u8>) -> Result<Decoded, DecodeError> {
        let (mut packet, declared) = self.pending.take().ok_or(DecodeError::UnexpectedBinary)?;
        packet.attachments.push(bytes);
        if packet.attachments.len() < declared {
            self.pending = Some((packet, declared));
            return Ok(Decoded::AwaitingAttachments);
        }
        Ok(Decoded::Packet(packet))
    }
}

/// One text frame: the packet (attachments not yet there) and how many its header declares.
fn decode_text(text: &str, max_attachments: usize) -> Result<(Packet, usize), DecodeError> {
    let first = text.chars().next().ok_or(DecodeError::Empty)?;
    let digit = first.to_digit(10).filter(|&d| d <= 6).ok_or(DecodeError::UnknownType(first))?;
    let kind = KINDS[digit as usize];
    let mut rest = &text[1..];
    let mut declared = 0;
    if digit >= 5 {
        let (digits, after) = rest.split_once('-').ok_or(DecodeError::BadAttachmentCount)?;
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(DecodeError::BadAttachmentCount);
        }
        let count: u64 = digits.parse().map_err(|_| DecodeError::BadAttachmentCount)?;
        declared = usize::try_from(count)
            .ok()
            .filter(|&n| n <= max_attachments)
            .ok_or(DecodeError::TooManyAttachments { declared: count, max: max_attachments })?;
        rest = after;
    }
    // A namespace starts with `/` and runs to the first `,` or the end of the text (`41/custom`).
    // Namespaces are path-like; refusing JSON openers in them reports a missing comma
    // (`2/chat["x"]`) instead of accepting `/chat["x"]` as a name.
    let mut nsp = "/";
    if rest.starts_with('/') {
        let (name, after) = rest.split_once(',').unwrap_or((rest, ""));
        if name.contains(|c: char| c.is_control() || matches!(c, '"' | '[' | '{')) {
            return Err(DecodeError::BadNamespace(name.to_owned()));
        }
        (nsp, rest) = (name, after);
    }
    let (id_digits, json) = rest.split_at(rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len());
    let id = match id_digits {
        "" => None,
        digits => Some(digits.parse().map_err(|_| DecodeError::BadAckId("does not fit in 64 bits"))?),
    };
    let data = if json.is_empty() { None } else { Some(parse_json(json)?) };
    check_shape(kind, id, data.as_ref())?;
    if let Some(data) = &data {
        check_placeholders(data, declared)?;
    }
    Ok((Packet { kind, nsp: nsp.to_owned(), id, data, attachments: Vec::new() }, declared))
}

/// Exactly one JSON value, nothing after it.
fn parse_json(text: &str) -> Result<Value, DecodeError> {
    let mut values = serde_json::Deserializer::from_str(text).into_iter::<Value>();
    match values.next() {
        Some(Ok(value)) if values.byte_offset() == text.len() => Ok(value),
        Some(Ok(_)) => Err(DecodeError::TrailingData),
        Some(Err(e)) => Err(DecodeError::InvalidJson(e.to_string())),
        None => Err(DecodeError::InvalidJson("no value".to_owned())),
    }
}

/// The payload and ack id each type allows (spec "Exchange protocol"; the JS `isPayloadValid`).
fn check_shape(kind: Kind, id: Option<u64>, data: Option<&Value>) -> Result<(), DecodeError> {
    match (kind, id) {
        (Kind::Connect | Kind::Disconnect | Kind::ConnectError, Some(_)) => {
            return Err(DecodeError::BadAckId("only EVENT and ACK packets carry one"))
        }
        // § Acknowledgement: an ACK answers with "the same event ID"; without one it answers nothing.
        (Kind::Ack, None) => return Err(DecodeError::BadAckId("an ACK needs the id of the event it answers")),
        _ => {}
    }
    let bad = |reason| Err(DecodeError::BadPayload { kind, reason });
    match (kind, data) {
        (Kind::Connect, None | Some(Value::Object(_))) => Ok(()),
        (Kind::Connect, _) => bad("must be absent or an object"),
        (Kind::Disconnect, None) => Ok(()),
        (Kind::Disconnect, _) => bad("must be absent"),
        // § Sending and receiving data: "MUST be a non-empty array"; we also want a string name.
        (Kind::Event, Some(Value::Array(items))) => match items.first() {
            Some(Value::String(name)) if RESERVED_EVENTS.contains(&name.as_str()) => bad("uses a reserved event name"),
            Some(Value::String(_)) => Ok(()),
            _ => bad("must be an array starting with the event name"),
        },
        (Kind::Event, _) => bad("must be an array starting with the event name"),
        (Kind::Ack, Some(Value::Array(_))) => Ok(()),
        (Kind::Ack, _) => bad("must be an array"),
        (Kind::ConnectError, Some(Value::Object(_) | Value::String(_))) => Ok(()),
        (Kind::ConnectError, _) => bad("must be an object or a string"),
    }
}

/// Every `{"_placeholder":true,..}` must name a declared attachment: `num` below `declared` (the JS
/// `reconstructPacket` rule). A non-binary packet declares none, so carries no placeholder.
fn check_placeholders(value: &Value, declared: usize) -> Result<(), DecodeError> {
    match value {
        Value::Object(map) if map.get("_placeholder") == Some(&Value::Bool(true)) => {
            match map.get("num").and_then(Value::as_u64) {
                Some(num) if num < declared as u64 => Ok(()),
                _ => Err(DecodeError::BadPlaceholder { declared }),
            }
        }
        Value::Object(map) => map.values().try_for_each(|v| check_placeholders(v, declared)),
        Value::Array(items) => items.iter().try_for_each(|v| check_placeholders(v, declared)),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn decode(text: &str) -> Packet {
        match Decoder::default().on_text(text) {
            Ok(Decoded::Packet(packet)) => packet,
            other => panic!("{text}: {other:?}"),
        }
    }

    fn reject(text: &str) -> DecodeError {
        Decoder::default().on_text(text).expect_err(text)
    }

    /// The Engine.IO message carrying `packet` (the `4` is Engine.IO's "message" type).
    fn wire(packet: &Packet) -> String {
        format!("4{}", packet.encode().0)
    }

    fn placeholder(num: u64) -> Value {
        json!({"_placeholder": true, "num": num})
    }

    #[test]
    fn connect_round_trips_with_or_without_namespace_and_payload() {
        assert_eq!(decode("0"), Packet::connect("/", None));
        assert_eq!(wire(&Packet::connect("/", None)), "40");
        let packet = decode(r#"0/custom,{"token":"abc"}"#);
        assert_eq!(packet, Packet::connect("/custom", Some(json!({"token": "abc"}))));
        assert_eq!(packet.encode().0, r#"0/custom,{"token":"abc"}"#);
        assert_eq!(wire(&Packet::connect("/custom", Some(json!({"sid": "x"})))), r#"40/custom,{"sid":"x"}"#);
    }

    #[test]
    fn a_namespace_runs_to_the_end_without_a_comma_and_is_written_with_one() {
        assert_eq!(decode("0/random").nsp, "/random");
        assert_eq!(decode("0/custom,").nsp, "/custom");
        let packet = decode("1/custom");
        assert_eq!(packet, Packet::disconnect("/custom"));
        assert_eq!(wire(&packet), "41/custom,");
        assert_eq!(wire(&Packet::disconnect("/")), "41");
    }

    #[test]
    fn connect_error_round_trips_with_an_object_or_a_string() {
        let refusal = Packet::connect_error("/random", json!({"message": "Invalid namespace"}));
        assert_eq!(wire(&refusal), r#"44/random,{"message":"Invalid namespace"}"#);
        assert_eq!(decode(r#"4/random,{"message":"Invalid namespace"}"#), refusal);
        assert_eq!(decode(r#"4"Not authorized""#).data, Some(json!("Not authorized")));
    }

    #[test]
    fn events_round_trip_with_namespace_and_ack_id() {
        let packet = decode(r#"2/custom,["auth",{}]"#);
        assert_eq!(packet, Packet::event("/custom", json!(["auth", {}])));
        assert_eq!(wire(&packet), r#"42/custom,["auth",{}]"#);
        let packet = decode(r#"2456["message-with-ack",1]"#);
        assert_eq!(packet, Packet::event("/", json!(["message-with-ack", 1])).with_id(456));
        assert_eq!(packet.event_name(), Some("message-with-ack"));
        assert_eq!(packet.encode().0, r#"2456["message-with-ack",1]"#);
    }

    #[test]
    fn acks_round_trip_and_have_no_event_name() {
        let packet = decode(r#"3/admin,13["bar"]"#);
        assert_eq!(packet, Packet::ack("/admin", 13, json!(["bar"])));
        assert_eq!(packet.event_name(), None);
        assert_eq!(Packet::ack("/", 12, json!([])).encode().0, "312[]");
    }

    #[test]
    fn a_binary_event_with_two_attachments_is_reassembled_in_order_and_re_encoded_identically() {
        let text = r#"52-789["m",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#;
        let mut decoder = Decoder::new(2);
        assert_eq!(decoder.on_text(text), Ok(Decoded::AwaitingAttachments));
        assert_eq!(decoder.on_binary(vec![1, 2]), Ok(Decoded::AwaitingAttachments));
        let Ok(Decoded::Packet(packet)) = decoder.on_binary(vec![3, 4]) else { panic!("not complete") };
        let expected = Packet::event("/", json!(["m", placeholder(0), placeholder(1)]))
            .with_id(789)
            .with_attachments(vec![vec![1, 2], vec![3, 4]]);
        assert_eq!(packet, expected);
        assert_eq!(packet.encode(), (text.to_owned(), vec![vec![1, 2], vec![3, 4]]));
        assert_eq!(decoder.on_text(r#"2["next"]"#), Ok(Decoded::Packet(Packet::event("/", json!(["next"])))));
    }

    #[test]
    fn a_binary_ack_is_reassembled_and_re_encoded_identically() {
        let text = r#"61-/admin,15["bar",{"_placeholder":true,"num":0}]"#;
        let mut decoder = Decoder::default();
        assert_eq!(decoder.on_text(text), Ok(Decoded::AwaitingAttachments));
        let Ok(Decoded::Packet(packet)) = decoder.on_binary(vec![1, 2, 3, 4]) else { panic!("not complete") };
        assert_eq!(packet.kind, Kind::Ack);
        assert_eq!((packet.nsp.as_str(), packet.id), ("/admin", Some(15)));
        assert_eq!(packet.encode(), (text.to_owned(), vec![vec![1, 2, 3, 4]]));
    }

    #[test]
    fn a_binary_header_declaring_no_attachments_is_delivered_at_once() {
        assert_eq!(decode(r#"50-["m"]"#), Packet::event("/", json!(["m"])));
    }

    #[test]
    fn binary_arriving_with_nothing_pending_is_rejected() {
        let mut decoder = Decoder::default();
        assert_eq!(decoder.on_binary(vec![1]), Err(DecodeError::UnexpectedBinary));
        decoder.on_text(r#"2["m"]"#).unwrap();
        assert_eq!(decoder.on_binary(vec![1]), Err(DecodeError::UnexpectedBinary));
    }

    #[test]
    fn text_arriving_while_attachments_are_pending_is_rejected() {
        let mut decoder = Decoder::default();
        decoder.on_text(r#"52-["m",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#).unwrap();
        decoder.on_binary(vec![1]).unwrap();
        assert_eq!(decoder.on_text(r#"2["m"]"#), Err(DecodeError::AttachmentsPending { missing: 1 }));
    }

    #[test]
    fn unknown_types_are_rejected() {
        assert_eq!(reject("abc"), DecodeError::UnknownType('a'));
        assert_eq!(reject("7"), DecodeError::UnknownType('7'));
        assert_eq!(reject(""), DecodeError::Empty);
    }

    #[test]
    fn payloads_of_the_wrong_shape_for_their_type_are_rejected() {
        let wrong = ["0[]", r#"0"x""#, "0null", "1{}", "1/custom,[]", "2", "2{}", "2[]", "2[1]", r#"2["connect"]"#];
        for text in wrong.into_iter().chain(["31", "31{}", "4", "4[]", "4null"]) {
            assert!(matches!(reject(text), DecodeError::BadPayload { .. }), "{text}");
        }
    }

    #[test]
    fn bad_ack_ids_are_rejected() {
        assert!(matches!(reject(r#"2abc["x"]"#), DecodeError::InvalidJson(_)));
        assert!(matches!(reject(r#"218446744073709551616["x"]"#), DecodeError::BadAckId(_)));
        assert!(matches!(reject(r#"0/custom,1{}"#), DecodeError::BadAckId(_)));
        assert!(matches!(reject(r#"3["bar"]"#), DecodeError::BadAckId(_)));
        assert_eq!(decode(r#"218446744073709551615["x"]"#).id, Some(u64::MAX));
    }

    #[test]
    fn invalid_json_and_trailing_garbage_are_rejected() {
        assert!(matches!(reject(r#"2["x""#), DecodeError::InvalidJson(_)));
        assert_eq!(reject(r#"2["x"]]"#), DecodeError::TrailingData);
        assert_eq!(reject(r#"0{} x"#), DecodeError::TrailingData);
    }

    #[test]
    fn attachment_counts_must_be_digits_then_a_dash_on_binary_types_only() {
        for text in [r#"5x-["m"]"#, r#"5-["m"]"#, r#"51["m"]"#, r#"6["a-b"]"#] {
            assert_eq!(reject(text), DecodeError::BadAttachmentCount, "{text}");
        }
        assert!(matches!(reject(r#"21-["m"]"#), DecodeError::InvalidJson(_)));
    }

    #[test]
    fn more_attachments_than_the_cap_are_rejected() {
        let text = r#"53-["m",{"_placeholder":true,"num":0}]"#;
        assert_eq!(Decoder::new(2).on_text(text), Err(DecodeError::TooManyAttachments { declared: 3, max: 2 }));
    }

    #[test]
    fn placeholders_must_name_a_declared_attachment() {
        let out_of_range = [r#"51-["m",{"_placeholder":true,"num":1}]"#, r#"2["m",{"_placeholder":true,"num":0}]"#];
        let malformed = [r#"51-["m",{"_placeholder":true,"num":-1}]"#, r#"51-["m",{"deep":[{"_placeholder":true}]}]"#];
        for text in out_of_range.into_iter().chain(malformed) {
            assert!(matches!(reject(text), DecodeError::BadPlaceholder { .. }), "{text}");
        }
    }

    #[test]
    fn a_namespace_that_swallows_the_payload_is_rejected() {
        assert_eq!(reject(r#"2/chat["x"]"#), DecodeError::BadNamespace(r#"/chat["x"]"#.to_owned()));
    }
}
