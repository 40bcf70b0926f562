// Native push end to end: the built worker in workerd sends Web Push, APNs and FCM requests to
// the provider recorder (scripts/recorder.mjs), which checks each JWT, decrypts each Web Push
// body and answers as the provider would, or fails on command. The ladder around it: pushes
// cancelled by live acknowledgements and receipts, devices deleted only when a provider says
// they are gone, credentials errors dead-lettered.
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { startHerald, sleep, until } from "../harness.mjs";

const IOS = (n) => `${String(n).padStart(2, "0")}`.repeat(32);
const ANDROID = (name) => `${name}:APA91bH-${"x".repeat(40)}`;

describe("native push", () => {
  let herald;
  const admin = () => herald.token("root", { role: "admin" });
  const send = (body, headers = {}) => herald.api("/api/v1/send", { method: "POST", sub: "alice", body, headers });
  const subscribe = (uid, body) => herald.api("/api/v1/native/subscribe", { method: "POST", sub: uid, body });
  const devices = async (uid) => (await herald.api("/api/v1/native/devices", { sub: uid })).json;
  const pushesTo = (device) => herald.recorder.pushes().filter((p) => p.device === device);
  const accepted = (device) => pushesTo(device).filter((p) => p.status < 300);
  const deadLetters = async () => (await herald.api("/api/v1/admin/dead-letters", { token: admin() })).json.jobs;
  const contacts = (uid, body) => herald.api(`/api/v1/users/${uid}/contacts`, { method: "PUT", sub: uid, body });
  const webDevice = (sub) => sub.endpoint.split("/").pop();

  before(async () => {
    herald = await startHerald({
      recorder: true,
      push: true,
      vars: {
        PUSH_VERY_LOW_SECONDS: "0",
        PUSH_LOW_SECONDS: "0",
        PUSH_NORMAL_SECONDS: "0",
        PUSH_HIGH_SECONDS: "0",
        FALLBACK_HIGH_SMS_SECONDS: "4",
        FALLBACK_RETRY_BASE_SECONDS: "1",
      },
    });
  });
  after(() => herald?.stop());

  test("the VAPID public key is served without a token", async () => {
    const answer = await herald.api("/api/v1/push/vapid-public-key", { token: null });
    assert.equal(answer.status, 200);
    assert.deepEqual(answer.json, { public_key: herald.pushKeys.VAPID_PUBLIC_KEY });
  });

  test("a Web Push subscription receives a body that decrypts to the notification, with its deep link", async () => {
    const sub = herald.recorder.subscription();
    assert.equal((await subscribe("wanda", sub)).status, 200);
    const opts = { title: "Build", url: "https://app.example.com/builds/7", data: { build: 7 }, urgency: "normal", ttl: 600 };
    assert.equal((await send({ msg: "Build 7 is green", uid: "wanda", opts })).json, true);
    const [push] = await until("a push to wanda's browser", () => accepted(webDevice(sub)).length && accepted(webDevice(sub)));
    assert.equal(push.status, 201);
    const { payload, headers } = push;
    assert.equal(payload.title, "Build");
    assert.equal(payload.body, "Build 7 is green");
    assert.equal(payload.url, "https://app.example.com/builds/7");
    assert.deepEqual(payload.data, { build: 7 });
    assert.equal(payload.seq, 1);
    assert.equal(typeof payload.receipt, "string");
    assert.equal(headers["content-encoding"], "aes128gcm");
    assert.equal(headers.urgency, "normal");
    assert.ok(Number(headers.ttl) > 590 && Number(headers.ttl) <= 600, headers.ttl);
    assert.match(headers.topic, /^[A-Za-z0-9_-]{32}$/);
    assert.match(headers.authorization, /^vapid t=[\w-]+\.[\w-]+\.[\w-]+, k=[\w-]+$/);
  });

  test("APNs gets the documented request with a provider token it verifies", async () => {
    const token = IOS(1);
    assert.equal((await subscribe("ivy", { os: "ios", token })).status, 200);
    await send({ msg: "Server down", uid: "ivy", opts: { urgency: "high", title: "Pager" } });
    const [push] = await until("a push to ivy's phone", () => accepted(token).length && accepted(token));
    assert.equal(push.status, 200);
    assert.equal(push.headers["apns-topic"], herald.pushKeys.APNS_TOPIC);
    assert.equal(push.headers["apns-push-type"], "alert");
    assert.equal(push.headers["apns-priority"], "10");
    assert.match(push.headers["apns-collapse-id"], /^[A-Za-z0-9_-]{32}$/);
    assert.match(push.headers.authorization, /^bearer [\w-]+\.[\w-]+\.[\w-]+$/);
    assert.deepEqual(push.payload.aps.alert, { title: "Pager", body: "Server down" });
    assert.equal(push.payload.aps["mutable-content"], 1);
    assert.equal(push.payload.aps["interruption-level"], "time-sensitive");
    assert.equal(push.payload.herald.seq, 1);
    // The provider's answer is kept with the device, for support.
    const [device] = await until("ivy's device's last outcome", async () => {
      const list = await devices("ivy");
      return list[0]?.last_outcome && list;
    });
    assert.equal(device.last_outcome.outcome, "accepted");
    assert.equal(device.token_hint, token.slice(-6));
  });

  test("FCM gets messages with an access token that is requested once and reused, even by pushes at once", async () => {
    const before = herald.recorder.tokenRequests().length;
    const users = ["fiona", "fred", "flor"];
    for (const uid of users) assert.equal((await subscribe(uid, { os: "android", token: ANDROID(uid) })).status, 200);
    // Three pushes due at once, in one batch of the queue, with no token yet.
    await Promise.all(users.map((uid) => send({ msg: "one", uid, opts: { urgency: "low" } })));
    await until("a first push to each", () => users.every((uid) => accepted(ANDROID(uid)).length === 1));
    await send({ msg: "two", uid: "fiona", opts: { urgency: "low" } });
    const token = ANDROID("fiona");
    const pushes = await until("a second push to fiona", () => accepted(token).length === 2 && accepted(token));
    assert.deepEqual(pushes.map((p) => p.payload.notification.body), ["one", "two"]);
    assert.equal(pushes[0].payload.android.priority, "NORMAL");
    assert.equal(typeof pushes[0].payload.data.herald, "string", "FCM data values are strings");
    assert.equal(JSON.parse(pushes[0].payload.data.herald).seq, 1);
    const requests = herald.recorder.tokenRequests().slice(before);
    assert.equal(requests.length, 1, `the access token was requested ${requests.length} times`);
    assert.equal(requests[0].status, 200);
  });

  test("a read is told to the phones it was pushed to by a silent push, and a browser learns it from the next push", async () => {
    const [phone, android] = [IOS(7), ANDROID("rita")];
    const browser = herald.recorder.subscription();
    for (const body of [{ os: "ios", token: phone }, { os: "android", token: android }, browser]) {
      assert.equal((await subscribe("rita", body)).status, 200);
    }
    await send({ msg: "Build 9 failed", uid: "rita", opts: { urgency: "high" } });
    await until("the notification pushed to all three", () =>
      accepted(phone).length === 1 && accepted(android).length === 1 && accepted(webDevice(browser)).length === 1,
    );
    const read = await herald.api("/api/v1/inbox/read", { method: "POST", sub: "rita", body: { seq: 1 } });
    assert.equal(read.status, 200);
    const [, told] = await until("the read told to the iPhone", () => accepted(phone).length === 2 && accepted(phone));
    assert.equal(told.headers["apns-push-type"], "background");
    assert.equal(told.headers["apns-priority"], "5");
    assert.equal(told.headers["apns-expiration"], "0", "now or never");
    assert.match(told.headers.authorization, /^bearer /, "signed like every APNs request (the recorder verified it)");
    assert.deepEqual(told.payload, { aps: { "content-available": 1 }, herald: { type: "read", seq: 1 } });
    const [, data] = await until("the read told to the Android phone", () => accepted(android).length === 2 && accepted(android));
    assert.equal(data.payload.notification, undefined, "a data message: nothing shown");
    assert.deepEqual(JSON.parse(data.payload.data.herald), { type: "read", seq: 1 });
    assert.equal(data.payload.android.priority, "NORMAL");
    assert.equal(data.payload.android.ttl, "0s");
    // Browsers must show every push: none is sent for the read; the next notification says it.
    await send({ msg: "Build 10 passed", uid: "rita", opts: { urgency: "high" } });
    const pushes = await until("the next push to the browser", () => accepted(webDevice(browser)).length === 2 && accepted(webDevice(browser)));
    assert.equal(pushes[1].payload.seq, 2);
    assert.equal(pushes[1].payload.last_read, 1);
    assert.equal(pushes[0].payload.last_read, undefined, "nothing had been read");
  });

  test("a 410 from Web Push and an UNREGISTERED from FCM delete that device only", async () => {
    const gone = herald.recorder.subscription();
    const kept = herald.recorder.subscription();
    const android = ANDROID("gus");
    for (const body of [gone, kept, { os: "android", token: android }]) assert.equal((await subscribe("gus", body)).status, 200);
    assert.equal((await devices("gus")).length, 3);
    herald.recorder.fail({ path: `/push/${webDevice(gone)}`, status: 410 });
    herald.recorder.fail({
      path: "/v1/projects/",
      status: 404,
      times: 1,
      body: {
        error: {
          code: 404,
          message: "Requested entity was not found.",
          status: "NOT_FOUND",
          details: [{ "@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", errorCode: "UNREGISTERED" }],
        },
      },
    });
    await send({ msg: "hello", uid: "gus" });
    const left = await until("gus's gone devices deleted", async () => {
      const list = await devices("gus");
      return list.length === 1 && list;
    });
    assert.equal(left[0].os, "web");
    assert.equal(accepted(webDevice(kept)).length, 1);
  });

  test("a credentials error (APNs 403 InvalidProviderToken) deletes nothing and is dead-lettered", async () => {
    const token = IOS(2);
    assert.equal((await subscribe("dora", { os: "ios", token })).status, 200);
    herald.recorder.fail({ path: `/3/device/${token}`, status: 403, body: { reason: "InvalidProviderToken" } });
    await send({ msg: "hi", uid: "dora" });
    const letter = await until("dora's push in the dead letters", async () =>
      (await deadLetters()).find((entry) => entry.job.key.startsWith("dora/1/push/")),
    );
    assert.match(letter.reason, /InvalidProviderToken/);
    assert.match(letter.reason, /no device was deleted/);
    const [device] = await devices("dora");
    assert.equal(device.last_outcome.outcome, "credentials");
  });

  test("a 429 with Retry-After is honoured", async () => {
    const sub = herald.recorder.subscription();
    assert.equal((await subscribe("rosa", sub)).status, 200);
    herald.recorder.fail({ path: `/push/${webDevice(sub)}`, status: 429, times: 1, headers: { "retry-after": "3" } });
    await send({ msg: "later", uid: "rosa" });
    await until("rosa's push accepted", () => accepted(webDevice(sub)).length === 1, 20_000);
    const [refused, ok] = pushesTo(webDevice(sub));
    assert.equal(refused.status, 429);
    const waited = ok.at - refused.at;
    assert.ok(waited >= 2_900, `the retry came after ${waited} ms`);
  });

  test("a delivered receipt through the payload's credential stops the SMS and email of a pushed high notification", async () => {
    for (const uid of ["hugo", "hilda"]) {
      await contacts(uid, { email: `${uid}@example.com`, phone: uid === "hugo" ? "+15550002001" : "+15550002002" });
    }
    const hugo = herald.recorder.subscription();
    const hilda = herald.recorder.subscription();
    await subscribe("hugo", hugo);
    await subscribe("hilda", hilda);
    await send({ msg: "Disk full", uid: "hugo", opts: { urgency: "high" } });
    await send({ msg: "Disk full", uid: "hilda", opts: { urgency: "high" } });
    const [push] = await until("hugo's push", () => accepted(webDevice(hugo)).length && accepted(webDevice(hugo)));
    // The service worker has no session: the credential alone acknowledges.
    const receipt = await herald.api("/api/v1/receipts", {
      method: "POST",
      token: null,
      body: { receipt: push.payload.receipt, state: "delivered" },
    });
    assert.equal(receipt.status, 200, receipt.text);
    assert.deepEqual(receipt.json, { seq: 1, state: "delivered" });
    // hilda, who sent no receipt, gets the SMS: the same wait is long enough for hugo's.
    const sms = (to) => herald.recorder.sms().filter((m) => m.To === to);
    await until("hilda's SMS", () => sms("+15550002002").length === 1, 15_000);
    await sleep(1_000);
    assert.deepEqual(sms("+15550002001"), []);
    assert.deepEqual(herald.recorder.emails().filter((e) => e.to.includes("hugo@example.com")), []);
    const page = await herald.api("/api/v1/inbox", { sub: "hugo" });
    assert.equal(page.json.notifications[0].state, "delivered");
  });

  test("forged, foreign and expired receipts are refused and change nothing", async () => {
    const sub = herald.recorder.subscription();
    await subscribe("olga", sub);
    await send({ msg: "short-lived", uid: "olga", opts: { ttl: 2 } });
    const [push] = await until("olga's push", () => accepted(webDevice(sub)).length && accepted(webDevice(sub)));
    const credential = push.payload.receipt;
    const post = (body, token = null) => herald.api("/api/v1/receipts", { method: "POST", token, body });
    const forged = credential.replace(/^\d+/, "2");
    assert.deepEqual(
      [(await post({ receipt: forged, state: "read" })).status, (await post({ receipt: forged, state: "read" })).json.code],
      [401, "receipt_invalid"],
    );
    const foreign = await post({ receipt: credential, state: "read" }, herald.token("mallory"));
    assert.deepEqual([foreign.status, foreign.json.code], [403, "receipt_forbidden"]);
    const bad = await post({ receipt: credential, state: "seen" });
    assert.deepEqual([bad.status, bad.json.details.field], [400, "state"]);
    await sleep(2_100);
    const expired = await post({ receipt: credential, state: "read" });
    assert.deepEqual([expired.status, expired.json.code], [401, "receipt_expired"]);
    const page = await herald.api("/api/v1/inbox", { sub: "olga" });
    assert.equal(page.json.notifications[0].state, "sent");
    assert.equal(page.json.unread, 1);
  });

  test("a queue message delivered twice sends one push", async () => {
    const sub = herald.recorder.subscription();
    const [p256dh, auth] = [sub.keys.p256dh, sub.keys.auth];
    const job = {
      key: `quinn/1/push/twice`,
      user: "quinn",
      channel: "push",
      to: "twice",
      seq: 1,
      notification: "n1",
      subject: "Notification from alice name",
      text: "only once",
      push: {
        device: { kind: "webpush", endpoint: sub.endpoint, p256dh, auth },
        subscribed_at: Date.now(),
        urgency: "normal",
        receipt: "not-checked-by-the-push-service",
      },
    };
    const queue = await herald.queue("FALLBACK");
    await queue.send(job);
    await queue.send(job);
    await until("quinn's push", () => accepted(webDevice(sub)).length === 1);
    await sleep(1_500);
    assert.equal(pushesTo(webDevice(sub)).length, 1);
  });
});

describe("the ladder", () => {
  let herald;
  before(async () => {
    herald = await startHerald({ recorder: true, push: true, vars: { PUSH_NORMAL_SECONDS: "2", PUSH_HIGH_SECONDS: "2" } });
  });
  after(() => herald?.stop());

  test("a live device that acknowledges before the push delay means no push; one that does not, a push", async () => {
    const quick = herald.recorder.subscription();
    const slow = herald.recorder.subscription();
    for (const [uid, sub] of [["lena", quick], ["lars", slow]]) {
      const answer = await herald.api("/api/v1/native/subscribe", { method: "POST", sub: uid, body: sub });
      assert.equal(answer.status, 200);
    }
    const lena = await herald.connect("inbox:lena", "lena");
    const lars = await herald.connect("inbox:lars", "lars");
    for (const uid of ["lena", "lars"]) {
      await herald.api("/api/v1/send", { method: "POST", sub: "alice", body: { msg: "ping", uid } });
    }
    const [frame] = await lena.messages(1);
    lena.send({ type: "received", seq: frame.seq });
    await lars.messages(1);
    const pushed = (sub) => herald.recorder.pushes().filter((p) => p.device === sub.endpoint.split("/").pop());
    await until("lars's push", () => pushed(slow).length === 1, 10_000);
    await sleep(1_000);
    assert.deepEqual(pushed(quick), [], "lena's phone acknowledged it in time");
  });
});
