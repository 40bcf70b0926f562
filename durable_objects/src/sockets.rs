//! A room's own websockets: by connection, which of them speak tndata, and the native ones as
//! one JavaScript array, so that a fan-out to them is one call into JavaScript, not one per
//! socket (the benchmark's profile put a third of a send's cost in crossing from wasm).
//!
//! Each socket's [`Backlog`] counts what it was sent since its last sign of life (a frame from
//! it, or the last ping the runtime answered for it): [`Sockets::slow_consumers`] names the
//! ones past the bound, for the room to close.

use crate::platform::fresh_id;
use herald_core::backlog::Backlog;
use herald_core::connections::Holder;
use herald_core::dialect::tndata::{self, Translation};
use herald_core::ids::{ConnId, RoomId};
use std::collections::{HashMap, HashSet};
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};
use worker::js_sys::{Array, Date};
use worker::worker_sys::DurableObjectState;
use worker::{State, WebSocket};

#[wasm_bindgen(inline_js = "
export function sendAll(sockets, text) {
  for (const ws of sockets) {
    try { ws.send(text); } catch {}
  }
}")]
extern "C" {
    /// Sends `text` to each socket of `sockets`. A send that throws comes from a socket already
    /// closing, whose close event cleans up; it does not stop the others.
    #[wasm_bindgen(js_name = sendAll)]
    fn send_all(sockets: &Array, text: &JsValue);

    /// A runtime WebSocket, for a send of a value that is a JavaScript string already.
    type RawSocket;

    /// The runtime's state of a Durable Object, for the one method workers-rs does not bind.
    type ObjectState;

    /// `state.getWebSocketAutoResponseTimestamp(ws)`: when the runtime last answered a ping of
    /// `ws` by itself.
    #[wasm_bindgen(method, js_name = getWebSocketAutoResponseTimestamp)]
    fn auto_response_timestamp(this: &ObjectState, ws: &worker::web_sys::WebSocket) -> Option<Date>;

    /// `WebSocket.send` with a JavaScript string as is (worker's `send_with_str` copies the
    /// text out of wasm memory on every call).
    #[wasm_bindgen(method, catch, js_name = send)]
    fn send_value(this: &RawSocket, data: &JsValue) -> Result<(), JsValue>;
}

pub struct Sockets {
    by_conn: HashMap<ConnId, WebSocket>,
    /// The sockets that speak tndata rather than the native protocol.
    tndata: HashSet<ConnId>,
    /// The native sockets, built by the first fan-out after a change.
    native: Option<Array>,
    /// What each socket was sent since its last sign of life.
    backlogs: HashMap<ConnId, Backlog>,
    /// The slow-consumer bound, in bytes.
    bound: usize,
    /// Whether a send took some socket past the bound since [`Sockets::slow_consumers`] last
    /// looked: most sends do not, and then nothing is looked at.
    over: bool,
}

impl Sockets {
    /// No sockets yet; `bound` is the slow-consumer bound.
    pub fn new(bound: usize) -> Self {
        Self {
            by_conn: HashMap::new(),
            tndata: HashSet::new(),
            native: None,
            backlogs: HashMap::new(),
            bound,
            over: false,
        }
    }

    /// Keeps `ws` as `conn`'s socket, counted against the connection caps for `holder` (once:
    /// a socket admitted before, or found again after hibernation, is not counted twice).
    pub fn insert(&mut self, now: i64, conn: ConnId, ws: WebSocket, speaks_tndata: bool, holder: Holder) {
        crate::connections::restore(&conn.0, holder);
        self.backlogs.insert(conn.clone(), Backlog::new(now));
        if speaks_tndata {
            self.tndata.insert(conn.clone());
        }
        self.by_conn.insert(conn, ws);
        self.native = None;
    }

    /// Forgets `conn`'s socket, and its place in the connection caps.
    pub fn remove(&mut self, conn: &ConnId) -> Option<WebSocket> {
        crate::connections::release(&conn.0);
        self.backlogs.remove(conn);
        self.tndata.remove(conn);
        self.native = None;
        self.by_conn.remove(conn)
    }

    /// `conn` sent a frame at `now`: it is there.
    pub fn alive(&mut self, conn: &ConnId, now: i64) {
        if let Some(backlog) = self.backlogs.get_mut(conn) {
            backlog.alive(now);
        }
    }

    /// The sockets past the slow-consumer bound, once the runtime's record of their last
    /// auto-answered ping (a later sign of life) is taken into account; the room closes them.
    pub fn slow_consumers(&mut self, state: &State) -> Vec<ConnId> {
        if !std::mem::take(&mut self.over) {
            return Vec::new();
        }
        let mut slow = Vec::new();
        for (conn, backlog) in &mut self.backlogs {
            if !backlog.is_over(self.bound) {
                continue;
            }
            if let Some(pinged) = self.by_conn.get(conn).and_then(|ws| auto_answered_at(state, ws)) {
                backlog.alive(pinged);
            }
            if backlog.is_over(self.bound) {
                slow.push(conn.clone());
            }
        }
        slow
    }

    /// Counts `bytes` sent to `conn`.
    fn sent(&mut self, conn: &ConnId, bytes: usize) {
        if let Some(backlog) = self.backlogs.get_mut(conn) {
            self.over |= backlog.sent(bytes, self.bound);
        }
    }

    pub fn speaks_tndata(&self, conn: &ConnId) -> bool {
        self.tndata.contains(conn)
    }

    pub fn len(&self) -> usize {
        self.by_conn.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_conn.is_empty()
    }

    /// Sends a native frame of `room` to `conn`'s socket, translated if it speaks tndata.
    pub fn send(&mut self, room: &RoomId, conn: &ConnId, text: &str) {
        let Some(ws) = self.by_conn.get(conn) else { return };
        let sent = if !self.tndata.contains(conn) {
            let _ = ws.send_with_str(text);
            text.len()
        } else if let Some(text) = tndata::to_client(room, text, fresh_id) {
            let _ = ws.send_with_str(&text);
            text.len()
        } else {
            0
        };
        self.sent(conn, sent);
    }

    /// Sends a native frame of `room` to every socket but `except`'s: as is to the native ones,
    /// translated (once) to the tndata ones. Errors come from sockets already closing, whose
    /// close event cleans up; they are ignored.
    pub fn broadcast(&mut self, room: &RoomId, text: &str, except: Option<&ConnId>) {
        let shared = JsValue::from_str(text);
        for (conn, backlog) in &mut self.backlogs {
            if Some(conn) != except && !self.tndata.contains(conn) {
                self.over |= backlog.sent(text.len(), self.bound);
            }
        }
        match except {
            None => send_all(self.native(), &shared),
            Some(except) => {
                for (conn, ws) in &self.by_conn {
                    if conn != except && !self.tndata.contains(conn) {
                        let raw: &RawSocket = AsRef::<worker::web_sys::WebSocket>::as_ref(ws).unchecked_ref();
                        let _ = raw.send_value(&shared);
                    }
                }
            }
        }
        let mut translation = Translation::new(room, text);
        for conn in &self.tndata {
            if Some(conn) == except {
                continue;
            }
            if let (Some(ws), Some(text)) = (self.by_conn.get(conn), translation.text(fresh_id)) {
                let _ = ws.send_with_str(text);
                if let Some(backlog) = self.backlogs.get_mut(conn) {
                    self.over |= backlog.sent(text.len(), self.bound);
                }
            }
        }
    }

    fn native(&mut self) -> &Array {
        self.native.get_or_insert_with(|| {
            self.by_conn
                .iter()
                .filter(|(conn, _)| !self.tndata.contains(*conn))
                .map(|(_, ws)| JsValue::from(AsRef::<worker::web_sys::WebSocket>::as_ref(ws).clone()))
                .collect()
        })
    }
}

/// When the runtime last answered a ping of `ws` by itself (ms since the epoch), if it has.
fn auto_answered_at(state: &State, ws: &WebSocket) -> Option<i64> {
    let raw: &ObjectState = raw_state(state).unchecked_ref();
    raw.auto_response_timestamp(ws.as_ref()).map(|at| at.get_time() as i64)
}

/// The runtime's `DurableObjectState` inside workers-rs's `State`, which does not hand it out.
fn raw_state(state: &State) -> &DurableObjectState {
    // `worker::State` (worker 0.8.7, `durable.rs`) is a struct whose one field is the
    // `DurableObjectState`. A struct the size of its only field holds it at offset 0 with the
    // same alignment, which these assertions check at compile time, so a version of worker that
    // changed `State` would not build.
    const _: () = assert!(std::mem::size_of::<State>() == std::mem::size_of::<DurableObjectState>());
    const _: () = assert!(std::mem::align_of::<State>() == std::mem::align_of::<DurableObjectState>());
    // SAFETY: as above, a `State` is exactly one `DurableObjectState`, and the reference lives
    // no longer than `state`.
    unsafe { &*(state as *const State).cast::<DurableObjectState>() }
}
