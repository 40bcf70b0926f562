//! The keys tokens may be signed with: one HS256 secret and any number of ES256 / EdDSA public
//! keys, each optionally named by `kid`.

use super::jws::Hs256Key;
use base64ct::{Base64UrlUnpadded, Encoding};
use serde_json::Value;

/// HS256 secrets shorter than this are refused: RFC 7518 §3.2 asks for a key at least as long
/// as the hash output (256 bits).
pub const MIN_HS256_SECRET_BYTES: usize = 32;

pub type Es256Key = p256::ecdsa::VerifyingKey;
pub type Ed25519Key = ed25519_dalek::VerifyingKey;

/// A public key and the name (`kid`) it may be chosen by.
#[derive(Clone)]
pub struct PublicKey {
    pub kid: Option<String>,
    pub key: PublicKeyKind,
}

#[derive(Clone)]
pub enum PublicKeyKind {
    Es256(Es256Key),
    EdDsa(Ed25519Key),
}

impl PublicKeyKind {
    /// The JWS `alg` this key verifies.
    pub fn alg(&self) -> &'static str {
        match self {
            Self::Es256(_) => "ES256",
            Self::EdDsa(_) => "EdDSA",
        }
    }
}

/// Every key a token may be verified with.
#[derive(Clone, Default)]
pub struct KeySet {
    pub hs256: Option<Hs256Key>,
    pub public: Vec<PublicKey>,
}

impl std::fmt::Debug for KeySet {
    // Never print key material.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeySet")
            .field("hs256", &self.hs256.is_some())
            .field("public", &self.public.iter().map(|k| (k.kid.clone(), k.key.alg())).collect::<Vec<_>>())
            .finish()
    }
}

impl KeySet {
    /// An HS256 secret, refused when shorter than [`MIN_HS256_SECRET_BYTES`].
    pub fn hs256_secret(secret: &str) -> Result<Hs256Key, String> {
        if secret.len() < MIN_HS256_SECRET_BYTES {
            return Err(format!(
                "is {} bytes; HS256 needs a secret of at least {MIN_HS256_SECRET_BYTES} bytes",
                secret.len()
            ));
        }
        Ok(Hs256Key::new(secret.as_bytes()))
    }

    /// Public keys from a JWK set: `{"keys": [...]}` or a bare array of JWKs. Each is an ES256
    /// key (`kty: "EC"`, `crv: "P-256"`) or an EdDSA key (`kty: "OKP"`, `crv: "Ed25519"`), with
    /// an optional `kid`.
    pub fn public_keys_from_jwks(json: &str) -> Result<Vec<PublicKey>, String> {
        let value: Value = serde_json::from_str(json).map_err(|e| format!("is not JSON: {e}"))?;
        let keys = match value {
            Value::Array(keys) => keys,
            Value::Object(mut set) => match set.remove("keys") {
                Some(Value::Array(keys)) => keys,
                _ => return Err("must be a JWK set {\"keys\": [...]} or an array of JWKs".into()),
            },
            _ => return Err("must be a JWK set {\"keys\": [...]} or an array of JWKs".into()),
        };
        keys.into_iter()
            .enumerate()
            .map(|(i, jwk)| parse_public_jwk(jwk).map_err(|e| format!("key {i}: {e}")))
            .collect()
    }

    pub fn is_empty(&self) -> bool {
        self.hs256.is_none() && self.public.is_empty()
    }

    /// Public keys that verify `alg`, narrowed to the one named `kid` when the token names one.
    pub fn candidates<'a>(&'a self, alg: &'a str, kid: Option<&'a str>) -> impl Iterator<Item = &'a PublicKey> + 'a {
        self.public.iter().filter(move |k| k.key.alg() == alg).filter(move |k| kid.is_none() || k.kid.as_deref() == kid)
    }
}

fn parse_public_jwk(jwk: Value) -> Result<PublicKey, String> {
    let kid = match jwk.get("kid") {
        None => None,
        Some(Value::String(kid)) => Some(kid.clone()),
        Some(_) => return Err("`kid` must be a string".into()),
    };
    let Value::Object(jwk) = jwk else {
        return Err("is not a JWK: it must be an object".into());
    };
    // RFC 7517 §4.1 / RFC 7518 §6: the fields each key type has, all required here.
    let field = |name: &str| match jwk.get(name) {
        Some(Value::String(value)) => Ok(value.as_str()),
        Some(_) => Err(format!("is not a JWK: `{name}` must be a string")),
        None => Err(format!("is not a JWK: missing field `{name}`")),
    };
    let bytes = |name: &str| {
        let text = field(name)?;
        Base64UrlUnpadded::decode_vec(text).map_err(|_| format!("is not a JWK: `{name}` is not base64url: {text:?}"))
    };
    let length = |name: &str, bytes: &[u8], expected: usize| {
        if bytes.len() == expected {
            Ok(())
        } else {
            Err(format!("field `{name}` has unexpected length (expected: {expected}, got: {})", bytes.len()))
        }
    };
    let key = match field("kty")? {
        "EC" => {
            let (curve, x, y) = (field("crv")?, bytes("x")?, bytes("y")?);
            if curve != "P-256" {
                return Err(ONLY_ACCEPTED.into());
            }
            let bad = |e: String| format!("bad P-256 key: {e}");
            length("x", &x, 32).map_err(bad)?;
            length("y", &y, 32).map_err(bad)?;
            // SEC 1 §2.3.3: an uncompressed point is 0x04, then x, then y.
            let point = [&[4u8][..], &x, &y].concat();
            PublicKeyKind::Es256(Es256Key::from_sec1_bytes(&point).map_err(|e| bad(e.to_string()))?)
        }
        "OKP" => {
            let (curve, x) = (field("crv")?, bytes("x")?);
            if curve != "Ed25519" {
                return Err(ONLY_ACCEPTED.into());
            }
            let bad = |e: String| format!("bad Ed25519 key: {e}");
            length("x", &x, 32).map_err(bad)?;
            let x: [u8; 32] = x.try_into().expect("length checked");
            let key = Ed25519Key::from_bytes(&x).map_err(|e| bad(e.to_string()))?;
            // A small-order point verifies signatures nobody made: never a real key.
            if key.is_weak() {
                return Err(bad("a point of small order, which no private key has".into()));
            }
            PublicKeyKind::EdDsa(key)
        }
        "RSA" | "oct" => return Err(ONLY_ACCEPTED.into()),
        other => {
            return Err(format!("is not a JWK: unknown key type `{other}`, expected one of `RSA`, `EC`, `oct`, `OKP`"))
        }
    };
    Ok(PublicKey { kid, key })
}

const ONLY_ACCEPTED: &str = "only EC P-256 (ES256) and OKP Ed25519 (EdDSA) public keys are accepted";

#[cfg(test)]
mod tests {
    use super::*;

    /// The P-256 base point (SEC 2 §2.4.2) and RFC 8032 §7.1's first Ed25519 public key, as JWK
    /// coordinates.
    const P256_X: &str = "axfR8uEsQkf4vOblY6RA8ncDfYEt6zOg9KE5RdiYwpY";
    const P256_Y: &str = "T-NC4v4af5uO5-tKfA-eFivOM1drMV7Oy7ZAaDe_UfU";
    const ED25519_X: &str = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";

    fn parse(jwks: &str) -> Result<Vec<(Option<String>, &'static str)>, String> {
        KeySet::public_keys_from_jwks(jwks).map(|keys| keys.into_iter().map(|k| (k.kid, k.key.alg())).collect())
    }

    #[test]
    fn p256_and_ed25519_public_keys_are_read_with_their_kid() {
        let jwks = format!(
            r#"{{"keys":[{{"kty":"EC","crv":"P-256","x":"{P256_X}","y":"{P256_Y}","kid":"es"}},
                {{"kty":"OKP","crv":"Ed25519","x":"{ED25519_X}"}}]}}"#
        );
        assert_eq!(parse(&jwks), Ok(vec![(Some("es".into()), "ES256"), (None, "EdDSA")]));
        let bare = format!(r#"[{{"kty":"OKP","crv":"Ed25519","x":"{ED25519_X}","use":"sig"}}]"#);
        assert_eq!(parse(&bare), Ok(vec![(None, "EdDSA")]));
    }

    #[test]
    fn other_keys_and_malformed_ones_are_refused_saying_why() {
        let refused = |jwk: String| parse(&format!("[{jwk}]")).unwrap_err();
        let only = "key 0: only EC P-256 (ES256) and OKP Ed25519 (EdDSA) public keys are accepted";
        assert_eq!(refused(r#"{"kty":"RSA","n":"AQAB","e":"AQAB"}"#.into()), only);
        assert_eq!(refused(format!(r#"{{"kty":"EC","crv":"P-384","x":"{P256_X}","y":"{P256_Y}"}}"#)), only);
        assert_eq!(refused(format!(r#"{{"kty":"OKP","crv":"X25519","x":"{ED25519_X}"}}"#)), only);
        assert_eq!(
            refused(format!(r#"{{"kty":"EC","crv":"P-256","x":"{P256_X}"}}"#)),
            "key 0: is not a JWK: missing field `y`"
        );
        assert_eq!(refused(r#"{"crv":"P-256"}"#.into()), "key 0: is not a JWK: missing field `kty`");
        assert!(refused(r#"{"kty":"XYZ"}"#.into()).starts_with("key 0: is not a JWK: unknown key type `XYZ`"));
        assert!(refused(r#"{"kty":"OKP","crv":"Ed25519","x":"%%"}"#.into()).contains("`x` is not base64url"));
        assert_eq!(
            refused(r#"{"kty":"OKP","crv":"Ed25519","x":"AAAA"}"#.into()),
            "key 0: bad Ed25519 key: field `x` has unexpected length (expected: 32, got: 3)"
        );
        // The identity, y = 1: a point of small order, under which forged signatures verify.
        assert_eq!(
            refused(r#"{"kty":"OKP","crv":"Ed25519","x":"AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}"#.into()),
            "key 0: bad Ed25519 key: a point of small order, which no private key has"
        );
        let off_curve = format!(r#"{{"kty":"EC","crv":"P-256","x":"{P256_X}","y":"{P256_X}"}}"#);
        assert!(refused(off_curve).starts_with("key 0: bad P-256 key: "));
        assert_eq!(refused(r#"{"kty":"OKP","kid":1}"#.into()), "key 0: `kid` must be a string");
        assert!(parse(r#"{"keys":{}}"#).unwrap_err().starts_with("must be a JWK set"));
    }
}
