// Push devices end to end: subscribe, list, remove, unsubscribe on logout; a device subscribed
// by another user leaving the first; a user known only by a device or contacts reached by a
// broadcast; and the subscription refusals (a key off the curve, http endpoints, hosts that are
// not a push service).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { startHerald, until } from "../harness.mjs";

let herald;
before(async () => (herald = await startHerald()));
after(() => herald.stop());

// RFC 8291 Appendix A's user agent keys: a real point on P-256 and a 16-byte secret.
const P256DH = "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4";
const AUTH = "BTBZMqHH6r4Tts7J_aSIgg";
const IOS = "a1".repeat(29) + "c0ffee";
const ANDROID = "fcm-token:" + "x".repeat(40) + "tail42";
const ENDPOINT = "https://fcm.googleapis.com/fcm/send/secret-capability";
const webSub = (endpoint = ENDPOINT) => ({ endpoint, expirationTime: null, keys: { p256dh: P256DH, auth: AUTH } });

/** A device's public id: base64url of the first 16 bytes of SHA-256 of its token or endpoint. */
const publicId = (id) => createHash("sha256").update(id).digest().subarray(0, 16).toString("base64url");

const subscribe = (sub, body, h = herald) => h.api("/api/v1/native/subscribe", { method: "POST", sub, body });
const unsubscribe = (sub, body) => herald.api("/api/v1/native/subscribe", { method: "DELETE", sub, body });
const devices = async (sub) => {
  const res = await herald.api("/api/v1/native/devices", { sub });
  assert.equal(res.status, 200, res.text);
  return res.json;
};

test("a user lists their devices newest first, never a token or endpoint in full, and removes them", async () => {
  assert.equal((await subscribe("dana", { os: "ios", token: IOS })).status, 200);
  const web = await subscribe("dana", webSub());
  assert.equal(web.status, 200, web.text);
  assert.equal(web.json, true);
  const list = await devices("dana");
  assert.equal(list.length, 2);
  assert.deepEqual(list[0], {
    id: publicId(ENDPOINT),
    os: "web",
    token_hint: "https://fcm.googleapis.com",
    subscribed_at: list[0].subscribed_at,
    last_outcome: null,
  });
  assert.deepEqual(list[1], { id: publicId(IOS), os: "ios", token_hint: "c0ffee", subscribed_at: list[1].subscribed_at, last_outcome: null });
  assert.ok(list[0].subscribed_at >= list[1].subscribed_at && list[1].subscribed_at > Date.now() - 60_000);
  const text = JSON.stringify(list);
  assert.ok(!text.includes("secret-capability") && !text.includes(IOS), text);

  const remove = (id, sub = "dana") => herald.api(`/api/v1/native/devices/${id}`, { method: "DELETE", sub });
  assert.equal((await remove(publicId(IOS), "someone-else")).status, 404, "only the caller's own devices");
  const removed = await remove(publicId(IOS));
  assert.equal(removed.status, 204, removed.text);
  const again = await remove(publicId(IOS));
  assert.equal(again.status, 404);
  assert.equal(again.json.code, "not_found");
  assert.deepEqual((await devices("dana")).map((d) => d.id), [publicId(ENDPOINT)]);
  assert.equal((await remove("not-a-device-id")).status, 404);

  // Logout on the browser: the subscription's own body; repeating it is harmless.
  assert.equal((await unsubscribe("dana", webSub())).status, 204);
  assert.equal((await unsubscribe("dana", webSub())).status, 204);
  assert.deepEqual(await devices("dana"), []);
});

test("a device token subscribed by another user leaves the first user's devices", async () => {
  assert.equal((await subscribe("erin", { os: "android", token: ANDROID })).status, 200);
  assert.equal((await subscribe("erin", { os: "ios", token: IOS })).status, 200);
  // The shared phone: erin logs out without unsubscribing, finn logs in.
  assert.equal((await subscribe("finn", { os: "android", token: ANDROID })).status, 200);
  assert.deepEqual((await devices("erin")).map((d) => d.id), [publicId(IOS)], "the phone left erin");
  assert.deepEqual((await devices("finn")).map((d) => d.id), [publicId(ANDROID)]);
  // Subscribed again by finn (an app does at each start): still finn's alone.
  assert.equal((await subscribe("finn", { os: "android", token: ANDROID })).status, 200);
  assert.deepEqual((await devices("finn")).map((d) => d.id), [publicId(ANDROID)]);
  // Back to erin; finn's logout afterwards does not take it from her.
  assert.equal((await subscribe("erin", { os: "android", token: ANDROID })).status, 200);
  assert.deepEqual(await devices("finn"), []);
  assert.equal((await unsubscribe("finn", { os: "android", token: ANDROID })).status, 204);
  assert.deepEqual((await devices("erin")).map((d) => d.id).sort(), [publicId(ANDROID), publicId(IOS)].sort());
});

test("a user who only subscribed a device, or only set contacts, is reached by a broadcast", async () => {
  assert.equal((await subscribe("gail", { os: "ios", token: "b2".repeat(32) })).status, 200);
  const contacts = await herald.api("/api/v1/users/hank/contacts", { method: "PUT", sub: "hank", body: { email: "hank@example.com" } });
  assert.equal(contacts.status, 200, contacts.text);
  const admin = herald.token("ops", { role: "admin" });
  const sent = await herald.api("/api/v1/broadcast", {
    method: "POST",
    token: admin,
    body: { msg: "welcome aboard", opts: { urgency: 1 } },
    headers: { "idempotency-key": "devices-welcome" },
  });
  assert.equal(sent.status, 200, sent.text);
  for (const user of ["gail", "hank"]) {
    const note = await until(`${user} has the broadcast`, async () => {
      const page = await herald.api("/api/v1/inbox", { sub: user });
      return page.json?.notifications?.find((n) => n.id === "devices-welcome");
    }, 15_000);
    assert.equal(note.msg, "welcome aboard", user);
  }
  // Nobody else: a user Herald never met has an empty inbox.
  assert.deepEqual((await herald.api("/api/v1/inbox", { sub: "ivan" })).json.notifications, []);
});

test("a p256dh off P-256, http endpoints and hosts that are not a push service are refused by field", async () => {
  const offCurve = Buffer.from(P256DH, "base64url");
  offCurve[64] ^= 1;
  const refusals = [
    [{ endpoint: ENDPOINT, keys: { p256dh: offCurve.toString("base64url"), auth: AUTH } }, "keys.p256dh"],
    [webSub("http://127.0.0.1:8788/push/1"), "endpoint"],
    [webSub("http://push.example.com/push/1"), "endpoint"],
    [webSub("https://user@fcm.googleapis.com/push/1"), "endpoint"],
    [webSub("https://push.example.com/push/1"), "endpoint"],
    [webSub("https://169.254.169.254/latest/meta-data"), "endpoint"],
    [webSub("https://127.0.0.1/push/1"), "endpoint"],
    [webSub("https://[::1]/push/1"), "endpoint"],
    [webSub("https://localhost/push/1"), "endpoint"],
    [webSub(ENDPOINT + "#fragment"), "endpoint"],
  ];
  for (const [body, field] of refusals) {
    const res = await subscribe("jill", body);
    assert.equal(res.status, 400, `${JSON.stringify(body)}: ${res.text}`);
    assert.equal(res.json.code, "invalid_field");
    assert.equal(res.json.details.field, field, JSON.stringify(body));
  }
  assert.deepEqual(await devices("jill"), []);
  assert.equal((await herald.api("/api/v1/native/devices", { method: "POST", sub: "jill" })).status, 405);
});

test("with PUSH_ALLOW_LOOPBACK_HTTP, http endpoints to this machine are taken; WEB_PUSH_HOSTS replaces the push services", async () => {
  const local = await startHerald({ vars: { PUSH_ALLOW_LOOPBACK_HTTP: "true", WEB_PUSH_HOSTS: "push.example.com, *.push.example.net" } });
  try {
    for (const endpoint of ["http://127.0.0.1:8788/push/1", "http://localhost/push/2", "http://[::1]:9/push/3"]) {
      const res = await subscribe("kim", webSub(endpoint), local);
      assert.equal(res.status, 200, `${endpoint}: ${res.text}`);
    }
    for (const endpoint of ["https://push.example.com/p", "https://eu.push.example.net/p"]) {
      const res = await subscribe("kim", webSub(endpoint), local);
      assert.equal(res.status, 200, `${endpoint}: ${res.text}`);
    }
    for (const endpoint of [
      "http://127.0.0.1.evil.com/push",
      "http://localhost@evil.com/push",
      "http://10.0.0.1/push",
      "https://127.0.0.1/push",
      ENDPOINT,
    ]) {
      const res = await subscribe("kim", webSub(endpoint), local);
      assert.equal(res.status, 400, `${endpoint}: ${res.text}`);
      assert.equal(res.json.details.field, "endpoint", endpoint);
    }
  } finally {
    await local.stop();
  }
});
