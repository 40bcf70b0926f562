//! Herald's Durable Object classes. Each loads its state, calls the core, and performs the
//! effects the core returns; no rule of the system lives here.
//!
//! - [`room::RoomObject`]: one per room (named `room:{id}`). Holds the room's hibernatable
//!   websockets and its SQLite around a [`herald_core::host::RoomHost`] rebuilt on every wake,
//!   and performs what the host puts out. A user's inbox (`room:inbox:{user}`) is one too
//!   (`inbox.rs`, a child of `room`: its routes go to the host, its alarm's jobs to the queue).
//! - [`home`]: the same object as the home of Socket.IO / Engine.IO clients (named
//!   `home:{id}`): their sessions, held long-polls, websockets and heartbeat timer, and the
//!   calls to the rooms its sessions joined. A room delivers to the homes of its remote
//!   members (see [`room`]).
//! - [`directory`]: the same object as a shard of the user directory (named `directory:{n}`):
//!   the ids of the users hashed to it, added by the Worker, paged by the fan-out consumer.
//! - [`dead_letters`]: the same object as the dead-letter store (named `deadletters:main`):
//!   the fallback jobs that will not be sent, for the admin list.
//! - [`batch`]: group commit: a room handles the websocket frames that arrive together in one
//!   pass, so one SQLite commit makes them all durable.
//! - [`sockets`]: a room's own websockets; a fan-out to the native ones is one call into
//!   JavaScript.
//! - [`connections`]: the process's count of connections (a room's websockets, a home's
//!   sessions) against the caps per user, per address and in all.
//! - [`sql`]: the core's [`herald_core::store::Sql`] over Durable Object SQLite.
//! - [`identity`]: who the object is (its name and [`herald_core::object::Role`]), from the
//!   call that names it or from its own storage, however it was woken.
//!
//! What the runtime provides (the clock, fresh ids, the configuration, calls to an object) and
//! the JSON answers are the `herald-platform` crate's, shared with the Worker and the delivery
//! Worker.
//!
//! A request reaches an object only from the Worker or from another object (a home and the
//! rooms its sessions joined), over the internal API described in [`herald_core::internal`].

pub mod batch;
pub mod connections;
pub mod dead_letters;
pub mod directory;
pub mod home;
pub mod identity;
pub mod room;
pub mod sockets;
pub mod sql;

pub use room::RoomObject;
