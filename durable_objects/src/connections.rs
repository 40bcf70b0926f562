//! The process's count of connections against the caps ([`herald_core::connections`]): one
//! [`Tally`] for every object in this isolate (a Worker's objects share its wasm instance), so
//! a room's websockets and a home's Socket.IO sessions count together.
//!
//! A connection keeps its place until it is really gone: a websocket until its close completes
//! (the runtime holds it, and a file descriptor, until the client answers the close or goes
//! away), a long-polling session until it ends. A home's sessions live in its memory only, so
//! they are also indexed by home: a new instance of a home holds none of them, whatever the
//! count says, and [`forget_home`] gives their places back.

use futures_util::StreamExt;
use herald_core::connections::{Caps, Holder, Tally};
use herald_core::error::Error;
use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use worker::wasm_bindgen_futures::spawn_local;
use worker::{WebSocket, WebsocketEvent};

thread_local! {
    static TALLY: RefCell<Tally> = RefCell::default();
    /// The sids counted for each home.
    static HOMES: RefCell<HashMap<String, HashSet<String>>> = RefCell::default();
}

/// Counts a new connection, or refuses it with `too_many_connections`.
pub fn admit(caps: &Caps, key: &str, holder: Holder) -> Result<(), Error> {
    TALLY.with(|tally| tally.borrow_mut().admit(caps, key, holder))
}

/// Counts a new Socket.IO session of `home` (its `sid`), or refuses it.
pub fn admit_session(caps: &Caps, home: &str, sid: &str, holder: Holder) -> Result<(), Error> {
    admit(caps, sid, holder)?;
    HOMES.with(|homes| homes.borrow_mut().entry(home.to_owned()).or_default().insert(sid.to_owned()));
    Ok(())
}

/// Counts another connection `key` of home `home` held as session `like` is (a second websocket
/// the session refuses, which stays open until its close completes), or refuses it.
pub fn admit_like(caps: &Caps, home: &str, key: &str, like: &str) -> Result<(), Error> {
    let holder = TALLY.with(|tally| tally.borrow().holder(like).cloned()).unwrap_or_default();
    admit_session(caps, home, key, holder)
}

/// Gives `key`'s place back once `ws` is really gone: a socket that was accepted only to be
/// closed at once (a refusal after the upgrade) stays open until its client answers the close
/// or goes away, and counts until then.
pub fn release_when_closed(ws: WebSocket, key: String) {
    spawn_local(async move {
        if let Ok(mut events) = ws.events() {
            while let Some(Ok(WebsocketEvent::Message(_))) = events.next().await {}
        }
        release(&key);
    });
}

/// Counts a connection found open when its object woke (once per key).
pub fn restore(key: &str, holder: Holder) {
    TALLY.with(|tally| tally.borrow_mut().restore(key, holder));
}

/// The user a counted session proved to be; refused past the user's cap
/// ([`Tally::add_user`]).
pub fn add_user(caps: &Caps, key: &str, user: &str) -> Result<(), Error> {
    TALLY.with(|tally| tally.borrow_mut().add_user(caps, key, user))
}

/// The connection is gone.
pub fn release(key: &str) {
    TALLY.with(|tally| tally.borrow_mut().release(key));
    if let Some(home) = herald_core::home::home_of(key) {
        HOMES.with(|homes| {
            let mut homes = homes.borrow_mut();
            if let Some(sids) = homes.get_mut(home) {
                sids.remove(key);
                if sids.is_empty() {
                    homes.remove(home);
                }
            }
        });
    }
}

/// Every session counted for `home` is gone: its instance was replaced.
pub fn forget_home(home: &str) {
    let sids = HOMES.with(|homes| homes.borrow_mut().remove(home)).unwrap_or_default();
    TALLY.with(|tally| {
        let mut tally = tally.borrow_mut();
        for sid in sids {
            tally.release(&sid);
        }
    });
}
