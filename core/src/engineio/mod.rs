//! Engine.IO v4, the transport under Socket.IO (its specification:
//! <https://github.com/socketio/socket.io/blob/main/docs/engine.io-protocol/v4-current.md>).
//!
//! - [`packet`]: packets, their websocket frames and the polling payload (`\x1e`-joined, binary
//!   as `b` + base64).
//! - [`session`]: one session's state machine: handshake, long-polling, websocket, the upgrade
//!   between them, heartbeat and close. Inputs are `on_*` calls given `now`; outputs are
//!   [`session::Output`]s for the shell.

pub mod packet;
pub mod session;

pub use packet::{DecodeError, Frame, Packet, Payload};
