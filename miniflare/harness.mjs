// End-to-end harness: the built worker (build/) under workerd via Miniflare, configured from
// the project's own wrangler.toml, plus real clients (`ws`, fetch) and token minting.
import { Miniflare, Log, LogLevel } from "miniflare";
import { parse as parseToml } from "smol-toml";
import { readFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import WebSocket from "ws";
import { io as ioClient } from "socket.io-client";
import { connect as tcpConnect } from "node:net";
import { execFileSync } from "node:child_process";
import { readFileSync as readProc } from "node:fs";
import { randomBytes } from "node:crypto";
import { mint } from "../scripts/token.mjs";
import { startRecorder, pushMaterial } from "../scripts/recorder.mjs";
import { generateDevKeys } from "../scripts/dev-keys.mjs";

export const root = join(dirname(fileURLToPath(import.meta.url)), "..");
export const SECRET = "e2e-test-secret-that-is-at-least-32-bytes";

/** How long a test's queue consumer waits for a batch to fill, in seconds: not at all, nearly. */
const TEST_BATCH_TIMEOUT = 0.05;

/**
 * The variables the delivery Worker reads (delivery/wrangler.toml): the exchange's. Both Workers
 * are given the same values, as docs/configuration.md asks of a deployment.
 */
export const EXCHANGE_VAR = /^(FALLBACK_|EMAIL_|SMS_|TWILIO_|PUSH_|VAPID_|APNS_|FCM_|WEB_PUSH_HOSTS$)/;

/** A wrangler.toml of this repository (`file`, relative to the root), parsed. */
export function readWrangler(file) {
  return parseToml(readFileSync(join(root, file), "utf8"));
}

/**
 * Miniflare options equivalent to what `wrangler dev` builds from the two wrangler.toml files
 * (`make dev` runs both): the `herald` Worker (the entry: requests, its Durable Objects, the
 * fan-out queue) and the `herald-delivery` Worker (delivery/: the fallback queues, which send
 * email, SMS and push). `vars` override both files' [vars] (the delivery Worker is given the
 * exchange's, EXCHANGE_VAR); `sendEmail` adds the delivery Worker's `send_email` binding;
 * `delivery: false` leaves the delivery Worker out (the benchmark, whose rooms send no
 * notification, measures the `herald` Worker alone, as `wrangler dev` on the root file runs it).
 */
export function optionsFromWrangler(vars, persistDir, sendEmail, { delivery = true } = {}) {
  const config = readWrangler("wrangler.toml");
  const sqliteClasses = new Set((config.migrations ?? []).flatMap((m) => m.new_sqlite_classes ?? []));
  const herald = workerFromWrangler(config, "", { ...config.vars, JWT_SECRET: SECRET, ...vars }, sqliteClasses);
  const workers = [herald];
  if (delivery) {
    const own = readWrangler("delivery/wrangler.toml");
    const exchange = Object.fromEntries(Object.entries(vars ?? {}).filter(([name]) => EXCHANGE_VAR.test(name)));
    const worker = workerFromWrangler(own, "delivery", { ...own.vars, ...exchange }, sqliteClasses);
    const sendEmails = [...(own.send_email ?? []), ...(sendEmail ? [{ name: "EMAIL" }] : [])];
    workers.push({ ...worker, ...(sendEmails.length > 0 ? { email: { send_email: sendEmails.map(({ name }) => ({ name })) } } : {}) });
  }
  return { host: "127.0.0.1", port: 0, durableObjectsPersist: persistDir ?? false, workers };
}

/** One Worker's Miniflare options from its wrangler.toml (`config`, in directory `dir`). */
function workerFromWrangler(config, dir, bindings, sqliteClasses) {
  const durableObjects = Object.fromEntries(
    (config.durable_objects?.bindings ?? []).map((b) => [
      b.name,
      { className: b.class_name, useSQLite: sqliteClasses.has(b.class_name), ...(b.script_name ? { scriptName: b.script_name } : {}) },
    ]),
  );
  const main = join(root, dir, config.main);
  return {
    name: config.name,
    scriptPath: main,
    modules: true,
    modulesRoot: dirname(main),
    modulesRules: [{ type: "CompiledWasm", include: ["**/*.wasm"] }],
    compatibilityDate: config.compatibility_date,
    compatibilityFlags: config.compatibility_flags ?? [],
    durableObjects,
    bindings,
    ...queuesFromWrangler(config, bindings),
  };
}

/**
 * wrangler.toml's queues as Miniflare's options. Two differences, both for tests: batches do
 * not wait to fill, and the fallback consumer's retries follow FALLBACK_MAX_ATTEMPTS when a
 * test sets it (a deployment keeps `max_retries = FALLBACK_MAX_ATTEMPTS - 1` by hand).
 */
function queuesFromWrangler(config, bindings) {
  const queues = config.queues ?? {};
  const queueProducers = Object.fromEntries((queues.producers ?? []).map((p) => [p.binding, { queueName: p.queue }]));
  const queueConsumers = Object.fromEntries(
    (queues.consumers ?? []).map((c) => {
      const fallback = c.queue === "herald-fallback" && bindings.FALLBACK_MAX_ATTEMPTS !== undefined;
      const consumer = {
        maxBatchSize: c.max_batch_size,
        maxBatchTimeout: Math.min(c.max_batch_timeout ?? 1, TEST_BATCH_TIMEOUT),
        maxRetries: fallback ? Number(bindings.FALLBACK_MAX_ATTEMPTS) - 1 : c.max_retries,
        ...(c.dead_letter_queue ? { deadLetterQueue: c.dead_letter_queue } : {}),
        ...(c.retry_delay !== undefined ? { retryDelay: c.retry_delay } : {}),
      };
      return [c.queue, consumer];
    }),
  );
  return { queueProducers, queueConsumers };
}

/** The provider credentials the harness gives a Herald that sends to its recorder. */
export const PROVIDER_KEYS = {
  EMAIL_API_KEY: "re_test_key",
  TWILIO_ACCOUNT_SID: "AC0123456789abcdef0123456789abcdef",
  TWILIO_AUTH_TOKEN: "test-twilio-token",
};

/**
 * The push variables of a Herald that sends to `recorder`: fresh throwaway `keys`
 * (scripts/dev-keys.mjs), the three providers' URLs at the recorder, and loopback http allowed
 * for the recorder's Web Push endpoints.
 */
function pushVars(keys, recorder) {
  return { ...keys, APNS_URL: recorder.url, FCM_URL: recorder.url, FCM_TOKEN_URL: `${recorder.url}/token`, PUSH_ALLOW_LOOPBACK_HTTP: "true" };
}

/**
 * Starts Herald. `vars` override wrangler.toml's [vars]; `persist` is a directory for Durable
 * Object storage that outlives this instance (for restart tests). `recorder: true` starts a
 * provider recorder (scripts/recorder.mjs) as `herald.recorder`, with the email and SMS APIs
 * pointed at it and PROVIDER_KEYS as credentials; `push: true` (with `recorder: true`) also
 * gives Herald fresh push keys (`herald.pushKeys`, Herald's variables: VAPID_PUBLIC_KEY,
 * APNS_KEY, FCM_SERVICE_ACCOUNT…) and points APNs, FCM and its token endpoint at the recorder,
 * which verifies with the same keys (`push: herald.pushKeys` starts another with the keys of a
 * first, as a restart keeps them); `herald.recorder.subscription()` makes a Web Push
 * subscription. `sendEmail: true` adds the `send_email` binding `EMAIL` (Miniflare's: it
 * checks each message and stores it in a file it logs).
 */
export async function startHerald({ vars = {}, persist, recorder: withRecorder = false, push = false, sendEmail = false } = {}) {
  const logs = [];
  const platformLogs = [];
  assert(!push || withRecorder, "startHerald({ push: true }) needs recorder: true: the pushes go to the recorder");
  const pushKeys = push === true ? generateDevKeys() : push || undefined;
  const recorder = withRecorder
    ? await startRecorder({ quiet: process.env.HERALD_E2E_LOGS !== "1", ...(pushKeys ? { push: pushMaterial(pushKeys) } : {}) })
    : undefined;
  const providerVars = recorder
    ? { EMAIL_API_URL: recorder.url, SMS_API_URL: recorder.url, ...PROVIDER_KEYS, ...(pushKeys ? pushVars(pushKeys, recorder) : {}) }
    : {};
  const mf = new Miniflare({
    ...optionsFromWrangler({ ...providerVars, ...vars }, persist, sendEmail),
    handleRuntimeStdio: collect(logs),
    log: new CollectingLog(platformLogs),
  });
  let url;
  try {
    url = await mf.ready;
  } catch (e) {
    await mf.dispose().catch(() => {});
    await recorder?.stop();
    throw e;
  }
  const http = url.href.replace(/\/$/, "");
  const clients = new Set();
  const sockets = new Set();
  return {
    http,
    /** Lines the runtime printed (console.log of the worker and its objects). */
    logs,
    /** What Miniflare itself logged: queue batches, the send_email binding's messages. */
    platformLogs,
    /** The provider recorder, with `recorder: true`. */
    recorder,
    /** The push keys Herald was given (its variables), with `push: true`. */
    pushKeys,
    /** A producer of the queue bound as `binding` (FALLBACK, FANOUT), as the worker has it. */
    queue: (binding) => mf.getQueueProducer(binding),
    ws: http.replace(/^http/, "ws"),
    /** A token for `sub` (claims merged in). */
    token: (sub, claims = {}) => mint({ sub, name: `${sub} name`, ...claims }, vars.JWT_SECRET ?? SECRET),
    /** Opens a websocket to room `room` as `sub`; resolves once it is open. */
    async connect(room, sub, { since, claims, token, protocols, headers } = {}) {
      const query = since === undefined ? "" : `?since=${since}`;
      const auth = token ?? this.token(sub, claims);
      const client = await Client.open(`${this.ws}/v1/rooms/${room}/ws${query}`, protocols, {
        headers: protocols ? headers : { authorization: `Bearer ${auth}`, ...headers },
      });
      clients.add(client);
      return client;
    },
    /**
     * A socket.io-client socket to namespace `nsp` of this Herald, with `options` (the path of
     * the dialect's route, credentials…); closed by `stop()`. With its log of events.
     */
    io(options = {}, nsp = "") {
      const socket = ioClient(`${http}${nsp}`, options);
      sockets.add(socket);
      return { socket, events: new Events(socket) };
    },
    /** fetch() against Herald with a bearer token for `sub` unless `token: null`. */
    async api(path, { method = "GET", sub = "api-user", token, body, headers = {} } = {}) {
      const auth = token === null ? {} : { authorization: `Bearer ${token ?? this.token(sub)}` };
      const response = await fetch(`${http}${path}`, {
        method,
        headers: { ...auth, ...(body !== undefined ? { "content-type": "application/json" } : {}), ...headers },
        body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
      });
      const text = await response.text();
      let json;
      try {
        json = JSON.parse(text);
      } catch {
        json = undefined;
      }
      return { status: response.status, headers: response.headers, text, json };
    },
    async stop() {
      for (const c of clients) c.terminate();
      for (const s of sockets) s.close();
      await mf.dispose();
      await recorder?.stop();
    },
    /**
     * Kills the workerd process with SIGKILL — no shutdown, nothing flushed — as a crash or
     * `kill -9` would, then lets Miniflare go. Its persisted storage stays for another start.
     */
    async crash() {
      const pids = workerdChildren();
      assert(pids.length > 0, "no workerd process to kill");
      for (const pid of pids) process.kill(pid, "SIGKILL");
      for (const c of clients) c.terminate();
      for (const s of sockets) s.close();
      await mf.dispose().catch(() => {});
      await recorder?.stop();
    },
  };
}

function assert(condition, message) {
  if (!condition) throw new Error(message);
}

/** The workerd processes this test process started (Miniflare runs one per instance). */
function workerdChildren() {
  const out = execFileSync("ps", ["-o", "pid=", "--ppid", String(process.pid)], { encoding: "utf8" });
  return out
    .split(/\s+/)
    .filter(Boolean)
    .map(Number)
    .filter((pid) => {
      try {
        return readProc(`/proc/${pid}/comm`, "utf8").trim() === "workerd";
      } catch {
        return false;
      }
    });
}

/** Keeps Miniflare's own messages (info and above) in `lines`; prints them when HERALD_E2E_LOGS=1. */
class CollectingLog extends Log {
  constructor(lines) {
    super(LogLevel.INFO);
    this.lines = lines;
  }

  log(message) {
    this.lines.push(message);
    if (process.env.HERALD_E2E_LOGS === "1") console.error(`[miniflare] ${message}`);
  }
}

/** Keeps the runtime's output lines in `logs`; echoes them when HERALD_E2E_LOGS=1. */
function collect(logs) {
  return (...streams) => {
    for (const stream of streams) {
      let rest = "";
      stream.on("data", (chunk) => {
        const lines = (rest + chunk).split("\n");
        rest = lines.pop();
        logs.push(...lines);
        if (process.env.HERALD_E2E_LOGS === "1") for (const line of lines) console.error(`[workerd] ${line}`);
      });
    }
  };
}

/** A temporary directory removed by `cleanup()`. */
export function tempDir() {
  const dir = mkdtempSync(join(tmpdir(), "herald-e2e-"));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export const WAIT_MS = 5000;

/** Resolves once a socket.io-client `socket` is connected; rejects with the connect_error. */
export function connected(socket) {
  return within(
    new Promise((resolve, reject) => {
      if (socket.connected) return resolve();
      socket.once("connect", resolve);
      socket.once("connect_error", reject);
    }),
    "connect",
  );
}

/** `promise`, or a failure naming `what` after `ms`. */
export function within(promise, what, ms = WAIT_MS) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out: ${what}`)), ms);
    timer.unref(); // a wait nobody finished must not keep the test process alive
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** The arguments of the next `event` on `emitter` (a socket.io-client socket or manager). */
export const next = (emitter, event, ms) =>
  within(new Promise((resolve) => emitter.once(event, (...args) => resolve(args))), event, ms);

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `check()` until it returns something truthy, and returns that; fails naming `what` after `ms`. */
export async function until(what, check, ms = 10_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const found = await check();
    if (found) return found;
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await sleep(100);
  }
}

/**
 * Every event a Socket.IO socket receives, in arrival order, as `{event, frame, args}` (`frame`
 * is the first argument: the native dialect and most seed dialects send one); a test waits for
 * the ones it needs.
 */
export class Events {
  constructor(socket) {
    this.log = [];
    this.waiters = [];
    socket.onAny((event, ...args) => this.push({ event, frame: args[0], args }));
    socket.on("disconnect", () => this.wake());
  }

  push(entry) {
    this.log.push(entry);
    this.wake();
  }

  /** A marker in the log (for example where an ack arrived), to check what came before it. */
  mark(label) {
    this.push({ event: `#${label}` });
  }

  wake() {
    for (const w of this.waiters.splice(0)) w();
  }

  /** The frames of every event so far that `pred` matches. */
  all(pred) {
    return this.log.filter(pred).map((e) => e.frame);
  }

  /** Waits until `count` events match `pred`; the frames of the first `count` of them. */
  async wait(count, pred, timeoutMs = WAIT_MS) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const matching = this.all(pred);
      if (matching.length >= count) return matching.slice(0, count);
      const left = deadline - Date.now();
      if (left <= 0) {
        const seen = JSON.stringify(this.log.map(({ event, frame }) => [event, frame])).slice(0, 2000);
        throw new Error(`wanted ${count} events, got ${matching.length}: ${seen}`);
      }
      await new Promise((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }
}

/**
 * A raw Engine.IO websocket to `url` that queues its text frames (`frame()` waits for the
 * next); it answers pings only when told to.
 */
export function engineSocket(url, { pong = false } = {}) {
  const ws = new WebSocket(url);
  const frames = [];
  let wake = () => {};
  ws.on("message", (data) => {
    const text = data.toString();
    if (pong && text === "2") ws.send("3");
    else frames.push(text);
    wake();
  });
  const closed = new Promise((resolve) => ws.on("close", (code) => resolve(code)));
  const frame = () =>
    within(
      (async () => {
        while (frames.length === 0) await new Promise((resolve) => (wake = resolve));
        return frames.shift();
      })(),
      "a websocket frame",
    );
  return { ws, frames, frame, closed, opened: next(ws, "open") };
}

/** A `ws` client that queues every frame, parsed, and lets a test wait for the next ones. */
export class Client {
  constructor(socket) {
    this.socket = socket;
    this.frames = [];
    this.waiters = [];
    this.closed = new Promise((resolve) => socket.on("close", (code, reason) => resolve({ code, reason: reason.toString() })));
    socket.on("message", (data, isBinary) => {
      this.frames.push(isBinary ? { binary: data } : JSON.parse(data.toString()));
      this.wake();
    });
    socket.on("close", () => this.wake());
  }

  static open(url, protocols, options) {
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(url, protocols, options);
      const client = new Client(socket);
      socket.once("open", () => resolve(client));
      socket.once("unexpected-response", (_req, res) => {
        let body = "";
        res.on("data", (chunk) => (body += chunk));
        res.on("end", () => {
          const error = new Error(`upgrade refused with ${res.statusCode}: ${body}`);
          error.status = res.statusCode;
          error.body = body ? JSON.parse(body) : undefined;
          reject(error);
        });
      });
      socket.once("error", reject);
    });
  }

  wake() {
    for (const w of this.waiters.splice(0)) w();
  }

  /** Waits until `count` frames matching `pred` were received; returns and removes them. */
  async take(count, pred = () => true, timeoutMs = WAIT_MS) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const matching = this.frames.filter(pred);
      if (matching.length >= count) {
        const taken = matching.slice(0, count);
        this.frames = this.frames.filter((f) => !taken.includes(f));
        return taken;
      }
      const left = deadline - Date.now();
      if (left <= 0 || this.socket.readyState === WebSocket.CLOSED) {
        throw new Error(`wanted ${count} frames, got ${matching.length}: ${JSON.stringify(this.frames).slice(0, 2000)}`);
      }
      await new Promise((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** The next frame of `type`. */
  async next(type) {
    return (await this.take(1, (f) => f.type === type))[0];
  }

  /** `count` message frames. */
  messages(count) {
    return this.take(count, (f) => f.type === "message");
  }

  send(frame) {
    this.socket.send(typeof frame === "string" ? frame : JSON.stringify(frame));
  }

  /** Publishes and waits for this publish's ack. */
  async publish(event, data, { id, transaction = `t${Math.random()}` } = {}) {
    this.send({ type: "publish", event, data, id, transaction });
    return (await this.take(1, (f) => f.transaction === transaction))[0];
  }

  close(code = 1000) {
    this.socket.close(code);
    return this.closed;
  }

  terminate() {
    this.socket.terminate();
  }
}

/** Frames received so far (not yet taken), for asserting that nothing else arrived. */
export function pending(client, type) {
  return client.frames.filter((f) => type === undefined || f.type === type);
}

/**
 * A bare websocket client over TCP that sends text frames and never answers anything — not
 * even a close frame: the misbehaving peer a server must not trust to finish a close.
 */
export function rawClient(http, path, token) {
  const { hostname, port } = new URL(http);
  return new Promise((resolve, reject) => {
    const socket = tcpConnect(Number(port), hostname);
    let head = "";
    const onData = (chunk) => {
      head += chunk.toString("latin1");
      if (!head.includes("\r\n\r\n")) return;
      socket.off("data", onData);
      if (!head.startsWith("HTTP/1.1 101")) return reject(new Error(`not upgraded: ${head.split("\r\n")[0]}`));
      socket.on("data", () => {}); // read and ignore everything, close frames included
      resolve({ send: (text) => socket.write(maskedTextFrame(text)), destroy: () => socket.destroy() });
    };
    socket.on("data", onData);
    socket.on("error", reject);
    socket.write(
      `GET ${path} HTTP/1.1\r\nHost: ${hostname}:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Key: ${randomBytes(16).toString("base64")}\r\nSec-WebSocket-Version: 13\r\n` +
        `Authorization: Bearer ${token}\r\n\r\n`,
    );
  });
}

/** A client-to-server text frame (RFC 6455 §5.2: clients mask). */
function maskedTextFrame(text) {
  const payload = Buffer.from(text);
  let header;
  if (payload.length < 126) {
    header = Buffer.from([0x81, 0x80 | payload.length]);
  } else if (payload.length < 65536) {
    header = Buffer.alloc(4);
    header[0] = 0x81;
    header[1] = 0x80 | 126;
    header.writeUInt16BE(payload.length, 2);
  } else {
    header = Buffer.alloc(10);
    header[0] = 0x81;
    header[1] = 0x80 | 127;
    header.writeBigUInt64BE(BigInt(payload.length), 2);
  }
  const mask = randomBytes(4);
  const masked = Buffer.alloc(payload.length);
  for (let i = 0; i < payload.length; i++) masked[i] = payload[i] ^ mask[i % 4];
  return Buffer.concat([header, mask, masked]);
}
