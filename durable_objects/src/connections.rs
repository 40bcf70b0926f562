//! The process's count of connections against the caps ([`herald_core::connections`]): one
//! [`Tally`] for every object in this isolate (a Worker's objects share its wasm instance), so
//! a room's websockets and a home's Socket.IO sessions count together.

use herald_core::connections::{Caps, Holder, Tally};
use herald_core::error::Error;
use std::cell::RefCell;

thread_local! {
    static TALLY: RefCell<Tally> = RefCell::default();
}

/// Counts a new connection, or refuses it with `too_many_connections`.
pub fn admit(caps: &Caps, key: &str, holder: Holder) -> Result<(), Error> {
    TALLY.with(|tally| tally.borrow_mut().admit(caps, key, holder))
}

/// Counts a connection found open when its object woke (once per key).
pub fn restore(key: &str, holder: Holder) {
    TALLY.with(|tally| tally.borrow_mut().restore(key, holder));
}

/// The connection ended.
pub fn release(key: &str) {
    TALLY.with(|tally| tally.borrow_mut().release(key));
}
