// Herald is two Workers (README, "The bundle"): `herald` (wrangler.toml) and the delivery Worker
// (delivery/wrangler.toml), which consumes the fallback queues. They read the exchange's
// variables alike, so the two files must say the same of them; and each Worker's bundle stays
// within the budget.
import { test } from "node:test";
import assert from "node:assert/strict";
import { statSync } from "node:fs";
import { join } from "node:path";
import { readWrangler, EXCHANGE_VAR, root } from "../harness.mjs";

const herald = readWrangler("wrangler.toml");
const delivery = readWrangler("delivery/wrangler.toml");

test("the delivery Worker's exchange variables are the herald Worker's, and it has no other", () => {
  const exchange = (vars) => Object.fromEntries(Object.entries(vars ?? {}).filter(([name]) => EXCHANGE_VAR.test(name)));
  assert.deepEqual(exchange(delivery.vars), exchange(herald.vars));
  const others = Object.keys(delivery.vars ?? {}).filter((name) => !EXCHANGE_VAR.test(name));
  assert.deepEqual(others, [], "the delivery Worker reads only the exchange's variables");
  assert.ok(Object.keys(exchange(herald.vars)).length >= 10, "the exchange's variables are in wrangler.toml");
});

test("each queue has one consumer: the fallback queues the delivery Worker's, the fan-out the herald Worker's", () => {
  const consumed = (config) => (config.queues?.consumers ?? []).map((c) => c.queue).sort();
  assert.deepEqual(consumed(delivery), ["herald-fallback", "herald-fallback-dead"]);
  assert.deepEqual(consumed(herald), ["herald-fanout"]);
  const produced = (herald.queues?.producers ?? []).map((p) => p.queue);
  assert.ok(produced.includes("herald-fallback"), "the inboxes queue jobs from the herald Worker");
  const fallback = delivery.queues.consumers.find((c) => c.queue === "herald-fallback");
  assert.equal(fallback.max_retries + 1, Number(delivery.vars.FALLBACK_MAX_ATTEMPTS), "max_retries = FALLBACK_MAX_ATTEMPTS - 1");
});

test("the delivery Worker calls the herald Worker's object class, by its script name", () => {
  const [binding] = delivery.durable_objects.bindings;
  const own = herald.durable_objects.bindings.find((b) => b.name === binding.name);
  assert.equal(binding.script_name, herald.name);
  assert.equal(binding.class_name, own.class_name);
});

test("each Worker's wasm is within the 1,000,000-byte budget", () => {
  for (const dir of ["build", "delivery/build"]) {
    const bytes = statSync(join(root, dir, "index_bg.wasm")).size;
    assert.ok(bytes <= 1_000_000, `${dir}/index_bg.wasm is ${bytes} bytes`);
  }
});
