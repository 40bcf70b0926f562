// Rooms over the native protocol, end to end: real `ws` clients and fetch against the built
// worker in workerd.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startHerald, pending } from "../harness.mjs";

let herald;
before(async () => (herald = await startHerald()));
after(() => herald.stop());

const range = (from, to) => Array.from({ length: to - from + 1 }, (_, i) => from + i);
const seqs = (messages) => messages.map((m) => m.seq);

test("ping answers 200 without a token", async () => {
  const res = await herald.api("/api/v1/ping", { token: null });
  assert.equal(res.status, 200);
  assert.deepEqual(res.json, { ok: true });
});

test("a newcomer gets welcome, then presence with itself", async () => {
  const c = await herald.connect("hello", "alice", { claims: { avatar: "https://example.com/a.png" } });
  const [welcome, presence] = await c.take(2);
  assert.equal(welcome.type, "welcome");
  assert.equal(welcome.room, "hello");
  assert.equal(welcome.seq, 0);
  assert.deepEqual(welcome.user, { id: "alice", name: "alice name", avatar: "https://example.com/a.png" });
  assert.match(welcome.conn, /^[0-9a-f]{32}$/);
  assert.deepEqual(presence, { type: "presence", members: [welcome.user] });
  await c.close();
});

test("two clients see the same messages in the same order", async () => {
  const a = await herald.connect("order", "alice");
  const b = await herald.connect("order", "bob");
  await a.take(2);
  await b.take(2);
  for (let i = 0; i < 10; i++) (i % 2 ? a : b).send({ type: "publish", event: "chat", data: { i } });
  const atA = await a.messages(10);
  const atB = await b.messages(10);
  assert.deepEqual(seqs(atA), range(1, 10));
  assert.deepEqual(atA, atB);
  await Promise.all([a.close(), b.close()]);
});

test("three concurrent publishers over websocket and REST give every subscriber contiguous seqs", async () => {
  const room = "concurrent";
  const subscribers = await Promise.all(["s1", "s2", "s3"].map((s) => herald.connect(room, s)));
  const p1 = await herald.connect(room, "p1");
  const p2 = await herald.connect(room, "p2");
  const perPublisher = 30;
  const ws = (client, tag) =>
    (async () => {
      for (let i = 0; i < perPublisher; i++) client.send({ type: "publish", event: "n", data: { tag, i } });
    })();
  const rest = (async () => {
    await Promise.all(
      range(0, perPublisher - 1).map((i) =>
        herald.api(`/v1/rooms/${room}/messages`, { method: "POST", sub: "p3", body: { event: "n", data: { tag: "rest", i } } }),
      ),
    );
  })();
  await Promise.all([ws(p1, "p1"), ws(p2, "p2"), rest]);
  const total = perPublisher * 3;
  for (const s of [...subscribers, p1, p2]) {
    const got = await s.messages(total);
    assert.deepEqual(seqs(got), range(1, total), "no gaps, no duplicates, in order");
    // One socket's publishes keep their order; concurrent REST calls may land in any order.
    for (const tag of ["p1", "p2"]) {
      assert.deepEqual(got.filter((m) => m.data.tag === tag).map((m) => m.data.i), range(0, perPublisher - 1));
    }
    const viaRest = got.filter((m) => m.data.tag === "rest").map((m) => m.data.i);
    assert.deepEqual([...viaRest].sort((x, y) => x - y), range(0, perPublisher - 1));
  }
  await Promise.all([...subscribers, p1, p2].map((c) => c.close()));
});

test("a client that drops and resumes with since gets exactly what it missed", async () => {
  const room = "resume";
  const stay = await herald.connect(room, "alice");
  const drop = await herald.connect(room, "bob");
  for (let i = 1; i <= 3; i++) await stay.publish("chat", i);
  const seen = await drop.messages(3);
  const last = seen.at(-1).seq;
  await drop.close();
  for (let i = 4; i <= 8; i++) await stay.publish("chat", i);
  const back = await herald.connect(room, "bob", { since: last });
  const [welcome] = await back.take(1);
  assert.equal(welcome.type, "welcome");
  assert.equal(welcome.seq, 8);
  assert.equal(welcome.gap, undefined);
  await stay.publish("chat", 9);
  const missed = await back.messages(6);
  assert.deepEqual(seqs(missed), range(4, 9), "the missed ones, then live, no duplicate at the seam");
  assert.deepEqual(missed.map((m) => m.data), range(4, 9));
  await new Promise((r) => setTimeout(r, 100));
  assert.deepEqual(pending(back, "message"), []);
  await Promise.all([stay.close(), back.close()]);
});

test("a message published through REST reaches websocket members", async () => {
  const c = await herald.connect("rest-in", "alice");
  await c.take(2);
  const res = await herald.api("/v1/rooms/rest-in/messages", {
    method: "POST",
    sub: "backend",
    body: { event: "deploy", data: { version: "1.2.3" } },
    headers: { "idempotency-key": "deploy-1.2.3" },
  });
  assert.equal(res.status, 201);
  assert.deepEqual(res.json, { id: "deploy-1.2.3", seq: 1 });
  const [message] = await c.messages(1);
  assert.equal(message.event, "deploy");
  assert.deepEqual(message.data, { version: "1.2.3" });
  assert.deepEqual(message.from, { id: "backend", name: "backend name" });
  assert.equal(message.room, "rest-in");
  assert.equal(message.id, "deploy-1.2.3");
  assert.ok(Math.abs(message.ts - Date.now()) < 60_000);
  await c.close();
});

test("a repeated idempotency key returns the first ack and publishes nothing new", async () => {
  const room = "idem";
  const c = await herald.connect(room, "alice");
  const watcher = await herald.connect(room, "bob");
  const first = await c.publish("chat", "once", { id: "k-1" });
  assert.deepEqual({ id: first.id, seq: first.seq }, { id: "k-1", seq: 1 });
  const again = await c.publish("chat", "twice", { id: "k-1" });
  assert.deepEqual({ id: again.id, seq: again.seq, duplicate: again.duplicate }, { id: "k-1", seq: 1, duplicate: true });
  const rest = await herald.api(`/v1/rooms/${room}/messages`, {
    method: "POST",
    sub: "alice",
    body: { event: "chat", data: "thrice" },
    headers: { "idempotency-key": "k-1" },
  });
  assert.equal(rest.status, 200);
  assert.deepEqual(rest.json, { id: "k-1", seq: 1, duplicate: true });
  await c.publish("chat", "next");
  const got = await watcher.messages(2);
  assert.deepEqual(got.map((m) => [m.seq, m.data]), [[1, "once"], [2, "next"]]);
  await Promise.all([c.close(), watcher.close()]);
});

test("history pages walk the whole log oldest first", async () => {
  const room = "history";
  for (let i = 1; i <= 23; i++) {
    const res = await herald.api(`/v1/rooms/${room}/messages`, { method: "POST", body: { event: "n", data: i } });
    assert.equal(res.status, 201);
  }
  const walked = [];
  let after = 0;
  for (let pages = 0; pages < 10; pages++) {
    const res = await herald.api(`/v1/rooms/${room}/messages?after=${after}&limit=5`);
    assert.equal(res.status, 200);
    assert.equal(res.json.room, room);
    assert.equal(res.json.seq, 23);
    walked.push(...res.json.messages);
    if (res.json.next === null) break;
    after = res.json.next;
  }
  assert.deepEqual(seqs(walked), range(1, 23));
  assert.deepEqual(walked.map((m) => m.data), range(1, 23));
  const window = await herald.api(`/v1/rooms/${room}/messages?after=10&before=14`);
  assert.deepEqual(seqs(window.json.messages), [11, 12, 13]);
  assert.equal(window.json.next, null);
});

test("presence lists each user once however many connections, and joined/left follow the last one", async () => {
  const room = "presence";
  const watcher = await herald.connect(room, "watcher");
  await watcher.take(2);
  const p1 = await herald.connect(room, "pat");
  const p2 = await herald.connect(room, "pat");
  const [joined] = await watcher.take(1, (f) => f.type === "joined");
  assert.deepEqual(joined.user, { id: "pat", name: "pat name" });
  const res = await herald.api(`/v1/rooms/${room}/presence`);
  assert.equal(res.status, 200);
  assert.equal(res.json.connections, 3);
  assert.deepEqual(res.json.members.map((m) => m.id).sort(), ["pat", "watcher"]);
  await p1.close();
  await p2.publish("still", "here");
  assert.deepEqual(pending(watcher, "left"), [], "pat still has a connection");
  await p2.close();
  const [left] = await watcher.take(1, (f) => f.type === "left");
  assert.deepEqual(left.user, { id: "pat", name: "pat name" });
  const after = await herald.api(`/v1/rooms/${room}/presence`);
  assert.deepEqual(after.json.members.map((m) => m.id), ["watcher"]);
  assert.equal(pending(watcher, "joined").length, 0, "one joined for two connections");
  await watcher.close();
});

test("a malformed frame gets an error frame and the socket stays open", async () => {
  const c = await herald.connect("malformed", "alice");
  await c.take(2);
  c.send("{this is not json");
  const [bad] = await c.take(1, (f) => f.type === "error");
  assert.equal(bad.code, "malformed_json");
  c.send({ type: "publish", event: 7, transaction: "tx-7" });
  const [wrong] = await c.take(1, (f) => f.type === "error");
  assert.equal(wrong.code, "invalid_field");
  assert.equal(wrong.transaction, "tx-7");
  c.send({ type: "shout", transaction: 5 });
  const [unknown] = await c.take(1, (f) => f.type === "error");
  assert.equal(unknown.code, "unknown_type");
  assert.equal(unknown.transaction, 5);
  const ack = await c.publish("chat", "still open");
  assert.equal(ack.type, "ack");
  await c.close();
});

test("a plain ping is answered with pong", async () => {
  const c = await herald.connect("pings", "alice");
  await c.take(2);
  c.send('{"type":"ping"}');
  assert.deepEqual((await c.take(1))[0], { type: "pong" });
  c.send({ type: "ping", transaction: "p1" });
  assert.deepEqual((await c.take(1))[0], { type: "pong", transaction: "p1" });
  await c.close();
});

// Frames that arrive together are handled as one batch with one commit (durable_objects/src/batch.rs).
// What a client can see of it: nothing but the order and completeness of what it sent.

test("frames sent back to back and then a close are all stored, acked in order and delivered", async () => {
  const room = "batch-close";
  const reader = await herald.connect(room, "reader");
  const writer = await herald.connect(room, "writer");
  await reader.take(2);
  await writer.take(2);
  const count = 60;
  for (let i = 0; i < count; i++) writer.send({ type: "publish", event: "n", data: { i }, transaction: `t${i}` });
  const closing = writer.close();
  const got = await reader.messages(count);
  assert.deepEqual(seqs(got), range(1, count));
  assert.deepEqual(got.map((m) => m.data.i), range(0, count - 1));
  await closing;
  const acks = writer.frames.filter((f) => f.type === "ack");
  assert.deepEqual(acks.map((a) => [a.transaction, a.seq]), range(0, count - 1).map((i) => [`t${i}`, i + 1]));
  const left = await reader.next("left");
  assert.equal(left.user.id, "writer");
  const stored = await herald.api(`/v1/rooms/${room}/messages?after=0&limit=100`);
  assert.deepEqual(seqs(stored.json.messages), range(1, count));
  await reader.close();
});

test("a bad frame among frames sent back to back is refused alone, in its place", async () => {
  const room = "batch-bad";
  const reader = await herald.connect(room, "reader");
  const writer = await herald.connect(room, "writer");
  await reader.take(2);
  await writer.take(2);
  writer.send({ type: "publish", event: "n", data: 1, transaction: "first" });
  writer.send("{not json");
  writer.send({ type: "publish", event: "n", data: 2, transaction: "second" });
  const answers = await writer.take(3, (f) => f.type === "ack" || f.type === "error");
  assert.deepEqual(
    answers.map((f) => [f.type, f.transaction ?? f.code]),
    [["ack", "first"], ["error", "malformed_json"], ["ack", "second"]],
  );
  assert.deepEqual((await reader.messages(2)).map((m) => [m.seq, m.data]), [[1, 1], [2, 2]]);
  await Promise.all([reader.close(), writer.close()]);
});
