// The recorder's APNs: Apple's provider API with token authentication,
// `POST /3/device/{hex token}`, checked the way APNs checks it and answered with Apple's
// reasons (`{"reason": "…"}`, Apple's "Handling notification responses from APNs" table).
// The provider token is verified with the public half of the .p8 key the recorder was given.
import { randomUUID } from "node:crypto";
import { decodeJwt, verifiesEs256 } from "./jwt.mjs";

export const APNS_PATH = /^\/3\/device\/?(.*)$/;

/** An hour: APNs refuses a provider token whose `iat` is older (ExpiredProviderToken). */
const TOKEN_LIFETIME_S = 3600;
/** APNs refuses a new provider token less than 20 minutes after the previous one (TooManyProviderTokenUpdates). */
const TOKEN_UPDATE_S = 20 * 60;
/** The largest payload of a (non-VoIP) notification, in bytes. */
const MAX_PAYLOAD = 4096;
const PUSH_TYPES = ["alert", "background", "location", "voip", "complication", "fileprovider", "mdm", "liveactivity", "pushtotalk", "widgets"];
/** Topic suffixes some push types require (`<bundle id>.voip`, …): all the same app. */
const TOPIC_SUFFIXES = ["", ".voip", ".complication", ".pushkit.fileprovider", ".push-type.liveactivity", ".voip-ptt"];
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** What a failure on command answers when no body is given: Apple's reason for that status. */
const DEFAULT_REASONS = {
  400: "BadDeviceToken",
  403: "InvalidProviderToken",
  404: "BadPath",
  405: "MethodNotAllowed",
  410: "Unregistered",
  413: "PayloadTooLarge",
  429: "TooManyRequests",
  500: "InternalServerError",
  503: "ServiceUnavailable",
};

/**
 * The APNs of one app: `publicKey` (KeyObject) verifies provider tokens, `keyId` and `teamId`
 * (when given) must be their `kid` and `iss`, `topic` (when given) is the app's bundle id.
 */
export function createApns({ publicKey, keyId, teamId, topic } = {}) {
  const iats = new Map(); // kid → every `iat` of a provider token accepted so far

  /** `[status, reason]` of a refused provider token, or null when it is good. */
  function checkToken(authorization, now) {
    const bearer = /^bearer\s+(\S+)$/i.exec(authorization ?? "");
    if (!bearer) return [403, "MissingProviderToken"];
    if (!publicKey) return [403, "InvalidProviderToken", "the recorder was given no APNs key to verify with"];
    const jwt = decodeJwt(bearer[1]);
    if (typeof jwt === "string") return [403, "InvalidProviderToken", jwt];
    const { header, claims } = jwt;
    if (typeof header.kid !== "string" || (keyId && header.kid !== keyId)) return [403, "InvalidProviderToken", `kid ${header.kid} is not the key's id`];
    if (typeof claims.iss !== "string" || (teamId && claims.iss !== teamId)) return [403, "InvalidProviderToken", `iss ${claims.iss} is not the team's id`];
    if (!verifiesEs256(jwt, publicKey)) return [403, "InvalidProviderToken", "the ES256 signature does not verify with the APNs key"];
    if (!Number.isInteger(claims.iat) || claims.iat > now + 300) return [403, "InvalidProviderToken", `iat ${claims.iat} is not a time in the past`];
    if (now - claims.iat > TOKEN_LIFETIME_S) return [403, "ExpiredProviderToken", `iat is ${now - claims.iat} s old (at most ${TOKEN_LIFETIME_S})`];
    // Apple counts a token as an update when it is new; one signed by each isolate with its own
    // `iat` would be refused, hence a token shared by every sender (same `iat`).
    const seen = iats.get(header.kid) ?? new Set();
    if (!seen.has(claims.iat)) {
      const close = [...seen].find((iat) => Math.abs(iat - claims.iat) < TOKEN_UPDATE_S);
      if (close !== undefined) return [429, "TooManyProviderTokenUpdates", `iat ${claims.iat} is a new token ${Math.abs(close - claims.iat)} s from iat ${close}`];
      seen.add(claims.iat);
      iats.set(header.kid, seen);
    }
    return null;
  }

  /** `[status, reason, why?]` of the request's headers and body, or null when they are good. */
  function checkRequest(headers, body, device) {
    const sent = headers["apns-topic"];
    if (!sent) return [400, "MissingTopic"];
    if (!/^[A-Za-z0-9.-]+$/.test(sent)) return [400, "BadTopic"];
    // The recorder's key belongs to one app: any other topic is one it may not push to.
    if (topic && !TOPIC_SUFFIXES.some((suffix) => sent === topic + suffix)) return [400, "TopicDisallowed", `topic ${sent} is not ${topic}`];
    const type = headers["apns-push-type"];
    if (!PUSH_TYPES.includes(type)) return [400, "InvalidPushType", type ? `unknown push type ${type}` : "apns-push-type is missing"];
    const priority = headers["apns-priority"];
    if (priority !== undefined && !["10", "5", "1"].includes(priority)) return [400, "BadPriority"];
    // Apple: a background notification must not be sent with priority 10.
    if (type === "background" && priority === "10") return [400, "BadPriority", "background pushes take priority 5"];
    const expiration = headers["apns-expiration"];
    if (expiration !== undefined && !/^\d+$/.test(expiration)) return [400, "BadExpirationDate"];
    const collapse = headers["apns-collapse-id"];
    if (collapse !== undefined && Buffer.byteLength(collapse) > 64) return [400, "BadCollapseId", "apns-collapse-id is over 64 bytes"];
    if (headers["apns-id"] !== undefined && !UUID.test(headers["apns-id"])) return [400, "BadMessageId"];
    if (!device) return [400, "MissingDeviceToken"];
    if (!/^[0-9a-fA-F]+$/.test(device)) return [400, "BadDeviceToken", "the device token is not hexadecimal"];
    if (body.length === 0) return [400, "PayloadEmpty"];
    if (body.length > MAX_PAYLOAD) return [413, "PayloadTooLarge", `${body.length} bytes (at most ${MAX_PAYLOAD})`];
    const payload = parse(body);
    // Apple's table has no reason for a body that is not JSON with an `aps` dictionary; the
    // closest listed is PayloadEmpty (there is no notification in it).
    if (typeof payload?.aps !== "object" || payload.aps === null) return [400, "PayloadEmpty", "the body is not JSON with an aps dictionary"];
    return null;
  }

  return {
    matches: (path) => APNS_PATH.test(path),
    /** The device and payload of a request, for the record, before it is judged. */
    describe: (path, body) => ({ device: APNS_PATH.exec(path)[1], payload: parse(body) ?? body.toString("utf8") }),
    /**
     * Judges one request as APNs would: `{status, body, headers, reason, why}`. `now` is in
     * Unix seconds.
     */
    handle({ method, path, headers, body, now }) {
      const apnsId = UUID.test(headers["apns-id"] ?? "") ? headers["apns-id"].toLowerCase() : randomUUID();
      const answer = (status, reason, why) => ({ status, body: reason ? { reason } : undefined, headers: { "apns-id": apnsId }, reason, why });
      if (method !== "POST") return answer(405, "MethodNotAllowed");
      const refused = checkToken(headers.authorization, now) ?? checkRequest(headers, body, APNS_PATH.exec(path)[1]);
      return refused ? answer(...refused) : answer(200);
    },
    /** The body and headers of a failure on command, when the test gave none. */
    failure: (status) => ({
      body: { reason: DEFAULT_REASONS[status] ?? "InternalServerError", ...(status === 410 ? { timestamp: Date.now() } : {}) },
      headers: { "apns-id": randomUUID() },
    }),
  };
}

function parse(body) {
  try {
    return JSON.parse(body.toString("utf8"));
  } catch {
    return undefined;
  }
}
