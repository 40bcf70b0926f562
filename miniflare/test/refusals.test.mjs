// Bad input end to end: every refusal is a coded JSON error (or an error frame and a close
// code), never a 500, a hang, or a silent drop.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startHerald, Client } from "../harness.mjs";
import { mint } from "../../scripts/token.mjs";
import { connect } from "node:net";

let herald;
before(async () => (herald = await startHerald({ vars: { MAX_FRAME_BYTES: "4096" } })));
after(() => herald.stop());

async function refusedUpgrade(path, options) {
  const error = await Client.open(`${herald.ws}${path}`, options?.protocols, options).then(
    (c) => {
      c.terminate();
      throw new Error("the upgrade was accepted");
    },
    (e) => e,
  );
  assert.ok(error.status, `refused with an HTTP status, not ${error}`);
  return error;
}

test("a bad token is refused with 401 before the upgrade", async () => {
  const e = await refusedUpgrade("/v1/rooms/lobby/ws", { headers: { authorization: "Bearer not.a.jwt" } });
  assert.equal(e.status, 401);
  assert.equal(e.body.code, "token_invalid");
});

test("a token signed with another secret is refused before the upgrade", async () => {
  const forged = mint({ sub: "mallory" }, "some-other-secret-that-is-32-bytes-long");
  const e = await refusedUpgrade(`/v1/rooms/lobby/ws?token=${forged}`);
  assert.equal(e.status, 401);
  assert.equal(e.body.code, "token_invalid");
});

test("an expired token is refused with token_expired", async () => {
  const expired = herald.token("alice", { exp: Math.floor(Date.now() / 1000) - 3600 });
  const e = await refusedUpgrade("/v1/rooms/lobby/ws", { headers: { authorization: `Bearer ${expired}` } });
  assert.equal(e.status, 401);
  assert.equal(e.body.code, "token_expired");
});

test("no token is refused with token_missing", async () => {
  const e = await refusedUpgrade("/v1/rooms/lobby/ws");
  assert.equal(e.status, 401);
  assert.equal(e.body.code, "token_missing");
});

test("a room outside the token's rooms claim is refused with 403", async () => {
  const e = await refusedUpgrade("/v1/rooms/secret/ws", { headers: { authorization: `Bearer ${herald.token("alice", { rooms: ["team-*"] })}` } });
  assert.equal(e.status, 403);
  assert.equal(e.body.code, "room_forbidden");
  const ok = await herald.connect("team-a", "alice", { claims: { rooms: ["team-*"] } });
  await ok.close();
  const rest = await herald.api("/v1/rooms/secret/messages", { token: herald.token("alice", { rooms: ["team-*"] }) });
  assert.equal(rest.status, 403);
});

test("a token in the query or in Sec-WebSocket-Protocol is accepted, and herald is selected", async () => {
  const token = herald.token("alice");
  const viaQuery = await Client.open(`${herald.ws}/v1/rooms/lobby/ws?token=${token}`);
  assert.equal((await viaQuery.next("welcome")).user.id, "alice");
  await viaQuery.close();
  const viaProtocol = await Client.open(`${herald.ws}/v1/rooms/lobby/ws`, ["herald", token]);
  assert.equal(viaProtocol.socket.protocol, "herald");
  assert.equal((await viaProtocol.next("welcome")).user.id, "alice");
  await viaProtocol.close();
  const headerAndProtocol = await Client.open(`${herald.ws}/v1/rooms/lobby/ws`, ["herald"], {
    headers: { authorization: `Bearer ${token}` },
  });
  assert.equal(headerAndProtocol.socket.protocol, "herald");
  await headerAndProtocol.close();
});

test("an oversize frame closes the socket with 1009", async () => {
  const c = await herald.connect("big", "alice");
  await c.take(2);
  c.send({ type: "publish", event: "chat", data: "x".repeat(5000) });
  const { code } = await c.closed;
  assert.equal(code, 1009);
  assert.equal(c.frames.find((f) => f.type === "error")?.code, "frame_too_large");
  const history = await herald.api("/v1/rooms/big/messages");
  assert.deepEqual(history.json.messages, [], "nothing was published");
});

test("a binary frame gets an error and the socket stays open", async () => {
  const c = await herald.connect("binary", "alice");
  await c.take(2);
  c.socket.send(Buffer.from([1, 2, 3]));
  assert.equal((await c.next("error")).code, "invalid_field");
  assert.equal((await c.publish("chat", "ok")).type, "ack");
  await c.close();
});

test("a text frame with invalid UTF-8 is published with U+FFFD in place of the bad bytes, and the socket stays open", async () => {
  // Pins what the runtime does (docs/protocol.md, "Limits"): workerd decodes a text frame
  // before Herald sees it, replacing each invalid sequence, and never closes with 1007. A
  // runtime that starts refusing such frames, or handing over their bytes, fails this test.
  const [sender, reader] = [await herald.connect("utf8", "alice"), await herald.connect("utf8", "bob")];
  await sender.take(2);
  const invalid = [0xff, 0xc3, 0x28, 0xed, 0xa0, 0x80]; // a stray byte, a cut-off pair, a surrogate
  const frame = Buffer.concat([
    Buffer.from('{"type":"publish","event":"chat","transaction":"t1","data":"a'),
    Buffer.from(invalid),
    Buffer.from('b"}'),
  ]);
  sender.socket.send(frame, { binary: false });
  assert.equal((await sender.take(1, (f) => f.transaction === "t1"))[0].type, "ack");
  const [message] = await reader.messages(1);
  assert.equal(message.data, "a\uFFFD\uFFFD(\uFFFD\uFFFD\uFFFDb");
  assert.equal((await sender.publish("chat", "still open")).type, "ack");
  await Promise.all([sender.close(), reader.close()]);
});

test("a resume point past the last message is refused with a do-not-reconnect close", async () => {
  const c = await herald.connect("ahead", "alice", { since: 50 });
  assert.equal((await c.next("error")).code, "since_ahead");
  assert.equal((await c.closed).code, 4500);
});

test("a non-numeric since is refused with 400", async () => {
  const e = await refusedUpgrade(`/v1/rooms/lobby/ws?since=abc&token=${herald.token("alice")}`);
  assert.equal(e.status, 400);
  assert.equal(e.body.code, "invalid_field");
});

test("REST refuses malformed JSON, wrong types and oversize bodies with coded 4xx", async () => {
  const post = (body, headers) => herald.api("/v1/rooms/lobby/messages", { method: "POST", body, headers });
  const malformed = await post("{nope");
  assert.deepEqual([malformed.status, malformed.json.code], [400, "malformed_json"]);
  const notObject = await post("[1,2]");
  assert.deepEqual([notObject.status, notObject.json.code], [400, "invalid_field"]);
  const positional = await post('["chat", {"y": 2}]');
  assert.deepEqual([positional.status, positional.json.code], [400, "invalid_field"], "arrays are not read as objects");
  const wrongType = await post({ event: 42 });
  assert.deepEqual([wrongType.status, wrongType.json.code], [400, "invalid_field"]);
  assert.equal(wrongType.json.details.field, "event");
  const missing = await post({ data: 1 });
  assert.deepEqual([missing.status, missing.json.code], [400, "invalid_field"]);
  const longKey = await post({ event: "e" }, { "idempotency-key": "k".repeat(200) });
  assert.deepEqual([longKey.status, longKey.json.code], [400, "invalid_field"]);
  const oversize = await post({ event: "e", data: "x".repeat(5000) });
  assert.deepEqual([oversize.status, oversize.json.code], [413, "payload_too_large"]);
  const chunked = await fetch(`${herald.http}/v1/rooms/lobby/messages`, {
    method: "POST",
    headers: { authorization: `Bearer ${herald.token("alice")}` },
    duplex: "half",
    body: new ReadableStream({
      start(controller) {
        for (let i = 0; i < 8; i++) controller.enqueue(new TextEncoder().encode("x".repeat(1024)));
        controller.close();
      },
    }),
  });
  assert.equal(chunked.headers.get("content-length") === null, true);
  assert.deepEqual([chunked.status, (await chunked.json()).code], [413, "payload_too_large"], "a body without a length is capped too");
  const history = await herald.api("/v1/rooms/lobby/messages");
  assert.deepEqual(history.json.messages, [], "nothing refused was published");
});

test("a connection that carried an oversize body serves the next request on it, declared or chunked", async () => {
  const { hostname, port } = new URL(herald.http);
  const token = herald.token("reuser");
  const request = (head, body) => `POST /v1/rooms/reuse/messages HTTP/1.1\r\nHost: h\r\nAuthorization: Bearer ${token}\r\n${head}\r\n${body}`;
  const good = '{"event":"e","data":"after"}';
  const chunk = (text) => `${text.length.toString(16)}\r\n${text}\r\n`;
  const oversize = "x".repeat(70_000);
  const cases = {
    declared: request(`Content-Length: ${oversize.length}\r\n`, oversize),
    chunked: request("Transfer-Encoding: chunked\r\n", `${chunk(oversize)}0\r\n\r\n`),
  };
  for (const [name, first] of Object.entries(cases)) {
    const socket = connect(Number(port), hostname);
    let answers = "";
    socket.on("data", (data) => (answers += data.toString("latin1")));
    socket.on("error", () => {});
    // Both requests on one connection, the second right behind the first.
    socket.write(first + request(`Content-Length: ${good.length}\r\nContent-Type: application/json\r\n`, good));
    const deadline = Date.now() + 5000;
    while ((answers.match(/HTTP\/1\.1 \d+/g) ?? []).length < 2 && Date.now() < deadline && !socket.destroyed) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    socket.destroy();
    const statuses = (answers.match(/HTTP\/1\.1 (\d+)/g) ?? []).map((line) => Number(line.slice(9)));
    assert.deepEqual(statuses, [413, 201], `${name}: the 413, then the next request answered on the same connection`);
  }
});

test("a method Herald does not take (WebDAV's among them) is refused by name on every route, never read as a GET", async () => {
  const token = herald.token("webdav");
  for (const method of ["PROPFIND", "MKCOL", "COPY", "LOCK", "SEARCH", "PATCH", "DELETE"]) {
    for (const path of ["/v1/rooms/dav/messages", "/v1/rooms/dav/presence", "/api/v1/inbox", "/api/chat/bob/", "/chat/bob/", "/v1/socket.io/?EIO=4&transport=polling", "/socket.io/?EIO=4&transport=polling"]) {
      const res = await fetch(`${herald.http}${path}`, { method, headers: { authorization: `Bearer ${token}` } });
      const body = await res.json();
      assert.deepEqual([res.status, body.code], [405, "method_not_allowed"], `${method} ${path}: ${JSON.stringify(body)}`);
      assert.ok(Array.isArray(body.details.allow) && !body.details.allow.includes(method), `${method} ${path}`);
    }
  }
});

test("an array frame is refused, not read by position", async () => {
  const c = await herald.connect("arrays", "alice");
  await c.take(2);
  c.send('["publish","t1","chat",{"x":1},null]');
  assert.equal((await c.next("error")).code, "invalid_field");
  const history = await herald.api("/v1/rooms/arrays/messages");
  assert.deepEqual(history.json.messages, []);
  await c.close();
});

test("REST refuses unknown routes, wrong methods, bad room ids and bad queries", async () => {
  const unknown = await herald.api("/v2/whatever");
  assert.deepEqual([unknown.status, unknown.json.code], [404, "not_found"]);
  const method = await herald.api("/v1/rooms/lobby/presence", { method: "DELETE" });
  assert.deepEqual([method.status, method.json.code], [405, "method_not_allowed"]);
  assert.equal(method.headers.get("allow"), "GET");
  const badRoom = await herald.api("/v1/rooms/-bad-/messages");
  assert.deepEqual([badRoom.status, badRoom.json.code], [400, "invalid_room_id"]);
  const badLimit = await herald.api("/v1/rooms/lobby/messages?limit=0");
  assert.deepEqual([badLimit.status, badLimit.json.code], [400, "invalid_field"]);
  const noUpgrade = await herald.api("/v1/rooms/lobby/ws");
  assert.deepEqual([noUpgrade.status, noUpgrade.json.code], [426, "upgrade_required"]);
  const noToken = await herald.api("/v1/rooms/lobby/messages", { token: null });
  assert.deepEqual([noToken.status, noToken.json.code], [401, "token_missing"]);
  for (const res of [unknown, method, badRoom, badLimit, noUpgrade, noToken]) {
    assert.match(res.headers.get("content-type"), /application\/json/);
    assert.equal(typeof res.json.message, "string");
  }
});

test("a connection over the rate limit is told to wait", async () => {
  const limited = await startHerald({ vars: { MAX_MESSAGES_PER_SECOND: "1", MAX_MESSAGE_BURST: "2" } });
  try {
    const c = await limited.connect("rate", "alice");
    await c.take(2);
    for (let i = 0; i < 3; i++) c.send({ type: "publish", event: "e", data: i, transaction: i });
    const [refused] = await c.take(1, (f) => f.type === "error");
    assert.equal(refused.code, "rate_limited");
    assert.equal(refused.transaction, 2);
    assert.ok(refused.details.retry_after_ms > 0);
    assert.equal((await c.take(2, (f) => f.type === "ack")).length, 2);
  } finally {
    await limited.stop();
  }
});

test("a full room refuses the next connection with 4001 (reconnect later)", async () => {
  const small = await startHerald({ vars: { MAX_CONNECTIONS_PER_ROOM: "2" } });
  try {
    await small.connect("full", "a");
    await small.connect("full", "b");
    const third = await small.connect("full", "c");
    assert.equal((await third.next("error")).code, "room_full");
    assert.equal((await third.closed).code, 4001);
    const presence = await small.api("/v1/rooms/full/presence");
    assert.equal(presence.json.connections, 2);
  } finally {
    await small.stop();
  }
});

test("a misconfigured deployment answers config_invalid, naming the variable", async () => {
  const broken = await startHerald({ vars: { JWT_SECRET: "short" } });
  try {
    const res = await broken.api("/v1/rooms/lobby/messages", { token: "x.y.z" });
    assert.equal(res.status, 500);
    assert.equal(res.json.code, "config_invalid");
    assert.match(res.json.message, /JWT_SECRET/);
    const ping = await broken.api("/api/v1/ping", { token: null });
    assert.equal(ping.status, 200, "ping still answers");
  } finally {
    await broken.stop();
  }
});
