#!/usr/bin/env node
// Throwaway push keys for local development and the tests: a VAPID key pair, an APNs .p8 key
// with its key and team ids, a Google service account for FCM, and the receipt secret. They
// verify only against the local recorder (scripts/recorder.mjs); no provider knows them.
//
//   node scripts/dev-keys.mjs [file]     (scripts/setup.sh runs it; file: .dev.vars)
//
// adds to the file whichever of the variables it lacks, freshly generated, and never changes
// a value that is there, so a second run adds nothing. It prints the names it added, never
// the values. From Node: `generateDevKeys()` (a fresh set, as Herald's variables) and
// `readDevVars(file)` (a .dev.vars file read as wrangler reads it).
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { existsSync, readFileSync, appendFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const RECORDER = "http://127.0.0.1:8788";
const ID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

/** Ten characters of Apple's key and team id alphabet. */
function appleId() {
  return [...randomBytes(10)].map((b) => ID_ALPHABET[b % ID_ALPHABET.length]).join("");
}

/**
 * A fresh set of push credentials, as Herald's variables (all strings):
 * VAPID_PUBLIC_KEY / VAPID_PRIVATE_KEY (base64url point and scalar), VAPID_SUBJECT, APNS_KEY
 * (PKCS#8 PEM), APNS_KEY_ID, APNS_TEAM_ID, APNS_TOPIC, FCM_SERVICE_ACCOUNT (the JSON text of a
 * service account with an RSA-2048 key), RECEIPT_SECRET (32 random bytes, base64url).
 */
export function generateDevKeys() {
  const vapid = generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey.export({ format: "jwk" });
  const point = Buffer.concat([Buffer.from([0x04]), Buffer.from(vapid.x, "base64url"), Buffer.from(vapid.y, "base64url")]);
  const apns = generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey;
  const google = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey;
  const email = "herald-push@herald-dev.iam.gserviceaccount.com";
  const serviceAccount = {
    type: "service_account",
    project_id: "herald-dev",
    private_key_id: randomBytes(20).toString("hex"),
    private_key: google.export({ type: "pkcs8", format: "pem" }),
    client_email: email,
    client_id: String(BigInt(`0x${randomBytes(8).toString("hex")}`)).padStart(21, "1"),
    auth_uri: "https://accounts.google.com/o/oauth2/auth",
    token_uri: "https://oauth2.googleapis.com/token",
    auth_provider_x509_cert_url: "https://www.googleapis.com/oauth2/v1/certs",
    client_x509_cert_url: `https://www.googleapis.com/robot/v1/metadata/x509/${encodeURIComponent(email)}`,
    universe_domain: "googleapis.com",
  };
  return {
    VAPID_PUBLIC_KEY: point.toString("base64url"),
    VAPID_PRIVATE_KEY: vapid.d,
    // Apple refuses a subject at a local or reserved domain (localhost, .local, .invalid).
    VAPID_SUBJECT: "mailto:dev@herald.example",
    APNS_KEY: apns.export({ type: "pkcs8", format: "pem" }),
    APNS_KEY_ID: appleId(),
    APNS_TEAM_ID: appleId(),
    APNS_TOPIC: "dev.herald.app",
    FCM_SERVICE_ACCOUNT: JSON.stringify(serviceAccount),
    RECEIPT_SECRET: randomBytes(32).toString("base64url"),
  };
}

/** The names generateDevKeys() gives values to. */
const PUSH_KEYS = ["VAPID_PUBLIC_KEY", "VAPID_PRIVATE_KEY", "VAPID_SUBJECT", "APNS_KEY", "APNS_KEY_ID", "APNS_TEAM_ID", "APNS_TOPIC", "FCM_SERVICE_ACCOUNT", "RECEIPT_SECRET"];

/** Where Herald sends pushes in local development: the recorder that `make dev` starts. */
export const LOCAL_PUSH_VARS = {
  APNS_URL: RECORDER,
  FCM_URL: RECORDER,
  FCM_TOKEN_URL: `${RECORDER}/token`,
  PUSH_ALLOW_LOOPBACK_HTTP: "true",
};

/**
 * One `KEY=value` line that wrangler's .dev.vars reader (dotenv) reads back as `value`:
 * double quotes turn `\n` into a newline there (a PEM on one line), single quotes keep the
 * text as it is (JSON, whose own `\n` escapes must reach JSON.parse intact).
 */
export function devVarsLine(key, value) {
  if (!value.includes("\n") && !value.includes('"')) return `${key}="${value}"`;
  if (!value.includes("\n") && !value.includes("'")) return `${key}='${value}'`;
  if (/["\\]/.test(value) || value.includes("\r")) throw new Error(`${key}: a multi-line value with quotes or backslashes has no .dev.vars form`);
  return `${key}="${value.replace(/\n/g, "\\n")}"`;
}

/**
 * The variables of a .dev.vars file, read as wrangler 4 reads it (dotenv's rules): `KEY=value`
 * lines, an optional `export `, `#` comments; a value in double quotes has `\n` and `\r`
 * turned into line breaks, one in single quotes or backticks is taken as it is, and a quoted
 * value may span lines.
 */
export function parseDevVars(text) {
  const vars = {};
  const line = /^[ \t]*(?:export[ \t]+)?([\w.-]+)[ \t]*(?:=|:[ \t])[ \t]*('(?:\\'|[^'])*'|"(?:\\"|[^"])*"|`(?:\\`|[^`])*`|[^#\r\n]*)/gm;
  for (const [, key, raw] of text.replace(/\r\n?/g, "\n").matchAll(line)) {
    let value = raw.trim();
    const quote = value[0];
    if ((quote === '"' || quote === "'" || quote === "`") && value.endsWith(quote) && value.length > 1) value = value.slice(1, -1);
    if (quote === '"') value = value.replace(/\\n/g, "\n").replace(/\\r/g, "\r");
    vars[key] = value;
  }
  return vars;
}

export function readDevVars(file) {
  return parseDevVars(readFileSync(file, "utf8"));
}

/** Adds to `file` the push variables it lacks; the names added. */
export function addDevKeys(file) {
  const present = existsSync(file) ? readDevVars(file) : {};
  const names = [...PUSH_KEYS, ...Object.keys(LOCAL_PUSH_VARS)];
  let missing = names.filter((key) => !(key in present));
  // Half a VAPID pair cannot be completed: a fresh other half would not match it.
  const pair = ["VAPID_PUBLIC_KEY", "VAPID_PRIVATE_KEY"];
  if (pair.filter((key) => missing.includes(key)).length === 1) {
    console.warn(`[dev-keys] ${file} has only one of ${pair.join(" and ")}: remove it to get a fresh pair`);
    missing = missing.filter((key) => !pair.includes(key));
  }
  if (missing.length === 0) return [];
  const wanted = { ...generateDevKeys(), ...LOCAL_PUSH_VARS };
  const text = existsSync(file) ? readFileSync(file, "utf8") : "";
  const lines = [
    ...(text && !text.endsWith("\n") ? [""] : []),
    "# Throwaway push keys for local development (scripts/dev-keys.mjs); only the local recorder knows them.",
    ...missing.map((key) => devVarsLine(key, wanted[key])),
  ];
  appendFileSync(file, `${lines.join("\n")}\n`);
  return missing;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const file = process.argv[2] ?? join(dirname(fileURLToPath(import.meta.url)), "..", ".dev.vars");
  const added = addDevKeys(file);
  if (added.length > 0) console.log(`[dev-keys] added to ${file}: ${added.join(", ")}`);
}
