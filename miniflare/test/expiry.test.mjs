// A websocket session lives no longer than its token: the room's alarm ends it at `exp`
// (plus the leeway), with an error frame and close 4501, and the others see the user leave.
import { test } from "node:test";
import assert from "node:assert/strict";
import { startHerald } from "../harness.mjs";

test("a session ends when its token expires, even if the client stays silent", async () => {
  const herald = await startHerald({ vars: { JWT_LEEWAY_SECONDS: "0" } });
  try {
    const watcher = await herald.connect("expiry", "watcher");
    await watcher.take(2);
    const exp = Math.floor(Date.now() / 1000) + 2;
    const brief = await herald.connect("expiry", "brief", { claims: { exp } });
    const started = Date.now();
    const [error] = await brief.take(1, (f) => f.type === "error", 8000);
    assert.equal(error.code, "token_expired");
    assert.ok(Date.now() >= exp * 1000 - 50, "not before exp");
    assert.ok(Date.now() - started < 6000, "promptly after exp");
    // The close frame comes with the error; local workerd finishes the TCP teardown of a
    // socket closed from an alarm only after ~10 s, which is when `ws` reports the close.
    assert.equal((await brief.closed).code, 4501);
    const [left] = await watcher.take(1, (f) => f.type === "left");
    assert.equal(left.user.id, "brief");
    const presence = await herald.api("/v1/rooms/expiry/presence");
    assert.deepEqual(presence.json.members.map((m) => m.id), ["watcher"]);
    await watcher.close();
  } finally {
    await herald.stop();
  }
});
