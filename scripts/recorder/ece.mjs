// Encrypted content coding on the receiving side: RFC 8188's `aes128gcm` records, and the
// Web Push key derivation of RFC 8291 that turns a subscription's keys into the content key.
// The recorder decrypts with these what a push service would carry to the browser, as the
// browser would. The tests use `encryptWebPush` to send as an application server does.
import { createCipheriv, createDecipheriv, diffieHellman, hkdfSync, generateKeyPairSync, randomBytes } from "node:crypto";
import { p256PublicKey, p256Raw } from "./jwt.mjs";

const TAG = 16;
const HEADER = 21; // salt (16) || rs (4) || idlen (1), then the key id (RFC 8188 §2.1)
const CEK_INFO = Buffer.from("Content-Encoding: aes128gcm\0");
const NONCE_INFO = Buffer.from("Content-Encoding: nonce\0");

/** The content key and base nonce of RFC 8188 §2.2–2.3 from the input keying material. */
function keys(ikm, salt) {
  return {
    cek: Buffer.from(hkdfSync("sha256", ikm, salt, CEK_INFO, 16)),
    nonce: Buffer.from(hkdfSync("sha256", ikm, salt, NONCE_INFO, 12)),
  };
}

/** Record `seq`'s nonce: the base nonce XOR the sequence number, big-endian (RFC 8188 §2.3). */
function recordNonce(nonce, seq) {
  const out = Buffer.from(nonce);
  out.writeUInt32BE((out.readUInt32BE(8) ^ seq) >>> 0, 8);
  return out;
}

/**
 * Decrypts an `aes128gcm` body. `ikmFor(keyid)` gives the input keying material for the key
 * id of the header. Resolves `{plaintext, salt, rs, keyid}`; throws an Error saying what is
 * wrong (truncated header, a record that fails authentication, a bad delimiter…).
 */
export function decryptContent(body, ikmFor) {
  if (body.length < HEADER) throw new Error(`the body (${body.length} bytes) is shorter than the aes128gcm header`);
  const salt = body.subarray(0, 16);
  const rs = body.readUInt32BE(16);
  const idlen = body[20];
  if (rs < 18) throw new Error(`record size ${rs} is below the minimum of 18`);
  if (body.length < HEADER + idlen) throw new Error("the body ends inside the key id");
  const keyid = body.subarray(HEADER, HEADER + idlen);
  const { cek, nonce } = keys(ikmFor(keyid), salt);
  const records = [];
  for (let at = HEADER + idlen; at < body.length; at += rs) records.push(body.subarray(at, Math.min(at + rs, body.length)));
  if (records.length === 0) throw new Error("the body has no record");
  const parts = records.map((record, seq) => {
    if (record.length <= TAG) throw new Error(`record ${seq} is too short to hold its tag`);
    const decipher = createDecipheriv("aes-128-gcm", cek, recordNonce(nonce, seq));
    decipher.setAuthTag(record.subarray(record.length - TAG));
    let padded;
    try {
      padded = Buffer.concat([decipher.update(record.subarray(0, record.length - TAG)), decipher.final()]);
    } catch {
      throw new Error(`record ${seq} does not authenticate with the derived key (wrong keys, or altered)`);
    }
    // Padding is zeros after a delimiter: 0x02 ends the last record, 0x01 every other (§2).
    let end = padded.length - 1;
    while (end >= 0 && padded[end] === 0) end--;
    const last = seq === records.length - 1;
    if (end < 0 || padded[end] !== (last ? 2 : 1)) throw new Error(`record ${seq} lacks its ${last ? "0x02" : "0x01"} delimiter`);
    return padded.subarray(0, end);
  });
  return { plaintext: Buffer.concat(parts), salt, rs, keyid };
}

/**
 * The input keying material of a Web Push message (RFC 8291 §3.3–3.4), from the ECDH secret
 * of the receiver's and sender's keys and the subscription's auth secret.
 */
export function webPushIkm({ receiverPrivate, receiverPublic, senderPublic, auth }) {
  const sender = p256PublicKey(senderPublic);
  if (!sender) throw new Error("the key id is not an uncompressed P-256 public key (65 bytes)");
  const ecdh = diffieHellman({ privateKey: receiverPrivate, publicKey: sender });
  const info = Buffer.concat([Buffer.from("WebPush: info\0"), receiverPublic, senderPublic]);
  return Buffer.from(hkdfSync("sha256", ecdh, auth, info, 32));
}

/**
 * Encrypts `plaintext` for a subscription `{p256dh, auth}` (raw bytes) as an application
 * server does (one record, rs 4096, the sender's key as key id). `salt` and `sender` (a P-256
 * private KeyObject) may be given, for a known-answer test; otherwise they are fresh.
 */
export function encryptWebPush(plaintext, { p256dh, auth }, { salt = randomBytes(16), sender } = {}) {
  const senderKey = sender ?? generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey;
  const senderPublic = p256Raw(senderKey);
  const receiver = p256PublicKey(p256dh);
  const ecdh = diffieHellman({ privateKey: senderKey, publicKey: receiver });
  const info = Buffer.concat([Buffer.from("WebPush: info\0"), Buffer.from(p256dh), senderPublic]);
  const { cek, nonce } = keys(Buffer.from(hkdfSync("sha256", ecdh, auth, info, 32)), salt);
  const cipher = createCipheriv("aes-128-gcm", cek, nonce);
  const sealed = Buffer.concat([cipher.update(Buffer.concat([Buffer.from(plaintext), Buffer.from([2])])), cipher.final(), cipher.getAuthTag()]);
  const header = Buffer.alloc(HEADER);
  salt.copy(header);
  header.writeUInt32BE(4096, 16);
  header[20] = senderPublic.length;
  return Buffer.concat([header, senderPublic, sealed]);
}
