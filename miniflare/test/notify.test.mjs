// The exchange's inbox end to end: REST `send` into users' inboxes, their devices as `ws`
// clients of `inbox:{uid}`, receipts and reads, and the email / SMS fallback at the provider
// recorder (scripts/recorder.mjs) with deadlines of one second; then every refusal.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startHerald, sleep, pending, connected } from "../harness.mjs";

let herald;
before(
  async () =>
    (herald = await startHerald({
      vars: { FALLBACK_LOW_EMAIL_SECONDS: "1", FALLBACK_NORMAL_EMAIL_SECONDS: "1", FALLBACK_HIGH_SMS_SECONDS: "1" },
      recorder: true,
    })),
);
after(() => herald.stop());

const HEX32 = /^[0-9a-f]{32}$/;
const ALICE = { id: "alice", name: "alice name" };
const EMAIL_FROM = "Herald <notifications@example.com>";
const SMS_FROM = "+15550000000";
/** Longer than any deadline here plus the queue's round trip: what has not come by then will not. */
const SETTLE_MS = 3000;

const send = (body, { sub = "alice", headers } = {}) => herald.api("/api/v1/send", { method: "POST", sub, body, headers });
const contacts = (uid, body, sub = uid) =>
  herald.api(`/api/v1/users/${encodeURIComponent(uid)}/contacts`, { method: "PUT", sub, body });
const inbox = (sub, query = "") => herald.api(`/api/v1/inbox${query}`, { sub });

/** A device of `uid`: a websocket on their inbox, past its welcome and presence. */
async function device(uid) {
  const client = await herald.connect(`inbox:${uid}`, uid);
  await client.take(2);
  return client;
}

/** The emails / SMS the recorder took for `to`. */
const emailsTo = (to) => herald.recorder.emails().filter((e) => e.to.includes(to));
const smsTo = (to) => herald.recorder.sms().filter((s) => s.To === to);

/** Waits until `count` of `what()` exist (then lets the settle time pass to see no more come). */
async function arrive(what, count, label) {
  const deadline = Date.now() + 10_000;
  while (what().length < count) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${count} ${label}; got ${what().length}`);
    await sleep(100);
  }
  await sleep(SETTLE_MS);
  return what();
}

/** The notification frame a device gets for message `seq` with id `id`, at `ts`. */
function notification({ uid, seq, id, ts, msg, data = null, urgency = 3 }) {
  const note = { id, msg, data, urgency, from: ALICE };
  return { type: "message", room: `inbox:${uid}`, seq, id, event: "notification", data: note, from: ALICE, ts };
}

test("a send to an online user reaches each of their devices, and no email follows once a device has it", async () => {
  assert.equal((await contacts("olive", { email: "olive@example.com" })).status, 200);
  const phone = await device("olive");
  const laptop = await device("olive");
  const sent = await send({ msg: "Standup in 5", uid: "olive", opts: { data: { room: "4b" } } });
  assert.equal(sent.status, 200);
  assert.equal(sent.json, true);
  const [atPhone] = await phone.messages(1);
  const [atLaptop] = await laptop.messages(1);
  assert.match(atPhone.id, HEX32);
  assert.deepEqual(
    atPhone,
    notification({ uid: "olive", seq: 1, id: atPhone.id, ts: atPhone.ts, msg: "Standup in 5", data: { room: "4b" } }),
  );
  assert.deepEqual(atLaptop, atPhone);
  phone.send({ type: "received", seq: 1 });
  await sleep(SETTLE_MS);
  assert.deepEqual(emailsTo("olive@example.com"), []);
  const page = await inbox("olive");
  assert.equal(page.status, 200);
  assert.deepEqual(page.json, {
    unread: 1,
    last_read: 0,
    notifications: [{ ...atPhone.data, seq: 1, ts: atPhone.ts, state: "delivered" }],
    next: null,
  });
  assert.deepEqual(pending(phone), [], "nothing else reached the device");
});

test("3D Repo's unchanged client, joined to its notifications, gets each send as a notification event", async () => {
  const { socket, events } = herald.io({ path: "/chat", auth: { token: herald.token("tess") } });
  await connected(socket);
  socket.emit("join", { notifications: true });
  await events.wait(1, (e) => e.event === "message");
  const phone = await device("tess");
  await send({ msg: "Model imported", uid: "tess", opts: { urgency: "low", data: { model: "m1" } } });
  const [frame] = await phone.messages(1);
  const [event] = await events.wait(1, (e) => e.event === "notification");
  assert.deepEqual(event, { id: frame.id, msg: "Model imported", data: { model: "m1" }, urgency: 2, from: ALICE });
  phone.send({ type: "read", seq: 1 });
  await phone.next("read");
  await sleep(300);
  assert.deepEqual(
    events.log.map((e) => e.event),
    ["message", "notification"],
    "the read mark is the native protocol's; 3D Repo's client is not sent it",
  );
});

test("a send to an offline user with a short deadline produces exactly one email, however often it is retried", async () => {
  await contacts("carl", { email: "carl@example.com" });
  const key = { "idempotency-key": "report-7" };
  for (let i = 0; i < 3; i++) assert.equal((await send({ msg: "Your report is ready", uid: "carl" }, { headers: key })).json, true);
  const emails = await arrive(() => emailsTo("carl@example.com"), 1, "emails to carl");
  assert.deepEqual(emails, [
    { from: EMAIL_FROM, to: ["carl@example.com"], subject: "Notification from alice name", text: "Your report is ready" },
  ]);
  const page = await inbox("carl");
  assert.deepEqual(
    page.json.notifications.map((n) => [n.id, n.seq, n.state]),
    [["report-7", 1, "sent"]],
  );
});

test("a high-urgency notification no device acknowledged goes out by SMS, and by email, even to an online user", async () => {
  await contacts("hana", { email: "hana@example.com", phone: "+15550001234" });
  const phone = await device("hana");
  assert.equal((await send({ msg: "Server down", uid: "hana", opts: { urgency: "high" } })).json, true);
  const [frame] = await phone.messages(1);
  assert.equal(frame.data.urgency, 4);
  const texts = await arrive(() => smsTo("+15550001234"), 1, "SMS to hana");
  assert.deepEqual(texts, [{ To: "+15550001234", From: SMS_FROM, Body: "Server down" }]);
  assert.deepEqual(emailsTo("hana@example.com"), [
    { from: EMAIL_FROM, to: ["hana@example.com"], subject: "Notification from alice name", text: "Server down" },
  ]);
});

test("a read before the deadline produces nothing, and the read is told to every device", async () => {
  await contacts("rita", { email: "rita@example.com", phone: "+15550005678" });
  const phone = await device("rita");
  const laptop = await device("rita");
  await send({ msg: "one", uid: "rita", opts: { urgency: 2 } });
  await send({ msg: "two", uid: "rita", opts: { urgency: 4 } });
  await phone.messages(2);
  await laptop.messages(2);
  laptop.send({ type: "read", seq: 2 });
  assert.deepEqual(await phone.next("read"), { type: "read", seq: 2 });
  assert.deepEqual(await laptop.next("read"), { type: "read", seq: 2 });
  await sleep(SETTLE_MS);
  assert.deepEqual(emailsTo("rita@example.com"), []);
  assert.deepEqual(smsTo("+15550005678"), []);
  const page = await inbox("rita");
  assert.deepEqual([page.json.unread, page.json.last_read], [0, 2]);
  assert.deepEqual(page.json.notifications.map((n) => n.state), ["read", "read"]);
});

test("a read over REST moves the mark, is told to every device, and answers what is left unread", async () => {
  const phone = await device("rory");
  for (const msg of ["a", "b", "c"]) await send({ msg, uid: "rory", opts: { urgency: "very-low" } });
  await phone.messages(3);
  const read = await herald.api("/api/v1/inbox/read", { method: "POST", sub: "rory", body: { seq: 2 } });
  assert.equal(read.status, 200);
  assert.deepEqual(read.json, { last_read: 2, unread: 1 });
  assert.deepEqual(await phone.next("read"), { type: "read", seq: 2 });
  const older = await herald.api("/api/v1/inbox/read", { method: "POST", sub: "rory", body: { seq: 1 } });
  assert.deepEqual(older.json, { last_read: 2, unread: 1 }, "a mark never moves back");
  const first = await inbox("rory", "?limit=2");
  assert.deepEqual(first.json.notifications.map((n) => [n.seq, n.msg, n.state]), [[3, "c", "sent"], [2, "b", "read"]]);
  assert.equal(first.json.next, 2);
  const rest = await inbox("rory", `?before=${first.json.next}`);
  assert.deepEqual(rest.json.notifications.map((n) => n.seq), [1]);
  assert.equal(rest.json.next, null);
});

test("a scheduled send reaches the inbox at its time, not before", async () => {
  const phone = await device("sam");
  const at = Date.now() + 1500;
  assert.equal((await send({ msg: "later", uid: "sam", opts: { send_at: at, urgency: 1 } })).json, true);
  await sleep(500);
  assert.deepEqual(pending(phone, "message"), []);
  const [frame] = await phone.messages(1);
  assert.ok(frame.ts >= at, `sent at ${frame.ts}, asked for ${at}`);
  assert.equal(frame.data.msg, "later");
});

test("contacts are set by their user or an admin, read back, and refused to anyone else", async () => {
  const set = await contacts("cleo", {
    email: "cleo@example.com",
    quiet_hours: { start: "22:00", end: "07:00", utc_offset_minutes: 60 },
    channels: ["email"],
  });
  assert.equal(set.status, 200);
  const expected = {
    email: "cleo@example.com",
    phone: null,
    quiet_hours: { start: "22:00", end: "07:00", utc_offset_minutes: 60 },
    channels: ["email"],
  };
  assert.deepEqual(set.json, expected);
  const byAdmin = await herald.api("/api/v1/users/cleo/contacts", {
    method: "PUT",
    token: herald.token("ops", { role: "admin" }),
    body: { phone: "+447700900123", quiet_hours: null },
  });
  assert.deepEqual(byAdmin.json, { ...expected, phone: "+447700900123", quiet_hours: null });
  const read = await herald.api("/api/v1/users/cleo/contacts", { sub: "cleo" });
  assert.deepEqual(read.json, byAdmin.json);
  for (const method of ["GET", "PUT"]) {
    const other = await herald.api("/api/v1/users/cleo/contacts", { method, sub: "mallory", body: method === "PUT" ? {} : undefined });
    assert.equal(other.status, 403);
    assert.equal(other.json.code, "admin_required");
  }
});

test("native subscriptions: the seed's three shapes are taken, anything else is refused by field", async () => {
  const subscribe = (body) => herald.api("/api/v1/native/subscribe", { method: "POST", sub: "nina", body });
  const good = [
    { os: "ios", token: "ad62ea6ea23d6974871cf59a06cbdb2783b85adbafe3355c0007362249d3e75c" },
    { os: "android", token: "e_nslPZejyM:APA91bHR-znf4EuSIKeY9dzlX4cupXA5cdsW1SzOHUFRrsteaL5WDuzsh_cnpVpQC3IPcewl_v3N0kbA" },
    {
      endpoint: "https://fcm.googleapis.com/fcm/send/czVGxJOoycA:APA91bGZt8FZU2fEAnDCr1PdRb7HDtayoGDUO1dy6vjTu1sDKhGAAB0i2nX",
      expirationTime: null,
      keys: {
        p256dh: "BN81HfHxzt4V4lXDV_2ia8Rl_QvqofvoNI7_MOHCiOMEYuFXFNDBOJzKCCj2nzK5luwnH6rvBCN2jx7lNHpraaw",
        auth: "0ywNrBxQ-rm4skkHDJB5lw",
      },
    },
  ];
  for (const body of good) {
    const res = await subscribe(body);
    assert.deepEqual([res.status, res.json], [200, true], JSON.stringify(body));
  }
  const bad = [
    [{ os: "windows", token: "abc" }, "os"],
    [{ os: "ios", token: "not-hex" }, "token"],
    [{ os: "android" }, "token"],
    [{ ...good[2], endpoint: "http://push.example.com/1" }, "endpoint"],
    [{ ...good[2], keys: { p256dh: "BN81", auth: "0ywNrBxQ-rm4skkHDJB5lw" } }, "keys.p256dh"],
    [{ ...good[2], keys: { ...good[2].keys, auth: "short" } }, "keys.auth"],
    [{ ...good[2], expirationTime: "soon" }, "expirationTime"],
  ];
  for (const [body, field] of bad) {
    const res = await subscribe(body);
    assert.equal(res.status, 400, JSON.stringify(body));
    assert.deepEqual([res.json.code, res.json.details], ["invalid_field", { field }], JSON.stringify(body));
  }
});

test("malformed sends, reads and pages are refused with coded errors, and nothing reaches the inbox", async () => {
  const phone = await device("mona");
  const refusals = [
    ["/api/v1/send", "not json", 400, "malformed_json", undefined],
    ["/api/v1/send", [], 400, "invalid_field", undefined],
    ["/api/v1/send", { uid: "mona" }, 400, "invalid_field", "msg"],
    ["/api/v1/send", { msg: "", uid: "mona" }, 400, "invalid_field", "msg"],
    ["/api/v1/send", { msg: 5, uid: "mona" }, 400, "invalid_field", "msg"],
    ["/api/v1/send", { msg: "hi" }, 400, "invalid_field", "uid"],
    ["/api/v1/send", { msg: "hi", uid: "" }, 400, "invalid_field", "uid"],
    ["/api/v1/send", { msg: "hi", uid: "mona", opts: { urgency: 9 } }, 400, "invalid_field", "urgency"],
    ["/api/v1/send", { msg: "hi", uid: "mona", opts: { urgency: "urgent" } }, 400, "invalid_field", "urgency"],
    ["/api/v1/send", { msg: "hi", uid: "mona", opts: { channels: ["fax"] } }, 400, "invalid_field", "channels"],
    ["/api/v1/send", { msg: "hi", uid: "mona", opts: { ttl: 0 } }, 400, "invalid_field", "ttl"],
    ["/api/v1/send", { msg: "hi", uid: "mona", opts: { send_at: "soon" } }, 400, "invalid_field", "send_at"],
    ["/api/v1/send", { msg: "hi", uid: "mona", opts: { send_at: Date.now() + 31 * 86_400_000 } }, 400, "invalid_field", "send_at"],
    ["/api/v1/send", { msg: "hi", uid: "mona", opts: { priority: 1 } }, 400, "invalid_field", "opts"],
    ["/api/v1/send", { msg: "hi", uid: "mona", opts: [] }, 400, "invalid_field", "opts"],
    ["/api/v1/send", { msg: "hi", uid: "mona", to: "x" }, 400, "invalid_field", "to"],
    ["/api/v1/send", { msg: "x".repeat(4097), uid: "mona" }, 400, "invalid_field", "msg"],
    ["/api/v1/inbox/read", { seq: "1" }, 400, "invalid_field", "seq"],
    ["/api/v1/inbox/read", {}, 400, "invalid_field", "seq"],
    ["/api/v1/inbox/read", { seq: 99 }, 400, "invalid_field", "seq"],
    ["/api/v1/users/mona/contacts", { email: "not an address" }, 400, "invalid_field", "email"],
    ["/api/v1/users/mona/contacts", { phone: "0770" }, 400, "invalid_field", "phone"],
    ["/api/v1/users/mona/contacts", { quiet_hours: { start: "25:00", end: "07:00" } }, 400, "invalid_field", "quiet_hours"],
  ];
  for (const [path, body, status, code, field] of refusals) {
    const method = path.endsWith("/contacts") ? "PUT" : "POST";
    const res = await herald.api(path, { method, sub: "mona", body });
    const what = `${path} ${JSON.stringify(body).slice(0, 80)}`;
    assert.equal(res.status, status, what);
    assert.equal(res.json.code, code, what);
    assert.equal(typeof res.json.message, "string", what);
    assert.deepEqual(res.json.details, field === undefined ? undefined : { field }, what);
  }
  const mismatch = await send({ msg: "hi", uid: "mona", opts: { idempotency_key: "a" } }, { headers: { "idempotency-key": "b" } });
  assert.deepEqual([mismatch.status, mismatch.json.details], [400, { field: "idempotency_key" }]);
  const anonymous = await herald.api("/api/v1/send", { method: "POST", token: null, body: { msg: "hi", uid: "mona" } });
  assert.deepEqual([anonymous.status, anonymous.json.code], [401, "token_missing"]);
  const wrongMethod = await herald.api("/api/v1/send", { sub: "mona" });
  assert.deepEqual([wrongMethod.status, wrongMethod.json.code], [405, "method_not_allowed"]);
  const badPage = await inbox("mona", "?limit=0");
  assert.deepEqual([badPage.status, badPage.json.details], [400, { field: "limit" }]);
  await sleep(300);
  assert.deepEqual(pending(phone), [], "no refused request reached the inbox");
});

test("a device's bad marks get error frames and the socket stays usable; other rooms do not know the frames", async () => {
  const phone = await device("ivan");
  await send({ msg: "hi", uid: "ivan", opts: { urgency: 1 } });
  await phone.messages(1);
  phone.send({ type: "read", seq: 5, transaction: "t1" });
  const error = await phone.next("error");
  assert.deepEqual(
    { ...error, message: typeof error.message },
    { type: "error", code: "invalid_field", message: "string", details: { field: "seq" }, transaction: "t1" },
  );
  phone.send({ type: "received", seq: 1 });
  phone.send({ type: "ping", transaction: "p" });
  assert.deepEqual(await phone.next("pong"), { type: "pong", transaction: "p" });
  const lobby = await herald.connect("lobby-notify", "ivan");
  await lobby.take(2);
  lobby.send({ type: "read", seq: 1 });
  const unknown = await lobby.next("error");
  assert.deepEqual([unknown.code, unknown.details], ["unknown_type", { type: "read" }]);
  const page = await inbox("ivan");
  assert.equal(page.json.notifications[0].state, "delivered");
});
