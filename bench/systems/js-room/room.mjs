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
import { PING, PONG, constructed, readFrame, userOf, sendAll, closeBack, roomWorker } from "../common.mjs";

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
    constructed(ctx);
  }

  async fetch(request) {
    if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
      return Response.json({ code: "upgrade_required", message: "connect with a websocket" }, { status: 426 });
    }
    const url = new URL(request.url);
    const room = url.pathname.split("/")[3];
    const conn = hex(16);
    const user = userOf(request, conn.slice(0, 8));
    const { 0: client, 1: server } = new WebSocketPair();
    this.ctx.acceptWebSocket(server);
    server.serializeAttachment({ conn, user, room });
    server.send(JSON.stringify({ type: "welcome", conn, user, room, seq: this.seq }));
    return new Response(null, { status: 101, webSocket: client });
  }

  webSocketMessage(ws, message) {
    const { publish: frame, reply } = readFrame(message);
    if (!frame) return ws.send(reply);
    const transaction = frame.transaction;

    const { user, room } = ws.deserializeAttachment();
    const seq = this.seq + 1;
    const id = typeof frame.id === "string" ? frame.id : hex(16);
    const data = frame.data ?? null;
    const ts = Date.now();
    this.sql.exec("INSERT INTO messages (seq, id, event, data, sender, ts) VALUES (?, ?, ?, ?, ?, ?)", seq, id, frame.event, JSON.stringify(data), user.id, ts);
    this.seq = seq;
    ws.send(JSON.stringify({ type: "ack", id, seq, transaction }));
    const out = JSON.stringify({ type: "message", room, seq, id, event: frame.event, data, from: user, ts });
    sendAll(this.ctx.getWebSockets(), out);
  }

  webSocketClose(ws, code) {
    closeBack(ws, code);
  }
}

export default roomWorker((env, room) => env.ROOMS.get(env.ROOMS.idFromName(room)));

function hex(bytes) {
  const buf = crypto.getRandomValues(new Uint8Array(bytes));
  let out = "";
  for (const b of buf) out += b.toString(16).padStart(2, "0");
  return out;
}
