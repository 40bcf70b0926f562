#!/usr/bin/env node
// The local provider recorder: a plain HTTP server (no dependencies) that stands in for the
// providers Herald sends to, in local development and in the tests: the email API (Resend's
// `POST /emails`), Twilio's Messages API (`POST /2010-04-01/Accounts/{sid}/Messages.json`),
// and the three push providers — APNs (`POST /3/device/{token}`, scripts/recorder/apns.mjs),
// FCM HTTP v1 with Google's token endpoint (`POST /token`,
// `POST /v1/projects/{project}/messages:send`, scripts/recorder/fcm.mjs) and a Web Push
// service whose subscriptions it makes itself (`POST /push/{id}`, scripts/recorder/webpush.mjs).
// It checks each request the way those APIs do (credentials and signatures, required fields),
// answers as they answer, keeps every request in order, and prints each email, SMS and push
// readably (a Web Push message decrypted). It can be told to fail: answer with a status and
// the provider's own error body (5xx, 410 Unregistered…) or never answer (a timeout).
//
//   node scripts/recorder.mjs [--port 8788] [--quiet] [--vars .dev.vars]   (what `make dev` runs)
//
// Run as a command it verifies pushes against the keys in the repository's .dev.vars (or the
// file of --vars; scripts/dev-keys.mjs writes them). Control routes, for other processes:
// `GET /__recorder/requests` (also `/emails`, `/sms`, `/pushes`, `/token-requests`),
// `POST /__recorder/subscriptions` (a new Web Push subscription), `POST /__recorder/fail` with
// `{path, times?, status?, timeout?, body?, headers?}`, `POST /__recorder/reset`.
// From Node: `const recorder = await startRecorder({ port: 0, push })`, then `recorder.url`,
// `requests()`, `emails()`, `sms()`, `pushes()`, `tokenRequests()`, `subscription()`,
// `fail({...})`, `revokeTokens()`, `reset()`, `stop()`.
import { createServer } from "node:http";
import { randomBytes, randomUUID, createPublicKey } from "node:crypto";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { createApns } from "./recorder/apns.mjs";
import { createFcm, TOKEN_PATH } from "./recorder/fcm.mjs";
import { createWebPush } from "./recorder/webpush.mjs";
import { decodeJwt } from "./recorder/jwt.mjs";
import { readDevVars } from "./dev-keys.mjs";

const EMAILS = "/emails";
const TWILIO = /^\/2010-04-01\/Accounts\/([^/]+)\/Messages\.json$/;

/**
 * The public material the recorder checks pushes against, from Herald's own variables
 * (VAPID_PUBLIC_KEY, APNS_KEY, APNS_KEY_ID, APNS_TEAM_ID, APNS_TOPIC, FCM_SERVICE_ACCOUNT):
 * what `startRecorder({ push })` takes.
 */
export function pushMaterial(vars) {
  return {
    apnsKeyPem: vars.APNS_KEY,
    apnsKeyId: vars.APNS_KEY_ID,
    apnsTeamId: vars.APNS_TEAM_ID,
    apnsTopic: vars.APNS_TOPIC,
    serviceAccount: vars.FCM_SERVICE_ACCOUNT,
    vapidPublicKey: vars.VAPID_PUBLIC_KEY,
  };
}

/**
 * Starts a recorder on `port` (0: any free one) of 127.0.0.1; resolves once it listens.
 * `quiet` keeps it from printing what it receives. `push` is what it verifies pushes with:
 * `{apnsKeyPem or apnsPublicKey, apnsKeyId?, apnsTeamId?, apnsTopic?, serviceAccount (object
 * or JSON text), vapidPublicKey?}` (see pushMaterial); without it APNs provider tokens and FCM
 * assertions are refused, and any topic or VAPID key is taken.
 */
export async function startRecorder({ port = 0, quiet = false, host = "127.0.0.1", push = {} } = {}) {
  const log = []; // every provider request, in order
  let failures = []; // {path, left (null: always), status, timeout, body, headers}
  const held = new Set(); // responses of requests told to time out: never answered
  const print = quiet ? () => {} : (text) => console.log(text);
  let origin; // this recorder's own URL, once it listens

  const apnsKey = push.apnsPublicKey ?? push.apnsKeyPem;
  const apns = createApns({
    publicKey: apnsKey ? createPublicKey(apnsKey) : undefined,
    keyId: push.apnsKeyId,
    teamId: push.apnsTeamId,
    topic: push.apnsTopic,
  });
  const serviceAccount = typeof push.serviceAccount === "string" ? JSON.parse(push.serviceAccount) : push.serviceAccount;
  // The token endpoint is itself the `aud` of an assertion: its URL as the recorder knows it,
  // or as the client named it (localhost rather than 127.0.0.1).
  const ownUrls = (hostHeader) => [...new Set([origin, hostHeader && `http://${hostHeader}`])].filter(Boolean);
  const fcm = createFcm({ serviceAccount, tokenUrls: (hostHeader) => ownUrls(hostHeader).map((u) => u + TOKEN_PATH) });
  const webPush = createWebPush({ vapidPublicKey: push.vapidPublicKey });

  const server = createServer(async (req, res) => {
    const raw = await read(req);
    const url = new URL(req.url, "http://recorder");
    const path = url.pathname;
    if (path.startsWith("/__recorder/")) return control(req, res, path, raw.toString("utf8"));

    // A Web Push body is binary (encrypted): kept as base64url; every other body as text.
    const body = webPush.matches(path) ? raw.toString("base64url") : raw.toString("utf8");
    const entry = { method: req.method, path, headers: { ...req.headers }, body, at: Date.now() };
    const type = (req.headers["content-type"] ?? "").split(";")[0].trim();
    if (type === "application/json") entry.json = parseJson(body);
    if (type === "application/x-www-form-urlencoded") entry.form = Object.fromEntries(new URLSearchParams(body));
    Object.assign(entry, describe(path, raw, entry));
    log.push(entry);

    const rule = failures.find((f) => path === f.path || path.startsWith(f.path));
    if (rule) {
      if (rule.left !== null && --rule.left === 0) failures = failures.filter((f) => f !== rule);
      const left = rule.left === null ? "until reset" : `${rule.left} more`;
      if (rule.timeout) {
        entry.status = "timeout";
        held.add(res);
        res.on("close", () => held.delete(res));
        return print(`[recorder] ${req.method} ${path}: not answering (told to time out, ${left})`);
      }
      entry.status = rule.status;
      const fallback = failureFor(path, rule.status);
      print(`[recorder] ${req.method} ${path}: answered ${rule.status} (told to fail, ${left})`);
      return reply(res, rule.status, rule.body ?? fallback.body, { ...fallback.headers, ...rule.headers });
    }

    const answer = pushAnswer(req, path, raw) ?? provider(req, path, entry);
    entry.status = answer.status;
    if (answer.reason) entry.reason = answer.reason;
    if (answer.why) entry.why = answer.why;
    if (answer.status >= 200 && answer.status < 300) announce(entry);
    else print(`[recorder] ${req.method} ${path}: refused ${answer.status}: ${answer.reason ?? answer.body?.message ?? ""}${answer.why ? ` (${answer.why})` : ""}`);
    reply(res, answer.status, answer.body, answer.headers);
  });

  /** The push fields of an entry (provider, device, payload), judged or not. */
  function describe(path, raw, entry) {
    if (apns.matches(path)) return { provider: "apns", ...apns.describe(path, raw) };
    if (fcm.matchesSend(path)) return { provider: "fcm", ...fcm.describe(raw) };
    if (webPush.matches(path)) return { provider: "webpush", ...webPush.describe(path, raw) };
    if (path === TOKEN_PATH) {
      const jwt = decodeJwt(entry.form?.assertion);
      return typeof jwt === "string" ? {} : { assertion: { header: jwt.header, claims: jwt.claims } };
    }
    return {};
  }

  /** The answer of a push provider or the token endpoint, or null for another path. */
  function pushAnswer(req, path, raw) {
    const now = Math.floor(Date.now() / 1000);
    const request = { method: req.method, path, headers: req.headers, body: raw, now };
    if (apns.matches(path)) return apns.handle(request);
    if (webPush.matches(path)) return webPush.handle({ ...request, origins: ownUrls(req.headers.host) });
    if (req.method !== "POST") return null;
    if (fcm.matchesSend(path)) return fcm.send({ ...request, nowMs: Date.now() });
    if (path === TOKEN_PATH) return fcm.token(Object.fromEntries(new URLSearchParams(raw.toString("utf8"))), now, req.headers.host);
    return null;
  }

  /** The provider's own error body (and headers) for a failure on command without a body. */
  function failureFor(path, status) {
    if (apns.matches(path)) return apns.failure(status);
    if (fcm.matchesSend(path) || path === TOKEN_PATH) return fcm.failure(path, status);
    if (webPush.matches(path)) return webPush.failure(status);
    return { body: { statusCode: status, name: "recorder_failure", message: "failing on command" } };
  }

  /** What the real API would answer, checked the way it checks: `{status, body}`. */
  function provider(req, path, entry) {
    const twilio = TWILIO.exec(path);
    const answer = (status, body) => ({ status, body });
    if (req.method === "POST" && path === EMAILS) {
      if (!/^Bearer \S+$/.test(req.headers.authorization ?? "")) {
        return answer(401, { statusCode: 401, name: "missing_api_key", message: "Missing API key in the authorization header" });
      }
      const email = entry.json;
      const to = Array.isArray(email?.to) ? email.to : [email?.to];
      const missing = ["from", "subject"].find((f) => typeof email?.[f] !== "string" || email[f] === "");
      if (!email || typeof email !== "object" || missing || !to.every((t) => typeof t === "string" && t.includes("@"))) {
        const message = missing ? `The \`${missing}\` field is missing.` : "Invalid `to` field.";
        return answer(422, { statusCode: 422, name: "validation_error", message });
      }
      if (typeof email.text !== "string" && typeof email.html !== "string") {
        return answer(422, { statusCode: 422, name: "validation_error", message: "Missing `text` or `html` field." });
      }
      return answer(200, { id: randomUUID() });
    }
    if (req.method === "POST" && twilio) {
      const [user, token] = basic(req.headers.authorization);
      if (user !== decodeURIComponent(twilio[1]) || !token) {
        return answer(401, { code: 20003, message: "Authenticate", more_info: "https://www.twilio.com/docs/errors/20003", status: 401 });
      }
      const form = entry.form ?? {};
      for (const [field, code] of [["To", 21604], ["From", 21603], ["Body", 21602]]) {
        if (!form[field]) return answer(400, { code, message: `A '${field}' is required.`, status: 400 });
      }
      const sid = `SM${randomBytes(16).toString("hex")}`;
      const sent = { sid, account_sid: user, to: form.To, from: form.From, body: form.Body, status: "queued" };
      return answer(201, { ...sent, direction: "outbound-api", num_segments: "1", date_created: new Date().toUTCString() });
    }
    return answer(404, { status: 404, message: `the recorder has no ${req.method} ${path}` });
  }

  function announce(entry) {
    const lines = (text) => String(text).split("\n").map((line) => `  | ${line}`);
    if (entry.path === EMAILS) {
      const { from, to, subject, text } = entry.json;
      print(
        [
          `[recorder] email to ${[].concat(to).join(", ")}`,
          `  from:    ${from}`,
          `  subject: ${subject}`,
          `  key:     ${entry.headers["idempotency-key"] ?? "(none)"}`,
          ...lines(text ?? "(html only)"),
        ].join("\n"),
      );
    } else if (entry.provider) {
      const h = entry.headers;
      const facts =
        entry.provider === "apns"
          ? [`topic ${h["apns-topic"]}`, `type ${h["apns-push-type"]}`, `priority ${h["apns-priority"] ?? "(10)"}`, h["apns-collapse-id"] && `collapse ${h["apns-collapse-id"]}`]
          : entry.provider === "webpush"
            ? [`TTL ${h.ttl}`, `urgency ${h.urgency ?? "(normal)"}`, h.topic && `topic ${h.topic}`]
            : [`priority ${entry.payload?.android?.priority ?? "(none)"}`, entry.payload?.android?.ttl && `ttl ${entry.payload.android.ttl}`];
      const shown = typeof entry.payload === "string" ? entry.payload : JSON.stringify(entry.payload, null, 2);
      print([`[recorder] push (${entry.provider}) to ${entry.device}`, `  ${facts.filter(Boolean).join(", ")}`, ...lines(shown)].join("\n"));
    } else if (entry.path === TOKEN_PATH) {
      print(`[recorder] FCM access token issued to ${entry.assertion?.claims?.iss}`);
    } else {
      const { To, From, Body } = entry.form;
      print([`[recorder] SMS to ${To} (from ${From})`, ...lines(Body)].join("\n"));
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
     * Every push request, accepted or refused, in order: `{provider: "apns"|"fcm"|"webpush",
     * path, device, headers, payload, status, reason?, why?, text?, at}` (`at`: ms when it came). `device` is the APNs or
     * FCM token or the Web Push subscription id; `payload` the APNs body, the FCM message, or
     * the decrypted Web Push message (parsed when it is JSON; `text` is it as sent).
     */
    pushes: () =>
      structuredClone(
        log
          .filter((e) => e.provider)
          .map(({ provider, path, device, headers, payload, status, reason, why, text, at }) => ({ provider, path, device, headers, payload, status, reason, why, text, at })),
      ),
    /** Every request to the token endpoint: `{headers, form, assertion: {header, claims}, status}`. */
    tokenRequests: () =>
      structuredClone(log.filter((e) => e.path === TOKEN_PATH).map(({ headers, form, assertion, status, why }) => ({ headers, form, assertion, status, why }))),
    /**
     * A new Web Push subscription whose endpoint is this recorder: `{endpoint, expirationTime,
     * keys: {p256dh, auth}}`. `keys` `{privateKey, p256dh, auth}` (base64url) choose its keys.
     */
    subscription: (keys) => webPush.subscribe(origin, keys),
    /**
     * The next `times` requests to `path` (or a path under it) fail: answered with `status`
     * and `body` (an object as JSON, a string as text; without it, the provider's own error
     * for that status) plus `headers` (`{"retry-after": "3"}`), or never answered when
     * `timeout`. Without `times`, every request until `reset()`.
     */
    fail({ path, times, status = 503, timeout = false, body, headers = {} }) {
      if (typeof path !== "string" || !path.startsWith("/")) throw new Error("fail() needs a path such as /emails");
      if (times !== undefined && times !== null && !(Number.isInteger(times) && times > 0)) {
        throw new Error("fail() takes times as a positive whole number, or none for always");
      }
      if (typeof headers !== "object" || headers === null || Object.values(headers).some((v) => typeof v !== "string")) {
        throw new Error("fail() takes headers as an object of strings");
      }
      failures.push({ path, left: times ?? null, status, timeout, body, headers });
    },
    /** Makes every FCM access token issued so far invalid, as if each had expired. */
    revokeTokens: () => fcm.revokeTokens(),
    /** Forgets every request and every failure; requests held for a timeout are cut. Subscriptions and access tokens stay. */
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
    if (route === "GET /__recorder/pushes") return reply(res, 200, api.pushes());
    if (route === "GET /__recorder/token-requests") return reply(res, 200, api.tokenRequests());
    if (route === "POST /__recorder/reset") return reply(res, 200, (api.reset(), { ok: true }));
    try {
      if (route === "POST /__recorder/subscriptions") return reply(res, 201, api.subscription(parseJson(body)?.keys));
      if (route === "POST /__recorder/fail") return reply(res, 200, (api.fail(parseJson(body) ?? {}), { ok: true }));
    } catch (e) {
      return reply(res, 400, { message: e.message });
    }
    reply(res, 404, { message: `no control route ${route}` });
  }

  await new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, resolve);
  });
  origin = `http://${host.includes(":") ? `[${host}]` : host}:${server.address().port}`;
  return { url: origin, ...api };
}

function read(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on("data", (chunk) => chunks.push(chunk));
    req.on("end", () => resolve(Buffer.concat(chunks)));
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

/** Answers `body`: an object as JSON, a string as text, nothing as an empty body. */
function reply(res, status, body, headers = {}) {
  if (body === undefined || body === "") {
    res.writeHead(status, headers);
    return res.end();
  }
  const text = typeof body === "string";
  res.writeHead(status, { "content-type": text ? "text/plain; charset=utf-8" : "application/json", ...headers });
  res.end(text ? body : JSON.stringify(body));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const at = args.indexOf("--port");
  const port = at >= 0 ? Number(args[at + 1]) : 8788;
  const varsAt = args.indexOf("--vars");
  const varsFile = varsAt >= 0 ? args[varsAt + 1] : join(dirname(fileURLToPath(import.meta.url)), "..", ".dev.vars");
  const vars = existsSync(varsFile) ? readDevVars(varsFile) : {};
  const recorder = await startRecorder({ port, quiet: args.includes("--quiet"), push: pushMaterial(vars) }).catch((e) => {
    console.error(`[recorder] cannot listen on port ${port}: ${e.message}`);
    process.exit(1);
  });
  console.log(
    `[recorder] listening on ${recorder.url}: emails at ${EMAILS}, SMS at /2010-04-01/Accounts/{sid}/Messages.json, ` +
      `APNs at /3/device/{token}, FCM at /v1/projects/{project}/messages:send (tokens at ${TOKEN_PATH}), ` +
      `Web Push at the endpoints of POST /__recorder/subscriptions` +
      (vars.APNS_KEY ? " (push keys from .dev.vars)" : " (no .dev.vars push keys: run scripts/dev-keys.mjs)"),
  );
  const stop = () => recorder.stop().then(() => process.exit(0));
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
}
