// Cross-site websocket hijacking and CORS (docs/security.md): a cookie is an ambient credential
// (the browser sends it whatever page asks), so the 3drepo route, which takes its token from
// `connect.sid`, accepts it only without an Origin or from an origin in ALLOWED_ORIGINS, over
// websocket and over polling, before any upgrade. Pages on allowed origins may read Herald's
// answers (CORS); credentials are allowed only where a cookie is accepted.
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import WebSocket from "ws";
import { startHerald, connected, next } from "../harness.mjs";

const APP = "https://app.example.com";
const EVIL = "https://evil.example";

let herald;
before(async () => (herald = await startHerald({ vars: { ALLOWED_ORIGINS: `${APP} http://localhost:*` } })));
after(() => herald.stop());

/** The victim's session cookie, as 3D Repo's own web app leaves it in the browser. */
const cookie = () => `connect.sid=${herald.token("victim")}`;

/** A raw websocket upgrade to `path`; its HTTP refusal `{status, body}` or `{opened: true}`. */
function upgrade(path, headers) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${herald.ws}${path}`, { headers });
    ws.once("open", () => {
      ws.terminate();
      resolve({ opened: true });
    });
    ws.once("unexpected-response", (_req, res) => {
      let body = "";
      res.on("data", (chunk) => (body += chunk));
      res.on("end", () => resolve({ status: res.statusCode, body: JSON.parse(body) }));
    });
    ws.once("error", reject);
  });
}

const polling = "/chat/?EIO=4&transport=polling";
const websocket = "/chat/?EIO=4&transport=websocket";

describe("a cookie is taken only from allowed pages", () => {
  test("a handshake with the victim's cookie from another site is refused before the upgrade, over websocket and polling", async () => {
    for (const origin of [EVIL, "null", "http://app.example.com", `${APP}:8443`]) {
      const ws = await upgrade(websocket, { cookie: cookie(), origin });
      assert.equal(ws.status, 403, origin);
      assert.equal(ws.body.code, "origin_forbidden", origin);
      assert.equal(ws.body.details.origin, origin);
      const poll = await fetch(`${herald.http}${polling}`, { headers: { cookie: cookie(), origin } });
      assert.equal(poll.status, 403, origin);
      assert.equal((await poll.json()).code, "origin_forbidden", origin);
      assert.equal(poll.headers.get("access-control-allow-origin"), null, "the refusal is not readable cross-site");
    }
  });

  test("the hijacking page's socket.io-client gets a connect error and never the victim's notifications", async () => {
    const { socket } = herald.io({
      path: "/chat",
      transports: ["websocket"],
      reconnection: false,
      extraHeaders: { cookie: cookie(), origin: EVIL },
    });
    const [error] = await next(socket, "connect_error");
    assert.match(error.message, /websocket error|403/);
    assert.equal(socket.connected, false);
  });

  test("the same cookie is taken without an Origin (servers, native apps) and from an allowed origin", async () => {
    for (const headers of [{ cookie: cookie() }, { cookie: cookie(), origin: APP }, { cookie: cookie(), origin: "http://localhost:5173" }]) {
      const { socket, events } = herald.io({ path: "/chat", transports: ["websocket"], reconnection: false, extraHeaders: headers });
      await connected(socket);
      socket.emit("join", { notifications: true });
      const [answer] = await events.wait(1, (e) => e.event === "message");
      assert.deepEqual(answer, { event: "success", data: { action: "join", data: { notifications: true } } }, JSON.stringify(headers));
      socket.close();
    }
  });

  test("a credential the page presented itself is not ambient: another site may use its own token", async () => {
    const mallory = herald.token("mallory");
    const { socket, events } = herald.io({
      path: "/chat",
      transports: ["websocket"],
      reconnection: false,
      auth: { token: mallory },
      extraHeaders: { origin: EVIL },
    });
    await connected(socket);
    socket.emit("join", { notifications: true });
    const [answer] = await events.wait(1, (e) => e.event === "message");
    assert.equal(answer.event, "success");
    socket.close();
    // With the victim's cookie too, an explicit token wins and the cookie is never read.
    const explicit = await upgrade(`${websocket}&token=${mallory}`, { cookie: cookie(), origin: EVIL });
    assert.deepEqual(explicit, { opened: true });
  });

  test("routes without a cookie take tokens from any page", async () => {
    const token = herald.token("native-user");
    const ws = await upgrade(`/v1/socket.io/?EIO=4&transport=websocket&token=${token}`, { origin: EVIL, cookie: cookie() });
    assert.deepEqual(ws, { opened: true });
  });
});

describe("CORS", () => {
  const preflight = (path, origin, method = "POST", headers = "authorization, content-type, idempotency-key") =>
    fetch(`${herald.http}${path}`, {
      method: "OPTIONS",
      headers: { origin, "access-control-request-method": method, "access-control-request-headers": headers },
    });

  test("a preflight from an allowed origin names the methods and headers clients send; credentials only on a cookie route", async () => {
    const rest = await preflight("/api/v1/send", APP);
    assert.equal(rest.status, 204);
    assert.equal(rest.headers.get("access-control-allow-origin"), APP);
    assert.match(rest.headers.get("vary"), /Origin/);
    const allowed = rest.headers.get("access-control-allow-headers").toLowerCase().split(/,\s*/);
    for (const header of ["authorization", "content-type", "idempotency-key", "x-socket-id"]) assert.ok(allowed.includes(header), header);
    assert.ok(rest.headers.get("access-control-allow-methods").includes("POST"));
    assert.equal(rest.headers.get("access-control-allow-credentials"), null);
    // A browser unsubscribes its push device on logout with DELETE.
    const logout = await preflight("/api/v1/native/subscribe", APP, "DELETE");
    assert.equal(logout.status, 204);
    assert.ok(logout.headers.get("access-control-allow-methods").split(/,\s*/).includes("DELETE"));
    const chat = await preflight(polling, APP);
    assert.equal(chat.status, 204);
    assert.equal(chat.headers.get("access-control-allow-credentials"), "true");
  });

  test("a preflight from another origin is refused with a code, and nothing in it is readable", async () => {
    for (const origin of [EVIL, "null"]) {
      const res = await preflight("/api/v1/send", origin);
      assert.equal(res.status, 403, origin);
      assert.equal((await res.json()).code, "origin_forbidden");
      assert.equal(res.headers.get("access-control-allow-origin"), null);
    }
  });

  test("answers to an allowed page carry its origin, never *; others get none", async () => {
    const token = herald.token("reader");
    const read = (origin) => fetch(`${herald.http}/v1/rooms/cors-room/messages`, { headers: { origin, authorization: `Bearer ${token}` } });
    const ok = await read(APP);
    assert.equal(ok.status, 200);
    assert.equal(ok.headers.get("access-control-allow-origin"), APP);
    assert.equal(ok.headers.get("access-control-allow-credentials"), null);
    const refusal = await fetch(`${herald.http}/v1/rooms/cors-room/messages`, { headers: { origin: APP } });
    assert.equal(refusal.status, 401);
    assert.equal(refusal.headers.get("access-control-allow-origin"), APP, "an app can read why it was refused");
    const other = await read(EVIL);
    assert.equal(other.status, 200);
    assert.equal(other.headers.get("access-control-allow-origin"), null);
    const ping = await fetch(`${herald.http}/api/v1/ping`, { headers: { origin: APP } });
    assert.equal(ping.headers.get("access-control-allow-origin"), APP);
  });

  test("Socket.IO polling answers are readable by an allowed page, with credentials where the route takes a cookie", async () => {
    const chat = await fetch(`${herald.http}${polling}`, { headers: { origin: APP, cookie: cookie() } });
    assert.equal(chat.status, 200);
    assert.equal(chat.headers.get("access-control-allow-origin"), APP);
    assert.equal(chat.headers.get("access-control-allow-credentials"), "true");
    const native = await fetch(`${herald.http}/v1/socket.io/?EIO=4&transport=polling`, { headers: { origin: APP } });
    assert.equal(native.status, 200);
    assert.equal(native.headers.get("access-control-allow-origin"), APP);
    assert.equal(native.headers.get("access-control-allow-credentials"), null);
  });
});
