// The email / SMS fallback end to end: jobs on the fallback queue (put there as the inbox puts
// them, through the queue's producer), the consumer sending them to the provider recorder or
// through Miniflare's send_email binding, retries with backoff, the dead-letter queue and the
// admin list; and the whole exchange from `POST /api/v1/send` to an email.
//
// The tests that send need the inbox's job calls (`/jobs/claim`, `/jobs/done`,
// `/jobs/release`, helper A's part of issue 5) and the last one the REST `send` and contacts;
// the others run on their own.
import { test, describe, before, after, beforeEach } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { startHerald, sleep, until, PROVIDER_KEYS } from "../harness.mjs";

const FROM = "Herald <notifications@example.com>";

function job(user, channel, to, n = 1) {
  return {
    key: `${user}/n${n}/${channel}`,
    user,
    channel,
    to,
    seq: n,
    notification: `n${n}`,
    subject: "You have a new notification",
    text: `Deploy ${n} finished & green`,
  };
}

const admin = (herald) => herald.token("root", { role: "admin" });
const deadLetters = async (herald, query = "") => (await herald.api(`/api/v1/admin/dead-letters${query}`, { token: admin(herald) })).json;


describe("the dead-letter list", () => {
  let herald;
  before(async () => {
    herald = await startHerald({ recorder: true });
  });
  after(() => herald?.stop());

  test("is for admins only, and its query is checked", async () => {
    const none = await herald.api("/api/v1/admin/dead-letters", { token: null });
    assert.equal(none.status, 401);
    assert.equal(none.json.code, "token_missing");
    const user = await herald.api("/api/v1/admin/dead-letters", { sub: "bob" });
    assert.equal(user.status, 403);
    assert.deepEqual(user.json, { code: "admin_required", message: 'this call needs a token with role "admin"' });
    const listed = await herald.api("/api/v1/admin/dead-letters", { token: admin(herald) });
    assert.equal(listed.status, 200);
    for (const [query, field] of [["?limit=0", "limit"], ["?limit=many", "limit"], ["?cursor=x", "cursor"]]) {
      const bad = await herald.api(`/api/v1/admin/dead-letters${query}`, { token: admin(herald) });
      assert.equal(bad.status, 400, query);
      assert.equal(bad.json.code, "invalid_field", query);
      assert.equal(bad.json.details.field, field, query);
    }
    const posted = await herald.api("/api/v1/admin/dead-letters", { method: "POST", token: admin(herald), body: {} });
    assert.equal(posted.status, 405);
    assert.equal(posted.headers.get("allow"), "GET");
  });

  test("keeps a queue message that is not a job at once, with why", async () => {
    const queue = await herald.queue("FALLBACK");
    await queue.send({ hello: "world" });
    const list = await until("the dead letter", async () => {
      const list = await deadLetters(herald);
      return list.jobs.some((j) => j.job.hello) && list;
    });
    const [entry] = list.jobs.filter((j) => j.job.hello);
    assert.deepEqual(entry, {
      job: { hello: "world" },
      attempts: 1,
      reason: "the message is not a job: missing field `key` at line 1 column 17",
      at: entry.at,
    });
    assert.ok(Math.abs(entry.at - Date.now()) < 60_000);
    assert.deepEqual(herald.recorder.requests(), []);
  });

  test("lists them newest first, in pages", async () => {
    const queue = await herald.queue("FALLBACK");
    for (const n of [1, 2, 3]) {
      await queue.send({ page: n });
      await sleep(20); // one at a time: kept in this order
    }
    const pages = async (query) => (await deadLetters(herald, query)).jobs.filter((j) => j.job.page);
    await until("three dead letters", async () => (await pages("")).length === 3);
    const first = await deadLetters(herald, "?limit=2");
    assert.deepEqual(first.jobs.map((j) => j.job), [{ page: 3 }, { page: 2 }]);
    assert.equal(typeof first.next, "string");
    const second = await deadLetters(herald, `?limit=2&cursor=${first.next}`);
    assert.deepEqual(second.jobs.map((j) => j.job)[0], { page: 1 });
    assert.ok(first.jobs[0].at >= first.jobs[1].at && first.jobs[1].at >= second.jobs[0].at);
  });
});

describe("sending through the providers (needs the inbox's job calls)", () => {
  let herald;
  before(async () => {
    herald = await startHerald({
      recorder: true,
      vars: { FALLBACK_MAX_ATTEMPTS: "3", FALLBACK_RETRY_BASE_SECONDS: "1", FALLBACK_SEND_TIMEOUT_SECONDS: "1" },
    });
  });
  after(() => herald?.stop());
  beforeEach(() => herald.recorder.reset());

  test("an email job is sent once, as Resend's exact request", async () => {
    const queue = await herald.queue("FALLBACK");
    const bob = job("bob", "email", "bob@example.com");
    await queue.send(bob);
    await until("the email", () => herald.recorder.emails().length === 1);
    const [request] = herald.recorder.requests();
    assert.deepEqual(
      { method: request.method, path: request.path, status: request.status },
      { method: "POST", path: "/emails", status: 200 },
    );
    assert.equal(request.headers.authorization, `Bearer ${PROVIDER_KEYS.EMAIL_API_KEY}`);
    assert.equal(request.headers["content-type"], "application/json");
    assert.equal(request.headers["idempotency-key"], "bob/n1/email");
    assert.deepEqual(herald.recorder.emails(), [
      { from: FROM, to: ["bob@example.com"], subject: "You have a new notification", text: "Deploy 1 finished & green" },
    ]);
    // The same job delivered again (queues deliver at least once): the inbox says it was sent.
    await queue.send(bob);
    await sleep(1500);
    assert.equal(herald.recorder.requests().length, 1);
  });

  test("an SMS job is Twilio's form post with basic auth", async () => {
    const queue = await herald.queue("FALLBACK");
    await queue.send(job("dan", "sms", "+1 555 0100"));
    await until("the SMS", () => herald.recorder.sms().length === 1);
    const [request] = herald.recorder.requests();
    assert.equal(request.path, `/2010-04-01/Accounts/${PROVIDER_KEYS.TWILIO_ACCOUNT_SID}/Messages.json`);
    const credentials = Buffer.from(`${PROVIDER_KEYS.TWILIO_ACCOUNT_SID}:${PROVIDER_KEYS.TWILIO_AUTH_TOKEN}`).toString("base64");
    assert.equal(request.headers.authorization, `Basic ${credentials}`);
    assert.equal(request.headers["content-type"], "application/x-www-form-urlencoded");
    assert.equal(request.body, "To=%2B1+555+0100&From=%2B15550000000&Body=Deploy+1+finished+%26+green");
    assert.deepEqual(herald.recorder.sms(), [{ To: "+1 555 0100", From: "+15550000000", Body: "Deploy 1 finished & green" }]);
  });

  test("a provider failing twice then succeeding yields exactly one email, after doubling delays", async () => {
    herald.recorder.fail({ path: "/emails", times: 2, status: 503 });
    const queue = await herald.queue("FALLBACK");
    await queue.send(job("erin", "email", "erin@example.com"));
    await until("the email", () => herald.recorder.emails().length === 1, 15_000);
    const requests = herald.recorder.requests();
    assert.deepEqual(requests.map((r) => r.status), [503, 503, 200]);
    // Retried after FALLBACK_RETRY_BASE_SECONDS (1 s), then twice that.
    assert.ok(requests[1].at - requests[0].at >= 1000, `${requests[1].at - requests[0].at} ms`);
    assert.ok(requests[2].at - requests[1].at >= 2000, `${requests[2].at - requests[1].at} ms`);
    assert.deepEqual(herald.recorder.emails(), [
      { from: FROM, to: ["erin@example.com"], subject: "You have a new notification", text: "Deploy 1 finished & green" },
    ]);
    await sleep(1000);
    assert.equal(herald.recorder.requests().length, 3, "nothing after the email");
  });

  test("a provider that does not answer in time is given up on, then retried", async () => {
    herald.recorder.fail({ path: "/emails", times: 1, timeout: true });
    const queue = await herald.queue("FALLBACK");
    await queue.send(job("fay", "email", "fay@example.com"));
    await until("the email", () => herald.recorder.emails().length === 1, 15_000);
    assert.deepEqual(herald.recorder.requests().map((r) => r.status), ["timeout", 200]);
  });

  test("a provider that keeps failing ends in the admin dead-letter list with its reason", async () => {
    herald.recorder.fail({ path: "/2010-04-01/", status: 503 });
    const queue = await herald.queue("FALLBACK");
    const gus = job("gus", "sms", "+15550199");
    await queue.send(gus);
    const entry = await until(
      "the dead letter",
      async () => (await deadLetters(herald)).jobs.find((j) => j.job.key === gus.key),
      20_000,
    );
    assert.deepEqual(entry, {
      job: gus,
      attempts: 3,
      reason: 'the provider answered 503: {"statusCode":503,"name":"recorder_failure","message":"failing on command"}',
      at: entry.at,
    });
    assert.deepEqual(herald.recorder.requests().map((r) => r.status), [503, 503, 503]);
    assert.deepEqual(herald.recorder.sms(), []);
  });

  test("an SMS that may have gone out (no answer in time) is not sent again: it is a dead letter at once", async () => {
    herald.recorder.fail({ path: "/2010-04-01/", times: 1, timeout: true });
    const queue = await herald.queue("FALLBACK");
    const hugo = job("hugo", "sms", "+15550123");
    await queue.send(hugo);
    const entry = await until("the dead letter", async () => (await deadLetters(herald)).jobs.find((j) => j.job.key === hugo.key));
    const url = `${herald.recorder.url}/2010-04-01/Accounts/${PROVIDER_KEYS.TWILIO_ACCOUNT_SID}/Messages.json`;
    assert.deepEqual(entry, {
      job: hugo,
      attempts: 1,
      reason:
        `${url} gave no answer within 1000 ms; the SMS may have been sent, so it is not sent again ` +
        "(Twilio takes no idempotency key)",
      at: entry.at,
    });
    // Delivered again (queues deliver at least once): the inbox says it is done.
    await queue.send(hugo);
    await sleep(2500);
    assert.deepEqual(herald.recorder.requests().map((r) => r.status), ["timeout"]);
  });
});

describe("a job no attempt could send (needs the inbox's job calls)", () => {
  let herald;
  before(async () => {
    herald = await startHerald({ recorder: true, vars: { EMAIL_API_KEY: "" } });
  });
  after(() => herald?.stop());

  test("is kept at once with why, and nothing is sent", async () => {
    const queue = await herald.queue("FALLBACK");
    const carol = job("carol", "email", "carol@example.com");
    await queue.send(carol);
    const entry = await until("the dead letter", async () => (await deadLetters(herald)).jobs.find((j) => j.job.key === carol.key));
    assert.deepEqual(entry, { job: carol, attempts: 1, reason: "EMAIL_API_KEY is not set", at: entry.at });
    assert.deepEqual(herald.recorder.requests(), []);
  });
});

describe("sending through the send_email binding (needs the inbox's job calls)", () => {
  let herald;
  before(async () => {
    herald = await startHerald({ sendEmail: true, vars: { EMAIL_PROVIDER: "binding" } });
  });
  after(() => herald?.stop());

  test("an email job is an RFC 5322 message the binding takes", async () => {
    const queue = await herald.queue("FALLBACK");
    await queue.send({ ...job("zoë", "email", "zoe@example.com"), subject: "Zoë, one new notification" });
    const line = await until("the binding's message", () =>
      herald.platformLogs.map((l) => l.replace(/\x1b\[[0-9;]*m/g, "")).find((l) => /send_email binding called/.test(l)),
    );
    const file = /(\S+\.eml)/.exec(line)[1];
    const raw = readFileSync(file, "utf8");
    const [head, body] = raw.split("\r\n\r\n");
    const headers = Object.fromEntries(head.split("\r\n").map((h) => [h.slice(0, h.indexOf(":")), h.slice(h.indexOf(":") + 2)]));
    assert.deepEqual(
      { ...headers, Date: undefined },
      {
        From: FROM,
        To: "zoe@example.com",
        Subject: `=?UTF-8?B?${Buffer.from("Zoë, one new notification").toString("base64")}?=`,
        Date: undefined,
        "Message-ID": "<zo%C3%AB/n1/email@example.com>",
        "MIME-Version": "1.0",
        "Content-Type": "text/plain; charset=utf-8",
        "Content-Transfer-Encoding": "base64",
      },
    );
    assert.ok(Math.abs(Date.parse(headers.Date) - Date.now()) < 60_000, headers.Date);
    assert.equal(Buffer.from(body, "base64").toString("utf8"), "Deploy 1 finished & green");
  });
});

describe("the exchange: a notification not seen in time is emailed (needs the inbox)", () => {
  let herald;
  before(async () => {
    herald = await startHerald({ recorder: true, vars: { FALLBACK_NORMAL_EMAIL_SECONDS: "1" } });
  });
  after(() => herald?.stop());

  test("a send to an offline user with an email address reaches the recorder once", async () => {
    const contacts = await herald.api("/api/v1/users/hal/contacts", { method: "PUT", sub: "hal", body: { email: "hal@example.com" } });
    assert.equal(contacts.status, 200, contacts.text);
    const sent = await herald.api("/api/v1/send", { method: "POST", sub: "ivy", body: { msg: "Lunch at noon?", uid: "hal" } });
    assert.equal(sent.status, 200, sent.text);
    assert.equal(sent.json, true);
    await until("the email", () => herald.recorder.emails().length === 1, 10_000);
    const [email] = herald.recorder.emails();
    assert.equal(email.from, FROM);
    assert.deepEqual(email.to, ["hal@example.com"]);
    assert.ok(email.text.includes("Lunch at noon?"), email.text);
    const [request] = herald.recorder.requests();
    assert.match(request.headers["idempotency-key"], /^hal\/[^/]+\/email$/);
    await sleep(2000);
    assert.equal(herald.recorder.requests().length, 1, "one email, however long it stays unread");
  });
});
