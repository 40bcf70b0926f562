// The provider recorder (scripts/recorder.mjs) on its own: it accepts Resend's, Twilio's,
// APNs', FCM's (and Google's token endpoint's) and Web Push's exact requests and refuses what
// they refuse, keeps what it received (a Web Push message decrypted), fails and times out on
// command with each provider's own error, answers its control routes, and prints each email,
// SMS and push readably. Also the throwaway push keys of scripts/dev-keys.mjs.
import { test, describe, before, after, beforeEach } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { join } from "node:path";
import { readFileSync, writeFileSync } from "node:fs";
import { createPrivateKey, generateKeyPairSync, randomUUID, sign } from "node:crypto";
import { startRecorder, pushMaterial } from "../../scripts/recorder.mjs";
import { generateDevKeys, addDevKeys, readDevVars, parseDevVars } from "../../scripts/dev-keys.mjs";
import { encryptWebPush, decryptContent } from "../../scripts/recorder/ece.mjs";
import { p256PrivateKey, p256Raw } from "../../scripts/recorder/jwt.mjs";
import { root, within, tempDir } from "../harness.mjs";

const SID = "AC0123456789abcdef0123456789abcdef";
const TWILIO = `/2010-04-01/Accounts/${SID}/Messages.json`;
const basic = (user, password) => `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;

const email = {
  from: "Herald <notifications@example.com>",
  to: ["bob@example.com"],
  subject: "You have a new notification",
  text: "Deploy finished\nAll green",
};

function postEmail(url, body = email, headers = {}) {
  return fetch(`${url}/emails`, {
    method: "POST",
    headers: { authorization: "Bearer re_test", "content-type": "application/json", "idempotency-key": "bob/n1/email", ...headers },
    body: JSON.stringify(body),
  });
}

function postSms(url, form = { To: "+15550100", From: "+15550000", Body: "Deploy finished & green" }, auth = basic(SID, "token")) {
  return fetch(`${url}${TWILIO}`, {
    method: "POST",
    headers: { authorization: auth, "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams(form).toString(),
  });
}

describe("the provider recorder", () => {
  let recorder;
  before(async () => {
    recorder = await startRecorder({ quiet: true });
  });
  after(() => recorder.stop());
  beforeEach(() => recorder.reset());

  test("accepts Resend's request and keeps it whole", async () => {
    const response = await postEmail(recorder.url);
    assert.equal(response.status, 200);
    assert.match((await response.json()).id, /^[0-9a-f-]{36}$/);
    assert.deepEqual(recorder.emails(), [email]);
    const [request] = recorder.requests();
    assert.equal(request.method, "POST");
    assert.equal(request.path, "/emails");
    assert.equal(request.headers.authorization, "Bearer re_test");
    assert.equal(request.headers["idempotency-key"], "bob/n1/email");
    assert.deepEqual(request.json, email);
    assert.equal(request.body, JSON.stringify(email));
    assert.equal(request.status, 200);
  });

  test("refuses an email without an API key or without its fields, as Resend does", async () => {
    const unauthorized = await postEmail(recorder.url, email, { authorization: "" });
    assert.equal(unauthorized.status, 401);
    assert.equal((await unauthorized.json()).name, "missing_api_key");
    const { subject, ...noSubject } = email;
    const invalid = await postEmail(recorder.url, noSubject);
    assert.equal(invalid.status, 422);
    assert.deepEqual(await invalid.json(), { statusCode: 422, name: "validation_error", message: "The `subject` field is missing." });
    const noText = await postEmail(recorder.url, { ...email, text: undefined });
    assert.equal(noText.status, 422);
    assert.deepEqual(recorder.emails(), [], "refused emails are not delivered");
    assert.deepEqual(recorder.requests().map((r) => r.status), [401, 422, 422]);
  });

  test("accepts Twilio's form post with basic auth", async () => {
    const response = await postSms(recorder.url);
    assert.equal(response.status, 201);
    const answer = await response.json();
    assert.match(answer.sid, /^SM[0-9a-f]{32}$/);
    assert.deepEqual(
      { account_sid: answer.account_sid, to: answer.to, from: answer.from, body: answer.body, status: answer.status },
      { account_sid: SID, to: "+15550100", from: "+15550000", body: "Deploy finished & green", status: "queued" },
    );
    assert.deepEqual(recorder.sms(), [{ To: "+15550100", From: "+15550000", Body: "Deploy finished & green" }]);
    assert.equal(recorder.requests()[0].body, "To=%2B15550100&From=%2B15550000&Body=Deploy+finished+%26+green");
  });

  test("refuses an SMS with another account's credentials or a missing field, as Twilio does", async () => {
    const wrongAccount = await postSms(recorder.url, undefined, basic("ACother", "token"));
    assert.equal(wrongAccount.status, 401);
    assert.equal((await wrongAccount.json()).code, 20003);
    const noBody = await postSms(recorder.url, { To: "+15550100", From: "+15550000" });
    assert.equal(noBody.status, 400);
    assert.deepEqual(await noBody.json(), { code: 21602, message: "A 'Body' is required.", status: 400 });
    assert.deepEqual(recorder.sms(), []);
  });

  test("fails a number of times on command, then accepts", async () => {
    recorder.fail({ path: "/emails", times: 2, status: 503 });
    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push((await postEmail(recorder.url)).status);
    assert.deepEqual(statuses, [503, 503, 200]);
    assert.deepEqual(recorder.emails(), [email], "only the accepted one is an email");
    assert.equal(recorder.requests().length, 3, "every request is kept");
    const sms = await postSms(recorder.url);
    assert.equal(sms.status, 201, "other paths are not affected");
  });

  test("keeps failing until reset when told no number of times", async () => {
    recorder.fail({ path: "/2010-04-01/", status: 500 });
    for (let i = 0; i < 4; i++) assert.equal((await postSms(recorder.url)).status, 500);
    recorder.reset();
    assert.equal((await postSms(recorder.url)).status, 201);
  });

  test("does not answer when told to time out", async () => {
    recorder.fail({ path: "/emails", times: 1, timeout: true });
    const stalled = postEmail(recorder.url).then(
      () => "answered",
      () => "cut",
    );
    const outcome = await Promise.race([stalled, new Promise((resolve) => setTimeout(() => resolve("silent"), 300))]);
    assert.equal(outcome, "silent");
    assert.equal(recorder.requests().at(-1).status, "timeout");
    assert.equal((await postEmail(recorder.url)).status, 200, "one time only");
    recorder.reset();
    assert.equal(await within(stalled, "the held request is cut by reset"), "cut");
  });

  test("answers its control routes over HTTP", async () => {
    const control = (path, body) =>
      fetch(`${recorder.url}/__recorder/${path}`, body === undefined ? {} : { method: "POST", body: JSON.stringify(body) }).then(
        async (r) => [r.status, await r.json()],
      );
    assert.deepEqual(await control("fail", { path: "/emails", times: 1, status: 429 }), [200, { ok: true }]);
    assert.equal((await postEmail(recorder.url)).status, 429);
    await postEmail(recorder.url);
    const [status, requests] = await control("requests");
    assert.equal(status, 200);
    assert.deepEqual(requests.map((r) => r.status), [429, 200]);
    assert.deepEqual(await control("emails"), [200, [email]]);
    assert.deepEqual(await control("fail", { path: "emails" }), [400, { message: "fail() needs a path such as /emails" }]);
    assert.deepEqual(await control("reset", {}), [200, { ok: true }]);
    assert.deepEqual(await control("requests"), [200, []]);
  });
});

/**
 * The recorder run as a command with `args`: its process, the URL it listens on, and what it
 * printed so far (`out()`), with `printed(text, what)` waiting until `text` is among it.
 */
async function recorderCommand(args) {
  const child = spawn(process.execPath, [join(root, "scripts/recorder.mjs"), "--port", "0", ...args], { stdio: ["ignore", "pipe", "inherit"] });
  let out = "";
  child.stdout.on("data", (chunk) => (out += chunk));
  try {
    const url = await within(
      new Promise((resolve) => child.stdout.on("data", () => /listening on (\S+):/.test(out) && resolve(/listening on (\S+):/.exec(out)[1]))),
      "the recorder listening",
    );
    const printed = (text, what) =>
      within(
        (async () => {
          while (!out.includes(text)) await new Promise((r) => setTimeout(r, 20));
        })(),
        what,
      );
    return { child, url, out: () => out, printed };
  } catch (e) {
    child.kill("SIGTERM");
    throw e;
  }
}

test("run as a command, the recorder prints each email and SMS readably", async () => {
  const { child, url, out: printedSoFar, printed } = await recorderCommand([]);
  try {
    await postEmail(url);
    await postSms(url);
    await printed("| Deploy finished & green", "both printed");
    const out = printedSoFar();
    assert.ok(
      out.includes(
        [
          "[recorder] email to bob@example.com",
          "  from:    Herald <notifications@example.com>",
          "  subject: You have a new notification",
          "  key:     bob/n1/email",
          "  | Deploy finished",
          "  | All green",
        ].join("\n"),
      ),
      out,
    );
    assert.ok(out.includes("[recorder] SMS to +15550100 (from +15550000)\n  | Deploy finished & green"), out);
  } finally {
    child.kill("SIGTERM");
  }
});

// --- Push: each request built with node:crypto exactly as the providers' clients send it. ---

const b64 = (bytes) => Buffer.from(bytes).toString("base64url");
const now = () => Math.floor(Date.now() / 1000);

/** A compact JWS of `header` and `claims`, signed ES256 (r || s) or RS256 with `key`. */
function jws(header, claims, key) {
  const input = `${b64(JSON.stringify(header))}.${b64(JSON.stringify(claims))}`;
  const signature =
    header.alg === "ES256" ? sign("sha256", Buffer.from(input), { key, dsaEncoding: "ieee-p1363" }) : sign("sha256", Buffer.from(input), key);
  return `${input}.${b64(signature)}`;
}

// RFC 8291 Appendix A.
const RFC8291 = {
  plaintext: "When I grow up, I want to be a watermelon",
  asPublic: "BP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A8",
  asPrivate: "yfWPiYE-n46HLnH0KqZOF1fJJU3MYrct3AELtAQ-oRw",
  uaPublic: "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4",
  uaPrivate: "q1dXpw3UpT5VOmu_cf_v6ih07Aems3njxI-JWgLcM94",
  salt: "DGv6ra1nlYgDCS1FRnbzlw",
  auth: "BTBZMqHH6r4Tts7J_aSIgg",
  body:
    "DGv6ra1nlYgDCS1FRnbzlwAAEABBBP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A_yl95bQpu6cVPTpK4Mqgkf1CXztLVBSt2Ks3oZwbuwXPXLWyouBWLVWGNWQexSgSxsj_Qulcy4a-fN",
};

describe("the provider recorder as the push providers", () => {
  const keys = generateDevKeys();
  const apnsKey = createPrivateKey(keys.APNS_KEY);
  const account = JSON.parse(keys.FCM_SERVICE_ACCOUNT);
  const googleKey = createPrivateKey(account.private_key);
  const vapidKey = p256PrivateKey(keys.VAPID_PRIVATE_KEY, keys.VAPID_PUBLIC_KEY);
  let recorder;
  // One provider token for the whole suite, as Herald shares one: APNs refuses a new one less
  // than 20 minutes after the last.
  let providerToken;
  before(async () => {
    recorder = await startRecorder({ quiet: true, push: pushMaterial(keys) });
    providerToken = jws({ alg: "ES256", kid: keys.APNS_KEY_ID }, { iss: keys.APNS_TEAM_ID, iat: now() - 60 }, apnsKey);
  });
  after(() => recorder.stop());
  beforeEach(() => recorder.reset());

  const vapid = (endpoint, claims = {}, key = vapidKey, k = keys.VAPID_PUBLIC_KEY) => {
    const t = jws({ typ: "JWT", alg: "ES256" }, { aud: new URL(endpoint).origin, exp: now() + 12 * 3600, sub: keys.VAPID_SUBJECT, ...claims }, key);
    return `vapid t=${t}, k=${k}`;
  };
  const webPush = (endpoint, body, headers = {}) =>
    fetch(endpoint, {
      method: "POST",
      headers: { ttl: "60", "content-encoding": "aes128gcm", "content-type": "application/octet-stream", authorization: vapid(endpoint), ...headers },
      body,
    });
  const apns = (device, payload = { aps: { alert: { title: "Deploy", body: "finished" } } }, headers = {}) =>
    fetch(`${recorder.url}/3/device/${device}`, {
      method: "POST",
      headers: { authorization: `bearer ${providerToken}`, "apns-topic": keys.APNS_TOPIC, "apns-push-type": "alert", "apns-priority": "10", ...headers },
      body: typeof payload === "string" ? payload : JSON.stringify(payload),
    });
  const assertion = (claims = {}, key = googleKey) =>
    jws(
      { alg: "RS256", typ: "JWT", kid: account.private_key_id },
      { iss: account.client_email, scope: "https://www.googleapis.com/auth/firebase.messaging", aud: `${recorder.url}/token`, iat: now(), exp: now() + 3600, ...claims },
      key,
    );
  const token = (jwt = assertion()) =>
    fetch(`${recorder.url}/token`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ grant_type: "urn:ietf:params:oauth:grant-type:jwt-bearer", assertion: jwt }).toString(),
    });
  const fcm = (accessToken, message = { token: "fcm-device-token:APA91b", notification: { title: "Deploy", body: "finished" }, data: { herald: "{}" } }, project = account.project_id) =>
    fetch(`${recorder.url}/v1/projects/${project}/messages:send`, {
      method: "POST",
      headers: { authorization: `Bearer ${accessToken}`, "content-type": "application/json" },
      body: JSON.stringify({ message }),
    });

  test("decrypts the RFC 8291 Appendix A message sent to a subscription with the RFC's keys", async () => {
    const subscription = recorder.subscription({ privateKey: RFC8291.uaPrivate, p256dh: RFC8291.uaPublic, auth: RFC8291.auth });
    assert.deepEqual(subscription.keys, { p256dh: RFC8291.uaPublic, auth: RFC8291.auth });
    const body = Buffer.from(RFC8291.body, "base64url");
    assert.equal(body.length, 144);
    const response = await webPush(subscription.endpoint, body);
    assert.equal(response.status, 201, await response.clone().text());
    assert.match(response.headers.get("location"), new RegExp(`^${recorder.url}/push/message/`));
    const [push] = recorder.pushes();
    assert.equal(push.provider, "webpush");
    assert.equal(push.device, subscription.endpoint.split("/").pop());
    assert.equal(push.payload, RFC8291.plaintext);
    assert.equal(push.status, 201);
  });

  test("the tests' sender reproduces the RFC 8291 body byte for byte", () => {
    const sender = p256PrivateKey(RFC8291.asPrivate, RFC8291.asPublic);
    const receiver = { p256dh: Buffer.from(RFC8291.uaPublic, "base64url"), auth: Buffer.from(RFC8291.auth, "base64url") };
    const body = encryptWebPush(RFC8291.plaintext, receiver, { salt: Buffer.from(RFC8291.salt, "base64url"), sender });
    assert.equal(body.toString("base64url"), RFC8291.body);
  });

  test("decodes the RFC 8188 §3.2 body of two records, padding and a key id", () => {
    const body = Buffer.from("uNCkWiNYzKTnBN9ji3-qWAAAABkCYTHOG8chz_gnvgOqdGYovxyjuqRyJFjEDyoF1Fvkj6hQPdPHI51OEUKEpgz3SsLWIqS_uA", "base64url");
    const { plaintext, rs, keyid } = decryptContent(body, () => Buffer.from("BO3ZVPxUlnLORbVGMpbT1Q", "base64url"));
    assert.equal(plaintext.toString(), "I am the walrus");
    assert.equal(rs, 25);
    assert.equal(keyid.toString(), "a1");
    assert.throws(() => decryptContent(body, () => Buffer.alloc(16)), /does not authenticate/);
  });

  test("a Web Push message to a fresh subscription is decrypted and its JSON kept parsed", async () => {
    const subscription = recorder.subscription();
    const message = { title: "Deploy", body: "finished", receipt: "r1" };
    const keys = { p256dh: Buffer.from(subscription.keys.p256dh, "base64url"), auth: Buffer.from(subscription.keys.auth, "base64url") };
    const response = await webPush(subscription.endpoint, encryptWebPush(JSON.stringify(message), keys), { urgency: "high", topic: "n-abc_123" });
    assert.equal(response.status, 201);
    const [push] = recorder.pushes();
    assert.deepEqual(push.payload, message);
    assert.equal(push.headers.urgency, "high");
    assert.equal(push.headers.topic, "n-abc_123");
  });

  test("refuses Web Push messages as push services do: VAPID, TTL, key, unknown subscription", async () => {
    const subscription = recorder.subscription();
    const keysOf = { p256dh: Buffer.from(subscription.keys.p256dh, "base64url"), auth: Buffer.from(subscription.keys.auth, "base64url") };
    const body = encryptWebPush("hello", keysOf);
    const otherKey = generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey;
    const forged = vapid(subscription.endpoint, {}, otherKey); // signed by another key, claiming ours
    const cases = [
      [{ authorization: forged }, 403, /signature/],
      [{ authorization: vapid(subscription.endpoint, {}, otherKey, b64(p256Raw(otherKey))) }, 403, /does not correspond/],
      [{ authorization: vapid(subscription.endpoint, { aud: "https://fcm.googleapis.com" }) }, 403, /aud/],
      [{ authorization: vapid(subscription.endpoint, { exp: now() + 25 * 3600 }) }, 403, /ahead/],
      [{ authorization: vapid(subscription.endpoint, { exp: now() - 1 }) }, 403, /past/],
      [{ authorization: vapid(subscription.endpoint, { sub: "mailto:dev@localhost" }) }, 403, /sub/],
      [{ authorization: "" }, 401, /Authorization/],
      [{ ttl: "" }, 400, /TTL/],
      [{ "content-encoding": "aesgcm" }, 400, /aes128gcm/],
      [{ topic: "x".repeat(33) }, 400, /Topic/],
    ];
    for (const [headers, status, why] of cases) {
      const response = await webPush(subscription.endpoint, body, headers);
      assert.equal(response.status, status, JSON.stringify(headers));
      assert.match(await response.text(), why);
    }
    const gone = await webPush(`${recorder.url}/push/no-such-subscription`, body);
    assert.equal(gone.status, 410);
    const tampered = Buffer.from(body);
    tampered[tampered.length - 1] ^= 1;
    assert.equal((await webPush(subscription.endpoint, tampered)).status, 400, "a body that does not decrypt");
    assert.deepEqual(recorder.pushes().map((p) => p.status), [...cases.map(([, status]) => status), 410, 400]);
  });

  test("accepts an APNs request with a valid provider token and lists it", async () => {
    const device = "a".repeat(64);
    const payload = { aps: { alert: { title: "Deploy", body: "finished" }, "mutable-content": 1 }, herald: { id: "n1" } };
    const apnsId = randomUUID();
    const response = await apns(device, payload, { "apns-collapse-id": "inbox-bob-1", "apns-id": apnsId });
    assert.equal(response.status, 200);
    assert.equal(response.headers.get("apns-id"), apnsId, "APNs echoes the apns-id it was given");
    assert.equal(await response.text(), "");
    const [push] = recorder.pushes();
    assert.deepEqual(
      { provider: push.provider, device: push.device, payload: push.payload, status: push.status, collapse: push.headers["apns-collapse-id"] },
      { provider: "apns", device, payload, status: 200, collapse: "inbox-bob-1" },
    );
    assert.match((await apns(device)).headers.get("apns-id"), /^[0-9a-f-]{36}$/, "or makes one");
  });

  test("refuses APNs requests with Apple's reasons", async () => {
    const device = "b".repeat(64);
    const otherKey = generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey;
    const signedBy = (key, iat) => `bearer ${jws({ alg: "ES256", kid: keys.APNS_KEY_ID }, { iss: keys.APNS_TEAM_ID, iat }, key)}`;
    const payload = { aps: { alert: "hi" } };
    const cases = [
      [{ authorization: signedBy(otherKey, now() - 60) }, payload, 403, "InvalidProviderToken"],
      [{ authorization: signedBy(apnsKey, now() - 3700) }, payload, 403, "ExpiredProviderToken"],
      [{ authorization: "" }, payload, 403, "MissingProviderToken"],
      [{ "apns-topic": "" }, payload, 400, "MissingTopic"],
      [{ "apns-topic": "com.example.other" }, payload, 400, "TopicDisallowed"],
      [{ "apns-push-type": "" }, payload, 400, "InvalidPushType"],
      [{ "apns-push-type": "background" }, payload, 400, "BadPriority"],
      [{ "apns-collapse-id": "c".repeat(65) }, payload, 400, "BadCollapseId"],
      [{}, { aps: { alert: "x".repeat(4100) } }, 413, "PayloadTooLarge"],
      [{}, "", 400, "PayloadEmpty"],
    ];
    for (const [headers, body, status, reason] of cases) {
      const response = await apns(device, body, headers);
      assert.equal(response.status, status, reason);
      assert.deepEqual(await response.json(), { reason });
    }
    const notHex = await apns("not-a-token");
    assert.deepEqual([notHex.status, await notHex.json()], [400, { reason: "BadDeviceToken" }]);
    // A second provider token a few minutes after the first: Apple counts it an update too soon.
    const fresh = await apns(device, payload, { authorization: signedBy(apnsKey, now() - 60 - 300) });
    assert.deepEqual([fresh.status, await fresh.json()], [429, { reason: "TooManyProviderTokenUpdates" }]);
    assert.deepEqual(
      recorder.pushes().map((p) => p.reason),
      [...cases.map((c) => c[3]), "BadDeviceToken", "TooManyProviderTokenUpdates"],
    );
  });

  test("the token endpoint issues an access token for a valid RS256 assertion and refuses a bad one", async () => {
    const response = await token();
    assert.equal(response.status, 200);
    const issued = await response.json();
    assert.match(issued.access_token, /^ya29\./);
    assert.deepEqual({ expires_in: issued.expires_in, token_type: issued.token_type }, { expires_in: 3599, token_type: "Bearer" });
    const otherKey = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey;
    const refusals = [
      [assertion({}, otherKey), "invalid_grant", "Invalid JWT Signature."],
      [assertion({ aud: "https://oauth2.googleapis.com/token" }), "invalid_grant", "Invalid JWT: Failed audience check."],
      [assertion({ exp: now() + 7200 }), "invalid_grant", /short-lived/],
      [assertion({ iat: now() - 7200, exp: now() - 3600 }), "invalid_grant", /short-lived/],
      [assertion({ iss: "someone@else.iam.gserviceaccount.com" }), "invalid_grant", "Invalid email or User ID"],
      [assertion({ scope: "https://www.googleapis.com/auth/cloud-platform" }), "invalid_scope", /scope/],
    ];
    for (const [jwt, error, description] of refusals) {
      const refused = await token(jwt);
      assert.equal(refused.status, 400);
      const answer = await refused.json();
      assert.equal(answer.error, error);
      if (typeof description === "string") assert.equal(answer.error_description, description);
      else assert.match(answer.error_description, description);
    }
    const requests = recorder.tokenRequests();
    assert.equal(requests.length, 1 + refusals.length);
    assert.equal(requests[0].assertion.claims.iss, account.client_email);
    assert.deepEqual(requests.map((r) => r.status), [200, ...refusals.map(() => 400)]);
  });

  test("FCM accepts only access tokens the token endpoint issued, for its own project", async () => {
    const { access_token: accessToken } = await (await token()).json();
    const sent = await fcm(accessToken);
    assert.equal(sent.status, 200);
    assert.match((await sent.json()).name, new RegExp(`^projects/${account.project_id}/messages/.+`));
    const [push] = recorder.pushes();
    assert.deepEqual([push.provider, push.device, push.payload.data], ["fcm", "fcm-device-token:APA91b", { herald: "{}" }]);

    const unknown = await fcm("ya29.made-up");
    assert.equal(unknown.status, 401);
    assert.equal((await unknown.json()).error.status, "UNAUTHENTICATED");
    const otherProject = await fcm(accessToken, undefined, "someone-elses-project");
    assert.deepEqual([otherProject.status, (await otherProject.json()).error.status], [403, "PERMISSION_DENIED"]);
    recorder.revokeTokens();
    assert.equal((await fcm(accessToken)).status, 401, "a token past its life");
  });

  test("FCM refuses a message as Google does: field violations for Herald's bugs, FcmError for a bad token", async () => {
    const { access_token: accessToken } = await (await token()).json();
    const numeric = await fcm(accessToken, { token: "fcm-device-token:APA91b", data: { herald: "{}", count: 12 } });
    assert.equal(numeric.status, 400);
    const { error } = await numeric.json();
    assert.equal(error.status, "INVALID_ARGUMENT");
    assert.equal(error.message, "Invalid value at 'message.data[1].value' (TYPE_STRING), 12");
    assert.deepEqual(error.details, [
      { "@type": "type.googleapis.com/google.rpc.BadRequest", fieldViolations: [{ field: "message.data[1].value", description: error.message }] },
    ]);
    const badToken = await (await fcm(accessToken, { token: "no spaces allowed" })).json();
    assert.deepEqual(badToken.error.details, [{ "@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", errorCode: "INVALID_ARGUMENT" }]);
    const big = await fcm(accessToken, { token: "fcm-device-token:APA91b", data: { herald: "x".repeat(4096) } });
    assert.equal(big.status, 400);
    assert.equal((await big.json()).error.details[0]["@type"], "type.googleapis.com/google.rpc.BadRequest");
    const priority = await fcm(accessToken, { token: "fcm-device-token:APA91b", android: { priority: "URGENT" } });
    assert.equal((await priority.json()).error.details[0].fieldViolations[0].field, "message.android.priority");
  });

  test("fails push requests on command with each provider's own error body and headers", async () => {
    const device = "c".repeat(64);
    const subscription = recorder.subscription();
    const keysOf = { p256dh: Buffer.from(subscription.keys.p256dh, "base64url"), auth: Buffer.from(subscription.keys.auth, "base64url") };
    const { access_token: accessToken } = await (await token()).json();

    recorder.fail({ path: `/3/device/${device}`, times: 1, status: 410 });
    const gone = await apns(device);
    const goneBody = await gone.json();
    assert.equal(gone.status, 410);
    assert.equal(goneBody.reason, "Unregistered");
    assert.ok(Math.abs(goneBody.timestamp - Date.now()) < 5000, "with the time APNs learnt it, in ms");
    assert.match(gone.headers.get("apns-id"), /^[0-9a-f-]{36}$/);
    recorder.fail({ path: "/3/device/", times: 1, status: 403, body: { reason: "InvalidProviderToken" } });
    assert.deepEqual(await (await apns(device)).json(), { reason: "InvalidProviderToken" });

    recorder.fail({ path: `/push/`, times: 1, status: 429, headers: { "retry-after": "3" } });
    const busy = await webPush(subscription.endpoint, encryptWebPush("{}", keysOf));
    assert.deepEqual([busy.status, busy.headers.get("retry-after"), await busy.text()], [429, "3", "Too Many Requests"]);

    const path = `/v1/projects/${account.project_id}/messages:send`;
    recorder.fail({ path, times: 1, status: 404 });
    const unregistered = await (await fcm(accessToken)).json();
    assert.deepEqual(unregistered.error.details, [{ "@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", errorCode: "UNREGISTERED" }]);
    recorder.fail({ path, times: 1, status: 503, body: { error: { code: 503, status: "UNAVAILABLE", message: "later" } }, headers: { "retry-after": "10" } });
    const unavailable = await fcm(accessToken);
    assert.deepEqual([unavailable.status, unavailable.headers.get("retry-after"), (await unavailable.json()).error.message], [503, "10", "later"]);

    assert.equal((await apns(device)).status, 200, "each failure was for one time");
    assert.deepEqual(recorder.pushes().map((p) => [p.provider, p.status]), [
      ["apns", 410],
      ["apns", 403],
      ["webpush", 429],
      ["fcm", 404],
      ["fcm", 503],
      ["apns", 200],
    ]);
    assert.deepEqual(recorder.pushes()[2].payload, {}, "a failed Web Push message is still decrypted for the record");
  });

  test("makes subscriptions and lists pushes over its control routes", async () => {
    const created = await fetch(`${recorder.url}/__recorder/subscriptions`, { method: "POST" });
    assert.equal(created.status, 201);
    const subscription = await created.json();
    assert.match(subscription.endpoint, new RegExp(`^${recorder.url}/push/[A-Za-z0-9_-]+$`));
    assert.equal(Buffer.from(subscription.keys.p256dh, "base64url").length, 65);
    assert.equal(Buffer.from(subscription.keys.auth, "base64url").length, 16);
    const keysOf = { p256dh: Buffer.from(subscription.keys.p256dh, "base64url"), auth: Buffer.from(subscription.keys.auth, "base64url") };
    await webPush(subscription.endpoint, encryptWebPush('{"title":"hi"}', keysOf));
    const pushes = await (await fetch(`${recorder.url}/__recorder/pushes`)).json();
    assert.deepEqual(pushes.map((p) => [p.provider, p.status, p.payload]), [["webpush", 201, { title: "hi" }]]);
  });
});

describe("throwaway development push keys", () => {
  test("are fresh keys of the shapes Herald reads", () => {
    const keys = generateDevKeys();
    assert.equal(Buffer.from(keys.VAPID_PUBLIC_KEY, "base64url").length, 65);
    assert.equal(Buffer.from(keys.VAPID_PRIVATE_KEY, "base64url").length, 32);
    assert.deepEqual(p256Raw(p256PrivateKey(keys.VAPID_PRIVATE_KEY, keys.VAPID_PUBLIC_KEY)).toString("base64url"), keys.VAPID_PUBLIC_KEY);
    assert.equal(createPrivateKey(keys.APNS_KEY).asymmetricKeyDetails.namedCurve, "prime256v1");
    assert.match(keys.APNS_KEY, /^-----BEGIN PRIVATE KEY-----\n/);
    assert.match(keys.APNS_KEY_ID, /^[A-Z0-9]{10}$/);
    assert.match(keys.APNS_TEAM_ID, /^[A-Z0-9]{10}$/);
    assert.equal(keys.APNS_TOPIC, "dev.herald.app");
    assert.equal(keys.VAPID_SUBJECT, "mailto:dev@herald.example");
    const account = JSON.parse(keys.FCM_SERVICE_ACCOUNT);
    assert.equal(account.type, "service_account");
    assert.equal(account.project_id, "herald-dev");
    assert.match(account.client_email, /@herald-dev\.iam\.gserviceaccount\.com$/);
    assert.equal(createPrivateKey(account.private_key).asymmetricKeyDetails.modulusLength, 2048);
    assert.equal(Buffer.from(keys.RECEIPT_SECRET, "base64url").length, 32);
    assert.notEqual(generateDevKeys().APNS_KEY, keys.APNS_KEY);
  });

  test("are added to .dev.vars once, without touching what is there, and read back intact", () => {
    const { dir, cleanup } = tempDir();
    try {
      const file = join(dir, ".dev.vars");
      writeFileSync(file, 'JWT_SECRET="local"\nAPNS_TOPIC="com.example.mine"');
      const added = addDevKeys(file);
      assert.ok(added.includes("APNS_KEY") && added.includes("FCM_SERVICE_ACCOUNT") && added.includes("FCM_TOKEN_URL"));
      assert.ok(!added.includes("APNS_TOPIC"), "a value that is there stays");
      const first = readFileSync(file, "utf8");
      assert.deepEqual(addDevKeys(file), [], "a second run adds nothing");
      assert.equal(readFileSync(file, "utf8"), first);
      const vars = readDevVars(file);
      assert.equal(vars.APNS_TOPIC, "com.example.mine");
      assert.equal(vars.JWT_SECRET, "local");
      createPrivateKey(vars.APNS_KEY);
      createPrivateKey(JSON.parse(vars.FCM_SERVICE_ACCOUNT).private_key);
      assert.equal(vars.PUSH_ALLOW_LOOPBACK_HTTP, "true");
    } finally {
      cleanup();
    }
  });

  test("the .dev.vars reader follows dotenv's quoting rules", () => {
    assert.deepEqual(parseDevVars(`A="x\\ny"\nB='x\\ny'\nexport C=plain # comment\nD="multi\nline"\n# E=no`), {
      A: "x\ny",
      B: "x\\ny",
      C: "plain",
      D: "multi\nline",
    });
  });
});

test("run as a command, the recorder checks pushes with the keys of its vars file and prints them decrypted", async () => {
  const { dir, cleanup } = tempDir();
  const file = join(dir, ".dev.vars");
  addDevKeys(file);
  const keys = readDevVars(file);
  const { child, url, out: printedSoFar, printed } = await recorderCommand(["--vars", file]);
  try {
    const subscription = await (await fetch(`${url}/__recorder/subscriptions`, { method: "POST" })).json();
    const body = encryptWebPush('{"title":"Deploy","body":"finished"}', {
      p256dh: Buffer.from(subscription.keys.p256dh, "base64url"),
      auth: Buffer.from(subscription.keys.auth, "base64url"),
    });
    const t = jws({ typ: "JWT", alg: "ES256" }, { aud: url, exp: now() + 3600, sub: keys.VAPID_SUBJECT }, p256PrivateKey(keys.VAPID_PRIVATE_KEY, keys.VAPID_PUBLIC_KEY));
    const response = await fetch(subscription.endpoint, {
      method: "POST",
      headers: { ttl: "60", urgency: "high", "content-encoding": "aes128gcm", authorization: `vapid t=${t}, k=${keys.VAPID_PUBLIC_KEY}` },
      body,
    });
    assert.equal(response.status, 201);
    await printed('  |   "body": "finished"', "the push printed");
    const out = printedSoFar();
    assert.ok(out.includes(`[recorder] push (webpush) to ${subscription.endpoint.split("/").pop()}\n  TTL 60, urgency high\n  | {\n  |   "title": "Deploy",`), out);
  } finally {
    child.kill("SIGTERM");
    cleanup();
  }
});
