#!/usr/bin/env node
// The side-by-side benchmark (issue 6): every system under test (bench/systems.mjs), one after
// another, each pinned to core 0, driven by the Rust load generator (bench/loadgen) pinned to
// core 1. Writes bench/results/<ISO time>[-quick].json and, for a full run, regenerates
// BENCHMARKS.md at the repo root. See bench/README.md, "The side-by-side run".
//
//   node bench/run.mjs                 # full: 3 repetitions, every scenario (tens of minutes)
//   node bench/run.mjs --quick         # harness smoke test: N = 10, one short step, 1 repetition
//   node bench/run.mjs --reps 1 --subscribers 100 --step-seconds 2 --systems js-room,herald-miniflare
//
// Scenarios, per system and repetition, in this order (one fresh room each):
//   startup      connect one client to a fresh room twice: the first object of the process
//                (cold) and a second one (fresh object, warm process); plus the process start
//   baseline     100 subscribers, 10 msg/s: p50 / p99
//   fanout       per N: offered deliveries/s rising (publishes/s = deliveries / N) until the
//                generator's stop rule (p99 > 250 ms or any loss); the knee is the highest
//                delivered/s of a step within the rule
//   idle         K subscribers and a publisher; a warm message, then a quiet spell (longer than
//                workerd's 10 s eviction timer) in which each socket only sends the auto-response
//                ping; then the first message after idle. Counts the room's wake log lines per
//                phase (evicted while the sockets stayed open? did a ping wake it?), the server's
//                CPU time and PSS over the spell, and both messages' latency
//   connections  a ramp of idle connections into one room (1k, 2k, 5k, 10k, then up to the
//                file-descriptor limit): per step connect p99 and the server tree's PSS
//                (/proc/<pid>/smaps_rollup) per connection; the highest count held
// Repetitions alternate the system order (forward, reversed, forward…); each figure is reported
// as the median and the min–max over the repetitions. `idle` and `connections` run in the first
// repetition only (together about 40 s per system).
import { spawn, execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync, rmSync, mkdtempSync } from "node:fs";
import { cpus, totalmem, tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { SYSTEMS, GENERATOR_CPU, start } from "./systems.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..");
const LOADGEN = process.env.LOADGEN ?? join(here, "loadgen/target/release/loadgen");
/** The Herald every ratio is taken from: workerd serving the bundle, no proxy in front. */
const HERALD = "herald-miniflare";
const ORDER = ["herald-miniflare", "herald-wrangler", "js-room", "partyserver", "socketio-node", "js-limit"];
const STOP_P99_MS = 250;

const FULL = {
  systems: ORDER,
  subscribers: [10, 100, 1000],
  // the issue's steps, and more between and above them, so that knees near the top are told apart
  deliveries: [1000, 2000, 5000, 10000, 20000, 30000, 40000, 50000, 70000, 100000],
  stepSeconds: 3,
  warmupSeconds: 1,
  reps: 3,
  baseline: { subscribers: 100, rate: 10, seconds: 10 },
  // the ramp's counts; "limit": the file-descriptor limit less FD_HEADROOM
  connections: [1000, 2000, 5000, 10000, "limit"],
  holdSeconds: 1,
  rampStepMaxSeconds: 60,
  // workerd evicts an object 10 s after its last event (server.c++, ActorContainer)
  idle: { subscribers: 100, seconds: 12, pingEvery: 3 },
  drainMaxSeconds: 20,
};
const QUICK = {
  ...FULL,
  subscribers: [10],
  deliveries: [1000],
  stepSeconds: 1,
  warmupSeconds: 0,
  reps: 1,
  baseline: { subscribers: 10, rate: 10, seconds: 1 },
  connections: [20, 50],
  holdSeconds: 0.5,
  // too short for an eviction: the harness's path, not the figure
  idle: { subscribers: 10, seconds: 1, pingEvery: 0.5 },
  drainMaxSeconds: 5,
};
/** The scenarios run in the first repetition only. */
const ONCE = ["idle", "connections"];
/** File descriptors kept back from the ramp's top step for the processes' others (files, pipes, sockets). */
const FD_HEADROOM = 500;

// ---------------------------------------------------------------- command line

function parseArgs(argv) {
  const quick = argv.includes("--quick");
  const cfg = structuredClone(quick ? QUICK : FULL);
  const reduced = [];
  const list = (v) => v.split(",").map((x) => x.trim()).filter(Boolean);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) usage(`${a} needs a value`);
      reduced.push(`${a} ${argv[i + 1]}`);
      return argv[++i];
    };
    if (a === "--quick") continue;
    else if (a === "--systems") cfg.systems = list(value());
    else if (a === "--subscribers") cfg.subscribers = list(value()).map(Number);
    else if (a === "--deliveries") cfg.deliveries = list(value()).map(Number);
    else if (a === "--step-seconds") cfg.stepSeconds = Number(value());
    else if (a === "--reps") cfg.reps = Number(value());
    else if (a === "--connections") cfg.connections = list(value()).map((x) => (x === "limit" ? x : Number(x)));
    else if (a === "--idle-seconds") cfg.idle.seconds = Number(value());
    else if (a === "--baseline-seconds") cfg.baseline.seconds = Number(value());
    else if (a === "--skip") cfg.skip = list(value());
    else if (a === "--no-markdown") cfg.noMarkdown = true;
    else usage(`unknown argument ${a}`);
  }
  for (const s of cfg.systems) if (!SYSTEMS[s]) usage(`unknown system ${s}`);
  const counts = cfg.connections.filter((x) => x !== "limit");
  if (![cfg.stepSeconds, cfg.reps, cfg.idle.seconds, ...counts, ...cfg.subscribers, ...cfg.deliveries].every((x) => x > 0)) usage("numbers must be positive");
  cfg.quick = quick;
  cfg.reduced = reduced;
  cfg.skip ??= [];
  return cfg;
}

function usage(message) {
  if (message) console.error(message);
  console.error(`usage: node bench/run.mjs [--quick] [--systems a,b] [--subscribers 10,100] [--deliveries 1000,2000]
  [--step-seconds S] [--reps R] [--connections 1000,5000,limit] [--idle-seconds S] [--baseline-seconds S]
  [--skip startup,baseline,fanout,idle,connections] [--no-markdown]
       node bench/run.mjs --markdown-from bench/results/<full run>.json
  systems: ${ORDER.join(", ")}`);
  process.exit(2);
}

// ---------------------------------------------------------------- the generator

const log = (...a) => console.error("[bench]", ...a);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
let roomCounter = 0;
const freshRoom = (what) => `${what}-${Date.now().toString(36)}-${++roomCounter}`;
const scratch = mkdtempSync(join(tmpdir(), "herald-bench-run-"));
process.on("exit", () => rmSync(scratch, { recursive: true, force: true }));

/**
 * Runs the generator against `sys` with `args` (pinned to GENERATOR_CPU when the server is
 * pinned); resolves with its JSON report, or `{error}`. `onStderr(line)` sees its progress.
 */
function loadgen(sys, args, { timeoutMs, onStderr } = {}) {
  const out = join(scratch, `${++roomCounter}.json`);
  const full = ["--protocol", sys.protocol, "--url", sys.ws, ...(sys.protocol === "herald" ? ["--token", sys.token("bench")] : []), ...args, "--json", out];
  const argv = sys.pinned ? ["taskset", "-c", GENERATOR_CPU, LOADGEN, ...full] : [LOADGEN, ...full];
  return new Promise((resolve) => {
    const child = spawn(argv[0], argv.slice(1), { stdio: ["ignore", "ignore", "pipe"] });
    const tail = [];
    let buffered = "";
    child.stderr.on("data", (chunk) => {
      buffered += chunk;
      const lines = buffered.split("\n");
      buffered = lines.pop();
      for (const line of lines) {
        tail.push(line);
        if (tail.length > 20) tail.shift();
        onStderr?.(line);
      }
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs ?? 600_000);
    child.on("exit", (code, signal) => {
      clearTimeout(timer);
      let report = null;
      try {
        report = JSON.parse(readFileSync(out, "utf8"));
      } catch {}
      if (!report) return resolve({ error: `loadgen exited ${code ?? signal} without a report: ${tail.slice(-5).join(" | ")}` });
      if (code !== 0) report.error = `loadgen exited ${code ?? signal}: ${report.stopped_because ?? tail.slice(-3).join(" | ")}`;
      resolve(report);
    });
  });
}

/** Sum of the PSS (kB) of the processes in `pids` (/proc/<pid>/smaps_rollup), or null. */
function pssKb(pids) {
  let total = 0;
  let any = false;
  for (const pid of pids) {
    try {
      const m = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, "utf8"));
      if (m) {
        total += Number(m[1]);
        any = true;
      }
    } catch {}
  }
  return any ? total : null;
}

const CLK_TCK = Number(sh("getconf", ["CLK_TCK"])) || 100;

/** CPU time (user + system, ms) the processes in `pids` have used so far (/proc/<pid>/stat). */
function cpuMs(pids) {
  let ticks = 0;
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      // fields 14 and 15 (utime, stime), counted after the parenthesised command name
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      ticks += Number(fields[11]) + Number(fields[12]);
    } catch {}
  }
  return (ticks * 1000) / CLK_TCK;
}

/** Open file descriptors of the processes in `pids` (/proc/<pid>/fd), or null. */
function fdCount(pids) {
  let total = 0;
  let any = false;
  for (const pid of pids) {
    try {
      total += readdirSync(`/proc/${pid}/fd`).length;
      any = true;
    } catch {}
  }
  return any ? total : null;
}

/** This process's limit on open files (its children, the servers, inherit it), or null. */
function fdLimit() {
  try {
    const m = /^Max open files\s+(\d+)/m.exec(readFileSync("/proc/self/limits", "utf8"));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

/** The ramp's counts, "limit" resolved to the file-descriptor limit less the headroom. */
function rampCounts(cfg) {
  const limit = fdLimit();
  const top = limit ? limit - FD_HEADROOM : null;
  const counts = cfg.connections.map((x) => (x === "limit" ? top : x)).filter((x) => x > 0 && (top == null || x <= top));
  return [...new Set(counts)].sort((a, b) => a - b);
}

const stepTimeout = (cfg, steps) => 60_000 + steps * (cfg.stepSeconds + cfg.drainMaxSeconds + 5) * 1000;
const common = (cfg) => ["--drain-max-seconds", String(cfg.drainMaxSeconds), "--stop-p99-ms", String(STOP_P99_MS)];

/** A step as kept in the results: the figures the tables use. */
function stepFigures(s) {
  return {
    offered_deliveries_per_s: s.offered_deliveries_per_s,
    offered_per_s: s.offered_per_s,
    delivered_per_s: s.delivered_per_s,
    p50: s.latency_ms?.p50 ?? null,
    p99: s.latency_ms?.p99 ?? null,
    p999: s.latency_ms?.p999 ?? null,
    max: s.latency_ms?.max ?? null,
    loss: s.loss,
    duplicates: s.duplicates,
    order_violations: s.order_violations,
    send_lag_p99: s.send_lag_ms?.p99 ?? null,
    generator_cpu: s.generator_cpu,
    generator_bound: s.generator_bound,
    within: s.loss === 0 && s.latency_ms?.p99 != null && s.latency_ms.p99 <= STOP_P99_MS,
  };
}

// ---------------------------------------------------------------- scenarios

async function startup(sys) {
  const once = async (what) => {
    const r = await loadgen(sys, ["--room", freshRoom(what), "--connections-only", "1", "--hold-seconds", "0"], { timeoutMs: 60_000 });
    return r.error || r.connect?.connected !== 1 ? { error: r.error ?? `not connected: ${r.connect?.failures?.[0]}` } : { ms: r.connect.ms.max };
  };
  const cold = await once("cold");
  const warm = await once("fresh");
  return { process_ms: sys.startMs, first_object_ms: cold.ms ?? null, fresh_object_ms: warm.ms ?? null, error: cold.error ?? warm.error };
}

async function baseline(sys, cfg) {
  const { subscribers, rate, seconds } = cfg.baseline;
  const r = await loadgen(sys, ["--room", freshRoom("baseline"), "--subscribers", String(subscribers), "--rates", String(rate), "--step-seconds", String(seconds), "--warmup-seconds", cfg.quick ? "0" : "1", ...common(cfg)], { timeoutMs: stepTimeout(cfg, 2) });
  if (r.error && !r.steps?.length) return { error: r.error };
  const s = r.steps?.[0] ? stepFigures(r.steps[0]) : null;
  return { subscribers, rate, seconds, p50: s?.p50 ?? null, p99: s?.p99 ?? null, loss: s?.loss ?? null, generator_bound: s?.generator_bound ?? false, error: r.error };
}

async function fanout(sys, cfg, n) {
  const rates = cfg.deliveries.map((d) => d / n);
  const r = await loadgen(sys, ["--room", freshRoom(`fanout${n}`), "--subscribers", String(n), "--rates", rates.join(","), "--step-seconds", String(cfg.stepSeconds), "--warmup-seconds", String(cfg.warmupSeconds), ...common(cfg)], { timeoutMs: stepTimeout(cfg, rates.length + 1) });
  if (r.error && !r.steps?.length) return { subscribers: n, error: r.error };
  const steps = (r.steps ?? []).map(stepFigures);
  const within = steps.filter((s) => s.within);
  const knee = within.length ? Math.max(...within.map((s) => s.delivered_per_s)) : null;
  return {
    subscribers: n,
    connect_p99: r.connect?.ms?.p99 ?? null,
    steps,
    knee_delivered_per_s: knee,
    // every offered step held: the knee lies beyond the highest offered load
    knee_not_reached: steps.length === cfg.deliveries.length && within.length === steps.length,
    stopped_because: r.stopped_because,
    error: r.error,
  };
}

async function idle(sys, cfg) {
  const { subscribers, seconds, pingEvery } = cfg.idle;
  const room = freshRoom("idle");
  const wakeLog = SYSTEMS[sys.name].wakeLog?.(room);
  const wakes = wakeLog ? sys.countLines(wakeLog) : () => null;
  const sample = () => ({ wakes: wakes(), cpu_ms: cpuMs(sys.pids()), pss_kb: pssKb(sys.pids()), at: performance.now() });
  let begin;
  let end;
  const r = await loadgen(sys, ["--room", room, "--subscribers", String(subscribers), "--idle-seconds", String(seconds), "--ping-every", String(pingEvery), ...common(cfg)], {
    timeoutMs: 120_000 + seconds * 1000,
    // the generator marks the quiet spell's edges as they happen (and stays quiet for half a
    // second after the end, while this samples)
    onStderr: (line) => {
      if (line.startsWith("idle: begin")) begin = sample();
      else if (line === "idle: end") end = sample();
    },
  });
  // the wake line of the message after idle comes through the runner's pipes
  await sleep(300);
  if (r.error && !r.idle) return { error: r.error };
  const i = r.idle;
  const message = (s) => ({ received: s.received, expected: s.expected, p50: s.latency_ms.p50, p99: s.latency_ms.p99, max: s.latency_ms.max, ack_ms: s.ack_ms.max });
  const during = begin && end ? end.wakes - begin.wakes : null;
  const after = end && wakeLog ? wakes() - end.wakes : null;
  return {
    subscribers,
    seconds,
    ping_every: pingEvery,
    hibernation: Boolean(wakeLog),
    // built again for the message after idle, and no socket closed meanwhile
    evicted: after == null ? null : after > 0 && i.closed_during_idle === 0,
    wakes_before: begin?.wakes ?? null,
    wakes_during_idle: wakeLog ? during : null,
    wakes_after_idle: after,
    closed_during_idle: i.closed_during_idle,
    pings_sent: i.pings_sent,
    pongs: i.pongs,
    pong_p99: i.pong_ms.p99,
    warm: message(i.warm),
    after_idle: message(i.after_idle),
    cpu_ms_idle: begin && end ? Math.round(end.cpu_ms - begin.cpu_ms) : null,
    idle_wall_ms: begin && end ? Math.round(end.at - begin.at) : null,
    pss_begin_kb: begin?.pss_kb ?? null,
    pss_end_kb: end?.pss_kb ?? null,
    error: r.error,
  };
}

async function connections(sys, cfg) {
  const counts = rampCounts(cfg);
  const before = pssKb(sys.pids());
  const fdsBefore = fdCount(sys.pids());
  const samples = [];
  const r = await loadgen(sys, ["--room", freshRoom("conns"), "--connections-only", counts.join(","), "--hold-seconds", String(cfg.holdSeconds), "--ramp-step-max-seconds", String(cfg.rampStepMaxSeconds)], {
    timeoutMs: 120_000 + counts.length * (cfg.rampStepMaxSeconds + cfg.holdSeconds + 20) * 1000,
    // each step's hold begins with this line: sample the memory a moment into it
    onStderr: (line) => {
      const held = /^ramp: holding (\d+)/.exec(line);
      if (held) samples.push(sleep(Math.min(1000, cfg.holdSeconds * 500)).then(() => ({ held: Number(held[1]), pss_kb: pssKb(sys.pids()), fds: fdCount(sys.pids()) })));
    },
  });
  const pss = await Promise.all(samples);
  if (r.error && !r.ramp?.length) return { error: r.error };
  const steps = (r.ramp ?? []).map((s, i) => ({
    target: s.target,
    held: s.held,
    failed: s.failed,
    dropped: s.dropped,
    seconds: s.seconds,
    connect_p50: s.ms.p50,
    connect_p99: s.ms.p99,
    pss_kb: pss[i]?.pss_kb ?? null,
    kb_per_connection: before != null && pss[i]?.pss_kb != null && pss[i].held > 0 ? (pss[i].pss_kb - before) / pss[i].held : null,
    // the server tree's file descriptors per connection: which process runs out first, and when
    fds_per_connection: fdsBefore != null && pss[i]?.fds != null && pss[i].held > 0 ? (pss[i].fds - fdsBefore) / pss[i].held : null,
  }));
  const top = steps.reduce((best, s) => (!best || s.held > best.held ? s : best), null);
  return {
    counts,
    fd_limit: fdLimit(),
    pss_before_kb: before,
    steps,
    highest_held: top?.held ?? 0,
    // the figures of the step that held the most
    connect_p99: top?.connect_p99 ?? null,
    kb_per_connection: top?.kb_per_connection ?? null,
    reached_top: steps.length === counts.length && top?.held === counts[counts.length - 1],
    stopped_because: r.stopped_because,
    // what the server said about it, if anything (a process out of file descriptors, say)
    server_said: r.stopped_because ? sys.logs().reverse().find((l) => /fatal|error|too many|refused|crash/i.test(l))?.slice(0, 200) ?? null : null,
    error: r.error ?? (steps.length === 0 ? "no step ran" : undefined),
  };
}

async function runSystem(name, cfg, rep) {
  log(`${name}: starting`);
  let sys;
  try {
    sys = await start(name);
  } catch (e) {
    return { error: `did not start: ${e.message.split("\n")[0]}` };
  }
  const result = { start_ms: sys.startMs, pinned: sys.pinned };
  try {
    if (!cfg.skip.includes("startup")) result.startup = await startup(sys);
    if (!cfg.skip.includes("baseline")) {
      result.baseline = await baseline(sys, cfg);
      log(`${name}: baseline p50 ${fmt(result.baseline.p50)} p99 ${fmt(result.baseline.p99)} ms${result.baseline.error ? ` (${result.baseline.error})` : ""}`);
    }
    if (!cfg.skip.includes("fanout")) {
      result.fanout = {};
      for (const n of cfg.subscribers) {
        const f = (result.fanout[n] = await fanout(sys, cfg, n));
        log(`${name}: fan-out N=${n}: knee ${fmt(f.knee_delivered_per_s)} deliveries/s${f.stopped_because ? ` (${f.stopped_because})` : ""}${f.error ? ` [${f.error}]` : ""}`);
      }
    }
    const runs = (scenario) => !cfg.skip.includes(scenario) && (rep === 0 || !ONCE.includes(scenario));
    if (runs("idle")) {
      const i = (result.idle = await idle(sys, cfg));
      if (i.pongs == null) log(`${name}: idle [${i.error}]`);
      else log(`${name}: idle ${i.seconds} s: evicted ${i.evicted ?? "n/a"}, wakes during idle ${i.wakes_during_idle ?? "n/a"}, pongs ${i.pongs}/${i.pings_sent}, after idle p99 ${fmt(i.after_idle?.p99)} ms (warm ${fmt(i.warm?.p99)}), server CPU ${fmt(i.cpu_ms_idle)} ms${i.error ? ` [${i.error}]` : ""}`);
    }
    if (runs("connections")) {
      const c = (result.connections = await connections(sys, cfg));
      if (!c.steps) log(`${name}: ramp [${c.error}]`);
      else log(`${name}: ramp ${c.counts?.join(", ")}: ${c.highest_held} held, connect p99 ${fmt(c.connect_p99)} ms, ${fmt(c.kb_per_connection)} kB each${c.stopped_because ? ` (${c.stopped_because})` : ""}${c.error ? ` [${c.error}]` : ""}`);
    }
  } catch (e) {
    result.error = e.stack ?? String(e);
  } finally {
    const failed = [result.error, result.startup?.error, result.baseline?.error, result.idle?.error, result.connections?.error, ...Object.values(result.fanout ?? {}).map((f) => f.error)].some(Boolean);
    if (failed) result.logs = sys.logs().slice(-20);
    await sys.stop();
  }
  return result;
}

// ---------------------------------------------------------------- machine, versions, bundle

function sh(cmd, args) {
  try {
    return execFileSync(cmd, args, { cwd: root, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
  } catch {
    return null;
  }
}

function pkgVersion(name) {
  try {
    return JSON.parse(readFileSync(join(here, "node_modules", name, "package.json"), "utf8")).version;
  } catch {
    return null;
  }
}

function environment() {
  const cargoBin = join(process.env.CARGO_HOME ?? join(process.env.HOME ?? "", ".cargo"), "bin");
  const rustc = sh(join(cargoBin, "rustc"), ["--version"]) ?? sh("rustc", ["--version"]);
  return {
    machine: { cpu: cpus()[0]?.model ?? null, cores: cpus().length, memory_gb: Math.round((totalmem() / 2 ** 30) * 10) / 10, kernel: sh("uname", ["-sr"]) },
    versions: {
      node: process.version,
      workerd: pkgVersion("workerd"),
      miniflare: pkgVersion("miniflare"),
      wrangler: pkgVersion("wrangler"),
      "socket.io": pkgVersion("socket.io"),
      partyserver: pkgVersion("partyserver"),
      rustc,
      loadgen: sh(LOADGEN, ["--version"]),
    },
    commit: sh("git", ["rev-parse", "HEAD"]),
    dirty: (sh("git", ["status", "--porcelain", "--untracked-files=no"]) ?? "") !== "",
  };
}

/**
 * The sizes of the `herald` Worker's bundle (build/), and of the delivery Worker's
 * (delivery/build/: `delivery_*`, when built), each of whose wasm has the same budget.
 */
function bundleSize() {
  const sizes = (dir) => {
    const wasm = join(root, dir, "index_bg.wasm");
    if (!existsSync(wasm)) return null;
    const bytes = readFileSync(wasm);
    const js = existsSync(join(root, dir, "index.js")) ? readFileSync(join(root, dir, "index.js")) : Buffer.alloc(0);
    return { wasm_raw: bytes.length, wasm_gzip: gzipSync(bytes).length, js_raw: js.length, js_gzip: gzipSync(js).length };
  };
  const herald = sizes("build");
  if (!herald) return null;
  const delivery = sizes("delivery/build");
  return { ...herald, ...(delivery ? Object.fromEntries(Object.entries(delivery).map(([k, v]) => [`delivery_${k}`, v])) : {}) };
}

// ---------------------------------------------------------------- aggregation

/** median, min, max of the numbers among `xs` (nulls skipped), or null. */
function spread(xs) {
  const v = xs.filter((x) => typeof x === "number" && Number.isFinite(x)).sort((a, b) => a - b);
  if (!v.length) return null;
  const mid = v.length >> 1;
  return { median: v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2, min: v[0], max: v[v.length - 1], n: v.length };
}

/** Per system, each figure's spread over the repetitions. */
function summarise(cfg, runs) {
  const summary = {};
  for (const name of cfg.systems) {
    const reps = runs.map((r) => r.systems[name]).filter(Boolean);
    const pick = (f) => spread(reps.map(f));
    const s = {
      start_ms: pick((r) => r.start_ms),
      startup: { first_object_ms: pick((r) => r.startup?.first_object_ms), fresh_object_ms: pick((r) => r.startup?.fresh_object_ms) },
      baseline: { p50: pick((r) => r.baseline?.p50), p99: pick((r) => r.baseline?.p99), generator_bound: reps.some((r) => r.baseline?.generator_bound) },
      fanout: {},
      // run once (ONCE): the one repetition that has them
      connections: reps.find((r) => r.connections)?.connections ?? null,
      idle: reps.find((r) => r.idle)?.idle ?? null,
      errors: reps.flatMap((r, i) => [r.error, r.startup?.error, r.baseline?.error, r.idle?.error, r.connections?.error, ...Object.values(r.fanout ?? {}).map((f) => f.error)].filter(Boolean).map((e) => `rep ${i + 1}: ${e}`)),
    };
    for (const n of cfg.subscribers) {
      const fs = reps.map((r) => r.fanout?.[n]).filter(Boolean);
      const steps = cfg.deliveries.map((d) => {
        const at = fs.map((f) => f.steps?.find((x) => x.offered_deliveries_per_s === d)).filter(Boolean);
        if (!at.length) return null;
        const p = (k) => spread(at.map((x) => x[k]));
        return { offered: d, reps: at.length, delivered_per_s: p("delivered_per_s"), p50: p("p50"), p99: p("p99"), p999: p("p999"), loss: p("loss"), within: at.every((x) => x.within), generator_bound: at.some((x) => x.generator_bound) };
      }).filter(Boolean);
      s.fanout[n] = { knee: spread(fs.map((f) => f.knee_delivered_per_s)), knee_not_reached: fs.length > 0 && fs.every((f) => f.knee_not_reached), no_step_within: fs.length > 0 && fs.every((f) => f.knee_delivered_per_s == null), steps };
    }
    summary[name] = s;
  }
  return summary;
}

// ---------------------------------------------------------------- tables

function fmt(x, digits) {
  if (x == null || !Number.isFinite(x)) return "–";
  const d = digits ?? (Math.abs(x) >= 100 ? 0 : Math.abs(x) >= 10 ? 1 : 2);
  return x.toLocaleString("en-US", { minimumFractionDigits: d, maximumFractionDigits: d });
}

/** "median (min–max)" when there is more than one repetition. */
function cell(s, digits) {
  if (!s) return "–";
  if (s.n > 1 && s.min !== s.max) return `${fmt(s.median, digits)} (${fmt(s.min, digits)}–${fmt(s.max, digits)})`;
  return fmt(s.median, digits);
}

function ratio(herald, other) {
  if (!herald || !other || !other.median) return "–";
  return `${fmt(herald.median / other.median, 2)}×`;
}

function table(header, rows) {
  // names and notes left, figures right
  const align = (h, i) => (i === 0 || h === "notes" ? "---" : "---:");
  const lines = [`| ${header.join(" | ")} |`, `|${header.map(align).join("|")}|`];
  for (const row of rows) lines.push(`| ${row.join(" | ")} |`);
  return lines.join("\n");
}

function tables(cfg, summary, bundle) {
  const names = cfg.systems;
  const h = summary[HERALD];
  const out = [];
  const ratioHeader = summary[HERALD] ? [`${HERALD} ÷ this`] : [];
  const withRatio = (get) => (name) => (h ? [name === HERALD ? "1.00×" : ratio(get(h), get(summary[name]))] : []);

  if (!cfg.skip.includes("fanout")) {
    out.push(`### Fan-out: delivered/s at the knee (higher is better)\n`);
    const header = ["system", ...cfg.subscribers.map((n) => `N = ${n}`), ...(h ? cfg.subscribers.map((n) => `${HERALD} ÷ this, N = ${n}`) : [])];
    const kneeCell = (f) => (f.no_step_within ? `< ${fmt(cfg.deliveries[0])}` : `${f.knee_not_reached ? "≥ " : ""}${cell(f.knee)}`);
    out.push(table(header, names.map((name) => [
      name,
      ...cfg.subscribers.map((n) => kneeCell(summary[name].fanout[n])),
      ...(h ? cfg.subscribers.map((n) => (name === HERALD ? "1.00×" : ratio(h.fanout[n].knee, summary[name].fanout[n].knee))) : []),
    ])));
    for (const n of cfg.subscribers) {
      out.push(`\n### Fan-out, N = ${n}: each step (latency in ms from the scheduled send)\n`);
      const rows = [];
      for (const name of names) {
        for (const s of summary[name].fanout[n].steps) {
          const flags = [s.within ? "" : "over", s.generator_bound ? "generator-bound" : "", s.loss?.max ? `loss ${fmt(s.loss.median, 0)}` : ""].filter(Boolean).join(", ");
          rows.push([name, fmt(s.offered, 0), cell(s.delivered_per_s, 0), cell(s.p50), cell(s.p99), cell(s.p999), flags]);
        }
      }
      out.push(table(["system", "offered deliveries/s", "delivered/s", "p50", "p99", "p99.9", "notes"], rows));
    }
  }
  if (!cfg.skip.includes("baseline")) {
    const b = cfg.baseline;
    out.push(`\n### Baseline latency: ${b.subscribers} subscribers, ${b.rate} msg/s, ${b.seconds} s (ms, lower is better)\n`);
    out.push(table(["system", "p50", "p99", ...ratioHeader.map((x) => `${x} (p99)`)], names.map((name) => {
      const s = summary[name].baseline;
      return [name, cell(s.p50), cell(s.p99) + (s.generator_bound ? " (generator-bound)" : ""), ...withRatio((x) => x.baseline.p99)(name)];
    })));
  }
  if (!cfg.skip.includes("idle")) {
    const { subscribers, seconds, pingEvery } = cfg.idle;
    out.push(`\n### Idle cost with hibernation: ${subscribers} subscribers and a publisher, ${seconds} s quiet but for each socket's ping every ${pingEvery} s\n`);
    const yes = (i) => (!i ? "–" : !i.hibernation ? "n/a (no hibernation)" : i.evicted ? "yes" : "no");
    const mb = (kb) => (kb == null ? "–" : fmt(kb / 1024, 1));
    out.push(table(["system", "evicted, sockets open", "wakes during idle", "pongs / pings", "pong p99 ms", "sockets closed", "server CPU during idle (ms)", "PSS MB, idle begin → end"], names.map((name) => {
      const i = summary[name].idle;
      if (!i) return [name, "–", "–", "–", "–", "–", "–", "–"];
      return [name, yes(i), i.hibernation ? fmt(i.wakes_during_idle, 0) : "n/a", i.pings_sent ? `${fmt(i.pongs, 0)} / ${fmt(i.pings_sent, 0)}` : "n/a (server pings)", fmt(i.pong_p99), fmt(i.closed_during_idle, 0), fmt(i.cpu_ms_idle, 0), `${mb(i.pss_begin_kb)} → ${mb(i.pss_end_kb)}`];
    })));
    out.push(`\n### The first message after idle, against a warm one (ms from the scheduled send; ${subscribers} subscribers)\n`);
    const h = summary[HERALD]?.idle;
    out.push(table(["system", "warm p50", "warm p99", "warm ack", "after idle p50", "after idle p99", "after idle max", "after idle ack", ...(h ? [`${HERALD} ÷ this (after idle p99)`] : [])], names.map((name) => {
      const i = summary[name].idle;
      if (!i?.warm) return [name, "–", "–", "–", "–", "–", "–", "–", ...(h ? ["–"] : [])];
      const w = i.warm;
      const a = i.after_idle;
      const r = h ? [name === HERALD ? "1.00×" : h.after_idle?.p99 && a.p99 ? `${fmt(h.after_idle.p99 / a.p99, 2)}×` : "–"] : [];
      return [name, fmt(w.p50), fmt(w.p99), fmt(w.ack_ms), fmt(a.p50), fmt(a.p99), fmt(a.max), fmt(a.ack_ms), ...r];
    })));
  }
  if (!cfg.skip.includes("connections")) {
    const counts = names.map((name) => summary[name].connections?.counts).find(Boolean) ?? [];
    out.push(`\n### Connections: idle ones into one room, in steps up to ${counts.map((c) => fmt(c, 0)).join(", ")} (more held, less time and memory are better)\n`);
    const h = summary[HERALD]?.connections;
    out.push(table(["system", "highest held", "connect p99 ms (that step)", "kB per connection (PSS)", ...(h ? [`${HERALD} ÷ this (kB)`] : []), "notes"], names.map((name) => {
      const c = summary[name].connections;
      if (!c) return [name, "–", "–", "–", ...(h ? ["–"] : []), ""];
      const r = h ? [name === HERALD ? "1.00×" : h.kb_per_connection && c.kb_per_connection ? `${fmt(h.kb_per_connection / c.kb_per_connection, 2)}×` : "–"] : [];
      const why = c.reached_top ? "" : [c.stopped_because ?? c.error, c.server_said && `the server: \`${c.server_said.replaceAll("`", "'").replaceAll("|", "\\|")}\``].filter(Boolean).join("; ");
      return [name, fmt(c.highest_held, 0), fmt(c.connect_p99), fmt(c.kb_per_connection), ...r, why];
    })));
    out.push(`\n### Connections, each step (connect times of the step's own connections)\n`);
    const rows = [];
    for (const name of names) {
      for (const s of summary[name].connections?.steps ?? []) {
        rows.push([name, fmt(s.target, 0), fmt(s.held, 0), fmt(s.seconds), fmt(s.connect_p50), fmt(s.connect_p99), fmt(s.kb_per_connection), fmt(s.fds_per_connection, 1), [s.failed ? `${fmt(s.failed, 0)} failed` : "", s.dropped ? `${fmt(s.dropped, 0)} dropped` : ""].filter(Boolean).join(", ")]);
      }
    }
    out.push(table(["system", "step to", "held", "step s", "connect p50 ms", "connect p99 ms", "kB per connection", "fds per connection", "notes"], rows));
  }
  if (!cfg.skip.includes("startup")) {
    out.push(`\n### Start-up (ms, lower is better)\n`);
    out.push(table(["system", "process ready", "first object (cold)", "fresh object (warm process)"], names.map((name) => {
      const s = summary[name];
      return [name, cell(s.start_ms, 0), cell(s.startup.first_object_ms), cell(s.startup.fresh_object_ms)];
    })));
  }
  if (bundle) {
    out.push(`\n### Bundle\n`);
    out.push(table(["file", "raw", "gzip"], [
      ["`build/index_bg.wasm`", `${fmt(bundle.wasm_raw / 1024, 0)} KiB`, `${fmt(bundle.wasm_gzip / 1024, 0)} KiB`],
      ["`build/index.js`", `${fmt(bundle.js_raw / 1024, 1)} KiB`, `${fmt(bundle.js_gzip / 1024, 1)} KiB`],
      ...(bundle.delivery_wasm_raw === undefined ? [] : [
        ["`delivery/build/index_bg.wasm`", `${fmt(bundle.delivery_wasm_raw / 1024, 0)} KiB`, `${fmt(bundle.delivery_wasm_gzip / 1024, 0)} KiB`],
        ["`delivery/build/index.js`", `${fmt(bundle.delivery_js_raw / 1024, 1)} KiB`, `${fmt(bundle.delivery_js_gzip / 1024, 1)} KiB`],
      ]),
    ]));
  }
  const errors = names.flatMap((name) => summary[name].errors.map((e) => `- ${name}, ${e.split("\n")[0]}`));
  if (errors.length) out.push(`\n### Failures\n\n${errors.join("\n")}`);
  return out.join("\n");
}

/** The issue's targets for Herald, each with the figures it compares and whether it is met. */
const TARGETS = { roomRatio: 1.2, limitRatio: 0.8, wasmBytes: 1_000_000 };
const JS_ROOM = "js-room";
const LIMIT = "js-limit";

function targetTable(cfg, summary, bundle) {
  const h = summary[HERALD];
  const rows = [];
  const mark = (ok) => (ok == null ? "–" : ok ? "met" : "**not met**");
  if (h && !cfg.skip.includes("fanout")) {
    for (const [peer, want] of [[JS_ROOM, TARGETS.roomRatio], [LIMIT, TARGETS.limitRatio]]) {
      if (!summary[peer]) continue;
      for (const n of cfg.subscribers) {
        const [mine, theirs] = [h.fanout[n], summary[peer].fanout[n]];
        const r = mine.knee && theirs.knee ? mine.knee.median / theirs.knee.median : null;
        // A knee beyond the load offered is a lower bound: Herald's only counts for, the peer's only against.
        const ok = r == null ? null : r >= want ? !theirs.knee_not_reached || mine.knee_not_reached : false;
        const bound = (f) => `${f.knee_not_reached ? "≥ " : ""}${fmt(f.knee?.median, 0)}`;
        rows.push([`knee ≥ ${want} × ${peer}`, `N = ${n}`, `${bound(mine)} vs ${bound(theirs)}`, r == null ? "–" : `${fmt(r, 2)}×`, mark(ok)]);
      }
    }
    if (summary[JS_ROOM]) {
      for (const n of cfg.subscribers) {
        const knee = summary[JS_ROOM].fanout[n].steps.filter((s) => s.within).at(-1);
        const mine = knee && h.fanout[n].steps.find((s) => s.offered === knee.offered);
        const ok = mine?.p99 && knee.p99 ? mine.within && mine.p99.median <= knee.p99.median : knee ? false : null;
        const what = knee ? `${fmt(mine?.p99?.median)} vs ${fmt(knee.p99?.median)} ms at ${fmt(knee.offered, 0)}/s` : "–";
        rows.push([`p99 at ${JS_ROOM}'s knee load ≤ ${JS_ROOM}'s`, `N = ${n}`, what, "", mark(ok)]);
      }
    }
  }
  if (bundle) {
    const ok = bundle.wasm_raw <= TARGETS.wasmBytes;
    rows.push([`wasm ≤ ${fmt(TARGETS.wasmBytes / 1e6, 0)} MB raw`, "herald", `${fmt(bundle.wasm_raw, 0)} bytes`, "", mark(ok)]);
    if (bundle.delivery_wasm_raw !== undefined) {
      const ok = bundle.delivery_wasm_raw <= TARGETS.wasmBytes;
      rows.push([`wasm ≤ ${fmt(TARGETS.wasmBytes / 1e6, 0)} MB raw`, "herald-delivery", `${fmt(bundle.delivery_wasm_raw, 0)} bytes`, "", mark(ok)]);
    }
  }
  return table(["target", "where", "Herald vs peer", "ratio", ""], rows);
}

/** A hand-kept file of bench/ without its title, its headings one level down under BENCHMARKS.md's own section. */
function handKept(name) {
  const file = join(here, name);
  return existsSync(file) ? readFileSync(file, "utf8").replace(/^# .*\n+/, "").replace(/^## /gm, "### ").trim() : "";
}

/** The record of what made Herald faster or smaller (bench/GAINS.md). */
const gains = () => handKept("GAINS.md");

/** The ramp's counts, in words. */
function rampNote(cfg) {
  const words = cfg.connections.map((x) => (x === "limit" ? `the file-descriptor limit less ${FD_HEADROOM}` : fmt(x, 0)));
  return words.join(", ");
}

function markdown(cfg, report, summary) {
  const { machine, versions, commit, dirty } = report.environment;
  const v = Object.entries(versions).filter(([, x]) => x).map(([k, x]) => `${k} ${String(x).replace(/^(rustc|loadgen) /, "")}`).join(", ");
  const reduced = cfg.reduced.length
    ? `\n**Reduced run**: every figure below comes from \`node bench/run.mjs ${cfg.reduced.join(" ")}\` (the full matrix is \`make bench\`: N = 10, 100, 1000; 1k–100k deliveries/s; 3 s steps; 3 repetitions; connections in steps of 1k, 2k, 5k, 10k and up to the file-descriptor limit; 12 s idle with 100 subscribers).\n`
    : "";
  return `# Benchmarks

Herald side by side with the rooms a user would pick instead, measured in one run on one
machine by \`make bench\` (\`bench/run.mjs\`; the systems and the load generator are described in
[bench/README.md](bench/README.md)). This file is regenerated by each full run; the raw report
is \`bench/results/${report.file}\`.

- Run: ${report.started_at} – ${report.finished_at}, ${cfg.reps} repetition${cfg.reps > 1 ? "s" : ""} (system order alternating)
- Machine: ${machine.cpu}, ${machine.cores} cores, ${machine.memory_gb} GB, ${machine.kernel ?? ""}
- Versions: ${v}
- Commit: \`${commit?.slice(0, 12)}\`${dirty ? " (with uncommitted changes)" : ""}
- Settings: fan-out N = ${cfg.subscribers.join(", ")}; offered deliveries/s ${cfg.deliveries.map((d) => fmt(d, 0)).join(", ")}; ${cfg.stepSeconds} s steps after a ${cfg.warmupSeconds} s warm-up; stop rule p99 > ${STOP_P99_MS} ms or any loss
${reduced}
## How to read

- Each server runs alone on core 0 (\`taskset\`), the Rust load generator on core 1; both ends
  share one machine, so compare systems within a run, not across machines.
- A figure is the median over the repetitions, with the min–max in parentheses when they differ.
- **Knee**: the highest delivered/s of a step whose p99 stayed ≤ ${STOP_P99_MS} ms with no loss.
  \`≥\` means every offered step held (the knee lies beyond the load offered); \`<\` means even the
  first step did not hold.
- Latency is measured from each message's *scheduled* send time (open loop), so a server that
  falls behind shows up as latency, not as a lower offered rate.
- **${HERALD} ÷ this** is Herald's figure divided by the row's: above 1 is better for Herald
  for delivered/s, below 1 is better for latency and memory. \`js-limit\` is the ceiling (a
  Durable Object that only forwards a string); \`herald-wrangler\` adds \`wrangler dev\`'s proxy hop.
- **generator-bound**: the generator's core was ≥ 90 % busy during the step; that step measures
  the generator more than the server. **over**: the step broke the stop rule.
- **Connections**: idle ones ramp into one room in steps, 50 connecting at a time, each step
  held ${cfg.holdSeconds} s: ${rampNote(cfg)}.
  The ramp stops at the first step with a failed or dropped connection, or one still connecting
  after ${cfg.rampStepMaxSeconds} s. *Highest held* is the most open through a step's hold; its
  connect p99 (of that step's own connections) and memory are that step's. Memory per
  connection is the growth of the server process tree's PSS (\`/proc/<pid>/smaps_rollup\`) from
  before the ramp to a moment into the step's hold, divided by the connections held; file
  descriptors likewise. The server and the generator are separate processes, each with its own
  limit on open files${fdLimit() ? ` (${fmt(fdLimit(), 0)} here)` : ""}.
- **Idle cost**: workerd evicts a Durable Object 10 s after its last event (a request, a
  websocket message, an alarm); its hibernatable websockets stay open, and a ping answered by the
  runtime's auto-response is no event. After a warm message, each socket only pings for the
  quiet spell, then one more message is timed. *Evicted, sockets open*: the room's object was
  built again for that message (Herald logs \`room … loaded\`, the JavaScript rooms
  \`bench-room constructed\`) and no socket closed; *wakes during idle*: such lines during the
  spell (0: no ping woke it). Server CPU is the process tree's user + system time over the
  spell; PSS is sampled at its start and end.
- Idle cost and connections run once per system, in the first repetition: no spread.
- Start-up: *process ready* is the server's start until it answers HTTP; *first object* the
  connect time of one client into a fresh room (the process's first Durable Object), *fresh
  object* the same into a second fresh room.

## Targets

The issue's targets for Herald (${HERALD}), checked against this run's figures (medians).

${targetTable(cfg, summary, report.bundle)}

${handKept("READING.md")}

## Results

${tables(cfg, summary, report.bundle)}

## What made Herald faster

${gains()}
`;
}

// ---------------------------------------------------------------- main

/** `--markdown-from FILE`: BENCHMARKS.md again from a saved full report (after GAINS.md changed). */
function markdownFrom(file) {
  const report = JSON.parse(readFileSync(file, "utf8"));
  if (report.quick) usage(`${file} is a quick run's report`);
  writeFileSync(join(root, "BENCHMARKS.md"), markdown(report.settings, report, report.summary));
  log(`BENCHMARKS.md regenerated from ${file}`);
}

async function main() {
  const from = process.argv.indexOf("--markdown-from");
  if (from > 0) return markdownFrom(process.argv[from + 1] ?? usage("--markdown-from needs a file"));
  const cfg = parseArgs(process.argv.slice(2));
  if (!existsSync(LOADGEN)) {
    console.error(`no load generator at ${LOADGEN}: run \`make bench-loadgen\``);
    process.exit(2);
  }
  if (cfg.systems.some((s) => s.startsWith("herald")) && !existsSync(join(root, "build/index_bg.wasm"))) {
    console.error("build/ is missing: run `make build` (or `make bench`, which builds)");
    process.exit(2);
  }
  const t0 = Date.now();
  const started_at = new Date().toISOString();
  const stamp = started_at.replace(/\.\d+Z$/, "Z").replace(/:/g, "-");
  const file = `${stamp}${cfg.quick ? "-quick" : ""}.json`;
  const report = { file, started_at, quick: cfg.quick, settings: { ...cfg, stopP99Ms: STOP_P99_MS }, environment: environment(), bundle: bundleSize(), runs: [] };
  log(`${cfg.quick ? "quick" : "full"} run: ${cfg.systems.join(", ")}; ${cfg.reps} repetition(s)`);

  for (let rep = 0; rep < cfg.reps; rep++) {
    const order = rep % 2 ? [...cfg.systems].reverse() : cfg.systems;
    const run = { repetition: rep + 1, order, systems: {} };
    for (const name of order) run.systems[name] = await runSystem(name, cfg, rep);
    report.runs.push(run);
  }
  report.finished_at = new Date().toISOString();
  report.seconds = Math.round((Date.now() - t0) / 1000);
  const summary = summarise(cfg, report.runs);
  report.summary = summary;

  const dir = join(here, "results");
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, file), JSON.stringify(report, null, 2) + "\n");
  console.log(tables(cfg, summary, report.bundle));
  log(`bench/results/${file} (${report.seconds} s)`);
  if (!cfg.quick && !cfg.noMarkdown) {
    writeFileSync(join(root, "BENCHMARKS.md"), markdown(cfg, report, summary));
    log("BENCHMARKS.md regenerated");
  }
  const failures = cfg.systems.flatMap((name) => summary[name].errors);
  if (failures.length) {
    log(`${failures.length} failure(s):\n  ${failures.join("\n  ")}`);
    process.exit(1);
  }
}

main().catch((e) => {
  console.error(e.stack ?? e);
  process.exit(1);
});
