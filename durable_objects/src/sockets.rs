//! A room's own websockets: by connection, which of them speak tndata, and the native ones as
//! one JavaScript array, so that a fan-out to them is one call into JavaScript, not one per
//! socket (the benchmark's profile put a third of a send's cost in crossing from wasm).

use crate::platform::fresh_id;
use herald_core::connections::Holder;
use herald_core::dialect::tndata::{self, Translation};
use herald_core::ids::{ConnId, RoomId};
use std::collections::{HashMap, HashSet};
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};
use worker::{js_sys::Array, WebSocket};

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
    /// Keeps `ws` as `conn`'s socket, counted against the connection caps for `holder` (once:
    /// a socket admitted before, or found again after hibernation, is not counted twice).
    pub fn insert(&mut self, conn: ConnId, ws: WebSocket, speaks_tndata: bool, holder: Holder) {
        crate::connections::restore(&conn.0, holder);
        if speaks_tndata {
            self.tndata.insert(conn.clone());
        }
        self.by_conn.insert(conn, ws);
        self.native = None;
    }

    /// Forgets `conn`'s socket, and its place in the connection caps.
    pub fn remove(&mut self, conn: &ConnId) -> Option<WebSocket> {
        crate::connections::release(&conn.0);
        self.tndata.remove(conn);
        self.native = None;
        self.by_conn.remove(conn)
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
    pub fn send(&self, room: &RoomId, conn: &ConnId, text: &str) {
        let Some(ws) = self.by_conn.get(conn) else { return };
        if !self.tndata.contains(conn) {
            let _ = ws.send_with_str(text);
        } else if let Some(text) = tndata::to_client(room, text, fresh_id) {
            let _ = ws.send_with_str(text);
        }
    }

    /// Sends a native frame of `room` to every socket but `except`'s: as is to the native ones,
    /// translated (once) to the tndata ones. Errors come from sockets already closing, whose
    /// close event cleans up; they are ignored.
    pub fn broadcast(&mut self, room: &RoomId, text: &str, except: Option<&ConnId>) {
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
        let mut translation = Translation::new(room, text);
        for conn in &self.tndata {
            if Some(conn) == except {
                continue;
            }
            if let (Some(ws), Some(text)) = (self.by_conn.get(conn), translation.text(fresh_id)) {
                let _ = ws.send_with_str(text);
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
