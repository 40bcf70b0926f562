#!/usr/bin/env node
// Runs the Rust load generator against Herald: starts the built worker under workerd
// (Miniflare, miniflare/harness.mjs) with the per-connection rate limit lifted, mints a token,
// runs `loadgen --protocol herald --url ... --token ... --room <fresh>` with the arguments
// given here, and stops Herald. The generator's exit code is this script's.
//
//   node bench/loadgen-herald.mjs --subscribers 100 --rates 1000 --step-seconds 3
//   LOADGEN=bench/loadgen/target/debug/loadgen node bench/loadgen-herald.mjs ...
//
// build/ must exist (`make build`) and the generator be built (`make bench-loadgen`).
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { startHerald, root } from "../miniflare/harness.mjs";

const binary = process.env.LOADGEN ?? join(root, "bench/loadgen/target/release/loadgen");
if (!existsSync(binary)) {
  console.error(`no load generator at ${binary}: run \`make bench-loadgen\` first`);
  process.exit(2);
}
const args = process.argv.slice(2);
const has = (flag) => args.includes(flag);

// One publisher sends up to thousands of frames a second: lift the per-connection limit
// (50/s by default) so that what is measured is the fan-out, not the publisher's quota.
const herald = await startHerald({
  vars: {
    MAX_MESSAGES_PER_SECOND: "100000",
    MAX_MESSAGE_BURST: "100000",
    // The generator connects as one user from one address.
    MAX_CONNECTIONS_PER_USER: "1000000",
    MAX_CONNECTIONS_PER_ADDRESS: "1000000",
    // Its subscribers read but never ping.
    MAX_BACKLOG_BYTES: "268435456",
  },
});
const extra = [
  ...(has("--protocol") ? [] : ["--protocol", "herald"]),
  ...(has("--url") ? [] : ["--url", herald.ws]),
  ...(has("--token") ? [] : ["--token", herald.token("bench")]),
  ...(has("--room") ? [] : ["--room", `bench-${Date.now()}`]),
];
console.error(`herald at ${herald.http}; ${binary} ${[...extra.filter((a) => !a.startsWith("eyJ")), ...args].join(" ")}`);
const child = spawn(binary, [...extra, ...args], { stdio: "inherit" });
const code = await new Promise((resolve) => child.on("exit", (c, signal) => resolve(c ?? (signal ? 1 : 0))));
if (code !== 0 && herald.logs.length) console.error(`workerd's last lines:\n${herald.logs.slice(-20).join("\n")}`);
await herald.stop();
process.exit(code);
