//! Socket.IO v5, over Engine.IO (its specification: <https://github.com/socketio/socket.io/blob/main/docs/socket.io-protocol/v5-current.md>).
//!
//! - [`packet`]: packets, their text encoding, binary attachments (placeholders in order).
//! - [`connection`]: one client's namespaces and the rules that hold whatever the dialect.
pub mod connection;
pub mod packet;

pub use packet::{DecodeError, Decoded, Decoder, Kind, Packet, DEFAULT_MAX_ATTACHMENTS};
