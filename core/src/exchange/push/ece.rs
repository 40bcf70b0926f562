//! Encrypted content coding for push payloads: `aes128gcm` (RFC 8188) and Web Push message
//! encryption on top of it (RFC 8291).
//!
//! A body is a header (`salt(16) || rs(4, big-endian) || idlen(1) || keyid(idlen)`) followed by
//! records of `rs` octets (the last one may be shorter), each AES-128-GCM sealed with its own
//! nonce. [`encrypt`] / [`decrypt`] are the content coding with a given input key;
//! [`web_push_encrypt`] / [`web_push_decrypt`] derive that key from an ECDH exchange between
//! the application server's ephemeral key and the subscription's `p256dh`, mixed with its
//! `auth` secret, and put the sender's public key in `keyid`.
//!
//! Nothing here draws random bytes: the salt and the ephemeral private key are arguments, fresh
//! for every message (the shell gets them from `crypto.getRandomValues`). Reusing them would let
//! two messages share a key and nonce.

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::Aes128Gcm;
use hkdf::Hkdf;
use p256::elliptic_curve::sec1::ToEncodedPoint;
use p256::{NonZeroScalar, PublicKey};
use sha2::Sha256;

/// The record size Herald writes. RFC 8291 §4: a push message is one record, and a push service
/// need not take more than 4096 octets of body; Apple's refuses a larger `rs`.
pub const RECORD_SIZE: u32 = 4096;

/// The longest Web Push plaintext: 4096 octets of body less the header with a 65-octet key id
/// (86), the delimiter (1) and the AEAD tag (16) (RFC 8291 §4).
pub const PLAINTEXT_MAX: usize = 3993;

/// Salt, record size and key id length: the fixed part of the header (RFC 8188 §2.1).
const HEADER_FIXED: usize = 16 + 4 + 1;
/// The AES-GCM tag closing every record.
const TAG: usize = 16;
/// RFC 8188 §2: a record size below 18 leaves no room for a delimiter and one octet of data.
const RECORD_SIZE_MIN: u32 = 18;
/// The padding delimiters (RFC 8188 §2): more records follow, or this is the last.
const MORE: u8 = 1;
const LAST: u8 = 2;
/// An uncompressed P-256 point: `0x04 || x || y`.
const POINT_LEN: usize = 65;

/// Why a body cannot be written or read. Each names the rule it breaks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EceError {
    #[error("the plaintext is {len} octets; one record carries at most {max}")]
    PlaintextTooLong { len: usize, max: usize },
    #[error("the key id is {0} octets; its length must fit in one octet (at most 255)")]
    KeyIdTooLong(usize),
    #[error("the body is {0} octets, shorter than its header")]
    TruncatedHeader(usize),
    #[error("the record size is {0}; RFC 8188 requires at least 18")]
    RecordSizeTooSmall(u32),
    #[error("the body has a header and no record")]
    NoRecord,
    #[error("record {index} is {len} octets, too short to hold a tag and a delimiter")]
    RecordTooShort { index: u64, len: usize },
    #[error("record {index} does not decrypt: wrong key, or the body was altered")]
    Unauthentic { index: u64 },
    #[error("record {index} is all padding: it has no delimiter")]
    NoDelimiter { index: u64 },
    #[error("record {index} ends with the octet {found:#04x}, not a padding delimiter (1 or 2)")]
    BadDelimiter { index: u64, found: u8 },
    #[error("record {index} is marked last (delimiter 2) but more records follow")]
    LastBeforeEnd { index: u64 },
    #[error("the body is truncated: its final record says more records follow (delimiter 1)")]
    Truncated,
    #[error("a Web Push message is one record; this body has more (RFC 8291 §4)")]
    SeveralRecords,
    #[error("the subscription's p256dh is not an uncompressed P-256 point on the curve (65 octets, 0x04 first)")]
    InvalidP256dh,
    #[error("the subscription's auth secret is {0} octets; it must be 16")]
    InvalidAuth(usize),
    #[error("the private key is not a P-256 scalar (zero, or not below the group order)")]
    InvalidSecret,
    #[error("the key id is not the sender's public key (an uncompressed P-256 point)")]
    InvalidSenderKey,
}

/// The body of one record of at most [`RECORD_SIZE`] octets: `plaintext || 0x02`, sealed with
/// the key and nonce derived from `ikm` and `salt`, after a header naming `keyid` (RFC 8188 §2).
/// Refuses a plaintext that does not fit the record, or a key id over 255 octets.
pub fn encrypt(ikm: &[u8], salt: &[u8; 16], keyid: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, EceError> {
    let idlen = u8::try_from(keyid.len()).map_err(|_| EceError::KeyIdTooLong(keyid.len()))?;
    let max = RECORD_SIZE as usize - TAG - 1;
    if plaintext.len() > max {
        return Err(EceError::PlaintextTooLong { len: plaintext.len(), max });
    }
    let keys = Keys::derive(ikm, salt);
    let mut record = Vec::with_capacity(plaintext.len() + 1);
    record.extend_from_slice(plaintext);
    record.push(LAST);
    // AES-GCM refuses only inputs of gigabytes; one record is at most 4 KB.
    let sealed = keys.cipher().encrypt(&keys.nonce(0).into(), record.as_slice()).expect("a 4 KB record");
    let mut body = Vec::with_capacity(HEADER_FIXED + keyid.len() + sealed.len());
    body.extend_from_slice(salt);
    body.extend_from_slice(&RECORD_SIZE.to_be_bytes());
    body.push(idlen);
    body.extend_from_slice(keyid);
    body.extend_from_slice(&sealed);
    Ok(body)
}

/// The plaintext of an `aes128gcm` body of any number of records, read strictly: every record
/// must authenticate, the last must end with delimiter 2 and the others with 1, and only zeros
/// may pad (RFC 8188 §2). A body cut at a record boundary is refused as truncated.
pub fn decrypt(ikm: &[u8], body: &[u8]) -> Result<Vec<u8>, EceError> {
    Header::parse(body)?.open(ikm)
}

/// A Web Push message body (RFC 8291 §3): `plaintext` encrypted for the subscription whose
/// keys are `p256dh` (its public key) and `auth` (its 16-octet secret), from the application
/// server's ephemeral private key `as_secret` (whose public key becomes the key id), with
/// `salt`. Both must be fresh for every message.
pub fn web_push_encrypt(
    plaintext: &[u8],
    p256dh: &[u8],
    auth: &[u8],
    as_secret: &[u8; 32],
    salt: &[u8; 16],
) -> Result<Vec<u8>, EceError> {
    if plaintext.len() > PLAINTEXT_MAX {
        return Err(EceError::PlaintextTooLong { len: plaintext.len(), max: PLAINTEXT_MAX });
    }
    let ua_public = point(p256dh).ok_or(EceError::InvalidP256dh)?;
    let auth = auth_secret(auth)?;
    let as_scalar = scalar(as_secret)?;
    let as_public = uncompressed(&PublicKey::from_secret_scalar(&as_scalar));
    let shared = ecdh(&as_scalar, &ua_public);
    let ikm = web_push_ikm(&shared, auth, p256dh, &as_public);
    encrypt(&ikm, salt, &as_public, plaintext)
}

/// The receiver's side of [`web_push_encrypt`]: the plaintext of a Web Push body, given the
/// subscription's private key and auth secret. Strict as [`decrypt`], and a Web Push body must
/// also be a single record whose key id is the sender's public key (RFC 8291 §4).
pub fn web_push_decrypt(body: &[u8], ua_secret: &[u8; 32], auth: &[u8]) -> Result<Vec<u8>, EceError> {
    let auth = auth_secret(auth)?;
    let ua_scalar = scalar(ua_secret)?;
    let header = Header::parse(body)?;
    let as_public = point(header.keyid).ok_or(EceError::InvalidSenderKey)?;
    if header.records.len() > header.rs as usize {
        return Err(EceError::SeveralRecords);
    }
    let ua_public = uncompressed(&PublicKey::from_secret_scalar(&ua_scalar));
    let shared = ecdh(&ua_scalar, &as_public);
    let ikm = web_push_ikm(&shared, auth, &ua_public, header.keyid);
    header.open(&ikm)
}

/// Whether `bytes` is a subscription key Herald can encrypt to: an uncompressed P-256 point
/// (65 octets, `0x04` first) on the curve. RFC 8291 §7: a point off the curve would leak the
/// sender's key bits.
pub fn valid_p256dh(bytes: &[u8]) -> bool {
    point(bytes).is_some()
}

fn point(bytes: &[u8]) -> Option<PublicKey> {
    if bytes.len() != POINT_LEN || bytes[0] != 0x04 {
        return None;
    }
    PublicKey::from_sec1_bytes(bytes).ok()
}

fn scalar(bytes: &[u8; 32]) -> Result<NonZeroScalar, EceError> {
    Option::from(NonZeroScalar::from_repr((*bytes).into())).ok_or(EceError::InvalidSecret)
}

fn auth_secret(auth: &[u8]) -> Result<&[u8], EceError> {
    if auth.len() == 16 {
        Ok(auth)
    } else {
        Err(EceError::InvalidAuth(auth.len()))
    }
}

fn uncompressed(key: &PublicKey) -> [u8; POINT_LEN] {
    let point = key.to_encoded_point(false);
    let mut bytes = [0; POINT_LEN];
    bytes.copy_from_slice(point.as_bytes());
    bytes
}

/// The x coordinate of `secret · public` (RFC 8291 §3.1).
fn ecdh(secret: &NonZeroScalar, public: &PublicKey) -> [u8; 32] {
    (*p256::ecdh::diffie_hellman(secret, public.as_affine()).raw_secret_bytes()).into()
}

/// RFC 8291 §3.3: the content coding's input key, from the ECDH secret, salted with the auth
/// secret, bound to both public keys.
fn web_push_ikm(shared: &[u8; 32], auth: &[u8], ua_public: &[u8], as_public: &[u8]) -> [u8; 32] {
    let (_, hkdf) = Hkdf::<Sha256>::extract(Some(auth), shared);
    let mut ikm = [0; 32];
    hkdf.expand_multi_info(&[b"WebPush: info\0", ua_public, as_public], &mut ikm).expect("32 octets of HKDF");
    ikm
}

/// The content-encryption key and base nonce of one body (RFC 8188 §2.2, §2.3).
struct Keys {
    cek: [u8; 16],
    nonce: [u8; 12],
}

impl Keys {
    fn derive(ikm: &[u8], salt: &[u8]) -> Self {
        let hkdf = Hkdf::<Sha256>::new(Some(salt), ikm);
        let mut keys = Keys { cek: [0; 16], nonce: [0; 12] };
        hkdf.expand(b"Content-Encoding: aes128gcm\0", &mut keys.cek).expect("16 octets of HKDF");
        hkdf.expand(b"Content-Encoding: nonce\0", &mut keys.nonce).expect("12 octets of HKDF");
        keys
    }

    fn cipher(&self) -> Aes128Gcm {
        Aes128Gcm::new(&self.cek.into())
    }

    /// Record `seq`'s nonce: the base nonce XOR the sequence number, right-aligned (RFC 8188
    /// §2.3).
    fn nonce(&self, seq: u64) -> [u8; 12] {
        let mut nonce = self.nonce;
        for (byte, s) in nonce[4..].iter_mut().zip(seq.to_be_bytes()) {
            *byte ^= s;
        }
        nonce
    }
}

/// A body split into its header fields and its records.
struct Header<'a> {
    salt: &'a [u8],
    rs: u32,
    keyid: &'a [u8],
    records: &'a [u8],
}

impl<'a> Header<'a> {
    fn parse(body: &'a [u8]) -> Result<Self, EceError> {
        if body.len() < HEADER_FIXED {
            return Err(EceError::TruncatedHeader(body.len()));
        }
        let rs = u32::from_be_bytes(body[16..20].try_into().expect("4 octets"));
        if rs < RECORD_SIZE_MIN {
            return Err(EceError::RecordSizeTooSmall(rs));
        }
        let end = HEADER_FIXED + usize::from(body[20]);
        if body.len() < end {
            return Err(EceError::TruncatedHeader(body.len()));
        }
        if body.len() == end {
            return Err(EceError::NoRecord);
        }
        Ok(Header { salt: &body[..16], rs, keyid: &body[HEADER_FIXED..end], records: &body[end..] })
    }

    fn open(&self, ikm: &[u8]) -> Result<Vec<u8>, EceError> {
        let keys = Keys::derive(ikm, self.salt);
        let cipher = keys.cipher();
        // `rs` is a u32 and usize is at least 32 bits on every target Herald builds for.
        let records = self.records.chunks(self.rs as usize);
        let count = records.len() as u64;
        let mut plaintext = Vec::with_capacity(self.records.len());
        for (index, record) in (0u64..).zip(records) {
            if record.len() <= TAG {
                return Err(EceError::RecordTooShort { index, len: record.len() });
            }
            let opened =
                cipher.decrypt(&keys.nonce(index).into(), record).map_err(|_| EceError::Unauthentic { index })?;
            // Padding is zeros after the delimiter; the last non-zero octet is the delimiter.
            let at = opened.iter().rposition(|&b| b != 0).ok_or(EceError::NoDelimiter { index })?;
            let last = index + 1 == count;
            match (opened[at], last) {
                (LAST, true) | (MORE, false) => plaintext.extend_from_slice(&opened[..at]),
                (MORE, true) => return Err(EceError::Truncated),
                (LAST, false) => return Err(EceError::LastBeforeEnd { index }),
                (found, _) => return Err(EceError::BadDelimiter { index, found }),
            }
        }
        Ok(plaintext)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64ct::{Base64UrlUnpadded, Encoding};

    fn b64(text: &str) -> Vec<u8> {
        Base64UrlUnpadded::decode_vec(text).unwrap()
    }

    fn array<const N: usize>(text: &str) -> [u8; N] {
        b64(text).try_into().unwrap()
    }

    fn prk(salt: &[u8], ikm: &[u8]) -> Vec<u8> {
        Hkdf::<Sha256>::extract(Some(salt), ikm).0.to_vec()
    }

    /// A body of records whose plaintexts (delimiter and padding included) are given as is, so
    /// that the reader's rules can be broken one at a time.
    fn seal(ikm: &[u8], rs: u32, plaintexts: &[&[u8]]) -> Vec<u8> {
        let salt = [7; 16];
        let keys = Keys::derive(ikm, &salt);
        let mut body = [&salt[..], &rs.to_be_bytes(), &[0]].concat();
        for (seq, plaintext) in (0..).zip(plaintexts) {
            body.extend(keys.cipher().encrypt(&keys.nonce(seq).into(), *plaintext).unwrap());
        }
        body
    }

    // RFC 8291 Appendix A.
    const PLAINTEXT: &str = "V2hlbiBJIGdyb3cgdXAsIEkgd2FudCB0byBiZSBhIHdhdGVybWVsb24";
    const AS_PUBLIC: &str = "BP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A8";
    const AS_PRIVATE: &str = "yfWPiYE-n46HLnH0KqZOF1fJJU3MYrct3AELtAQ-oRw";
    const UA_PUBLIC: &str = "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4";
    const UA_PRIVATE: &str = "q1dXpw3UpT5VOmu_cf_v6ih07Aems3njxI-JWgLcM94";
    const SALT: &str = "DGv6ra1nlYgDCS1FRnbzlw";
    const AUTH: &str = "BTBZMqHH6r4Tts7J_aSIgg";
    const HEADER: &str = "DGv6ra1nlYgDCS1FRnbzlwAAEABBBP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A8";
    const CIPHERTEXT: &str = "8pfeW0KbunFT06SuDKoJH9Ql87S1QUrdirN6GcG7sFz1y1sqLgVi1VhjVkHsUoEsbI_0LpXMuGvnzQ";
    const BODY: &str = "DGv6ra1nlYgDCS1FRnbzlwAAEABBBP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A_yl95bQpu6cVPTpK4Mqgkf1CXztLVBSt2Ks3oZwbuwXPXLWyouBWLVWGNWQexSgSxsj_Qulcy4a-fN";

    #[test]
    fn the_rfc_8291_example_is_reproduced_step_by_step() {
        let as_scalar = scalar(&array(AS_PRIVATE)).unwrap();
        assert_eq!(uncompressed(&PublicKey::from_secret_scalar(&as_scalar)).to_vec(), b64(AS_PUBLIC));
        let ua_public = point(&b64(UA_PUBLIC)).unwrap();
        let shared = ecdh(&as_scalar, &ua_public);
        assert_eq!(shared.to_vec(), b64("kyrL1jIIOHEzg3sM2ZWRHDRB62YACZhhSlknJ672kSs"), "ecdh_secret");
        assert_eq!(prk(&b64(AUTH), &shared), b64("Snr3JMxaHVDXHWJn5wdC52WjpCtd2EIEGBykDcZW32k"), "PRK_key");
        let ikm = web_push_ikm(&shared, &b64(AUTH), &b64(UA_PUBLIC), &b64(AS_PUBLIC));
        assert_eq!(ikm.to_vec(), b64("S4lYMb_L0FxCeq0WhDx813KgSYqU26kOyzWUdsXYyrg"), "IKM");
        assert_eq!(prk(&b64(SALT), &ikm), b64("09_eUZGrsvxChDCGRCdkLiDXrReGOEVeSCdCcPBSJSc"), "PRK");
        let keys = Keys::derive(&ikm, &b64(SALT));
        assert_eq!(keys.cek.to_vec(), b64("oIhVW04MRdy2XN9CiKLxTg"), "CEK");
        assert_eq!(keys.nonce(0).to_vec(), b64("4h_95klXJ5E_qnoN"), "NONCE");

        let body = web_push_encrypt(&b64(PLAINTEXT), &b64(UA_PUBLIC), &b64(AUTH), &array(AS_PRIVATE), &array(SALT));
        let body = body.unwrap();
        // The RFC's example request says Content-Length 145; the body it prints is 144 octets.
        assert_eq!(body.len(), 144);
        assert_eq!(body[..86], b64(HEADER));
        assert_eq!(body[86..], b64(CIPHERTEXT));
        assert_eq!(body, b64(BODY));
    }

    #[test]
    fn the_rfc_8291_example_decrypts_with_the_receivers_keys() {
        let plaintext = web_push_decrypt(&b64(BODY), &array(UA_PRIVATE), &b64(AUTH)).unwrap();
        assert_eq!(plaintext, b"When I grow up, I want to be a watermelon");
    }

    #[test]
    fn the_rfc_8188_single_record_example_is_reproduced() {
        let (ikm, salt) = (b64("yqdlZ-tYemfogSmv7Ws5PQ"), array("I1BsxtFttlv3u_Oo94xnmw"));
        assert_eq!(prk(&salt, &ikm), b64("zyeH5phsIsgUyd4oiSEIy35x-gIi4aM7y0hCF8mwn9g"), "PRK");
        let keys = Keys::derive(&ikm, &salt);
        assert_eq!(keys.cek.to_vec(), b64("_wniytB-ofscZDh4tbSjHw"), "CEK");
        assert_eq!(keys.nonce(0).to_vec(), b64("Bcs8gkIRKLI8GeI8"), "NONCE");
        let body = encrypt(&ikm, &salt, b"", b"I am the walrus").unwrap();
        // 53 octets (the RFC's Content-Length says 54).
        assert_eq!(body, b64("I1BsxtFttlv3u_Oo94xnmwAAEAAA-NAVub2qFgBEuQKRapoZu-IxkIva3MEB1PD-ly8Thjg"));
        assert_eq!(decrypt(&ikm, &body).unwrap(), b"I am the walrus");
    }

    const TWO_RECORDS: &str =
        "uNCkWiNYzKTnBN9ji3-qWAAAABkCYTHOG8chz_gnvgOqdGYovxyjuqRyJFjEDyoF1Fvkj6hQPdPHI51OEUKEpgz3SsLWIqS_uA";
    const TWO_RECORDS_IKM: &str = "BO3ZVPxUlnLORbVGMpbT1Q";

    #[test]
    fn the_rfc_8188_two_record_example_decrypts_with_its_padding_and_key_id() {
        let body = b64(TWO_RECORDS);
        let header = Header::parse(&body).unwrap();
        assert_eq!((header.rs, header.keyid), (25, &b"a1"[..]));
        let keys = Keys::derive(&b64(TWO_RECORDS_IKM), header.salt);
        assert_eq!(keys.nonce(0).to_vec(), b64("VqylG1rdt-mJrNgP"));
        assert_eq!(keys.nonce(1)[11], keys.nonce(0)[11] ^ 1, "record 1's nonce");
        assert_eq!(decrypt(&b64(TWO_RECORDS_IKM), &body).unwrap(), b"I am the walrus");
    }

    #[test]
    fn an_altered_body_or_a_wrong_key_does_not_decrypt() {
        let body = b64(BODY);
        // Not the record size (RFC 8188 does not authenticate it) nor the key id (its own check).
        for at in [0, 15, 90, body.len() - 1] {
            let mut altered = body.clone();
            altered[at] ^= 1;
            assert_eq!(
                web_push_decrypt(&altered, &array(UA_PRIVATE), &b64(AUTH)),
                Err(EceError::Unauthentic { index: 0 }),
                "{at}"
            );
        }
        let wrong_auth = [0; 16];
        assert_eq!(web_push_decrypt(&body, &array(UA_PRIVATE), &wrong_auth), Err(EceError::Unauthentic { index: 0 }));
        assert_eq!(web_push_decrypt(&body, &array(AS_PRIVATE), &b64(AUTH)), Err(EceError::Unauthentic { index: 0 }));
        assert_eq!(decrypt(&b64("yqdlZ-tYemfogSmv7Ws5PQ"), &b64(TWO_RECORDS)), Err(EceError::Unauthentic { index: 0 }));
    }

    #[test]
    fn a_truncated_body_is_refused() {
        let body = b64(TWO_RECORDS);
        let ikm = b64(TWO_RECORDS_IKM);
        // Header 16 + 4 + 1 + "a1" = 23 octets, then records of 25.
        assert_eq!(decrypt(&ikm, &body[..23 + 25]), Err(EceError::Truncated), "cut at a record boundary");
        assert_eq!(decrypt(&ikm, &body[..body.len() - 1]), Err(EceError::Unauthentic { index: 1 }));
        assert_eq!(decrypt(&ikm, &body[..23 + 25 + 16]), Err(EceError::RecordTooShort { index: 1, len: 16 }));
        assert_eq!(decrypt(&ikm, &body[..23]), Err(EceError::NoRecord));
        assert_eq!(decrypt(&ikm, &body[..22]), Err(EceError::TruncatedHeader(22)));
        assert_eq!(decrypt(&ikm, &body[..5]), Err(EceError::TruncatedHeader(5)));
        assert_eq!(decrypt(&ikm, b""), Err(EceError::TruncatedHeader(0)));
    }

    #[test]
    fn a_record_size_below_18_is_refused() {
        let mut body = b64(TWO_RECORDS);
        body[16..20].copy_from_slice(&17u32.to_be_bytes());
        assert_eq!(decrypt(&b64(TWO_RECORDS_IKM), &body), Err(EceError::RecordSizeTooSmall(17)));
    }

    #[test]
    fn delimiters_and_padding_are_read_strictly() {
        let ikm = [1; 16];
        let read = |records: &[&[u8]]| decrypt(&ikm, &seal(&ikm, 20, records));
        assert_eq!(read(&[b"abc\x01", b"de\x02\0"]), Ok(b"abcde".to_vec()), "zeros pad");
        assert_eq!(read(&[b"a\x01\0\0", b"b\x02"]), Ok(b"ab".to_vec()));
        assert_eq!(read(&[b"\x02"]), Ok(vec![]), "an empty message");
        assert_eq!(read(&[b"abc\x01"]), Err(EceError::Truncated));
        assert_eq!(read(&[b"abcd", b"e\x02"]), Err(EceError::BadDelimiter { index: 0, found: b'd' }));
        assert_eq!(read(&[b"abc\x02", b"de\x02"]), Err(EceError::LastBeforeEnd { index: 0 }));
        assert_eq!(read(&[b"a\x02\0\x05"]), Err(EceError::BadDelimiter { index: 0, found: 5 }), "padding is zeros");
        assert_eq!(read(&[b"ab\x03"]), Err(EceError::BadDelimiter { index: 0, found: 3 }));
        assert_eq!(read(&[b"\0\0\0"]), Err(EceError::NoDelimiter { index: 0 }));
    }

    #[test]
    fn a_key_off_the_curve_is_refused() {
        let ua = b64(UA_PUBLIC);
        assert!(valid_p256dh(&ua));
        let mut off = ua.clone();
        off[64] ^= 1;
        let compressed = PublicKey::from_sec1_bytes(&ua).unwrap().to_encoded_point(true).as_bytes().to_vec();
        for bad in
            [off.clone(), compressed, ua[..64].to_vec(), [ua.as_slice(), &[0u8]].concat(), vec![0], vec![4; 65], vec![]]
        {
            assert!(!valid_p256dh(&bad), "{bad:?}");
            let refused = web_push_encrypt(b"x", &bad, &b64(AUTH), &array(AS_PRIVATE), &array(SALT));
            assert_eq!(refused, Err(EceError::InvalidP256dh));
        }
        let mut body = b64(BODY);
        body[21 + 64] ^= 1;
        assert_eq!(web_push_decrypt(&body, &array(UA_PRIVATE), &b64(AUTH)), Err(EceError::InvalidSenderKey));
    }

    #[test]
    fn web_push_refuses_what_it_cannot_send() {
        let (ua, auth, secret, salt) = (b64(UA_PUBLIC), b64(AUTH), array(AS_PRIVATE), array(SALT));
        let longest = web_push_encrypt(&[b'x'; PLAINTEXT_MAX], &ua, &auth, &secret, &salt).unwrap();
        assert_eq!(longest.len(), RECORD_SIZE as usize, "the longest plaintext fills the 4096 octets");
        assert_eq!(web_push_decrypt(&longest, &array(UA_PRIVATE), &auth).unwrap().len(), PLAINTEXT_MAX);
        assert_eq!(
            web_push_encrypt(&[b'x'; PLAINTEXT_MAX + 1], &ua, &auth, &secret, &salt),
            Err(EceError::PlaintextTooLong { len: 3994, max: 3993 })
        );
        assert_eq!(web_push_encrypt(b"x", &ua, &auth[..15], &secret, &salt), Err(EceError::InvalidAuth(15)));
        assert_eq!(web_push_decrypt(&b64(BODY), &array(UA_PRIVATE), &[0; 17]), Err(EceError::InvalidAuth(17)));
        // The group order n, and zero, are not private keys.
        let n = array("_____wAAAAD__________7zm-q2nF56E87nKwvxjJVE");
        for bad in [[0; 32], n, [0xff; 32]] {
            assert_eq!(web_push_encrypt(b"x", &ua, &auth, &bad, &salt), Err(EceError::InvalidSecret));
            assert_eq!(web_push_decrypt(&b64(BODY), &bad, &auth), Err(EceError::InvalidSecret));
        }
        let several = [longest, vec![0; 200]].concat();
        assert_eq!(web_push_decrypt(&several, &array(UA_PRIVATE), &auth), Err(EceError::SeveralRecords));
    }

    #[test]
    fn the_content_coding_bounds_its_single_record() {
        let ikm = [3; 16];
        let salt = [4; 16];
        assert_eq!(encrypt(&ikm, &salt, &[0; 256], b"x"), Err(EceError::KeyIdTooLong(256)));
        assert_eq!(encrypt(&ikm, &salt, b"", &[0; 4080]), Err(EceError::PlaintextTooLong { len: 4080, max: 4079 }));
        let body = encrypt(&ikm, &salt, &[9; 255], &[0; 4079]).unwrap();
        assert_eq!(body.len(), 21 + 255 + 4096);
        assert_eq!(decrypt(&ikm, &body).unwrap(), [0; 4079], "zeros of the plaintext are not padding");
    }
}
