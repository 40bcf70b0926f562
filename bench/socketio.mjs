#!/usr/bin/env node
// Benchmark: one room, 100 subscribers, one publisher at fixed offered rates. The same room over
// the JSON protocol (websockets), Socket.IO over websocket and Socket.IO over long-polling
// (the native dialect). Measures deliveries per second, latency (p50, p99), loss, duplicates
// and order per subscriber. Not a test: it reports numbers and exits 0 unless it cannot run.
//
//   node bench/socketio.mjs            # steps 50, 100, 200, 500, 1000 msg/s, 5 s each
//   node bench/socketio.mjs --quick    # one step of 100 msg/s for 2 s per variant
//   options: --clients N  --steps 50,100  --duration S  --variants json,socketio-websocket,socketio-polling
//
// The built worker (build/) must exist: `make bench-socketio` builds it first. See bench/README.md.
import { createRequire } from "node:module";
import { mkdirSync, writeFileSync, renameSync, readFileSync, statSync } from "node:fs";
import { createHash } from "node:crypto";
import { execFileSync } from "node:child_process";
import { cpus, totalmem, platform, release } from "node:os";
import { join, dirname, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { startHerald } from "../miniflare/harness.mjs";

const require = createRequire(new URL("../miniflare/package.json", import.meta.url));
const { io } = require("socket.io-client");
const WebSocket = require("ws");

const root = join(dirname(fileURLToPath(import.meta.url)), "..");

// ---------------------------------------------------------------- options

const VARIANTS = ["json", "socketio-websocket", "socketio-polling"];

function parseArgs(argv) {
  const quick = argv.includes("--quick");
  const opts = {
    quick,
    clients: 100,
    steps: quick ? [100] : [50, 100, 200, 500, 1000],
    durationS: quick ? 2 : 5,
    variants: VARIANTS,
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) usage(`${arg} needs a value`);
      return v;
    };
    if (arg === "--quick") continue;
    else if (arg === "--clients") opts.clients = positive(value(), arg);
    else if (arg === "--steps") opts.steps = value().split(",").map((s) => positive(s, arg));
    else if (arg === "--duration") opts.durationS = positive(value(), arg);
    else if (arg === "--variants") {
      opts.variants = value().split(",");
      for (const v of opts.variants) if (!VARIANTS.includes(v)) usage(`unknown variant ${v}`);
    } else usage(`unknown argument ${arg}`);
  }
  return opts;
}

function positive(text, what) {
  const n = Number(text);
  if (!(n > 0)) usage(`${what}: not a positive number: ${text}`);
  return n;
}

function usage(message) {
  console.error(`${message}\nusage: node bench/socketio.mjs [--quick] [--clients N] [--steps 50,100] [--duration S] [--variants ${VARIANTS.join(",")}]`);
  process.exit(2);
}

const OPTS = parseArgs(process.argv.slice(2));

/** Stop raising the rate for a variant past this p99, or at any loss. */
const P99_LIMIT_MS = 250;
/** After the last scheduled send: wait for the deliveries until none came for this long… */
const DRAIN_QUIET_MS = 3000;
/** …or at most this long. */
const DRAIN_MAX_MS = 20000;
/** One second at this rate warms each room up before the measured steps. */
const WARMUP_RATE = 50;
const CONNECT_TIMEOUT_MS = 15000;
const CONNECT_CONCURRENCY = 10;
const BODY = "x".repeat(100);
// The publisher is one connection sending up to 1000 frames/s: lift the per-connection rate
// limit (50/s by default) so that the limit under test is the fan-out, not the publisher's quota.
const VARS = {
  MAX_MESSAGES_PER_SECOND: "100000",
  MAX_MESSAGE_BURST: "1000000",
  // One address, and the generator's one user: the connection caps are not what is measured.
  MAX_CONNECTIONS_PER_USER: "1000000",
  MAX_CONNECTIONS_PER_ADDRESS: "1000000",
  // Subscribers that read but never ping (the JSON clients) stay within the slow-consumer bound.
  MAX_BACKLOG_BYTES: "268435456",
};

const now = () => performance.timeOrigin + performance.now();
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** `promise`, or a rejection naming `what` after `ms`. */
function within(promise, what, ms = CONNECT_TIMEOUT_MS) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Runs `fn(i)` for i in 0..n, at most `limit` at a time. */
async function pool(n, limit, fn) {
  let next = 0;
  const results = new Array(n);
  await Promise.all(
    Array.from({ length: Math.min(limit, n) }, async () => {
      while (next < n) {
        const i = next++;
        results[i] = await fn(i);
      }
    }),
  );
  return results;
}

/** A failure with what was sent and what came back, for the report. */
class Misbehaviour extends Error {
  constructor(message, details) {
    super(message);
    this.details = details;
  }
}

// ---------------------------------------------------------------- recording

/**
 * What a variant's subscribers received. A delivery belongs to the step whose timetable holds
 * its scheduled send time (`data.ts`); steps never overlap in time.
 */
class Recorder {
  constructor(clients) {
    this.subs = Array.from({ length: clients }, () => ({ last: 0, seen: new Set() }));
    this.steps = [];
    this.unattributed = 0;
    this.late = 0; // deliveries of a step already reported
    this.events = []; // disconnects, error events, closes: server misbehaviour or overload
    this.closing = false;
  }

  stepOf(ts) {
    for (let i = this.steps.length - 1; i >= 0; i--) {
      const s = this.steps[i];
      if (ts >= s.start && ts <= s.end) return s;
    }
    return undefined;
  }

  deliver(subIndex, seq, ts, at) {
    const step = typeof ts === "number" ? this.stepOf(ts) : undefined;
    if (!step) {
      this.unattributed++;
      return;
    }
    if (step.done) this.late++;
    const sub = this.subs[subIndex];
    if (sub.seen.has(seq)) {
      step.duplicates++;
      return;
    }
    sub.seen.add(seq);
    if (seq < sub.last) step.orderViolations++;
    else sub.last = seq;
    step.latencies.push(at - ts);
    step.got++;
    step.lastAt = at;
    if (step.firstAt === undefined) step.firstAt = at;
  }

  event(what) {
    if (this.closing) return; // our own closes at the end
    if (this.events.length < 200) this.events.push({ at: new Date().toISOString(), ...what });
  }
}

function newStep(rate, start, count) {
  return {
    rate,
    start,
    end: start + ((count - 1) * 1000) / rate,
    count,
    sent: 0,
    acked: 0,
    publishErrors: 0,
    errorSamples: [],
    sendLag: [],
    ackLatency: [],
    latencies: [],
    got: 0,
    duplicates: 0,
    orderViolations: 0,
    firstAt: undefined,
    lastAt: undefined,
    done: false,
  };
}

function percentile(sorted, p) {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))];
}

const round = (x, digits = 1) => (x === null || x === undefined ? null : Number(x.toFixed(digits)));

function summarize(step, clients) {
  const lat = Float64Array.from(step.latencies).sort();
  const lag = Float64Array.from(step.sendLag).sort();
  const ack = Float64Array.from(step.ackLatency).sort();
  const expected = step.sent * clients;
  const spanS = step.lastAt === undefined ? null : (step.lastAt - step.start) / 1000;
  return {
    offered: step.rate,
    durationS: round((step.end - step.start) / 1000 + 1 / step.rate, 2),
    sent: step.sent,
    acked: step.acked,
    publishErrors: step.publishErrors,
    expected,
    got: step.got,
    loss: expected - step.got,
    duplicates: step.duplicates,
    orderViolations: step.orderViolations,
    deliveriesPerS: spanS ? Math.round(step.got / spanS) : 0,
    latencyMs: { p50: round(percentile(lat, 0.5)), p99: round(percentile(lat, 0.99)), max: round(percentile(lat, 1)) },
    ackMs: { p50: round(percentile(ack, 0.5)), p99: round(percentile(ack, 0.99)) },
    sendLagMs: { p99: round(percentile(lag, 0.99)), max: round(percentile(lag, 1)) },
    errorSamples: step.errorSamples,
  };
}

// ---------------------------------------------------------------- clients

/** A JSON-protocol websocket to `room` as `sub`; resolves with the socket after `welcome`. */
function openJson(herald, room, sub, onFrame) {
  return new Promise((resolve, reject) => {
    const url = `${herald.ws}/v1/rooms/${room}/ws`;
    const ws = new WebSocket(url, { headers: { authorization: `Bearer ${herald.token(sub)}` } });
    let welcomed = false;
    ws.on("unexpected-response", (_req, res) => {
      let body = "";
      res.on("data", (c) => (body += c));
      res.on("end", () => reject(new Misbehaviour(`JSON websocket upgrade refused: ${res.statusCode}`, { sent: `GET ${url}`, status: res.statusCode, body })));
    });
    ws.on("error", (e) => (welcomed ? undefined : reject(e)));
    ws.on("message", (data) => {
      const at = now();
      const frame = JSON.parse(data.toString());
      if (!welcomed) {
        if (frame.type === "welcome") {
          welcomed = true;
          resolve(ws);
        } else {
          reject(new Misbehaviour(`JSON websocket: first frame is not welcome`, { sent: `GET ${url}`, got: frame }));
        }
        return;
      }
      onFrame(frame, at);
    });
  });
}

/** A socket.io-client socket on the native dialect, joined to `room`. */
async function openSocketIo(herald, room, sub, transports, recorder, index) {
  const socket = io(herald.http, {
    path: "/v1/socket.io/",
    auth: { token: herald.token(sub) },
    transports,
    forceNew: true,
    reconnection: false,
  });
  try {
    await within(
      new Promise((resolve, reject) => {
        socket.once("connect", resolve);
        socket.once("connect_error", (e) =>
          reject(new Misbehaviour(`Socket.IO connect refused: ${e.message}`, { sent: `CONNECT / with auth {token}`, got: { message: e.message, data: e.data, description: e.description?.toString?.() } })),
        );
      }),
      `Socket.IO connect (${transports})`,
    );
  } catch (e) {
    socket.close();
    throw e;
  }
  socket.on("message", (m) => recorder.deliver(index, m?.seq, m?.data?.ts, now()));
  socket.on("error", (e) => recorder.event({ sub, kind: "error event", frame: e }));
  socket.on("disconnect", (reason, description) => recorder.event({ sub, kind: "disconnect", reason, description: String(description?.message ?? description ?? "") }));
  const joinArg = { room };
  let answer;
  try {
    answer = await socket.timeout(CONNECT_TIMEOUT_MS).emitWithAck("join", joinArg);
  } catch (e) {
    socket.close();
    throw new Misbehaviour(`Socket.IO join not answered: ${e.message}`, { sent: ["join", joinArg], got: null });
  }
  if (answer?.type !== "welcome" || answer.room !== room) {
    socket.close();
    throw new Misbehaviour(`Socket.IO join answered with something other than the room's welcome`, { sent: ["join", joinArg], got: answer });
  }
  return socket;
}

/** The publisher: a JSON-protocol websocket. Acks and errors are matched by `transaction`. */
async function openPublisher(herald, room, recorder) {
  const txSteps = [];
  const txScheduled = [];
  const ws = await openJson(herald, room, "bench-publisher", (frame, at) => {
    if (frame.type === "ack" || frame.type === "error") {
      const step = txSteps[frame.transaction];
      if (!step) {
        if (frame.type === "error") recorder.event({ sub: "bench-publisher", kind: "error frame", frame });
        return;
      }
      if (frame.type === "ack") {
        step.acked++;
        step.ackLatency.push(at - txScheduled[frame.transaction]);
      } else {
        step.publishErrors++;
        if (step.errorSamples.length < 5) step.errorSamples.push(frame);
      }
      delete txSteps[frame.transaction];
    }
  });
  ws.on("close", (code, reason) => recorder.event({ sub: "bench-publisher", kind: "close", code, reason: reason.toString() }));
  let tx = 0;
  return {
    ws,
    /** Sends the step's messages on its fixed timetable (message i at start + i/rate). */
    run(step) {
      return new Promise((resolve) => {
        const interval = 1000 / step.rate;
        let i = 0;
        const tick = () => {
          const t = now();
          while (i < step.count && step.start + i * interval <= t) {
            const scheduled = step.start + i * interval;
            const id = tx++;
            txSteps[id] = step;
            txScheduled[id] = scheduled;
            ws.send(JSON.stringify({ type: "publish", event: "bench", data: { ts: scheduled, body: BODY }, transaction: id }));
            step.sendLag.push(now() - scheduled);
            step.sent++;
            i++;
          }
          if (i < step.count) setTimeout(tick, Math.max(0, step.start + i * interval - now()));
          else resolve();
        };
        tick();
      });
    },
  };
}

// ---------------------------------------------------------------- one variant

/** Waits until every expected delivery of `step` came, or none came for DRAIN_QUIET_MS. */
async function drain(step) {
  const expected = step.sent * OPTS.clients;
  const start = now();
  let lastGot = -1;
  let lastProgress = now();
  while (step.got < expected && now() - start < DRAIN_MAX_MS) {
    if (step.got !== lastGot) {
      lastGot = step.got;
      lastProgress = now();
    } else if (now() - lastProgress > DRAIN_QUIET_MS) break;
    await sleep(50);
  }
  await sleep(250); // duplicates trailing the last delivery
}

async function runVariant(variant, log) {
  const herald = await startHerald({ vars: VARS });
  const room = `bench-${variant}-${Date.now()}`;
  const recorder = new Recorder(OPTS.clients);
  const closers = [];
  const result = { variant, room, clients: OPTS.clients, steps: [], stoppedBecause: null, error: null, events: recorder.events };
  try {
    const t0 = now();
    await pool(OPTS.clients, CONNECT_CONCURRENCY, async (i) => {
      const sub = `bench-sub-${i}`;
      if (variant === "json") {
        const ws = await openJson(herald, room, sub, (frame, at) => {
          if (frame.type === "message") recorder.deliver(i, frame.seq, frame.data?.ts, at);
          else if (frame.type === "error") recorder.event({ sub, kind: "error frame", frame });
        });
        ws.on("close", (code, reason) => recorder.event({ sub, kind: "close", code, reason: reason.toString() }));
        closers.push(() => ws.terminate());
      } else {
        const transports = variant === "socketio-websocket" ? ["websocket"] : ["polling"];
        const socket = await openSocketIo(herald, room, sub, transports, recorder, i);
        closers.push(() => socket.close());
      }
    });
    const publisher = await openPublisher(herald, room, recorder);
    closers.push(() => publisher.ws.terminate());
    result.connectS = round((now() - t0) / 1000, 2);
    log(`${variant}: ${OPTS.clients} subscribers and the publisher in room ${room} (${result.connectS} s)`);
    await sleep(1000); // presence and joined frames settle

    // Warm-up, not reported: the first messages of a room pay for its start (storage, JIT).
    const warm = newStep(WARMUP_RATE, now() + 50, WARMUP_RATE);
    recorder.steps.push(warm);
    await publisher.run(warm);
    await drain(warm);
    warm.done = true;
    result.warmup = summarize(warm, OPTS.clients);
    await sleep(500);

    for (const rate of OPTS.steps) {
      const count = Math.max(1, Math.round(rate * OPTS.durationS));
      const step = newStep(rate, now() + 50, count);
      recorder.steps.push(step);
      await publisher.run(step);
      await drain(step);
      step.done = true;
      const summary = summarize(step, OPTS.clients);
      result.steps.push(summary);
      log(row(variant, summary));
      if (summary.latencyMs.p99 === null || summary.latencyMs.p99 > P99_LIMIT_MS || summary.loss > 0) {
        result.stoppedBecause = summary.loss > 0 ? `loss at ${rate} msg/s` : `p99 over ${P99_LIMIT_MS} ms at ${rate} msg/s`;
        break;
      }
      await sleep(1000);
    }
  } catch (e) {
    result.error = { message: e.message, details: e.details, stack: e.details ? undefined : e.stack };
    log(`${variant}: FAILED: ${e.message}${e.details ? `\n  ${JSON.stringify(e.details)}` : ""}`);
  } finally {
    result.unattributedDeliveries = recorder.unattributed;
    result.lateDeliveries = recorder.late;
    recorder.closing = true;
    for (const close of closers) {
      try {
        close();
      } catch {}
    }
    await sleep(500);
    if (result.error || recorder.events.length) result.workerLogTail = herald.logs.slice(-40);
    await herald.stop().catch(() => {});
  }
  return result;
}

// ---------------------------------------------------------------- output

const COLUMNS = [
  ["variant", 19, (v) => v],
  ["offered/s", 9, (_, s) => s.offered],
  ["sent", 6, (_, s) => s.sent],
  ["deliv/s", 8, (_, s) => s.deliveriesPerS],
  ["expected", 8, (_, s) => s.expected],
  ["got", 8, (_, s) => s.got],
  ["loss", 6, (_, s) => s.loss],
  ["dup", 5, (_, s) => s.duplicates],
  ["order", 5, (_, s) => s.orderViolations],
  ["p50 ms", 7, (_, s) => s.latencyMs.p50 ?? "-"],
  ["p99 ms", 7, (_, s) => s.latencyMs.p99 ?? "-"],
  ["max ms", 7, (_, s) => s.latencyMs.max ?? "-"],
  ["ack p99", 7, (_, s) => s.ackMs.p99 ?? "-"],
  ["lag p99", 7, (_, s) => s.sendLagMs.p99 ?? "-"],
  ["pub err", 7, (_, s) => s.publishErrors],
];

const header = () => COLUMNS.map(([name, w], i) => (i === 0 ? name.padEnd(w) : name.padStart(w))).join(" ");
const row = (variant, s) => COLUMNS.map(([, w, f], i) => (i === 0 ? String(f(variant, s)).padEnd(w) : String(f(variant, s)).padStart(w))).join(" ");

function gitCommit() {
  try {
    const head = execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: root, encoding: "utf8" }).trim();
    const dirty = execFileSync("git", ["status", "--porcelain", "--untracked-files=no"], { cwd: root, encoding: "utf8" }).trim();
    return dirty ? `${head}+dirty` : head;
  } catch {
    return null;
  }
}

/** The bundle that ran (build/ can be newer than the commit). */
function buildInfo() {
  try {
    const wasm = join(root, "build", "index_bg.wasm");
    return { wasmSha256: createHash("sha256").update(readFileSync(wasm)).digest("hex").slice(0, 16), builtAt: statSync(wasm).mtime.toISOString() };
  } catch {
    return null;
  }
}

// ---------------------------------------------------------------- main

const started = new Date();
const log = (line) => console.error(line);
const machine = { cores: cpus().length, cpu: cpus()[0]?.model, memoryGiB: round(totalmem() / 2 ** 30), os: `${platform()} ${release()}`, node: process.version };
log(`Herald Socket.IO benchmark${OPTS.quick ? " (quick)" : ""}: ${OPTS.clients} subscribers, steps ${OPTS.steps.join(", ")} msg/s × ${OPTS.durationS} s, ${machine.cores} cores`);
log(header());

const results = [];
for (const variant of OPTS.variants) results.push(await runVariant(variant, log));

const report = {
  benchmark: "socketio",
  startedAt: started.toISOString(),
  finishedAt: new Date().toISOString(),
  quick: OPTS.quick,
  herald: gitCommit(),
  build: buildInfo(),
  machine,
  settings: {
    clients: OPTS.clients,
    steps: OPTS.steps,
    stepDurationS: OPTS.durationS,
    bodyBytes: BODY.length,
    p99LimitMs: P99_LIMIT_MS,
    drainQuietMs: DRAIN_QUIET_MS,
    drainMaxMs: DRAIN_MAX_MS,
    warmup: `${WARMUP_RATE} msg/s for 1 s, not reported`,
    vars: VARS,
  },
  variants: results,
};

console.log(`\nHerald Socket.IO benchmark, ${started.toISOString()}${OPTS.quick ? " (quick)" : ""}: room of ${OPTS.clients} subscribers, ${machine.cores} cores (${machine.cpu})`);
console.log(header());
for (const r of results) {
  for (const s of r.steps) console.log(row(r.variant, s));
  if (r.error) console.log(`${r.variant.padEnd(19)} FAILED: ${r.error.message}`);
  else if (r.stoppedBecause) console.log(`${r.variant.padEnd(19)} stopped: ${r.stoppedBecause}`);
  const noted = r.events.length + r.unattributedDeliveries + r.lateDeliveries;
  if (noted) console.log(`${r.variant.padEnd(19)} note: ${r.events.length} client events (disconnects, errors), ${r.unattributedDeliveries} unattributed and ${r.lateDeliveries} late deliveries (see the results file)`);
}

const dir = join(root, "bench", "results");
mkdirSync(dir, { recursive: true });
const stamp = started.toISOString().replace(/\.\d+Z$/, "Z").replace(/:/g, "-");
const file = join(dir, `socketio-${stamp}${OPTS.quick ? "-quick" : ""}.json`);
writeFileSync(`${file}.tmp`, `${JSON.stringify(report, null, 2)}\n`);
renameSync(`${file}.tmp`, file);
console.log(`\nresults: ${relative(process.cwd(), file) || file}`);
process.exit(results.some((r) => r.error) ? 1 : 0);
