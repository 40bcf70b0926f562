// The native Socket.IO dialect (docs/socketio.md, "The native dialect") end to end: the official
// `socket.io-client` on /v1/socket.io/ of the built worker in workerd, in the same rooms as
// JSON-protocol clients (`ws`) and REST publishers.
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import WebSocket from "ws";
import { Manager } from "socket.io-client";
import { startHerald, tempDir, pending, next, sleep, WAIT_MS, engineSocket, connected } from "../harness.mjs";

const PATH = "/v1/socket.io/";
const USER = (sub) => ({ id: sub, name: `${sub} name` });
const HEX32 = /^[0-9a-f]{32}$/;

let herald;
const sockets = new Set();
before(async () => (herald = await startHerald()));
after(async () => {
  for (const s of sockets) s.close();
  await herald.stop();
});

const range = (from, to) => Array.from({ length: to - from + 1 }, (_, i) => from + i);
const seqs = (messages) => messages.map((m) => m.seq);
const ids = (members) => members.map((m) => m.id).sort();


/** Matches events named `event` (of `room` when given). */
const is = (event, room) => (e) => e.event === event && (room === undefined || e.frame?.room === room);

/**
 * A `socket.io-client` socket on its own connection (no reconnection) to the native route of
 * `on` (the file's Herald by default), not yet connected.
 */
const open = (options = {}, on = herald) => on.io({ path: PATH, forceNew: true, reconnection: false, ...options });

/** A connected Socket.IO client for `sub` (token in the CONNECT auth payload). */
async function sio(sub, { claims, options = {}, on = herald } = {}) {
  const client = open({ auth: { token: on.token(sub, claims) }, ...options }, on);
  await connected(client.socket);
  return client;
}

/** Emits `event` with `arg` and an ack callback; the answer. */
const ask = (socket, event, arg) => socket.timeout(WAIT_MS).emitWithAck(event, arg);
const join = (socket, room, extra = {}) => ask(socket, "join", { room, ...extra });

/** Joins and checks the answer is the room's welcome. */
async function joined(socket, room, sub) {
  const welcome = await join(socket, room);
  assert.equal(welcome.type, "welcome", `join ${room}: ${JSON.stringify(welcome)}`);
  assert.equal(welcome.room, room);
  if (sub) assert.deepEqual(welcome.user, USER(sub));
  return welcome;
}

/** Publishes `data` (event `n`) into `room` over REST as `sub`; the JSON answer `{id, seq}`. */
async function rest(room, data, { sub = "rest-user", id, on = herald } = {}) {
  const res = await on.api(`/v1/rooms/${room}/messages`, {
    method: "POST",
    sub,
    body: { event: "n", data },
    headers: id ? { "idempotency-key": id } : {},
  });
  assert.ok(res.status === 201 || res.status === 200, `REST publish: ${res.status} ${res.text}`);
  return res.json;
}

/** An error answer with `code` (and `room` when given). */
function assertError(answer, code, room) {
  assert.equal(answer?.type, "error", `expected an error ${code}, got ${JSON.stringify(answer)}`);
  assert.equal(answer.code, code, JSON.stringify(answer));
  if (room !== undefined) assert.equal(answer.room, room, JSON.stringify(answer));
}

/** Polls GET presence of `room` until `ok(memberIds)` holds; the last member ids. */
async function presenceUntil(room, ok, what, on = herald, ms = 5000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const res = await on.api(`/v1/rooms/${room}/presence`);
    assert.equal(res.status, 200, res.text);
    const members = ids(res.json.members);
    if (ok(members)) return members;
    if (Date.now() > deadline) throw new Error(`presence of ${room} never ${what}: ${JSON.stringify(members)}`);
    await sleep(100);
  }
}

describe("transports", () => {
  // Each transport configuration gets a welcome and presence for the join, then another
  // client's messages in seq order, each with its room, event, data and sender.
  const configurations = [
    ["default options (polling, then the upgrade to websocket)", {}, "default"],
    ['transports: ["websocket"]', { transports: ["websocket"] }, "websocket"],
    ['transports: ["polling"] (polling only, never upgraded)', { transports: ["polling"] }, "polling"],
  ];
  for (const [label, options, name] of configurations) {
    test(`${label}: join answers the welcome, then another client's messages arrive in order`, async () => {
      const room = `nsio-transport-${name}`;
      const sub = `sio-${name}`;
      const { socket, events } = open({ auth: { token: herald.token(sub) }, ...options });
      let upgrades = 0;
      socket.io.engine.on("upgrade", () => upgrades++);
      const upgraded = next(socket.io.engine, "upgrade", 10_000);
      upgraded.catch(() => {}); // awaited only where an upgrade is expected
      await connected(socket);
      const welcome = await joined(socket, room, sub);
      assert.equal(welcome.seq, 0, "a new room");
      const [presence] = await events.wait(1, is("presence", room));
      assert.deepEqual(presence.members, [USER(sub)]);

      const pub = await herald.connect(room, "pub-t");
      for (let i = 0; i < 10; i++) await pub.publish("chat", { i });
      if (name === "default") {
        const [transport] = await upgraded;
        assert.equal(transport.name, "websocket");
      }
      for (let i = 10; i < 20; i++) await pub.publish("chat", { i });
      const got = await events.wait(20, is("message", room));
      assert.deepEqual(seqs(got), range(1, 20));
      for (const [i, m] of got.entries()) {
        assert.equal(m.type, "message");
        assert.equal(m.room, room);
        assert.equal(m.event, "chat");
        assert.deepEqual(m.data, { i });
        assert.deepEqual(m.from, USER("pub-t"));
        assert.match(m.id, HEX32);
      }
      const atPublisher = await pub.messages(20);
      assert.deepEqual(got, atPublisher, "the same frames a JSON-protocol client of the room sees");
      const expected = { default: "websocket", websocket: "websocket", polling: "polling" }[name];
      assert.equal(socket.io.engine.transport.name, expected);
      if (name !== "default") assert.equal(upgrades, 0);
      await sleep(200);
      assert.equal(events.all(is("message", room)).length, 20, "no message twice");
      await pub.close();
      socket.close();
    });
  }

  test("messages keep flowing, exactly once and in order, while the client upgrades mid-stream", async () => {
    const room = "nsio-upgrade-seam";
    const { socket, events } = open({ auth: { token: herald.token("sio-seam") } });
    // socket.io-client probes the websocket right after the handshake; hold its probe until
    // messages flow over polling, so that the upgrade happens in the middle of the stream.
    const engine = socket.io.engine;
    let probe;
    const realProbe = engine._probe;
    engine._probe = (name) => (probe = () => realProbe.call(engine, name));
    const upgraded = next(engine, "upgrade", 10_000);
    await connected(socket);
    await joined(socket, room, "sio-seam");
    assert.equal(engine.transport.name, "polling");
    const arrivedOn = new Map();
    socket.on("message", (m) => arrivedOn.set(m.seq, engine.transport.name));

    const pub = await herald.connect(room, "pub-seam");
    let sent = 0;
    const publish = async (count) => {
      for (let i = 0; i < count; i++) await pub.publish("n", sent++);
    };
    await publish(10);
    await events.wait(10, is("message", room));
    assert.ok(probe, "the client asked for the upgrade");
    probe();
    const during = publish(20); // published while the probe and the switch run
    const [transport] = await upgraded;
    assert.equal(transport.name, "websocket");
    await during;
    await publish(10);
    const got = await events.wait(sent, is("message", room));
    assert.deepEqual(seqs(got), range(1, sent), "no gap, in order");
    assert.deepEqual(got.map((m) => m.data), range(0, sent - 1));
    assert.equal(arrivedOn.get(1), "polling");
    assert.equal(arrivedOn.get(sent), "websocket");
    await sleep(200);
    assert.equal(events.all(is("message", room)).length, sent, "nothing twice across the upgrade");
    await pub.close();
    socket.close();
  });
});

test("publishing through Socket.IO: the ack, the message to everyone once, and idempotency keys", async () => {
  const room = "nsio-publish";
  const { socket, events } = await sio("sio-pub");
  await joined(socket, room, "sio-pub");
  const watcher = await herald.connect(room, "watch-pub");
  await watcher.take(2);

  const ack = await ask(socket, "publish", { room, event: "chat", data: { text: "hi" }, id: "key-1" });
  assert.deepEqual(ack, { type: "ack", room, id: "key-1", seq: 1 });
  const [message] = await watcher.messages(1);
  assert.equal(message.room, room);
  assert.equal(message.seq, 1);
  assert.equal(message.id, "key-1");
  assert.equal(message.event, "chat");
  assert.deepEqual(message.data, { text: "hi" });
  assert.deepEqual(message.from, USER("sio-pub"));
  const [own] = await events.wait(1, is("message", room));
  assert.deepEqual(own, message, "the publisher gets the message too, the same frame");

  const again = await ask(socket, "publish", { room, event: "chat", data: { text: "again" }, id: "key-1" });
  assert.deepEqual(again, { type: "ack", room, id: "key-1", seq: 1, duplicate: true });
  const viaRest = await herald.api(`/v1/rooms/${room}/messages`, {
    method: "POST",
    sub: "sio-pub",
    body: { event: "chat", data: "thrice" },
    headers: { "idempotency-key": "key-1" },
  });
  assert.deepEqual([viaRest.status, viaRest.json], [200, { id: "key-1", seq: 1, duplicate: true }], "the key is the publisher's, whatever the path");

  // Without an ack callback the answer comes as an `ack` event, echoing the transaction.
  socket.emit("publish", { room, event: "chat", data: "no callback", transaction: "tx-1" });
  const [ackEvent] = await events.wait(1, is("ack", room));
  assert.equal(ackEvent.type, "ack");
  assert.equal(ackEvent.seq, 2);
  assert.equal(ackEvent.transaction, "tx-1");
  assert.match(ackEvent.id, HEX32);

  const atWatcher = await watcher.messages(1);
  assert.deepEqual(seqs(atWatcher), [2]);
  assert.equal(atWatcher[0].data, "no callback");
  await sleep(200);
  assert.deepEqual(pending(watcher, "message"), [], "the duplicate published nothing");
  assert.deepEqual(seqs(events.all(is("message", room))), [1, 2], "each message once");
  await watcher.close();
  socket.close();
});

test("one Socket.IO connection's publishes keep their order", async () => {
  const room = "nsio-publish-order";
  const { socket } = await sio("sio-order");
  await joined(socket, room);
  const watcher = await herald.connect(room, "watch-order");
  await watcher.take(2);
  const acks = await Promise.all(range(0, 29).map((i) => ask(socket, "publish", { room, event: "n", data: i })));
  assert.deepEqual(
    acks.map((a) => [a.type, a.seq]),
    range(1, 30).map((seq) => ["ack", seq]),
  );
  const got = await watcher.messages(30);
  assert.deepEqual(got.map((m) => [m.seq, m.data]), range(0, 29).map((i) => [i + 1, i]));
  await watcher.close();
  socket.close();
});

test("one connection in two rooms gets each room's messages in that room's order, tagged with the room", async () => {
  const [A, B] = ["nsio-two-a", "nsio-two-b"];
  const { socket, events } = await sio("sio-two");
  await joined(socket, A);
  await joined(socket, B);
  const jsonA = await herald.connect(A, "json-two-a");
  const jsonB = await herald.connect(B, "json-two-b");
  const pubA = await herald.connect(A, "pub-two-a");
  const pubB = await herald.connect(B, "pub-two-b");
  // Interleaved: websocket publishers and REST, alternating between the rooms.
  for (let i = 0; i < 60; i++) {
    const data = { room: i % 2 ? B : A, i };
    if (i % 4 === 0) pubA.send({ type: "publish", event: "n", data });
    else if (i % 4 === 1) pubB.send({ type: "publish", event: "n", data });
    else await rest(data.room, data);
  }
  for (const [room, json] of [
    [A, jsonA],
    [B, jsonB],
  ]) {
    const atJson = await json.messages(30);
    const atSio = await events.wait(30, is("message", room));
    assert.deepEqual(seqs(atSio), range(1, 30), `${room}: its own seq order`);
    assert.ok(atSio.every((m) => m.data.room === room), `${room}: only its own messages`);
    assert.deepEqual(atSio, atJson, `${room}: the frames its JSON client sees`);
  }
  await sleep(200);
  assert.equal(events.all(is("message")).length, 60, "nothing twice, nothing untagged");
  await Promise.all([jsonA, jsonB, pubA, pubB].map((c) => c.close()));
  socket.close();
});

test("a Socket.IO member and a JSON member see exactly the same sequence under a concurrent burst", async () => {
  const room = "nsio-burst";
  const { socket, events } = await sio("sio-burst");
  await joined(socket, room);
  const json = await herald.connect(room, "json-burst");
  await json.take(2);
  const p1 = await herald.connect(room, "pub-burst-1");
  const p2 = await herald.connect(room, "pub-burst-2");
  const total = 200;
  const counts = { p1: 67, p2: 67, rest: 66 };
  const ws = async (client, tag) => {
    for (let i = 0; i < counts[tag]; i++) client.send({ type: "publish", event: "n", data: { tag, i } });
  };
  await Promise.all([
    ws(p1, "p1"),
    ws(p2, "p2"),
    Promise.all(range(0, counts.rest - 1).map((i) => rest(room, { tag: "rest", i }, { sub: "pub-burst-rest" }))),
  ]);
  const atJson = await json.messages(total);
  const atSio = await events.wait(total, is("message", room), 10_000);
  assert.deepEqual(seqs(atJson), range(1, total));
  assert.deepEqual(
    atSio.map((m) => [m.seq, m.id]),
    atJson.map((m) => [m.seq, m.id]),
  );
  assert.deepEqual(atSio, atJson, "the same frames");
  await sleep(300);
  assert.equal(events.all(is("message", room)).length, total);
  assert.deepEqual(pending(json, "message"), []);
  await Promise.all([json, p1, p2].map((c) => c.close()));
  socket.close();
});

test("join with since replays what came after it, then live messages, without a gap or a duplicate", async () => {
  const room = "nsio-resume";
  for (let i = 1; i <= 10; i++) await rest(room, i);
  const pub = await herald.connect(room, "pub-resume");
  // Live publishes run while the join and its replay happen.
  const live = (async () => {
    for (let i = 11; i <= 30; i++) {
      await pub.publish("n", i);
      await sleep(5);
    }
  })();
  const { socket, events } = await sio("sio-resume");
  await sleep(30);
  const welcome = await join(socket, room, { since: 4 });
  events.mark("welcome");
  assert.equal(welcome.type, "welcome");
  assert.equal(welcome.room, room);
  assert.ok(welcome.seq >= 10, `welcome.seq ${welcome.seq}`);
  assert.equal(welcome.gap, undefined);
  await live;
  const got = await events.wait(26, is("message", room));
  assert.deepEqual(seqs(got), range(5, 30), "the replay, then live");
  assert.deepEqual(got.map((m) => m.data), range(5, 30));
  const order = events.log.map((e) => e.event);
  assert.ok(order.indexOf("#welcome") < order.indexOf("message"), "the welcome comes first");
  const [presence] = await events.wait(1, is("presence", room));
  assert.ok(ids(presence.members).includes("sio-resume"));
  await sleep(200);
  assert.equal(events.all(is("message", room)).length, 26, "no duplicate at the seam");
  await pub.close();
  socket.close();
});

describe("presence", () => {
  test("a JSON member sees the Socket.IO user join, leave, rejoin and disconnect", async () => {
    const room = "nsio-presence";
    const watcher = await herald.connect(room, "watch-pres");
    await watcher.take(2);
    const { socket, events } = await sio("sio-pres");
    await joined(socket, room, "sio-pres");
    const [presence] = await events.wait(1, is("presence", room));
    assert.deepEqual(ids(presence.members), ["sio-pres", "watch-pres"]);
    assert.deepEqual((await watcher.next("joined")).user, USER("sio-pres"));
    assert.deepEqual(await presenceUntil(room, (m) => m.length === 2, "has both"), ["sio-pres", "watch-pres"]);

    assert.deepEqual(await ask(socket, "leave", { room }), { type: "leave", room });
    assert.deepEqual((await watcher.next("left")).user, USER("sio-pres"));
    assert.deepEqual(await presenceUntil(room, (m) => m.length === 1, "drops the Socket.IO user"), ["watch-pres"]);
    assertError(await ask(socket, "publish", { room, event: "n" }), "not_joined", room);
    assertError(await ask(socket, "leave", { room }), "not_joined", room);
    await watcher.publish("n", "while away");
    await sleep(200);
    assert.deepEqual(events.all(is("message", room)), [], "nothing after leaving");

    await joined(socket, room, "sio-pres");
    assert.deepEqual((await watcher.next("joined")).user, USER("sio-pres"));
    socket.disconnect();
    assert.deepEqual((await watcher.next("left")).user, USER("sio-pres"));
    assert.deepEqual(await presenceUntil(room, (m) => m.length === 1, "drops the disconnected user"), ["watch-pres"]);
    await watcher.close();
  });

  test("a websocket that drops without a DISCONNECT ends the session and its memberships", async () => {
    const room = "nsio-presence-drop";
    const watcher = await herald.connect(room, "watch-drop");
    await watcher.take(2);
    const { socket } = await sio("sio-drop", { options: { transports: ["websocket"] } });
    await joined(socket, room);
    await joined(socket, `${room}-2`);
    assert.deepEqual((await watcher.next("joined")).user, USER("sio-drop"));
    socket.io.engine.transport.ws.terminate();
    assert.deepEqual((await watcher.next("left")).user, USER("sio-drop"));
    await presenceUntil(`${room}-2`, (m) => m.length === 0, "empties");
    await watcher.close();
  });
});

describe("refusals", () => {
  test("CONNECT without a token is refused with token_missing, a bad one with token_invalid or token_expired", async () => {
    const refused = async (options) => {
      const { socket } = open(options);
      const error = await connected(socket).then(
        () => assert.fail("connected"),
        (e) => e,
      );
      socket.close();
      return error;
    };
    const missing = await refused({});
    assert.equal(missing.data?.code, "token_missing", `${missing.message} ${JSON.stringify(missing.data)}`);
    assert.equal(typeof missing.message, "string");
    const invalid = await refused({ auth: { token: "not.a.jwt" } });
    assert.equal(invalid.data?.code, "token_invalid");
    const expired = await refused({ auth: { token: herald.token("late", { exp: Math.floor(Date.now() / 1000) - 3600 }) } });
    assert.equal(expired.data?.code, "token_expired");
  });

  test("the token may come in the handshake query or an Authorization header; the auth payload wins", async () => {
    const viaQuery = open({ query: { token: herald.token("sio-query") } });
    await connected(viaQuery.socket);
    await joined(viaQuery.socket, "nsio-token-query", "sio-query");
    const viaHeader = open({ extraHeaders: { authorization: `Bearer ${herald.token("sio-header")}` } });
    await connected(viaHeader.socket);
    await joined(viaHeader.socket, "nsio-token-header", "sio-header");
    const both = open({ query: { token: herald.token("sio-by-query") }, auth: { token: herald.token("sio-by-auth") } });
    await connected(both.socket);
    await joined(both.socket, "nsio-token-both", "sio-by-auth");
    for (const c of [viaQuery, viaHeader, both]) c.socket.close();
  });

  test("a bad token on the handshake request is a CONNECT_ERROR, and a good auth payload wins over it", async () => {
    // The auth payload wins when both are given, so a bad handshake token must not refuse
    // the Engine.IO handshake itself; alone, it is refused like any bad token: CONNECT_ERROR.
    for (const transports of [["polling"], ["websocket"]]) {
      const badQuery = open({ transports, query: { token: "not.a.jwt" }, auth: { token: herald.token("sio-auth-ok") } });
      await connected(badQuery.socket);
      await joined(badQuery.socket, "nsio-token-auth-wins", "sio-auth-ok");
      badQuery.socket.close();
      const badHeader = open({ transports, extraHeaders: { authorization: "Bearer not.a.jwt" }, auth: { token: herald.token("sio-auth-ok") } });
      await connected(badHeader.socket);
      badHeader.socket.close();
      const alone = open({ transports, query: { token: "not.a.jwt" } });
      const error = await connected(alone.socket).then(
        () => assert.fail("connected"),
        (e) => e,
      );
      alone.socket.close();
      assert.equal(error.data?.code, "token_invalid", `${transports}: refused with "${error.message}", not a CONNECT_ERROR`);
    }
  });

  test("a refused CONNECT leaves the Engine.IO connection open for another CONNECT", async () => {
    const { ws, frame, opened } = engineSocket(`${herald.ws}${PATH}?EIO=4&transport=websocket`, { pong: true });
    try {
      await opened;
      assert.match(await frame(), /^0\{/);
      ws.send('40{"token":"not.a.jwt"}');
      const bad = await frame();
      assert.match(bad, /^44\{/);
      const refusal = JSON.parse(bad.slice(2));
      assert.equal(typeof refusal.message, "string");
      assert.deepEqual(refusal.data, { code: "token_invalid" });
      ws.send("40");
      assert.deepEqual(JSON.parse((await frame()).slice(2)).data, { code: "token_missing" });
      ws.send(`40${JSON.stringify({ token: herald.token("sio-raw") })}`);
      assert.match(await frame(), /^40\{"sid":/);
      ws.send('421["join",{"room":"nsio-raw"}]');
      const answer = await frame();
      assert.match(answer, /^431\[/);
      const [welcome] = JSON.parse(answer.slice(3));
      assert.equal(welcome.type, "welcome");
      assert.equal(welcome.room, "nsio-raw");
    } finally {
      ws.terminate();
    }
  });

  test("a DISCONNECT, a new CONNECT and a join on the same connection keep the new membership", async () => {
    const room = "nsio-rejoin";
    const { ws, frame, opened } = engineSocket(`${herald.ws}${PATH}?EIO=4&transport=websocket`, { pong: true });
    try {
      await opened;
      assert.match(await frame(), /^0\{/);
      const connect = `40${JSON.stringify({ token: herald.token("sio-rejoin") })}`;
      ws.send(connect);
      assert.match(await frame(), /^40\{"sid":/);
      ws.send(`421["join",{"room":"${room}"}]`);
      assert.match(await frame(), /^431\[\{"conn"/);
      // Out of the namespace and back, then the same room again, back to back: the room gets
      // the leave before the new join, and its close of the first membership must not end it.
      ws.send("41");
      ws.send(connect);
      ws.send(`422["join",{"room":"${room}"}]`);
      const frames = [];
      while (!frames.some((f) => f.startsWith("432["))) frames.push(await frame());
      const [welcome] = JSON.parse(frames.find((f) => f.startsWith("432[")).slice(3));
      assert.equal(welcome.type, "welcome", JSON.stringify(frames));
      await rest(room, "after");
      let message;
      while (!message) {
        const f = await frame();
        if (f.startsWith('42["message"')) message = JSON.parse(f.slice(2))[1];
      }
      assert.equal(message.data, "after");
      const presence = await (await herald.api(`/v1/rooms/${room}/presence`)).json;
      assert.deepEqual(ids(presence.members), ["sio-rejoin"]);
    } finally {
      ws.terminate();
    }
  });

  test("a namespace other than / is refused with Invalid namespace, and / on the same connection works", async () => {
    const manager = new Manager(herald.http, { path: PATH, forceNew: true, reconnection: false });
    const token = herald.token("sio-nsp");
    const root = manager.socket("/", { auth: { token } });
    const other = manager.socket("/other", { auth: { token } });
    sockets.add(root);
    sockets.add(other);
    const refused = await connected(other).then(
      () => assert.fail("/other connected"),
      (e) => e,
    );
    assert.equal(refused.message, "Invalid namespace");
    await connected(root);
    await joined(root, "nsio-nsp", "sio-nsp");
    const ack = await ask(root, "publish", { room: "nsio-nsp", event: "n" });
    assert.equal(ack.type, "ack");
    root.close();
  });

  test("bad joins, publishes and events get coded errors and the connection keeps working", async () => {
    const { socket, events } = await sio("sio-refused", { claims: { rooms: ["allowed-*"] } });
    assertError(await join(socket, "-bad-"), "invalid_room_id");
    assertError(await ask(socket, "join", {}), "invalid_field");
    assertError(await ask(socket, "join", { room: 7 }), "invalid_field");
    assertError(await join(socket, "secret-room"), "room_forbidden", "secret-room");
    assertError(await ask(socket, "publish", { room: "allowed-1", event: "n" }), "not_joined", "allowed-1");
    assertError(await ask(socket, "leave", { room: "allowed-1" }), "not_joined", "allowed-1");
    assertError(await ask(socket, "shout", { room: "allowed-1" }), "unknown_type");
    assertError(await join(socket, "allowed-1", { since: 999 }), "since_ahead", "allowed-1");
    await joined(socket, "allowed-1", "sio-refused");
    assertError(await join(socket, "allowed-1"), "already_joined", "allowed-1");
    assertError(await ask(socket, "publish", { room: "allowed-1", event: 42 }), "invalid_field", "allowed-1");
    assert.ok(socket.connected, "still connected after every refusal");
    assert.deepEqual(events.all(is("error")), [], "answers with a callback come only to the callback");
    const ack = await ask(socket, "publish", { room: "allowed-1", event: "chat", data: "still fine" });
    assert.deepEqual([ack.type, ack.room, ack.seq], ["ack", "allowed-1", 1]);
    const history = await herald.api("/v1/rooms/allowed-1/messages");
    assert.deepEqual(history.json.messages.map((m) => m.data), ["still fine"], "nothing refused was published");
    socket.close();
  });
});

test("without an ack callback each answer comes as an event named by its type, echoing the transaction", async () => {
  const room = "nsio-no-callback";
  const { socket, events } = await sio("sio-nocb");
  const answer = async (event, arg, type) => {
    const before = events.all(is(type)).length;
    socket.emit(event, arg);
    return (await events.wait(before + 1, is(type))).at(-1);
  };
  const welcome = await answer("join", { room }, "welcome");
  assert.equal(welcome.room, room);
  assert.deepEqual(welcome.user, USER("sio-nocb"));
  const ack = await answer("publish", { room, event: "n", data: 1, transaction: "tx-ack" }, "ack");
  assert.deepEqual([ack.room, ack.seq, ack.transaction], [room, 1, "tx-ack"]);
  const refusals = [
    ["publish", { room, event: 42, transaction: "tx-field" }, "invalid_field", room],
    ["publish", { room: "nsio-elsewhere", event: "n", transaction: "tx-not-joined" }, "not_joined", "nsio-elsewhere"],
    ["leave", { room: "nsio-elsewhere", transaction: "tx-leave" }, "not_joined", "nsio-elsewhere"],
    ["join", { room, transaction: "tx-again" }, "already_joined", room],
    ["join", { room: "-bad-", transaction: "tx-room-id" }, "invalid_room_id", undefined],
    ["shout", { room, transaction: "tx-unknown" }, "unknown_type", undefined],
  ];
  const wrong = [];
  for (const [event, arg, code, errorRoom] of refusals) {
    const error = await answer(event, arg, "error");
    assertError(error, code, errorRoom);
    if (error.transaction !== arg.transaction) wrong.push(`${code}: transaction ${JSON.stringify(error.transaction)}`);
  }
  assert.deepEqual(wrong, [], "every error event echoes its transaction");
  assert.deepEqual(await answer("leave", { room }, "leave"), { type: "leave", room });
  socket.close();
});

describe("limits per membership", () => {
  let limited;
  before(
    async () =>
      (limited = await startHerald({
        vars: { MAX_MESSAGES_PER_SECOND: "1", MAX_MESSAGE_BURST: "2", MAX_FRAME_BYTES: "4096", JWT_LEEWAY_SECONDS: "0" },
      })),
  );
  after(() => limited.stop());

  test("each membership has its own rate limit, answered rate_limited with retry_after_ms", async () => {
    const { socket } = await sio("sio-rate", { on: limited });
    await joined(socket, "nsio-rate-a");
    await joined(socket, "nsio-rate-b");
    const inA = await Promise.all([0, 1, 2].map((i) => ask(socket, "publish", { room: "nsio-rate-a", event: "n", data: i })));
    assert.deepEqual(inA.slice(0, 2).map((a) => [a.type, a.seq]), [["ack", 1], ["ack", 2]]);
    assertError(inA[2], "rate_limited", "nsio-rate-a");
    assert.ok(inA[2].details?.retry_after_ms > 0, JSON.stringify(inA[2]));
    const inB = await Promise.all([0, 1].map((i) => ask(socket, "publish", { room: "nsio-rate-b", event: "n", data: i })));
    assert.deepEqual(inB.map((a) => [a.type, a.seq]), [["ack", 1], ["ack", 2]], "room b's budget is its own");
    socket.close();
  });

  test("an oversize publish is refused with frame_too_large and ends that membership only", async () => {
    const room = "nsio-big";
    const watcher = await limited.connect(room, "watch-big");
    await watcher.take(2);
    const { socket, events } = await sio("sio-big", { on: limited });
    await joined(socket, room);
    await joined(socket, "nsio-big-other");
    await watcher.next("joined");
    const answer = await ask(socket, "publish", { room, event: "n", data: "x".repeat(5000) });
    // The room refuses the frame unread and ends the membership: the callback gets the room's
    // reason, which also came as an `error` event for the room (the frame has no transaction).
    assertError(answer, "frame_too_large", room);
    const [cause] = await events.wait(1, is("error", room));
    assertError(cause, "frame_too_large", room);
    assert.deepEqual((await watcher.next("left")).user, USER("sio-big"));
    const history = await limited.api(`/v1/rooms/${room}/messages`);
    assert.deepEqual(history.json.messages, [], "nothing was published");
    assert.ok(socket.connected);
    assertError(await ask(socket, "publish", { room, event: "n" }), "not_joined", room);
    assert.equal((await ask(socket, "publish", { room: "nsio-big-other", event: "n" })).type, "ack", "the other membership stays");
    await joined(socket, room);
    assert.equal((await ask(socket, "publish", { room, event: "n", data: "small" })).type, "ack");
    await watcher.close();
    socket.close();
  });

  test("a membership ends with its token: an error event token_expired with the room, and left to the others", async () => {
    const room = "nsio-expiry";
    const watcher = await limited.connect(room, "watch-exp");
    await watcher.take(2);
    const exp = Math.floor(Date.now() / 1000) + 2;
    const { socket, events } = await sio("sio-exp", { on: limited, claims: { exp } });
    await joined(socket, room);
    await watcher.next("joined");
    const [error] = await events.wait(1, is("error", room), 8000);
    assert.equal(error.code, "token_expired");
    assert.ok(Date.now() >= exp * 1000 - 50, "not before exp");
    const [left] = await watcher.take(1, (f) => f.type === "left", 8000);
    assert.deepEqual(left.user, USER("sio-exp"));
    await watcher.close();
    socket.close();
  });
});

describe("a home that disappears", () => {
  test("after a restart, delivery to the vanished home fails fast, drops its member and blocks no one", async (t) => {
    const room = "nsio-vanished";
    const { dir, cleanup } = tempDir();
    let first;
    let second;
    try {
      first = await startHerald({ persist: dir });
      const ghost = await sio("ghost-user", { on: first });
      await joined(ghost.socket, room, "ghost-user");
      const c = await first.connect(room, "c-user");
      const [, cPresence] = await c.take(2);
      assert.deepEqual(ids(cPresence.members), ["c-user", "ghost-user"]);
      await ghost.events.wait(1, (e) => e.event === "joined" && e.frame.user?.id === "c-user");

      const gone = next(ghost.socket, "disconnect", 10_000);
      await first.stop();
      first = undefined;
      await gone; // the Socket.IO connection died with workerd and does not come back

      second = await startHerald({ persist: dir });
      const d = await second.connect(room, "d-user");
      const [dWelcome, dPresence] = await d.take(2);
      assert.equal(dWelcome.type, "welcome");
      const ghostListed = ids(dPresence.members).includes("ghost-user");
      t.diagnostic(`the restarted room listed the vanished member at first: ${ghostListed}`);
      const e = await sio("e-user", { on: second });
      await joined(e.socket, room, "e-user");

      const publishedAt = Date.now();
      const { seq } = await rest(room, "after the restart", { on: second });
      const [atD] = await d.take(1, (f) => f.type === "message" && f.seq === seq, 3000);
      const [atE] = await e.events.wait(1, (ev) => ev.event === "message" && ev.frame.seq === seq, 3000);
      assert.equal(atD.data, "after the restart");
      assert.deepEqual(atE, atD);
      assert.ok(Date.now() - publishedAt < 3000, `delivered after ${Date.now() - publishedAt} ms`);
      if (ghostListed) {
        const [left] = await d.take(1, (f) => f.type === "left" && f.user?.id === "ghost-user", 5000);
        assert.deepEqual(left.user, USER("ghost-user"));
      }
      await presenceUntil(room, (m) => !m.includes("ghost-user"), "drops the vanished user", second);
      assert.deepEqual(await presenceUntil(room, () => true, "", second), ["d-user", "e-user"]);
      // The room goes on working for everyone left.
      const ack = await ask(e.socket, "publish", { room, event: "n", data: "still here" });
      assert.equal(ack.type, "ack");
      assert.equal((await d.take(1, (f) => f.type === "message" && f.seq === ack.seq))[0].data, "still here");
      e.socket.close();
    } finally {
      await second?.stop();
      await first?.stop();
      cleanup();
    }
  });
});
