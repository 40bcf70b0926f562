// The alert dialect (docs/dialects.md, "alert") end to end: unchanged socket.io-client clients
// with default options on the default path /socket.io/ of the built worker in workerd, as the
// Flask-SocketIO alert service's clients use it.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startHerald, connected, next, sleep } from "../harness.mjs";

let herald;
before(async () => (herald = await startHerald()));
after(() => herald.stop());

/** An alert client, as the seed's clients make one: `io(url)`, default options. */
const client = (options = {}, on = herald) => on.io(options);

const is = (event) => (e) => e.event === event;
const status = (name, state) => ({ name, state });

test("two users chat in a room: status on joined and left, messages to everyone, sender included", async () => {
  const room = "D5DB0B29EDE59F622165402CA116CCFF";
  const ann = client();
  const bob = client();
  await Promise.all([connected(ann.socket), connected(bob.socket)]);

  ann.socket.emit("joined", { name: "Ann", room });
  assert.deepEqual(await ann.events.wait(1, is("status")), [status("Ann", "joined")]);
  bob.socket.emit("joined", { name: "Bob", room });
  assert.deepEqual(await ann.events.wait(2, is("status")), [status("Ann", "joined"), status("Bob", "joined")]);
  assert.deepEqual(await bob.events.wait(1, is("status")), [status("Bob", "joined")], "only what came after the join");

  ann.socket.emit("text", { name: "Ann", msg: "Class ends in 5 minutes" });
  bob.socket.emit("text", { name: "Bob", msg: "Thanks!" });
  const expected = [
    { name: "Ann", msg: "Class ends in 5 minutes" },
    { name: "Bob", msg: "Thanks!" },
  ];
  const atAnn = await ann.events.wait(2, is("message"));
  const atBob = await bob.events.wait(2, is("message"));
  const byText = (a, b) => a.msg.localeCompare(b.msg);
  assert.deepEqual([...atAnn].sort(byText), expected);
  assert.deepEqual(atAnn, atBob, "both see the room's one order");

  bob.socket.emit("left", { name: "Bob" });
  assert.deepEqual((await ann.events.wait(3, is("status")))[2], status("Bob", "left"));
  await sleep(200);
  assert.deepEqual(bob.events.all(is("status")), [status("Bob", "joined")], "the one who left is not told, as in Flask-SocketIO");
  ann.socket.emit("text", { name: "Ann", msg: "still here" });
  await ann.events.wait(3, is("message"));
  await sleep(200);
  assert.equal(bob.events.all(is("message")).length, 2, "a client that left gets nothing more");
  assert.equal(ann.events.all(is("error")).length + bob.events.all(is("error")).length, 0);
  ann.socket.close();
  bob.socket.close();
});

test("a client that disconnects without `left` is announced as left", async () => {
  const room = "alert-drop";
  const ann = client();
  const bob = client();
  await Promise.all([connected(ann.socket), connected(bob.socket)]);
  ann.socket.emit("joined", { name: "Ann", room });
  await ann.events.wait(1, is("status")); // Ann is in before Bob joins, so she sees him join
  bob.socket.emit("joined", { name: "Bob", room });
  await ann.events.wait(2, is("status"));
  bob.socket.disconnect();
  const statuses = await ann.events.wait(3, is("status"));
  assert.deepEqual(statuses[2], status("Bob", "left"));
  ann.socket.close();
});

test("an app publishes into an alert room over REST and every client gets the event", async () => {
  const room = "Room 1"; // any string: the room id escapes what room ids cannot hold
  const ann = client();
  await connected(ann.socket);
  ann.socket.emit("joined", { name: "Ann", room });
  await ann.events.wait(1, is("status"));
  const res = await herald.api("/v1/rooms/alert:Room_201/messages", {
    method: "POST",
    sub: "teacher-app",
    body: { event: "message", data: { name: "system", msg: "Fire drill at 11" } },
  });
  assert.equal(res.status, 201, res.text);
  assert.deepEqual(await ann.events.wait(1, is("message")), [{ name: "system", msg: "Fire drill at 11" }]);
  const history = await herald.api("/v1/rooms/alert:Room_201/messages");
  assert.deepEqual(
    history.json.messages.map((m) => [m.event, m.data]),
    [
      ["status", status("Ann", "joined")],
      ["message", { name: "system", msg: "Fire drill at 11" }],
    ],
    "the room's log holds the chat",
  );
  ann.socket.close();
});

test("refusals are `error {code, message, event}` events, and the connection stays usable", async () => {
  const ann = client();
  await connected(ann.socket);
  const refusal = async (event, arg) => {
    const before = ann.events.all(is("error")).length;
    ann.socket.emit(event, arg);
    const errors = await ann.events.wait(before + 1, is("error"));
    return errors[before];
  };
  const shape = (e) => [Object.keys(e).sort(), e.code, e.event];
  assert.deepEqual(shape(await refusal("text", { name: "Ann", msg: "hi" })), [["code", "event", "message"], "not_joined", "text"]);
  assert.deepEqual(shape(await refusal("left", { name: "Ann" })), [["code", "event", "message"], "not_joined", "left"]);
  assert.equal((await refusal("joined", "lobby")).code, "invalid_field");
  assert.equal((await refusal("joined", { room: "r" })).code, "invalid_field");
  assert.equal((await refusal("joined", { name: "Ann", room: 7 })).code, "invalid_field");
  assert.equal((await refusal("joined", { name: "Ann", room: "x".repeat(200) })).code, "invalid_room_id");
  assert.equal((await refusal("shout", { name: "Ann" })).code, "unknown_type");
  const missing = await refusal("joined", { name: "Ann" });
  assert.match(missing.message, /room/);

  // An ack callback gets the same refusal; a handled event is acked with no arguments.
  const answer = await ann.socket.timeout(5000).emitWithAck("text", { name: "Ann", msg: "early" });
  assert.equal(answer.code, "not_joined");
  const ok = await ann.socket.timeout(5000).emitWithAck("joined", { name: "Ann", room: "alert-usable" });
  assert.equal(ok, undefined, "acked with no arguments");
  assert.deepEqual(await ann.events.wait(1, is("status")), [status("Ann", "joined")]);
  ann.socket.emit("text", { name: "Ann", msg: "works" });
  assert.deepEqual(await ann.events.wait(1, is("message")), [{ name: "Ann", msg: "works" }]);
  ann.socket.close();
});

test("tokens: a bad one is refused at connect, a good one names the user, a room outside its claim is refused", async () => {
  const bad = client({ auth: { token: "not.a.jwt" }, reconnection: false });
  const [error] = await next(bad.socket, "connect_error");
  assert.equal(error.data.code, "token_invalid");

  const alice = client({ auth: { token: herald.token("alice", { rooms: ["alert:open"] }) } });
  await connected(alice.socket);
  alice.socket.emit("joined", { name: "Alice", room: "closed" });
  const [refused] = await alice.events.wait(1, is("error"));
  assert.equal(refused.code, "room_forbidden");
  alice.socket.emit("joined", { name: "Alice", room: "open" });
  assert.deepEqual(await alice.events.wait(1, is("status")), [status("Alice", "joined")]);
  const presence = await herald.api("/v1/rooms/alert:open/presence");
  assert.deepEqual(presence.json.members, [{ id: "alice", name: "Alice" }]);
  alice.socket.close();
});

test("a route with anonymous=false needs a token", async () => {
  const strict = await startHerald({ vars: { ROUTES: "/socket.io/=alert?anonymous=false" } });
  try {
    const anon = client({ reconnection: false }, strict);
    const [error] = await next(anon.socket, "connect_error");
    assert.equal(error.data.code, "token_missing");
    const carol = client({ query: { token: strict.token("carol") } }, strict);
    await connected(carol.socket);
    carol.socket.emit("joined", { name: "Carol", room: "r" });
    assert.deepEqual(await carol.events.wait(1, is("status")), [status("Carol", "joined")]);
    carol.socket.close();
  } finally {
    await strict.stop();
  }
});
