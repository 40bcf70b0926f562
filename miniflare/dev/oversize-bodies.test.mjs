// The README's run command (`make dev`: scripts/dev.sh, wrangler dev in front of workerd) under
// oversize bodies. scripts/check-dev.sh runs this against the server it started
// (HERALD_DEV_URL); it is not part of the suite in test/, which runs straight on workerd.
//
// wrangler dev forwards every request from its own proxy worker over connections it reuses,
// so a connection the runtime drops after one client's 413 fails another client's request
// ("Your worker restarted mid-request", 503). That only shows through wrangler dev.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mint, devSecret } from "../../scripts/token.mjs";

const base = process.env.HERALD_DEV_URL;
const OVERSIZE_BODIES = 1000;
/** MAX_FRAME_BYTES in wrangler.toml is 65536; ENGINEIO_MAX_PAYLOAD is 1000000. */
const REST_OVERSIZE = 70_000;
const ENGINE_OVERSIZE = 1_000_100;

const secret = devSecret();
const user = mint({ sub: "dev-check", name: "Dev check" }, secret);
const admin = mint({ sub: "dev-admin", name: "Dev admin", role: "admin" }, secret);

/** `bytes` as one declared body (content-length), or streamed in chunks (no length). */
function body(bytes, chunked) {
  if (!chunked) return { body: bytes };
  return {
    duplex: "half",
    body: new ReadableStream({
      start(controller) {
        for (let at = 0; at < bytes.length; at += 16_384) controller.enqueue(bytes.subarray(at, at + 16_384));
        controller.close();
      },
    }),
  };
}

const rest = (path, token) => async (bytes, chunked) =>
  fetch(`${base}${path}`, { method: "POST", headers: { authorization: `Bearer ${token}` }, ...body(bytes, chunked) });

/** An Engine.IO POST over maxPayload, on a session of its own (the refusal ends the session). */
async function engineIoPost(bytes, chunked) {
  const open = await fetch(`${base}/socket.io/?EIO=4&transport=polling`);
  const { sid } = JSON.parse((await open.text()).slice(1));
  return fetch(`${base}/socket.io/?EIO=4&transport=polling&sid=${sid}`, {
    method: "POST",
    headers: { "content-type": "text/plain;charset=UTF-8" },
    ...body(bytes, chunked),
  });
}

/** A response's status and its coded error's `code` (or the start of a body that is no coded error). */
async function codeOf(response) {
  const text = await response.text();
  let code;
  try {
    code = JSON.parse(text).code;
  } catch {
    code = undefined;
  }
  return `${response.status} ${code ?? text.slice(0, 120)}`;
}

/** Every Worker route that reads a body and refuses it for size, with a body over its limit. */
const oversize = [
  { name: "publish", send: rest("/v1/rooms/dev-oversize/messages", user), size: REST_OVERSIZE },
  { name: "send", send: rest("/api/v1/send", user), size: REST_OVERSIZE },
  { name: "multicast", send: rest("/api/v1/multicast", admin), size: REST_OVERSIZE },
  { name: "logout", send: rest("/v1/users/dev-check/logout", admin), size: REST_OVERSIZE },
  { name: "engine.io", send: engineIoPost, size: ENGINE_OVERSIZE },
].map((route) => ({ ...route, bytes: Buffer.from(`{"data":"${"a".repeat(route.size)}"}`) }));

test("oversize bodies through make dev are refused with 413 and never fail another client's requests", async (t) => {
  assert.ok(base, "HERALD_DEV_URL names the running `make dev` (scripts/check-dev.sh sets it)");
  const began = Date.now();
  const refusals = new Map();
  let otherDone = false;
  const other = { sent: 0, failed: [] };
  // POSTs, which wrangler's proxy does not retry: a dropped connection shows as a 503.
  const otherClient = (async () => {
    while (!otherDone) {
      const n = other.sent++;
      const answer = await fetch(`${base}/v1/rooms/dev-other/messages`, {
        method: "POST",
        headers: { authorization: `Bearer ${user}` },
        body: JSON.stringify({ event: "n", data: n }),
      }).then(
        async (r) => (r.ok ? null : `${r.status} ${(await r.text()).slice(0, 120)}`),
        (e) => `network error ${e.cause?.code ?? e.message}`,
      );
      if (answer) other.failed.push(answer);
    }
  })();
  try {
    // Each route in turn, declared then chunked: 100 bodies of each kind on each route.
    for (let i = 0; i < OVERSIZE_BODIES; i++) {
      const route = oversize[i % oversize.length];
      const chunked = Math.floor(i / oversize.length) % 2 === 1;
      const answer = await route.send(route.bytes, chunked).then(codeOf, (e) => `network error ${e.cause?.code ?? e.message}`);
      const key = `${route.name}${chunked ? " (chunked)" : ""}: ${answer}`;
      refusals.set(key, (refusals.get(key) ?? 0) + 1);
    }
  } finally {
    otherDone = true;
    await otherClient;
  }
  const expected = new Map(
    oversize.flatMap((route) => [
      [`${route.name}: 413 payload_too_large`, OVERSIZE_BODIES / oversize.length / 2],
      [`${route.name} (chunked): 413 payload_too_large`, OVERSIZE_BODIES / oversize.length / 2],
    ]),
  );
  const failures = new Map();
  for (const answer of other.failed) failures.set(answer, (failures.get(answer) ?? 0) + 1);
  t.diagnostic(`${OVERSIZE_BODIES} oversize bodies in ${Date.now() - began} ms; the other client sent ${other.sent} requests`);
  assert.ok(other.sent > 100, `the other client sent only ${other.sent} requests meanwhile`);
  assert.deepEqual(
    { refusals: Object.fromEntries(refusals), otherClientFailures: Object.fromEntries(failures) },
    { refusals: Object.fromEntries(expected), otherClientFailures: {} },
  );
});
