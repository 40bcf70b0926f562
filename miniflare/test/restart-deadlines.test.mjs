// Deadlines held in objects' alarms fire after a restart of the runtime on persisted storage:
// a scheduled send, an email deadline, an SMS deadline, a token's expiry and a push. The new process
// knows no object's name when an alarm wakes it (nothing called it by name yet), so each object
// must know who it is from its own storage; and no request to it may see a 500 meanwhile.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { startHerald, tempDir, connected, sleep, until, WAIT_MS } from "../harness.mjs";

/** Long enough for a deadline a few seconds away plus a restart. */
const DEADLINES_MS = 20_000;

/** Deadlines short enough for a test, long enough to stop the first process before they come. */
const VARS = {
  FALLBACK_NORMAL_EMAIL_SECONDS: "5",
  FALLBACK_HIGH_SMS_SECONDS: "5",
  JWT_LEEWAY_SECONDS: "0",
};


test("every kind of pending deadline fires after a restart, and no request sees a 500", async () => {
  const { dir, cleanup } = tempDir();
  let second;
  try {
    const first = await startHerald({ vars: VARS, persist: dir, recorder: true });
    const sender = { sub: "ops" };
    const put = (uid, body) => first.api(`/api/v1/users/${uid}/contacts`, { method: "PUT", sub: uid, body });
    assert.equal((await put("mara", { email: "mara@example.com" })).status, 200);
    assert.equal((await put("tim", { phone: "+15550100" })).status, 200);
    const send = (body) => first.api("/api/v1/send", { method: "POST", ...sender, body });
    const sendAt = Date.now() + 7000;
    assert.equal((await send({ msg: "later", uid: "sol", opts: { send_at: sendAt, urgency: "normal" } })).json, true);
    assert.equal((await send({ msg: "unread", uid: "mara", opts: { urgency: "normal" } })).json, true);
    assert.equal((await send({ msg: "urgent", uid: "tim", opts: { urgency: "high" } })).json, true);

    // A Socket.IO member of a room, whose token runs out while no process runs: the room's
    // alarm must end its membership in the next one.
    const expiring = first.token("eve", { exp: Math.floor(Date.now() / 1000) + 6 });
    const { socket } = first.io({ path: "/v1/socket.io/", auth: { token: expiring }, reconnection: false });
    await connected(socket);
    const welcome = await socket.timeout(WAIT_MS).emitWithAck("join", { room: "expiry-room" });
    assert.equal(welcome.type, "welcome");
    const before = await first.api("/v1/rooms/expiry-room/presence");
    assert.deepEqual(before.json.members.map((m) => m.id), ["eve"]);
    await first.stop();
    assert.equal(first.recorder.requests().length, 0, "nothing was due before the restart");

    second = await startHerald({ vars: VARS, persist: dir, recorder: true });
    // Nothing calls the inboxes or the room by name until their alarms have fired.
    const email = await until("the email after the restart", () => second.recorder.emails()[0], DEADLINES_MS);
    assert.deepEqual(email.to, ["mara@example.com"]);
    const sms = await until("the SMS after the restart", () => second.recorder.sms()[0], DEADLINES_MS);
    assert.equal(sms.To, "+15550100");
    await sleep(Math.max(0, sendAt + 1500 - Date.now()));

    const inbox = await second.api("/api/v1/inbox", { sub: "sol" });
    assert.equal(inbox.status, 200, inbox.text);
    assert.deepEqual(inbox.json.notifications.map((n) => n.msg), ["later"], "the scheduled send reached the inbox");
    const presence = await until("the expired member gone", async () => {
      const res = await second.api("/v1/rooms/expiry-room/presence");
      assert.equal(res.status, 200, res.text);
      return res.json.members.length === 0 && res;
    }, DEADLINES_MS);
    assert.deepEqual(presence.json.members, []);
    for (const uid of ["mara", "tim"]) {
      const page = await second.api("/api/v1/inbox", { sub: uid });
      assert.equal(page.status, 200, page.text);
    }
    assert.deepEqual(
      second.logs.filter((line) => /is not a room's|again in 30 s/.test(line)),
      [],
      "no object failed to load",
    );
  } finally {
    await second?.stop();
    cleanup();
  }
});

/**
 * Runs `sql` on every object's SQLite file in a stopped Herald's persisted storage, with
 * Python's sqlite3 (the machine's, as scripts/setup.sh expects it); the rows it prints.
 */
function sqlite(dir, sql, file = (name) => name.endsWith(".sqlite") && name !== "metadata.sqlite") {
  // Miniflare keeps a class's objects in `{worker}-{class}`: `herald-RoomObject`.
  const objects = join(dir, "herald-RoomObject");
  const files = readdirSync(objects).filter(file).map((name) => join(objects, name));
  const script = "import sqlite3, sys, json\nrows = []\nfor f in sys.argv[2:]:\n  c = sqlite3.connect(f)\n  try:\n    rows += c.execute(sys.argv[1]).fetchall()\n  except sqlite3.OperationalError:\n    pass\n  c.commit()\nprint(json.dumps(rows))";
  return JSON.parse(execFileSync("python3", ["-c", script, sql, ...files], { encoding: "utf8" }));
}

test("an object woken by an alarm with no name stored says so once and stops its alarm; the next call brings its deadline back", async () => {
  const { dir, cleanup } = tempDir();
  const running = [];
  const start = async () => {
    const herald = await startHerald({ vars: VARS, persist: dir, recorder: true });
    running.push(herald);
    return herald;
  };
  try {
    const first = await start();
    const put = await first.api("/api/v1/users/nell/contacts", { method: "PUT", sub: "nell", body: { email: "nell@example.com" } });
    assert.equal(put.status, 200);
    const sent = await first.api("/api/v1/send", { method: "POST", sub: "ops", body: { msg: "unread", uid: "nell" } });
    assert.equal(sent.json, true);
    await first.stop();
    // As an object whose alarm was set before objects stored their names.
    assert.deepEqual(sqlite(dir, "SELECT name FROM object_name WHERE name = 'room:inbox:nell'"), [["room:inbox:nell"]]);
    sqlite(dir, "DELETE FROM object_name");
    assert.equal(sqlite(dir, "SELECT actor_id FROM _cf_ALARM", (name) => name === "metadata.sqlite").length, 1);

    const second = await start();
    const nameless = (line) => line.includes("does not know its name");
    await until("the nameless alarm's one line", () => second.logs.some(nameless), DEADLINES_MS);
    await sleep(1000);
    assert.equal(second.logs.filter(nameless).length, 1, "said once");
    assert.deepEqual(second.recorder.emails(), [], "nothing sent by an object that does not know who it is");
    await second.stop();
    assert.deepEqual(sqlite(dir, "SELECT actor_id FROM _cf_ALARM", (name) => name === "metadata.sqlite"), [], "no alarm left set");

    const third = await start();
    const inbox = await third.api("/api/v1/inbox", { sub: "nell" });
    assert.equal(inbox.status, 200, inbox.text);
    assert.deepEqual(inbox.json.notifications.map((n) => n.msg), ["unread"]);
    const email = await until("the email once a call named the inbox", () => third.recorder.emails()[0], DEADLINES_MS);
    assert.deepEqual(email.to, ["nell@example.com"]);
  } finally {
    for (const herald of running) await herald.stop().catch(() => {});
    cleanup();
  }
});

test("a push deadline fires after a restart", async () => {
  const { dir, cleanup } = tempDir();
  let second;
  try {
    const vars = { PUSH_NORMAL_SECONDS: "5" };
    const first = await startHerald({ vars, persist: dir, recorder: true, push: true });
    const token = "cd".repeat(32);
    const subscribed = await first.api("/api/v1/native/subscribe", { method: "POST", sub: "pia", body: { os: "ios", token } });
    assert.equal(subscribed.status, 200, subscribed.text);
    const sent = await first.api("/api/v1/send", { method: "POST", sub: "ops", body: { msg: "after the restart", uid: "pia" } });
    assert.equal(sent.json, true);
    await first.stop();
    assert.deepEqual(first.recorder.pushes(), [], "nothing was due before the restart");

    second = await startHerald({ vars, persist: dir, recorder: true, push: first.pushKeys });
    const push = await until("the push after the restart", () => second.recorder.pushes()[0], DEADLINES_MS);
    assert.equal(push.status, 200, push.why);
    assert.equal(push.device, token);
    assert.equal(push.payload.aps.alert.body, "after the restart");
  } finally {
    await second?.stop();
    cleanup();
  }
});
