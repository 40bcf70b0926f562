//! Herald's core: every rule of the system, with no I/O, no clock and no randomness of its own
//! (`now` and fresh ids are arguments), so all of it is tested natively with `cargo test`.
//!
//! How a request flows: the Worker (`src/`) matches a [`route::Route`], finds the token
//! ([`auth::token`]) and verifies it ([`auth::Verifier`]), validates the input (room ids in
//! [`ids`], publishes in [`message`]), then calls the room's Durable Object over the internal
//! API ([`internal`]). The object (`durable_objects/`) hands every input to its
//! [`host::RoomHost`] and performs the [`host::Output`]s it returns (docs/architecture.md
//! follows a frame from a websocket to every member).
//!
//! The modules import each other one way (`tests/structure.rs` checks it), from the leaves up:
//!
//! - leaves: [`error`] (coded errors, HTTP statuses, close codes), [`json`] (how every body and
//!   frame is read), [`ids`] (room and user ids), [`message`] (a publish and its validation),
//!   [`vec_map`], [`backlog`] (the slow-consumer rule), [`store`] (the storage contract:
//!   [`store::Sql`] and the values that cross it), [`vars`] (reading wrangler variables),
//!   [`body`], [`query`], [`origin`] (the pages allowed to use Herald from a browser),
//!   [`connections`] (the caps on connections).
//! - [`auth`]: JWT verification (HS256, ES256, EdDSA), claims, room patterns, token sources.
//! - [`protocol`]: the native JSON protocol's frames, and a connection's status and focus.
//! - [`room`]: the room state machine, its log ([`room::Log`]; SQL and in-memory), its remote
//!   members ([`room::Remotes`]: Socket.IO sessions held by homes, one outbox per home, and the
//!   calls between homes and rooms, [`room::wire`]), each connection's activity, read marks,
//!   its limits and retention. It knows the native protocol and its storage contract only.
//! - [`exchange`]: the notification exchange above the room: urgency, inboxes (and their
//!   frames, an adapter over the room), the email / SMS / push fallback, jobs, providers'
//!   requests, the user directory, its settings.
//! - [`engineio`], [`socketio`]: the two protocols under `socket.io-client`.
//! - [`dialect`]: the protocols clients speak, each a translation to rooms: `native` (rooms
//!   over Socket.IO), the seed services' `alert`, `3drepo`, `workspace` (Socket.IO) and
//!   `tndata` (a plain websocket the room object speaks, an adapter over the room), `echo`
//!   (conformance); every Socket.IO dialect keeps its rooms in [`dialect::membership`].
//! - [`gateway`]: one Socket.IO / Engine.IO client as its home holds it (session + dialect);
//!   [`home`]: which home object a new session lives in, and sids.
//! - [`host`]: the room host, everything one room object holds as one sans-IO state machine.
//! - [`internal`]: Worker → Durable Object requests; [`object`]: what an object is (room,
//!   home, directory shard, dead letters) by its name, which it keeps in its own storage.
//! - [`route`]: the public HTTP routes; [`config`]: wrangler vars and secrets → a typed,
//!   validated [`config::Config`], reading every part's settings (nothing imports it).

pub mod auth;
pub mod backlog;
pub mod body;
pub mod config;
pub mod connections;
pub mod dialect;
pub mod engineio;
pub mod error;
pub mod exchange;
pub mod gateway;
pub mod home;
pub mod host;
pub mod ids;
pub mod internal;
pub mod json;
pub mod message;
pub mod object;
pub mod origin;
pub mod protocol;
pub mod query;
pub mod room;
pub mod route;
pub mod socketio;
pub mod store;
pub mod vars;
pub mod vec_map;

pub use error::{Error, ErrorCode};
