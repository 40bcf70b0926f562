// The tndata dialect end to end: plain `ws` clients on /chat/{user}/ and fetch on
// /api/chat/{user}/ against the built worker in workerd, walking the flow tndata's chat documents
// with every frame's exact shape, then its refusals.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startHerald, Client, pending } from "../harness.mjs";
import { mint } from "../../scripts/token.mjs";

let herald;
before(async () => (herald = await startHerald()));
after(() => herald.stop());

const HEX32 = /^[0-9a-f]{32}$/;
const AVATAR = "//lh5.googleusercontent.com/alice/photo.jpg";

/** A tndata client of `sub` talking to `other`: the token in `?token=`, or in `authorization: token`. */
async function chat(sub, other, { header = false, claims } = {}) {
  const token = herald.token(sub, claims);
  if (header) return Client.open(`${herald.ws}/chat/${other}/`, undefined, { headers: { authorization: `token ${token}` } });
  return Client.open(`${herald.ws}/chat/${other}/?token=${token}`);
}

/** The next `count` frames, whatever they are. */
const frames = (client, count = 1) => client.take(count);

/** A system message's fields but its digest (checked: 32 hex). */
function system(frame) {
  const { digest, ...rest } = frame;
  assert.match(digest, HEX32);
  return rest;
}
const notice = (message) => ({ from_id: "", avatar: "", from: "system", message });
const refusal = (error, message) => ({ ...notice(message), error });

/** A chat message's digest: 32 hex, ending in the message's seq. */
function seqOf(frame) {
  assert.match(frame.digest, HEX32);
  return parseInt(frame.digest.slice(16), 16);
}

/** Sends `text` from `client` and returns the message as both sides received it (checked equal). */
async function say(client, other, text, extra = {}) {
  client.send({ text, ...extra });
  const [mine] = await frames(client);
  const [theirs] = await frames(other);
  assert.deepEqual(theirs, mine, "both sides get the same message");
  return mine;
}

async function history(sub, other, query = "", options = {}) {
  return herald.api(`/api/chat/${other}/${query}`, { token: herald.token(sub), ...options });
}

test("two users chat over /chat/{user}/ as the seed documents: system notices, messages, receipts, history", async () => {
  const alice = await chat("alice", "bob", { claims: { avatar: AVATAR } });
  assert.deepEqual((await frames(alice)).map(system), [notice("alice name joined.")]);

  const bob = await chat("bob", "alice", { header: true });
  assert.deepEqual((await frames(bob)).map(system), [notice("bob name joined.")]);
  assert.deepEqual((await frames(alice)).map(system), [notice("bob name joined.")]);

  const hello = await say(alice, bob, "Hello World!", { from: "alice", token: herald.token("alice") });
  const helloDigest = hello.digest;
  assert.deepEqual(hello, { from_id: "alice", avatar: AVATAR, from: "alice name", message: "Hello World!", digest: helloDigest });
  assert.equal(seqOf(hello), 1);

  const reply = await say(bob, alice, "Hi Alice");
  assert.deepEqual(reply, { from_id: "bob", avatar: "", from: "bob name", message: "Hi Alice", digest: reply.digest });
  assert.equal(seqOf(reply), 2);
  assert.notEqual(reply.digest, helloDigest);

  // bob marks alice's message read; his next message shows the receipt was handled before it.
  bob.send({ received: helloDigest });
  const after = await say(bob, alice, "got it");
  assert.equal(seqOf(after), 3);
  assert.deepEqual(pending(bob), [], "a receipt is not answered");

  const page = await history("alice", "bob");
  assert.equal(page.status, 200);
  const item = (m, read) => ({ ...m, read, seq: seqOf(m), ts: page.json.results.find((r) => r.digest === m.digest).ts });
  assert.deepEqual(page.json, { results: [item(after, false), item(reply, false), item(hello, true)], next: null });
  for (const r of page.json.results) assert.ok(Math.abs(r.ts - Date.now()) < 60_000, "ts is when the room took it");

  await bob.close();
  assert.deepEqual((await frames(alice)).map(system), [notice("bob name left.")]);
  await alice.close();
});

test("history pages go newest first or oldest first, follow their cursor, and flag what the other side read", async () => {
  const carol = await chat("carol", "dave");
  const dave = await chat("dave", "carol");
  await frames(carol, 2);
  await frames(dave, 1);
  const sent = [];
  for (let i = 1; i <= 5; i++) sent.push(await say(i % 2 ? carol : dave, i % 2 ? dave : carol, `m${i}`));
  // dave read up to carol's m3; carol read dave's m2.
  dave.send({ received: sent[2].digest });
  carol.send({ received: sent[1].digest });
  await say(dave, carol, "m6");
  await say(carol, dave, "m7");

  const pages = async (sub, order) => {
    const seen = [];
    let cursor = null;
    for (;;) {
      const query = `?limit=3${order ? `&order=${order}` : ""}${cursor ? `&cursor=${cursor}` : ""}`;
      const page = await history(sub, sub === "carol" ? "dave" : "carol", query);
      assert.equal(page.status, 200, page.text);
      assert.deepEqual(Object.keys(page.json).sort(), ["next", "results"]);
      assert.ok(page.json.results.length <= 3);
      seen.push(page.json.results.map((r) => `${r.seq}:${r.message}:${r.read}`));
      cursor = page.json.next;
      if (cursor === null) return seen;
      assert.equal(typeof cursor, "string");
    }
  };
  assert.deepEqual(await pages("carol"), [
    ["7:m7:false", "6:m6:false", "5:m5:false"],
    ["4:m4:false", "3:m3:true", "2:m2:true"],
    ["1:m1:true"],
  ]);
  assert.deepEqual(await pages("dave", "oldest"), [
    ["1:m1:true", "2:m2:true", "3:m3:true"],
    ["4:m4:false", "5:m5:false", "6:m6:false"],
    ["7:m7:false"],
  ]);
  const [first] = (await history("dave", "carol", "?order=oldest&limit=1")).json.results;
  assert.deepEqual(first, { ...sent[0], read: true, seq: 1, ts: first.ts });
  const viaHeader = await herald.api("/api/chat/carol/", { token: null, headers: { authorization: `token ${herald.token("dave")}` } });
  assert.equal(viaHeader.status, 200);
  assert.equal(viaHeader.json.results.length, 7);
  await Promise.all([carol.close(), dave.close()]);
});

test("a native client in the conversation's room sees the same messages in its own shape", async () => {
  const erin = await chat("erin", "frank");
  await frames(erin);
  // A conversation belongs to its two users: a third party needs a token that names it.
  const outsider = await herald.api("/v1/rooms/tndata:erin:frank/messages", { sub: "ops" });
  assert.equal(outsider.status, 403, outsider.text);
  assert.equal(outsider.json.code, "room_forbidden");
  const native = await herald.connect("tndata:erin:frank", "ops", { claims: { rooms: ["tndata:erin:frank"] } });
  const [welcome, presence] = await native.take(2);
  assert.equal(welcome.type, "welcome");
  assert.deepEqual(presence.members.map((m) => m.id).sort(), ["erin", "ops"]);
  assert.deepEqual((await frames(erin)).map(system), [notice("ops name joined.")]);

  erin.send({ text: "is anyone there?" });
  const [mine] = await frames(erin);
  const message = await native.next("message");
  assert.deepEqual(message, {
    type: "message", room: "tndata:erin:frank", seq: 1, id: message.id, event: "message",
    data: { text: "is anyone there?" }, from: { id: "erin", name: "erin name" }, ts: message.ts,
  });
  assert.match(message.id, HEX32);
  assert.equal(seqOf(mine), 1);

  const ack = await native.publish("message", { text: "ops here" });
  assert.equal(ack.seq, 2);
  const [answer] = await frames(erin);
  assert.deepEqual(answer, { from_id: "ops", avatar: "", from: "ops name", message: "ops here", digest: answer.digest });
  assert.equal(seqOf(answer), 2);
  await Promise.all([erin.close(), native.close()]);
});

test("malformed frames and bad receipts each get a coded system message, and the socket keeps working", async () => {
  const gina = await chat("gina", "hank");
  const hank = await chat("hank", "gina");
  await frames(gina, 2);
  await frames(hank);
  const bad = async (text, expected) => {
    gina.send(text);
    const [got] = await frames(gina);
    assert.deepEqual(system(got), expected);
  };
  gina.send("this is not json");
  const [notJson] = await frames(gina);
  assert.equal(notJson.error, "malformed_json");
  assert.deepEqual(Object.keys(notJson).sort(), ["avatar", "digest", "error", "from", "from_id", "message"]);
  await bad({ message: "hi" }, refusal("invalid_field", '`text` is required (or send {"received": digest})'));
  await bad({ text: 42 }, refusal("invalid_field", "`text` must be a string"));
  await bad({ text: "hi", from: "hank" }, refusal("invalid_field", '`from` must be your own user id, "gina"'));
  await bad({ received: "0123" }, refusal("invalid_field", "`received` must be a message's digest (32 hex characters)"));
  const elsewhere = await chat("gina", "ivan");
  await frames(elsewhere);
  elsewhere.send({ text: "for ivan" });
  const [{ digest: foreignDigest }] = await frames(elsewhere);
  await bad({ received: foreignDigest }, refusal("invalid_field", `\`received\` "${foreignDigest}" is not the digest of a message of this conversation`));
  assert.deepEqual(pending(hank), [], "refusals go to their sender only");

  const fine = await say(gina, hank, "still working");
  assert.deepEqual(fine, { from_id: "gina", avatar: "", from: "gina name", message: "still working", digest: fine.digest });
  await Promise.all([gina.close(), hank.close(), elsewhere.close()]);
});

test("a missing or bad token, a chat with oneself, or a room the token does not allow is refused before the upgrade", async () => {
  const refused = async (path, options) => {
    const error = await Client.open(`${herald.ws}${path}`, undefined, options).then(
      (c) => {
        c.terminate();
        throw new Error("the upgrade was accepted");
      },
      (e) => e,
    );
    assert.ok(error.status, `refused with an HTTP status, not ${error}`);
    return { status: error.status, code: error.body.code };
  };
  assert.deepEqual(await refused("/chat/bob/"), { status: 401, code: "token_missing" });
  assert.deepEqual(await refused("/chat/bob/?token=not.a.jwt"), { status: 401, code: "token_invalid" });
  const forged = mint({ sub: "mallory" }, "some-other-secret-that-is-32-bytes-long");
  assert.deepEqual(await refused("/chat/bob/", { headers: { authorization: `token ${forged}` } }), { status: 401, code: "token_invalid" });
  assert.deepEqual(await refused(`/chat/alice/?token=${herald.token("alice")}`), { status: 400, code: "chat_with_self" });
  const narrow = herald.token("alice", { rooms: ["tndata:alice:bob"] });
  assert.deepEqual(await refused(`/chat/carol/?token=${narrow}`), { status: 403, code: "room_forbidden" });
  const allowed = await Client.open(`${herald.ws}/chat/bob/?token=${narrow}`);
  await allowed.take(1);
  await allowed.close();

  const plain = await herald.api("/chat/bob/", { token: herald.token("alice") });
  assert.equal(plain.status, 426);
  assert.equal(plain.json.code, "upgrade_required");
});

test("history refuses bad tokens, oneself, other rooms and bad parameters with coded 400s", async () => {
  const refused = async (res) => ({ status: res.status, code: res.json.code });
  assert.deepEqual(await refused(await herald.api("/api/chat/bob/", { token: null })), { status: 401, code: "token_missing" });
  assert.deepEqual(await refused(await history("alice", "alice")), { status: 400, code: "chat_with_self" });
  const narrow = herald.token("alice", { rooms: ["tndata:alice:bob"] });
  assert.deepEqual(await refused(await herald.api("/api/chat/carol/", { token: narrow })), { status: 403, code: "room_forbidden" });
  const wrong = await herald.api("/api/chat/bob/", { method: "POST", body: {} });
  assert.equal(wrong.status, 405);
  for (const [query, field, message] of [
    ["?order=sideways", "order", '`order` must be newest or oldest, not "sideways"'],
    ["?limit=0", "limit", "`limit` must be a whole number from 1 to 100"],
    ["?limit=101", "limit", "`limit` must be a whole number from 1 to 100"],
    ["?cursor=abc", "cursor", "`cursor` must be the `next` of a page"],
  ]) {
    const res = await history("alice", "bob", query);
    assert.equal(res.status, 400, query);
    assert.deepEqual(res.json, { code: "invalid_field", message, details: { field } });
  }
  const empty = await history("alice", "nobody-yet");
  assert.deepEqual([empty.status, empty.json], [200, { results: [], next: null }]);
});

test("a frame over the size limit is refused with a system message, then the socket is closed 1009", async () => {
  const jo = await chat("jo", "kim");
  await frames(jo);
  jo.send({ text: "x".repeat(70 * 1024) });
  const [told] = await frames(jo);
  assert.equal(told.error, "frame_too_large");
  assert.equal(told.from, "system");
  assert.equal((await jo.closed).code, 1009);
});

test("an evicted conversation wakes with its sockets still speaking tndata and its read marks kept", async () => {
  const loads = () => herald.logs.filter((l) => l.includes("room tndata:lee:max loaded:"));
  const lee = await chat("lee", "max");
  const max = await chat("max", "lee");
  await frames(lee, 2);
  await frames(max);
  const first = await say(lee, max, "before the nap");
  max.send({ received: first.digest });
  await say(max, lee, "read it");
  assert.equal(loads().length, 1);

  await new Promise((r) => setTimeout(r, 12_000));
  const woke = await say(lee, max, "after the nap");
  assert.deepEqual(woke, { from_id: "lee", avatar: "", from: "lee name", message: "after the nap", digest: woke.digest });
  assert.equal(seqOf(woke), 3);
  assert.equal(loads().length, 2, "the room was evicted and loaded again");
  const page = await history("lee", "max", "?order=oldest");
  assert.deepEqual(page.json.results.map((r) => [r.seq, r.read]), [[1, true], [2, false], [3, false]]);
  await max.close();
  assert.deepEqual((await frames(lee)).map(system), [notice("max name left.")]);
  await lee.close();
});
