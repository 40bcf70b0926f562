// The same room as js-room/ (bench/README.md), written on `partyserver` (npm): the library's
// Server with hibernation on, its connection state for the user, its `sql` and `broadcast`.
// Bundled with esbuild by bench/systems.mjs (partyserver imports nanoid), served by Miniflare.
import { Server, getServerByName } from "partyserver";
import { PING, PONG, constructed, readFrame, userOf, roomWorker } from "../common.mjs";

export class PartyRoom extends Server {
  static options = { hibernate: true };

  constructor(ctx, env) {
    super(ctx, env);
    constructed(ctx);
  }

  // Runs once per instance, after a wake from hibernation too.
  onStart() {
    this.sql`CREATE TABLE IF NOT EXISTS messages (
      seq INTEGER PRIMARY KEY, id TEXT NOT NULL, event TEXT NOT NULL,
      data TEXT NOT NULL, sender TEXT NOT NULL, ts INTEGER NOT NULL)`;
    this.seq = this.sql`SELECT COALESCE(MAX(seq), 0) AS seq FROM messages`[0].seq;
    this.ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair(PING, PONG));
  }

  onConnect(connection, { request }) {
    const user = userOf(request, connection.id);
    connection.setState({ user });
    connection.send(JSON.stringify({ type: "welcome", conn: connection.id, user, room: this.name, seq: this.seq }));
  }

  onMessage(connection, message) {
    const { publish: frame, reply } = readFrame(message);
    if (!frame) return connection.send(reply);
    const transaction = frame.transaction;

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

export default roomWorker((env, room) => getServerByName(env.ROOMS, room));
