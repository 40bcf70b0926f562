//! Socket.IO v5 over Engine.IO v4's websocket transport, by hand: no polling, no upgrade.
//!
//! Every websocket text frame is one Engine.IO packet: a type digit then data
//! (`0` open with a JSON handshake, `1` close, `2` ping, `3` pong, `4` message). A message's
//! data is a Socket.IO packet: a type digit (`0` CONNECT, `1` DISCONNECT, `2` EVENT, `3` ACK,
//! `4` CONNECT_ERROR; `5`/`6` are binary and unused here), an optional `/namespace,`, an
//! optional ack id (digits), then a JSON payload — for an event, `["name", args...]`.
//! The client answers each ping with a pong (in v4 the server pings), sends `40` to connect
//! the main namespace (`40{"token":...}` with auth), then emits `421["join","room"]` and
//! waits for its ack `431[...]`.

use super::{payload_json, Inbound, Payload};
use serde::de::IgnoredAny;

pub fn decode(text: &str) -> Inbound {
    let mut chars = text.chars();
    match chars.next() {
        Some('0') => Inbound::Open,
        Some('1') => Inbound::Error("engine.io close".into()),
        Some('2') => Inbound::Ping,
        Some('4') => decode_socket(&text[1..]),
        _ => Inbound::Other,
    }
}

/// A Socket.IO packet (the data of an Engine.IO message).
fn decode_socket(packet: &str) -> Inbound {
    let Some(kind) = packet.chars().next() else { return Inbound::Other };
    let rest = skip_ack_id(skip_namespace(&packet[1..]));
    match kind {
        '0' => Inbound::Connected,
        '1' => Inbound::Error("socket.io disconnect".into()),
        '2' => decode_event(rest),
        '3' => decode_ack(rest),
        '4' => Inbound::Error(format!("socket.io connect error: {rest}")),
        _ => Inbound::Other,
    }
}

/// `/admin,rest` → `rest`; the main namespace `/` is written with nothing.
fn skip_namespace(s: &str) -> &str {
    if s.starts_with('/') {
        s.find(',').map_or("", |i| &s[i + 1..])
    } else {
        s
    }
}

fn skip_ack_id(s: &str) -> &str {
    s.trim_start_matches(|c: char| c.is_ascii_digit())
}

/// `["message", {seq, ts, body}]` → the payload; other events are `Other`.
fn decode_event(json: &str) -> Inbound {
    match serde_json::from_str::<(&str, Payload)>(json) {
        Ok(("message", payload)) => Inbound::Message(payload),
        Ok(_) => Inbound::Other,
        // Events with other arguments (or more than one), which the generator does not use.
        Err(_) => match serde_json::from_str::<Vec<IgnoredAny>>(json) {
            Ok(_) => Inbound::Other,
            Err(_) => Inbound::Error(format!("unreadable socket.io event: {json}")),
        },
    }
}

/// An ack's arguments; Herald and the bench's server answer a refused join with
/// `{"type":"error",...}`.
fn decode_ack(json: &str) -> Inbound {
    match serde_json::from_str::<Vec<serde_json::Value>>(json) {
        Ok(args) if args.first().and_then(|a| a.get("type")).and_then(|t| t.as_str()) == Some("error") => {
            Inbound::Error(format!("refused: {json}"))
        }
        _ => Inbound::Ack,
    }
}

/// Connects the main namespace, with `{"token": ...}` as auth when there is one.
pub fn connect(token: Option<&str>) -> String {
    match token {
        Some(t) => format!("40{}", serde_json::json!({ "token": t })),
        None => "40".to_owned(),
    }
}

/// `join` with ack id 1 (`421[...]`), answered `431[...]`: a server that takes no ack
/// callback never answers it, and the handshake times out saying so.
pub fn join(room: &str) -> String {
    format!("421{}", serde_json::json!(["join", room]))
}

pub const PONG: &str = "3";

pub fn publish(seq: u64, ts: u64, body: &str) -> String {
    format!(r#"42["publish",{}]"#, payload_json(seq, ts, body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engine_io_open_ping_and_close_packets() {
        let open = r#"0{"sid":"lv_VI97HAXpY6yYWAAAC","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}"#;
        assert_eq!(decode(open), Inbound::Open);
        assert_eq!(decode("2"), Inbound::Ping);
        assert_eq!(decode("3"), Inbound::Other, "a pong needs no answer");
        assert!(matches!(decode("1"), Inbound::Error(_)));
        assert_eq!(decode("6"), Inbound::Other, "noop");
    }

    #[test]
    fn socket_io_connect_with_and_without_a_sid_and_a_connect_error() {
        assert_eq!(decode("40"), Inbound::Connected);
        assert_eq!(decode(r#"40{"sid":"wZX3oN0bSVIhsaknAAAI"}"#), Inbound::Connected);
        assert_eq!(decode(r#"40/admin,{"sid":"x"}"#), Inbound::Connected);
        assert_eq!(
            decode(r#"44{"message":"Not authorized"}"#),
            Inbound::Error(r#"socket.io connect error: {"message":"Not authorized"}"#.into())
        );
        assert!(matches!(decode("41"), Inbound::Error(_)));
    }

    #[test]
    fn a_message_event_yields_its_payload_with_or_without_namespace_and_ack_id() {
        let want = Inbound::Message(Payload { seq: 12, ts: 345.0 });
        assert_eq!(decode(r#"42["message",{"seq":12,"ts":345,"body":"xx"}]"#), want);
        assert_eq!(decode(r#"42/chat,["message",{"seq":12,"ts":345,"body":"xx"}]"#), want);
        assert_eq!(decode(r#"4217["message",{"body":"xx","ts":345,"seq":12}]"#), want);
    }

    #[test]
    fn other_events_and_acks_are_not_messages() {
        assert_eq!(decode(r#"42["joined",{"room":"r"}]"#), Inbound::Other);
        assert_eq!(decode(r#"42["presence",[1,2],"x"]"#), Inbound::Other);
        assert_eq!(decode(r#"431[{"type":"welcome","room":"r"}]"#), Inbound::Ack);
        assert_eq!(decode("431[]"), Inbound::Ack);
        assert!(matches!(decode(r#"431[{"type":"error","code":"invalid_field"}]"#), Inbound::Error(_)));
        assert!(matches!(decode(r#"42{not json"#), Inbound::Error(_)));
    }

    #[test]
    fn client_packets_are_written_as_the_spec_says() {
        assert_eq!(connect(None), "40");
        assert_eq!(connect(Some("a.b.c")), r#"40{"token":"a.b.c"}"#);
        assert_eq!(join("room-1"), r#"421["join","room-1"]"#);
        assert_eq!(publish(3, 99, "xy"), r#"42["publish",{"seq":3,"ts":99,"body":"xy"}]"#);
        assert_eq!(PONG, "3");
    }
}
