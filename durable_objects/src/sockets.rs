//! A room's own websockets: by connection, which of them speak tndata, and the native ones as
//! one JavaScript array, so that a fan-out to them is one call into JavaScript, not one per
//! socket (the benchmark's profile put a third of a send's cost in crossing from wasm). What
//! each is sent, and what it counts against the slow-consumer bound, is the core's
//! ([`herald_core::host`]); here the frames are only handed to the runtime.

use herald_core::ids::ConnId;
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

#[derive(Default)]
pub struct Sockets {
    by_conn: HashMap<ConnId, WebSocket>,
    /// The sockets that speak tndata rather than the native protocol.
    tndata: HashSet<ConnId>,
    /// The native sockets, built by the first fan-out after a change.
    native: Option<Array>,
}

impl Sockets {
    /// Keeps `ws` as `conn`'s socket.
    pub fn insert(&mut self, conn: ConnId, ws: WebSocket, speaks_tndata: bool) {
        if speaks_tndata {
            self.tndata.insert(conn.clone());
        }
        self.by_conn.insert(conn, ws);
        self.native = None;
    }

    pub fn remove(&mut self, conn: &ConnId) -> Option<WebSocket> {
        self.tndata.remove(conn);
        self.native = None;
        self.by_conn.remove(conn)
    }

    /// When the runtime last answered a ping of `conn`'s socket by itself (ms since the epoch).
    pub fn pinged_at(&self, state: &DurableObjectState, conn: &ConnId) -> Option<i64> {
        self.by_conn.get(conn).and_then(|ws| auto_answered_at(state, ws))
    }

    /// Sends `text` to `conn`'s socket. Errors come from sockets already closing, whose close
    /// event cleans up; they are ignored.
    pub fn send(&self, conn: &ConnId, text: &str) {
        if let Some(ws) = self.by_conn.get(conn) {
            let _ = ws.send_with_str(text);
        }
    }

    /// Sends a native frame to every native socket but `except`'s.
    pub fn send_native(&mut self, text: &str, except: Option<&ConnId>) {
        let shared = JsValue::from_str(text);
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
