// The provider recorder (scripts/recorder.mjs) on its own: it accepts Resend's and Twilio's
// exact requests and refuses what they refuse, keeps what it received, fails and times out on
// command, answers its control routes, and prints each email and SMS readably.
import { test, describe, before, after, beforeEach } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { join } from "node:path";
import { startRecorder } from "../../scripts/recorder.mjs";
import { root, within } from "../harness.mjs";

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

test("run as a command, the recorder prints each email and SMS readably", async () => {
  const child = spawn(process.execPath, [join(root, "scripts/recorder.mjs"), "--port", "0"], { stdio: ["ignore", "pipe", "inherit"] });
  let out = "";
  child.stdout.on("data", (chunk) => (out += chunk));
  try {
    const url = await within(
      new Promise((resolve) => child.stdout.on("data", () => /listening on (\S+):/.test(out) && resolve(/listening on (\S+):/.exec(out)[1]))),
      "the recorder listening",
    );
    await postEmail(url);
    await postSms(url);
    await within(
      (async () => {
        while (!out.includes("| Deploy finished & green")) await new Promise((r) => setTimeout(r, 20));
      })(),
      "both printed",
    );
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
