#!/usr/bin/env node
// Where Herald's time goes under load: a CPU profile of the worker, taken through workerd's
// inspector (the Chrome DevTools protocol) while the Rust load generator drives one room.
// Prints the functions with the most self time (wasm functions by their Rust names) and
// writes the whole profile for Chrome's DevTools (Performance → Load profile).
//
//   node bench/profile.mjs [--subscribers 10] [--rate 2000] [--seconds 5] [--top 40]
//
// Needs build/ and the load generator (make bench-loadgen). Not pinned, not part of make bench:
// a tool for looking, not a figure.
import { spawn } from "node:child_process";
import { writeFileSync, mkdirSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import WebSocket from "ws";
import { Miniflare } from "miniflare";
import { optionsFromWrangler } from "../miniflare/harness.mjs";
import { HERALD_VARS, SECRET, freePort } from "./systems.mjs";
import { mint } from "../scripts/token.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const subscribers = arg("subscribers", 10);
const rate = arg("rate", 2000);
const seconds = arg("seconds", 5);
const top = arg("top", 40);

const inspectorPort = await freePort();
const mf = new Miniflare({ ...optionsFromWrangler(HERALD_VARS, undefined, false, { delivery: false }), inspectorPort, port: await freePort() });
const url = await mf.ready;

// The inspector lists one target per worker; Miniflare names a user's worker `core:user:{name}`.
const targets = await (await fetch(`http://127.0.0.1:${inspectorPort}/json/list`)).json();
const target = targets.find((t) => t.id === "core:user:herald");
const cdp = new WebSocket(target.webSocketDebuggerUrl);
await new Promise((resolve, reject) => (cdp.once("open", resolve), cdp.once("error", reject)));
let nextId = 0;
const waiting = new Map();
cdp.on("message", (data) => {
  const msg = JSON.parse(data);
  if (msg.id && waiting.has(msg.id)) waiting.get(msg.id)(msg);
});
const call = (method, params = {}) =>
  new Promise((resolve) => {
    const id = ++nextId;
    waiting.set(id, resolve);
    cdp.send(JSON.stringify({ id, method, params }));
  });

await call("Profiler.enable");
await call("Profiler.setSamplingInterval", { interval: 100 });
const token = mint({ sub: "bench" }, SECRET);
const ws = url.href.replace(/^http/, "ws").replace(/\/$/, "");
const loadgen = join(here, "loadgen/target/release/loadgen");
await call("Profiler.start");
await new Promise((resolve) => {
  const child = spawn(loadgen, ["--protocol", "herald", "--url", ws, "--token", token, "--room", `profile-${Date.now()}`,
    "--subscribers", String(subscribers), "--rates", String(rate), "--step-seconds", String(seconds), "--warmup-seconds", "0"], { stdio: ["ignore", "ignore", "inherit"] });
  child.on("exit", resolve);
});
const { result } = await call("Profiler.stop");
cdp.close();
await mf.dispose();

const profile = result.profile;
const dir = join(here, "results");
mkdirSync(dir, { recursive: true });
const file = join(dir, `profile-${new Date().toISOString().replace(/\.\d+Z$/, "Z").replace(/:/g, "-")}.cpuprofile`);
writeFileSync(file, JSON.stringify(profile));

// Self time per function: samples × interval, by the node each sample landed in.
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const self = new Map();
const deltas = profile.timeDeltas;
profile.samples.forEach((id, i) => {
  const node = byId.get(id);
  const { functionName, url: where } = node.callFrame;
  const key = `${functionName || "(anonymous)"}  ${where ? where.split("/").pop() : ""}`.trim();
  self.set(key, (self.get(key) ?? 0) + (deltas[i + 1] ?? 0));
});
const total = [...self.values()].reduce((a, b) => a + b, 0);
console.log(`${subscribers} subscribers, ${rate} msg/s, ${seconds} s: ${(total / 1000).toFixed(0)} ms sampled; top ${top} by self time`);
for (const [name, us] of [...self].sort((a, b) => b[1] - a[1]).slice(0, top)) {
  console.log(`${((100 * us) / total).toFixed(1).padStart(5)} %  ${(us / 1000).toFixed(1).padStart(8)} ms  ${name}`);
}
console.log(`profile: ${file}`);
