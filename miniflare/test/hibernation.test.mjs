// Hibernation: workerd evicts an idle Durable Object after about 10 s even with websockets
// open. The sockets stay connected; plain pings are answered without waking the room; the next
// real frame loads the room again and rebuilds every connection from its attachment.
import { test } from "node:test";
import assert from "node:assert/strict";
import { startHerald, rawClient } from "../harness.mjs";

const loads = (herald, room) => herald.logs.filter((l) => l.includes(`room ${room} loaded:`));

test("an evicted room keeps its sockets, answers pings asleep, and wakes with presence and order intact", async () => {
  const herald = await startHerald();
  try {
    const a = await herald.connect("sleepy", "alice");
    const b = await herald.connect("sleepy", "bob");
    await a.publish("chat", 1);
    await b.messages(1);
    assert.equal(loads(herald, "sleepy").length, 1);

    // A peer that is closed for an oversize frame but never completes the close must not come
    // back as a member when the room wakes.
    const mallory = await rawClient(herald.http, "/v1/rooms/sleepy/ws", herald.token("mallory"));
    await a.take(1, (f) => f.type === "joined" && f.user.id === "mallory");
    mallory.send(JSON.stringify({ type: "publish", event: "big", data: "x".repeat(70_000) }));
    await a.take(1, (f) => f.type === "left" && f.user.id === "mallory");

    await new Promise((r) => setTimeout(r, 12_000));
    a.send('{"type":"ping"}');
    assert.deepEqual((await a.take(1, (f) => f.type === "pong"))[0], { type: "pong" });
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(loads(herald, "sleepy").length, 1, "the ping was answered without loading the room");

    const ack = await a.publish("chat", 2);
    assert.equal(ack.seq, 2, "the order continues after the wake");
    const [message] = await b.messages(1);
    assert.deepEqual([message.seq, message.data], [2, 2], "bob's socket was restored from its attachment");
    const woke = loads(herald, "sleepy");
    assert.equal(woke.length, 2, "the room was evicted and loaded again");
    assert.match(woke[1], /2 sockets and 0 remote members restored, last seq 1/);

    const presence = await herald.api("/v1/rooms/sleepy/presence");
    assert.deepEqual(presence.json.members.map((m) => m.id), ["alice", "bob"]);
    assert.equal(presence.json.connections, 2, "the half-closed peer was not restored");
    mallory.destroy();
    await b.close();
    const [left] = await a.take(1, (f) => f.type === "left");
    assert.equal(left.user.id, "bob");
    await a.close();
  } finally {
    await herald.stop();
  }
});
