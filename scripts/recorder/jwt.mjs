// The JSON Web Tokens the push providers check (RFC 7515 compact form, RFC 7518 algorithms):
// ES256 for APNs provider tokens and VAPID (RFC 8292), RS256 for Google's service-account
// assertions. Only verification lives here: the recorder checks what Herald signs, it never
// signs. Also the key conversions those checks need (raw P-256 points, PEM).
import { createPublicKey, createPrivateKey, verify } from "node:crypto";

export const b64url = (bytes) => Buffer.from(bytes).toString("base64url");
export const unb64url = (text) => Buffer.from(text, "base64url");

/**
 * The parts of a compact JWT, or a string saying why it is not one: `{header, claims, input,
 * signature}` where `input` is the signed text (`header.claims`, RFC 7515 §5.2).
 */
export function decodeJwt(token) {
  if (typeof token !== "string") return "no token";
  const parts = token.split(".");
  if (parts.length !== 3 || parts.some((p) => !/^[A-Za-z0-9_-]*$/.test(p))) return "not a compact JWS (three base64url parts)";
  let header, claims;
  try {
    header = JSON.parse(unb64url(parts[0]).toString("utf8"));
    claims = JSON.parse(unb64url(parts[1]).toString("utf8"));
  } catch {
    return "its header or claims are not JSON";
  }
  if (!isObject(header) || !isObject(claims)) return "its header or claims are not JSON objects";
  return { header, claims, input: `${parts[0]}.${parts[1]}`, signature: unb64url(parts[2]) };
}

/** Whether `jwt` (decoded) carries a valid ES256 signature by `publicKey` (a KeyObject). */
export function verifiesEs256(jwt, publicKey) {
  // JWS carries ECDSA signatures as r || s, 32 bytes each (RFC 7518 §3.4), not DER.
  if (jwt.header.alg !== "ES256" || jwt.signature.length !== 64) return false;
  return verify("sha256", Buffer.from(jwt.input), { key: publicKey, dsaEncoding: "ieee-p1363" }, jwt.signature);
}

/** Whether `jwt` (decoded) carries a valid RS256 (RSASSA-PKCS1-v1_5, SHA-256) signature. */
export function verifiesRs256(jwt, publicKey) {
  if (jwt.header.alg !== "RS256") return false;
  return verify("sha256", Buffer.from(jwt.input), publicKey, jwt.signature);
}

/** A P-256 public KeyObject from its uncompressed point (65 bytes, 0x04 || x || y), or null. */
export function p256PublicKey(raw) {
  const bytes = typeof raw === "string" ? unb64url(raw) : Buffer.from(raw);
  if (bytes.length !== 65 || bytes[0] !== 0x04) return null;
  try {
    // Importing checks that the point is on the curve (RFC 8291 §7 asks the receiver to).
    return createPublicKey({ key: { kty: "EC", crv: "P-256", x: b64url(bytes.subarray(1, 33)), y: b64url(bytes.subarray(33)) }, format: "jwk" });
  } catch {
    return null;
  }
}

/** A P-256 private KeyObject from its scalar `d` and its point (both raw or base64url). */
export function p256PrivateKey(d, publicRaw) {
  const point = typeof publicRaw === "string" ? unb64url(publicRaw) : Buffer.from(publicRaw);
  const scalar = typeof d === "string" ? unb64url(d) : Buffer.from(d);
  return createPrivateKey({
    key: { kty: "EC", crv: "P-256", d: b64url(scalar), x: b64url(point.subarray(1, 33)), y: b64url(point.subarray(33)) },
    format: "jwk",
  });
}

/** The uncompressed point (65 bytes) of a P-256 KeyObject, public or private. */
export function p256Raw(key) {
  const { x, y } = key.export({ format: "jwk" });
  return Buffer.concat([Buffer.from([0x04]), unb64url(x), unb64url(y)]);
}

/** The public KeyObject of a PEM key: a private key's public half, or the public key itself. */
export function publicFromPem(pem) {
  return createPublicKey(pem);
}

export function isObject(value) {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
