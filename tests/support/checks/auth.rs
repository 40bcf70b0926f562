//! Tokens (`auth/jws.rs`, `auth/mod.rs`), JWK sets (`auth/keys.rs`) and room patterns.

use super::{assert_coded, verifier, SECRET};
use crate::T0;
use base64ct::{Base64UrlUnpadded, Encoding};
use herald_core::auth::{KeySet, RoomPattern};
use herald_core::error::ErrorCode;
use hmac::{Hmac, Mac};
use serde_json::Value;

/// What a token may be refused with (docs/errors.md).
pub const TOKEN_CODES: [ErrorCode; 3] = [ErrorCode::TokenInvalid, ErrorCode::TokenExpired, ErrorCode::TokenNotYetValid];

/// A compact JWS of `header` and `claims` (any bytes) signed HS256 with [`SECRET`].
pub fn sign(header: &[u8], claims: &[u8]) -> String {
    let input = format!("{}.{}", Base64UrlUnpadded::encode_string(header), Base64UrlUnpadded::encode_string(claims));
    let mut mac = <Hmac<sha2::Sha256> as Mac>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(input.as_bytes());
    format!("{input}.{}", Base64UrlUnpadded::encode_string(&mac.finalize().into_bytes()))
}

/// Any text as a token, at `now` (ms): refused with a token code, or an identity.
pub fn token(text: &str, now: i64) {
    if let Err(error) = verifier().verify(text, now) {
        assert_coded(&error, &TOKEN_CODES, &text);
    }
}

/// A token signed with the right key, whatever its header and claims say, verified at [`T0`]:
/// refused with a token code, or accepted only when the header says HS256 and the claims are
/// an object whose `sub` is the identity's user and whose `exp` has not passed; `role:
/// "admin"` and nothing else makes an admin.
pub fn signed(header: &[u8], claims: &[u8]) {
    let token = sign(header, claims);
    match verifier().verify(&token, T0) {
        Err(error) => assert_coded(&error, &TOKEN_CODES, &token),
        Ok(identity) => {
            let header: Value = serde_json::from_slice(header).unwrap();
            assert_eq!(header["alg"], "HS256", "{token}");
            let claims: Value = serde_json::from_slice(claims).unwrap();
            assert_eq!(claims["sub"].as_str(), Some(identity.user.id.as_str()), "{claims}");
            let exp = claims["exp"].as_f64().unwrap_or_else(|| panic!("accepted without exp: {claims}"));
            assert!(exp * 1000.0 + 60_000.0 >= T0 as f64, "accepted after its exp: {claims}");
            assert_eq!(identity.admin, claims["role"] == "admin", "{claims}");
        }
    }
}

/// A valid token with one byte changed at `at` (any position, any byte): refused, unless the
/// change left every part decoding to the same bytes (base64url's unused low bits).
pub fn tampered(claims: &str, at: usize, byte: u8) {
    let token = sign(br#"{"alg":"HS256"}"#, claims.as_bytes());
    let mut bytes = token.clone().into_bytes();
    let at = at % bytes.len();
    if bytes[at] == byte {
        return;
    }
    bytes[at] = byte;
    let Ok(tampered) = String::from_utf8(bytes) else { return };
    match verifier().verify(&tampered, T0) {
        Err(error) => assert_coded(&error, &TOKEN_CODES, &tampered),
        Ok(_) => {
            let parts = |t: &str| t.split('.').map(|p| Base64UrlUnpadded::decode_vec(p).ok()).collect::<Vec<_>>();
            assert_eq!(parts(&tampered), parts(&token), "{tampered:?} verified, tampered from {token:?}");
        }
    }
}

/// A JWK set, as `JWT_PUBLIC_KEYS` holds it: keys, or a message naming what is wrong.
pub fn jwks(text: &str) {
    match KeySet::public_keys_from_jwks(text) {
        Ok(keys) => {
            for key in keys {
                assert!(["ES256", "EdDSA"].contains(&key.key.alg()));
            }
        }
        Err(message) => assert!(!message.is_empty(), "{text:?}"),
    }
}

/// A room pattern of the `rooms` claim against a room id: `*` is the only wildcard.
pub fn pattern(pattern: &str, room: &str) {
    let Ok(parsed) = RoomPattern::parse(pattern) else {
        assert!(pattern.is_empty() || pattern.len() > 256, "{pattern:?} refused");
        return;
    };
    let matches = parsed.matches(room);
    if !pattern.contains('*') {
        assert_eq!(matches, pattern == room, "{pattern:?} against {room:?}");
    }
    if pattern.bytes().all(|b| b == b'*') {
        assert!(matches, "{pattern:?} against {room:?}");
    }
    if let Some(prefix) = pattern.strip_suffix('*').filter(|p| !p.contains('*')) {
        assert_eq!(matches, room.starts_with(prefix), "{pattern:?} against {room:?}");
    }
}
