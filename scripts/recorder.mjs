#!/usr/bin/env node
// The local provider recorder: a plain HTTP server (no dependencies) that stands in for the
// email API (Resend's `POST /emails`) and Twilio's Messages API
// (`POST /2010-04-01/Accounts/{sid}/Messages.json`) in local development and in the tests.
// It checks each request the way those APIs do (credentials present, required fields),
// answers as they answer, keeps every request in order, and prints each email and SMS
// readably. It can be told to fail: answer with a status (5xx…) or never answer (a timeout).
//
//   node scripts/recorder.mjs [--port 8788] [--quiet]     (what `make dev` runs)
//
// Control routes, for other processes: `GET /__recorder/requests` (also `/emails`, `/sms`),
// `POST /__recorder/fail` with `{path, times?, status?, timeout?}`, `POST /__recorder/reset`.
// From Node: `const recorder = await startRecorder({ port: 0 })`, then `recorder.url`,
// `requests()`, `emails()`, `sms()`, `fail({...})`, `reset()`, `stop()`.
import { createServer } from "node:http";
import { randomBytes, randomUUID } from "node:crypto";
import { fileURLToPath } from "node:url";

const EMAILS = "/emails";
const TWILIO = /^\/2010-04-01\/Accounts\/([^/]+)\/Messages\.json$/;

/**
 * Starts a recorder on `port` (0: any free one) of 127.0.0.1; resolves once it listens.
 * `quiet` keeps it from printing what it receives.
 */
export async function startRecorder({ port = 0, quiet = false, host = "127.0.0.1" } = {}) {
  const log = []; // every provider request, in order
  let failures = []; // {path, left (null: always), status, timeout}
  const held = new Set(); // responses of requests told to time out: never answered
  const print = quiet ? () => {} : (text) => console.log(text);

  const server = createServer(async (req, res) => {
    const body = await read(req);
    const url = new URL(req.url, "http://recorder");
    if (url.pathname.startsWith("/__recorder/")) return control(req, res, url.pathname, body);

    const entry = { method: req.method, path: url.pathname, headers: { ...req.headers }, body, at: Date.now() };
    const type = (req.headers["content-type"] ?? "").split(";")[0].trim();
    if (type === "application/json") entry.json = parseJson(body);
    if (type === "application/x-www-form-urlencoded") entry.form = Object.fromEntries(new URLSearchParams(body));
    log.push(entry);

    const rule = failures.find((f) => url.pathname === f.path || url.pathname.startsWith(f.path));
    if (rule) {
      if (rule.left !== null && --rule.left === 0) failures = failures.filter((f) => f !== rule);
      const left = rule.left === null ? "until reset" : `${rule.left} more`;
      if (rule.timeout) {
        entry.status = "timeout";
        held.add(res);
        res.on("close", () => held.delete(res));
        return print(`[recorder] ${req.method} ${url.pathname}: not answering (told to time out, ${left})`);
      }
      entry.status = rule.status;
      print(`[recorder] ${req.method} ${url.pathname}: answered ${rule.status} (told to fail, ${left})`);
      return reply(res, rule.status, { statusCode: rule.status, name: "recorder_failure", message: "failing on command" });
    }

    const [status, answer] = provider(req, url.pathname, entry);
    entry.status = status;
    if (status >= 200 && status < 300) announce(entry);
    else print(`[recorder] ${req.method} ${url.pathname}: refused ${status}: ${answer.message}`);
    reply(res, status, answer);
  });

  /** What the real API would answer, checked the way it checks. */
  function provider(req, path, entry) {
    const twilio = TWILIO.exec(path);
    if (req.method === "POST" && path === EMAILS) {
      if (!/^Bearer \S+$/.test(req.headers.authorization ?? "")) {
        return [401, { statusCode: 401, name: "missing_api_key", message: "Missing API key in the authorization header" }];
      }
      const email = entry.json;
      const to = Array.isArray(email?.to) ? email.to : [email?.to];
      const missing = ["from", "subject"].find((f) => typeof email?.[f] !== "string" || email[f] === "");
      if (!email || typeof email !== "object" || missing || !to.every((t) => typeof t === "string" && t.includes("@"))) {
        const message = missing ? `The \`${missing}\` field is missing.` : "Invalid `to` field.";
        return [422, { statusCode: 422, name: "validation_error", message }];
      }
      if (typeof email.text !== "string" && typeof email.html !== "string") {
        return [422, { statusCode: 422, name: "validation_error", message: "Missing `text` or `html` field." }];
      }
      return [200, { id: randomUUID() }];
    }
    if (req.method === "POST" && twilio) {
      const [user, token] = basic(req.headers.authorization);
      if (user !== decodeURIComponent(twilio[1]) || !token) {
        return [401, { code: 20003, message: "Authenticate", more_info: "https://www.twilio.com/docs/errors/20003", status: 401 }];
      }
      const form = entry.form ?? {};
      for (const [field, code] of [["To", 21604], ["From", 21603], ["Body", 21602]]) {
        if (!form[field]) return [400, { code, message: `A '${field}' is required.`, status: 400 }];
      }
      const sid = `SM${randomBytes(16).toString("hex")}`;
      const answer = { sid, account_sid: user, to: form.To, from: form.From, body: form.Body, status: "queued" };
      return [201, { ...answer, direction: "outbound-api", num_segments: "1", date_created: new Date().toUTCString() }];
    }
    return [404, { status: 404, message: `the recorder has no ${req.method} ${path}` }];
  }

  function announce(entry) {
    if (entry.path === EMAILS) {
      const { from, to, subject, text } = entry.json;
      print(
        [
          `[recorder] email to ${[].concat(to).join(", ")}`,
          `  from:    ${from}`,
          `  subject: ${subject}`,
          `  key:     ${entry.headers["idempotency-key"] ?? "(none)"}`,
          ...String(text ?? "(html only)").split("\n").map((line) => `  | ${line}`),
        ].join("\n"),
      );
    } else {
      const { To, From, Body } = entry.form;
      print([`[recorder] SMS to ${To} (from ${From})`, ...Body.split("\n").map((line) => `  | ${line}`)].join("\n"));
    }
  }

  const accepted = (pred) => log.filter((e) => typeof e.status === "number" && e.status < 300 && pred(e));
  const api = {
    /** Every provider request so far, in order: {method, path, headers, body, json?, form?, at, status}. */
    requests: () => structuredClone(log),
    /** The JSON bodies of the emails the recorder accepted. */
    emails: () => structuredClone(accepted((e) => e.path === EMAILS).map((e) => e.json)),
    /** The SMS the recorder accepted: `{To, From, Body}`. */
    sms: () => structuredClone(accepted((e) => TWILIO.test(e.path)).map(({ form: { To, From, Body } }) => ({ To, From, Body }))),
    /**
     * The next `times` requests to `path` (or a path under it) fail: answered with `status`, or
     * never answered when `timeout`. Without `times`, every request until `reset()`.
     */
    fail({ path, times, status = 503, timeout = false }) {
      if (typeof path !== "string" || !path.startsWith("/")) throw new Error("fail() needs a path such as /emails");
      if (times !== undefined && times !== null && !(Number.isInteger(times) && times > 0)) {
        throw new Error("fail() takes times as a positive whole number, or none for always");
      }
      failures.push({ path, left: times ?? null, status, timeout });
    },
    /** Forgets every request and every failure; requests held for a timeout are cut. */
    reset() {
      log.length = 0;
      failures = [];
      for (const res of held) res.destroy();
    },
    async stop() {
      for (const res of held) res.destroy();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };

  function control(req, res, path, body) {
    const route = `${req.method} ${path}`;
    if (route === "GET /__recorder/requests") return reply(res, 200, api.requests());
    if (route === "GET /__recorder/emails") return reply(res, 200, api.emails());
    if (route === "GET /__recorder/sms") return reply(res, 200, api.sms());
    if (route === "POST /__recorder/reset") return reply(res, 200, (api.reset(), { ok: true }));
    if (route === "POST /__recorder/fail") {
      try {
        api.fail(parseJson(body) ?? {});
        return reply(res, 200, { ok: true });
      } catch (e) {
        return reply(res, 400, { message: e.message });
      }
    }
    reply(res, 404, { message: `no control route ${route}` });
  }

  await new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, resolve);
  });
  return { url: `http://${host}:${server.address().port}`, ...api };
}

function read(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on("data", (chunk) => chunks.push(chunk));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

function parseJson(text) {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** `[user, password]` of a Basic authorization header. */
function basic(header = "") {
  const match = /^Basic (\S+)$/.exec(header);
  if (!match) return [];
  const decoded = Buffer.from(match[1], "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  return colon < 0 ? [] : [decoded.slice(0, colon), decoded.slice(colon + 1)];
}

function reply(res, status, body) {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const at = args.indexOf("--port");
  const port = at >= 0 ? Number(args[at + 1]) : 8788;
  const recorder = await startRecorder({ port, quiet: args.includes("--quiet") }).catch((e) => {
    console.error(`[recorder] cannot listen on port ${port}: ${e.message}`);
    process.exit(1);
  });
  console.log(`[recorder] listening on ${recorder.url}: emails at ${EMAILS}, SMS at /2010-04-01/Accounts/{sid}/Messages.json`);
  const stop = () => recorder.stop().then(() => process.exit(0));
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
}
