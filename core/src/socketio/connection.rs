//! One Socket.IO connection over one Engine.IO session: which namespaces it joined, and the
//! rules of the protocol that hold whatever the dialect (spec: `v5-current.md`, sections
//! Connection to a namespace, Disconnection from a namespace).
//!
//! [`Connection::on_message`] turns an Engine.IO message into an [`Incoming`] for the
//! dialect, or a [`Violation`] that ends the session: a packet that does not decode, or any
//! packet but CONNECT for a namespace the client has not joined (which is what a first packet
//! that is not CONNECT is).

use super::packet::{DecodeError, Decoded, Decoder, Kind, Packet};
use crate::engineio::Payload;
use crate::vec_map::VecMap;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// What the dialect must handle.
#[derive(Debug, Clone, PartialEq)]
pub enum Incoming {
    /// The client asks to join `nsp`; the dialect accepts ([`Connection::accept`]) or refuses
    /// ([`Connection::refuse`]).
    Connect { nsp: String, auth: Option<Value> },
    /// An EVENT or ACK on a joined namespace, attachments included.
    Packet(Packet),
    /// The client left `nsp` (already forgotten here).
    Disconnect { nsp: String },
}

/// Why the session must end.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Violation {
    #[error("the packet does not decode: {0}")]
    Decode(#[from] DecodeError),
    #[error("a {kind:?} packet for namespace {nsp} before a CONNECT to it")]
    NotConnected { kind: Kind, nsp: String },
    #[error("a CONNECT_ERROR packet from the client")]
    ClientConnectError,
}

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Connection {
    /// Reassembles binary packets; a half-received one is lost with a hibernation, which only
    /// happens after the socket was quiet for seconds.
    #[serde(skip)]
    decoder: Decoder,
    /// Joined namespaces, each with the socket id it was given.
    namespaces: VecMap<String, String>,
}

impl Connection {
    pub fn new() -> Self {
        Self::default()
    }

    /// An Engine.IO message from the client; `Ok(None)` while a binary packet waits for its
    /// attachments.
    pub fn on_message(&mut self, payload: Payload) -> Result<Option<Incoming>, Violation> {
        let decoded = match payload {
            Payload::Text(text) => self.decoder.on_text(&text)?,
            Payload::Binary(bytes) => self.decoder.on_binary(bytes)?,
        };
        let Decoded::Packet(packet) = decoded else { return Ok(None) };
        match packet.kind {
            Kind::Connect => Ok(Some(Incoming::Connect { nsp: packet.nsp, auth: packet.data })),
            Kind::ConnectError => Err(Violation::ClientConnectError),
            kind if !self.namespaces.contains_key(&packet.nsp) => {
                Err(Violation::NotConnected { kind, nsp: packet.nsp })
            }
            Kind::Disconnect => {
                self.namespaces.remove(&packet.nsp);
                Ok(Some(Incoming::Disconnect { nsp: packet.nsp }))
            }
            Kind::Event | Kind::Ack => Ok(Some(Incoming::Packet(packet))),
        }
    }

    /// Joins `nsp` under `socket_id`: the CONNECT answer (`{"sid": ...}`) to send. Joining a
    /// namespace again gives it a new socket id, as a reconnecting client expects.
    pub fn accept(&mut self, nsp: &str, socket_id: String) -> Packet {
        let answer = Packet::connect(nsp, Some(serde_json::json!({ "sid": socket_id })));
        self.namespaces.insert(nsp.to_owned(), socket_id);
        answer
    }

    /// The CONNECT_ERROR answer for a refused namespace (`message`, and `data` when given).
    pub fn refuse(nsp: &str, message: &str, data: Option<Value>) -> Packet {
        let mut body = serde_json::json!({ "message": message });
        if let Some(data) = data {
            body["data"] = data;
        }
        Packet::connect_error(nsp, body)
    }

    /// The server leaves `nsp`: the DISCONNECT to send, if the client was in it.
    pub fn disconnect(&mut self, nsp: &str) -> Option<Packet> {
        self.namespaces.remove(nsp).map(|_| Packet::disconnect(nsp))
    }

    pub fn is_connected(&self, nsp: &str) -> bool {
        self.namespaces.contains_key(nsp)
    }

    /// The socket id the client was given in `nsp`.
    pub fn socket_id(&self, nsp: &str) -> Option<&str> {
        self.namespaces.get(nsp).map(String::as_str)
    }

    pub fn namespaces(&self) -> impl Iterator<Item = &str> {
        self.namespaces.keys().map(String::as_str)
    }
}

/// A packet as Engine.IO messages: the text, then each attachment in order.
pub fn to_messages(packet: &Packet) -> Vec<Payload> {
    let (text, attachments) = packet.encode();
    std::iter::once(Payload::Text(text)).chain(attachments.into_iter().map(Payload::Binary)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> Payload {
        Payload::Text(s.into())
    }

    #[test]
    fn a_first_packet_that_is_not_connect_is_a_violation() {
        let mut conn = Connection::new();
        let err = conn.on_message(text(r#"2["message"]"#)).unwrap_err();
        assert!(matches!(err, Violation::NotConnected { kind: Kind::Event, .. }), "{err}");
    }

    #[test]
    fn connect_then_events_then_disconnect_of_one_namespace_leaves_the_others() {
        let mut conn = Connection::new();
        let Some(Incoming::Connect { nsp, auth }) = conn.on_message(text(r#"0{"token":"t"}"#)).unwrap() else {
            panic!("expected a connect")
        };
        assert_eq!((nsp.as_str(), auth), ("/", Some(serde_json::json!({"token":"t"}))));
        assert_eq!(conn.accept("/", "s1".into()).encode().0, r#"0{"sid":"s1"}"#);
        conn.accept("/custom", "s2".into());
        assert!(matches!(conn.on_message(text("1/custom,")).unwrap(), Some(Incoming::Disconnect { .. })));
        assert!(!conn.is_connected("/custom"));
        assert!(matches!(conn.on_message(text(r#"2["hi"]"#)).unwrap(), Some(Incoming::Packet(_))));
        assert!(conn.on_message(text(r#"2/custom,["hi"]"#)).is_err());
    }

    #[test]
    fn binary_packets_wait_for_their_attachments() {
        let mut conn = Connection::new();
        conn.accept("/", "s".into());
        let header = r#"51-["up",{"_placeholder":true,"num":0}]"#;
        assert_eq!(conn.on_message(text(header)).unwrap(), None);
        let Some(Incoming::Packet(packet)) = conn.on_message(Payload::Binary(vec![7])).unwrap() else {
            panic!("expected the packet")
        };
        assert_eq!(packet.attachments, vec![vec![7]]);
        assert_eq!(to_messages(&packet), vec![text(header), Payload::Binary(vec![7])]);
    }

    #[test]
    fn undecodable_packets_and_client_connect_errors_are_violations() {
        let mut conn = Connection::new();
        assert!(matches!(conn.on_message(text("abc")), Err(Violation::Decode(_))));
        assert!(matches!(conn.on_message(text(r#"4{"message":"x"}"#)), Err(Violation::ClientConnectError)));
    }

    #[test]
    fn a_refusal_names_the_namespace_and_the_reason() {
        let packet = Connection::refuse("/random", "Invalid namespace", None);
        assert_eq!(packet.encode().0, r#"4/random,{"message":"Invalid namespace"}"#);
    }
}
