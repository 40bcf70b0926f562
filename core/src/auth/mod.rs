//! Who is asking: JWT verification ([`jws`]) and what a verified token allows.
//!
//! The Worker calls [`Verifier::verify`] with the raw token and `now`, before any Durable
//! Object is reached; the result is an [`Identity`] that travels with the request.
//!
//! Claims: `sub` (required, the user id), `exp` (required), `nbf`, `iss` / `aud` (checked when
//! configured), `name` and `avatar` (shown to others), `role: "admin"`, `rooms` (room patterns
//! the token may use; absent means every room).

pub mod jws;
pub mod keys;
mod patterns;
pub mod token;

pub use jws::Hs256Key;
pub use keys::{KeySet, PublicKey, PublicKeyKind, MIN_HS256_SECRET_BYTES};
pub use patterns::RoomPattern;

use crate::error::{Error, ErrorCode};
use crate::ids::{escape_part, RoomId, User, UserId, AVATAR_MAX, NAME_MAX};
use jws::{Algorithm, EdDsa, Es256, Hs256, Jws, ValidationError};
use serde::{Deserialize, Serialize};

/// How tokens are checked: keys, expected issuer and audience, clock leeway.
#[derive(Debug, Clone)]
pub struct Verifier {
    pub keys: KeySet,
    pub issuer: Option<String>,
    pub audience: Option<String>,
    /// Allowed clock skew for `exp`, `nbf` and `iat`, in seconds.
    pub leeway_seconds: u32,
    /// The longest a token may live: `exp − iat`, or `exp − now` when it has no `iat`.
    pub max_lifetime_seconds: u32,
}

/// The default of [`Verifier::max_lifetime_seconds`]: a day. A leaked token is good for at most
/// that long, and a connection is never held longer on one token; clients renew theirs (the
/// ceiling Ably puts on its tokens too).
pub const DEFAULT_MAX_LIFETIME_SECONDS: u32 = 24 * 3600;

/// A verified caller.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Identity {
    pub user: User,
    pub admin: bool,
    /// The rooms this token may use; `None` means every room.
    pub rooms: Option<Vec<RoomPattern>>,
    /// When the token expires, in milliseconds since the epoch.
    pub expires_at: i64,
}

impl Identity {
    /// Refuses with `room_forbidden` when the token's `rooms` claim does not cover `room`; a
    /// control room ([`RoomId::is_reserved`]) to any token but an admin's; and a room that
    /// belongs to users ([`RoomId::owners`]: an inbox, a tndata conversation) to a token that is
    /// not one of theirs, unless it is an admin's or its `rooms` claim names the room (an app's
    /// token with `"rooms": ["inbox:*"]`): having no claim is not enough there.
    pub fn require_room(&self, room: &RoomId) -> Result<(), Error> {
        if room.is_reserved() && !self.admin {
            return Err(Error::new(
                ErrorCode::RoomForbidden,
                format!("room {room:?} is one of Herald's control rooms: only an admin token may use it"),
            ));
        }
        if let Some(owners) = room.owners() {
            let mine = escape_part(self.user.id.as_str());
            let named = self.rooms.as_ref().is_some_and(|patterns| patterns.iter().any(|p| p.matches(room.as_str())));
            if self.admin || named {
                return Ok(());
            }
            if !owners.contains(&mine.as_str()) {
                return Err(Error::new(
                    ErrorCode::RoomForbidden,
                    format!("room {:?} belongs to its users; this token is not one of theirs", room.as_str()),
                ));
            }
        }
        match &self.rooms {
            Some(patterns) if !patterns.iter().any(|p| p.matches(room.as_str())) => Err(Error::new(
                ErrorCode::RoomForbidden,
                format!("this token's `rooms` claim does not include room {:?}", room.as_str()),
            )),
            _ => Ok(()),
        }
    }

    /// Refuses with `admin_required` unless the token carries `role: "admin"`.
    pub fn require_admin(&self) -> Result<(), Error> {
        if self.admin {
            Ok(())
        } else {
            Err(Error::new(ErrorCode::AdminRequired, "this call needs a token with role \"admin\""))
        }
    }
}

/// The claims Herald reads.
#[derive(Debug, Deserialize)]
struct Claims {
    #[serde(default, deserialize_with = "jws::timestamp")]
    exp: Option<i64>,
    #[serde(default, deserialize_with = "jws::timestamp")]
    nbf: Option<i64>,
    #[serde(default, deserialize_with = "jws::timestamp")]
    iat: Option<i64>,
    sub: Option<String>,
    name: Option<String>,
    avatar: Option<String>,
    role: Option<String>,
    rooms: Option<Vec<String>>,
    iss: Option<String>,
    aud: Option<Audience>,
}

/// `aud` is a string or an array of strings (RFC 7519 §4.1.3).
#[derive(Debug)]
enum Audience {
    One(String),
    Many(Vec<String>),
}

impl<'de> Deserialize<'de> for Audience {
    // By hand rather than `#[serde(untagged)]` (see [`crate::json::required`]), with the
    // derive's error.
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde_json::Value;
        let strings =
            |values: &[Value]| values.iter().map(|v| v.as_str().map(str::to_owned)).collect::<Option<Vec<_>>>();
        match Value::deserialize(d)? {
            Value::String(aud) => Some(Self::One(aud)),
            Value::Array(auds) => strings(&auds).map(Self::Many),
            _ => None,
        }
        .ok_or_else(|| serde::de::Error::custom("data did not match any variant of untagged enum Audience"))
    }
}

impl Audience {
    fn contains(&self, expected: &str) -> bool {
        match self {
            Self::One(aud) => aud == expected,
            Self::Many(auds) => auds.iter().any(|a| a == expected),
        }
    }
}

fn invalid(message: impl Into<String>) -> Error {
    Error::new(ErrorCode::TokenInvalid, message)
}

impl Verifier {
    /// When a session opened with `identity`'s token ends: the token's expiry plus the leeway,
    /// in milliseconds since the epoch.
    pub fn session_end(&self, identity: &Identity) -> i64 {
        identity.expires_at.saturating_add(i64::from(self.leeway_seconds) * 1000)
    }

    /// Verifies `token` at `now_ms` (milliseconds since the epoch).
    pub fn verify(&self, token: &str, now_ms: i64) -> Result<Identity, Error> {
        let jws = Jws::parse(token).map_err(|e| invalid(format!("the token is not a JWT: {e}")))?;
        if jws.header.crit.is_some() {
            // RFC 7515 §4.1.11: a token whose critical extensions we do not understand must be
            // refused, and Herald understands none.
            return Err(invalid(
                "the token's header names critical extensions (`crit`), which Herald does not support",
            ));
        }
        let alg = jws.header.alg.as_str();
        let kid = jws.header.kid.as_deref();
        let claims = match alg {
            "HS256" => {
                let key = self.keys.hs256.as_ref().ok_or_else(|| invalid("HS256 tokens are not accepted here"))?;
                verified::<Hs256>(&jws, &[key]).map_err(validation_error)?
            }
            "ES256" => self.try_public::<Es256>(&jws, alg, kid, |key| match key {
                PublicKeyKind::Es256(key) => Some(key),
                PublicKeyKind::EdDsa(_) => None,
            })?,
            "EdDSA" => self.try_public::<EdDsa>(&jws, alg, kid, |key| match key {
                PublicKeyKind::EdDsa(key) => Some(key),
                PublicKeyKind::Es256(_) => None,
            })?,
            // Anything else (`none`, `HS512`, `RS256`, ...) is refused before any key is tried.
            _ => {
                return Err(invalid(format!("tokens signed with {alg:?} are not accepted (use HS256, ES256 or EdDSA)")))
            }
        };
        self.check_claims(&claims, now_ms)
    }

    /// Verifies with the configured public keys for `alg` (only the one named `kid`, when
    /// given): the token is good when any of them verifies it.
    fn try_public<A: Algorithm>(
        &self,
        jws: &Jws<'_>,
        alg: &str,
        kid: Option<&str>,
        key_of: impl Fn(&PublicKeyKind) -> Option<&A::Key>,
    ) -> Result<Claims, Error> {
        let keys: Vec<&A::Key> = self.keys.candidates(alg, kid).filter_map(|key| key_of(&key.key)).collect();
        match (keys.is_empty(), kid) {
            (true, Some(kid)) => Err(invalid(format!("no {alg} key named {kid:?} is configured"))),
            (true, None) => Err(invalid(format!("{alg} tokens are not accepted here"))),
            (false, _) => verified::<A>(jws, &keys).map_err(validation_error),
        }
    }

    fn check_claims(&self, claims: &Claims, now_ms: i64) -> Result<Identity, Error> {
        // Seconds of `exp` / `nbf` against milliseconds of `now`, with the leeway either side.
        let leeway_ms = i64::from(self.leeway_seconds) * 1000;
        let exp = claims.exp.ok_or(ValidationError::NoClaim("exp")).map_err(validation_error)?;
        if now_ms > exp * 1000 + leeway_ms {
            return Err(validation_error(ValidationError::Expired));
        }
        if claims.nbf.is_some_and(|nbf| now_ms < nbf * 1000 - leeway_ms) {
            return Err(validation_error(ValidationError::NotMature));
        }
        self.check_lifetime(exp, claims.iat, now_ms)?;
        if let Some(expected) = &self.issuer {
            if claims.iss.as_deref() != Some(expected.as_str()) {
                return Err(invalid(format!("the token's issuer must be {expected:?}")));
            }
        }
        if let Some(expected) = &self.audience {
            if !claims.aud.as_ref().is_some_and(|aud| aud.contains(expected)) {
                return Err(invalid(format!("the token's audience must include {expected:?}")));
            }
        }
        let sub = claims.sub.as_deref().ok_or_else(|| invalid("the token has no `sub` claim"))?;
        let id = UserId::parse(sub).map_err(|why| invalid(format!("the `sub` claim {why}")))?;
        let name = bounded(claims.name.as_ref(), "name", NAME_MAX)?;
        let avatar = bounded(claims.avatar.as_ref(), "avatar", AVATAR_MAX)?;
        let rooms = claims
            .rooms
            .as_ref()
            .map(|patterns| {
                patterns.iter().map(|p| RoomPattern::parse(p).map_err(invalid)).collect::<Result<Vec<_>, _>>()
            })
            .transpose()?;
        Ok(Identity {
            user: User { id, name, avatar },
            admin: claims.role.as_deref() == Some("admin"),
            rooms,
            expires_at: exp * 1000,
        })
    }
}

impl Verifier {
    /// Refuses a token that lives longer than [`Verifier::max_lifetime_seconds`], counted from
    /// `iat` (which must not be in the future beyond the leeway, or the count would start
    /// there), or from now for a token without one.
    fn check_lifetime(&self, exp: i64, iat: Option<i64>, now_ms: i64) -> Result<(), Error> {
        let leeway = i64::from(self.leeway_seconds);
        let now = now_ms.div_euclid(1000);
        if iat.is_some_and(|iat| iat > now + leeway) {
            return Err(invalid("the token was issued in the future (`iat`)"));
        }
        let lifetime = exp - iat.unwrap_or(now);
        let max = i64::from(self.max_lifetime_seconds);
        if lifetime > max + iat.map_or(leeway, |_| 0) {
            let from = if iat.is_some() { "exp − iat" } else { "exp − now, as it has no iat" };
            return Err(invalid(format!(
                "the token lives {lifetime} s ({from}); tokens may live at most {max} s (JWT_MAX_LIFETIME_SECONDS)"
            ))
            .with_details(serde_json::json!({ "max_lifetime_seconds": max })));
        }
        Ok(())
    }
}

/// The token's claims once its signature verifies with one of `keys`. The signature's form and
/// the claims are checked first, as they are cheaper than the signature.
fn verified<A: Algorithm>(jws: &Jws<'_>, keys: &[&A::Key]) -> Result<Claims, ValidationError> {
    let signature = jws.signature::<A>()?;
    let claims = jws.claims::<Claims>()?;
    if keys.iter().any(|key| jws.verifies::<A>(key, &signature)) {
        Ok(claims)
    } else {
        Err(ValidationError::InvalidSignature)
    }
}

fn bounded(value: Option<&String>, claim: &str, max: usize) -> Result<Option<String>, Error> {
    match value {
        Some(v) if v.len() > max => Err(invalid(format!("the `{claim}` claim is longer than {max} bytes"))),
        other => Ok(other.cloned()),
    }
}

fn validation_error(e: ValidationError) -> Error {
    match e {
        ValidationError::Expired => Error::new(ErrorCode::TokenExpired, "the token has expired"),
        ValidationError::NotMature => Error::new(ErrorCode::TokenNotYetValid, "the token is not valid yet (nbf)"),
        ValidationError::NoClaim(claim) => invalid(format!("the token has no {claim} claim")),
        ValidationError::InvalidSignature => invalid("the token's signature does not verify"),
        ValidationError::MalformedClaims(e) => invalid(format!("the token's claims are malformed: {e}")),
        other => invalid(format!("the token does not verify: {other}")),
    }
}
