//! The three ways in, each a `decode` of a server text frame and an `encode` of the client's:
//! `native` (Herald's JSON protocol, which the JavaScript rooms speak too, and the limit room,
//! which echoes the publisher's frame string) and `socketio` (Engine.IO v4 + Socket.IO v5 over a
//! websocket, written by hand). The payload is the same everywhere: `{"seq","ts","body"}`.

pub mod native;
pub mod socketio;

use serde::Deserialize;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// Herald's JSON protocol (and the JavaScript rooms): welcome, publish → ack + message.
    Herald,
    /// The forwarding room: the publisher's frame string goes to every socket as is.
    Limit,
    /// Socket.IO over a websocket: join, publish → `message` to the room.
    #[value(name = "socketio")]
    #[serde(rename = "socketio")]
    SocketIo,
}

/// The common message body every system carries.
#[derive(Clone, Copy, Debug, PartialEq, Deserialize)]
pub struct Payload {
    pub seq: u64,
    /// The scheduled send time, in µs since the generator's epoch (see `clock`).
    pub ts: f64,
}

/// A server frame, as much of it as the generator needs.
#[derive(Debug, PartialEq)]
pub enum Inbound {
    /// A message of the room, with its payload.
    Message(Payload),
    /// Herald's `welcome`.
    Welcome,
    /// A publish acknowledged.
    Ack,
    /// An error frame (Herald), a connect error or a disconnect (Socket.IO): the text as sent.
    Error(String),
    /// Engine.IO open (`0{...}`).
    Open,
    /// Socket.IO: the namespace is connected (`40`).
    Connected,
    /// Engine.IO ping: answer with a pong (`3`).
    Ping,
    /// The answer to our own ping (Herald's `{"type":"pong"}`, the runtime's auto-response).
    Pong,
    /// Anything else (presence, joined, status, Engine.IO pongs, unknown events).
    Other,
}

impl std::fmt::Display for Protocol {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Protocol::Herald => "herald",
            Protocol::Limit => "limit",
            Protocol::SocketIo => "socketio",
        })
    }
}

impl Protocol {
    /// The websocket URL for `room` under the base `url` (`ws://host:port`).
    pub fn url(self, base: &str, room: &str, token: Option<&str>, socketio_path: &str) -> String {
        let base = base.trim_end_matches('/');
        match self {
            Protocol::Herald | Protocol::Limit => match token {
                Some(t) => format!("{base}/v1/rooms/{room}/ws?token={t}"),
                None => format!("{base}/v1/rooms/{room}/ws"),
            },
            Protocol::SocketIo => {
                let path = socketio_path.trim_end_matches('/');
                format!("{base}{path}/?EIO=4&transport=websocket")
            }
        }
    }

    pub fn decode(self, text: &str) -> Inbound {
        match self {
            Protocol::Herald | Protocol::Limit => native::decode(text),
            Protocol::SocketIo => socketio::decode(text),
        }
    }

    /// The publish frame carrying `{seq, ts, body}`.
    pub fn publish(self, seq: u64, ts: u64, body: &str) -> String {
        match self {
            Protocol::Herald | Protocol::Limit => native::publish(seq, ts, body),
            Protocol::SocketIo => socketio::publish(seq, ts, body),
        }
    }

    /// The heartbeat a client sends, answered without waking a hibernating room (the runtime's
    /// auto-response, docs/protocol.md "ping"); `None` for Socket.IO, whose server pings.
    pub fn ping(self) -> Option<&'static str> {
        match self {
            Protocol::Herald | Protocol::Limit => Some(native::PING),
            Protocol::SocketIo => None,
        }
    }

    /// Whether the server answers each publish (Herald and the JavaScript rooms do).
    pub fn acks(self) -> bool {
        self == Protocol::Herald
    }
}

/// The payload as JSON; `body` is ASCII filler with no character to escape.
pub fn payload_json(seq: u64, ts: u64, body: &str) -> String {
    format!(r#"{{"seq":{seq},"ts":{ts},"body":"{body}"}}"#)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_protocol_has_its_websocket_url() {
        let base = "ws://127.0.0.1:8787/";
        assert_eq!(
            Protocol::Herald.url(base, "r1", Some("a.b.c"), "/socket.io/"),
            "ws://127.0.0.1:8787/v1/rooms/r1/ws?token=a.b.c"
        );
        assert_eq!(Protocol::Limit.url(base, "r1", None, "/socket.io/"), "ws://127.0.0.1:8787/v1/rooms/r1/ws");
        assert_eq!(
            Protocol::SocketIo.url(base, "r1", None, "/socket.io/"),
            "ws://127.0.0.1:8787/socket.io/?EIO=4&transport=websocket"
        );
        assert_eq!(
            Protocol::SocketIo.url(base, "r1", None, "/v1/socket.io"),
            "ws://127.0.0.1:8787/v1/socket.io/?EIO=4&transport=websocket"
        );
    }

    #[test]
    fn every_protocol_decodes_what_it_encodes_as_the_same_payload() {
        for p in [Protocol::Herald, Protocol::Limit] {
            // The limit room echoes the publish frame itself.
            assert_eq!(p.decode(&p.publish(7, 1234, "xx")), Inbound::Message(Payload { seq: 7, ts: 1234.0 }));
        }
        let relayed = Protocol::SocketIo.publish(7, 1234, "xx").replacen("publish", "message", 1);
        assert_eq!(Protocol::SocketIo.decode(&relayed), Inbound::Message(Payload { seq: 7, ts: 1234.0 }));
    }
}
