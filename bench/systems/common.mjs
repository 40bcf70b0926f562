// What the JavaScript systems under test share (bench/README.md): the room path and the Worker
// in front of the rooms, the ping
// auto-response, reading a publish frame of Herald's protocol, the user a connection claims,
// sending to every socket, and answering a close. Our own code, for the benchmark only.

export const PING = '{"type":"ping"}';
export const PONG = '{"type":"pong"}';

/**
 * One line per construction of a room object (its first request, or its first after an
 * eviction): the benchmark counts these to tell when a hibernated object woke up, as Herald's
 * `room … loaded` line.
 */
export function constructed(ctx) {
  console.log(`bench-room constructed: ${ctx.id.name ?? ctx.id.toString()}`);
}

/** The room of `/v1/rooms/{room}/ws`, or `undefined` for any other path. */
export function roomOf(pathname) {
  return pathname.match(/^\/v1\/rooms\/([A-Za-z0-9][A-Za-z0-9_.:-]{0,127})\/ws$/)?.[1];
}

/** The answer to a path that is not a room's websocket (`/ping` answers the runner's probe). */
export function notRoom(pathname) {
  if (pathname === "/ping") return new Response("ok");
  return Response.json({ code: "not_found", message: "GET /v1/rooms/{room}/ws" }, { status: 404 });
}

/**
 * The Worker in front of the room objects: a room's websocket path goes to its object
 * (`stubOf(env, room)`, which may return a promise), anything else to `notRoom`.
 */
export function roomWorker(stubOf) {
  return {
    async fetch(request, env) {
      const { pathname } = new URL(request.url);
      const room = roomOf(pathname);
      if (!room) return notRoom(pathname);
      return (await stubOf(env, room)).fetch(request);
    },
  };
}

/**
 * A client frame: `{publish: frame}` for a valid publish, `{reply: text}` for what to answer
 * instead (a pong, or an error frame echoing the frame's transaction).
 */
export function readFrame(message) {
  if (typeof message !== "string") return { reply: error("invalid_field", "binary frames are not accepted") };
  let frame;
  try {
    frame = JSON.parse(message);
  } catch {
    return { reply: error("invalid_json", "a frame is one JSON object") };
  }
  if (frame === null || typeof frame !== "object" || Array.isArray(frame)) {
    return { reply: error("invalid_field", "a frame is one JSON object") };
  }
  const transaction = frame.transaction;
  if (frame.type === "ping") return { reply: JSON.stringify({ type: "pong", transaction }) };
  if (frame.type !== "publish") return { reply: error("unknown_type", "unknown frame type", transaction) };
  if (typeof frame.event !== "string" || frame.event.length === 0) {
    return { reply: error("invalid_field", "`event` must be a string", transaction) };
  }
  return { publish: frame };
}

function error(code, message, transaction) {
  return JSON.stringify({ type: "error", code, message, transaction });
}

/** The user a connection claims: `?user=`, else the `sub` of its token (unverified), else a guest. */
export function userOf(request, guest) {
  const url = new URL(request.url);
  return { id: url.searchParams.get("user") ?? tokenSub(url, request) ?? `guest-${guest}` };
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

/** `text` to every socket; one already closing is tidied up by its close handler. */
export function sendAll(sockets, text) {
  for (const socket of sockets) {
    try {
      socket.send(text);
    } catch {
      // a socket already closing
    }
  }
}

/** Answers a client's close with its own code (one that may go on the wire, RFC 6455 §7.4.1). */
export function closeBack(ws, code) {
  try {
    ws.close([1005, 1006, 1015].includes(code) ? 1000 : code, "closing");
  } catch {
    // already closed
  }
}
