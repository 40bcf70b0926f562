// Broken input for every surface Herald exposes, generated from a seed (scripts/reliability.mjs
// sends it and checks the answers). The same seed gives the same cases, so a failure found
// once can be repeated with `--seed`.
import { createHmac, generateKeyPairSync, sign as cryptoSign } from "node:crypto";

/** A seeded PRNG (mulberry32) and the helpers the generators draw with. */
export function prng(seed) {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const rng = {
    next,
    int: (n) => Math.floor(next() * n),
    range: (lo, hi) => lo + Math.floor(next() * (hi - lo + 1)),
    chance: (p) => next() < p,
    pick: (items) => items[Math.floor(next() * items.length)],
    /** One of `table`'s [weight, value] entries, by weight. */
    weighted: (table) => {
      let left = next() * table.reduce((sum, [w]) => sum + w, 0);
      for (const [w, value] of table) if ((left -= w) < 0) return value;
      return table.at(-1)[1];
    },
    bytes: (n) => Buffer.from(Array.from({ length: n }, () => Math.floor(next() * 256))),
    /** A string of `n` characters drawn from `alphabet`. */
    string: (n, alphabet = "abcdefghijklmnopqrstuvwxyz0123456789") => {
      const chars = Array.from(alphabet); // characters, not UTF-16 units: no lone surrogates
      return Array.from({ length: n }, () => chars[Math.floor(next() * chars.length)]).join("");
    },
  };
  return rng;
}

const CONTROL = "\u0000\u0001\u0007\b\t\n\r\u001b\u007f";
const UNICODE = "aé漢字🙂\u200b\u202e\ufeff";

/** A value of any JSON type, shallow or not, for fields that take anything. */
export function anyValue(rng, depth = 0) {
  return rng.weighted([
    [3, () => rng.string(rng.int(12))],
    [2, () => rng.int(1_000_000) - 500_000],
    [1, () => rng.next() * 1e6],
    [1, () => rng.chance(0.5)],
    [1, () => null],
    [depth < 3 ? 1 : 0, () => Array.from({ length: rng.int(4) }, () => anyValue(rng, depth + 1))],
    [depth < 3 ? 1 : 0, () => Object.fromEntries(Array.from({ length: rng.int(4) }, () => [rng.string(1 + rng.int(6)), anyValue(rng, depth + 1)]))],
    [1, () => rng.string(rng.int(8), UNICODE)],
  ])();
}

/** A value of a JSON type other than `type` ("string", "number", "object", "array", "boolean"). */
export function wrongType(rng, type) {
  const values = {
    string: () => rng.pick(["", "x", rng.string(5), "0", "null", "true"]),
    number: () => rng.pick([0, -1, 1.5, 42, 1e21, -1e21]),
    object: () => rng.pick([{}, { a: 1 }, { room: "x" }]),
    array: () => rng.pick([[], [1], ["x"], [null, {}]]),
    boolean: () => rng.chance(0.5),
    null: () => null,
  };
  return values[rng.pick(Object.keys(values).filter((t) => t !== type))]();
}

/** JSON number texts a parser may choke on. */
export const HUGE_NUMBERS = [
  "1e400", "-1e400", "1e-400", "123456789012345678901234567890", "-0", "9007199254740993",
  "18446744073709551616", "-9223372036854775809", "0.0000000000000000000000000001", "1E+308", "4.9e-324",
];

/** Nested arrays or objects `depth` deep, as JSON text. */
export function nested(rng, depth) {
  return rng.chance(0.5) ? "[".repeat(depth) + "]".repeat(depth) : '{"a":'.repeat(depth) + "1" + "}".repeat(depth);
}

/** `text` broken so that it is not JSON any more. */
export function breakJson(rng, text) {
  return rng.weighted([
    [3, () => text.slice(0, Math.max(1, rng.int(text.length)))],
    [2, () => {
      const at = rng.int(text.length);
      return text.slice(0, at) + rng.pick(["{", "}", "[", "]", ",", ":", '"', "\\", "'", "\u0000", "x"]) + text.slice(at);
    }],
    [1, () => text.replace(/"/g, "'")],
    [1, () => text.replace(/}$/, ",}")],
    [1, () => `${text}${text}`],
    [1, () => `/* c */${text}`],
    [1, () => text.replace(/:\s*[^,}]+/, ":NaN")],
    [1, () => text.replace(/:\s*[^,}]+/, ":undefined")],
    [1, () => rng.pick(["", " ", "{", "}", "[", "nul", "tru", '"', "{{}}", "{'a':1}", "\u0000"])],
  ])();
}

/** A JSON object text with key `key` set to raw JSON text `raw` (for values JSON.stringify cannot write). */
export function withRaw(object, key, raw) {
  const marker = '"__raw_value__"';
  return JSON.stringify({ ...object, [key]: JSON.parse(marker) }).replace(marker, raw);
}

// ---------------------------------------------------------------- native websocket frames

/** A well-formed client frame of the JSON protocol (docs/protocol.md). */
function goodNativeFrame(rng, n) {
  return rng.weighted([
    [5, () => ({ type: "publish", event: rng.pick(["chat", "e", "deploy", "x.y"]), data: anyValue(rng), transaction: `t${n}`, ...(rng.chance(0.3) ? { id: `key-${rng.int(50)}` } : {}) })],
    [1, () => ({ type: "status", status: rng.pick(["online", "idle", "offline"]), transaction: `t${n}` })],
    [1, () => ({ type: "focus", focus: rng.chance(0.8) ? rng.string(1 + rng.int(20)) : null, transaction: `t${n}` })],
    [1, () => ({ type: "ping", transaction: `t${n}` })],
  ])();
}

/**
 * `count` frames for a room's websocket: `{kind, text}` (a text frame), `{kind, binary}` (a
 * binary frame) or `{kind, bytes}` (a text frame whose bytes are not UTF-8).
 */
export function nativeFrames(rng, count, maxFrameBytes) {
  const frames = [];
  for (let n = 0; frames.length < count; n++) {
    const good = goodNativeFrame(rng, n);
    const kind = rng.weighted([
      [12, "invalid-json"], [6, "non-object"], [16, "wrong-type"], [6, "unknown-type"], [6, "huge-number"],
      [4, "deep-nesting"], [1, "oversize"], [4, "binary"], [4, "garbage-bytes"], [18, "bad-value"], [12, "valid"],
    ]);
    const frame = { kind };
    switch (kind) {
      case "invalid-json":
        frame.text = breakJson(rng, JSON.stringify(good));
        break;
      case "non-object":
        frame.text = rng.pick(["1", '"publish"', "null", "true", "[]", `[${JSON.stringify(good)}]`, '["publish","t1","chat",{},null]', String(rng.next()), JSON.stringify(rng.string(8))]);
        break;
      case "wrong-type": {
        const fields = { publish: { event: "string", id: "string", transaction: "string" }, status: { status: "string" }, focus: { focus: "string" }, ping: {} }[good.type];
        const field = rng.pick([...Object.keys(fields), "type", "transaction"]);
        frame.text = JSON.stringify({ ...good, [field]: field === "transaction" ? rng.pick([{}, [], true, null, "x".repeat(129)]) : wrongType(rng, fields[field] ?? "string") });
        break;
      }
      case "unknown-type":
        frame.text = JSON.stringify({ ...good, type: rng.pick(["", "PUBLISH", "subscribe", "received", "read", "join", "__proto__", "constructor", rng.string(6), "publish ", "pub\u0000lish"]) });
        break;
      case "huge-number":
        frame.text = withRaw(good, rng.pick(good.type === "publish" ? ["data", "transaction", "event", "id"] : ["transaction", "status", "focus", "seq"]), rng.pick(HUGE_NUMBERS));
        break;
      case "deep-nesting":
        frame.text = withRaw(good, rng.pick(["data", "transaction", "extra", "event"]), nested(rng, rng.pick([64, 128, 129, 1000, 10_000, 30_000])));
        break;
      case "oversize":
        frame.text = JSON.stringify({ ...good, type: "publish", event: "big", data: "x".repeat(maxFrameBytes + rng.int(maxFrameBytes)) });
        break;
      case "binary":
        frame.binary = rng.chance(0.5) ? rng.bytes(rng.int(200)) : Buffer.from(JSON.stringify(good));
        break;
      case "garbage-bytes": {
        const bad = rng.pick([[0xff], [0xc0, 0x80], [0xed, 0xa0, 0x80], [0xf8, 0x88, 0x80, 0x80, 0x80], [0xe2, 0x82]]);
        const text = Buffer.from(JSON.stringify(good));
        const at = rng.int(text.length);
        frame.bytes = Buffer.concat([text.subarray(0, at), Buffer.from(bad), text.subarray(at)]);
        break;
      }
      case "bad-value":
        frame.text = rng.weighted([
          [3, () => JSON.stringify({ ...good, type: "publish", event: rng.pick(["", "x".repeat(129), "a\u0000b", "new\nline", "\u007f"]) })],
          [2, () => JSON.stringify({ ...good, type: "publish", event: "e", id: rng.pick(["", "k".repeat(129), "a\u0001b", "é".repeat(65)]) })],
          [2, () => JSON.stringify({ type: "status", status: rng.pick(["away", "", "ONLINE", "online ", "busy"]), transaction: `t${n}` })],
          [1, () => JSON.stringify({ type: "focus", focus: rng.pick(["", "f".repeat(129), 7]) })],
          [1, () => JSON.stringify({ type: "ping", transaction: rng.pick(["x".repeat(129), -1, 1.5, "é".repeat(64)]) })],
          [1, () => '{"type":"publish","event":"e","type":"ping"}'],
          [1, () => '{"type":"publish","event":"\\ud800"}'],
          [1, () => '{"type":"publish","event":"e","id":"\\udfff"}'],
          [1, () => '{"__proto__":{"type":"publish"},"type":"status","status":"idle"}'],
          [1, () => JSON.stringify({ type: "publish", event: "e", data: "x", since: -1, seq: 1 })],
          [1, () => '{"type":"publish","event":"e","data":}'],
          [1, () => JSON.stringify({ type: "received", seq: rng.pick([0, 1, -1, 1e21]) })],
          [1, () => JSON.stringify({ type: "read", seq: 1, transaction: `t${n}` })],
        ])();
        break;
      default:
        frame.text = JSON.stringify(good);
    }
    frames.push(frame);
  }
  return frames;
}

// ---------------------------------------------------------------- tndata frames

/** `count` frames for a tndata conversation (docs/dialects.md#tndata). */
export function tndataFrames(rng, count, { self, maxFrameBytes }) {
  const frames = [];
  while (frames.length < count) {
    const good = rng.chance(0.7) ? { text: rng.string(1 + rng.int(30), `abc ${UNICODE}`) } : { received: rng.string(32, "0123456789abcdef") };
    const kind = rng.weighted([
      [10, "invalid-json"], [5, "non-object"], [12, "wrong-type"], [10, "bad-value"], [4, "huge-number"],
      [3, "deep-nesting"], [1, "oversize"], [3, "binary"], [3, "garbage-bytes"], [10, "valid"],
    ]);
    const frame = { kind };
    switch (kind) {
      case "invalid-json":
        frame.text = breakJson(rng, JSON.stringify(good));
        break;
      case "non-object":
        frame.text = rng.pick(["1", '"hello"', "null", "[]", '["hello"]', "false"]);
        break;
      case "wrong-type":
        frame.text = JSON.stringify(rng.chance(0.5) ? { text: wrongType(rng, "string") } : { received: wrongType(rng, "string") });
        break;
      case "bad-value":
        frame.text = JSON.stringify(rng.pick([
          { text: "" }, {}, { from: self }, { text: "x", from: `${self}-not` }, { text: "x", from: 42 }, { text: "x", from: null },
          { received: "" }, { received: "0".repeat(31) }, { received: "G".repeat(32) }, { received: "A".repeat(32) },
          { received: "f".repeat(32) }, { received: "0".repeat(16) + "ffffffffffffffff" }, { text: "x", received: "0".repeat(32) },
          { message: "hi" }, { text: "a\u0000b" }, { text: "x", token: "not-a-token" },
        ]));
        break;
      case "huge-number":
        frame.text = withRaw({ text: "x" }, rng.pick(["from", "text", "received"]), rng.pick(HUGE_NUMBERS));
        break;
      case "deep-nesting":
        frame.text = withRaw({ text: "x" }, rng.pick(["extra", "from", "text"]), nested(rng, rng.pick([128, 129, 5000])));
        break;
      case "oversize":
        frame.text = JSON.stringify({ text: "x".repeat(maxFrameBytes + 1 + rng.int(1000)) });
        break;
      case "binary":
        frame.binary = rng.bytes(1 + rng.int(100));
        break;
      case "garbage-bytes":
        frame.bytes = Buffer.concat([Buffer.from('{"text":"'), Buffer.from([0xff, 0xfe, 0xc3]), Buffer.from('"}')]);
        break;
      default:
        frame.text = JSON.stringify({ text: rng.string(1 + rng.int(30), `abc ${UNICODE}`), ...(rng.chance(0.3) ? { from: self } : {}) });
    }
    frames.push(frame);
  }
  return frames;
}

// ---------------------------------------------------------------- Engine.IO and Socket.IO

/** Each Socket.IO dialect's route and a well-formed event of it (docs/socketio.md, docs/dialects.md). */
export const DIALECTS = {
  native: { path: "/v1/socket.io/" },
  alert: { path: "/socket.io/" },
  "3drepo": { path: "/chat/" },
  workspace: { path: "/workspace/socket.io/" },
};

/** A well-formed event `[name, arg]` of `dialect`, for a session that is set up (joined, authenticated). */
function goodEvent(rng, dialect, ctx) {
  switch (dialect) {
    case "native":
      return rng.pick([
        ["join", { room: ctx.room }],
        ["publish", { room: ctx.room, event: "chat", data: anyValue(rng), id: `sio-${rng.int(1000)}` }],
        ["leave", { room: ctx.room }],
      ]);
    case "alert":
      return rng.pick([["joined", { name: "Ann", room: ctx.room }], ["text", { name: "Ann", msg: rng.string(10) }], ["left", { name: "Ann" }]]);
    case "3drepo":
      return rng.pick([["join", { notifications: true }], ["join", { teamspace: "acme", project: "p1", model: ctx.room }], ["leave", { notifications: true }]]);
    default:
      return rng.pick([
        ["select-channel", { channelId: `c${rng.int(5)}`, userMediaState: { audio: rng.chance(0.5) } }],
        ["unselect-channel", {}],
        ["update-online-status", { onlineStatus: rng.pick(["online", "idle", "offline"]) }],
        ["update-media-state", { userMediaState: { video: true } }],
      ]);
  }
}

/** The event that puts a fresh session of `dialect` in a state where its other events mean something. */
function setupEvent(dialect, ctx) {
  switch (dialect) {
    case "native":
      return ["join", { room: ctx.room }];
    case "alert":
      return ["joined", { name: "Ann", room: ctx.room }];
    case "3drepo":
      return ["join", { notifications: true }];
    default:
      return ["auth", { token: ctx.token, workspaceId: ctx.room, transaction: "setup" }];
  }
}

/** `arg` with one field broken: missing, of the wrong type, or with a bad value. */
function breakArgument(rng, arg) {
  const keys = Object.keys(arg);
  if (keys.length === 0 || rng.chance(0.2)) return { extra: anyValue(rng) };
  const key = rng.pick(keys);
  const copy = { ...arg };
  rng.weighted([
    [2, () => delete copy[key]],
    [3, () => (copy[key] = wrongType(rng, typeof arg[key] === "string" ? "string" : Array.isArray(arg[key]) ? "array" : typeof arg[key]))],
    [3, () => (copy[key] = rng.pick(["", "x".repeat(129), "x".repeat(5000), "-bad-", "a/b", "sessions:x", "inbox:someone-else", "a\u0000b", "é".repeat(100), " "]))],
    [1, () => (copy[key] = rng.pick([1e21, -1, 1.5, 0]))],
  ])();
  return copy;
}

/** A Socket.IO EVENT packet text: `42[ack id]["name", ...args]`. */
const event = (ackId, args) => `42${ackId ?? ""}${JSON.stringify(args)}`;

/**
 * `count` Socket.IO cases over `dialects`: `{dialect, transport, kind, connect, packets, acks}`.
 * `connect` is the CONNECT packet to send first (null: none); `packets` are the case's own
 * (strings: text packets; Buffers: binary attachments); `acks` the ack ids the server owes.
 */
export function socketioCases(rng, count, ctxFor) {
  const cases = [];
  const names = Object.keys(DIALECTS);
  while (cases.length < count) {
    const dialect = names[cases.length % names.length];
    const ctx = ctxFor(dialect, cases.length);
    const transport = rng.chance(0.6) ? "websocket" : "polling";
    const auth = dialect === "native" || dialect === "3drepo" ? JSON.stringify({ token: ctx.token }) : "";
    const connect = `40${auth}`;
    const ackId = 1 + rng.int(1000);
    const setup = setupEvent(dialect, ctx);
    const kind = rng.weighted([
      [8, "wrong-argument"], [5, "unknown-event"], [4, "bad-ack-id"], [5, "bad-payload"], [5, "binary-placeholder"],
      [4, "bad-namespace"], [3, "bad-connect"], [3, "packet-type"], [3, "engine-packet"], [5, "valid"],
    ]);
    let packets;
    let acks = [];
    let withConnect = connect;
    switch (kind) {
      case "wrong-argument": {
        const [name, arg] = rng.chance(0.3) ? setup : goodEvent(rng, dialect, ctx);
        const broken = rng.weighted([
          [5, () => [name, breakArgument(rng, arg)]],
          [1, () => [name]],
          [1, () => [name, arg, arg]],
          [1, () => [name, rng.pick(["room", 7, null, true, [arg]])]],
        ])();
        packets = [event(900, setup), event(ackId, broken)];
        acks = [900, ackId];
        break;
      }
      case "unknown-event":
        packets = [event(ackId, [rng.pick(["", "connect", "disconnect", "error", "message", "JOIN", "__proto__", "newListener", rng.string(8), "x".repeat(300)]), anyValue(rng)])];
        acks = [ackId];
        break;
      case "bad-ack-id":
        packets = [`42${rng.pick(["abc", "-1", "1.5", "99999999999999999999999", "1e3", "0x10", " 1"])}${JSON.stringify(goodEvent(rng, dialect, ctx))}`];
        break;
      case "bad-payload":
        packets = [rng.pick([`42{}`, `42"join"`, "42[]", "42[1]", "42[null]", "42[", '42["x"', "42", '42["join",]', "42null", `42${nested(rng, 200)}`, `42["x",${nested(rng, 129)}]`, '42["x"]trailing'])];
        break;
      case "binary-placeholder": {
        const [name, arg] = goodEvent(rng, dialect, ctx);
        const placeholder = (num) => ({ _placeholder: true, num });
        const variant = rng.pick(["missing", "bad-num", "too-many", "count-mismatch", "not-object", "extra", "string-num", "no-count", "valid"]);
        const bin = () => rng.bytes(1 + rng.int(16));
        if (variant === "missing") packets = [`451-${JSON.stringify([name, placeholder(0)])}`];
        else if (variant === "bad-num") packets = [`451-${JSON.stringify([name, placeholder(rng.pick([1, 5, -1, 1e21]))])}`, bin()];
        else if (variant === "too-many") packets = [`4511-${JSON.stringify([name, ...Array.from({ length: 11 }, (_, i) => placeholder(i))])}`, ...Array.from({ length: 11 }, bin)];
        else if (variant === "count-mismatch") packets = [`452-${JSON.stringify([name, placeholder(0)])}`, bin()];
        else if (variant === "not-object") packets = [`451-${JSON.stringify([name, { _placeholder: "yes", num: 0 }])}`, bin()];
        else if (variant === "extra") packets = [`451-${JSON.stringify([name, arg])}`, bin(), bin()];
        else if (variant === "string-num") packets = [`451-${JSON.stringify([name, placeholder("0")])}`, bin()];
        else if (variant === "no-count") packets = [`45-${JSON.stringify([name, placeholder(0)])}`, bin()];
        else packets = [`451-${ackId}${JSON.stringify([name, { ...arg, blob: placeholder(0) }])}`, bin()];
        if (variant === "valid") acks = [ackId];
        break;
      }
      case "bad-namespace":
        packets = [rng.pick([`40/admin,`, `40/${rng.string(5)},{}`, `42/admin,["x"]`, `41/nope,`, "40/,", "40//,", `40${"/".repeat(300)},`, "40/admin"])];
        break;
      case "bad-connect":
        withConnect = rng.pick(['40"token"', "40[1]", '40{"token":5}', "40{bad", "40null", `40${JSON.stringify({ token: "x".repeat(20000) })}`, `40${nested(rng, 500)}`, "40/,{}", "4"]);
        packets = [];
        break;
      case "packet-type":
        packets = [rng.pick(["47", "48[]", "4a", "4/", "44{}", "43[]", `43${ackId}[]`, `46${ackId}-[]`, "41", '41{"x":1}', "40"])];
        break;
      case "engine-packet":
        packets = [rng.pick(["2", "2probe", "3", "5", "6", "0", "0{}", "1", "7", "9", "x", ""])];
        break;
      default: {
        const [name, arg] = goodEvent(rng, dialect, ctx);
        packets = [event(900, setup), event(ackId, [name, arg])];
        acks = [900, ackId];
      }
    }
    cases.push({ dialect, transport, kind, connect: withConnect, packets, acks });
  }
  return cases;
}

/** Engine.IO requests outside any session's order: handshakes, sids, methods (docs/socketio.md#engineio). */
export function engineRequests(rng, count, maxPayload) {
  const paths = Object.values(DIALECTS).map((d) => d.path);
  const requests = [];
  while (requests.length < count) {
    const path = rng.pick(paths).replace(/\/$/, rng.chance(0.5) ? "/" : "");
    const kind = rng.weighted([[3, "query"], [3, "sid"], [2, "method"], [2, "payload"], [1, "oversize"], [1, "concurrent-get"]]);
    const request = { kind, path };
    switch (kind) {
      case "query":
        request.method = "GET";
        request.query = rng.pick(["", "EIO=3&transport=polling", "EIO=5&transport=polling", "EIO=abc&transport=polling", "EIO=4", "EIO=4&transport=flashsocket", "EIO=4&transport=", "transport=polling", "EIO=4&EIO=3&transport=polling", "EIO=%FF&transport=polling", "EIO=4&transport=polling&sid="]);
        break;
      case "sid":
        request.method = rng.pick(["GET", "POST"]);
        request.query = `EIO=4&transport=polling&sid=${rng.pick(["", "x", "0000000000000000.0000000000000000", rng.string(33, "0123456789abcdef"), "../../etc", "a".repeat(5000), "%00", `${rng.string(16, "0123456789abcdef")}.${rng.string(16, "0123456789abcdef")}`])}`;
        request.body = request.method === "POST" ? "40" : undefined;
        break;
      case "method":
        request.method = rng.pick(["POST", "PUT", "DELETE", "PATCH"]);
        request.query = "EIO=4&transport=polling";
        request.body = request.method === "DELETE" ? undefined : "40";
        break;
      case "payload":
        request.method = "POST";
        request.session = true;
        request.body = rng.pick(["", "\u001e", "\u001e\u001e", "b", "b!!!!", "b" + "A".repeat(7), "4", "7", "x", "40\u001ex", "\u0000", "40\u001e42[\"x\"]\u001e2", "4".repeat(1000)]);
        break;
      case "oversize":
        request.method = "POST";
        request.session = true;
        request.body = `4${"x".repeat(maxPayload + 10)}`;
        break;
      default:
        request.method = "GET";
        request.session = true;
        request.concurrent = true;
    }
    requests.push(request);
  }
  return requests;
}

// ---------------------------------------------------------------- REST

/** Every REST route (README, docs/api.md, docs/notifications.md) and a well-formed request to it. */
export function restRoutes(ctx) {
  return [
    { name: "ping", method: "GET", allow: ["GET", "HEAD"], path: () => "/api/v1/ping", token: null },
    { name: "publish", method: "POST", allow: ["GET", "POST"], path: (r) => `/v1/rooms/${r}/messages`, room: ctx.room, body: () => ({ event: "chat", data: { text: "hi" } }), idempotent: true, socketId: true },
    { name: "history", method: "GET", allow: ["GET", "POST"], path: (r) => `/v1/rooms/${r}/messages`, room: ctx.room, query: { after: "0", before: "1000", limit: "10" } },
    { name: "presence", method: "GET", path: (r) => `/v1/rooms/${r}/presence`, room: ctx.room },
    { name: "ws-without-upgrade", method: "GET", path: (r) => `/v1/rooms/${r}/ws`, room: ctx.room, query: { since: "0" } },
    { name: "chat-history", method: "GET", path: (u) => `/api/chat/${u}/`, user: "someone", query: { order: "newest", limit: "20", cursor: "5" } },
    { name: "logout", method: "POST", path: (u) => `/v1/users/${u}/logout`, user: "someone", admin: true, body: () => ({ reason: "bye" }) },
    { name: "send", method: "POST", path: () => "/api/v1/send", body: (rng) => ({ msg: "hello", uid: `u${rng.int(20)}`, opts: { urgency: "low", data: { n: 1 }, ttl: 60, channels: [] } }), idempotent: true },
    { name: "subscribe", method: "POST", path: () => "/api/v1/native/subscribe", body: (rng) => rng.pick([{ os: "ios", token: "a".repeat(64) }, { os: "android", token: "fcm-token-123456789012345678901234" }, { endpoint: "https://push.example.com/x", expirationTime: null, keys: { p256dh: `B${"A".repeat(86)}`, auth: "A".repeat(22) } }]) },
    { name: "contacts-put", method: "PUT", allow: ["GET", "PUT"], path: (u) => `/api/v1/users/${u}/contacts`, user: ctx.self, body: () => ({ email: "ann@example.com", phone: "+15550100", quiet_hours: { start: "22:00", end: "07:00", utc_offset_minutes: 60 }, channels: ["email"] }) },
    { name: "contacts-get", method: "GET", allow: ["GET", "PUT"], path: (u) => `/api/v1/users/${u}/contacts`, user: ctx.self },
    { name: "inbox", method: "GET", path: () => "/api/v1/inbox", query: { before: "10", limit: "20" } },
    { name: "inbox-read", method: "POST", path: () => "/api/v1/inbox/read", body: () => ({ seq: 0 }) },
    { name: "multicast", method: "POST", path: () => "/api/v1/multicast", admin: true, body: (rng) => ({ msg: "m", uids: [`u${rng.int(20)}`, `u${rng.int(20)}`], opts: { urgency: 2, channels: [] } }), idempotent: true },
    { name: "broadcast", method: "POST", path: () => "/api/v1/broadcast", admin: true, body: () => ({ msg: "b", opts: { channels: [] } }), idempotent: true, neverValid: true },
    { name: "dead-letters", method: "GET", path: () => "/api/v1/admin/dead-letters", admin: true, query: { limit: "10", cursor: "5" } },
  ];
}

const BAD_IDS = ["", "-lead", ".dot", "a".repeat(129), "a/b", "a%2Fb", "a b", "a%20b", "é", "%E9", "%zz", "%FF", "..", "a%00b", "a\u0000b", "sessions:x", "inbox:other", "tndata:a:b", "🙂"];

/**
 * `count` REST requests: `{route, kind, method, path, query, headers, body (string|Buffer), token}`
 * where `token` is "user", "admin", "none" or a string. Each is a well-formed request with one
 * thing broken (a few are left whole, as controls).
 */
export function restRequests(rng, count, ctx) {
  const routes = restRoutes(ctx);
  const requests = [];
  while (requests.length < count) {
    const route = routes[requests.length % routes.length];
    const request = {
      route: route.name,
      method: route.method,
      id: route.room ?? route.user,
      query: { ...(route.query ?? {}) },
      headers: {},
      body: route.body ? JSON.stringify(route.body(rng)) : undefined,
      token: route.token === null ? "none" : route.admin ? "admin" : "user",
    };
    const kinds = [
      [route.body ? 6 : 0, "malformed-json"], [route.body ? 4 : 0, "non-object"], [route.body ? 8 : 0, "wrong-type"], [route.body ? 5 : 0, "missing-field"],
      [route.body ? 3 : 0, "unknown-field"], [route.body ? 1 : 0, "oversize"], [route.body ? 2 : 0, "not-utf8"], [route.body ? 2 : 0, "huge-number"], [route.body ? 1 : 0, "deep-nesting"],
      [route.id !== undefined ? 5 : 0, "bad-id"], [3, "wrong-method"], [route.idempotent ? 3 : 0, "bad-idempotency-key"], [route.socketId ? 2 : 0, "bad-socket-id"],
      [route.query ? 6 : 0, "bad-query"], [2, "token"], [route.admin ? 2 : 0, "not-admin"], [route.neverValid ? 0 : 2, "valid"], [1, "content-type"],
    ];
    request.kind = rng.weighted(kinds);
    const body = request.body === undefined ? undefined : JSON.parse(request.body);
    const leaves = body ? paths(body) : [];
    switch (request.kind) {
      case "malformed-json":
        request.body = breakJson(rng, request.body);
        break;
      case "non-object":
        request.body = rng.pick(["[]", "[1,2]", '"text"', "42", "null", "true", JSON.stringify([body])]);
        break;
      case "wrong-type": {
        const path = rng.pick(leaves);
        request.body = JSON.stringify(setPath(body, path, wrongType(rng, typeOf(getPath(body, path)))));
        request.field = path.join(".");
        break;
      }
      case "missing-field": {
        const path = rng.pick(leaves);
        request.body = JSON.stringify(deletePath(body, path));
        request.field = path.join(".");
        break;
      }
      case "unknown-field":
        request.body = JSON.stringify({ ...body, [rng.pick(["extra", "__proto__", "constructor", "Msg", rng.string(5)])]: anyValue(rng) });
        break;
      case "oversize":
        request.body = JSON.stringify({ ...body, [Object.keys(body)[0]]: "x".repeat(ctx.maxFrameBytes + 1 + rng.int(ctx.maxFrameBytes)) });
        break;
      case "not-utf8":
        request.body = Buffer.concat([Buffer.from(request.body.slice(0, -2)), Buffer.from([0xff, 0xc3, 0x28]), Buffer.from(request.body.slice(-2))]);
        break;
      case "huge-number": {
        const path = rng.pick(leaves);
        const marker = "__huge__";
        request.body = JSON.stringify(setPath(body, path, marker)).replace(`"${marker}"`, rng.pick(HUGE_NUMBERS));
        request.field = path.join(".");
        break;
      }
      case "deep-nesting": {
        const path = rng.pick(leaves);
        const marker = "__deep__";
        request.body = JSON.stringify(setPath(body, path, marker)).replace(`"${marker}"`, nested(rng, rng.pick([128, 129, 1000, 20_000])));
        break;
      }
      case "bad-id":
        request.id = rng.pick(BAD_IDS);
        break;
      case "wrong-method":
        request.method = rng.pick(["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD", "TRACE", "PROPFIND"].filter((m) => m !== route.method));
        break;
      case "bad-idempotency-key":
        request.headers["idempotency-key"] = rng.pick(["", "k".repeat(129), "é", "a b", "\t", "k".repeat(5000), " lead"]);
        break;
      case "bad-socket-id":
        request.headers["x-socket-id"] = rng.pick(["", "x".repeat(5000), "not a socket", "0".repeat(32), "é"]);
        break;
      case "bad-query": {
        const keys = Object.keys(route.query ?? { limit: 1 });
        const key = rng.chance(0.8) ? rng.pick(keys) : rng.pick(["after", "limit", "x"]);
        request.query[key] = rng.pick(["", "-1", "abc", "1e3", "1.5", "0", "1001", "99999999999999999999", "0x10", "%zz", "NaN", " 1", "1 ", "+1", "sideways", "9007199254740993"]);
        if (rng.chance(0.2)) request.repeat = key;
        break;
      }
      case "token":
        request.token = rng.pick(["none", "garbage", "expired", "Basic", "empty"]);
        break;
      case "not-admin":
        request.token = "user";
        break;
      case "content-type":
        request.headers["content-type"] = rng.pick(["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/json; charset=latin1", ""]);
        break;
      default:
    }
    requests.push(request);
  }
  return requests;
}

function typeOf(value) {
  return value === null ? "null" : Array.isArray(value) ? "array" : typeof value;
}

/** Paths to every value in `value` (objects and arrays included, the root excluded). */
function paths(value, prefix = []) {
  if (value === null || typeof value !== "object") return [];
  return Object.entries(value).flatMap(([k, v]) => [[...prefix, k], ...paths(v, [...prefix, k])]);
}

function getPath(value, path) {
  return path.reduce((v, k) => v?.[k], value);
}

function setPath(value, path, to) {
  if (path.length === 0) return to;
  const copy = Array.isArray(value) ? [...value] : { ...value };
  copy[path[0]] = setPath(value[path[0]], path.slice(1), to);
  return copy;
}

function deletePath(value, path) {
  const copy = Array.isArray(value) ? [...value] : { ...value };
  if (path.length === 1) delete copy[path[0]];
  else copy[path[0]] = deletePath(value[path[0]], path.slice(1));
  return copy;
}

// ---------------------------------------------------------------- tokens

const b64 = (data) => Buffer.from(typeof data === "string" ? data : JSON.stringify(data)).toString("base64url");

/**
 * The keys a token test configures Herald with (JWT_SECRET, JWT_PUBLIC_KEYS with an ES256 and an
 * EdDSA key, JWT_ISSUER, JWT_AUDIENCE), and keys it does not know.
 */
export function tokenKeys(secret) {
  const es = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const ed = generateKeyPairSync("ed25519");
  const otherEs = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const otherEd = generateKeyPairSync("ed25519");
  const esJwk = { ...es.publicKey.export({ format: "jwk" }), kid: "es1" };
  const edJwk = { ...ed.publicKey.export({ format: "jwk" }), kid: "ed1" };
  return {
    secret,
    issuer: "https://issuer.herald.test",
    audience: "herald-reliability",
    publicKeys: JSON.stringify({ keys: [esJwk, edJwk] }),
    es: es.privateKey,
    ed: ed.privateKey,
    otherEs: otherEs.privateKey,
    otherEd: otherEd.privateKey,
    esJwk,
    esPem: es.publicKey.export({ format: "pem", type: "spki" }),
  };
}

/** A JWS of `header` and `claims` signed as `how` says ("hs" with a secret, "es"/"ed" with a key, "raw" a given signature). */
export function jws(header, claims, how) {
  const head = typeof header === "string" ? b64(header) : b64(header);
  const body = typeof claims === "string" ? b64(claims) : b64(claims);
  const input = `${head}.${body}`;
  let signature;
  if (how.hs !== undefined) signature = createHmac(how.hash ?? "sha256", how.hs).update(input).digest("base64url");
  else if (how.es) signature = cryptoSign("sha256", Buffer.from(input), { key: how.es, dsaEncoding: how.der ? "der" : "ieee-p1363" }).toString("base64url");
  else if (how.ed) signature = cryptoSign(null, Buffer.from(input), how.ed).toString("base64url");
  else signature = how.raw ?? "";
  return `${input}.${signature}`;
}

/**
 * Tokens: `{name, token, expect}` where `expect` is "accept" (the controls), a code the refusal
 * must carry, or "refuse" (refused, with any token code). Random garbage comes from `rng`.
 */
export function tokenCases(rng, keys, count) {
  const now = Math.floor(Date.now() / 1000);
  const claims = (extra = {}) => ({ sub: `tok-user-${rng.int(1000)}`, iat: now, exp: now + 600, iss: keys.issuer, aud: keys.audience, ...extra });
  const hs = (header, body, secret = keys.secret) => jws({ alg: "HS256", typ: "JWT", ...header }, body, { hs: secret });
  const cases = [
    { name: "control: HS256", token: hs({}, claims()), expect: "accept" },
    { name: "control: ES256", token: jws({ alg: "ES256", kid: "es1" }, claims(), { es: keys.es }), expect: "accept" },
    { name: "control: EdDSA", token: jws({ alg: "EdDSA", kid: "ed1" }, claims(), { ed: keys.ed }), expect: "accept" },
    { name: "control: aud in a list", token: hs({}, claims({ aud: ["other", keys.audience] })), expect: "accept" },
  ];
  const refuse = (name, token, expect = "token_invalid") => cases.push({ name, token, expect });
  const good = hs({}, claims());
  const [h, p, s] = good.split(".");
  refuse("forged signature (one character changed)", `${h}.${p}.${s.slice(0, -2)}${s.at(-2) === "A" ? "B" : "A"}${s.at(-1)}`);
  refuse("forged signature (random)", `${h}.${p}.${rng.bytes(32).toString("base64url")}`);
  refuse("claims changed after signing", `${h}.${b64({ ...claims(), sub: "admin", role: "admin" })}.${s}`);
  refuse("no signature segment", `${h}.${p}`, "refuse");
  refuse("empty signature", `${h}.${p}.`);
  for (const alg of ["none", "None", "NONE", "nOnE"]) refuse(`alg: ${alg}`, jws({ alg, typ: "JWT" }, claims(), { raw: "" }));
  refuse("alg: none with a signature", jws({ alg: "none" }, claims(), { raw: s }));
  for (const alg of ["HS384", "HS512"]) refuse(`alg: ${alg} (signed)`, jws({ alg }, claims(), { hs: keys.secret, hash: alg === "HS384" ? "sha384" : "sha512" }));
  for (const alg of ["RS256", "PS256", "ES384", "ES512", "", "hs256", "HS256 "]) refuse(`alg: ${JSON.stringify(alg)}`, jws({ alg }, claims(), { hs: keys.secret }));
  refuse("no alg", jws({ typ: "JWT" }, claims(), { hs: keys.secret }));
  refuse("alg not a string", jws({ alg: ["HS256"] }, claims(), { hs: keys.secret }));
  refuse("wrong secret", hs({}, claims(), "another-secret-that-is-at-least-32-bytes-long"));
  refuse("empty secret", hs({}, claims(), ""));
  refuse("ES256 by another key, known kid", jws({ alg: "ES256", kid: "es1" }, claims(), { es: keys.otherEs }));
  refuse("ES256 naming no configured kid", jws({ alg: "ES256", kid: "nope" }, claims(), { es: keys.es }));
  refuse("ES256 by another key, no kid", jws({ alg: "ES256" }, claims(), { es: keys.otherEs }));
  refuse("ES256 with a DER signature", jws({ alg: "ES256", kid: "es1" }, claims(), { es: keys.es, der: true }));
  refuse("EdDSA by another key", jws({ alg: "EdDSA", kid: "ed1" }, claims(), { ed: keys.otherEd }));
  refuse("EdDSA naming the ES256 key", jws({ alg: "EdDSA", kid: "es1" }, claims(), { ed: keys.ed }));
  refuse("alg confusion: HS256 keyed with the public JWK", jws({ alg: "HS256", kid: "es1" }, claims(), { hs: JSON.stringify(keys.esJwk) }));
  refuse("alg confusion: HS256 keyed with the public PEM", jws({ alg: "HS256", kid: "es1" }, claims(), { hs: keys.esPem }));
  refuse("crit header", hs({ crit: ["exp"] }, claims()));
  refuse("header not JSON", `${b64("{alg:HS256")}.${p}.${s}`);
  refuse("claims not JSON", jws({ alg: "HS256" }, "{sub:1", { hs: keys.secret }));
  refuse("claims an array", jws({ alg: "HS256" }, JSON.stringify([claims()]), { hs: keys.secret }));
  refuse("header an array", jws('["HS256"]', claims(), { hs: keys.secret }));
  refuse("padded base64", good.replace(/\./g, "=."));
  refuse("standard base64 alphabet", `${h}.${Buffer.from(JSON.stringify({ ...claims(), name: "??>>??" })).toString("base64")}.${s}`);
  refuse("four segments", `${good}.${s}`, "refuse");
  for (const exp of [now - 3600, now - 45, now - 86400 * 365, 1]) refuse(`expired (exp ${exp - now} s from now)`, hs({}, claims({ exp, iat: exp - 60 })), "token_expired");
  refuse("not yet valid (nbf in an hour)", hs({}, claims({ nbf: now + 3600 })), "token_not_yet_valid");
  refuse("not yet valid (nbf in 45 s)", hs({}, claims({ nbf: now + 45 })), "token_not_yet_valid");
  refuse("lifetime of two days", hs({}, claims({ exp: now + 2 * 86400 })));
  refuse("no iat and a lifetime past a day", hs({}, { ...claims({ exp: now + 86400 + 600 }), iat: undefined }));
  refuse("exp a century ahead", hs({}, claims({ exp: now + 100 * 365 * 86400 })));
  refuse("iat in the future", hs({}, claims({ iat: now + 3600, exp: now + 7200 })));
  refuse("no exp", hs({}, { ...claims(), exp: undefined }));
  // RFC 7519 lets a NumericDate have a fraction: whether one is taken is left to Herald.
  cases.push({ name: "exp with a fraction", token: hs({}, claims({ exp: now + 600.5 })), expect: "either" });
  for (const exp of [String(now + 600), -1, 1e20, null, true, [now + 600]]) refuse(`exp ${JSON.stringify(exp)}`, hs({}, claims({ exp })), typeof exp === "number" && exp > 0 && exp < now ? "token_expired" : "refuse");
  refuse("exp 1e400", jws({ alg: "HS256" }, JSON.stringify(claims()).replace(/"exp":\d+/, '"exp":1e400'), { hs: keys.secret }));
  for (const sub of [undefined, "", 42, null, "s".repeat(129), "a\u0000b", "line\nbreak", ["a"], {}]) refuse(`sub ${JSON.stringify(sub)?.slice(0, 20)}`, hs({}, claims({ sub })));
  refuse("name of 257 bytes", hs({}, claims({ name: "n".repeat(257) })));
  refuse("avatar of 1025 bytes", hs({}, claims({ avatar: "a".repeat(1025) })));
  for (const iss of [undefined, "https://other.test", "", ["https://issuer.herald.test"], 1]) refuse(`iss ${JSON.stringify(iss)}`, hs({}, claims({ iss })));
  for (const aud of [undefined, "other-service", "", [], ["other"], 7, "HERALD-RELIABILITY"]) refuse(`aud ${JSON.stringify(aud)}`, hs({}, claims({ aud })));
  for (const garbage of ["x", "a.b.c", "..", "....", "null", "Bearer x", " ", "eyJ.eyJ.eyJ", good.slice(0, 40), good.split("").reverse().join("")]) {
    refuse(`garbage ${JSON.stringify(garbage.slice(0, 16))}`, garbage, "refuse");
  }
  while (cases.length < count) {
    // Random structure: random segments, random claims under a valid signature with a defect.
    const roll = rng.int(4);
    if (roll === 0) refuse("random segments", Array.from({ length: rng.range(1, 5) }, () => rng.bytes(rng.int(40)).toString("base64url")).join("."), "refuse");
    else if (roll === 1) refuse("random bytes", rng.string(1 + rng.int(300), "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_."), "refuse");
    else if (roll === 2) refuse("random signature", `${h}.${b64(claims({ n: rng.int(1e6) }))}.${rng.bytes(32).toString("base64url")}`);
    else refuse("expired, random age", hs({}, claims({ exp: now - 45 - rng.int(86400 * 30), iat: now - 86400 * 31 })), "token_expired");
  }
  return cases;
}

// ---------------------------------------------------------------- origins

/**
 * Origins for the cookie route and CORS, given ALLOWED_ORIGINS (below): `{origin, expect}`,
 * `expect` "forbidden" or "allowed", or "either" where the rules leave it to Herald (reported,
 * not asserted).
 */
export const ALLOWED_ORIGINS = "https://app.example.com http://localhost:* https://*.example.org";

export function originCases(rng, count) {
  const cases = [
    { origin: "https://app.example.com", expect: "allowed" },
    { origin: "http://localhost:5173", expect: "allowed" },
    { origin: "https://team.example.org", expect: "allowed" },
    { origin: "null", expect: "forbidden" },
    { origin: "http://app.example.com", expect: "forbidden" },
    { origin: "https://app.example.com:8443", expect: "forbidden" },
    { origin: "https://app.example.com.evil.test", expect: "forbidden" },
    { origin: "https://evilapp.example.com", expect: "forbidden" },
    { origin: "https://example.org.evil.test", expect: "forbidden" },
    { origin: "https://evilexample.org", expect: "forbidden" },
    { origin: "http://team.example.org", expect: "forbidden" },
    { origin: "http://localhost.evil.test:3000", expect: "forbidden" },
    { origin: "https://localhost:5173", expect: "forbidden" },
    { origin: "http://127.0.0.1:5173", expect: "forbidden" },
    { origin: "file://", expect: "forbidden" },
    { origin: "chrome-extension://abcdef", expect: "forbidden" },
    { origin: "", expect: "either" },
    { origin: "https://example.org", expect: "either" },
    { origin: "https://a.b.example.org", expect: "either" },
    { origin: "HTTPS://APP.EXAMPLE.COM", expect: "either" },
    { origin: "https://app.example.com/", expect: "either" },
    { origin: "http://localhost", expect: "either" },
  ];
  while (cases.length < count) {
    const host = `${rng.string(1 + rng.int(10))}.${rng.pick(["evil.test", "example.net", "com", "example.com.evil.test", "org"])}`;
    cases.push({ origin: `${rng.pick(["https", "http"])}://${host}${rng.chance(0.3) ? `:${rng.range(1, 65535)}` : ""}`, expect: "forbidden" });
  }
  return cases;
}
