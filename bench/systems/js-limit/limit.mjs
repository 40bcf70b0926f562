// The ceiling: a Durable Object (Hibernation API) that forwards every frame it receives, as the
// same string, to every socket of the room (the sender included). No parsing, no seq, no
// storage: what the runtime allows for a fan-out, for Herald's ratio to the limit.
//
//   GET /v1/rooms/{room}/ws   upgrade (no token check); one fixed welcome frame on connect, so
//                             a client that waits for `welcome` works unchanged
//   any frame                 the same string to every socket
//   {"type":"ping"}           {"type":"pong"} by the runtime (auto-response)
import { DurableObject } from "cloudflare:workers";
import { PING, PONG, constructed, sendAll, closeBack, roomWorker } from "../common.mjs";

export class LimitRoom extends DurableObject {
  constructor(ctx, env) {
    super(ctx, env);
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair(PING, PONG));
    constructed(ctx);
  }

  async fetch(request) {
    if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") return new Response("websocket only", { status: 426 });
    const { 0: client, 1: server } = new WebSocketPair();
    this.ctx.acceptWebSocket(server);
    server.send('{"type":"welcome","seq":0}');
    return new Response(null, { status: 101, webSocket: client });
  }

  webSocketMessage(_ws, message) {
    sendAll(this.ctx.getWebSockets(), message);
  }

  webSocketClose(ws, code) {
    closeBack(ws, code);
  }
}

export default roomWorker((env, room) => env.ROOMS.get(env.ROOMS.idFromName(room)));
