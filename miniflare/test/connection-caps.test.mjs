// Connection caps (docs/reliability.md, "Bounded resources"): one client opening sockets in a
// loop is refused at its caps — per user, per client address (the alert route is anonymous,
// so a per-user cap alone would not stop it), and in all — with a documented code, and the
// server stays up with every other member connected and receiving. Closing gives the places
// back.
import { test } from "node:test";
import assert from "node:assert/strict";
import WebSocket from "ws";
import { startHerald, Client, pending, rawClient, sleep, until } from "../harness.mjs";

const CAPS = { MAX_CONNECTIONS_PER_USER: "20", MAX_CONNECTIONS_PER_ADDRESS: "50", MAX_CONNECTIONS: "120" };

/** A native websocket to `room` as `sub` from `address` (CF-Connecting-IP, as Cloudflare's edge sets it). */
function native(herald, room, sub, address) {
  const headers = { authorization: `Bearer ${herald.token(sub)}`, ...(address ? { "cf-connecting-ip": address } : {}) };
  return Client.open(`${herald.ws}/v1/rooms/${room}/ws`, undefined, { headers });
}

/** An anonymous alert session over a raw Engine.IO websocket; resolves with the socket once open, or the refusal. */
function alert(herald, address) {
  return new Promise((resolve, reject) => {
    const headers = address ? { "cf-connecting-ip": address } : {};
    const ws = new WebSocket(`${herald.ws}/socket.io/?EIO=4&transport=websocket`, { headers });
    ws.once("message", () => resolve({ ws }));
    ws.once("unexpected-response", (_req, res) => {
      let body = "";
      res.on("data", (chunk) => (body += chunk));
      res.on("end", () => resolve({ status: res.statusCode, body: JSON.parse(body) }));
    });
    ws.once("error", reject);
  });
}


/** Opens native sockets as `sub` until one is refused: the open ones, and the refusal (an HTTP answer: no upgrade). */
async function floodNative(herald, sub, address) {
  const open = [];
  for (let i = 0; i < 1000; i++) {
    const client = await native(herald, `flood-${i}`, sub, address).catch((refusal) => refusal);
    if (client instanceof Error) return { open, refusal: client };
    await client.take(1, (f) => f.type === "welcome");
    open.push(client);
  }
  throw new Error("never refused");
}

test("a client opening sockets in a loop is refused at its caps, and every other member stays connected and receiving", async () => {
  const herald = await startHerald({ vars: CAPS });
  const flood = [];
  try {
    const members = [];
    for (const n of [1, 2, 3]) {
      const member = await native(herald, "caps-room", `member-${n}`, `10.1.0.${n}`);
      await member.take(1, (f) => f.type === "welcome");
      members.push(member);
    }

    // One user, one address: the user's cap first.
    const byUser = await floodNative(herald, "flooder", "192.0.2.1");
    flood.push(...byUser.open);
    assert.equal(byUser.open.length, 20);
    assert.equal(byUser.refusal.status, 429, "refused before the upgrade: no socket to hold");
    assert.equal(byUser.refusal.body.code, "too_many_connections");
    assert.deepEqual(byUser.refusal.body.details, { scope: "user", limit: 20 });

    // Anonymous sessions from the same address (the alert route needs no token): its cap.
    let refused;
    for (let i = 0; i < 1000 && !refused; i++) {
      const session = await alert(herald, "192.0.2.1");
      if (session.ws) flood.push(session.ws);
      else refused = session;
    }
    assert.equal(flood.length, 50, "the address's cap, native and Socket.IO together");
    assert.equal(refused.status, 429);
    assert.equal(refused.body.code, "too_many_connections");
    assert.deepEqual(refused.body.details, { scope: "address", limit: 50 });

    // A client that changes its address each time meets the cap in all.
    let total;
    for (let i = 0; i < 1000 && !total; i++) {
      const session = await alert(herald, `198.51.100.${i % 250}`);
      if (session.ws) flood.push(session.ws);
      else total = session;
    }
    assert.equal(total.body.details.scope, "total");
    assert.equal(flood.length + members.length, 120, "every connection counts in all");

    // The server is up, and the members were never touched.
    assert.equal((await herald.api("/api/v1/ping", { token: null })).status, 200);
    const published = await herald.api("/v1/rooms/caps-room/messages", { method: "POST", sub: "app", body: { event: "still", data: "here" } });
    assert.equal(published.status, 201);
    for (const member of members) {
      const [message] = await member.messages(1);
      assert.equal(message.data, "here");
      assert.deepEqual(pending(member, "error"), []);
    }

    // Closing gives the places back: the address holds its cap in Socket.IO sessions again.
    for (const socket of flood.splice(0)) socket.close();
    await until("every place given back", async () => {
      const session = await alert(herald, "192.0.2.1");
      if (session.ws) flood.push(session.ws);
      return session.ws !== undefined;
    });
    for (let i = 1; i < 50; i++) {
      const session = await alert(herald, "192.0.2.1");
      assert.ok(session.ws, `session ${i + 1} of the address's 50: ${JSON.stringify(session.body)}`);
      flood.push(session.ws);
    }
    assert.equal((await alert(herald, "192.0.2.1")).status, 429, "and not one more");
  } finally {
    for (const socket of flood) socket.terminate?.() ?? socket.close();
    await herald.stop();
  }
});

test("a socket the server closed, or refused after the upgrade, keeps its place until the client lets it go", async () => {
  const herald = await startHerald({ vars: { MAX_CONNECTIONS_PER_USER: "2", JWT_LEEWAY_SECONDS: "0" } });
  try {
    const seed = await herald.api("/v1/rooms/held-room/messages", { method: "POST", sub: "app", body: { event: "e", data: 1 } });
    assert.equal(seed.status, 201);
    // Clients that never answer anything, a close included: one whose token runs out (the
    // room closes it), one refused after the upgrade (since is past the room's last message).
    const expiring = herald.token("holder", { exp: Math.floor(Date.now() / 1000) + 2 });
    const closedByRoom = await rawClient(herald.http, "/v1/rooms/held-room/ws", expiring);
    const refused = await rawClient(herald.http, "/v1/rooms/held-room/ws?since=99", herald.token("holder"));
    await sleep(3500);
    const third = await native(herald, "held-room", "holder").catch((e) => e);
    assert.equal(third.status, 429, "both sockets are still held open by their client, and count");
    assert.equal(third.body.details.scope, "user");
    closedByRoom.destroy();
    refused.destroy();
    await until("the places given back", async () => {
      const client = await native(herald, "held-room", "holder").catch(() => undefined);
      client?.close();
      return client !== undefined;
    });
  } finally {
    await herald.stop();
  }
});

test("a socket that closes while its room sleeps gives its place back when the room wakes for the close", async () => {
  const herald = await startHerald({ vars: { MAX_CONNECTIONS_PER_USER: "2" } });
  const open = [];
  try {
    const sleeper = await native(herald, "sleepy", "alice");
    await sleeper.take(1, (f) => f.type === "welcome");
    await sleep(12_000); // the room is evicted (workerd: 10 s without an event), its socket stays open
    await sleeper.close();
    const loads = () => herald.logs.filter((line) => line.includes("room sleepy loaded")).length;
    await until("the room woke for the close", () => loads() >= 2);
    await sleep(300);
    for (let i = 0; i < 2; i++) {
      const client = await native(herald, `awake-${i}`, "alice").catch((e) => e);
      assert.ok(!(client instanceof Error), `alice's connection ${i + 1} of 2: ${JSON.stringify(client.body)}`);
      open.push(client);
    }
  } finally {
    for (const client of open) client.terminate();
    await herald.stop();
  }
});

test("websockets a Socket.IO session refuses count too, until their close completes", async () => {
  const herald = await startHerald({ vars: { MAX_CONNECTIONS: "3" } });
  const held = [];
  try {
    const open = await fetch(`${herald.http}/socket.io/?EIO=4&transport=polling`);
    const { sid } = JSON.parse((await open.text()).slice(1));
    const path = `/socket.io/?EIO=4&transport=websocket&sid=${sid}`;
    // The first is the session's upgrade; the next ones it refuses (completed, then closed), and
    // their client never answers the close.
    for (let i = 0; i < 3; i++) held.push(await rawClient(herald.http, path, "none"));
    const refused = await rawClient(herald.http, path, "none").catch((e) => e);
    assert.match(String(refused.message), /not upgraded: HTTP\/1.1 429/, "the session, its socket and one refused socket hold the 3 places");
    const another = await fetch(`${herald.http}/socket.io/?EIO=4&transport=polling`);
    assert.equal(another.status, 429);
    for (const socket of held.splice(1)) socket.destroy();
    await until("the refused sockets' places given back", async () => (await fetch(`${herald.http}/socket.io/?EIO=4&transport=polling`)).status === 200);
  } finally {
    for (const socket of held) socket.destroy();
    await herald.stop();
  }
});
