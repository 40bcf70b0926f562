// The 3drepo dialect (docs/dialects.md, "3drepo") end to end: 3D Repo's own client, the official
// socket.io-client with default options and `path: "/chat"`, against the built worker in
// workerd. Apps publish over REST; an admin logs users out over REST.
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { startHerald, connected, next, sleep } from "../harness.mjs";

const PATH = "/chat";
const PROJECT = "a608516e-0fef-4185-bca8-bf03a256ad3d";
const MODEL = "808d98ee-aad1-11ec-b909-0242ac120002";
const EXPIRED = "Your session has expired";

let herald;
before(async () => (herald = await startHerald({ vars: { JWT_LEEWAY_SECONDS: "0" } })));
after(() => herald.stop());

/** A socket.io-client socket on the 3drepo route: default options, 3D Repo's path, and `options` (credentials). */
const open = (options = {}) => herald.io({ path: PATH, ...options });

/** A connected client for `sub`, its token (with `claims`) in the CONNECT auth payload. */
async function client(sub, claims = {}) {
  const c = open({ auth: { token: herald.token(sub, claims) } });
  await connected(c.socket);
  return c;
}

const model = (teamspace) => ({ teamspace, project: PROJECT, model: MODEL });
const modelRoom = (teamspace) => `3drepo:${teamspace}:${PROJECT}:${MODEL}`;
const success = (action, data) => ({ event: "success", data: { action, data } });
const refusal = (code, message, action, data) => ({ code, message, details: { action, data } });
const named = (event) => (e) => e.event === event;

/** Emits `action` with `data` and waits for the `count`-th answer (`message` or `error`) of the socket. */
async function ask({ socket, events }, action, data) {
  const answered = (e) => e.event === "message" || e.event === "error";
  const before = events.log.filter(answered).length;
  socket.emit(action, data);
  const answers = await events.wait(before + 1, answered);
  return { event: events.log.filter(answered)[before].event, frame: answers[before] };
}

/** Publishes `event` with `data` into `room` over REST; the JSON answer. */
/** Publishes into `room` over REST as the app, whose token names inboxes and model rooms. */
async function publish(room, event, data, headers = {}) {
  const token = herald.token("app", { rooms: ["inbox:*", "3drepo:*"] });
  const res = await herald.api(`/v1/rooms/${room}/messages`, { method: "POST", token, body: { event, data }, headers });
  assert.equal(res.status, 201, res.text);
  return res.json;
}

describe("the flow of the seed", () => {
  test("two users join notifications and a model; REST events arrive under their names; x-socket-id skips that socket; leave", async () => {
    const claims = { rooms: ["3drepo:flow:*"] };
    const alice = await client("flow-alice", claims);
    // bob's token rides in an Authorization header (extraHeaders), as a logged-in 3D Repo client's session.
    const bob = open({ extraHeaders: { authorization: `Bearer ${herald.token("flow-bob", claims)}` } });
    await connected(bob.socket);

    assert.deepEqual(await ask(alice, "join", { notifications: true }), { event: "message", frame: success("join", { notifications: true }) });
    assert.deepEqual(await ask(alice, "join", model("flow")), { event: "message", frame: success("join", model("flow")) });
    assert.deepEqual(await ask(bob, "join", model("flow")), { event: "message", frame: success("join", model("flow")) });

    // The user's own notifications reach only that user.
    const notification = { type: "importSuccess", model: MODEL, revision: 3 };
    await publish("inbox:flow-alice", "notification", notification);
    assert.deepEqual(await alice.events.wait(1, named("notification")), [notification]);

    // A model's events reach everyone in the model, under their own names, exactly as published.
    const revision = { _id: "r1", tag: "v1", timestamp: 1700000000000, author: "flow-bob" };
    await publish(modelRoom("flow"), "containerNewRevision", revision);
    assert.deepEqual(await alice.events.wait(1, named("containerNewRevision")), [revision]);
    assert.deepEqual(await bob.events.wait(1, named("containerNewRevision")), [revision]);

    // A REST call naming alice's socket is not echoed to it; bob still gets it.
    await publish(modelRoom("flow"), "containerSettingsUpdate", { name: "by alice" }, { "x-socket-id": alice.socket.id });
    await publish(modelRoom("flow"), "containerSettingsUpdate", { name: "by the app" });
    assert.deepEqual(await bob.events.wait(2, named("containerSettingsUpdate")), [{ name: "by alice" }, { name: "by the app" }]);
    assert.deepEqual(await alice.events.wait(1, named("containerSettingsUpdate")), [{ name: "by the app" }]);

    // Naming bob's socket skips bob only.
    await publish(modelRoom("flow"), "newFederation", { n: 1 }, { "x-socket-id": bob.socket.id });
    assert.deepEqual(await alice.events.wait(1, named("newFederation")), [{ n: 1 }]);

    assert.deepEqual(await ask(alice, "leave", model("flow")), { event: "message", frame: success("leave", model("flow")) });
    await publish(modelRoom("flow"), "containerRemoved", { gone: true });
    assert.deepEqual(await bob.events.wait(1, named("containerRemoved")), [{ gone: true }]);
    await publish("inbox:flow-alice", "notification", { after: "leave" });
    assert.deepEqual(await alice.events.wait(2, named("notification")), [notification, { after: "leave" }]);

    // Everything each socket received, in order: nothing else (no presence, no echoes).
    assert.deepEqual(
      alice.events.log.map(({ event, frame }) => [event, frame]),
      [
        ["message", success("join", { notifications: true })],
        ["message", success("join", model("flow"))],
        ["notification", notification],
        ["containerNewRevision", revision],
        ["containerSettingsUpdate", { name: "by the app" }],
        ["newFederation", { n: 1 }],
        ["message", success("leave", model("flow"))],
        ["notification", { after: "leave" }],
      ],
    );
    assert.deepEqual(
      bob.events.log.map(({ event, frame }) => [event, frame]),
      [
        ["message", success("join", model("flow"))],
        ["containerNewRevision", revision],
        ["containerSettingsUpdate", { name: "by alice" }],
        ["containerSettingsUpdate", { name: "by the app" }],
        ["containerRemoved", { gone: true }],
      ],
    );
  });

  test("the token in the connect.sid cookie logs in (extraHeaders, over polling or websocket only), and so does one on the handshake's Authorization with the token scheme", async () => {
    const cookie = open({ extraHeaders: { cookie: `theme=dark; connect.sid=${herald.token("cookie-user")}` } });
    await connected(cookie.socket);
    assert.deepEqual(await ask(cookie, "join", { notifications: true }), { event: "message", frame: success("join", { notifications: true }) });
    await publish("inbox:cookie-user", "notification", { via: "cookie" });
    assert.deepEqual(await cookie.events.wait(1, named("notification")), [{ via: "cookie" }]);

    // 3D Repo's own configuration: websocket only, the cookie on the upgrade request.
    const websocket = open({ transports: ["websocket"], extraHeaders: { cookie: `connect.sid=${herald.token("ws-cookie-user")}` } });
    await connected(websocket.socket);
    assert.equal(websocket.socket.io.engine.transport.name, "websocket");
    assert.deepEqual(await ask(websocket, "join", { notifications: true }), { event: "message", frame: success("join", { notifications: true }) });

    const scheme = open({ extraHeaders: { authorization: `token ${herald.token("scheme-user")}` } });
    await connected(scheme.socket);
    assert.deepEqual(await ask(scheme, "join", { notifications: true }), { event: "message", frame: success("join", { notifications: true }) });
  });
});

describe("refusals, each leaving the connection usable", () => {
  test("without a valid token the socket connects, and join and leave are UNAUTHORISED saying why", async () => {
    const cases = [
      [{}, "You are not logged in: no token"],
      [{ auth: { token: "not-a-jwt" } }, "You are not logged in: the token is not a JWT"],
      [{ auth: { token: herald.token("late", { exp: Math.floor(Date.now() / 1000) - 60 }) } }, "You are not logged in: the token has expired"],
      [{ extraHeaders: { cookie: "connect.sid=forged.token.value" } }, "You are not logged in: the token is not a JWT"],
    ];
    for (const [options, why] of cases) {
      const c = open(options);
      await connected(c.socket);
      for (const [action, data] of [["join", { notifications: true }], ["leave", model("nope")]]) {
        const answer = await ask(c, action, data);
        assert.equal(answer.event, "error", JSON.stringify(answer));
        assert.deepEqual(Object.keys(answer.frame).sort(), ["code", "details", "message"]);
        assert.equal(answer.frame.code, "UNAUTHORISED");
        assert.ok(answer.frame.message.startsWith(why), `${answer.frame.message} should start with ${why}`);
        assert.deepEqual(answer.frame.details, { action, data });
      }
      assert.ok(c.socket.connected, "still connected");
      c.socket.close();
    }
  });

  test("a model the token's rooms claim does not allow is ROOM_NOT_FOUND; malformed payloads and unknown events are coded", async () => {
    const c = await client("refused-user", { rooms: ["3drepo:mine:*"] });
    const cannot = (why) => `Cannot identify the room indicated: ${why}`;
    const expected = "expected {notifications: true} or {teamspace, project, model}";
    const cases = [
      ["join", model("theirs"), refusal("ROOM_NOT_FOUND", `Model not found or not accessible: the token's \`rooms\` claim does not include ${modelRoom("theirs")}`, "join", model("theirs"))],
      ["join", "notifications", refusal("ROOM_NOT_FOUND", cannot(expected), "join", "notifications")],
      ["join", {}, refusal("ROOM_NOT_FOUND", cannot(expected), "join", {})],
      ["join", { teamspace: "mine", project: PROJECT }, refusal("ROOM_NOT_FOUND", cannot("`model` is missing"), "join", { teamspace: "mine", project: PROJECT })],
      ["join", { teamspace: "mine", project: 7, model: MODEL }, refusal("ROOM_NOT_FOUND", cannot("`project` must be a non-empty string"), "join", { teamspace: "mine", project: 7, model: MODEL })],
      ["leave", { notifications: "yes" }, refusal("ROOM_NOT_FOUND", cannot("`notifications` must be true"), "leave", { notifications: "yes" })],
      ["join", { notifications: true, ...model("mine") }, refusal("ROOM_NOT_FOUND", cannot("give either notifications: true or teamspace, project and model, not both"), "join", { notifications: true, ...model("mine") })],
      ["subscribe", { notifications: true }, refusal("UNKNOWN_EVENT", 'unknown event "subscribe": this service takes "join" and "leave"', "subscribe", { notifications: true })],
    ];
    for (const [action, data, frame] of cases) {
      assert.deepEqual(await ask(c, action, data), { event: "error", frame }, `${action} ${JSON.stringify(data)}`);
    }
    // Still usable: the allowed model joins and receives.
    assert.deepEqual(await ask(c, "join", model("mine")), { event: "message", frame: success("join", model("mine")) });
    await publish(modelRoom("mine"), "federationNewTicket", { id: "t1" });
    assert.deepEqual(await c.events.wait(1, named("federationNewTicket")), [{ id: "t1" }]);
    assert.ok(c.socket.connected);
  });

  test("another namespace is refused", async () => {
    const { socket: other } = herald.io({ path: PATH, auth: { token: herald.token("ns-user") } }, "/admin");
    const [error] = await next(other, "connect_error");
    assert.equal(error.message, "Invalid namespace");
    other.close();
  });
});

describe("loggedOut", () => {
  test("when the token expires while connected: loggedOut, then a server disconnect the client does not reconnect after", async () => {
    const exp = Math.floor(Date.now() / 1000) + 3;
    const c = await client("expiring-user", { exp });
    assert.deepEqual(await ask(c, "join", { notifications: true }), { event: "message", frame: success("join", { notifications: true }) });
    const disconnected = next(c.socket, "disconnect", 8000);
    const [loggedOut] = await c.events.wait(1, named("loggedOut"), 8000);
    assert.deepEqual(loggedOut, { reason: EXPIRED });
    assert.ok(Date.now() >= exp * 1000, "not before the token's exp");
    const [reason] = await disconnected;
    assert.equal(reason, "io server disconnect");
    let attempts = 0;
    c.socket.io.on("reconnect_attempt", () => attempts++);
    await sleep(1500);
    assert.equal(attempts, 0, "no reconnection after a server disconnect");
    assert.deepEqual(
      c.events.log.map(({ event, frame }) => [event, frame]),
      [["message", success("join", { notifications: true })], ["loggedOut", { reason: EXPIRED }]],
    );
    const admin = herald.token("ops", { role: "admin" });
    const presence = await herald.api("/v1/rooms/inbox:expiring-user/presence", { token: admin });
    assert.deepEqual(presence.json.members, [], "the session left its rooms");
  });

  test("an admin logs a user out over REST: every socket of that user (polling ones too) and only those", async () => {
    const first = await client("logout-alice");
    const second = open({ auth: { token: herald.token("logout-alice") }, transports: ["polling"] });
    await connected(second.socket);
    const bob = await client("logout-bob");
    for (const c of [first, second, bob]) {
      assert.deepEqual(await ask(c, "join", model("logout")), { event: "message", frame: success("join", model("logout")) });
    }

    // Not an admin: refused, and nobody is logged out.
    const forbidden = await herald.api("/v1/users/logout-alice/logout", { method: "POST", sub: "logout-bob", body: {} });
    assert.equal(forbidden.status, 403);
    assert.equal(forbidden.json.code, "admin_required");
    // Nor can a non-admin reach the control room that carries logouts, over REST or a websocket.
    const forged = await herald.api("/v1/rooms/sessions:logout-alice/messages", { method: "POST", sub: "logout-bob", body: { event: "loggedOut", data: { reason: "forged" } } });
    assert.equal(forged.status, 403);
    assert.equal(forged.json.code, "room_forbidden");
    await assert.rejects(herald.connect("sessions:logout-alice", "logout-bob"), (e) => e.status === 403 && e.body.code === "room_forbidden");

    const disconnects = [first, second].map((c) => next(c.socket, "disconnect", 8000));
    const admin = herald.token("ops", { role: "admin" });
    const res = await herald.api("/v1/users/logout-alice/logout", { method: "POST", token: admin, body: { reason: "Password changed" } });
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.json, { ok: true, user: "logout-alice", reason: "Password changed" });
    for (const c of [first, second]) {
      assert.deepEqual(await c.events.wait(1, named("loggedOut"), 8000), [{ reason: "Password changed" }]);
    }
    for (const [reason] of await Promise.all(disconnects)) assert.equal(reason, "io server disconnect");

    // bob is still connected and in the model; alice's sockets are not.
    await publish(modelRoom("logout"), "containerNewTicket", { id: "after" });
    assert.deepEqual(await bob.events.wait(1, named("containerNewTicket")), [{ id: "after" }]);
    assert.ok(bob.socket.connected);
    await sleep(200);
    for (const c of [first, second]) assert.deepEqual(c.events.all(named("containerNewTicket")), []);
    assert.deepEqual(bob.events.all(named("loggedOut")), []);

    // Without a reason the default one is given; a user with no session is fine too; a bad body is coded.
    const plain = await herald.api("/v1/users/nobody-here/logout", { method: "POST", token: admin });
    assert.deepEqual([plain.status, plain.json], [200, { ok: true, user: "nobody-here", reason: "You have been logged out by an administrator" }]);
    const bad = await herald.api("/v1/users/logout-bob/logout", { method: "POST", token: admin, body: { reason: 5 } });
    assert.deepEqual([bad.status, bad.json.code, bad.json.details], [400, "invalid_field", { field: "reason" }]);
    assert.ok(bob.socket.connected);
  });
});
