// The JavaScript room Herald is measured against: the same room semantics as Herald's native
// protocol, written the way a PartyKit-era user would write it by hand, as a Durable Object with
// the Hibernation API. Our own code, for the benchmark only (bench/README.md).
//
// The subset of docs/protocol.md the load generator uses:
//   GET /v1/rooms/{room}/ws[?user=ID|?token=JWT]   upgrade; no token check (the sub of a token,
//                                                  if given, is read, not verified)
//   on connect      {"type":"welcome","conn","user":{"id"},"room","seq"}
//   publish         {"type":"publish","event","data","transaction"?}
//     → publisher   {"type":"ack","id","seq","transaction"}
//     → everyone    {"type":"message","room","seq","id","event","data","from","ts"}
//   {"type":"ping"} {"type":"pong"} by the runtime (auto-response, no wake)
// Every message is inserted into SQLite before anyone gets it (the output gate holds the sends
// until the write is durable), with a seq assigned by the room, as Herald does.
import { DurableObject } from "cloudflare:workers";

const PING = '{"type":"ping"}';
const PONG = '{"type":"pong"}';

export class JsRoom extends DurableObject {
  constructor(ctx, env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.sql.exec(
      `CREATE TABLE IF NOT EXISTS messages (
         seq INTEGER PRIMARY KEY, id TEXT NOT NULL, event TEXT NOT NULL,
         data TEXT NOT NULL, sender TEXT NOT NULL, ts INTEGER NOT NULL)`,
    );
    // After hibernation the object is built anew: the last seq comes back from storage, the
    // connections from the runtime (ctx.getWebSockets), each with its attachment.
    this.seq = this.sql.exec("SELECT COALESCE(MAX(seq), 0) AS seq FROM messages").one().seq;
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair(PING, PONG));
  }

  async fetch(request) {
    if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
      return Response.json({ code: "upgrade_required", message: "connect with a websocket" }, { status: 426 });
    }
    const url = new URL(request.url);
    const room = url.pathname.split("/")[3];
    const conn = hex(16);
    const user = { id: url.searchParams.get("user") ?? tokenSub(url, request) ?? `guest-${conn.slice(0, 8)}` };
    const { 0: client, 1: server } = new WebSocketPair();
    this.ctx.acceptWebSocket(server);
    server.serializeAttachment({ conn, user, room });
    server.send(JSON.stringify({ type: "welcome", conn, user, room, seq: this.seq }));
    return new Response(null, { status: 101, webSocket: client });
  }

  webSocketMessage(ws, message) {
    if (typeof message !== "string") return sendError(ws, "invalid_field", "binary frames are not accepted");
    let frame;
    try {
      frame = JSON.parse(message);
    } catch {
      return sendError(ws, "invalid_json", "a frame is one JSON object");
    }
    if (frame === null || typeof frame !== "object" || Array.isArray(frame)) return sendError(ws, "invalid_field", "a frame is one JSON object");
    const transaction = frame.transaction;
    if (frame.type === "ping") return ws.send(JSON.stringify({ type: "pong", transaction }));
    if (frame.type !== "publish") return sendError(ws, "unknown_type", `unknown frame type`, transaction);
    if (typeof frame.event !== "string" || frame.event.length === 0) return sendError(ws, "invalid_field", "`event` must be a string", transaction);

    const { user, room } = ws.deserializeAttachment();
    const seq = this.seq + 1;
    const id = typeof frame.id === "string" ? frame.id : hex(16);
    const data = frame.data ?? null;
    const ts = Date.now();
    this.sql.exec("INSERT INTO messages (seq, id, event, data, sender, ts) VALUES (?, ?, ?, ?, ?, ?)", seq, id, frame.event, JSON.stringify(data), user.id, ts);
    this.seq = seq;
    ws.send(JSON.stringify({ type: "ack", id, seq, transaction }));
    const out = JSON.stringify({ type: "message", room, seq, id, event: frame.event, data, from: user, ts });
    for (const socket of this.ctx.getWebSockets()) {
      try {
        socket.send(out);
      } catch {
        // a socket already closing: its close handler tidies up
      }
    }
  }

  webSocketClose(ws, code) {
    try {
      ws.close([1005, 1006, 1015].includes(code) ? 1000 : code, "closing");
    } catch {
      // already closed
    }
  }
}

export default {
  async fetch(request, env) {
    const { pathname } = new URL(request.url);
    if (pathname === "/ping") return new Response("ok");
    const match = pathname.match(/^\/v1\/rooms\/([A-Za-z0-9][A-Za-z0-9_.:-]{0,127})\/ws$/);
    if (!match) return Response.json({ code: "not_found", message: "GET /v1/rooms/{room}/ws" }, { status: 404 });
    return env.ROOMS.get(env.ROOMS.idFromName(match[1])).fetch(request);
  },
};

function sendError(ws, code, message, transaction) {
  ws.send(JSON.stringify({ type: "error", code, message, transaction }));
}

function hex(bytes) {
  const buf = crypto.getRandomValues(new Uint8Array(bytes));
  let out = "";
  for (const b of buf) out += b.toString(16).padStart(2, "0");
  return out;
}

/** The `sub` of a bearer token, unverified: the benchmark's clients carry Herald's tokens. */
function tokenSub(url, request) {
  const token = url.searchParams.get("token") ?? request.headers.get("authorization")?.replace(/^Bearer\s+/i, "");
  try {
    const payload = token?.split(".")[1];
    return payload ? JSON.parse(atob(payload.replace(/-/g, "+").replace(/_/g, "/"))).sub : undefined;
  } catch {
    return undefined;
  }
}
