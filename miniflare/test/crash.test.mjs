// Durability across a crash (docs/reliability.md, "Crashes"): workerd is killed with SIGKILL in
// the middle of a stream of publishes. After a restart on the same storage every acknowledged
// message is in the log at the seq its ack gave, the log has no gap and no duplicate, and
// publishing everything again with the same keys stores each message once.
import { test } from "node:test";
import assert from "node:assert/strict";
import { startHerald, tempDir, sleep } from "../harness.mjs";

const VARS = { MAX_MESSAGES_PER_SECOND: "100000", MAX_MESSAGE_BURST: "100000" };
const ROOM = "crash-room";
const SENT = 3000;

/** The whole log of ROOM, paged. */
async function history(herald) {
  const all = [];
  for (let after = 0; ; ) {
    const page = await herald.api(`/v1/rooms/${ROOM}/messages?after=${after}&limit=1000`, { sub: "reader" });
    assert.equal(page.status, 200, page.text);
    all.push(...page.json.messages);
    if (page.json.messages.length === 0 || page.json.next == null) return all;
    after = page.json.messages.at(-1).seq;
  }
}

test("after kill -9 mid-stream every acked message is kept, with no gap or duplicate, and republishing stores each once", async () => {
  const { dir, cleanup } = tempDir();
  let second;
  try {
    const first = await startHerald({ vars: VARS, persist: dir });
    const publisher = await first.connect(ROOM, "streamer");
    await publisher.take(2); // welcome, presence
    const acked = new Map(); // id → seq
    publisher.socket.on("message", (data) => {
      const frame = JSON.parse(data.toString());
      if (frame.type === "ack") acked.set(frame.id, frame.seq);
    });
    // A stream, pipelined: frames go out without waiting for acks, as a busy client sends them,
    // and keep going until the process is killed under them.
    let sent = 0;
    let crashed = false;
    const stream = (async () => {
      while (!crashed && sent < SENT) {
        sent++;
        publisher.send({ type: "publish", event: "n", data: sent, id: `k${sent}` });
        if (sent % 20 === 0) await sleep(2);
      }
    })();
    while (acked.size < 500) await sleep(1);
    crashed = true;
    await first.crash();
    await stream;
    const ackedAtCrash = new Map(acked);

    const started = Date.now();
    second = await startHerald({ vars: VARS, persist: dir });
    const restartMs = Date.now() - started;
    const log = await history(second);
    const seqs = log.map((m) => m.seq);
    assert.deepEqual(seqs, Array.from({ length: log.length }, (_, i) => i + 1), "no gap: seqs run 1..n");
    const ids = log.map((m) => m.id);
    assert.equal(new Set(ids).size, ids.length, "no duplicate");
    for (const [id, seq] of ackedAtCrash) {
      const kept = log.find((m) => m.id === id);
      assert.ok(kept, `acked ${id} kept`);
      assert.equal(kept.seq, seq, `${id} at the seq its ack gave`);
    }
    const storedUnacked = log.length - ackedAtCrash.size;
    assert.ok(storedUnacked >= 0);

    // The client publishes everything again with the same keys: each message is stored once.
    const again = await second.connect(ROOM, "streamer");
    await again.take(2);
    assert.ok(sent > log.length, `the crash came mid-stream: ${sent} sent, ${log.length} stored`);
    const sentBefore = sent;
    for (let i = 1; i <= sentBefore; i++) {
      const ack = await again.publish("n", i, { id: `k${i}` });
      assert.equal(ack.type, "ack", JSON.stringify(ack));
      if (i <= log.length) assert.deepEqual([ack.seq, ack.duplicate], [i, true], `k${i} was stored once`);
    }
    const final = await history(second);
    assert.equal(final.length, sentBefore);
    assert.equal(new Set(final.map((m) => m.id)).size, sentBefore);
    console.log(
      `# crash: ${sent} sent, ${ackedAtCrash.size} acked, ${log.length} stored (${storedUnacked} stored but not acked), restart ${restartMs} ms`,
    );
  } finally {
    await second?.stop();
    cleanup();
  }
});
