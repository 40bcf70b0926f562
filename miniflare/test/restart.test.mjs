// State survives a restart of the local runtime when storage is persisted: the log, the order
// (no seq is reused), idempotency keys, and resume across the restart.
import { test } from "node:test";
import assert from "node:assert/strict";
import { startHerald, tempDir } from "../harness.mjs";

test("the log, the order and idempotency keys survive a restart of workerd", async () => {
  const { dir, cleanup } = tempDir();
  try {
    const first = await startHerald({ persist: dir });
    const c = await first.connect("durable", "alice");
    for (let i = 1; i <= 5; i++) await c.publish("chat", i, { id: `k${i}` });
    await first.stop();

    const second = await startHerald({ persist: dir });
    try {
      const history = await second.api("/v1/rooms/durable/messages");
      assert.deepEqual(history.json.messages.map((m) => m.data), [1, 2, 3, 4, 5]);
      const back = await second.connect("durable", "alice", { since: 3 });
      const [welcome] = await back.take(1);
      assert.equal(welcome.seq, 5);
      assert.deepEqual((await back.messages(2)).map((m) => m.seq), [4, 5]);
      const repeat = await back.publish("chat", "again", { id: "k2" });
      assert.deepEqual([repeat.seq, repeat.duplicate], [2, true]);
      const next = await back.publish("chat", 6);
      assert.equal(next.seq, 6, "the order continues where it stopped");
      const presence = await second.api("/v1/rooms/durable/presence");
      assert.deepEqual(presence.json.members.map((m) => m.id), ["alice"], "only live sockets count");
    } finally {
      await second.stop();
    }
  } finally {
    cleanup();
  }
});
