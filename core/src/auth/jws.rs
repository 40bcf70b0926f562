//! A token as a compact JWS (RFC 7515 §7.1): `header.claims.signature`, each part base64url
//! without padding. [`Jws::parse`] splits and decodes it; [`Jws::claims`] reads the claims;
//! [`Algorithm`] checks HS256, ES256 and EdDSA signatures over the signing input.
//!
//! Herald used jwt-compact for this; its generic token, claims and JWK types made up about a
//! tenth of the worker's wasm, so the part Herald needs is written here against the same crypto
//! crates (`hmac` + `sha2`, `p256`, `ed25519-dalek`). Each rule, and the order the rules are
//! checked in, is the one jwt-compact 0.8 applied, and so is each error's wording: the native
//! tests (`tests/jwt.rs`) still mint their tokens with jwt-compact.

use std::fmt;

use base64ct::{Base64UrlUnpadded, Encoding};
use hmac::{Hmac, Mac};
use serde::de::{self, Deserializer};
use serde::Deserialize;
use sha2::Sha256;

/// Why a string is not a JWS at all.
#[derive(Debug)]
pub enum ParseError {
    InvalidTokenStructure,
    InvalidBase64Encoding,
    MalformedHeader(String),
    UnsupportedContentType(String),
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidTokenStructure => f.write_str("invalid token structure"),
            Self::InvalidBase64Encoding => f.write_str("invalid base64 decoding"),
            Self::MalformedHeader(e) => write!(f, "malformed token header: {e}"),
            Self::UnsupportedContentType(ty) => write!(f, "unsupported content type: {ty}"),
        }
    }
}

/// Why a well-formed JWS does not verify.
#[derive(Debug)]
pub enum ValidationError {
    InvalidSignatureLen {
        expected: usize,
        actual: usize,
    },
    MalformedSignature,
    InvalidSignature,
    MalformedClaims(String),
    Expired,
    NotMature,
    /// A claim the check needs (`exp`) is absent.
    NoClaim(&'static str),
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidSignatureLen { expected, actual } => {
                write!(f, "invalid signature length: expected {expected} bytes, got {actual} bytes")
            }
            Self::MalformedSignature => f.write_str("malformed token signature: signature error"),
            Self::InvalidSignature => f.write_str("signature has failed verification"),
            Self::MalformedClaims(e) => write!(f, "cannot deserialize claims: {e}"),
            Self::Expired => f.write_str("token has expired"),
            Self::NotMature => f.write_str("token is not yet ready"),
            Self::NoClaim(claim) => {
                write!(f, "claim `{claim}` requested during validation is not present in the token")
            }
        }
    }
}

/// The header fields Herald reads or must see well-formed. Others are ignored.
#[derive(Debug, Deserialize)]
pub struct Header {
    pub alg: String,
    pub kid: Option<String>,
    /// Only JSON claims exist here (`cty` absent or `JSON`).
    cty: Option<String>,
    /// Critical extensions (RFC 7515 §4.1.11): any makes the token unacceptable.
    pub crit: Option<de::IgnoredAny>,
    // Read so that a malformed one refuses the token, as it always has.
    #[allow(dead_code)]
    jku: Option<String>,
    #[allow(dead_code)]
    x5u: Option<String>,
    #[allow(dead_code)]
    typ: Option<String>,
    #[serde(default, deserialize_with = "thumbprint::<20, _>")]
    #[allow(dead_code)]
    x5t: Option<()>,
    #[serde(default, rename = "x5t#S256", deserialize_with = "thumbprint::<32, _>")]
    #[allow(dead_code)]
    x5t_s256: Option<()>,
}

/// A parsed, not yet verified, token.
pub struct Jws<'a> {
    pub header: Header,
    /// `header.claims` as sent: what the signature covers.
    signing_input: &'a str,
    claims: Vec<u8>,
    signature: Vec<u8>,
}

impl<'a> Jws<'a> {
    pub fn parse(token: &'a str) -> Result<Self, ParseError> {
        let mut parts = token.splitn(4, '.');
        let (Some(header), Some(claims), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(ParseError::InvalidTokenStructure);
        };
        let decode = |part: &str| Base64UrlUnpadded::decode_vec(part).map_err(|_| ParseError::InvalidBase64Encoding);
        let header = decode(header)?;
        let claims = decode(claims)?;
        let signature = decode(signature)?;
        let header: Header = json(&header).map_err(ParseError::MalformedHeader)?;
        match &header.cty {
            Some(ty) if !ty.eq_ignore_ascii_case("json") => return Err(ParseError::UnsupportedContentType(ty.clone())),
            _ => {}
        }
        let signing_input = &token[..token.rfind('.').expect("three parts")];
        Ok(Self { header, signing_input, claims, signature })
    }

    /// The claims, read into `T` (without any check of the signature).
    pub fn claims<T: de::DeserializeOwned>(&self) -> Result<T, ValidationError> {
        json(&self.claims).map_err(ValidationError::MalformedClaims)
    }

    /// The signature, checked for the length and form `alg` gives it (not yet verified).
    pub fn signature<A: Algorithm>(&self) -> Result<A::Signature, ValidationError> {
        if self.signature.len() != A::SIGNATURE_LEN {
            return Err(ValidationError::InvalidSignatureLen {
                expected: A::SIGNATURE_LEN,
                actual: self.signature.len(),
            });
        }
        A::signature(&self.signature).ok_or(ValidationError::MalformedSignature)
    }

    /// Whether `signature` over this token's signing input verifies with `key`.
    pub fn verifies<A: Algorithm>(&self, key: &A::Key, signature: &A::Signature) -> bool {
        A::verify(key, self.signing_input.as_bytes(), signature)
    }
}

/// Reads JSON text: UTF-8 first, then `serde_json::from_str`, the reader every other JSON in
/// Herald goes through (`from_slice` would compile a second copy of serde_json's parser).
fn json<T: de::DeserializeOwned>(bytes: &[u8]) -> Result<T, String> {
    let text = std::str::from_utf8(bytes).map_err(|e| e.to_string())?;
    serde_json::from_str(text).map_err(|e| e.to_string())
}

/// A signature algorithm Herald accepts.
pub trait Algorithm {
    type Key;
    type Signature;
    const SIGNATURE_LEN: usize;
    fn signature(bytes: &[u8]) -> Option<Self::Signature>;
    fn verify(key: &Self::Key, message: &[u8], signature: &Self::Signature) -> bool;
}

/// HS256: HMAC with SHA-256 (RFC 7518 §3.2).
pub enum Hs256 {}

/// An HS256 secret. Never printed.
#[derive(Clone)]
pub struct Hs256Key(Vec<u8>);

impl Hs256Key {
    pub fn new(secret: &[u8]) -> Self {
        Self(secret.to_vec())
    }
}

impl Algorithm for Hs256 {
    type Key = Hs256Key;
    type Signature = Vec<u8>;
    const SIGNATURE_LEN: usize = 32;

    fn signature(bytes: &[u8]) -> Option<Vec<u8>> {
        Some(bytes.to_vec())
    }

    fn verify(key: &Hs256Key, message: &[u8], signature: &Vec<u8>) -> bool {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&key.0).expect("HMAC takes a key of any size");
        mac.update(message);
        // Constant time, like every comparison of a MAC should be.
        mac.verify_slice(signature).is_ok()
    }
}

/// ES256: ECDSA over P-256 with SHA-256 (RFC 7518 §3.4), signature `r || s`.
/// ES256: the JOSE form of the signature (r ‖ s, 64 bytes; DER is refused by its length).
/// A high-S signature is accepted, as JOSE and jwt-compact do: a token's text is therefore not
/// unique to its signer's signature, and nothing in Herald keys on it.
pub enum Es256 {}

impl Algorithm for Es256 {
    type Key = p256::ecdsa::VerifyingKey;
    type Signature = p256::ecdsa::Signature;
    const SIGNATURE_LEN: usize = 64;

    fn signature(bytes: &[u8]) -> Option<Self::Signature> {
        p256::ecdsa::Signature::from_slice(bytes).ok()
    }

    fn verify(key: &Self::Key, message: &[u8], signature: &Self::Signature) -> bool {
        use p256::ecdsa::signature::Verifier;
        key.verify(message, signature).is_ok()
    }
}

/// EdDSA with Ed25519 (RFC 8037 §3.1).
pub enum EdDsa {}

impl Algorithm for EdDsa {
    type Key = ed25519_dalek::VerifyingKey;
    type Signature = ed25519_dalek::Signature;
    const SIGNATURE_LEN: usize = 64;

    fn signature(bytes: &[u8]) -> Option<Self::Signature> {
        ed25519_dalek::Signature::from_slice(bytes).ok()
    }

    fn verify(key: &Self::Key, message: &[u8], signature: &Self::Signature) -> bool {
        use ed25519_dalek::Verifier;
        key.verify(message, signature).is_ok()
    }
}

/// Seconds since the epoch that a timestamp claim may hold: what chrono, which jwt-compact read
/// them with, takes (about the years -262143 to 262142; `tests/jwt.rs` checks the two against
/// each other). Anything outside refuses the claims.
pub const MIN_TIMESTAMP: i64 = -8_334_601_228_800;
pub const MAX_TIMESTAMP: i64 = 8_210_266_876_799;

/// `exp` / `nbf` / `iat` (RFC 7519 §2 NumericDate): seconds since the epoch, an integer or a
/// number (whose fraction is dropped).
pub fn timestamp<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<i64>, D::Error> {
    struct Seconds;

    impl de::Visitor<'_> for Seconds {
        type Value = i64;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("UTC timestamp")
        }

        fn visit_i64<E: de::Error>(self, value: i64) -> Result<i64, E> {
            if (MIN_TIMESTAMP..=MAX_TIMESTAMP).contains(&value) {
                Ok(value)
            } else {
                Err(E::custom("UTC timestamp overflow"))
            }
        }

        fn visit_u64<E: de::Error>(self, value: u64) -> Result<i64, E> {
            self.visit_i64(i64::try_from(value).map_err(E::custom)?)
        }

        fn visit_f64<E: de::Error>(self, value: f64) -> Result<i64, E> {
            // A saturating cast: NaN becomes 0, as it did.
            self.visit_i64(value as i64)
        }
    }

    deserializer.deserialize_i64(Seconds).map(Some)
}

/// A certificate thumbprint (`x5t`, `x5t#S256`): a base64url string, of at least `N` bytes
/// decoded. Herald does not use it, but a malformed one makes the header malformed.
/// `null` is an absent thumbprint, as it was for jwt-compact.
fn thumbprint<'de, const N: usize, D: Deserializer<'de>>(deserializer: D) -> Result<Option<()>, D::Error> {
    let Some(value) = Option::<String>::deserialize(deserializer)? else { return Ok(None) };
    let value = value.strip_suffix('=').unwrap_or(&value);
    let value = value.strip_suffix('=').unwrap_or(value);
    let decoded_len = value.len() * 3 / 4;
    if decoded_len < N {
        return Err(de::Error::custom(format!("thumbprint must contain at least {N} bytes")));
    }
    let decoded = Base64UrlUnpadded::decode_vec(value).map_err(de::Error::custom)?;
    if decoded_len > N {
        // Not a digest: the text some issuers put there instead, which must be UTF-8.
        String::from_utf8(decoded).map_err(|e| de::Error::custom(e.utf8_error()))?;
    }
    Ok(Some(()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(bytes: &[u8]) -> String {
        Base64UrlUnpadded::encode_string(bytes)
    }

    fn token(header: &str, claims: &str, signature: &[u8]) -> String {
        format!("{}.{}.{}", b64(header.as_bytes()), b64(claims.as_bytes()), b64(signature))
    }

    fn hs256(header: &str, claims: &str, secret: &[u8]) -> String {
        let input = format!("{}.{}", b64(header.as_bytes()), b64(claims.as_bytes()));
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret).unwrap();
        mac.update(input.as_bytes());
        format!("{input}.{}", b64(&mac.finalize().into_bytes()))
    }

    #[test]
    fn a_token_is_three_base64url_parts_with_a_json_header() {
        for junk in ["", "abc", "a.b", "a.b.c.d"] {
            assert!(matches!(Jws::parse(junk), Err(ParseError::InvalidTokenStructure)), "{junk:?}");
        }
        assert!(matches!(Jws::parse("a.b.%%"), Err(ParseError::InvalidBase64Encoding)));
        for header in ["{}", "[1]", r#"{"alg":1}"#, r#"{"alg":"HS256","kid":2}"#] {
            let token = token(header, "{}", b"");
            assert!(matches!(Jws::parse(&token), Err(ParseError::MalformedHeader(_))), "{header}");
        }
        let token = token(r#"{"alg":"HS256","kid":"k","typ":"JWT","other":1}"#, "{}", b"");
        let jws = Jws::parse(&token).unwrap();
        assert_eq!((jws.header.alg.as_str(), jws.header.kid.as_deref()), ("HS256", Some("k")));
    }

    #[test]
    fn only_json_claims_are_read() {
        assert!(Jws::parse(&token(r#"{"alg":"HS256","cty":"json"}"#, "{}", b"")).is_ok());
        let cbor = token(r#"{"alg":"HS256","cty":"CBOR"}"#, "{}", b"");
        assert_eq!(Jws::parse(&cbor).err().unwrap().to_string(), "unsupported content type: CBOR");
    }

    #[test]
    fn a_malformed_thumbprint_makes_the_header_malformed() {
        let with = |field: &str, value: &str| {
            Jws::parse(&token(&format!(r#"{{"alg":"HS256","{field}":"{value}"}}"#), "{}", b"")).map(|_| ())
        };
        assert!(with("x5t", &b64(&[7; 20])).is_ok());
        assert!(with("x5t", &format!("{}=", b64(&[7; 20]))).is_ok(), "padding is allowed");
        assert!(with("x5t", &b64(&[7; 19])).is_err(), "too short");
        assert!(with("x5t", &b64(b"65:AF:69:09:B1:B0:75:8E:06:C6:E0:48")).is_ok(), "longer text is kept");
        assert!(with("x5t#S256", &b64(&[7; 31])).is_err());
        assert!(with("x5t#S256", &b64(&[7; 32])).is_ok());
        for field in ["x5t", "x5t#S256"] {
            let header = format!(r#"{{"alg":"HS256","{field}":null}}"#);
            assert!(Jws::parse(&token(&header, "{}", b"")).is_ok(), "{field}: null is absent");
        }
    }

    #[test]
    fn crit_is_seen_unless_null() {
        let crit = |header: &str| Jws::parse(&token(header, "{}", b"")).unwrap().header.crit.is_some();
        assert!(crit(r#"{"alg":"HS256","crit":["b64"]}"#));
        assert!(!crit(r#"{"alg":"HS256","crit":null}"#));
    }

    #[test]
    fn hs256_verifies_its_own_mac_only() {
        let secret = b"a-local-test-secret-that-is-32-bytes!";
        let token = hs256(r#"{"alg":"HS256"}"#, r#"{"sub":"a"}"#, secret);
        let jws = Jws::parse(&token).unwrap();
        let signature = jws.signature::<Hs256>().unwrap();
        assert!(jws.verifies::<Hs256>(&Hs256Key::new(secret), &signature));
        assert!(!jws.verifies::<Hs256>(&Hs256Key::new(b"another-secret-that-is-32-bytes-long"), &signature));
        let short = token.replace(&token[token.rfind('.').unwrap()..], ".c2ln");
        let short = Jws::parse(&short).unwrap();
        assert_eq!(
            short.signature::<Hs256>().err().unwrap().to_string(),
            "invalid signature length: expected 32 bytes, got 3 bytes"
        );
    }

    #[test]
    fn an_es256_signature_of_zeroes_is_malformed() {
        let zeroes = token(r#"{"alg":"ES256"}"#, "{}", &[0; 64]);
        let jws = Jws::parse(&zeroes).unwrap();
        assert!(matches!(jws.signature::<Es256>(), Err(ValidationError::MalformedSignature)));
    }

    #[derive(Deserialize)]
    struct Times {
        #[serde(default, deserialize_with = "timestamp")]
        exp: Option<i64>,
    }

    #[test]
    fn timestamps_are_whole_seconds_within_chrono_s_range() {
        let exp = |json: &str| serde_json::from_str::<Times>(json).map(|t| t.exp).map_err(|e| e.to_string());
        assert_eq!(exp("{}"), Ok(None));
        assert_eq!(exp(r#"{"exp":1793613600}"#), Ok(Some(1_793_613_600)));
        assert_eq!(exp(r#"{"exp":1793613600.9}"#), Ok(Some(1_793_613_600)));
        assert_eq!(exp(r#"{"exp":-5}"#), Ok(Some(-5)));
        assert_eq!(exp(&format!(r#"{{"exp":{MAX_TIMESTAMP}}}"#)), Ok(Some(MAX_TIMESTAMP)));
        assert_eq!(exp(&format!(r#"{{"exp":{MIN_TIMESTAMP}}}"#)), Ok(Some(MIN_TIMESTAMP)));
        assert!(exp(&format!(r#"{{"exp":{}}}"#, MAX_TIMESTAMP + 1)).unwrap_err().starts_with("UTC timestamp overflow"));
        assert!(exp(&format!(r#"{{"exp":{}}}"#, MIN_TIMESTAMP - 1)).is_err());
        assert!(exp(r#"{"exp":18446744073709551615}"#).is_err());
        assert!(exp(r#"{"exp":"soon"}"#).is_err());
        assert!(exp(r#"{"exp":null}"#).is_err());
    }
}
