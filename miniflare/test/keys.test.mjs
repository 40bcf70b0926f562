// ES256 and EdDSA tokens verified in workerd against JWT_PUBLIC_KEYS, chosen by kid.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { generateKeyPairSync, sign } from "node:crypto";
import { startHerald, Client } from "../harness.mjs";

const es = generateKeyPairSync("ec", { namedCurve: "P-256" });
const ed = generateKeyPairSync("ed25519");
const other = generateKeyPairSync("ec", { namedCurve: "P-256" });
const jwk = (pair, kid) => ({ ...pair.publicKey.export({ format: "jwk" }), kid });

const b64 = (value) => Buffer.from(JSON.stringify(value)).toString("base64url");

function jwt(alg, privateKey, kid, claims = {}) {
  const now = Math.floor(Date.now() / 1000);
  const head = b64({ alg, typ: "JWT", ...(kid ? { kid } : {}) });
  const body = b64({ sub: "keyholder", exp: now + 600, ...claims });
  const input = Buffer.from(`${head}.${body}`);
  const signature =
    alg === "ES256" ? sign("sha256", input, { key: privateKey, dsaEncoding: "ieee-p1363" }) : sign(null, input, privateKey);
  return `${head}.${body}.${signature.toString("base64url")}`;
}

let herald;
before(async () => {
  herald = await startHerald({ vars: { JWT_PUBLIC_KEYS: JSON.stringify({ keys: [jwk(es, "es-1"), jwk(ed, "ed-1")] }) } });
});
after(() => herald.stop());

test("an ES256 token named by kid is accepted", async () => {
  const c = await Client.open(`${herald.ws}/v1/rooms/keys/ws?token=${jwt("ES256", es.privateKey, "es-1")}`);
  assert.equal((await c.next("welcome")).user.id, "keyholder");
  await c.close();
});

test("an EdDSA token without kid is accepted over REST", async () => {
  const res = await herald.api("/v1/rooms/keys/presence", { token: jwt("EdDSA", ed.privateKey) });
  assert.equal(res.status, 200);
});

test("a token signed by an unknown key, or naming the wrong kid, is refused", async () => {
  const unknown = await herald.api("/v1/rooms/keys/presence", { token: jwt("ES256", other.privateKey, "es-1") });
  assert.deepEqual([unknown.status, unknown.json.code], [401, "token_invalid"]);
  const wrongKid = await herald.api("/v1/rooms/keys/presence", { token: jwt("EdDSA", ed.privateKey, "es-1") });
  assert.deepEqual([wrongKid.status, wrongKid.json.code], [401, "token_invalid"]);
});

test("HS256 with the shared test secret still works beside the public keys", async () => {
  const res = await herald.api("/v1/rooms/keys/presence");
  assert.equal(res.status, 200);
});
