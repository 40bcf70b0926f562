// Slow consumers (docs/reliability.md, "Bounded resources"): a member that stops reading is
// closed once it was sent more than MAX_BACKLOG_BYTES since its last sign of life, with 4003,
// and resumes from the room's log with `since`, missing nothing; one that keeps pinging (the
// pings the runtime answers by itself) is not taken for a slow consumer; the others keep
// receiving. The same rule ends a Socket.IO session on websocket and over long-polling.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startHerald, engineSocket, sleep, within, connected } from "../harness.mjs";

const BOUND = 256 * 1024;
const VARS = { MAX_BACKLOG_BYTES: String(BOUND), MAX_BATCH_BYTES: "65536", MAX_FRAME_BYTES: "65536" };
/** 2 MB in all: eight times the bound. */
const MESSAGES = 200;
const BODY = "x".repeat(10_000);

let herald;
before(async () => (herald = await startHerald({ vars: VARS })));
after(() => herald.stop());

/** Publishes MESSAGES messages of BODY into `room` over REST. */
async function flood(room) {
  for (let i = 1; i <= MESSAGES; i++) {
    const res = await herald.api(`/v1/rooms/${room}/messages`, { method: "POST", sub: "publisher", body: { event: "bulk", data: { i, body: BODY } } });
    assert.equal(res.status, 201, res.text);
  }
}

/** A member of `room` past its welcome. */
async function member(room, sub, options) {
  const client = await herald.connect(room, sub, options);
  await client.take(1, (f) => f.type === "welcome");
  return client;
}

test("a member that stops reading is closed as a slow consumer and resumes from the log with nothing missing", async () => {
  const room = "slow-native";
  const stalled = await member(room, "stalled");
  const lively = await member(room, "lively");
  stalled.socket._socket.pause(); // stops reading: what it is sent piles up
  // A client that receives a lot pings (docs/protocol.md): the runtime answers, the room sees it.
  const pinger = setInterval(() => lively.send('{"type":"ping"}'), 20);
  try {
    await flood(room);
    assert.equal((await lively.messages(MESSAGES)).length, MESSAGES, "the others keep receiving");
  } finally {
    clearInterval(pinger);
  }

  stalled.socket._socket.resume();
  // The close frame comes at once; workerd ends the TCP connection of a socket closed from
  // another socket's event only ~10 s later, and `ws` reports the close then.
  const closed = await within(stalled.closed, "the slow consumer's close", 15_000);
  assert.equal(closed.code, 4003);
  assert.equal(closed.reason, "slow_consumer");
  const received = stalled.frames.filter((f) => f.type === "message");
  const [error] = stalled.frames.filter((f) => f.type === "error");
  assert.equal(error.code, "slow_consumer");
  const bytes = received.reduce((sum, f) => sum + JSON.stringify(f).length, 0);
  assert.ok(received.length < MESSAGES, `closed before it was sent everything (${received.length} messages)`);
  // The room looks at its sockets each time an eighth of the bound went out: a socket may pass
  // the bound by that much, and one message, before it is closed.
  assert.ok(bytes <= BOUND + BOUND / 8 + 20_000, `sent at most the bound, an eighth and a message: ${bytes}`);
  assert.ok(herald.logs.some((line) => line.includes("closed as a slow consumer")));

  // Resume as the protocol says: the replay after `since`, then history for what it left out.
  const last = received.at(-1)?.seq ?? 0;
  const back = await herald.connect(room, "stalled", { since: last });
  const welcome = await back.next("welcome");
  const replayed = welcome.truncated ? await back.messages(welcome.truncated.from - last - 1) : await back.messages(MESSAGES - last);
  const paged = [];
  for (let after = replayed.at(-1)?.seq ?? last; after < MESSAGES; after = paged.at(-1).seq) {
    const page = await herald.api(`/v1/rooms/${room}/messages?after=${after}`, { sub: "stalled" });
    assert.equal(page.status, 200);
    paged.push(...page.json.messages);
  }
  assert.deepEqual(
    [...received, ...replayed, ...paged].map((m) => m.data.i),
    Array.from({ length: MESSAGES }, (_, i) => i + 1),
    "every message once, in order",
  );
});

test("a member that reads nothing but pings is not a slow consumer", async () => {
  const room = "slow-pinging";
  const quiet = await member(room, "quiet");
  quiet.socket._socket.pause();
  // The exact ping the runtime answers without waking the room; its answers pile up unread.
  const pinger = setInterval(() => quiet.send('{"type":"ping"}'), 20);
  try {
    await flood(room);
  } finally {
    clearInterval(pinger);
  }
  quiet.socket._socket.resume();
  const messages = await quiet.messages(MESSAGES);
  assert.equal(messages.length, MESSAGES);
  assert.equal(quiet.socket.readyState, 1, "still open");
});

test("a Socket.IO session on websocket that stops reading is closed by the same rule; one that reads is pinged early and stays", async () => {
  const room = "slow-sio";
  // The official client, reading: past half the bound the server pings it early, it answers.
  const reader = herald.io({ path: "/v1/socket.io/", transports: ["websocket"], reconnection: false, auth: { token: herald.token("sio-reader") } });
  await connected(reader.socket);
  assert.equal((await reader.socket.timeout(5000).emitWithAck("join", { room })).type, "welcome");
  const { ws, frames, frame, opened, closed } = engineSocket(`${herald.ws}/v1/socket.io/?EIO=4&transport=websocket`);
  await opened;
  assert.match(await frame(), /^0\{/);
  ws.send(`40${JSON.stringify({ token: herald.token("sio-stalled") })}`);
  assert.match(await frame(), /^40\{/);
  ws.send(`421["join",{"room":"${room}"}]`);
  assert.match(await frame(), /^431\[/);
  ws._socket.pause();
  await flood(room);
  ws._socket.resume();
  assert.equal(await within(closed, "the session's close", 15_000), 4003, "the session's websocket is closed as a slow consumer's");
  const events = frames.filter((f) => f.startsWith("42"));
  assert.ok(events.length < MESSAGES, `closed before it was sent everything (${events.length} events)`);
  const read = await reader.events.wait(MESSAGES, (e) => e.event === "message");
  assert.deepEqual(read.map((m) => m.data.i), Array.from({ length: MESSAGES }, (_, i) => i + 1));
  assert.equal(reader.socket.connected, true);
  reader.socket.close();
});

test("a Socket.IO client resuming many rooms at once is sent every replay it asked for, not taken for a slow consumer", async () => {
  const rooms = Array.from({ length: 8 }, (_, i) => `slow-resume-${i}`);
  for (const room of rooms) {
    for (let i = 1; i <= 8; i++) {
      const res = await herald.api(`/v1/rooms/${room}/messages`, { method: "POST", sub: "publisher", body: { event: "old", data: { i, body: BODY } } });
      assert.equal(res.status, 201);
    }
  }
  const { socket, events } = herald.io({ path: "/v1/socket.io/", transports: ["websocket"], reconnection: false, auth: { token: herald.token("resumer") } });
  await connected(socket);
  // Every join at once, each asking for its room's whole log: 8 replays of up to 64 KiB, twice the bound.
  const welcomes = await Promise.all(rooms.map((room) => socket.timeout(10_000).emitWithAck("join", { room, since: 0 })));
  assert.deepEqual(welcomes.map((w) => w.type), rooms.map(() => "welcome"));
  await events.wait(rooms.length * 6, (e) => e.event === "message");
  assert.equal(socket.connected, true);
  socket.close();
});

test("a Socket.IO session over long-polling whose buffer passes the bound without a GET is closed", async () => {
  const room = "slow-polling";
  const base = `${herald.http}/v1/socket.io/?EIO=4&transport=polling`;
  const open = JSON.parse((await (await fetch(base)).text()).slice(1));
  const url = `${base}&sid=${open.sid}`;
  const post = (body) => fetch(url, { method: "POST", body }).then((r) => r.text());
  assert.equal(await post(`40${JSON.stringify({ token: herald.token("poll-stalled") })}`), "ok");
  assert.match(await (await fetch(url)).text(), /^40\{/);
  assert.equal(await post(`421["join",{"room":"${room}"}]`), "ok");
  assert.match(await (await fetch(url)).text(), /431\[/);
  await flood(room); // no GET meanwhile
  await sleep(100);
  const after = await fetch(url);
  assert.equal(after.status, 400);
  assert.equal((await after.json()).code, "unknown_session", "the session ended");
});
