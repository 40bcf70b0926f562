//! Who is asking: JWT verification (jwt-compact) and what a verified token allows.
//!
//! The Worker calls [`Verifier::verify`] with the raw token and `now`, before any Durable
//! Object is reached; the result is an [`Identity`] that travels with the request.
//!
//! Claims: `sub` (required, the user id), `exp` (required), `nbf`, `iss` / `aud` (checked when
//! configured), `name` and `avatar` (shown to others), `role: "admin"`, `rooms` (room patterns
//! the token may use; absent means every room).

pub mod keys;
mod patterns;
pub mod token;

pub use keys::{KeySet, PublicKey, PublicKeyKind, MIN_HS256_SECRET_BYTES};
pub use patterns::RoomPattern;

use crate::error::{Error, ErrorCode};
use crate::ids::{escape_part, RoomId, User, UserId, AVATAR_MAX, NAME_MAX};
use chrono::{DateTime, Duration, Utc};
use jwt_compact::{AlgorithmExt, Claims, TimeOptions, Token, UntrustedToken, ValidationError};
use keys::Accepted;
use serde::{Deserialize, Serialize};

/// How tokens are checked: keys, expected issuer and audience, clock leeway.
#[derive(Debug, Clone)]
pub struct Verifier {
    pub keys: KeySet,
    pub issuer: Option<String>,
    pub audience: Option<String>,
    /// Allowed clock skew for `exp` and `nbf`, in seconds.
    pub leeway_seconds: u32,
}

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

/// Header fields beyond jwt-compact's own that verification must look at.
#[derive(Debug, Clone, Deserialize)]
struct ExtraHeader {
    crit: Option<serde_json::Value>,
}

/// Herald's own claims, beside the standard `exp` / `nbf` / `iat` that jwt-compact handles.
#[derive(Debug, Deserialize)]
struct HeraldClaims {
    sub: Option<String>,
    name: Option<String>,
    avatar: Option<String>,
    role: Option<String>,
    rooms: Option<Vec<String>>,
    iss: Option<String>,
    aud: Option<Audience>,
}

/// `aud` is a string or an array of strings (RFC 7519 §4.1.3).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Audience {
    One(String),
    Many(Vec<String>),
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
        let untrusted = UntrustedToken::<ExtraHeader>::try_from(token)
            .map_err(|e| invalid(format!("the token is not a JWT: {e}")))?;
        if untrusted.header().other_fields.crit.is_some() {
            // RFC 7515 §4.1.11: a token whose critical extensions we do not understand must be
            // refused, and Herald understands none.
            return Err(invalid(
                "the token's header names critical extensions (`crit`), which Herald does not support",
            ));
        }
        let alg = untrusted.algorithm().to_owned();
        let kid = untrusted.header().key_id.as_deref();
        let accepted = Accepted::by_name(&alg).ok_or_else(|| {
            invalid(format!("tokens signed with {alg:?} are not accepted (use HS256, ES256 or EdDSA)"))
        })?;

        let verified: Token<HeraldClaims, ExtraHeader> = match accepted {
            Accepted::Hs256(hs) => {
                let key = self.keys.hs256.as_ref().ok_or_else(|| invalid("HS256 tokens are not accepted here"))?;
                hs.validator(key).validate(&untrusted).map_err(validation_error)?
            }
            Accepted::Es256(es) => self.try_public(&alg, kid, |key| match key {
                PublicKeyKind::Es256(key) => Some(es.validator(key).validate(&untrusted)),
                PublicKeyKind::EdDsa(_) => None,
            })?,
            Accepted::EdDsa(ed) => self.try_public(&alg, kid, |key| match key {
                PublicKeyKind::EdDsa(key) => Some(ed.validator(key).validate(&untrusted)),
                PublicKeyKind::Es256(_) => None,
            })?,
        };
        self.check_claims(verified.claims(), now_ms)
    }

    /// Tries each configured public key for `alg` (only the one named `kid`, when given) and
    /// keeps the first that verifies.
    fn try_public(
        &self,
        alg: &str,
        kid: Option<&str>,
        validate: impl Fn(&PublicKeyKind) -> Option<Result<Token<HeraldClaims, ExtraHeader>, ValidationError>>,
    ) -> Result<Token<HeraldClaims, ExtraHeader>, Error> {
        let mut last = None;
        for key in self.keys.candidates(alg, kid) {
            match validate(&key.key) {
                Some(Ok(token)) => return Ok(token),
                Some(Err(e)) => last = Some(e),
                None => {}
            }
        }
        Err(match (last, kid) {
            (Some(e), _) => validation_error(e),
            (None, Some(kid)) => invalid(format!("no {alg} key named {kid:?} is configured")),
            (None, None) => invalid(format!("{alg} tokens are not accepted here")),
        })
    }

    fn check_claims(&self, claims: &Claims<HeraldClaims>, now_ms: i64) -> Result<Identity, Error> {
        let now = DateTime::<Utc>::from_timestamp_millis(now_ms).unwrap_or(DateTime::<Utc>::MIN_UTC);
        let time = TimeOptions::new(Duration::seconds(i64::from(self.leeway_seconds)), move || now);
        claims.validate_expiration(&time).map_err(validation_error)?;
        if claims.not_before.is_some() {
            claims.validate_maturity(&time).map_err(validation_error)?;
        }
        let custom = &claims.custom;
        if let Some(expected) = &self.issuer {
            if custom.iss.as_deref() != Some(expected.as_str()) {
                return Err(invalid(format!("the token's issuer must be {expected:?}")));
            }
        }
        if let Some(expected) = &self.audience {
            if !custom.aud.as_ref().is_some_and(|aud| aud.contains(expected)) {
                return Err(invalid(format!("the token's audience must include {expected:?}")));
            }
        }
        let sub = custom.sub.as_deref().ok_or_else(|| invalid("the token has no `sub` claim"))?;
        let id = UserId::parse(sub).map_err(|why| invalid(format!("the `sub` claim {why}")))?;
        let name = bounded(custom.name.as_ref(), "name", NAME_MAX)?;
        let avatar = bounded(custom.avatar.as_ref(), "avatar", AVATAR_MAX)?;
        let rooms = custom
            .rooms
            .as_ref()
            .map(|patterns| {
                patterns.iter().map(|p| RoomPattern::parse(p).map_err(invalid)).collect::<Result<Vec<_>, _>>()
            })
            .transpose()?;
        let expires_at = claims.expiration.map(|exp| exp.timestamp_millis()).unwrap_or(i64::MAX);
        Ok(Identity {
            user: User { id, name, avatar },
            admin: custom.role.as_deref() == Some("admin"),
            rooms,
            expires_at,
        })
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
