// Socket.IO and Engine.IO end to end: the official `socket.io-client`, raw `ws` sockets and
// fetch against the echo dialects (ECHO_ROUTES) of the built worker in workerd.
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import WebSocket from "ws";
import { io } from "socket.io-client";
import { startHerald, within, next, sleep, WAIT_MS, engineSocket, Client } from "../harness.mjs";

// A short heartbeat so that ping timeouts happen within a test.
const PING_INTERVAL = 300;
const PING_TIMEOUT = 200;
const VARS = {
  ECHO_ROUTES: "true",
  ENGINEIO_PING_INTERVAL_MS: String(PING_INTERVAL),
  ENGINEIO_PING_TIMEOUT_MS: String(PING_TIMEOUT),
  ENGINEIO_MAX_PAYLOAD: "1000000",
};
const SID = /^([0-9a-f]{16})\.([0-9a-f]{16})$/;

let herald;
const sockets = new Set();
before(async () => (herald = await startHerald({ vars: VARS })));
after(async () => {
  for (const s of sockets) s.close();
  await herald.stop();
});


/**
 * A `socket.io-client` socket on its own connection (no reconnection) to namespace `nsp` of
 * the echo route; resolves once connected, with the server's `auth` greeting.
 */
async function connect(nsp = "/", options = {}) {
  const socket = io(`${herald.http}${nsp}`, { forceNew: true, reconnection: false, ...options });
  sockets.add(socket);
  const greeted = next(socket, "auth");
  greeted.catch(() => {}); // a refused connection is never greeted
  const upgraded = next(socket.io.engine, "upgrade", 10_000);
  upgraded.catch(() => {}); // awaited only by the tests that expect an upgrade
  await within(
    new Promise((resolve, reject) => {
      socket.once("connect", resolve);
      socket.once("connect_error", reject);
    }),
    `connect to ${nsp}`,
  );
  const [auth] = await greeted;
  return { socket, auth, upgraded };
}

/** Emits `message` and resolves with the arguments of the `message-back` that answers it. */
function echo(socket, ...args) {
  const back = next(socket, "message-back");
  socket.emit("message", ...args);
  return back;
}

/** Emits `message-with-ack` and resolves with every argument of the acknowledgement. */
function echoAck(socket, ...args) {
  return within(new Promise((resolve) => socket.emit("message-with-ack", ...args, (...acked) => resolve(acked))), "ack");
}

const JSON_ARGS = [1, "two", { three: [3, null, true] }, "ünïcødé ✓", [{ nested: { deep: "yes" } }]];

test("the default client connects over polling, gets an empty auth, echoes, acks and upgrades to websocket", async () => {
  const { socket, auth, upgraded } = await connect();
  assert.deepEqual(auth, {});
  assert.deepEqual(await echo(socket, ...JSON_ARGS), JSON_ARGS);
  assert.deepEqual(await socket.timeout(WAIT_MS).emitWithAck("message-with-ack", { ok: 1 }), { ok: 1 });
  assert.deepEqual(await echoAck(socket, ...JSON_ARGS), JSON_ARGS);
  const [transport] = await upgraded;
  assert.equal(transport.name, "websocket");
  assert.equal(socket.io.engine.transport.name, "websocket");
  assert.deepEqual(await echo(socket, "after the upgrade", Buffer.from([0, 1, 2, 255])), [
    "after the upgrade",
    Buffer.from([0, 1, 2, 255]),
  ]);
  assert.deepEqual(await echoAck(socket, "acked over websocket"), ["acked over websocket"]);
  socket.close();
});

test("emits that straddle the upgrade all come back once, in order", async () => {
  const socket = io(herald.http, { forceNew: true, reconnection: false });
  sockets.add(socket);
  const got = [];
  socket.on("message-back", (i) => got.push(i));
  let sent = 0;
  let sentBeforeUpgrade;
  const stream = setInterval(() => socket.emit("message", sent++), 2);
  try {
    await next(socket.io.engine, "upgrade");
    sentBeforeUpgrade = sent;
    while (sent < sentBeforeUpgrade + 20) await sleep(5);
  } finally {
    clearInterval(stream);
  }
  assert.ok(sentBeforeUpgrade > 0);
  assert.equal(await socket.timeout(WAIT_MS).emitWithAck("message-with-ack", "last"), "last");
  assert.deepEqual(got, Array.from({ length: sent }, (_, i) => i));
  socket.close();
});

test("a websocket-only client echoes and acks, binary arguments included byte for byte", async () => {
  const { socket, auth } = await connect("/", { transports: ["websocket"] });
  assert.deepEqual(auth, {});
  assert.equal(socket.io.engine.transport.name, "websocket");
  assert.deepEqual(await echo(socket, ...JSON_ARGS), JSON_ARGS);
  assert.deepEqual(await socket.timeout(WAIT_MS).emitWithAck("message-with-ack", "hi"), "hi");
  const bytes = Uint8Array.from({ length: 4096 }, (_, i) => (i * 7) % 256);
  const buffer = Buffer.from("binary ✓");
  const back = await echo(socket, "bin", bytes, { inner: buffer, list: [buffer, 2] });
  assert.equal(back[0], "bin");
  assert.ok(Buffer.isBuffer(back[1]), "a Uint8Array comes back as binary");
  assert.deepEqual(Buffer.from(back[1]), Buffer.from(bytes));
  assert.deepEqual(back[2], { inner: buffer, list: [buffer, 2] });
  const acked = await echoAck(socket, bytes, "tail");
  assert.deepEqual(Buffer.from(acked[0]), Buffer.from(bytes));
  assert.equal(acked[1], "tail");
  socket.close();
});

test("a polling-only client keeps emit order, carries binary as base64 and stays on polling", async () => {
  const { socket, auth } = await connect("/", { transports: ["polling"] });
  assert.deepEqual(auth, {});
  let upgrades = 0;
  socket.io.engine.on("upgrade", () => upgrades++);
  const got = [];
  socket.on("message-back", (...args) => got.push(args));
  for (let i = 0; i < 20; i++) socket.emit("message", i, `text ${i}`);
  // The ack follows the echoes on the same connection: once it is in, all of them are.
  assert.deepEqual(await echoAck(socket, "done"), ["done"]);
  socket.off("message-back");
  assert.deepEqual(got, Array.from({ length: 20 }, (_, i) => [i, `text ${i}`]));
  const bytes = Buffer.from([0, 1, 2, 3, 250, 251, 252, 253, 254, 255]);
  const back = await echo(socket, bytes, "after");
  assert.ok(Buffer.isBuffer(back[0]));
  assert.deepEqual(back, [bytes, "after"]);
  assert.deepEqual(await echoAck(socket, "ack", bytes), ["ack", bytes]);
  assert.equal(socket.io.engine.transport.name, "polling");
  assert.equal(upgrades, 0);
  socket.close();
});

test("the auth payload comes back in the greeting, /custom is a namespace and /nope is refused", async () => {
  const withToken = await connect("/", { auth: { token: "abc" } });
  assert.deepEqual(withToken.auth, { token: "abc" });
  const custom = await connect("/custom", { auth: { room: "x", n: 1 } });
  assert.deepEqual(custom.auth, { room: "x", n: 1 });
  assert.deepEqual(await echo(custom.socket, "in /custom"), ["in /custom"]);
  assert.deepEqual(await echoAck(custom.socket, "acked in /custom"), ["acked in /custom"]);
  await assert.rejects(connect("/nope"), (e) => e.message === "Invalid namespace");
  withToken.socket.close();
  custom.socket.close();
});

test("clients that answer pings stay connected across several intervals, on either transport", async () => {
  const clients = await Promise.all([{}, { transports: ["websocket"] }, { transports: ["polling"] }].map((o) => connect("/", o)));
  const pings = clients.map(() => 0);
  const drops = [];
  clients.forEach(({ socket }, i) => {
    socket.io.engine.on("ping", () => pings[i]++);
    socket.on("disconnect", (reason) => drops.push(reason));
  });
  await sleep(5 * PING_INTERVAL);
  assert.deepEqual(drops, []);
  for (const [i, { socket }] of clients.entries()) {
    assert.ok(socket.connected);
    assert.ok(pings[i] >= 3, `client ${i} saw ${pings[i]} pings in ${5 * PING_INTERVAL} ms`);
    assert.deepEqual(await echo(socket, "still here", i), ["still here", i]);
    socket.close();
  }
});

/** A raw Engine.IO websocket on the engine-echo route (`query` after the transport). */
const rawSocket = (query, options) => engineSocket(`${herald.ws}/engine.io/?EIO=4&transport=websocket${query}`, options);

test("a raw websocket that never answers pings is closed after the ping timeout", async () => {
  const { ws, frames, closed, opened } = rawSocket("");
  try {
    await opened;
    const openedAt = Date.now();
    const code = await within(closed, "the server closes the socket", 2000);
    const elapsed = Date.now() - openedAt;
    assert.ok(elapsed < 2000, `closed after ${elapsed} ms`);
    assert.ok(elapsed >= PING_INTERVAL, `closed after ${elapsed} ms, before a ping was even due`);
    assert.equal(code, 1000);
    assert.match(frames[0], /^0\{/);
    assert.deepEqual(JSON.parse(frames[0].slice(1)).upgrades, [], "a websocket session has nothing to upgrade to");
    assert.ok(frames.slice(1).includes("2"), `a ping was sent: ${JSON.stringify(frames)}`);
  } finally {
    ws.terminate();
  }
});

/** Raw Engine.IO over fetch: `query` follows `EIO=4`. */
const eio = (query, init) => fetch(`${herald.http}/engine.io/?EIO=4&${query}`, init);

async function handshake() {
  const res = await eio("transport=polling");
  assert.equal(res.status, 200);
  const body = await res.text();
  assert.match(body, /^0\{/);
  return JSON.parse(body.slice(1));
}

const poll = async (sid) => {
  const res = await eio(`transport=polling&sid=${sid}`);
  return { status: res.status, text: await res.text() };
};

const post = async (sid, body) => {
  const res = await eio(`transport=polling&sid=${sid}`, { method: "POST", body });
  return { status: res.status, text: await res.text() };
};

/** A payload's packets without the server's pings (a slow run may see one in between). */
const withoutPings = (payload) => payload.split("\x1e").filter((p) => p !== "2").join("\x1e");

test("a polling session that stops polling and never pongs is gone after interval plus timeout", async () => {
  const { sid } = await handshake();
  const started = Date.now();
  const ping = await within(poll(sid), "the held GET answered with a ping");
  assert.deepEqual(ping, { status: 200, text: "2" });
  await sleep(Math.max(0, PING_INTERVAL + PING_TIMEOUT + 200 - (Date.now() - started)));
  const late = await poll(sid);
  assert.equal(late.status, 400);
  assert.equal(JSON.parse(late.text).code, "unknown_session");
});

test("two clients get sids naming different homes and only their own echoes", async () => {
  const [a, b] = await Promise.all([connect("/", { transports: ["websocket"] }), connect("/", { transports: ["polling"] })]);
  const [homeA, homeB] = [a, b].map(({ socket }) => {
    const match = SID.exec(socket.io.engine.id);
    assert.ok(match, `sid ${socket.io.engine.id} is {home}.{session}`);
    return match[1];
  });
  assert.notEqual(homeA, homeB);
  const received = [[], []];
  const run = async ({ socket }, tag, got) => {
    socket.on("message-back", (...args) => got.push(args));
    for (let i = 0; i < 15; i++) socket.emit("message", tag, i);
    assert.deepEqual(await echoAck(socket, "done"), ["done"]);
  };
  await Promise.all([run(a, "A", received[0]), run(b, "B", received[1])]);
  const expected = (tag) => Array.from({ length: 15 }, (_, i) => [tag, i]);
  assert.deepEqual(received, [expected("A"), expected("B")]);
  a.socket.close();
  b.socket.close();
});

test("an Engine.IO polling handshake carries exactly sid, upgrades, pingInterval, pingTimeout and maxPayload", async () => {
  const open = await handshake();
  assert.deepEqual(Object.keys(open).sort(), ["maxPayload", "pingInterval", "pingTimeout", "sid", "upgrades"]);
  assert.match(open.sid, SID);
  assert.deepEqual(
    { upgrades: open.upgrades, pingInterval: open.pingInterval, pingTimeout: open.pingTimeout, maxPayload: open.maxPayload },
    { upgrades: ["websocket"], pingInterval: PING_INTERVAL, pingTimeout: PING_TIMEOUT, maxPayload: 1_000_000 },
  );
  assert.equal((await post(open.sid, "1")).status, 200);
});

test("Engine.IO requests with a wrong protocol, transport or session are refused with 400 and a code", async () => {
  const refused = async (url, init) => {
    const res = await fetch(`${herald.http}${url}`, init);
    return [res.status, (await res.json()).code];
  };
  assert.deepEqual(await refused("/engine.io/?EIO=3&transport=polling"), [400, "unsupported_protocol"]);
  assert.deepEqual(await refused("/engine.io/?transport=polling"), [400, "unsupported_protocol"]);
  assert.deepEqual(await refused("/engine.io/?EIO=4&transport=abc"), [400, "unknown_transport"]);
  assert.deepEqual(await refused("/engine.io/?EIO=4"), [400, "unknown_transport"]);
  assert.deepEqual(await refused("/engine.io/?EIO=4&transport=polling", { method: "POST", body: "4x" }), [400, "bad_request"]);
  for (const sid of ["0123456789abcdef.0123456789abcdef", "not-a-sid", "0123456789ABCDEF.0123456789abcdef"]) {
    assert.deepEqual(await refused(`/engine.io/?EIO=4&transport=polling&sid=${sid}`), [400, "unknown_session"], sid);
    const init = { method: "POST", body: "4x" };
    assert.deepEqual(await refused(`/engine.io/?EIO=4&transport=polling&sid=${sid}`, init), [400, "unknown_session"], sid);
  }
});

test("a websocket upgrade whose sid names no session is refused with 400 unknown_session, not completed then closed", async () => {
  const ended = (await handshake()).sid;
  assert.equal((await post(ended, "1")).status, 200);
  // Well-formed sids of no session (one that never was, one the client closed), and a sid
  // that names no home at all.
  for (const sid of ["0123456789abcdef.0123456789abcdef", ended, "not-a-sid"]) {
    const answer = await Client.open(`${herald.ws}/engine.io/?EIO=4&transport=websocket&sid=${sid}`).then(
      (client) => {
        client.terminate();
        return "upgraded (101)";
      },
      (e) => [e.status, e.body?.code],
    );
    assert.deepEqual(answer, [400, "unknown_session"], sid);
  }
});

test("a polling POST over maxPayload is refused with 413 and ends the session, whose requests then get 400 unknown_session", async () => {
  const payload = Buffer.from(`4${"a".repeat(1_000_000)}`);
  // Declared (content-length) and streamed (chunked, no length): the Worker refuses the first
  // unread and the second once past the limit.
  const bodies = {
    declared: () => ({ body: payload }),
    chunked: () => ({
      duplex: "half",
      body: new ReadableStream({
        start(controller) {
          for (let at = 0; at < payload.length; at += 65_536) controller.enqueue(payload.subarray(at, at + 65_536));
          controller.close();
        },
      }),
    }),
  };
  for (const [how, body] of Object.entries(bodies)) {
    const { sid } = await handshake();
    const res = await eio(`transport=polling&sid=${sid}`, { method: "POST", ...body() });
    const refusal = await res.json();
    assert.deepEqual([res.status, refusal.code, refusal.details], [413, "payload_too_large", { limit: 1_000_000 }], how);
    const next = await poll(sid);
    assert.deepEqual([next.status, JSON.parse(next.text).code], [400, "unknown_session"], how);
    const again = await post(sid, "4hello");
    assert.deepEqual([again.status, JSON.parse(again.text).code], [400, "unknown_session"], how);
  }
});

test("an Engine.IO websocket text frame with invalid UTF-8 arrives with U+FFFD in place of the bad bytes; the session stays open", async () => {
  // Pins what the runtime does (docs/socketio.md, "Engine.IO"): the home only ever sees the
  // decoded string. The reference server's `ws` would close with 1007 instead.
  const { ws, frame, opened } = rawSocket("", { pong: true });
  try {
    await opened;
    assert.match(await frame(), /^0\{/);
    ws.send(Buffer.concat([Buffer.from("4a"), Buffer.from([0xff]), Buffer.from("b")]), { binary: false });
    assert.equal(await frame(), "4a\uFFFDb");
    ws.send("4still open");
    assert.equal(await frame(), "4still open");
  } finally {
    ws.terminate();
  }
});

test("messages posted in one payload come back from the next GET joined by the record separator", async () => {
  const { sid } = await handshake();
  assert.deepEqual(await post(sid, "4hello\x1e4world"), { status: 200, text: "ok" });
  const got = await within(poll(sid), "GET");
  assert.equal(got.status, 200);
  assert.equal(withoutPings(got.text), "4hello\x1e4world");
  assert.equal((await post(sid, "1")).status, 200);
});

test("an upgrade probes the websocket, ends the pending GET with a noop, then refuses polling", async () => {
  const { sid } = await handshake();
  // The GET held while the probe runs; a ping may answer it first on a slow run.
  const pending = (async () => {
    for (;;) {
      const got = await poll(sid);
      if (got.text !== "2") return got;
      await post(sid, "3");
    }
  })();
  // Once upgraded, pings come over the websocket, which answers them.
  const { ws, frame, opened } = rawSocket(`&sid=${sid}`, { pong: true });
  try {
    await opened;
    ws.send("2probe");
    assert.equal(await frame(), "3probe");
    assert.deepEqual(await within(pending, "the GET ended by the probe"), { status: 200, text: "6" });
    ws.send("5");
    const refused = await poll(sid);
    assert.equal(refused.status, 400);
    assert.equal(JSON.parse(refused.text).code, "bad_request");
    ws.send("4over the websocket");
    assert.equal(await frame(), "4over the websocket");
    ws.send("4still");
    assert.equal(await frame(), "4still");
  } finally {
    ws.terminate();
  }
});

describe("without ECHO_ROUTES", () => {
  let plain;
  before(async () => (plain = await startHerald()));
  after(() => plain.stop());

  test("/engine.io/ is not a route and /socket.io/ is alert's, while the configured /v1/socket.io/ is native", async () => {
    const engine = await plain.api("/engine.io/?EIO=4&transport=polling", { token: null });
    assert.equal(engine.status, 404);
    assert.equal(engine.json.code, "not_found");
    for (const path of ["/socket.io/", "/v1/socket.io/"]) {
      const open = await plain.api(`${path}?EIO=4&transport=polling`, { token: null });
      assert.equal(open.status, 200, path);
      assert.match(open.text, /^0\{"/, path);
    }
  });
});
