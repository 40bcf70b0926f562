//! Herald's core: every rule of the system, with no I/O, no clock and no randomness of its own
//! (`now` and fresh ids are arguments), so all of it is tested natively with `cargo test`.
//!
//! How a request flows: the Worker (`src/`) matches a [`route::Route`], finds the token
//! ([`auth::token`]) and verifies it ([`auth::Verifier`]), validates the input (room ids in
//! [`ids`], publishes in [`message`]), then calls the room's Durable Object over the internal
//! API ([`internal`]). The object (`durable_objects/`) feeds the room state machine
//! ([`room::Room`]) and performs the [`room::Effect`]s it returns.
//!
//! - [`config`]: wrangler vars and secrets → a typed, validated [`config::Config`].
//! - [`error`]: coded errors, their HTTP statuses, websocket close codes.
//! - [`connections`]: the caps on connections per user, per client address and in all.
//! - [`backlog`]: the slow-consumer rule: bytes sent since a client's last sign of life.
//! - [`ids`]: room and user ids, the public [`ids::User`].
//! - [`auth`]: JWT verification (HS256, ES256, EdDSA), claims, room patterns, token sources.
//! - [`json`]: how every JSON body and frame is read (objects only, coded errors).
//! - [`message`]: a publish ([`message::Draft`]) and its validation.
//! - [`protocol::native`]: the JSON websocket protocol's frames.
//! - [`room`]: the room state machine, its log ([`room::Log`]; SQL and in-memory), its remote
//!   members ([`room::Remotes`]: Socket.IO sessions held by homes, one outbox per home), each
//!   connection's activity ([`room::Activity`]: a user's status across connections, focus),
//!   read marks ([`room::ReadMarks`]).
//! - [`route`]: the public HTTP routes; [`query`]: a request URL's query parameters; [`body`]: a
//!   request body against its size limit.
//! - [`origin`]: the pages allowed to use Herald from a browser: the cookie check and CORS.
//! - [`internal`]: Worker → Durable Object requests, and the calls between homes and rooms.
//! - [`object`]: what an object is (room, home, directory shard, dead letters) by its name,
//!   and the name it keeps in its own storage, so it knows who it is however it was woken.
//! - [`engineio`], [`socketio`]: the two protocols under `socket.io-client`.
//! - [`gateway`]: one Socket.IO / Engine.IO client as its home holds it (session + dialect).
//! - [`dialect`]: the protocols clients speak, each a translation to rooms: `native` (rooms
//!   over Socket.IO), the seed services' `alert`, `3drepo`, `workspace` (Socket.IO) and
//!   `tndata` (a plain websocket the room object speaks), `echo` (conformance); the route table.
//! - [`home`]: which home object a new session lives in (the policy), and sids.
//! - [`vec_map`]: a map as a sorted `Vec`, for small maps (less wasm than a `BTreeMap`).
//! - [`exchange`]: the notification exchange: urgency, inboxes, the email / SMS fallback
//!   policy, jobs, providers' requests, the user directory.

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
