#!/usr/bin/env node
// Smoke check of the systems under test (seconds, no load generator): for each system, start it
// (bench/systems.mjs), connect 10 subscribers and 1 publisher to a fresh room, publish 50
// messages `{seq, ts, body}` (100-byte body), and check that every subscriber got seqs 1..50,
// in order, once each — the proof that each system speaks the common protocol. Exit 1 if any
// system fails.
//
//   node bench/smoke.mjs                                # every system
//   node bench/smoke.mjs --systems js-room,js-limit
import WebSocket from "ws";
import { io } from "socket.io-client";
import { SYSTEMS, start } from "./systems.mjs";

const SUBSCRIBERS = 10;
const MESSAGES = 50;
const INTERVAL_MS = 5;
const WAIT_MS = 10_000;
const BODY = "x".repeat(100);

const now = () => performance.now();
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function within(promise, what, ms = WAIT_MS) {
  let timer;
  const timeout = new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out: ${what}`)), ms)));
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * A client of `sys` in `room`, connected (welcomed, or joined) when this resolves. `received`
 * collects each delivered payload `{seq, ts}` with the room's seq (`roomSeq`) where there is one.
 */
async function connect(sys, room, sub) {
  const received = [];
  const acks = [];
  if (sys.protocol === "socketio") {
    const socket = io(sys.http, { transports: ["websocket"], forceNew: true, reconnection: false });
    await within(new Promise((resolve, reject) => (socket.once("connect", resolve), socket.once("connect_error", reject))), `${sub} connect`);
    socket.on("message", (payload) => received.push({ seq: payload?.seq, ts: payload?.ts, at: now() }));
    const answer = await socket.timeout(WAIT_MS).emitWithAck("join", room);
    if (answer?.type !== "welcome") throw new Error(`join answered ${JSON.stringify(answer)}`);
    return {
      received,
      acks,
      publish: (data) => socket.emit("publish", data),
      close: () => socket.close(),
    };
  }
  const ws = new WebSocket(sys.wsUrl(room, sub));
  // The limit variant echoes the publish frame itself; the others send a message frame.
  const deliveredType = sys.protocol === "limit" ? "publish" : "message";
  await within(
    new Promise((resolve, reject) => {
      ws.once("error", reject);
      ws.once("unexpected-response", (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)));
      ws.on("message", (raw) => {
        const at = now();
        const frame = JSON.parse(raw.toString());
        if (frame.type === "welcome") resolve();
        else if (frame.type === deliveredType) received.push({ seq: frame.data?.seq, ts: frame.data?.ts, roomSeq: frame.seq, at });
        else if (frame.type === "ack") acks.push(frame);
        else if (frame.type === "error") reject(new Error(`error frame: ${JSON.stringify(frame)}`));
      });
    }),
    `${sub} welcome`,
  );
  return {
    received,
    acks,
    publish: (data, transaction) => ws.send(JSON.stringify({ type: "publish", event: "bench", data, transaction })),
    close: () => ws.terminate(),
  };
}

/** What is wrong with one subscriber's deliveries, or null. */
function check(received, withRoomSeq) {
  const seqs = received.map((r) => r.seq);
  const want = Array.from({ length: MESSAGES }, (_, i) => i + 1);
  if (seqs.join() !== want.join()) return `data.seq ${JSON.stringify(seqs).slice(0, 120)}`;
  if (withRoomSeq) {
    const roomSeqs = received.map((r) => r.roomSeq);
    if (roomSeqs.join() !== want.join()) return `room seq ${JSON.stringify(roomSeqs).slice(0, 120)}`;
  }
  return null;
}

async function smoke(name) {
  const result = { system: name, ok: false };
  let sys;
  const clients = [];
  try {
    sys = await start(name);
    result.startMs = sys.startMs;
    const room = `smoke-${Date.now()}`;
    for (let i = 0; i < SUBSCRIBERS; i++) clients.push(await connect(sys, room, `sub-${i}`));
    const publisher = await connect(sys, room, "publisher");
    clients.push(publisher);
    const t0 = now();
    for (let seq = 1; seq <= MESSAGES; seq++) {
      publisher.publish({ seq, ts: Date.now(), body: BODY }, seq);
      await sleep(INTERVAL_MS);
    }
    const subscribers = clients.slice(0, SUBSCRIBERS);
    const deadline = now() + WAIT_MS;
    while (subscribers.some((c) => c.received.length < MESSAGES) && now() < deadline) await sleep(20);
    await sleep(100); // anything trailing (a duplicate) shows up
    result.ms = Math.round(now() - t0);
    result.got = subscribers.reduce((n, c) => n + c.received.length, 0);
    result.expected = SUBSCRIBERS * MESSAGES;
    const withRoomSeq = sys.protocol === "herald";
    const problems = subscribers.map((c, i) => [i, check(c.received, withRoomSeq)]).filter(([, p]) => p);
    if (withRoomSeq && publisher.acks.length !== MESSAGES) problems.push(["publisher", `${publisher.acks.length} acks`]);
    // latency from the publisher's send (Date.now() in the payload) to receipt, ms
    const lat = subscribers.flatMap((c) => c.received.map((r) => r.at + performance.timeOrigin - r.ts)).sort((a, b) => a - b);
    result.p50 = lat.length ? Math.round(lat[Math.floor(lat.length / 2)]) : null;
    result.max = lat.length ? Math.round(lat[lat.length - 1]) : null;
    result.ok = problems.length === 0;
    if (!result.ok) result.problem = problems.slice(0, 3).map(([who, p]) => `subscriber ${who}: ${p}`).join("; ");
  } catch (e) {
    result.problem = e.message;
    if (sys) result.logs = sys.logs().slice(-15);
  } finally {
    for (const c of clients) c.close();
    await sys?.stop();
  }
  return result;
}

const args = process.argv.slice(2);
const at = args.indexOf("--systems");
const names = at >= 0 ? args[at + 1].split(",") : Object.keys(SYSTEMS);
for (const n of names) if (!SYSTEMS[n]) (console.error(`unknown system ${n}; one of ${Object.keys(SYSTEMS).join(", ")}`), process.exit(2));

console.log(`smoke: ${SUBSCRIBERS} subscribers + 1 publisher, ${MESSAGES} messages of {seq, ts, body(100 B)}, every ${INTERVAL_MS} ms`);
console.log(`${"system".padEnd(17)} ${"result".padEnd(6)} ${"start ms".padStart(8)} ${"got".padStart(9)} ${"p50 ms".padStart(6)} ${"max ms".padStart(6)}`);
let failed = 0;
for (const name of names) {
  const r = await smoke(name);
  if (!r.ok) failed++;
  console.log(
    `${name.padEnd(17)} ${(r.ok ? "ok" : "FAIL").padEnd(6)} ${String(r.startMs ?? "-").padStart(8)} ${`${r.got ?? "-"}/${r.expected ?? "-"}`.padStart(9)} ${String(r.p50 ?? "-").padStart(6)} ${String(r.max ?? "-").padStart(6)}` +
      (r.problem ? `  ${r.problem}` : ""),
  );
  if (r.logs?.length) console.log(r.logs.map((l) => `    | ${l}`).join("\n"));
}
process.exit(failed ? 1 : 0);
