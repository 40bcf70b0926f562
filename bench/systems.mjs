#!/usr/bin/env node
// The systems under test, each started on 127.0.0.1:PORT as its own process tree, pinned to
// core 0 with `taskset` when the machine has two cores or more (the load generator gets core 1),
// and stopped with its whole process group. See bench/README.md, "Systems under test".
//
//   import { start, SYSTEMS } from "./systems.mjs";
//   const sys = await start("js-room", { port: 9100 });   // resolves once it answers
//   sys.wsUrl("room-1", "alice");                         // where a client connects
//   await sys.stop();
//
//   node bench/systems.mjs list
//   node bench/systems.mjs start js-room [--port 9100] [--no-pin]   # until Ctrl-C
//
// How each one runs:
//   herald-miniflare  the built bundle (build/) in workerd through Miniflare, configured from
//                     wrangler.toml (miniflare/harness.mjs's optionsFromWrangler): the herald
//                     Worker alone, without the delivery Worker (delivery/), which carries no
//                     part of a room's traffic
//   herald-wrangler   `wrangler dev` on the root wrangler.toml, as `make dev` runs it (its
//                     proxy in front of workerd; it runs the [build] command first)
//   js-room, js-limit, partyserver
//                     a wrangler-less Miniflare: one ES module, a ROOMS Durable Object binding
//                     with SQLite storage (partyserver's module bundled with esbuild first)
//   socketio-node     node bench/systems/socketio-node/server.mjs
// The Miniflare ones run in a child `node bench/systems.mjs --serve NAME --port P`, so that
// workerd, its child, inherits the pinning.
import { spawn, execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { cpus, tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { mint } from "../scripts/token.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..");

/** The JWT secret both Herald variants are started with; tokens for them are minted with it. */
export const SECRET = "bench-secret-that-is-at-least-32-bytes-long";
/**
 * Herald's per-connection rate limit lifted to its maximum (100k/s), so the publisher is never
 * throttled, and its cap on a room's connections (10,000 by default) to its maximum, so the
 * connection ramp finds the server's limit rather than the configured one.
 */
export const HERALD_VARS = {
  JWT_SECRET: SECRET,
  MAX_MESSAGES_PER_SECOND: "100000",
  MAX_MESSAGE_BURST: "1000000",
  MAX_CONNECTIONS_PER_ROOM: "1000000",
  // The benchmark's clients are one user from one address; the connection scenario ramps to
  // the file-descriptor limit, which is what it measures.
  MAX_CONNECTIONS_PER_USER: "1000000",
  MAX_CONNECTIONS_PER_ADDRESS: "1000000",
  // The generator's subscribers read as fast as they can but never ping: at the top steps
  // they would pass the slow-consumer bound every few seconds.
  MAX_BACKLOG_BYTES: "268435456",
};
/** The compatibility date of the JS rooms: Herald's (wrangler.toml). */
const COMPATIBILITY_DATE = "2026-04-20";

const escape = (text) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
/** Herald logs one line each time a room is loaded: its first request, or its first after a wake. */
const heraldWake = (room) => new RegExp(`room ${escape(room)} loaded:`);
/** Our JavaScript rooms log one line per construction (systems/common.mjs, `constructed`). */
const jsWake = (room) => new RegExp(`bench-room constructed: ${escape(room)}$`);

/**
 * Every system: `protocol` is what a client speaks (`herald`: docs/protocol.md's native JSON,
 * `limit`: the same frames echoed as sent, `socketio`: Engine.IO v4 + Socket.IO), `ready` the
 * path answering 200 once it serves, `auth` whether clients need a token (Herald's), `wakeLog`
 * the line it prints each time room `room`'s object is built (a Durable Object's start, or its
 * wake after an eviction; none where there is no hibernation).
 */
export const SYSTEMS = {
  "herald-miniflare": { protocol: "herald", runner: "miniflare", ready: "/api/v1/ping", auth: true, wakeLog: heraldWake },
  "herald-wrangler": { protocol: "herald", runner: "wrangler", ready: "/api/v1/ping", auth: true, wakeLog: heraldWake },
  "js-room": { protocol: "herald", runner: "miniflare", ready: "/ping", script: "systems/js-room/room.mjs", className: "JsRoom", wakeLog: jsWake },
  "js-limit": { protocol: "limit", runner: "miniflare", ready: "/ping", script: "systems/js-limit/limit.mjs", className: "LimitRoom", wakeLog: jsWake },
  partyserver: { protocol: "herald", runner: "miniflare", ready: "/ping", script: "systems/partyserver/room.mjs", className: "PartyRoom", bundle: true, wakeLog: jsWake },
  "socketio-node": { protocol: "socketio", runner: "node", ready: "/ping", script: "systems/socketio-node/server.mjs" },
};

/** `taskset -c 0` for a server when there is a second core for the generator. */
export function serverPinning() {
  if (cpus().length < 2) return [];
  try {
    execFileSync("taskset", ["-V"], { stdio: "ignore" });
    return ["taskset", "-c", "0"];
  } catch {
    return [];
  }
}

/** The core a load generator should take when servers are pinned (`taskset -c 1 …`). */
export const GENERATOR_CPU = "1";

/** A port nobody listens on right now. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

const TAIL_LINES = 60;
/** Set in a child's environment: exit when stdin closes (the parent is gone). */
export const WATCH_PARENT = "HERALD_BENCH_WATCH_PARENT";

/** The process groups started and not yet gone. */
const running = new Set();
let guarded = false;

/**
 * Whatever way this process ends, the systems it started end with it: on exit (an uncaught
 * error included) their groups are killed; SIGINT and SIGTERM, when nobody else listens for
 * them, exit through that path. (A SIGKILLed parent closes their stdin, see WATCH_PARENT;
 * wrangler dev alone does not notice.)
 */
function guardExit() {
  if (guarded) return;
  guarded = true;
  process.on("exit", () => {
    for (const pid of running) {
      try {
        process.kill(-pid, "SIGKILL");
      } catch {}
    }
  });
  for (const signal of ["SIGINT", "SIGTERM"]) {
    if (process.listenerCount(signal) === 0) process.once(signal, () => process.exit(signal === "SIGINT" ? 130 : 143));
  }
}

/** In a child started by start(): exit(0) via `stop` when the parent's end of stdin closes. */
export function exitWithParent(stop) {
  if (process.env[WATCH_PARENT] !== "1") return;
  process.stdin.on("end", stop);
  process.stdin.on("error", stop);
  process.stdin.resume();
}

/**
 * Starts `name` on 127.0.0.1:`port` (a free one if not given) and resolves once its ready
 * path answers 200. `pin: false` runs it unpinned. The result says how to reach it and stops it.
 */
export async function start(name, { port, pin = true, timeoutMs } = {}) {
  const system = SYSTEMS[name];
  if (!system) throw new Error(`unknown system ${name}; one of ${Object.keys(SYSTEMS).join(", ")}`);
  port ??= await freePort();
  const prefix = pin ? serverPinning() : [];
  let command;
  let cleanup = () => {};
  const env = { ...process.env, WRANGLER_SEND_METRICS: "false", PATH: `${process.env.CARGO_HOME ?? join(process.env.HOME ?? "", ".cargo")}/bin:${process.env.PATH}` };
  if (system.runner === "miniflare") {
    command = [process.execPath, join(here, "systems.mjs"), "--serve", name, "--port", String(port)];
  } else if (system.runner === "node") {
    command = [process.execPath, join(here, system.script), "--port", String(port)];
  } else {
    const state = mkdtempSync(join(tmpdir(), "herald-bench-wrangler-"));
    cleanup = () => rmSync(state, { recursive: true, force: true });
    const vars = Object.entries(HERALD_VARS).flatMap(([k, v]) => ["--var", `${k}:${v}`]);
    command = [
      join(here, "node_modules", ".bin", "wrangler"), "dev", "--ip", "127.0.0.1", "--port", String(port),
      "--inspector-port", String(await freePort()), "--persist-to", state, "--show-interactive-dev-session=false", ...vars,
    ];
  }
  const argv = [...prefix, ...command];
  // Its own process group, so that stopping it stops workerd too; stdin a pipe that closes
  // when this process dies, however it dies, which the children we wrote watch (WATCH_PARENT).
  const child = spawn(argv[0], argv.slice(1), { cwd: root, env: { ...env, [WATCH_PARENT]: "1" }, detached: true, stdio: ["pipe", "pipe", "pipe"] });
  running.add(child.pid);
  child.on("exit", () => running.delete(child.pid));
  guardExit();
  const tail = [];
  /** Patterns counted over every line printed (see `countLines`). */
  const counters = [];
  // Whole lines only: a chunk may end mid-line, whose rest comes with the next chunk.
  const lines = () => {
    let partial = "";
    return (chunk) => {
      const parts = (partial + chunk.toString()).split("\n");
      partial = parts.pop();
      for (const line of parts) {
        if (!line.trim()) continue;
        tail.push(line);
        for (const c of counters) if (c.pattern.test(line)) c.count++;
      }
      if (tail.length > TAIL_LINES) tail.splice(0, tail.length - TAIL_LINES);
    };
  };
  child.stdout.on("data", lines());
  child.stderr.on("data", lines());
  const exited = new Promise((resolve) => child.on("exit", (code, signal) => resolve({ code, signal })));
  let gone = false;
  exited.then(() => (gone = true));

  const http = `http://127.0.0.1:${port}`;
  const ws = `ws://127.0.0.1:${port}`;
  const stop = async () => {
    if (!gone) {
      try {
        process.kill(-child.pid, "SIGTERM");
      } catch {}
      const timer = setTimeout(() => {
        try {
          process.kill(-child.pid, "SIGKILL");
        } catch {}
      }, 5000);
      await exited;
      clearTimeout(timer);
      // workerd may outlive a SIGTERMed parent for a moment; the group goes with it
      try {
        process.kill(-child.pid, "SIGKILL");
      } catch {}
    }
    cleanup();
  };

  const started = performance.now();
  const deadline = started + (timeoutMs ?? (system.runner === "wrangler" ? 300_000 : 60_000));
  for (;;) {
    if (gone) {
      cleanup();
      throw new Error(`${name} exited before it served (${JSON.stringify(await exited)}):\n${tail.join("\n")}`);
    }
    try {
      const res = await fetch(`${http}${system.ready}`, { signal: AbortSignal.timeout(2000) });
      await res.arrayBuffer();
      if (res.ok) break;
    } catch {}
    if (performance.now() > deadline) {
      await stop();
      throw new Error(`${name} did not answer ${system.ready} on ${http} in time:\n${tail.join("\n")}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }

  return {
    name,
    protocol: system.protocol,
    port,
    http,
    ws,
    pid: child.pid,
    pinned: prefix.length > 0,
    startMs: Math.round(performance.now() - started),
    /** A token for Herald (the JS rooms read its `sub`, unverified). */
    token: (sub) => mint({ sub }, SECRET),
    /** Where a client of `room` connects as `sub` (the token in the query for Herald). */
    wsUrl(room, sub) {
      if (system.protocol === "socketio") return `${ws}/socket.io/?EIO=4&transport=websocket`;
      const base = `${ws}/v1/rooms/${encodeURIComponent(room)}/ws`;
      return system.auth ? `${base}?token=${mint({ sub }, SECRET)}`
        : `${base}?user=${encodeURIComponent(sub)}`;
    },
    /** The pids of its process tree now (the runner, workerd and their children; Linux /proc). */
    pids: () => processTree(child.pid),
    /** The last lines the system printed. */
    logs: () => tail.slice(),
    /**
     * Counts the lines printed from now on that match `pattern`; the function returned says
     * how many so far. (The wake lines of `SYSTEMS[name].wakeLog`, for one.)
     */
    countLines(pattern) {
      const counter = { pattern, count: 0 };
      counters.push(counter);
      return () => counter.count;
    },
    stop,
  };
}

/**
 * `pid` and every process descending from it, from /proc/<pid>/stat's ppid (workerd is a child
 * of the Miniflare or wrangler process, which `taskset` exec'd into). [] where /proc is absent.
 */
export function processTree(pid) {
  const children = new Map();
  let entries;
  try {
    entries = readdirSync("/proc");
  } catch {
    return [];
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      // pid (comm) state ppid …: comm may hold spaces and parentheses, so read after the last ')'
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (!children.has(ppid)) children.set(ppid, []);
      children.get(ppid).push(Number(entry));
    } catch {}
  }
  const tree = [];
  const queue = [pid];
  while (queue.length) {
    const p = queue.shift();
    tree.push(p);
    queue.push(...(children.get(p) ?? []));
  }
  return tree;
}

// ---------------------------------------------------------------- --serve: inside the child

/** Runs system `name` with Miniflare in this process until SIGTERM. */
async function serve(name, port) {
  const system = SYSTEMS[name];
  const { Miniflare } = await import("miniflare");
  let options;
  if (name === "herald-miniflare") {
    const { optionsFromWrangler } = await import("../miniflare/harness.mjs");
    options = optionsFromWrangler(HERALD_VARS, undefined, false, { delivery: false });
  } else {
    options = {
      modules: true,
      scriptPath: system.bundle ? await bundle(name, system.script) : join(here, system.script),
      compatibilityDate: COMPATIBILITY_DATE,
      durableObjects: { ROOMS: { className: system.className, useSQLite: true } },
      durableObjectsPersist: false,
    };
  }
  const mf = new Miniflare({
    ...options,
    host: "127.0.0.1",
    port,
    handleRuntimeStdio: (stdout, stderr) => {
      stdout.pipe(process.stdout);
      stderr.pipe(process.stderr);
    },
  });
  const url = await mf.ready;
  console.log(JSON.stringify({ ready: url.href }));
  const stop = async () => {
    await mf.dispose().catch(() => {});
    process.exit(0);
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
  exitWithParent(stop);
}

/** One ES module of `script` and its npm imports, for Miniflare (no wrangler to bundle it). */
async function bundle(name, script) {
  const { build } = await import("esbuild");
  const dir = join(here, ".build");
  mkdirSync(dir, { recursive: true });
  const outfile = join(dir, `${name}.mjs`);
  await build({
    entryPoints: [join(here, script)],
    outfile,
    bundle: true,
    format: "esm",
    platform: "neutral",
    target: "es2022",
    conditions: ["workerd", "worker", "browser"],
    mainFields: ["module", "main"],
    external: ["cloudflare:*"],
    logLevel: "warning",
  });
  return outfile;
}

// ---------------------------------------------------------------- command line

function usage(message) {
  if (message) console.error(message);
  console.error(`usage: node bench/systems.mjs list | start <system> [--port P] [--no-pin]\n  systems: ${Object.keys(SYSTEMS).join(", ")}`);
  process.exit(2);
}

async function main(args) {
  const portAt = args.indexOf("--port");
  const port = portAt >= 0 ? Number(args[portAt + 1]) : undefined;
  if (portAt >= 0 && !(port > 0)) usage("--port needs a number");
  if (args[0] === "--serve") return serve(args[1], port);
  if (args[0] === "list") {
    for (const [name, s] of Object.entries(SYSTEMS)) console.log(`${name.padEnd(17)} ${s.protocol.padEnd(9)} ${s.runner}`);
    return;
  }
  if (args[0] !== "start" || !SYSTEMS[args[1]]) usage(args[0] === "start" ? `unknown system ${args[1]}` : undefined);
  let sys;
  const stop = async () => {
    await sys?.stop();
    process.exit(0);
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
  sys = await start(args[1], { port, pin: !args.includes("--no-pin") });
  console.log(JSON.stringify({ name: sys.name, protocol: sys.protocol, http: sys.http, pid: sys.pid, pinned: sys.pinned, startMs: sys.startMs, example: sys.wsUrl("lobby", "alice") }));
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main(process.argv.slice(2)).catch((e) => {
    console.error(e.message);
    process.exit(1);
  });
}
