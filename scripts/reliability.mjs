#!/usr/bin/env node
// The figures of docs/reliability.md, measured against the built worker (`make reliability`):
// malformed input on every surface and what Herald answered, a publish flood, the fuzzing
// summary, the connection caps reached through `scripts/dev.sh`, the slow-consumer bound, kill -9
// mid-stream, and every kind of pending deadline after a restart. Each measurement checks what
// must hold; the script exits 1 naming what did not. It rewrites the block between
// `<!-- figures:begin -->` and `<!-- figures:end -->` in docs/reliability.md and the raw results
// in docs/reliability.json.
//
//   node scripts/reliability.mjs [--seed N] [--only malformed,flood,fuzz,caps,slow,crash,deadlines] [--no-write]
//   node scripts/reliability.mjs --from docs/reliability.json     (the block again, from saved results)
//
// --only runs some measurements and writes nothing (the block is rewritten only by a full run;
// RELIABILITY_JSON=file saves a partial run's results).
import { readFileSync, writeFileSync, existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { cpus, totalmem } from "node:os";
import { createRequire } from "node:module";
import { execFileSync, spawn } from "node:child_process";
import { createServer } from "node:net";
import { randomBytes } from "node:crypto";
import http from "node:http";
import { startHerald, Client, engineSocket, tempDir, sleep, root, SECRET, connected } from "../miniflare/harness.mjs";
import * as inputs from "./reliability-inputs.mjs";

const require = createRequire(join(root, "miniflare", "package.json"));
const WebSocket = require("ws");

const DOC = join(root, "docs", "reliability.md");
const JSON_OUT = join(root, "docs", "reliability.json");
const BEGIN = "<!-- figures:begin -->";
const END = "<!-- figures:end -->";
/** How long any one answer may take before it counts as a hang. */
const ANSWER_MS = 10_000;
const MAX_FRAME_BYTES = 65536;

// ---------------------------------------------------------------- arguments, environment

const args = process.argv.slice(2);
const option = (name) => {
  const at = args.indexOf(`--${name}`);
  return at >= 0 ? args[at + 1] : undefined;
};
const SECTIONS = ["malformed", "flood", "fuzz", "caps", "slow", "crash", "deadlines"];
const only = option("only")?.split(",") ?? SECTIONS;
for (const name of only) if (!SECTIONS.includes(name)) throw new Error(`--only: no measurement ${name} (${SECTIONS.join(", ")})`);
const seed = option("seed") !== undefined ? Number(option("seed")) >>> 0 : (Date.now() ^ process.pid) >>> 0;
const write = !args.includes("--no-write") && only.length === SECTIONS.length;

const sh = (cmd, argv) => {
  try {
    return execFileSync(cmd, argv, { cwd: root, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
  } catch {
    return null;
  }
};
const packageVersion = (name) => JSON.parse(readFileSync(join(root, "miniflare", "node_modules", name, "package.json"), "utf8")).version;

function environment() {
  return {
    date: new Date().toISOString(),
    commit: sh("git", ["rev-parse", "HEAD"]),
    dirty: (sh("git", ["status", "--porcelain", "--untracked-files=no"]) ?? "") !== "",
    machine: { cpu: cpus()[0]?.model ?? null, cores: cpus().length, memory_gb: Math.round((totalmem() / 2 ** 30) * 10) / 10, kernel: sh("uname", ["-sr"]) },
    versions: { node: process.version, workerd: packageVersion("workerd"), miniflare: packageVersion("miniflare"), wrangler: packageVersion("wrangler") },
    seed,
  };
}

// ---------------------------------------------------------------- what must hold

const checks = [];
/** Records that `what` must hold in `section`; `detail` says what was seen when it did not. */
function check(section, what, held, detail, evidence) {
  checks.push({ section, what, held: Boolean(held), ...(held ? {} : { detail, ...(evidence ? { evidence } : {}) }) });
  console.log(`  ${held ? "ok  " : "FAIL"} ${what}${held ? "" : `: ${detail}`}`);
  return held;
}

const t0 = Date.now();
const log = (text) => console.log(`${text} [${Math.round((Date.now() - t0) / 1000)} s]`);

/** The codes docs/errors.md documents, each with its HTTP status (null for websocket-only ones). */
function documentedCodes() {
  const codes = new Map();
  for (const line of readFileSync(join(root, "docs", "errors.md"), "utf8").split("\n")) {
    const row = line.match(/^\| `([a-z_]+)` \| ([^|]+) \|/);
    if (row) codes.set(row[1], /^\d{3}$/.test(row[2].trim()) ? Number(row[2].trim()) : null);
  }
  if (codes.size < 20) throw new Error(`docs/errors.md's table gave only ${codes.size} codes`);
  return codes;
}
const CODES = documentedCodes();

/** The 3drepo dialect's own codes (docs/dialects.md#3drepo): its seed's, and Herald's in capitals. */
const THREEDREPO_CODES = new Set(["UNAUTHORISED", "ROOM_NOT_FOUND", "UNKNOWN_EVENT", ...[...CODES.keys()].map((c) => c.toUpperCase())]);

/** Close codes docs/protocol.md documents (its table's codes, and the ranges it names). */
function documentedClose(code) {
  return [1000, 1009, 1011].includes(code) || (code >= 4000 && code <= 4999);
}

/**
 * The outcomes of one surface: a histogram of answers and what broke a rule, each with an
 * example (the input and the answer) so it can be reproduced.
 */
class Surface {
  constructor(name) {
    this.name = name;
    this.cases = 0;
    this.outcomes = new Map();
    this.violations = new Map(); // rule → {count, examples}
    this.examples = new Map(); // outcome → the first inputs that met it
    this.byKind = new Map(); // kind of input → outcome → count
    this.ms = [];
  }

  /** One case: its outcome label, the codes and statuses in its answer, how long it took. */
  record(input, { label, codes = [], statuses = [], closes = [], ms, hang = false, extra = [] }) {
    this.cases++;
    this.outcomes.set(label, (this.outcomes.get(label) ?? 0) + 1);
    if (input.kind) {
      const kind = this.byKind.get(input.kind) ?? new Map();
      kind.set(label, (kind.get(label) ?? 0) + 1);
      this.byKind.set(input.kind, kind);
    }
    const examples = this.examples.get(label) ?? [];
    if (examples.length < 1) this.examples.set(label, [...examples, describe(input)]);
    if (ms !== undefined) this.ms.push(ms);
    const answer = label;
    for (const status of statuses) if (status >= 500) this.violate("a 5xx answer", input, answer);
    for (const { code, status, dialect } of codes) {
      if (code === "internal" || code === "INTERNAL") this.violate("an internal error", input, answer);
      else if (dialect === "3drepo" ? !THREEDREPO_CODES.has(code) && !CODES.has(code) : !CODES.has(code)) this.violate(`an undocumented code (${code})`, input, answer);
      else if (status !== undefined && CODES.get(code) && CODES.get(code) !== status) this.violate(`${code} with status ${status} (docs/errors.md says ${CODES.get(code)})`, input, answer);
    }
    for (const code of closes) if (!documentedClose(code)) this.violate(`an undocumented close code (${code})`, input, answer);
    if (hang) this.violate("no answer in time (a hang)", input, answer);
    for (const rule of extra) this.violate(rule, input, answer);
  }

  violate(rule, input, answer) {
    const entry = this.violations.get(rule) ?? { count: 0, examples: [] };
    entry.count++;
    if (entry.examples.length < 3) entry.examples.push({ input: describe(input), answer });
    this.violations.set(rule, entry);
  }

  /** Checks the rules every surface keeps, under `section`. */
  verdict(section) {
    const broken = [...this.violations.entries()];
    check(section, `${this.name}: no 5xx, no internal, no undocumented code, no hang, nothing broken taken`, broken.length === 0,
      broken.map(([rule, { count, examples }]) => `${rule} ×${count}, e.g. ${JSON.stringify(examples[0].input)} answered “${examples[0].answer}”`).join("; "),
      broken.map(([rule, { count, examples }]) => ({ rule, count, input: examples[0].input, answer: examples[0].answer })));
  }

  toJSON() {
    return {
      surface: this.name,
      cases: this.cases,
      outcomes: Object.fromEntries([...this.outcomes.entries()].sort((a, b) => b[1] - a[1])),
      violations: Object.fromEntries(this.violations),
      by_kind: Object.fromEntries([...this.byKind].map(([kind, labels]) => [kind, Object.fromEntries(labels)])),
      examples: Object.fromEntries(this.examples),
      median_ms: median(this.ms),
    };
  }
}

/** An input as text short enough for a report (binary as hex, long strings cut). */
function describe(input) {
  return JSON.parse(
    JSON.stringify(input, (_k, v) => {
      if (v && v.type === "Buffer" && Array.isArray(v.data)) return `<bytes ${Buffer.from(v.data).subarray(0, 40).toString("hex")}${v.data.length > 40 ? `… (${v.data.length} bytes)` : ""}>`;
      if (typeof v !== "string") return v;
      // Tokens are noise in a report (and expire): the kind of token is said elsewhere.
      const text = v.replace(/eyJ[\w-]*\.[\w-]*\.[\w-]*/g, "<jwt>");
      return text.length > 300 ? `${text.slice(0, 200)}… (${text.length} characters)` : text;
    }),
  );
}

function median(values) {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

/** Runs `work(item)` over `items`, `width` at a time. */
async function pool(items, width, work) {
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < items.length) {
        const i = next++;
        await work(items[i], i);
      }
    }),
  );
}

/** Waits until `pred()` holds or `ms` pass; whether it held. */
async function until(pred, ms, step = 5) {
  const deadline = Date.now() + ms;
  while (!(await pred())) {
    if (Date.now() > deadline) return false;
    await sleep(step);
  }
  return true;
}

/** A plain HTTP request (node:http: any method, any header bytes); `{status, text, json, headers, ms}` or `{error}`. */
function request(base, { method = "GET", path, headers = {}, body }) {
  const url = new URL(path, base);
  const started = Date.now();
  return new Promise((resolve) => {
    // A connection per request: a kept-alive one that the server closed meanwhile would fail
    // the next request with ECONNRESET, which would say nothing about Herald.
    const req = http.request(url, { agent: false, method, headers: { ...(body !== undefined ? { "content-length": Buffer.byteLength(body) } : {}), ...headers }, timeout: ANSWER_MS }, (res) => {
      const chunks = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        let json;
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode, text, json, headers: res.headers, ms: Date.now() - started });
      });
    });
    req.on("timeout", () => {
      req.destroy();
      resolve({ error: "timeout", ms: Date.now() - started });
    });
    req.on("error", (e) => resolve({ error: e.code ?? e.message, ms: Date.now() - started }));
    if (body !== undefined) req.write(body);
    req.end();
  });
}

/** The workerd processes that are children of this process (one per running Miniflare). */
function workerdChildren() {
  const out = sh("ps", ["-o", "pid=", "--ppid", String(process.pid)]) ?? "";
  return out.split(/\s+/).filter(Boolean).map(Number).filter((pid) => comm(pid) === "workerd");
}

function comm(pid) {
  try {
    return readFileSync(`/proc/${pid}/comm`, "utf8").trim();
  } catch {
    return null;
  }
}

/** Every process under `pid` (children, grandchildren…), from /proc. */
function descendants(pid) {
  const parents = new Map();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      parents.set(Number(entry), ppid);
    } catch {
      // gone meanwhile
    }
  }
  const found = [];
  const walk = (p) => {
    for (const [child, parent] of parents) if (parent === p) (found.push(child), walk(child));
  };
  walk(pid);
  return found;
}

/** The soft open-file limit of process `pid`. */
function openFileLimit(pid) {
  try {
    return Number(readFileSync(`/proc/${pid}/limits`, "utf8").match(/^Max open files\s+(\d+)/m)[1]);
  } catch {
    return null;
  }
}

function fdCount(pid) {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return null;
  }
}

/** A process's proportional set size (or its RSS where smaps_rollup is missing), in bytes. */
function memory(pid) {
  try {
    const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, "utf8");
    const pss = rollup.match(/^Pss:\s+(\d+) kB/m);
    if (pss) return Number(pss[1]) * 1024;
  } catch {
    // fall through
  }
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    return Number(status.match(/^VmRSS:\s+(\d+) kB/m)[1]) * 1024;
  } catch {
    return null;
  }
}

/**
 * The bytes the kernel holds for the TCP connection whose client end is local port `port`: the
 * server's send queue and the client's receive queue (`ss`), null where `ss` is missing.
 */
function socketQueues(port) {
  const out = sh("ss", ["-tnH", `( sport = :${port} or dport = :${port} )`]);
  if (out === null) return null;
  let client = 0;
  let server = 0;
  for (const line of out.split("\n").filter(Boolean)) {
    const [, recvQ, sendQ, local] = line.trim().split(/\s+/);
    if (local.endsWith(`:${port}`)) client += Number(recvQ);
    else server += Number(sendQ);
  }
  return { server_send_queue: server, client_receive_queue: client };
}

const mb = (bytes) => (bytes == null ? "—" : `${(bytes / 2 ** 20).toFixed(1)} MiB`);

/** Starts Herald and finds its workerd process. */
async function herald(options) {
  const before = new Set(workerdChildren());
  const started = Date.now();
  const h = await startHerald(options);
  h.startMs = Date.now() - started;
  h.pid = workerdChildren().find((pid) => !before.has(pid));
  return h;
}

/** Every message of `room`, paged, read with `token`. */
async function history(base, room, token) {
  const all = [];
  for (let after = 0; ; ) {
    const page = await request(base, { path: `/v1/rooms/${room}/messages?after=${after}&limit=1000`, headers: { authorization: `Bearer ${token}` } });
    if (page.status !== 200) throw new Error(`history of ${room}: ${page.status} ${page.text}`);
    all.push(...page.json.messages);
    if (page.json.messages.length === 0 || page.json.next == null) return all;
    after = page.json.next;
  }
}

/** Whether two parsed JSON values are equal, however deep (no recursion: data may nest 30,000 deep). */
function sameJson(a, b) {
  const stack = [[a, b]];
  while (stack.length) {
    const [x, y] = stack.pop();
    if (x === y || (Number.isNaN(x) && Number.isNaN(y))) continue;
    if (typeof x !== "object" || typeof y !== "object" || x === null || y === null || Array.isArray(x) !== Array.isArray(y)) return false;
    const keys = Object.keys(x);
    if (keys.length !== Object.keys(y).length) return false;
    for (const k of keys) {
      if (!Object.hasOwn(y, k)) return false;
      stack.push([x[k], y[k]]);
    }
  }
  return true;
}

/**
 * Checks a room's log against what its publishers were told: seqs 1..n without a gap or a
 * duplicate, every acked seq there with its id (and its data, when `sent` has it), and — when
 * `exact` — nothing stored that was not acked. Returns the figures.
 */
function consistent(section, what, log, acks, { exact = true } = {}) {
  const seqs = log.map((m) => m.seq);
  const gapFree = seqs.every((s, i) => s === i + 1);
  const bySeq = new Map(log.map((m) => [m.seq, m]));
  const missing = [...acks.values()].filter((a) => bySeq.get(a.seq)?.id !== a.id);
  const altered = [...acks.values()].filter((a) => a.sent !== undefined && bySeq.has(a.seq) && !sameJson(bySeq.get(a.seq).data, a.sent));
  const unacked = log.length - new Set([...acks.values()].map((a) => a.seq)).size;
  check(section, `${what}: the log runs 1..${log.length} with no gap or duplicate`, gapFree, `seqs ${JSON.stringify(seqs.slice(0, 30))}`);
  check(section, `${what}: every acked message is in the log at its seq (${acks.size})`, missing.length === 0, `missing ${JSON.stringify(missing.slice(0, 3))}`);
  check(section, `${what}: every acked message is stored as it was sent`, altered.length === 0, altered.slice(0, 3).map((a) => `seq ${a.seq}${a.kind ? ` (${a.kind})` : ""}: sent ${JSON.stringify(a.sent)?.slice(0, 100)}, stored ${JSON.stringify(bySeq.get(a.seq).data)?.slice(0, 100)}`).join("; "));
  if (exact) check(section, `${what}: the log holds exactly what was acked`, unacked === 0, `${unacked} stored but never acked`);
  return { stored: log.length, acked: acks.size, gap_free: gapFree, missing: missing.length, altered: altered.length, stored_unacked: unacked };
}

// ---------------------------------------------------------------- 1. malformed input

/** The label of one server frame of the JSON protocol, for the histogram. */
function nativeLabel(frame) {
  if (frame.binary) return "binary";
  if (frame.type === "error") return `error ${frame.code}`;
  if (frame.type === "ack") return frame.duplicate ? "ack duplicate" : "ack";
  return frame.type;
}

/** Resolves once `pred` matches a frame `client` holds (its index), the socket closes, or `ms` pass. */
function frameOrClose(client, pred, ms = ANSWER_MS) {
  return new Promise((resolve) => {
    const deadline = Date.now() + ms;
    let timer;
    const look = () => {
      clearTimeout(timer);
      const at = client.frames.findIndex(pred);
      if (at >= 0) return resolve({ at });
      if (client.socket.readyState >= WebSocket.CLOSING) return resolve({ closed: true });
      if (Date.now() >= deadline) return resolve({ timeout: true });
      client.waiters.push(look);
      timer = setTimeout(look, Math.max(1, deadline - Date.now()));
    };
    look();
  });
}

/** Sends one generated frame as it was generated: text, binary, or text whose bytes are not UTF-8. */
function sendFrame(socket, frame) {
  if (frame.binary) socket.send(frame.binary, { binary: true });
  else if (frame.bytes) socket.send(frame.bytes, { binary: false });
  else socket.send(frame.text);
}

/** The close code of a socket that is closing, within `ms`. */
async function closeCode(client, ms = 15_000) {
  const closed = await Promise.race([client.closed, sleep(ms).then(() => null)]);
  return closed?.code ?? null;
}

async function nativeFramesSurface(h, rng, count) {
  const surface = new Surface("websocket frames, JSON protocol (/v1/rooms/{room}/ws)");
  const room = "abuse-native";
  const token = h.token("abuser");
  const open = async () => {
    const client = await Client.open(`${h.ws}/v1/rooms/${room}/ws`, undefined, { headers: { authorization: `Bearer ${token}` } });
    await client.take(2);
    return client;
  };
  let client = await open();
  const acks = new Map();
  let reconnects = 0;
  for (const [i, frame] of inputs.nativeFrames(rng, count, MAX_FRAME_BYTES).entries()) {
    const probe = `probe-${i}`;
    const started = Date.now();
    sendFrame(client.socket, frame);
    client.send({ type: "ping", transaction: probe });
    const got = await frameOrClose(client, (f) => f.transaction === probe);
    const answer = got.at !== undefined ? client.frames.splice(0, got.at + 1).slice(0, -1) : client.frames.splice(0);
    const closes = [];
    if (got.closed || got.timeout) {
      const code = got.closed ? await closeCode(client) : null;
      if (code !== null) closes.push(code);
    }
    // What the room was given: workerd hands a text frame to the worker as a string, decoded
    // leniently (bytes that are not UTF-8 become U+FFFD), and a binary frame as bytes.
    const sent = tryParse(frame.text ?? (frame.bytes ? new TextDecoder().decode(frame.bytes) : frame.binary.toString("utf8")));
    for (const f of answer) {
      if (f.type === "ack" && !f.duplicate) acks.set(f.seq, { id: f.id, seq: f.seq, kind: frame.kind, sent: sent?.data === undefined ? null : sent.data });
      if (f.type === "ack" && f.duplicate) acks.set(f.seq, acks.get(f.seq) ?? { id: f.id, seq: f.seq });
    }
    const labels = [...new Set(answer.map(nativeLabel).filter((l) => l !== "message"))];
    if (closes.length) labels.push(`close ${closes[0]}`);
    surface.record({ kind: frame.kind, frame: frame.text ?? frame.binary ?? frame.bytes }, {
      label: labels.join(" + ") || "no reply",
      codes: answer.filter((f) => f.type === "error").map((f) => ({ code: f.code })),
      closes,
      ms: Date.now() - started,
      hang: got.timeout,
    });
    if (got.closed || got.timeout) {
      client.terminate();
      client = await open();
      reconnects++;
    }
  }
  const last = await client.publish("after", { the: "abuse" }, { transaction: "final" });
  check("malformed", "JSON protocol: a good publish after the abuse is acked", last.type === "ack", JSON.stringify(last));
  if (last.type === "ack") acks.set(last.seq, { id: last.id, seq: last.seq, sent: { the: "abuse" } });
  client.terminate();
  const figures = consistent("malformed", "JSON protocol room", await history(h.http, room, token), acks);
  return { surface, room: figures, reconnects };
}

function tryParse(text) {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

async function tndataSurface(h, rng, count) {
  const surface = new Surface("tndata frames (/chat/{user}/)");
  const self = "tn-a";
  const token = h.token(self);
  const open = async () => {
    const client = await Client.open(`${h.ws}/chat/tn-b/?token=${token}`);
    await client.take(1, (f) => f.from === "system");
    return client;
  };
  let client = await open();
  const published = []; // texts in the order their echo came back
  for (const [i, frame] of inputs.tndataFrames(rng, count, { self, maxFrameBytes: MAX_FRAME_BYTES }).entries()) {
    const probe = `probe-${i}`;
    const started = Date.now();
    sendFrame(client.socket, frame);
    client.send({ text: probe });
    const got = await frameOrClose(client, (f) => f.message === probe && f.from_id === self);
    const answer = got.at !== undefined ? client.frames.splice(0, got.at + 1) : client.frames.splice(0);
    for (const f of answer) if (f.from_id === self) published.push(f.message);
    const own = answer.filter((f) => f.message !== probe);
    const closes = got.closed ? [await closeCode(client)].filter((c) => c !== null) : [];
    const labels = [...new Set(own.map((f) => (f.error ? `error ${f.error}` : f.from === "system" ? "system" : "published")))];
    if (closes.length) labels.push(`close ${closes[0]}`);
    surface.record({ kind: frame.kind, frame: frame.text ?? frame.binary ?? frame.bytes }, {
      label: labels.join(" + ") || "no reply",
      codes: own.filter((f) => f.error).map((f) => ({ code: f.error })),
      closes,
      ms: Date.now() - started,
      hang: got.timeout,
    });
    if (got.closed || got.timeout) {
      client.terminate();
      client = await open();
    }
  }
  client.send({ text: "after the abuse" });
  const last = await frameOrClose(client, (f) => f.message === "after the abuse");
  check("malformed", "tndata: a good message after the abuse comes back", last.at !== undefined, JSON.stringify(client.frames.slice(-3)));
  if (last.at !== undefined) published.push("after the abuse");
  client.terminate();
  const log = await history(h.http, "tndata:tn-a:tn-b", token);
  const texts = log.map((m) => m.data?.text);
  const gapFree = log.every((m, i) => m.seq === i + 1);
  check("malformed", `tndata conversation: the log runs 1..${log.length} with no gap`, gapFree, JSON.stringify(log.map((m) => m.seq).slice(0, 20)));
  check("malformed", `tndata conversation: the log holds exactly the ${published.length} messages echoed, in order`, sameJson(texts, published),
    `log ${texts.length}, echoed ${published.length}; first difference at ${texts.findIndex((t, i) => t !== published[i])}`);
  return { surface, room: { stored: log.length, echoed: published.length, gap_free: gapFree } };
}

/** The label and codes of one Engine.IO packet from the server, for the histogram. */
function engineLabel(packet, dialect) {
  const codes = [];
  let label;
  if (packet.startsWith("40")) label = "connected";
  else if (packet.startsWith("44")) {
    const body = tryParse(packet.slice(packet.indexOf("{"))) ?? {};
    if (body.data?.code) codes.push({ code: body.data.code, dialect });
    label = `connect_error ${body.data?.code ?? body.message}`;
  } else if (packet.startsWith("42")) {
    const [name, arg] = tryParse(packet.slice(packet.indexOf("["))) ?? [];
    if ((name === "error" || name === "socket-api-error") && arg?.code) {
      codes.push({ code: arg.code, dialect });
      label = `error ${arg.code}`;
    } else if (name === "message" && arg?.event === "success") label = "success";
    else label = `event ${name}`;
  } else if (packet.startsWith("43")) {
    const [arg] = tryParse(packet.slice(packet.indexOf("["))) ?? [];
    if (arg?.code) {
      codes.push({ code: arg.code, dialect });
      label = `ack ${arg.code}`;
    } else label = "ack";
  } else if (packet.startsWith("41")) label = "disconnect";
  else if (packet === "1") label = "closed";
  else if (packet === "2" || packet === "6" || packet.startsWith("0")) label = null;
  else label = `packet ${packet.slice(0, 2)}`;
  return { label, codes };
}

/** A probe every dialect answers with an ack (id PROBE): whatever came before it answers the case. */
const PROBE = 999999;
const PROBE_PACKET = `42${PROBE}["herald-probe",{}]`;
const isProbe = (packet) => packet.startsWith(`43${PROBE}[`) || packet.includes('"herald-probe"');

/** One Socket.IO case over a fresh websocket session; `{packets, closes, hang}`. */
async function socketioOverWebsocket(h, path, c) {
  const e = engineSocket(`${h.ws}${path}?EIO=4&transport=websocket`);
  let closedWith = null;
  let refused = null;
  e.closed.then((code) => (closedWith = code));
  // A refused upgrade (a cap reached) is an answer to record, not an error to throw.
  e.ws.on("unexpected-response", (req, res) => {
    let body = "";
    res.on("data", (chunk) => (body += chunk));
    res.on("end", () => (refused = { status: res.statusCode, body: tryParse(body) }));
  });
  e.ws.on("error", () => {});
  try {
    await until(() => e.ws.readyState === WebSocket.OPEN || refused !== null || closedWith !== null, ANSWER_MS);
    if (refused) {
      const code = refused.body?.code;
      return { packets: [], statuses: [refused.status], codes: code ? [{ code, status: refused.status }] : [], httpLabel: `upgrade ${refused.status} ${code ?? ""}`.trim() };
    }
    if (!(await until(() => e.frames.length > 0 || closedWith !== null, ANSWER_MS))) return { packets: [], closes: [], hang: true };
    e.frames.shift(); // the open packet
    let seen = 0;
    if (c.connect !== null) {
      e.ws.send(c.connect);
      const answered = await until(() => e.frames.some((f) => f.startsWith("40") || f.startsWith("44")) || closedWith !== null, ANSWER_MS);
      if (!answered) return { packets: e.frames, closes: [], hang: true };
      seen = e.frames.findIndex((f) => f.startsWith("40") || f.startsWith("44")) + 1;
    }
    const before = e.frames.slice(0, seen);
    e.frames.splice(0, seen);
    for (const p of c.packets) if (closedWith === null) e.ws.send(p, { binary: Buffer.isBuffer(p) });
    if (closedWith === null) e.ws.send(PROBE_PACKET);
    const probed = await until(() => closedWith !== null || e.frames.some((f) => f.startsWith(`43${PROBE}[`)), ANSWER_MS);
    const owed = () => c.acks.every((id) => e.frames.some((f) => f.startsWith(`43${id}[`)));
    const acked = closedWith !== null || (await until(() => closedWith !== null || owed(), ANSWER_MS));
    await sleep(20); // events the case caused that come after its acks (a room's answer)
    const connectAnswer = c.connect !== null && c.kind === "bad-connect" ? before : [];
    return { packets: [...connectAnswer, ...e.frames.filter((f) => !isProbe(f))], closes: closedWith !== null ? [closedWith] : [], hang: !probed || !acked, closed: closedWith !== null };
  } finally {
    e.ws.terminate();
  }
}

/** One Socket.IO case over a fresh long-polling session. */
async function socketioOverPolling(h, path, c) {
  const base = `${path}?EIO=4&transport=polling`;
  const statuses = [];
  const codes = [];
  const open = await request(h.http, { path: base });
  if (open.status !== 200) return { packets: [], statuses: [open.status], codes: [], hang: Boolean(open.error), httpLabel: `handshake ${open.status}` };
  const sid = JSON.parse(open.text.slice(1)).sid;
  const url = `${base}&sid=${sid}`;
  const post = async (body) => {
    const res = await request(h.http, { method: "POST", path: url, body, headers: { "content-type": "text/plain;charset=UTF-8" } });
    if (res.status !== undefined) statuses.push(res.status);
    if (res.json?.code) codes.push({ code: res.json.code, status: res.status });
    return res;
  };
  const packets = [];
  let closed = false;
  let httpLabel = null;
  // A GET is held until there is something to send (at the latest the next ping): one that
  // times out found nothing, which only matters when the case is owed an answer.
  const get = async () => {
    const res = await request(h.http, { path: url });
    if (res.error) return res;
    statuses.push(res.status);
    if (res.status === 200) {
      const got = res.text.split("\u001e").filter(Boolean);
      packets.push(...got);
      if (got.includes("1")) closed = true;
    } else {
      closed = true;
      if (res.json?.code) codes.push({ code: res.json.code, status: res.status });
      httpLabel ??= `GET ${res.status} ${res.json?.code ?? ""}`.trim();
    }
    return res;
  };
  let hang = false;
  const encode = (p) => (Buffer.isBuffer(p) ? `b${p.toString("base64")}` : p);
  if (c.connect !== null) {
    const res = await post(c.connect);
    if (res.status !== 200) httpLabel = `POST ${res.status} ${res.json?.code ?? ""}`.trim();
    else {
      await get();
      if (c.kind !== "bad-connect") packets.splice(0);
    }
  }
  if (!closed && !httpLabel && c.packets.length > 0) {
    const res = await post(c.packets.map(encode).join("\u001e"));
    if (res.error) hang = true;
    else if (res.status !== 200) {
      httpLabel = `POST ${res.status} ${res.json?.code ?? ""}`.trim();
      closed = true;
    }
  }
  if (!closed && !httpLabel) {
    const res = await post(PROBE_PACKET);
    if (res.error) hang = true;
    else if (res.status !== 200) closed = true;
    const deadline = Date.now() + ANSWER_MS;
    while (!closed && !packets.some((p) => p.startsWith(`43${PROBE}[`))) {
      if (Date.now() > deadline) {
        hang = true;
        break;
      }
      if ((await get()).error) hang = true;
    }
    const deadline2 = Date.now() + ANSWER_MS;
    while (!closed && !hang && !c.acks.every((id) => packets.some((p) => p.startsWith(`43${id}[`)))) {
      if (Date.now() > deadline2 || (await get()).error) hang = true;
    }
  }
  if (!closed) await post("1"); // the client's close: the session ends now rather than at its ping timeout
  return { packets: packets.filter((p) => !isProbe(p)), statuses, codes, hang, closed, httpLabel };
}

async function socketioSurface(h, rng, count) {
  const surface = new Surface("Engine.IO / Socket.IO packets (four dialects, websocket and polling)");
  const token = h.token("sio-abuser");
  const cases = inputs.socketioCases(rng, count, (dialect, i) => ({ room: `sio-${dialect}-${i % 7}`, token }));
  await pool(cases, 4, async (c) => {
    const { path } = inputs.DIALECTS[c.dialect];
    const started = Date.now();
    const result = c.transport === "websocket" ? await socketioOverWebsocket(h, path, c) : await socketioOverPolling(h, path, c);
    const labels = [];
    const codes = [...(result.codes ?? [])];
    for (const p of result.packets) {
      const { label, codes: found } = engineLabel(p, c.dialect);
      if (label) labels.push(label);
      codes.push(...found);
    }
    if (result.httpLabel) labels.push(result.httpLabel);
    if (result.closed && !labels.includes("closed")) labels.push("session closed");
    const unique = [...new Set(labels)];
    surface.record({ dialect: c.dialect, transport: c.transport, kind: c.kind, connect: c.connect, packets: c.packets }, {
      label: `${c.transport}: ${unique.join(" + ") || "no answer"}`,
      codes,
      statuses: result.statuses ?? [],
      closes: (result.closes ?? []).filter((code) => code !== 1000 && code !== 1005),
      ms: Date.now() - started,
      hang: result.hang,
    });
  });
  return surface;
}

async function engineSurface(h, rng, count) {
  const surface = new Surface("Engine.IO requests (handshakes, sids, methods, payloads)");
  for (const r of inputs.engineRequests(rng, count, 1_000_000)) {
    const started = Date.now();
    let path = `${r.path}?${r.query ?? "EIO=4&transport=polling"}`;
    const statuses = [];
    const codes = [];
    let res;
    let hang = false;
    if (r.session) {
      const open = await request(h.http, { path: `${r.path}?EIO=4&transport=polling` });
      if (open.status !== 200) {
        surface.record({ kind: r.kind, handshake: r.path }, { label: `handshake ${open.status ?? open.error} ${open.json?.code ?? ""}`.trim(), codes: open.json?.code ? [{ code: open.json.code, status: open.status }] : [], statuses: open.status ? [open.status] : [], hang: Boolean(open.error) });
        continue;
      }
      const sid = JSON.parse(open.text.slice(1)).sid;
      path = `${r.path}?EIO=4&transport=polling&sid=${sid}`;
      if (r.concurrent) {
        const held = request(h.http, { path });
        await sleep(50);
        res = await request(h.http, { path });
        const first = await held;
        if (first.error) hang = true;
        else statuses.push(first.status);
      } else {
        await request(h.http, { method: "POST", path, body: "40" });
        res = await request(h.http, { method: "POST", path, body: r.body });
      }
    } else {
      res = await request(h.http, { method: r.method, path, body: r.body });
    }
    if (res.error) hang = true;
    else {
      statuses.push(res.status);
      if (res.json?.code) codes.push({ code: res.json.code, status: res.status });
    }
    if (r.session) await request(h.http, { method: "POST", path, body: "1" }); // end it now, not at its ping timeout
    const label = res.error ? `no answer (${res.error})` : `${r.method} ${res.status}${res.json?.code ? ` ${res.json.code}` : res.status === 200 ? ` ${res.text.slice(0, 2)}` : ""}`;
    surface.record({ kind: r.kind, method: r.method, path, body: r.body }, { label, codes, statuses, ms: Date.now() - started, hang });
  }
  return surface;
}

async function restSurface(h, rng, count) {
  const surface = new Surface("REST requests (every route)");
  const room = "abuse-rest";
  const tokens = {
    user: h.token("rest-user"),
    admin: h.token("rest-admin", { role: "admin" }),
    garbage: "garbage.token.here",
    expired: h.token("rest-user", { exp: Math.floor(Date.now() / 1000) - 3600, iat: Math.floor(Date.now() / 1000) - 7200 }),
  };
  const acks = new Map();
  const requests = inputs.restRequests(rng, count, { room, self: "rest-user", maxFrameBytes: MAX_FRAME_BYTES });
  const routes = new Map(inputs.restRoutes({ room, self: "rest-user" }).map((r) => [r.name, r]));
  await pool(requests, 4, async (r) => {
    const route = routes.get(r.route);
    const query = new URLSearchParams(r.query);
    if (r.repeat) query.append(r.repeat, "1");
    const qs = query.toString();
    const path = route.path(r.id === undefined ? undefined : r.kind === "bad-id" ? encodeURIComponent(r.id).replace(/%25/g, "%") : r.id) + (qs ? `?${qs}` : "");
    const headers = { ...r.headers };
    const auth = { none: undefined, Basic: "Basic dXNlcjpwYXNz", empty: "Bearer " }[r.token] ?? (tokens[r.token] ? `Bearer ${tokens[r.token]}` : undefined);
    if (auth !== undefined) headers.authorization = auth;
    const body = ["GET", "HEAD"].includes(r.method) ? undefined : r.body;
    if (body !== undefined && headers["content-type"] === undefined) headers["content-type"] = "application/json";
    if (headers["content-type"] === "") delete headers["content-type"];
    const res = await request(h.http, { method: r.method, path, headers, body });
    const extra = [];
    if (!res.error && res.status >= 400 && r.method !== "HEAD" && typeof res.json?.code !== "string") extra.push("a refusal without a JSON {code}");
    if (!res.error && res.status >= 400 && r.method !== "HEAD" && typeof res.json?.message !== "string") extra.push("a refusal without a message");
    // Input that no route may take: a method it does not have (HEAD aside, which GET routes
    // answer), a body that is not an object, too big or not UTF-8, a room id outside the rules.
    const mustRefuse =
      (r.kind === "wrong-method" && !(route.allow ?? [route.method]).includes(r.method) && r.method !== "OPTIONS" && !(r.method === "HEAD" && route.method === "GET")) ||
      ["non-object", "oversize", "not-utf8"].includes(r.kind) ||
      (r.kind === "bad-id" && route.room !== undefined);
    if (mustRefuse && res.status < 300) extra.push(`broken input taken (2xx): ${r.kind === "wrong-method" ? `method ${r.method}` : r.kind}`);
    if (r.route === "publish" && r.id === room && r.method === "POST" && (res.status === 201 || res.status === 200)) {
      acks.set(res.json.seq, { id: res.json.id, seq: res.json.seq, ...(res.status === 201 ? { sent: tryParse(r.body)?.data ?? null } : {}) });
    }
    const label = res.error ? `no answer (${res.error})` : `${res.status}${res.json?.code ? ` ${res.json.code}` : ""}`;
    surface.record({ route: r.route, kind: r.kind, method: r.method, path, headers: r.headers, token: r.token, body: typeof r.body === "string" ? r.body : r.body }, {
      label,
      codes: res.json?.code ? [{ code: res.json.code, status: res.status }] : [],
      statuses: res.status ? [res.status] : [],
      ms: res.ms,
      hang: Boolean(res.error),
      extra,
    });
  });
  const last = await request(h.http, { method: "POST", path: `/v1/rooms/${room}/messages`, headers: { authorization: `Bearer ${tokens.user}`, "content-type": "application/json" }, body: JSON.stringify({ event: "after", data: 1 }) });
  check("malformed", "REST: a good publish after the abuse is stored (201)", last.status === 201, `${last.status} ${last.text}`);
  if (last.status === 201) acks.set(last.json.seq, { id: last.json.id, seq: last.json.seq, sent: 1 });
  const figures = consistent("malformed", "REST room", await history(h.http, room, tokens.user), acks);
  return { surface, room: figures };
}

/** Opens a websocket with `headers`/`protocols`; `{opened}` (then closed) or `{status, body}` of the refusal. */
function upgrade(url, { headers = {}, protocols } = {}) {
  return new Promise((resolve) => {
    let ws;
    try {
      ws = new WebSocket(url, protocols, { headers, handshakeTimeout: ANSWER_MS });
    } catch (e) {
      return resolve({ unsendable: e.message });
    }
    ws.once("open", () => {
      resolve({ opened: true, protocol: ws.protocol, ws });
    });
    ws.once("unexpected-response", (_req, res) => {
      let body = "";
      res.on("data", (c) => (body += c));
      res.on("end", () => resolve({ status: res.statusCode, body: tryParse(body) }));
    });
    ws.once("error", (e) => resolve({ error: e.message }));
  });
}

/** A raw Engine.IO websocket with headers: its frames, and helpers to wait for one. */
async function engineWith(url, headers) {
  const opened = await upgrade(url, { headers });
  if (!opened.opened) return { refused: opened };
  const { ws } = opened;
  const frames = [];
  ws.on("message", (data) => frames.push(data.toString()));
  let closed = false;
  ws.on("close", () => (closed = true));
  const wait = async (pred) => {
    await until(() => closed || frames.some(pred), ANSWER_MS);
    return frames.find(pred);
  };
  await wait((f) => f.startsWith("0"));
  return { ws, frames, wait, isClosed: () => closed };
}

/**
 * What a token met on each surface that takes one: `{accepted}` or `{code}` (and the HTTP
 * status where there is one), or `{unsendable}` when the client cannot even send it there.
 */
const TOKEN_SURFACES = {
  "REST, Authorization": async (h, t) => {
    const res = await request(h.http, { path: "/v1/rooms/tokens/messages", headers: { authorization: `Bearer ${t}` } });
    return res.error ? { hang: true } : res.status === 200 ? { accepted: true } : { code: res.json?.code, status: res.status };
  },
  "REST, ?token=": async (h, t) => {
    const res = await request(h.http, { path: `/v1/rooms/tokens/messages?token=${encodeURIComponent(t)}` });
    return res.error ? { hang: true } : res.status === 200 ? { accepted: true } : { code: res.json?.code, status: res.status };
  },
  "websocket upgrade, Authorization": async (h, t) => upgradeOutcome(await upgrade(`${h.ws}/v1/rooms/tokens/ws`, { headers: { authorization: `Bearer ${t}` } })),
  "websocket upgrade, Sec-WebSocket-Protocol": async (h, t) =>
    /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(t) && t !== "herald" ? upgradeOutcome(await upgrade(`${h.ws}/v1/rooms/tokens/ws`, { protocols: ["herald", t] })) : { unsendable: "not a protocol token" },
  "tndata upgrade, ?token=": async (h, t) => upgradeOutcome(await upgrade(`${h.ws}/chat/tokens-peer/?token=${encodeURIComponent(t)}`)),
  "Socket.IO native, CONNECT auth": async (h, t) => {
    const e = await engineWith(`${h.ws}/v1/socket.io/?EIO=4&transport=websocket`, {});
    if (e.refused) return { code: e.refused.body?.code, status: e.refused.status };
    e.ws.send(`40${JSON.stringify({ token: t })}`);
    return connectOutcome(e, await e.wait((f) => f.startsWith("40") || f.startsWith("44")));
  },
  "Socket.IO alert, handshake ?token=": async (h, t) => {
    const e = await engineWith(`${h.ws}/socket.io/?EIO=4&transport=websocket&token=${encodeURIComponent(t)}`, {});
    if (e.refused) return { code: e.refused.body?.code, status: e.refused.status };
    e.ws.send("40");
    return connectOutcome(e, await e.wait((f) => f.startsWith("40") || f.startsWith("44")));
  },
  "Socket.IO workspace, auth event": async (h, t) => {
    const e = await engineWith(`${h.ws}/workspace/socket.io/?EIO=4&transport=websocket`, {});
    if (e.refused) return { code: e.refused.body?.code, status: e.refused.status };
    e.ws.send("40");
    await e.wait((f) => f.startsWith("40"));
    e.ws.send(`42${JSON.stringify(["auth", { token: t, workspaceId: "tokens" }])}`);
    const answer = await e.wait((f) => f.startsWith('42["auth-success"') || f.startsWith('42["socket-api-error"'));
    e.ws.terminate();
    if (!answer) return { hang: true };
    const [name, arg] = JSON.parse(answer.slice(2));
    return name === "auth-success" ? { accepted: true } : { code: arg.code };
  },
  "Socket.IO 3drepo, connect.sid cookie": async (h, t) => {
    if (!/^[\x21-\x7e]*$/.test(t) || /[;,\s"\\]/.test(t)) return { unsendable: "not a cookie value" };
    const e = await engineWith(`${h.ws}/chat/?EIO=4&transport=websocket`, { cookie: `connect.sid=${t}` });
    if (e.refused) return { code: e.refused.body?.code, status: e.refused.status };
    e.ws.send("40");
    await e.wait((f) => f.startsWith("40"));
    e.ws.send('42["join",{"notifications":true}]');
    const answer = await e.wait((f) => f.startsWith('42["message"') || f.startsWith('42["error"'));
    e.ws.terminate();
    if (!answer) return { hang: true };
    const [name, arg] = JSON.parse(answer.slice(2));
    return name === "message" && arg.event === "success" ? { accepted: true } : { code: arg.code, dialect: "3drepo" };
  },
};

function upgradeOutcome(res) {
  if (res.opened) {
    res.ws.terminate();
    return { accepted: true };
  }
  if (res.unsendable) return { unsendable: res.unsendable };
  if (res.error) return { hang: /timeout/i.test(res.error), error: res.error };
  return { code: res.body?.code, status: res.status };
}

function connectOutcome(e, answer) {
  e.ws.terminate();
  if (!answer) return { hang: true };
  if (answer.startsWith("40")) return { accepted: true };
  const body = tryParse(answer.slice(2)) ?? {};
  return { code: body.data?.code };
}

async function tokensSurface(rng, count) {
  const keys = inputs.tokenKeys(SECRET);
  const h = await herald({ vars: { JWT_PUBLIC_KEYS: keys.publicKeys, JWT_ISSUER: keys.issuer, JWT_AUDIENCE: keys.audience } });
  const surface = new Surface("tokens (every surface that takes one)");
  const wrongWay = [];
  const either = [];
  try {
    const cases = inputs.tokenCases(rng, keys, count);
    const TOKEN_CODES = new Set(["token_missing", "token_invalid", "token_expired", "token_not_yet_valid", "UNAUTHORISED"]);
    const jobs = cases.flatMap((c) => Object.keys(TOKEN_SURFACES).map((where) => ({ c, where })));
    await pool(jobs, 3, async ({ c, where }) => {
      const started = Date.now();
      const got = await TOKEN_SURFACES[where](h, c.token);
      if (got.unsendable) return;
      const extra = [];
      if (c.expect === "accept" && !got.accepted) extra.push("a good token refused");
      if (c.expect === "either") either.push({ token: c.name, where, answer: got.accepted ? "accepted" : got.code });
      else if (c.expect !== "accept" && got.accepted) extra.push("a bad token accepted");
      if (c.expect !== "accept" && !got.accepted && !TOKEN_CODES.has(got.code)) extra.push(`refused without a token code (${got.code})`);
      const expected = c.expect.startsWith("token_") && got.dialect !== "3drepo" ? c.expect : null;
      if (expected && !got.accepted && got.code !== expected) wrongWay.push({ token: c.name, where, expected, got: got.code });
      surface.record({ token: c.name, where, value: c.token }, {
        label: got.accepted ? "accepted" : got.hang ? "no answer" : `${got.status ? `${got.status} ` : ""}${got.code}`,
        codes: got.code ? [{ code: got.code, status: got.status, dialect: got.dialect }] : [],
        statuses: got.status ? [got.status] : [],
        ms: Date.now() - started,
        hang: got.hang,
        extra,
      });
    });
    check("malformed", "tokens: each refused with the code its defect names (expired: token_expired, nbf: token_not_yet_valid)", wrongWay.length === 0, JSON.stringify(wrongWay.slice(0, 3)));
    return { surface, tokens: cases.length, surfaces: Object.keys(TOKEN_SURFACES).length, wrong_code: wrongWay, left_to_herald: either };
  } finally {
    await h.stop();
  }
}

async function originsSurface(rng, count) {
  const h = await herald({ vars: { ALLOWED_ORIGINS: inputs.ALLOWED_ORIGINS } });
  const surface = new Surface("cookies and origins (3drepo's connect.sid, CORS preflights)");
  const either = [];
  try {
    const cookie = `connect.sid=${h.token("cookie-victim")}`;
    const cases = inputs.originCases(rng, count);
    const ways = {
      "websocket with the cookie": async (origin) => {
        const res = await upgrade(`${h.ws}/chat/?EIO=4&transport=websocket`, { headers: { cookie, origin } });
        return res.opened ? (res.ws.terminate(), { allowed: true }) : { status: res.status, code: res.body?.code, error: res.error };
      },
      "polling with the cookie": async (origin) => {
        const res = await request(h.http, { path: "/chat/?EIO=4&transport=polling", headers: { cookie, origin } });
        return res.status === 200 ? { allowed: true } : { status: res.status, code: res.json?.code, error: res.error };
      },
      "CORS preflight": async (origin) => {
        const res = await request(h.http, { method: "OPTIONS", path: "/api/v1/send", headers: { origin, "access-control-request-method": "POST", "access-control-request-headers": "authorization, content-type" } });
        return res.status === 204 ? { allowed: true } : { status: res.status, code: res.json?.code, error: res.error };
      },
    };
    for (const c of cases) {
      for (const [way, run] of Object.entries(ways)) {
        const started = Date.now();
        const got = await run(c.origin);
        const extra = [];
        if (c.expect === "forbidden" && (got.allowed || got.code !== "origin_forbidden")) extra.push("a foreign origin not refused with origin_forbidden");
        if (c.expect === "allowed" && !got.allowed) extra.push("an allowed origin refused");
        if (c.expect === "either") either.push({ origin: c.origin, way, answer: got.allowed ? "allowed" : `${got.status} ${got.code}` });
        surface.record({ origin: c.origin, way }, {
          label: got.allowed ? `${way}: allowed` : `${way}: ${got.status ?? got.error} ${got.code ?? ""}`.trim(),
          codes: got.code ? [{ code: got.code, status: got.status }] : [],
          statuses: got.status ? [got.status] : [],
          ms: Date.now() - started,
          hang: Boolean(got.error),
          extra,
        });
      }
    }
    return { surface, origins: cases.length, left_to_herald: either };
  } finally {
    await h.stop();
  }
}

/** The publish flood: one connection, default rate limits, as fast as it can send. */
async function flood(h, count) {
  const client = await h.connect("flood", "flooder");
  await client.take(2);
  const answers = new Map(); // transaction (1..count) → frame
  client.socket.on("message", (data) => {
    const f = JSON.parse(data.toString());
    if (typeof f.transaction === "number") answers.set(f.transaction, f);
  });
  const started = Date.now();
  for (let i = 1; i <= count; i++) {
    client.send({ type: "publish", event: "flood", data: i, id: `flood-${i}`, transaction: i });
    if (i % 200 === 0) await sleep(0);
  }
  const sentMs = Date.now() - started;
  await until(() => answers.size >= count, 30_000, 20);
  const acked = [...answers.values()].filter((f) => f.type === "ack");
  const limited = [...answers.values()].filter((f) => f.type === "error" && f.code === "rate_limited");
  const others = [...answers.values()].filter((f) => f.type === "error" && f.code !== "rate_limited");
  check("flood", `${count} publishes: every one answered (ack or error), none dropped silently`, answers.size === count, `${count - answers.size} unanswered`);
  check("flood", "the flood was rate-limited, each refusal with retry_after_ms", limited.length > 0 && limited.every((f) => f.details?.retry_after_ms > 0), `${limited.length} rate_limited`);
  check("flood", "no other refusal", others.length === 0, JSON.stringify(others.slice(0, 3)));
  // Sent again after the wait the server named, at its pace: taken.
  const retry = limited.slice(0, 40);
  await sleep(Math.max(...retry.map((f) => f.details.retry_after_ms), 0) + 50);
  let retried = 0;
  for (const f of retry) {
    const ack = await client.publish("flood", f.transaction, { id: `flood-${f.transaction}`, transaction: `again-${f.transaction}` });
    if (ack.type === "ack") (retried++, acked.push({ ...ack, transaction: f.transaction }));
    await sleep(25);
  }
  check("flood", `refused publishes sent again after retry_after_ms are taken (${retry.length})`, retried === retry.length, `${retried} of ${retry.length}`);
  client.terminate();
  const acks = new Map(acked.map((a) => [a.seq, { id: a.id, seq: a.seq, sent: a.transaction }]));
  const room = consistent("flood", "flood room", await history(h.http, "flood", h.token("reader")), acks);
  return { sent: count, send_ms: sentMs, acked: acked.length - retried, rate_limited: limited.length, other_errors: others.length, unanswered: count - answers.size, retried_after_wait: retried, room };
}

async function malformed() {
  const results = {};
  // Each surface draws from its own stream of the seed, so one surface's cases do not depend on
  // another's. RELIABILITY_SURFACES=rest,tokens runs only those (while working on the script).
  const rngFor = (name) => inputs.prng(seed ^ [...name].reduce((h, c) => Math.imul(h ^ c.charCodeAt(0), 16777619) >>> 0, 2166136261));
  const wanted = process.env.RELIABILITY_SURFACES?.split(",");
  const want = (name) => !wanted || wanted.includes(name);
  const surfaces = [];
  const h = await herald({ recorder: true, vars: { MAX_MESSAGES_PER_SECOND: "100000", MAX_MESSAGE_BURST: "1000000" } });
  try {
    if (want("native")) {
      log("- websocket frames (JSON protocol)");
      const native = await nativeFramesSurface(h, rngFor("native"), 5000);
      surfaces.push(native.surface);
      results.native_room = native.room;
    }
    if (want("tndata")) {
      log("- tndata frames");
      const tndata = await tndataSurface(h, rngFor("tndata"), 1000);
      surfaces.push(tndata.surface);
      results.tndata_room = tndata.room;
    }
    if (want("socketio")) {
      log("- Socket.IO packets");
      surfaces.push(await socketioSurface(h, rngFor("socketio"), 1000));
    }
    if (want("engineio")) {
      log("- Engine.IO requests");
      surfaces.push(await engineSurface(h, rngFor("engineio"), 200));
    }
    if (want("rest")) {
      log("- REST requests");
      const rest = await restSurface(h, rngFor("rest"), 3000);
      surfaces.push(rest.surface);
      results.rest_room = rest.room;
    }
    const panics = h.logs.filter((l) => /panicked|RuntimeError|unreachable/.test(l));
    check("malformed", "the worker never panicked", panics.length === 0, panics.slice(0, 3).join(" | "));
  } finally {
    await h.stop();
  }
  if (want("tokens")) {
    log("- tokens");
    const tokens = await tokensSurface(rngFor("tokens"), 150);
    surfaces.push(tokens.surface);
    results.tokens = { distinct: tokens.tokens, surfaces: tokens.surfaces, wrong_code: tokens.wrong_code, left_to_herald: tokens.left_to_herald };
  }
  if (want("origins")) {
    log("- cookies and origins");
    const origins = await originsSurface(rngFor("origins"), 60);
    surfaces.push(origins.surface);
    results.origins = { distinct: origins.origins, left_to_herald: origins.left_to_herald };
  }
  for (const s of surfaces) s.verdict("malformed");
  results.surfaces = surfaces.map((s) => s.toJSON());
  return results;
}

async function floodSection() {
  const h = await herald({});
  try {
    return await flood(h, 3000);
  } finally {
    await h.stop();
  }
}

// ---------------------------------------------------------------- 2. fuzzing

/**
 * One line about `fuzz/results.json` (written by `make fuzz`): the decoders fuzzed, the cases
 * run and the crashes, or that fuzzing was not run. Read loosely: a list of targets (or an
 * object keyed by target) each with a count of cases (`runs`, `cases`, `executions`) and of
 * crashes.
 */
function fuzzSection() {
  const file = join(root, "fuzz", "results.json");
  if (!existsSync(file)) return { run: false, line: "Fuzzing was not run for these figures (`make fuzz` writes `fuzz/results.json`)." };
  let data;
  try {
    data = JSON.parse(readFileSync(file, "utf8"));
  } catch (e) {
    return { run: false, line: `\`fuzz/results.json\` could not be read (${e.message}).` };
  }
  const list = Array.isArray(data) ? data : Array.isArray(data.targets) ? data.targets : Object.entries(data.targets ?? data).filter(([, v]) => v && typeof v === "object").map(([name, v]) => ({ name, ...v }));
  const count = (t, keys) => keys.map((k) => t[k]).find((v) => typeof v === "number");
  const targets = list.map((t) => ({ name: t.name ?? t.target ?? t.decoder, cases: count(t, ["runs", "cases", "executions", "execs", "iterations"]), crashes: count(t, ["crashes", "failures", "panics"]) ?? 0 }));
  if (targets.length === 0 || targets.some((t) => t.cases === undefined)) return { run: false, line: "`fuzz/results.json` is there but names no decoder with a count of cases." };
  const cases = targets.reduce((sum, t) => sum + t.cases, 0);
  const crashes = targets.reduce((sum, t) => sum + t.crashes, 0);
  check("fuzz", "fuzzing found no crash", crashes === 0, targets.filter((t) => t.crashes).map((t) => `${t.name}: ${t.crashes}`).join(", "));
  return {
    run: true,
    date: data.date ?? null,
    targets,
    line: `${targets.length} decoders fuzzed, ${cases.toLocaleString("en-US")} cases in all, ${crashes} crashes${data.date ? ` (${String(data.date).slice(0, 10)})` : ""}: see [Fuzzing and property tests](#fuzzing-and-property-tests).`,
  };
}

// ---------------------------------------------------------------- 3. connection caps

/** A free TCP port on 127.0.0.1. */
function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/**
 * A native websocket to `room` as `sub` from `address`: the open client, or the refusal (the
 * HTTP answer of a refused upgrade, or an error frame and close after one).
 */
async function nativeFrom(base, token, room, address) {
  const headers = { authorization: `Bearer ${token}`, ...(address ? { "cf-connecting-ip": address } : {}) };
  let client;
  try {
    client = await Client.open(`${base}/v1/rooms/${room}/ws`, undefined, { headers });
  } catch (e) {
    if (e.status) return { refusal: e.body, status: e.status };
    throw e;
  }
  const [first] = await client.take(1, () => true, ANSWER_MS);
  if (first.type === "error") return { refusal: first, close: (await Promise.race([client.closed, sleep(ANSWER_MS)]))?.code };
  return { client };
}

/** An anonymous alert session over a raw Engine.IO websocket from `address`: `{ws}` or the 429 refusal. */
function alertFrom(base, address) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${base}/socket.io/?EIO=4&transport=websocket`, { headers: address ? { "cf-connecting-ip": address } : {} });
    ws.once("message", () => resolve({ ws }));
    ws.once("unexpected-response", (_req, res) => {
      let body = "";
      res.on("data", (c) => (body += c));
      res.on("end", () => resolve({ status: res.statusCode, body: tryParse(body) }));
    });
    ws.once("error", reject);
  });
}

/**
 * One client opening connections in a loop against `base` until refused, in three rounds:
 * native websockets as one user from one address, anonymous alert sessions from that address,
 * then alert sessions from a new address each time. Members are checked after.
 */
async function capFlood(base, httpBase, mint, members, processes) {
  const open = [];
  const rounds = [];
  const fdsAt = () => Object.fromEntries(processes().map((pid) => [pid, fdCount(pid)]));
  const round = async (name, attempt) => {
    const started = Date.now();
    let accepted = 0;
    for (let i = 0; i < 20_000; i++) {
      const got = await attempt(i);
      if (got.client || got.ws) {
        open.push(got.client ?? got.ws);
        accepted++;
        continue;
      }
      const refusal = got.refusal ?? got.body;
      rounds.push({ round: name, accepted, refusal: { code: refusal?.code, details: refusal?.details, status: got.status, close: got.close }, per_second: Math.round((accepted / (Date.now() - started)) * 1000) });
      log(`  ${name}: ${accepted} accepted, then ${refusal?.code} (${JSON.stringify(refusal?.details)})`);
      return;
    }
    rounds.push({ round: name, accepted, refusal: null });
  };
  const flooder = mint("flooder");
  await round("native websockets, one user, one address", (i) => nativeFrom(base, flooder, `flood-${i}`, "192.0.2.1"));
  await round("anonymous alert sessions, same address", () => alertFrom(base, "192.0.2.1"));
  await round("anonymous alert sessions, a new address each", (i) => alertFrom(base, i < 250 ? `198.51.100.${i}` : `2001:db8:${(i >> 8).toString(16)}:${(i & 255).toString(16)}::1`));
  const peakFds = fdsAt();
  const ping = await request(httpBase, { path: "/api/v1/ping" });
  const publish = await request(httpBase, { method: "POST", path: "/v1/rooms/caps-room/messages", headers: { authorization: `Bearer ${mint("app")}`, "content-type": "application/json" }, body: JSON.stringify({ event: "still", data: "here" }) });
  let received = 0;
  for (const m of members) {
    const got = await m.take(1, (f) => f.type === "message", ANSWER_MS).catch(() => []);
    if (got[0]?.data === "here" && m.socket.readyState === WebSocket.OPEN && !m.frames.some((f) => f.type === "error")) received++;
  }
  for (const c of open) (c.terminate ?? c.close).call(c);
  return { rounds, open: open.length, peak_fds: peakFds, ping: ping.status, publish: publish.status, members: members.length, members_received: received };
}

async function capsSection() {
  const results = {};
  // workerd alone (the harness): file descriptors per connection.
  log("- file descriptors per connection, workerd alone");
  {
    const h = await herald({});
    const clients = [];
    try {
      const before = fdCount(h.pid);
      for (let i = 0; i < 500; i++) {
        const c = await Client.open(`${h.ws}/v1/rooms/fd-room-${i % 10}/ws`, undefined, { headers: { authorization: `Bearer ${h.token(`fd-user-${i}`)}` } });
        clients.push(c);
      }
      await until(() => clients.every((c) => c.frames.length > 0), ANSWER_MS);
      const after = fdCount(h.pid);
      results.harness = { connections: clients.length, fds_before: before, fds_after: after, fds_per_connection: Math.round(((after - before) / clients.length) * 100) / 100 };
      log(`  ${clients.length} websockets: ${before} → ${after} fds in workerd`);
    } finally {
      for (const c of clients) c.terminate();
      await h.stop();
    }
  }

  // The real run command under a low open-file limit.
  log("- scripts/dev.sh under a limit of 4096 open files");
  const port = await freePort();
  const recorderPort = await freePort();
  // `ulimit -n` in dev.sh may raise the soft limit up to the hard one; root could raise the hard
  // one too (CAP_SYS_RESOURCE), so the limit is set with the capability dropped where it is held.
  const limit = ["prlimit", "--nofile=4096:4096"];
  const dropCap = process.getuid?.() === 0 && sh("sh", ["-c", "command -v setpriv"]) ? ["setpriv", "--inh-caps=-sys_resource", "--bounding-set=-sys_resource"] : [];
  const argv = [...limit, ...dropCap, "scripts/dev.sh", "--var", "MAX_CONNECTIONS_PER_ADDRESS:200"];
  const env = { ...process.env, PORT: String(port), RECORDER_PORT: String(recorderPort), WRANGLER_SEND_METRICS: "false" };
  delete env.MAX_CONNECTIONS;
  // Its own process group, so that stopping it reaches wrangler, workerd and the recorder and
  // nothing else on the machine.
  const dev = spawn(argv[0], argv.slice(1), { cwd: root, env, detached: true, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  dev.stdout.on("data", (c) => (output += c));
  dev.stderr.on("data", (c) => (output += c));
  const base = `http://127.0.0.1:${port}`;
  const members = [];
  try {
    const up = await until(async () => (await request(base, { path: "/api/v1/ping" })).status === 200 || dev.exitCode !== null, 240_000, 1000);
    if (!up || dev.exitCode !== null) throw new Error(`scripts/dev.sh did not come up:\n${output.slice(-3000)}`);
    const cap = Number(output.match(/capped at (\d+) in all/)?.[1]);
    const allowed = Number(output.match(/Open files allowed: (\d+)/)?.[1]);
    const mintDev = (sub) => inputs.jws({ alg: "HS256", typ: "JWT" }, { sub, iat: Math.floor(Date.now() / 1000), exp: Math.floor(Date.now() / 1000) + 3600 }, { hs: devSecret() });
    const processes = () => descendants(dev.pid).filter((pid) => comm(pid) === "workerd");
    const ws = base.replace(/^http/, "ws");
    for (const n of [1, 2, 3]) {
      const m = await nativeFrom(ws, mintDev(`member-${n}`), "caps-room", `10.1.0.${n}`);
      if (!m.client) throw new Error(`member ${n} refused: ${JSON.stringify(m.refusal)}`);
      members.push(m.client);
    }
    await sleep(500);
    const baseFds = Object.fromEntries(processes().map((pid) => [pid, fdCount(pid)]));
    const flood = await capFlood(ws, base, mintDev, members, processes);
    const added = flood.open;
    const limits = Object.fromEntries(Object.keys(flood.peak_fds).map((pid) => [pid, openFileLimit(pid)]));
    const per = Object.fromEntries(Object.entries(flood.peak_fds).map(([pid, fds]) => [pid, Math.round(((fds - (baseFds[pid] ?? 0)) / added) * 100) / 100]));
    results.dev = { open_files_allowed: allowed, max_connections: cap, ...flood, base_fds: baseFds, fds_per_connection: per, process_limits: limits };
    const [byUser, byAddress, total] = flood.rounds;
    check("caps", `one user's loop is refused at its cap, before the upgrade (user, 100)`, byUser?.refusal?.code === "too_many_connections" && byUser.refusal.details?.scope === "user" && byUser.refusal.status === 429, JSON.stringify(byUser));
    check("caps", `one address's anonymous loop is refused at its cap (address, 200)`, byAddress?.refusal?.status === 429 && byAddress.refusal.details?.scope === "address", JSON.stringify(byAddress));
    check("caps", `a loop from changing addresses is refused at the cap in all (total, ${cap})`, total?.refusal?.status === 429 && total.refusal.details?.scope === "total" && total.refusal.details?.limit === cap, JSON.stringify(total));
    check("caps", "at the cap the server still answers (ping 200, REST publish 201)", flood.ping === 200 && flood.publish === 201, `ping ${flood.ping}, publish ${flood.publish}`);
    check("caps", "every member stayed connected and received a message published after the flood", flood.members_received === members.length, `${flood.members_received} of ${members.length}`);
    const worst = Math.max(...Object.values(flood.peak_fds));
    check("caps", `the workerd processes ran under the low limit (${JSON.stringify(limits)})`, Object.values(limits).every((l) => l === allowed), JSON.stringify(limits));
    check("caps", `no workerd process neared its open-file limit (${worst} of ${allowed})`, worst < allowed * 0.9, `${worst} of ${allowed}`);
  } finally {
    for (const m of members) m.terminate();
    await stopGroup(dev);
  }
  return results;
}

/** JWT_SECRET of .dev.vars, which scripts/dev.sh gives wrangler. */
function devSecret() {
  const line = readFileSync(join(root, ".dev.vars"), "utf8").split("\n").find((l) => /^\s*JWT_SECRET\s*=/.test(l));
  return line.replace(/^\s*JWT_SECRET\s*=\s*/, "").trim().replace(/^"(.*)"$/, "$1");
}

/** Stops the process group `child` leads (TERM, then KILL), then anything of its tree still there, by pid. */
async function stopGroup(child) {
  const tree = descendants(child.pid);
  const signal = (sig) => {
    try {
      process.kill(-child.pid, sig);
    } catch {
      // gone
    }
  };
  signal("SIGTERM");
  const gone = await until(() => child.exitCode !== null || child.signalCode !== null, 15_000, 100);
  if (!gone) signal("SIGKILL");
  await sleep(500);
  for (const pid of tree) {
    try {
      process.kill(pid, 0);
      process.kill(pid, "SIGKILL");
    } catch {
      // gone
    }
  }
}

// ---------------------------------------------------------------- 4. slow consumers

/**
 * 20 MB published over REST into a room with a member that reads everything (and pings, as the
 * protocol asks) and, unless `stall` is false, a member that stopped reading. Messages are
 * random (incompressible) and the members do not negotiate permessage-deflate, so what the
 * server holds for the stalled member is the bytes themselves.
 */
async function slowConsumer(bound, stall = true) {
  const MESSAGE = 50_000;
  const COUNT = 400;
  const h = await herald({ vars: { MAX_BACKLOG_BYTES: String(bound) } });
  const member = async (sub) => {
    const client = await Client.open(`${h.ws}/v1/rooms/slow-room/ws`, undefined, { headers: { authorization: `Bearer ${h.token(sub)}` }, perMessageDeflate: false });
    await client.take(1, (f) => f.type === "welcome");
    return client;
  };
  try {
    const stalled = stall ? await member("stalled") : null;
    const reader = await member("reader");
    await sleep(500);
    const before = memory(h.pid);
    let peak = before;
    const sampler = setInterval(() => (peak = Math.max(peak, memory(h.pid) ?? 0)), 100);
    stalled?.socket._socket.pause();
    const pinger = setInterval(() => reader.send('{"type":"ping"}'), 20);
    const token = h.token("publisher");
    let published = 0;
    let bytes = 0;
    for (let i = 1; i <= COUNT; i++) {
      const body = JSON.stringify({ event: "bulk", data: { i, body: randomBytes((MESSAGE * 3) / 4).toString("base64") } });
      const res = await request(h.http, { method: "POST", path: "/v1/rooms/slow-room/messages", headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body });
      if (res.status === 201) (published++, (bytes += body.length));
    }
    const read = await reader.take(COUNT, (f) => f.type === "message", 60_000).catch(() => reader.frames.filter((f) => f.type === "message"));
    clearInterval(pinger);
    await sleep(1000);
    peak = Math.max(peak, memory(h.pid) ?? 0);
    clearInterval(sampler);
    const result = { bound, stalled_member: stall, published, published_bytes: bytes, reader_received: read.length, memory: { before, peak } };
    if (stalled) result.kernel_queued = socketQueues(stalled.socket._socket.localPort);
    if (!stalled) return result;
    stalled.socket._socket.resume();
    // A socket the room closed from another socket's event: workerd ends its TCP connection
    // about 10 s later, and `ws` reports the close then.
    const closed = await Promise.race([stalled.closed, sleep(bound > 2 ** 26 ? 5000 : 20_000).then(() => null)]);
    const got = stalled.frames.filter((f) => f.type === "message");
    if (!closed) await until(() => stalled.frames.filter((f) => f.type === "message").length >= COUNT, 30_000, 50);
    stalled.terminate();
    await sleep(2000);
    return {
      ...result,
      stalled_closed: closed ? { code: closed.code, reason: closed.reason } : null,
      stalled_received_before_close: closed ? got.length : null,
      stalled_bytes_before_close: closed ? got.reduce((sum, f) => sum + JSON.stringify(f).length, 0) : null,
      stalled_received_after_resume: closed ? null : stalled.frames.filter((f) => f.type === "message").length,
      memory: { ...result.memory, after: memory(h.pid) },
    };
  } finally {
    await h.stop();
  }
}

async function slowSection() {
  log("- no stalled member (the baseline)");
  const baseline = await slowConsumer(4 * 2 ** 20, false);
  log(`  memory ${mb(baseline.memory.before)} → peak ${mb(baseline.memory.peak)}`);
  log("- a stalled member, default bound (4 MiB)");
  const bounded = await slowConsumer(4 * 2 ** 20);
  log(`  closed ${JSON.stringify(bounded.stalled_closed)} after ${mb(bounded.stalled_bytes_before_close)}; memory ${mb(bounded.memory.before)} → peak ${mb(bounded.memory.peak)}`);
  log("- a stalled member, the highest bound allowed (256 MiB): what the server holds without one");
  const unbounded = await slowConsumer(256 * 2 ** 20);
  log(`  memory ${mb(unbounded.memory.before)} → peak ${mb(unbounded.memory.peak)}`);
  check("slow", "the stalled member is closed with 4003 slow_consumer at the default bound", bounded.stalled_closed?.code === 4003 && bounded.stalled_closed?.reason === "slow_consumer", JSON.stringify(bounded.stalled_closed));
  // The room looks at its sockets each time an eighth of the bound went out (docs/reliability.md).
  check("slow", "it had been sent at most the bound, an eighth and one message", bounded.stalled_bytes_before_close <= bounded.bound + bounded.bound / 8 + 60_000, `${bounded.stalled_bytes_before_close} bytes`);
  for (const [name, run] of [["no stalled member", baseline], ["default bound", bounded], ["256 MiB bound", unbounded]]) {
    check("slow", `the reading member received every message (${name})`, run.reader_received === run.published, `${run.reader_received} of ${run.published}`);
  }
  check("slow", "with 256 MiB the stalled member is kept and, reading again, gets everything", unbounded.stalled_closed === null && unbounded.stalled_received_after_resume === unbounded.published, JSON.stringify(unbounded.stalled_closed ?? unbounded.stalled_received_after_resume));
  const held = (run) => run.memory.peak - run.memory.before - (baseline.memory.peak - baseline.memory.before);
  return { baseline, bounded, unbounded, held_for_stalled: { bounded: held(bounded), unbounded: held(unbounded) } };
}

// ---------------------------------------------------------------- 5. kill -9

const CRASH_VARS = { MAX_MESSAGES_PER_SECOND: "100000", MAX_MESSAGE_BURST: "100000" };

async function crashOnce(run) {
  const { dir, cleanup } = tempDir();
  const room = `crash-room`;
  let second;
  try {
    const first = await herald({ vars: CRASH_VARS, persist: dir });
    const publisher = await first.connect(room, "streamer");
    await publisher.take(2);
    const acked = new Map();
    publisher.socket.on("message", (data) => {
      const f = JSON.parse(data.toString());
      if (f.type === "ack") acked.set(f.id, f.seq);
    });
    let sent = 0;
    let crashed = false;
    const target = 300 + run * 150; // a different moment each run
    const stream = (async () => {
      while (!crashed && sent < 50_000) {
        sent++;
        publisher.send({ type: "publish", event: "n", data: sent, id: `k${sent}` });
        if (sent % 20 === 0) await sleep(2);
      }
    })();
    await until(() => acked.size >= target, 60_000, 1);
    crashed = true;
    await first.crash();
    await stream;
    const ackedAtCrash = new Map(acked);
    const started = Date.now();
    second = await herald({ vars: CRASH_VARS, persist: dir });
    const restartMs = Date.now() - started;
    const token = second.token("reader");
    const log1 = await history(second.http, room, token);
    const seqs = log1.map((m) => m.seq);
    const gaps = seqs.filter((s, i) => s !== i + 1).length;
    const duplicates = log1.length - new Set(log1.map((m) => m.id)).size;
    const byId = new Map(log1.map((m) => [m.id, m]));
    const lost = [...ackedAtCrash].filter(([id, seq]) => byId.get(id)?.seq !== seq).length;
    // Everything sent, again with the same keys, pipelined: each stored once.
    const again = await second.connect(room, "streamer");
    await again.take(2);
    const answers = new Map();
    again.socket.on("message", (data) => {
      const f = JSON.parse(data.toString());
      if (f.transaction !== undefined) answers.set(f.transaction, f);
    });
    for (let i = 1; i <= sent; i++) {
      again.send({ type: "publish", event: "n", data: i, id: `k${i}`, transaction: i });
      if (i % 100 === 0) await until(() => answers.size >= i - 100, ANSWER_MS, 1);
    }
    await until(() => answers.size >= sent, 30_000, 5);
    const duplicatesAcked = [...answers.values()].filter((f) => f.type === "ack" && f.duplicate).length;
    const final = await history(second.http, room, token);
    const storedOnce = final.length === sent && new Set(final.map((m) => m.id)).size === sent && final.every((m, i) => m.seq === i + 1);
    return { sent, acked: ackedAtCrash.size, stored: log1.length, stored_unacked: log1.length - ackedAtCrash.size, lost_acked: lost, gaps, duplicates, restart_ms: restartMs, republished: sent, republish_duplicates: duplicatesAcked, stored_once: storedOnce };
  } finally {
    await second?.stop();
    cleanup();
  }
}

async function crashSection() {
  const runs = [];
  for (let run = 0; run < 5; run++) {
    const r = await crashOnce(run);
    runs.push(r);
    log(`  run ${run + 1}: ${r.sent} sent, ${r.acked} acked, ${r.stored} stored (${r.stored_unacked} stored but not acked), ${r.lost_acked} acked lost, restart ${r.restart_ms} ms`);
  }
  check("crash", "every acked message kept at its seq, in every run", runs.every((r) => r.lost_acked === 0), JSON.stringify(runs.map((r) => r.lost_acked)));
  check("crash", "no gap and no duplicate in the log after the restart", runs.every((r) => r.gaps === 0 && r.duplicates === 0), JSON.stringify(runs.map((r) => [r.gaps, r.duplicates])));
  check("crash", "the crash came mid-stream (more sent than stored)", runs.every((r) => r.sent > r.stored), JSON.stringify(runs.map((r) => [r.sent, r.stored])));
  check("crash", "republishing everything with the same keys stores each message once", runs.every((r) => r.stored_once && r.republish_duplicates === r.stored), JSON.stringify(runs.map((r) => [r.stored_once, r.republish_duplicates, r.stored])));
  const restarts = runs.map((r) => r.restart_ms);
  return { runs, restart_ms: { median: median(restarts), min: Math.min(...restarts), max: Math.max(...restarts) } };
}

// ---------------------------------------------------------------- 6. deadlines after a restart

const DEADLINE_VARS = { FALLBACK_NORMAL_EMAIL_SECONDS: "4", FALLBACK_HIGH_SMS_SECONDS: "4", JWT_LEEWAY_SECONDS: "0" };

/**
 * Sets one deadline of each kind, kills workerd (kill -9) with all of them pending, starts it
 * again on the same storage — at once (`overdue: false`: they fall due after the restart) or
 * once all of them are past (`overdue: true`: they fell due while nothing ran) — and times
 * each one's firing against its due time.
 */
async function deadlinesOnce(overdue) {
  const { dir, cleanup } = tempDir();
  let second;
  try {
    const first = await herald({ vars: DEADLINE_VARS, persist: dir, recorder: true });
    const statuses = [];
    const api = (h, path, options) => h.api(path, options).then((res) => (statuses.push(res.status), res));
    await api(first, "/api/v1/users/mara/contacts", { method: "PUT", sub: "mara", body: { email: "mara@example.com" } });
    await api(first, "/api/v1/users/tim/contacts", { method: "PUT", sub: "tim", body: { phone: "+15550100" } });
    const sendAt = Date.now() + 6000;
    await api(first, "/api/v1/send", { method: "POST", sub: "ops", body: { msg: "later", uid: "sol", opts: { send_at: sendAt, urgency: "normal", channels: [] } } });
    await api(first, "/api/v1/send", { method: "POST", sub: "ops", body: { msg: "unread", uid: "mara", opts: { urgency: "normal" } } });
    await api(first, "/api/v1/send", { method: "POST", sub: "ops", body: { msg: "urgent", uid: "tim", opts: { urgency: "high" } } });
    const exp = Math.floor(Date.now() / 1000) + 6;
    const { socket } = first.io({ path: "/v1/socket.io/", auth: { token: first.token("eve", { exp }) }, reconnection: false, transports: ["websocket"] });
    await connected(socket);
    const welcome = await socket.timeout(ANSWER_MS).emitWithAck("join", { room: "expiry-room" });
    const inboxAt = async (h, uid) => (await api(h, "/api/v1/inbox", { sub: uid })).json?.notifications ?? [];
    const [email] = await inboxAt(first, "mara");
    const [sms] = await inboxAt(first, "tim");
    const due = { scheduled: sendAt, email: email.ts + 4000, sms: sms.ts + 4000, token: exp * 1000 };
    const nothingYet = first.recorder.requests().length === 0;
    await first.crash();
    const latest = Math.max(...Object.values(due));
    if (overdue) await sleep(Math.max(0, latest + 1000 - Date.now()));
    const started = Date.now();
    second = await herald({ vars: DEADLINE_VARS, persist: dir, recorder: true });
    const restartedAt = Date.now();
    const fired = {};
    const deadline = Date.now() + 30_000;
    while (Object.keys(fired).length < 4 && Date.now() < deadline) {
      const now = Date.now();
      if (!fired.email) {
        const e = second.recorder.emails()[0];
        if (e) fired.email = second.recorder.requests().find((r) => r.path.endsWith("/emails"))?.at ?? now;
      }
      if (!fired.sms) {
        const r = second.recorder.requests().find((q) => q.path.includes("/Messages.json"));
        if (r) fired.sms = r.at;
      }
      if (!fired.scheduled) {
        const [n] = await inboxAt(second, "sol");
        if (n?.msg === "later") fired.scheduled = n.ts;
      }
      if (!fired.token) {
        const res = await api(second, "/v1/rooms/expiry-room/presence");
        if (res.json?.members?.length === 0) fired.token = now;
      }
      await sleep(100);
    }
    const kinds = {
      scheduled: "a scheduled send (send_at)",
      email: "an email fallback deadline",
      sms: "an SMS fallback deadline",
      token: "a Socket.IO member's token expiry",
    };
    const report = Object.fromEntries(Object.entries(kinds).map(([k, what]) => [k, { what, fired: fired[k] !== undefined, after_due_ms: fired[k] !== undefined ? fired[k] - due[k] : null, after_restart_ms: fired[k] !== undefined ? fired[k] - started : null, due_before_restart: due[k] < started }]));
    const loadErrors = second.logs.filter((line) => /is not a room's|again in 30 s|does not know its name/.test(line));
    return { overdue, welcome: welcome.type, nothing_before_crash: nothingYet, restart_ms: restartedAt - started, kinds: report, five_xx: statuses.filter((s) => s >= 500).length, requests: statuses.length, load_errors: loadErrors };
  } finally {
    await second?.stop();
    cleanup();
  }
}

async function deadlinesSection() {
  const variants = [];
  for (const overdue of [false, true]) {
    log(`- ${overdue ? "due while workerd was down" : "due after the restart"}`);
    const v = await deadlinesOnce(overdue);
    variants.push(v);
    for (const [, k] of Object.entries(v.kinds)) log(`  ${k.what}: ${k.fired ? `fired ${k.after_due_ms} ms after its due time, ${k.after_restart_ms} ms after the new process was started` : "did not fire"}`);
    const label = overdue ? "due while down" : "due after the restart";
    check("deadlines", `${label}: nothing fired before the kill`, v.nothing_before_crash, "the recorder had requests before the crash");
    check("deadlines", `${label}: every kind fired after the restart`, Object.values(v.kinds).every((k) => k.fired), JSON.stringify(Object.entries(v.kinds).filter(([, k]) => !k.fired).map(([n]) => n)));
    check("deadlines", `${label}: no request saw a 5xx, no object failed to load`, v.five_xx === 0 && v.load_errors.length === 0, `${v.five_xx} 5xx; ${v.load_errors.slice(0, 2).join(" | ")}`);
  }
  return {
    variants,
    inbox_retry: "not provoked: an inbox sets its alarm 30 s on when a queue send or its storage fails, and neither failure can be caused in local workerd from outside",
  };
}

// ---------------------------------------------------------------- the block in docs/reliability.md

const n = (x) => (x == null ? "—" : Number(x).toLocaleString("en-US"));
const ms = (x) => (x == null ? "—" : x >= 10_000 ? `${(x / 1000).toFixed(1)} s` : `${n(Math.round(x))} ms`);
const sectionHeld = (section) => checks.filter((c) => c.section === section).every((c) => c.held);
const yes = (ok) => (ok ? "yes" : "**no**");

/** The answers of a surface, most frequent first, the first `count` of them. */
function topOutcomes(surface, count = 6) {
  const entries = Object.entries(surface.outcomes);
  const shown = entries.slice(0, count).map(([label, times]) => `${label.replace(/\|/g, "\\|")} ×${n(times)}`);
  const rest = entries.slice(count).reduce((sum, [, times]) => sum + times, 0);
  return `${shown.join("; ")}${rest ? `; ${entries.length - count} other answers ×${n(rest)}` : ""}`;
}

function render(r) {
  const e = r.environment;
  const lines = [];
  const failed = checks.filter((c) => !c.held);
  lines.push(
    `Measured ${e.date.slice(0, 16).replace("T", " ")} UTC at commit \`${e.commit?.slice(0, 12)}\`${e.dirty ? " (with uncommitted changes)" : ""}, ` +
      `on ${e.machine.cores} cores (${e.machine.cpu}) with ${e.machine.memory_gb} GB, workerd ${e.versions.workerd} (Miniflare ${e.versions.miniflare}, wrangler ${e.versions.wrangler}), ` +
      `in ${Math.floor(r.seconds / 60)} min ${r.seconds % 60} s; seed ${e.seed}. ` +
      (failed.length ? `**${failed.length} of ${checks.length} checks did not hold** ([below](#what-did-not-hold)).` : `All ${checks.length} checks held.`),
  );
  lines.push("");

  const m = r.malformed;
  if (m) {
    const total = m.surfaces.reduce((sum, s) => sum + s.cases, 0);
    lines.push("### Malformed input", "");
    lines.push(
      `${n(total)} inputs generated from the seed, nearly all broken (a few well-formed ones among them as controls), each followed by a probe the surface answers, so every answer is the input's own. ` +
        "Held means: no 5xx, no `internal`, every code one [errors.md](errors.md) lists (with its status over HTTP), " +
        "every input answered within 10 s, and nothing taken that must be refused.",
      "",
    );
    lines.push("| surface | cases | answers, most frequent first | held |", "|---|---:|---|---|");
    for (const s of m.surfaces) lines.push(`| ${s.surface} | ${n(s.cases)} | ${topOutcomes(s)} | ${yes(Object.keys(s.violations).length === 0)} |`);
    lines.push("");
    const rooms = [];
    if (m.native_room) rooms.push(`the JSON protocol's room holds exactly the ${n(m.native_room.acked)} acked messages, seqs 1..${n(m.native_room.stored)}, each stored as sent`);
    if (m.tndata_room) rooms.push(`the tndata conversation exactly the ${n(m.tndata_room.echoed)} messages echoed, in order`);
    if (m.rest_room) rooms.push(`the REST room exactly the ${n(m.rest_room.acked)} publishes answered 201 / 200`);
    if (rooms.length) lines.push(`After the abuse a good publish is taken on each, and ${rooms.join("; ")}; no gap anywhere.`, "");
    // workerd decodes a text frame that is not UTF-8 with U+FFFD in place of the bad bytes before
    // the worker sees it (RFC 6455 §8.1 would fail the connection), so Herald cannot refuse it.
    const notUtf8 = m.surfaces.filter((s) => s.by_kind?.["garbage-bytes"]).map((s) => {
      const outcomes = Object.entries(s.by_kind["garbage-bytes"]);
      const taken = outcomes.filter(([label]) => !label.startsWith("error")).reduce((sum, [, c]) => sum + c, 0);
      const total = outcomes.reduce((sum, [, c]) => sum + c, 0);
      return `${s.surface.split(" (")[0]}: ${taken} of ${total} taken`;
    });
    if (notUtf8.length) {
      lines.push(
        "Text frames whose bytes are not UTF-8 reach Herald already decoded by workerd, with U+FFFD in place of the bad bytes (RFC 6455 would fail the connection): " +
          `those that were JSON after that were taken with U+FFFD in them, the others refused \`malformed_json\` (${notUtf8.join("; ")}). REST bodies that are not UTF-8 are refused.`,
        "",
      );
    }
    if (m.tokens) {
      lines.push(
        `Tokens: ${m.tokens.distinct} distinct (forged and random signatures, \`alg: none\` and other algorithms, other keys, HS256 keyed with the ES256 public key, unknown \`kid\`, ` +
          `expired, \`nbf\` ahead, lifetimes past a day, \`iat\` ahead, bad \`sub\` / \`name\` / \`avatar\`, wrong \`iss\` / \`aud\` with both configured, \`crit\`, garbage) on ${m.tokens.surfaces} surfaces ` +
          "(REST header and query, the websocket upgrade's header and subprotocol, tndata, and the native, alert, workspace and 3drepo Socket.IO routes): " +
          `every bad one refused${m.tokens.wrong_code.length ? "" : " with the code its defect names"}, before any upgrade where there is one, and the good ones (HS256, ES256, EdDSA) taken everywhere.`,
        "",
      );
    }
    if (m.origins) lines.push(`Origins: ${m.origins.distinct} origins against the 3drepo cookie route (websocket and polling) and a CORS preflight: every foreign one, \`null\` included, refused with \`origin_forbidden\`; the allowed ones taken.`, "");
    const left = [...(m.tokens?.left_to_herald ?? []), ...(m.origins?.left_to_herald ?? [])];
    if (left.length) {
      const grouped = new Map();
      for (const x of left) {
        const key = x.token ? `token "${x.token}"` : `Origin \`${x.origin || "(empty)"}\``;
        grouped.set(key, [...new Set([...(grouped.get(key) ?? []), x.answer])]);
      }
      lines.push(`Left to Herald by the rules (reported, not checked): ${[...grouped].map(([k, v]) => `${k} → ${v.join(" / ")}`).join("; ")}.`, "");
    }

  }
  if (r.flood) {
    const f = r.flood;
    lines.push("### A publish flood", "");
    lines.push(
      `${n(f.sent)} publishes on one connection at the default limits (50 a second, bursts of 100), sent in ${ms(f.send_ms)}: ` +
        `${n(f.acked)} acked, ${n(f.rate_limited)} refused \`rate_limited\` with \`retry_after_ms\`, ${n(f.other_errors)} other refusals, ${n(f.unanswered)} unanswered. ` +
        `${f.retried_after_wait} refused ones sent again after the wait were taken. The room holds exactly the ${n(f.room.acked)} acked, seqs 1..${n(f.room.stored)}. Held: ${yes(sectionHeld("flood"))}.`,
      "",
    );
  }

  if (r.fuzz) lines.push("### Fuzzing", "", r.fuzz.line, "");

  if (r.caps) {
    const c = r.caps;
    lines.push("### Connection caps", "");
    if (c.harness) lines.push(`workerd alone (the end-to-end harness): ${n(c.harness.connections)} websockets took its open files from ${n(c.harness.fds_before)} to ${n(c.harness.fds_after)}, ${c.harness.fds_per_connection} per connection.`, "");
    if (c.dev) {
      const d = c.dev;
      lines.push(
        `\`scripts/dev.sh\` (wrangler dev) started under a limit of ${n(d.open_files_allowed)} open files, which made \`MAX_CONNECTIONS\` ${n(d.max_connections)}, and with ` +
          "`MAX_CONNECTIONS_PER_ADDRESS` 200 so that each cap is met in turn. Three members in one room, from three addresses, then one client opening connections in a loop:",
        "",
      );
      lines.push("| loop | accepted | then | per second |", "|---|---:|---|---:|");
      for (const x of d.rounds) lines.push(`| ${x.round} | ${n(x.accepted)} | ${x.refusal ? `\`${x.refusal.code}\` scope \`${x.refusal.details?.scope}\`, limit ${x.refusal.details?.limit} (${x.refusal.close ? `close ${x.refusal.close}` : x.refusal.status})` : "never refused"} | ${x.per_second ?? "—"} |`);
      lines.push("");
      const procs = Object.keys(d.peak_fds);
      lines.push(
        `At the peak (${n(d.open + d.members)} connections) the two workerd processes held ${procs.map((p) => `${n(d.peak_fds[p])}`).join(" and ")} open files ` +
          `(${procs.map((p) => d.fds_per_connection[p]).join(" and ")} per connection), each under its limit of ${n(d.open_files_allowed)}; ` +
          `ping answered ${d.ping}, a REST publish ${d.publish}, and ${d.members_received} of ${d.members} members were still connected and received it. Held: ${yes(sectionHeld("caps"))}.`,
        "",
      );
    }
  }

  if (r.slow) {
    const s = r.slow;
    lines.push("### Slow consumers", "");
    lines.push(
      `${mb(s.bounded.published_bytes)} published over REST (${s.bounded.published} random messages of 50 KB) into a room with one member reading (and pinging) and one that stopped reading (its TCP socket paused); ` +
        "memory is the workerd process's PSS, and the kernel's queue is what its socket buffers held for the stalled member when the publishing ended.",
      "",
    );
    lines.push("| run | the stalled member | workerd before → peak → after | peak over the baseline's | kernel queue | the reader got |", "|---|---|---|---:|---:|---:|");
    const row = (name, x, extra) =>
      `| ${name} | ${x.stalled_member ? (x.stalled_closed ? `closed ${x.stalled_closed.code} \`${x.stalled_closed.reason}\` after ${mb(x.stalled_bytes_before_close)} (${x.stalled_received_before_close} messages)` : `kept; got all ${x.stalled_received_after_resume} once reading again`) : "none"} | ${mb(x.memory.before)} → ${mb(x.memory.peak)}${x.memory.after ? ` → ${mb(x.memory.after)}` : ""} | ${extra} | ${x.kernel_queued ? mb(x.kernel_queued.server_send_queue + x.kernel_queued.client_receive_queue) : "—"} | ${x.reader_received} of ${x.published} |`;
    lines.push(row("baseline", s.baseline, "—"));
    lines.push(row("default bound, 4 MiB", s.bounded, mb(s.held_for_stalled.bounded)));
    lines.push(row("bound 256 MiB (none, in effect)", s.unbounded, mb(s.held_for_stalled.unbounded)));
    lines.push(
      "",
      "Each run is a fresh workerd, whose memory grows by about 60 MiB while it carries the 20 MB to whoever reads them and differs by a few MiB from run " +
        "to run, so the column over the baseline is rough. What the bound changes is the stalled member's fate: closed once sent 4 MiB (its kernel queue " +
        "freed with its connection), or kept with everything queued for it in workerd and the kernel. After: 2 s after the stalled member went away " +
        `(workerd keeps the memory it grew). Held: ${yes(sectionHeld("slow"))}.`,
      "",
    );
  }

  if (r.crash) {
    const c = r.crash;
    lines.push("### kill -9 mid-stream", "");
    lines.push(`A client pipelines publishes with keys; workerd is killed with SIGKILL once a few hundred are acked, then started again on the same storage (${c.runs.length} runs):`, "");
    lines.push("| run | sent | acked | stored | stored, not acked | acked and lost | gaps / duplicates | restart |", "|---:|---:|---:|---:|---:|---:|---|---:|");
    c.runs.forEach((x, i) => lines.push(`| ${i + 1} | ${n(x.sent)} | ${n(x.acked)} | ${n(x.stored)} | ${n(x.stored_unacked)} | ${x.lost_acked} | ${x.gaps} / ${x.duplicates} | ${ms(x.restart_ms)} |`));
    lines.push(
      "",
      `Republishing everything sent with the same keys stored each message once in every run (the stored ones answered \`duplicate\`). Restart: median ${ms(c.restart_ms.median)} (${ms(c.restart_ms.min)}–${ms(c.restart_ms.max)}), from launching workerd to its first answer. Held: ${yes(sectionHeld("crash"))}.`,
      "",
    );
  }

  if (r.deadlines) {
    const d = r.deadlines;
    lines.push("### Deadlines after a restart", "");
    lines.push(
      "One of each kind pending, workerd killed with SIGKILL, then started again on the same storage: at once (the deadlines fall due after the restart), " +
        "and again once all of them had passed while nothing ran. Times are from each deadline's due time, and from launching the new process: " +
        "the scheduled send's by the notification's `ts`, the email's and SMS's by the recorder's arrival time, the token's by polling the room's presence every 100 ms.",
      "",
    );
    const [after, down] = d.variants;
    lines.push("| deadline | due after the restart: fired | due while down: fired |", "|---|---|---|");
    for (const k of Object.keys(after.kinds)) {
      const a = after.kinds[k];
      const b = down.kinds[k];
      const cell = (x) => (x.fired ? `${x.after_due_ms < 0 ? `${ms(-x.after_due_ms)} before due` : `${ms(x.after_due_ms)} after due`}, ${ms(x.after_restart_ms)} after the launch` : "**did not fire**");
      lines.push(`| ${a.what} | ${cell(a)} | ${cell(b)} |`);
    }
    lines.push("", `No request saw a 5xx (${n(after.requests + down.requests)} requests) and no object failed to load. An inbox's own retry (its alarm 30 s on): ${d.inbox_retry}. Held: ${yes(sectionHeld("deadlines"))}.`, "");
  }

  lines.push("### What did not hold", "");
  if (failed.length === 0) lines.push("Nothing.");
  for (const c of failed) {
    if (!c.evidence) {
      lines.push(`- ${c.section}: ${c.what}. Seen: ${String(c.detail).replace(/\n/g, " ").slice(0, 600)}`);
      continue;
    }
    lines.push(`- ${c.what.split(":")[0]}:`);
    for (const x of c.evidence) lines.push(`  - ${x.rule}, ${n(x.count)} times; for example \`${JSON.stringify(x.input)}\` answered “${x.answer}”`);
  }
  return lines.join("\n");
}

/** Writes `block` between the markers of docs/reliability.md, nothing else changed. */
function rewriteDoc(block) {
  const doc = readFileSync(DOC, "utf8");
  const begin = doc.indexOf(BEGIN);
  const end = doc.indexOf(END);
  if (begin < 0 || end < begin) throw new Error(`docs/reliability.md has no ${BEGIN} … ${END} block`);
  writeFileSync(DOC, `${doc.slice(0, begin + BEGIN.length)}\n${block}\n${doc.slice(end)}`);
}

// ---------------------------------------------------------------- main

const MEASUREMENTS = {
  malformed,
  flood: floodSection,
  fuzz: fuzzSection,
  caps: capsSection,
  slow: slowSection,
  crash: crashSection,
  deadlines: deadlinesSection,
};

// --from FILE: the block written again from saved results (after a change to how it reads).
if (option("from")) {
  const saved = JSON.parse(readFileSync(option("from"), "utf8"));
  checks.push(...saved.checks);
  rewriteDoc(render(saved));
  console.log(`wrote the figures of ${option("from")} in ${DOC}`);
  process.exit(0);
}

const results = { environment: environment() };
console.log(`reliability: seed ${seed} (repeat with --seed ${seed})`);
const began = Date.now();
for (const name of only) {
  console.log(`\n== ${name}`);
  const started = Date.now();
  try {
    results[name] = { ...(await MEASUREMENTS[name]()), seconds: Math.round((Date.now() - started) / 1000) };
    console.log(`   (${results[name].seconds} s)`);
  } catch (error) {
    // The others still run, and the block says this one did not finish.
    check(name, "the measurement ran to its end", false, String(error.stack ?? error).split("\n").slice(0, 3).join(" "));
  }
}
results.seconds = Math.round((Date.now() - began) / 1000);
results.checks = checks;
if (write) {
  writeFileSync(JSON_OUT, `${JSON.stringify(results, null, 2)}\n`);
  rewriteDoc(render(results));
  console.log(`\nwrote ${JSON_OUT} and the figures in ${DOC}`);
} else if (process.env.RELIABILITY_JSON) {
  writeFileSync(process.env.RELIABILITY_JSON, `${JSON.stringify(results, null, 2)}\n`);
}
const failed = checks.filter((c) => !c.held);
console.log(`\n${checks.length - failed.length} of ${checks.length} checks held (${results.seconds} s; seed ${seed})`);
for (const c of failed) console.log(`  did not hold: ${c.section}: ${c.what}: ${c.detail}`);
process.exit(failed.length ? 1 : 0);
