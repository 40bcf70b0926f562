// The same room as js-room/ (bench/README.md), written on `partyserver` (npm): the library's
// Server with hibernation on, its connection state for the user, its `sql` and `broadcast`.
// Bundled with esbuild by bench/systems.mjs (partyserver imports nanoid), served by Miniflare.
import { Server, getServerByName } from "partyserver";

const PING = '{"type":"ping"}';
const PONG = '{"type":"pong"}';

export class PartyRoom extends Server {
  static options = { hibernate: true };

  // Runs once per instance, after a wake from hibernation too.
  onStart() {
    this.sql`CREATE TABLE IF NOT EXISTS messages (
      seq INTEGER PRIMARY KEY, id TEXT NOT NULL, event TEXT NOT NULL,
      data TEXT NOT NULL, sender TEXT NOT NULL, ts INTEGER NOT NULL)`;
    this.seq = this.sql`SELECT COALESCE(MAX(seq), 0) AS seq FROM messages`[0].seq;
    this.ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair(PING, PONG));
  }

  onConnect(connection, { request }) {
    const url = new URL(request.url);
    const user = { id: url.searchParams.get("user") ?? tokenSub(url, request) ?? `guest-${connection.id}` };
    connection.setState({ user });
    connection.send(JSON.stringify({ type: "welcome", conn: connection.id, user, room: this.name, seq: this.seq }));
  }

  onMessage(connection, message) {
    if (typeof message !== "string") return sendError(connection, "invalid_field", "binary frames are not accepted");
    let frame;
    try {
      frame = JSON.parse(message);
    } catch {
      return sendError(connection, "invalid_json", "a frame is one JSON object");
    }
    if (frame === null || typeof frame !== "object" || Array.isArray(frame)) return sendError(connection, "invalid_field", "a frame is one JSON object");
    const transaction = frame.transaction;
    if (frame.type === "ping") return connection.send(JSON.stringify({ type: "pong", transaction }));
    if (frame.type !== "publish") return sendError(connection, "unknown_type", "unknown frame type", transaction);
    if (typeof frame.event !== "string" || frame.event.length === 0) return sendError(connection, "invalid_field", "`event` must be a string", transaction);

    const user = connection.state.user;
    const seq = this.seq + 1;
    const id = typeof frame.id === "string" ? frame.id : crypto.randomUUID().replaceAll("-", "");
    const data = frame.data ?? null;
    const ts = Date.now();
    this.sql`INSERT INTO messages (seq, id, event, data, sender, ts) VALUES (${seq}, ${id}, ${frame.event}, ${JSON.stringify(data)}, ${user.id}, ${ts})`;
    this.seq = seq;
    connection.send(JSON.stringify({ type: "ack", id, seq, transaction }));
    this.broadcast(JSON.stringify({ type: "message", room: this.name, seq, id, event: frame.event, data, from: user, ts }));
  }
}

export default {
  async fetch(request, env) {
    const { pathname } = new URL(request.url);
    if (pathname === "/ping") return new Response("ok");
    const match = pathname.match(/^\/v1\/rooms\/([A-Za-z0-9][A-Za-z0-9_.:-]{0,127})\/ws$/);
    if (!match) return Response.json({ code: "not_found", message: "GET /v1/rooms/{room}/ws" }, { status: 404 });
    const room = await getServerByName(env.ROOMS, match[1]);
    return room.fetch(request);
  },
};

function sendError(connection, code, message, transaction) {
  connection.send(JSON.stringify({ type: "error", code, message, transaction }));
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
