// The workspace dialect (docs/dialects.md, "workspace") end to end: the official
// `socket.io-client` with default options and `path: "/workspace/socket.io"`, against the built
// worker in workerd; the app's events published over REST. Two users, one of them on two devices.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startHerald, connected, sleep } from "../harness.mjs";

const PATH = "/workspace/socket.io";

let herald;
before(async () => (herald = await startHerald()));
after(() => herald.stop());

/** Matches events named `name`. */
const is = (name) => (e) => e.event === name;

/** A connected workspace client (not yet authenticated): its socket and its event log. */
async function client() {
  const c = herald.io({ path: PATH });
  await connected(c.socket);
  return c;
}

/** Emits `auth` for `sub` in `workspaceId` and waits for auth-success; returns it. */
async function auth(c, sub, workspaceId, extra = {}) {
  c.socket.emit("auth", { token: herald.token(sub), workspaceId, ...extra });
  const [success] = await c.events.wait(1, is("auth-success"));
  return success;
}

/** Publishes the app event `event` with `data` into the workspace over REST. */
async function app(workspaceId, event, data, headers = {}) {
  const res = await herald.api(`/v1/rooms/workspace:${workspaceId}/messages`, {
    method: "POST",
    sub: "workspace-app",
    body: { event, data },
    headers,
  });
  assert.equal(res.status, 201, res.text);
}

/** The `[event, argument]` pairs of `c`'s log whose event is one of `names`. */
const seen = (c, ...names) => c.events.log.filter((e) => names.includes(e.event)).map((e) => [e.event, e.frame]);

/** The two error events of a refused event with a transaction, exactly. */
async function refusedWith(c, { event, code, message, transaction }) {
  const [error] = await c.events.wait(1, is("socket-api-error"));
  if (message === undefined) {
    assert.equal(typeof error.message, "string");
    assert.ok(error.message.length > 0);
    message = error.message;
  }
  assert.deepEqual(error, { event, message, code });
  if (transaction !== undefined) {
    const [variant] = await c.events.wait(1, is(`socket-api-error-${transaction}`));
    assert.deepEqual(variant, { message, code });
  }
  c.events.log.length = 0;
  return message;
}

test("two users, one on two devices: auth, the app's events, channels, media, devices and online status", async () => {
  const ws = "acme";
  const phone = await client();
  const laptop = await client();
  const bob = await client();

  // auth-success echoes the transaction; the status is announced once per change for alice.
  assert.deepEqual(await auth(phone, "alice", ws, { transaction: "auth-1" }), { transaction: "auth-1", userId: "alice" });
  assert.deepEqual(await auth(bob, "bob", ws, { transaction: "auth-2", onlineStatus: "online" }), {
    transaction: "auth-2",
    userId: "bob",
  });
  assert.deepEqual(await auth(laptop, "alice", ws), { userId: "alice" }, "no transaction given, none echoed");
  const online = (userId) => ["online-status-updated", { userId, onlineStatus: "online" }];
  await bob.events.wait(2, is("online-status-updated"));
  await laptop.events.wait(2, is("online-status-updated"));

  // The app's events, over REST, reach every client as they were published.
  const appEvents = [
    ["channel-created", { channelId: "c1" }],
    ["channel-deleted", { channelId: "c0" }],
    ["user-joined", { user: { id: "carol", name: "Carol", email: "carol@example.com" } }],
    ["user-updated", { user: { id: "bob", name: "Bob B." } }],
    ["user-leaved-workspace", { userId: "dave" }],
  ];
  for (const [event, data] of appEvents) await app(ws, event, data);
  const names = appEvents.map(([event]) => event);
  for (const c of [phone, laptop, bob]) {
    await c.events.wait(appEvents.length, (e) => names.includes(e.event));
  }
  // Statuses so far: each client saw alice once and bob once, in the order they came online.
  assert.deepEqual(seen(phone, "online-status-updated"), [online("alice"), online("bob")]);
  assert.deepEqual(seen(bob, "online-status-updated"), [online("alice"), online("bob")]);
  assert.deepEqual(seen(laptop, "online-status-updated"), [online("alice"), online("bob")], "a newcomer is told who is online");
  for (const c of [phone, laptop, bob]) {
    assert.deepEqual(seen(c, ...names), appEvents);
    c.events.log.length = 0;
  }

  // A REST call naming a socket id skips that socket.
  await app(ws, "user-updated", { user: { id: "alice", name: "Alice" } }, { "x-socket-id": phone.socket.id });
  await app(ws, "channel-created", { channelId: "c2" });
  for (const c of [phone, laptop, bob]) await c.events.wait(1, is("channel-created"));
  assert.deepEqual(seen(phone, "user-updated", "channel-created"), [["channel-created", { channelId: "c2" }]]);
  assert.deepEqual(seen(bob, "user-updated", "channel-created"), [
    ["user-updated", { user: { id: "alice", name: "Alice" } }],
    ["channel-created", { channelId: "c2" }],
  ]);
  for (const c of [phone, laptop, bob]) c.events.log.length = 0;

  // The phone enters c1 and changes its media state.
  phone.socket.emit("select-channel", { channelId: "c1", userMediaState: { audio: true, video: false } });
  phone.socket.emit("update-media-state", { userMediaState: { audio: false, video: false }, transaction: "m-1" });
  const selected1 = ["user-selected-channel", { userId: "alice", channelId: "c1", userMediaState: { audio: true, video: false } }];
  const media = ["media-state-updated", { userId: "alice", userMediaState: { audio: false, video: false } }];
  for (const c of [phone, laptop, bob]) {
    await c.events.wait(1, is("media-state-updated"));
    assert.deepEqual(c.events.log.map((e) => [e.event, e.frame]), [selected1, media]);
    c.events.log.length = 0;
  }

  // The laptop enters c2: both of alice's clients learn the device changed; the phone leaves c1.
  laptop.socket.emit("select-channel", { channelId: "c2", userMediaState: { audio: true, video: true } });
  const selected2 = ["user-selected-channel", { userId: "alice", channelId: "c2", userMediaState: { audio: true, video: true } }];
  const unselected1 = ["user-unselected-channel", { userId: "alice", channelId: "c1" }];
  const changed = ["user-changed-device", null];
  for (const c of [phone, laptop]) {
    await c.events.wait(1, is("user-unselected-channel"));
    assert.deepEqual(c.events.log.map((e) => [e.event, e.frame]), [changed, selected2, unselected1]);
    c.events.log.length = 0;
  }
  await bob.events.wait(1, is("user-unselected-channel"));
  assert.deepEqual(bob.events.log.map((e) => [e.event, e.frame]), [selected2, unselected1], "bob sees channels, not devices");
  bob.events.log.length = 0;

  laptop.socket.emit("unselect-channel", { transaction: "u-1" });
  const unselected2 = ["user-unselected-channel", { userId: "alice", channelId: "c2" }];
  for (const c of [phone, laptop, bob]) {
    await c.events.wait(1, is("user-unselected-channel"));
    assert.deepEqual(c.events.log.map((e) => [e.event, e.frame]), [unselected2]);
    c.events.log.length = 0;
  }

  // Online status: one value across alice's devices, announced once per change.
  const status = (userId, onlineStatus) => ["online-status-updated", { userId, onlineStatus }];
  phone.socket.emit("update-online-status", { onlineStatus: "idle" });
  await sleep(300); // the laptop is still online: nothing to announce
  laptop.socket.emit("update-online-status", { onlineStatus: "idle", transaction: "s-1" });
  laptop.socket.emit("update-online-status", { onlineStatus: "online" });
  for (const c of [phone, laptop, bob]) {
    await c.events.wait(2, is("online-status-updated"));
  }
  await app(ws, "channel-created", { channelId: "barrier-1" });
  for (const c of [phone, laptop, bob]) {
    await c.events.wait(1, is("channel-created"));
    assert.deepEqual(seen(c, "online-status-updated"), [status("alice", "idle"), status("alice", "online")]);
    c.events.log.length = 0;
  }

  // The laptop (the online one) disconnects while in a channel: the channel is left and alice
  // is idle (the phone's); then the phone goes and she is offline.
  laptop.socket.emit("select-channel", { channelId: "c3" });
  await bob.events.wait(1, is("user-selected-channel"));
  bob.events.log.length = 0;
  laptop.socket.close();
  const [left] = await bob.events.wait(1, is("user-unselected-channel"));
  assert.deepEqual(left, { userId: "alice", channelId: "c3" });
  await bob.events.wait(1, is("online-status-updated"));
  phone.socket.close();
  await bob.events.wait(2, is("online-status-updated"));
  assert.deepEqual(seen(bob, "online-status-updated"), [status("alice", "idle"), status("alice", "offline")]);
  bob.socket.close();
});

test("refusals have the seed's error shape, name the transaction, and leave the connection usable", async () => {
  const ws = "refusals";
  const c = await client();

  // Events before auth.
  c.socket.emit("select-channel", { channelId: "c1", transaction: "t-1" });
  await refusedWith(c, {
    event: "select-channel",
    code: "not_authenticated",
    message: "this connection is not authenticated: emit `auth` first",
    transaction: "t-1",
  });
  c.socket.emit("update-online-status", { onlineStatus: "idle" });
  await refusedWith(c, {
    event: "update-online-status",
    code: "not_authenticated",
    message: "this connection is not authenticated: emit `auth` first",
  });
  await sleep(200);
  assert.deepEqual(c.events.log, [], "no transaction, no second event");

  // A bad token, a workspace the token does not allow, malformed auth payloads.
  c.socket.emit("auth", { token: "not-a-jwt", workspaceId: ws, transaction: "t-2" });
  await refusedWith(c, { event: "auth", code: "token_invalid", transaction: "t-2" });
  c.socket.emit("auth", { token: herald.token("erin", { rooms: ["workspace:elsewhere"] }), workspaceId: ws, transaction: 7 });
  await refusedWith(c, {
    event: "auth",
    code: "room_forbidden",
    message: `this token's \`rooms\` claim does not include room "workspace:${ws}"`,
    transaction: 7,
  });
  c.socket.emit("auth", { token: herald.token("erin"), transaction: "t-3" });
  await refusedWith(c, { event: "auth", code: "invalid_field", message: "`workspaceId` is required", transaction: "t-3" });
  c.socket.emit("auth", { token: herald.token("erin"), workspaceId: ws, onlineStatus: "busy" });
  await refusedWith(c, {
    event: "auth",
    code: "invalid_field",
    message: '`onlineStatus` must be "online", "idle" or "offline"',
  });
  c.socket.emit("auth", "just a string");
  await refusedWith(c, { event: "auth", code: "invalid_field", message: "`arguments` must be one object" });
  c.socket.emit("auth", { workspaceId: ws, transaction: "t-4" });
  await refusedWith(c, { event: "auth", code: "token_missing", transaction: "t-4" });

  // The same connection authenticates after all that.
  assert.deepEqual(await auth(c, "erin", ws, { transaction: "ok" }), { transaction: "ok", userId: "erin" });
  c.events.log.length = 0;

  // Malformed events after auth, then a second auth.
  const malformed = [
    ["select-channel", { transaction: "x-1" }, "`channelId` is required"],
    ["select-channel", { channelId: 12 }, "`channelId` must be a string of 1 to 128 bytes"],
    ["select-channel", { channelId: "c1", userMediaState: "on" }, "`userMediaState` must be an object"],
    ["update-media-state", { userMediaState: [1, 2] }, "`userMediaState` must be an object"],
    ["update-online-status", { onlineStatus: "away", transaction: "x-2" }, '`onlineStatus` must be "online", "idle" or "offline"'],
  ];
  for (const [event, argument, message] of malformed) {
    c.socket.emit(event, argument);
    await refusedWith(c, { event, code: "invalid_field", message, transaction: argument.transaction });
  }
  c.socket.emit("unselect-channel", {});
  await refusedWith(c, { event: "unselect-channel", code: "not_joined", message: "no channel is selected on this connection" });
  c.socket.emit("shout", {});
  await refusedWith(c, { event: "shout", code: "unknown_type" });
  c.socket.emit("auth", { token: herald.token("erin"), workspaceId: "other", transaction: "again" });
  await refusedWith(c, {
    event: "auth",
    code: "already_joined",
    message: `this connection already authenticated (room workspace:${ws}); connect again for another workspace`,
    transaction: "again",
  });

  // Still in the workspace, and working.
  c.socket.emit("select-channel", { channelId: "c1", userMediaState: { audio: true } });
  const [selected] = await c.events.wait(1, is("user-selected-channel"));
  assert.deepEqual(selected, { userId: "erin", channelId: "c1", userMediaState: { audio: true } });
  c.socket.close();
});
