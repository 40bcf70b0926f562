//! The keys tokens may be signed with: one HS256 secret and any number of ES256 / EdDSA public
//! keys, each optionally named by `kid`.

use jwt_compact::alg::{Ed25519, Es256, Hs256, Hs256Key};
use jwt_compact::jwk::JsonWebKey;
use jwt_compact::Algorithm;
use serde_json::Value;

/// HS256 secrets shorter than this are refused: RFC 7518 §3.2 asks for a key at least as long
/// as the hash output (256 bits).
pub const MIN_HS256_SECRET_BYTES: usize = 32;

type Es256Key = <Es256 as Algorithm>::VerifyingKey;
type Ed25519Key = <Ed25519 as Algorithm>::VerifyingKey;

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
    let parsed: JsonWebKey<'_> = serde_json::from_value(jwk.clone()).map_err(|e| format!("is not a JWK: {e}"))?;
    let key = match &parsed {
        JsonWebKey::EllipticCurve { curve, .. } if curve == "P-256" => {
            PublicKeyKind::Es256(Es256Key::try_from(&parsed).map_err(|e| format!("bad P-256 key: {e}"))?)
        }
        JsonWebKey::KeyPair { curve, .. } if curve == "Ed25519" => {
            PublicKeyKind::EdDsa(Ed25519Key::try_from(&parsed).map_err(|e| format!("bad Ed25519 key: {e}"))?)
        }
        _ => return Err("only EC P-256 (ES256) and OKP Ed25519 (EdDSA) public keys are accepted".into()),
    };
    Ok(PublicKey { kid, key })
}

/// The algorithms Herald verifies, by JWS name. Anything else (`none`, `HS512`, `RS256`, ...) is
/// refused before any key is tried.
pub(crate) enum Accepted {
    Hs256(Hs256),
    Es256(Es256),
    EdDsa(Ed25519),
}

impl Accepted {
    pub(crate) fn by_name(alg: &str) -> Option<Self> {
        match alg {
            "HS256" => Some(Self::Hs256(Hs256)),
            "ES256" => Some(Self::Es256(Es256)),
            "EdDSA" => Some(Self::EdDsa(Ed25519)),
            _ => None,
        }
    }
}
