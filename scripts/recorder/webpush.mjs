// The recorder's Web Push: it plays both the browser that subscribes (it makes subscriptions
// and keeps their private keys) and the push service their endpoints name
// (`POST /push/{id}`), checking each message as push services do (RFC 8030 headers, VAPID of
// RFC 8292) and decrypting it as the browser would (RFC 8291), so a test reads the plaintext.
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { decodeJwt, verifiesEs256, p256PublicKey, p256PrivateKey, p256Raw, b64url, unb64url } from "./jwt.mjs";
import { decryptContent, webPushIkm } from "./ece.mjs";

export const PUSH_PATH = /^\/push\/([^/]+)$/;

/** RFC 8292 §2: a VAPID JWT's `exp` is at most 24 hours ahead. */
const MAX_EXP_AHEAD_S = 24 * 3600;
/** What push services accept as a message body (RFC 8030 §7.2 asks for at least 4096). */
const MAX_BODY = 4096;
const URGENCIES = ["very-low", "low", "normal", "high"];

/** What a failure on command answers when no body is given (push services answer in text). */
const DEFAULT_TEXTS = {
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "push subscription not found",
  410: "push subscription has unsubscribed or expired.",
  413: "Payload Too Large",
  429: "Too Many Requests",
  500: "Internal Server Error",
  503: "Service Unavailable",
};

/**
 * Web Push with `vapidPublicKey` (base64url, when given) as the application server key every
 * subscription was made with.
 */
export function createWebPush({ vapidPublicKey } = {}) {
  const subscriptions = new Map(); // id → {privateKey, publicRaw, auth}

  /**
   * A new subscription, as `PushSubscription.toJSON()` gives it, under `origin`. With `keys`
   * `{privateKey, p256dh, auth}` (base64url) the subscription has those keys (a known-answer
   * test); otherwise fresh ones.
   */
  function subscribe(origin, keys) {
    const id = randomBytes(12).toString("base64url");
    let privateKey, publicRaw, auth;
    if (keys?.privateKey) {
      publicRaw = unb64url(keys.p256dh);
      privateKey = p256PrivateKey(keys.privateKey, publicRaw);
      auth = unb64url(keys.auth);
    } else {
      privateKey = generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey;
      publicRaw = p256Raw(privateKey);
      auth = randomBytes(16);
    }
    subscriptions.set(id, { privateKey, publicRaw, auth });
    return { endpoint: `${origin}/push/${id}`, expirationTime: null, keys: { p256dh: b64url(publicRaw), auth: b64url(auth) } };
  }

  /** `[status, why]` of a refused VAPID authorization, or null (RFC 8292 §2–3). */
  function checkVapid(authorization, origins, now) {
    if (!authorization) return [401, "no Authorization header (VAPID)"];
    const params = /^vapid\s+(.+)$/i.exec(authorization);
    if (!params) return [401, "the Authorization scheme is not vapid"];
    const fields = Object.fromEntries(params[1].split(",").map((p) => p.trim().split("=")).map(([k, ...v]) => [k.toLowerCase(), v.join("=")]));
    if (!fields.t || !fields.k) return [401, "the vapid authorization lacks t= or k="];
    const key = p256PublicKey(fields.k);
    if (!key) return [401, "k is not an uncompressed P-256 public key"];
    if (vapidPublicKey && fields.k !== vapidPublicKey) {
      return [403, "the key in the authorization header does not correspond to the sender used to subscribe this user"];
    }
    const jwt = decodeJwt(fields.t);
    if (typeof jwt === "string") return [403, `t is ${jwt}`];
    if (!verifiesEs256(jwt, key)) return [403, "the JWT's ES256 signature does not verify with k"];
    const { aud, exp, sub } = jwt.claims;
    if (!origins.includes(aud)) return [403, `aud ${aud} is not this push service's origin (${origins[0]})`];
    if (!Number.isInteger(exp) || exp <= now) return [403, `exp ${exp} is past`];
    if (exp - now > MAX_EXP_AHEAD_S) return [403, `exp is ${exp - now} s ahead (at most ${MAX_EXP_AHEAD_S})`];
    // Apple refuses a subject that is not a real contact (a local or reserved mail domain).
    const mail = /^mailto:\s*[^@\s]+@([^@\s]+\.[^@\s.]+)$/i.exec(sub ?? "");
    if (!(mail && !/(^|\.)(localhost|local|invalid)$/i.test(mail[1])) && !/^https:\/\/[^\s/]+/i.test(sub ?? "")) {
      return [403, `sub ${sub} is not a mailto: or https: contact`];
    }
    return null;
  }

  /** `[status, why]` of refused RFC 8030 headers, or null. */
  function checkHeaders(headers, size) {
    if (!/^\d+$/.test(headers.ttl ?? "")) return [400, headers.ttl === undefined ? "no TTL header (RFC 8030 §5.2)" : `TTL ${headers.ttl} is not a number of seconds`];
    if (headers.urgency !== undefined && !URGENCIES.includes(headers.urgency)) return [400, `Urgency ${headers.urgency} is not one of ${URGENCIES.join(", ")}`];
    if (headers.topic !== undefined && !/^[A-Za-z0-9_-]{1,32}$/.test(headers.topic)) return [400, "Topic is not at most 32 base64url characters (RFC 8030 §5.4)"];
    if ((headers["content-encoding"] ?? "").toLowerCase() !== "aes128gcm") return [400, `Content-Encoding ${headers["content-encoding"]} is not aes128gcm`];
    if (size > MAX_BODY) return [413, `${size} bytes (at most ${MAX_BODY})`];
    return null;
  }

  /** The plaintext of a message to subscription `id`, or an Error saying why it does not decrypt. */
  function open(id, body) {
    const subscription = subscriptions.get(id);
    if (!subscription) return new Error("no such subscription");
    try {
      const { plaintext, rs, keyid } = decryptContent(body, (senderPublic) =>
        webPushIkm({ receiverPrivate: subscription.privateKey, receiverPublic: subscription.publicRaw, senderPublic, auth: subscription.auth }),
      );
      // RFC 8291 §4: one record, and the key id is the sender's public key.
      if (body.length > rs + 21 + keyid.length) return new Error("a Web Push message is a single record");
      return plaintext.toString("utf8");
    } catch (e) {
      return e;
    }
  }

  return {
    subscribe,
    matches: (path) => PUSH_PATH.test(path),
    /** The subscription id and the decrypted payload, for the record (JSON parsed when it is). */
    describe(path, body) {
      const device = PUSH_PATH.exec(path)[1];
      const text = open(device, body);
      if (text instanceof Error) return { device, payload: undefined };
      let payload = text;
      try {
        payload = JSON.parse(text);
      } catch {}
      return { device, payload, text };
    },
    /** Judges one message: `{status, body, headers, why}`. `origins` are this service's own. */
    handle({ method, path, headers, body, now, origins }) {
      const id = PUSH_PATH.exec(path)[1];
      const answer = (status, why, extra = {}) => ({ status, body: status >= 300 ? `${DEFAULT_TEXTS[status] ?? "Error"}: ${why}` : "", headers: extra, why });
      if (method !== "POST") return answer(405, `${method} is not allowed`);
      if (!subscriptions.has(id)) return answer(410, "no such subscription");
      const refused = checkHeaders(headers, body.length) ?? checkVapid(headers.authorization, origins, now);
      if (refused) return answer(...refused);
      const text = open(id, body);
      // A push service cannot read the message and would accept it; the browser would then
      // drop it. The recorder is both, and says so at once.
      if (text instanceof Error) return answer(400, `the body does not decrypt with the subscription's keys: ${text.message}`);
      return answer(201, undefined, { location: `${origins[0]}/push/message/${randomBytes(12).toString("base64url")}` });
    },
    failure: (status) => ({ body: DEFAULT_TEXTS[status] ?? "Error" }),
  };
}
