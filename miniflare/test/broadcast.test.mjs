// The exchange's admin calls, end to end: `POST /api/v1/multicast` and `POST /api/v1/broadcast`
// against the built worker in workerd, with the users' own devices on their inboxes (native
// websockets on /v1/rooms/inbox:{uid}/ws) and the fan-out queue running as in production.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startHerald, pending, sleep, until } from "../harness.mjs";

let herald;
// Four directory shards: every one of them is walked, with a user or two in each.
before(async () => (herald = await startHerald({ vars: { DIRECTORY_SHARDS: "4" } })));
after(() => herald.stop());

const ADMIN = { id: "ops", name: "ops name" };
const admin = () => herald.token("ops", { role: "admin" });
const post = (path, body, { token = admin(), headers } = {}) => herald.api(path, { method: "POST", token, body, headers });

/** A device of each user on their inbox, past its welcome and presence. */
async function devices(users) {
  const clients = await Promise.all(users.map((u) => herald.connect(`inbox:${u}`, u)));
  await Promise.all(clients.map((c) => c.take(2)));
  return Object.fromEntries(users.map((u, i) => [u, clients[i]]));
}

/** The inbox frame of a notification as helper A's inbox publishes it (docs/notifications.md). */
function notification(room, seq, id, msg, data, urgency, ts) {
  return {
    type: "message",
    room,
    seq,
    id,
    event: "notification",
    data: { id, msg, data, urgency, from: ADMIN },
    from: ADMIN,
    ts,
  };
}

test("a multicast reaches exactly the listed users, once each, even when retried", async () => {
  const users = ["m1", "m2", "m3", "m4", "m5"];
  const at = await devices(users);
  const body = { msg: "your order shipped", uids: ["m1", "m3", "m5", "m3"], opts: { data: { order: 7 }, idempotency_key: "ship-7" } };
  const res = await post("/api/v1/multicast", body);
  assert.equal(res.status, 200, res.text);
  assert.equal(res.text, "true");
  for (const u of ["m1", "m3", "m5"]) {
    const [frame] = await at[u].messages(1);
    assert.equal(typeof frame.ts, "number");
    assert.deepEqual(frame, notification(`inbox:${u}`, 1, "ship-7", "your order shipped", { order: 7 }, 3, frame.ts));
  }
  // The same request again (as after a timeout): answered true, nobody notified twice.
  const again = await post("/api/v1/multicast", body);
  assert.equal(again.status, 200, again.text);
  await sleep(500);
  for (const u of users) assert.deepEqual(pending(at[u], "message"), [], u);
  await Promise.all(Object.values(at).map((c) => c.close()));
});

test("a broadcast reaches every user Herald has addressed or who connected to their inbox, once, and nobody else", async () => {
  // Known: addressed by a multicast (b1..b4); b5 never was.
  for (const uids of [["b1", "b2"], ["b3", "b4"]]) {
    assert.equal((await post("/api/v1/multicast", { msg: "welcome", uids, opts: { urgency: 1 } })).status, 200);
  }
  const known = ["b1", "b2", "b3", "b4"];
  const at = await devices(known);
  const res = await post("/api/v1/broadcast", { msg: "maintenance at noon", opts: { urgency: "high", data: { window: "12:00" } } }, {
    headers: { "idempotency-key": "maint-1" },
  });
  assert.equal(res.status, 200, res.text);
  assert.equal(res.text, "true");
  for (const u of known) {
    const [frame] = await at[u].take(1, (f) => f.type === "message", 15_000);
    assert.deepEqual(frame, notification(`inbox:${u}`, 2, "maint-1", "maintenance at noon", { window: "12:00" }, 4, frame.ts));
  }
  // Whoever was addressed earlier (the multicast test's m1, m3, m5) is known as well.
  for (const u of ["m1", "m3", "m5"]) {
    const ids = await until(`${u} has maint-1`, async () => {
      const history = await herald.api(`/v1/rooms/inbox:${u}/messages`, { sub: u });
      assert.equal(history.status, 200, history.text);
      const ids = history.json.messages.map((m) => m.id);
      return ids.includes("maint-1") && ids;
    }, 15_000);
    assert.deepEqual(ids, ["ship-7", "maint-1"], u);
  }
  // The same broadcast again is queued, and its inboxes recognise it.
  assert.equal((await post("/api/v1/broadcast", { msg: "maintenance at noon" }, { headers: { "idempotency-key": "maint-1" } })).status, 200);
  // Without a key, a broadcast gets a fresh one of its own.
  assert.equal((await post("/api/v1/broadcast", { msg: "all clear" })).status, 200);
  for (const u of known) {
    const [frame] = await at[u].take(1, (f) => f.type === "message", 15_000);
    assert.match(frame.id, /^broadcast:[0-9a-f]{32}$/);
    assert.deepEqual(frame, notification(`inbox:${u}`, 3, frame.id, "all clear", null, 3, frame.ts));
  }
  assert.deepEqual(pending(at.b1, "message"), []);
  // A user who only connected to their inbox (m2, in the multicast test) is known from then
  // on; one never addressed and never connected (b5) is not in the directory.
  await until("m2 has maint-1", async () => {
    const history = await herald.api(`/v1/rooms/inbox:m2/messages`, { sub: "m2" });
    return history.json.messages.some((m) => m.id === "maint-1");
  }, 15_000);
  const never = await herald.api(`/v1/rooms/inbox:b5/messages`, { sub: "b5" });
  assert.equal(never.status, 200, never.text);
  assert.deepEqual(never.json.messages, [], "b5");
  await Promise.all(Object.values(at).map((c) => c.close()));
});

test("a broadcast's data reaches every inbox digit for digit, past what a double holds", async () => {
  assert.equal((await post("/api/v1/multicast", { msg: "hello", uids: ["d1"], opts: { urgency: 1 } })).status, 200);
  // Written as text: JavaScript's own JSON would round these numbers before they left.
  const body = '{"msg":"digits","opts":{"urgency":1,"data":{"n":12345678901234567891,"f":0.30000000000000004}}}';
  const res = await post("/api/v1/broadcast", body, { headers: { "idempotency-key": "digits-1" } });
  assert.equal(res.status, 200, res.text);
  const history = await until("d1 has digits-1", async () => {
    const page = await herald.api("/v1/rooms/inbox:d1/messages", { sub: "d1" });
    return page.text.includes("digits-1") && page.text;
  }, 15_000);
  assert.match(history, /"n":12345678901234567891[,}]/);
  assert.match(history, /"f":0\.30000000000000004[,}]/);
});

test("tokens without the admin role are refused for multicast and broadcast", async () => {
  const refused = { code: "admin_required", message: 'this call needs a token with role "admin"' };
  for (const [path, body] of [
    ["/api/v1/multicast", { msg: "hi", uids: ["x1"] }],
    ["/api/v1/broadcast", { msg: "hi" }],
  ]) {
    const user = await post(path, body, { token: herald.token("mallory") });
    assert.equal(user.status, 403, path);
    assert.deepEqual(user.json, refused);
    const none = await post(path, body, { token: null });
    assert.equal(none.status, 401, path);
    assert.equal(none.json.code, "token_missing");
  }
  // Nothing reached the would-be recipient.
  const inbox = await herald.api("/v1/rooms/inbox:x1/messages", { sub: "x1" });
  assert.deepEqual(inbox.json.messages, []);
});

test("malformed bodies are refused with coded errors", async () => {
  const cases = [
    ["/api/v1/multicast", "{nope", 400, "malformed_json"],
    ["/api/v1/multicast", "[1]", 400, "invalid_field"],
    ["/api/v1/multicast", { uids: ["x1"] }, 400, "invalid_field", "msg"],
    ["/api/v1/multicast", { msg: "", uids: ["x1"] }, 400, "invalid_field", "msg"],
    ["/api/v1/multicast", { msg: "hi" }, 400, "invalid_field", "uids"],
    ["/api/v1/multicast", { msg: "hi", uids: [] }, 400, "invalid_field", "uids"],
    ["/api/v1/multicast", { msg: "hi", uids: "x1" }, 400, "invalid_field", "uids"],
    ["/api/v1/multicast", { msg: "hi", uids: ["x1", 2] }, 400, "invalid_field", "uids"],
    ["/api/v1/multicast", { msg: "hi", uids: Array.from({ length: 501 }, (_, i) => `u${i}`) }, 400, "invalid_field", "uids"],
    ["/api/v1/multicast", { msg: "hi", uids: ["x1"], opts: { urgency: 9 } }, 400, "invalid_field", "urgency"],
    ["/api/v1/multicast", { msg: "hi", uids: ["x1"], uid: "x1" }, 400, "invalid_field", "uid"],
    ["/api/v1/broadcast", {}, 400, "invalid_field", "msg"],
    ["/api/v1/broadcast", { msg: 3 }, 400, "invalid_field", "msg"],
    ["/api/v1/broadcast", { msg: "hi", opts: { channels: "email" } }, 400, "invalid_field", "channels"],
    ["/api/v1/broadcast", { msg: "hi", opts: "loud" }, 400, "invalid_field", "opts"],
    ["/api/v1/broadcast", { msg: "hi", uids: ["x1"] }, 400, "invalid_field", "uids"],
  ];
  for (const [path, body, status, code, field] of cases) {
    const res = await post(path, body);
    const what = `${path} ${JSON.stringify(body).slice(0, 80)}`;
    assert.equal(res.status, status, `${what}: ${res.text}`);
    assert.equal(res.json.code, code, what);
    assert.equal(typeof res.json.message, "string", what);
    assert.deepEqual(res.json.details, field === undefined ? undefined : { field }, what);
  }
  // A broadcast too big for a queue message, though within the body limit.
  const big = await post("/api/v1/broadcast", { msg: "hi", opts: { data: "x".repeat(64_500) } });
  assert.equal(big.status, 413, big.text);
  assert.deepEqual({ code: big.json.code, details: big.json.details }, { code: "payload_too_large", details: { limit: 64_000 } });
  const key = await post("/api/v1/broadcast", { msg: "hi", opts: { idempotency_key: "a" } }, { headers: { "idempotency-key": "b" } });
  assert.deepEqual([key.status, key.json.details], [400, { field: "idempotency_key" }]);
  const get = await herald.api("/api/v1/broadcast", { token: admin() });
  assert.deepEqual([get.status, get.json.code, get.headers.get("allow")], [405, "method_not_allowed", "POST"]);
  // None of it reached anyone.
  const inbox = await herald.api("/v1/rooms/inbox:x1/messages", { sub: "x1" });
  assert.deepEqual(inbox.json.messages, []);
});
