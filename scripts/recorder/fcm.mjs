// The recorder's Firebase Cloud Messaging: Google's OAuth token endpoint (`POST /token`, the
// JWT-bearer grant of RFC 7523 with a service account's RS256 assertion) and the FCM HTTP v1
// API (`POST /v1/projects/{project}/messages:send`), checked as Google checks them and
// answered with Google's error shapes (`{"error": "invalid_grant", …}` from the token
// endpoint, `{"error": {code, message, status, details}}` from FCM).
import { randomBytes } from "node:crypto";
import { decodeJwt, verifiesRs256, isObject, publicFromPem } from "./jwt.mjs";

export const TOKEN_PATH = "/token";
export const FCM_PATH = /^\/v1\/projects\/([^/]+)\/messages:send$/;

const GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer";
const SCOPE = "https://www.googleapis.com/auth/firebase.messaging";
const TOKEN_LIFETIME_S = 3599;
/** FCM's limit on a message's payload (its data and notification), in bytes. */
const MAX_PAYLOAD = 4096;
const MESSAGE_FIELDS = ["name", "data", "notification", "android", "webpush", "apns", "fcm_options", "fcmOptions", "token", "topic", "condition"];
const FCM_ERROR = "type.googleapis.com/google.firebase.fcm.v1.FcmError";
const BAD_REQUEST = "type.googleapis.com/google.rpc.BadRequest";

/** Google's 401 for a missing, unknown or expired access token. */
const UNAUTHENTICATED = {
  code: 401,
  message:
    "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.",
  status: "UNAUTHENTICATED",
};

/** FCM's error body: `errorCode` adds the FcmError detail, `field` a BadRequest violation. */
export function fcmError(code, status, message, { errorCode, field } = {}) {
  const details = [];
  if (errorCode) details.push({ "@type": FCM_ERROR, errorCode });
  if (field) details.push({ "@type": BAD_REQUEST, fieldViolations: [{ field, description: message }] });
  return { error: { code, message, status, ...(details.length ? { details } : {}) } };
}

/** What a failure on command answers when no body is given, per path and status. */
const DEFAULT_ERRORS = {
  400: () => fcmError(400, "INVALID_ARGUMENT", "The registration token is not a valid FCM registration token", { errorCode: "INVALID_ARGUMENT" }),
  401: () => ({ error: UNAUTHENTICATED }),
  403: () => fcmError(403, "PERMISSION_DENIED", "SenderId mismatch", { errorCode: "SENDER_ID_MISMATCH" }),
  404: () => fcmError(404, "NOT_FOUND", "Requested entity was not found.", { errorCode: "UNREGISTERED" }),
  429: () => fcmError(429, "RESOURCE_EXHAUSTED", "Quota exceeded for quota metric 'Send requests'.", { errorCode: "QUOTA_EXCEEDED" }),
  500: () => fcmError(500, "INTERNAL", "Internal error encountered.", { errorCode: "INTERNAL" }),
  503: () => fcmError(503, "UNAVAILABLE", "The service is currently unavailable.", { errorCode: "UNAVAILABLE" }),
};

/**
 * FCM for the project of `serviceAccount` (the parsed JSON, or undefined: then no assertion
 * verifies). `tokenUrls()` lists the `aud` values the token endpoint accepts: its own URL.
 */
export function createFcm({ serviceAccount, tokenUrls }) {
  const publicKey = serviceAccount?.private_key ? publicFromPem(serviceAccount.private_key) : undefined;
  const issued = new Map(); // access token → expiry (ms)

  const grantError = (error, description) => ({ status: 400, body: { error, error_description: description }, why: description });

  /** The token endpoint: an access token for a good assertion. `now` in Unix seconds. */
  function token(form, now, host) {
    if (form.grant_type !== GRANT) return grantError("unsupported_grant_type", `Invalid grant_type: ${form.grant_type ?? ""}`);
    if (!form.assertion) return grantError("invalid_request", "Missing required parameter: assertion");
    const jwt = decodeJwt(form.assertion);
    if (typeof jwt === "string") return grantError("invalid_grant", `Invalid JWT: ${jwt}`);
    const { claims } = jwt;
    if (!publicKey || claims.iss !== serviceAccount.client_email) return grantError("invalid_grant", "Invalid email or User ID");
    if (jwt.header.kid !== undefined && jwt.header.kid !== serviceAccount.private_key_id) return grantError("invalid_grant", "Invalid JWT Signature.");
    if (!verifiesRs256(jwt, publicKey)) return grantError("invalid_grant", "Invalid JWT Signature.");
    if (!tokenUrls(host).includes(claims.aud)) return grantError("invalid_grant", "Invalid JWT: Failed audience check.");
    const short = Number.isInteger(claims.iat) && Number.isInteger(claims.exp) && claims.exp > claims.iat && claims.exp - claims.iat <= 3600;
    if (!short || claims.exp <= now || claims.iat > now + 300) {
      return grantError(
        "invalid_grant",
        "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.",
      );
    }
    if (typeof claims.scope !== "string" || !claims.scope.split(" ").includes(SCOPE)) {
      return { status: 400, body: { error: "invalid_scope", error_description: "Invalid OAuth scope or ID token audience provided." }, why: `scope ${claims.scope}` };
    }
    const accessToken = `ya29.${randomBytes(48).toString("base64url")}`;
    issued.set(accessToken, (now + TOKEN_LIFETIME_S) * 1000);
    return { status: 200, body: { access_token: accessToken, expires_in: TOKEN_LIFETIME_S, token_type: "Bearer" } };
  }

  /** `messages:send`: `{status, body, why}` as FCM answers. */
  function send({ path, headers, body, nowMs }) {
    const bearer = /^Bearer\s+(\S+)$/i.exec(headers.authorization ?? "");
    const expiry = bearer && issued.get(bearer[1]);
    if (!expiry || expiry <= nowMs) return { status: 401, body: { error: UNAUTHENTICATED }, why: bearer ? "an access token this recorder did not issue, or expired" : "no access token" };
    const project = FCM_PATH.exec(path)[1];
    if (project !== serviceAccount.project_id) {
      const message = `Permission 'cloudmessaging.messages.create' denied on resource '//cloudresourcemanager.googleapis.com/projects/${project}' (or it may not exist).`;
      return { status: 403, body: fcmError(403, "PERMISSION_DENIED", message), why: `project ${project} is not ${serviceAccount.project_id}` };
    }
    const invalid = (message, field, errorCode) => ({ status: 400, body: fcmError(400, "INVALID_ARGUMENT", message, { field, errorCode }), why: message });
    const request = parse(body);
    if (!isObject(request)) return invalid("Invalid JSON payload received. Expected an object.", "");
    const message = request.message;
    if (!isObject(message)) return invalid("Request contains an invalid argument.", "message");
    const unknown = Object.keys(message).find((k) => !MESSAGE_FIELDS.includes(k));
    if (unknown) return invalid(`Invalid JSON payload received. Unknown name "${unknown}" at 'message': Cannot find field.`, "message");
    if (message.data !== undefined) {
      if (!isObject(message.data)) return invalid("Invalid value at 'message.data' (type.googleapis.com/google.protobuf.Struct)", "message.data");
      const at = Object.values(message.data).findIndex((v) => typeof v !== "string");
      if (at >= 0) {
        const value = Object.values(message.data)[at];
        return invalid(`Invalid value at 'message.data[${at}].value' (TYPE_STRING), ${JSON.stringify(value)}`, `message.data[${at}].value`);
      }
    }
    const android = message.android;
    if (android !== undefined) {
      if (android.priority !== undefined && !["NORMAL", "HIGH"].includes(android.priority)) {
        return invalid(
          `Invalid value at 'message.android.priority' (type.googleapis.com/google.firebase.fcm.v1.AndroidConfig.AndroidMessagePriority), ${JSON.stringify(android.priority)}`,
          "message.android.priority",
        );
      }
      if (android.ttl !== undefined && !/^\d+(\.\d{1,9})?s$/.test(android.ttl)) {
        return invalid(`Invalid value at 'message.android.ttl' (type.googleapis.com/google.protobuf.Duration), ${JSON.stringify(android.ttl)}`, "message.android.ttl");
      }
    }
    const targets = ["token", "topic", "condition"].filter((k) => message[k] !== undefined);
    if (targets.length !== 1) return invalid("Exactly one of token, topic or condition must be set.", "message");
    if (typeof message.token !== "string" || !/^[A-Za-z0-9_:.-]{8,}$/.test(message.token)) {
      return invalid("The registration token is not a valid FCM registration token", undefined, "INVALID_ARGUMENT");
    }
    const size = payloadBytes(message);
    if (size > MAX_PAYLOAD) return invalid(`Android message is too big (${size} bytes of data and notification, at most ${MAX_PAYLOAD})`, "message");
    const id = `0:${Date.now()}${String(Math.floor(Math.random() * 1000)).padStart(3, "0")}%${randomBytes(8).toString("hex")}`;
    return { status: 200, body: { name: `projects/${project}/messages/${id}` } };
  }

  return {
    matchesToken: (path) => path === TOKEN_PATH,
    matchesSend: (path) => FCM_PATH.test(path),
    describe: (body) => {
      const message = parse(body)?.message;
      return { device: message?.token, payload: message ?? body.toString("utf8") };
    },
    token,
    send,
    /** Makes every access token issued so far invalid, as if each had expired. */
    revokeTokens: () => issued.clear(),
    failure: (path, status) =>
      path === TOKEN_PATH
        ? { body: status === 400 ? { error: "invalid_grant", error_description: "Invalid JWT Signature." } : { error: "internal_failure", error_description: "Backend Error" } }
        : { body: (DEFAULT_ERRORS[status] ?? (() => fcmError(status, "UNKNOWN", "Unknown error.", { errorCode: "UNSPECIFIED_ERROR" })))() },
  };
}

/** What FCM counts against its 4096-byte limit: the data's keys and values, the notification's text. */
function payloadBytes(message) {
  const text = (o) => (isObject(o) ? Object.entries(o).reduce((n, [k, v]) => n + Buffer.byteLength(k) + Buffer.byteLength(String(v)), 0) : 0);
  return text(message.data) + text(message.notification) + text(message.android?.data) + text(message.android?.notification);
}

function parse(body) {
  try {
    return JSON.parse(body.toString("utf8"));
  } catch {
    return undefined;
  }
}
