#!/usr/bin/env node
// Mints a Herald token (HS256 JWT) for local development and tests.
//
//   node scripts/token.mjs alice                       # sub=alice, 1 hour, secret from .dev.vars
//   node scripts/token.mjs alice --name Alice --admin --rooms 'team-*,lobby' --ttl 600
//
// Herald refuses tokens that live longer than JWT_MAX_LIFETIME_SECONDS (a day by default), so a
// --ttl over 86400 makes a token it will not take.
//
// The secret comes from --secret, else JWT_SECRET in the environment, else .dev.vars.
// Also importable: `import { mint } from "./scripts/token.mjs"`.
import { createHmac } from "node:crypto";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");

const b64url = (data) => Buffer.from(data).toString("base64url");

/** An HS256 JWT of `claims` (exp defaults to an hour from now). */
export function mint(claims, secret) {
  const now = Math.floor(Date.now() / 1000);
  const body = { iat: now, exp: now + 3600, ...claims };
  const head = b64url(JSON.stringify({ alg: "HS256", typ: "JWT" }));
  const payload = b64url(JSON.stringify(body));
  const signature = createHmac("sha256", secret).update(`${head}.${payload}`).digest("base64url");
  return `${head}.${payload}.${signature}`;
}

/** JWT_SECRET from a .dev.vars-style file. */
export function devSecret(file = join(root, ".dev.vars")) {
  const text = readFileSync(file, "utf8");
  const line = text.split("\n").find((l) => /^\s*JWT_SECRET\s*=/.test(l));
  if (!line) throw new Error(`${file} has no JWT_SECRET`);
  return line.replace(/^\s*JWT_SECRET\s*=\s*/, "").trim().replace(/^"(.*)"$/, "$1");
}

function usage() {
  console.error("usage: node scripts/token.mjs <user-id> [--name N] [--avatar URL] [--admin] [--rooms a,b*] [--ttl seconds] [--secret S]");
  process.exit(2);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const args = process.argv.slice(2);
  const sub = args.shift();
  if (!sub || sub.startsWith("--")) usage();
  const claims = { sub };
  let secret = process.env.JWT_SECRET;
  while (args.length) {
    const flag = args.shift();
    if (flag === "--admin") claims.role = "admin";
    else if (flag === "--name") claims.name = args.shift();
    else if (flag === "--avatar") claims.avatar = args.shift();
    else if (flag === "--rooms") claims.rooms = args.shift().split(",");
    else if (flag === "--ttl") claims.exp = Math.floor(Date.now() / 1000) + Number(args.shift());
    else if (flag === "--secret") secret = args.shift();
    else usage();
  }
  console.log(mint(claims, secret ?? devSecret()));
}
