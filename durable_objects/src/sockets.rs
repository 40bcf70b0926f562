//! A room's own websockets: by connection, which of them speak tndata, and the native ones as
//! one JavaScript array, so that a fan-out to them is one call into JavaScript, not one per
//! socket (the benchmark's profile put a third of a send's cost in crossing from wasm).
//!
//! Each socket's [`Backlog`] counts what it was sent since its last sign of life (a frame from
//! it, or the last ping the runtime answered for it): [`Sockets::slow_consumers`] names the
//! ones past the bound, for the room to close.

use herald_core::backlog::Backlogs;
use herald_core::dialect::tndata::{self, Translation};
use herald_core::ids::{ConnId, RoomId};
use herald_platform::fresh_id;
use std::collections::{HashMap, HashSet};
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};
use worker::js_sys::{Array, Date};
use worker::worker_sys::DurableObjectState;
use worker::WebSocket;

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
    backlogs: Backlogs<ConnId>,
}

impl Sockets {
    /// No sockets yet; `bound` is the slow-consumer bound.
    pub fn new(bound: usize) -> Self {
        Self { by_conn: HashMap::new(), tndata: HashSet::new(), native: None, backlogs: Backlogs::new(bound) }
    }

    /// Keeps `ws` as `conn`'s socket, opened (or found open) at `now`.
    pub fn insert(&mut self, now: i64, conn: ConnId, ws: WebSocket, speaks_tndata: bool) {
        self.backlogs.insert(conn.clone(), now);
        if speaks_tndata {
            self.tndata.insert(conn.clone());
        }
        self.by_conn.insert(conn, ws);
        self.native = None;
    }

    pub fn remove(&mut self, conn: &ConnId) -> Option<WebSocket> {
        self.backlogs.remove(conn);
        self.tndata.remove(conn);
        self.native = None;
        self.by_conn.remove(conn)
    }

    /// `conn` sent a frame at `now`: it is there.
    pub fn alive(&mut self, conn: &ConnId, now: i64) {
        self.backlogs.alive(conn, now);
    }

    /// The sockets past the slow-consumer bound ([`Backlogs`]), once the runtime's record of
    /// their last auto-answered ping (a later sign of life) is taken into account: the room
    /// closes them.
    pub fn slow_consumers(&mut self, state: &DurableObjectState) -> Vec<ConnId> {
        let mut slow = self.backlogs.candidates();
        slow.retain(|conn| {
            if let Some(pinged) = self.by_conn.get(conn).and_then(|ws| auto_answered_at(state, ws)) {
                self.backlogs.alive(conn, pinged);
            }
            self.backlogs.is_over(conn)
        });
        slow
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
        self.backlogs.sent(conn, sent);
    }

    /// Sends a native frame of `room` to every socket but `except`'s: as is to the native ones,
    /// translated (once) to the tndata ones. Errors come from sockets already closing, whose
    /// close event cleans up; they are ignored.
    pub fn broadcast(&mut self, room: &RoomId, text: &str, except: Option<&ConnId>) {
        let shared = JsValue::from_str(text);
        self.backlogs.broadcast(text.len(), except);
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
            // A tndata socket is sent a translation: its backlog counts the translation's length.
            let sent = match (self.by_conn.get(conn), translation.text(fresh_id)) {
                (Some(ws), Some(translated)) => {
                    let _ = ws.send_with_str(translated);
                    translated.len()
                }
                _ => 0,
            };
            self.backlogs.adjust(conn, sent as i64 - text.len() as i64);
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
fn auto_answered_at(state: &DurableObjectState, ws: &WebSocket) -> Option<i64> {
    let raw: &ObjectState = state.unchecked_ref();
    raw.auto_response_timestamp(ws.as_ref()).map(|at| at.get_time() as i64)
}

/// Drops a socket's session, so that the room never restores it: its attachment becomes
/// `undefined`, which is what workers-rs's `serialize_attachment(None)` stores, without that
/// function's serializer in the bundle.
pub fn drop_session(ws: &WebSocket) {
    use worker::worker_sys::ext::WebSocketExt;
    let socket: &worker::web_sys::WebSocket = ws.as_ref();
    let _ = socket.serialize_attachment(JsValue::UNDEFINED);
}
