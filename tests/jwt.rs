//! The JWT accept / reject matrix: which tokens become an identity and which are refused, with
//! which code.

use chrono::{DateTime, Duration, Utc};
use herald_core::auth::{KeySet, Verifier};
use herald_core::config::Config;
use herald_core::ids::RoomId;
use herald_core::ErrorCode;
use herald_tests::T0;
use jwt_compact::alg::{Ed25519, Es256, Hs256, Hs256Key, Hs512, Hs512Key};
use jwt_compact::jwk::JsonWebKey;
use jwt_compact::{AlgorithmExt, Claims, Header, TimeOptions, UntrustedToken};
use serde_json::{json, Map, Value};

const SECRET: &str = "a-local-test-secret-that-is-32-bytes!";

fn at(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap()
}

/// Claims valid at T0 for an hour, plus `extra`.
fn claims(extra: Value) -> Claims<Map<String, Value>> {
    let mut custom = json!({ "sub": "alice", "name": "Alice" }).as_object().unwrap().clone();
    if let Value::Object(extra) = extra {
        custom.extend(extra);
    }
    let time = TimeOptions::new(Duration::seconds(0), || at(T0));
    Claims::new(custom).set_duration_and_issuance(&time, Duration::hours(1))
}

fn hs256(claims: &Claims<Map<String, Value>>) -> String {
    Hs256.token(&Header::empty(), claims, &Hs256Key::new(SECRET)).unwrap()
}

fn es256_key(seed: u8) -> p256::ecdsa::SigningKey {
    p256::ecdsa::SigningKey::from_slice(&[seed; 32]).unwrap()
}

fn ed25519_key(seed: u8) -> ed25519_dalek::SigningKey {
    ed25519_dalek::SigningKey::from_bytes(&[seed; 32])
}

/// A JWK set with ES256 key "es-1" (seed 1) and EdDSA key "ed-1" (seed 2).
fn jwks() -> String {
    let es = es256_key(1);
    let ed = ed25519_key(2);
    let mut es_jwk = serde_json::to_value(JsonWebKey::from(es.verifying_key())).unwrap();
    es_jwk["kid"] = json!("es-1");
    let ed_vk = ed.verifying_key();
    let mut ed_jwk = serde_json::to_value(JsonWebKey::from(&ed_vk)).unwrap();
    ed_jwk["kid"] = json!("ed-1");
    json!({ "keys": [es_jwk, ed_jwk] }).to_string()
}

fn verifier(vars: &[(&str, &str)]) -> Verifier {
    let jwks = jwks();
    let mut all: Vec<(&str, &str)> = vec![("JWT_SECRET", SECRET), ("JWT_PUBLIC_KEYS", &jwks)];
    all.extend_from_slice(vars);
    Config::from_vars(|name| all.iter().rev().find(|(k, _)| *k == name).map(|(_, v)| v.to_string())).unwrap().verifier
}

fn refused(token: &str) -> ErrorCode {
    verifier(&[]).verify(token, T0).unwrap_err().code
}

#[test]
fn a_valid_hs256_token_becomes_an_identity() {
    let token = hs256(&claims(json!({ "avatar": "https://a/x.png", "rooms": ["team-*"], "role": "admin" })));
    let identity = verifier(&[]).verify(&token, T0).unwrap();
    assert_eq!(identity.user.id.as_str(), "alice");
    assert_eq!(identity.user.name.as_deref(), Some("Alice"));
    assert_eq!(identity.user.avatar.as_deref(), Some("https://a/x.png"));
    assert!(identity.admin);
    assert_eq!(identity.expires_at, T0 + 3_600_000);
    assert!(identity.require_room(&RoomId::parse("team-1").unwrap()).is_ok());
    assert_eq!(identity.require_room(&RoomId::parse("lobby").unwrap()).unwrap_err().code, ErrorCode::RoomForbidden);
}

#[test]
fn a_token_without_role_admin_is_not_admin() {
    let identity = verifier(&[]).verify(&hs256(&claims(json!({ "role": "user" }))), T0).unwrap();
    assert_eq!(identity.require_admin().unwrap_err().code, ErrorCode::AdminRequired);
    assert!(identity.rooms.is_none());
    assert!(identity.require_room(&RoomId::parse("anything").unwrap()).is_ok());
}

#[test]
fn es256_and_eddsa_tokens_verify_against_their_public_keys() {
    let c = claims(json!({}));
    let es = Es256.token(&Header::empty().with_key_id("es-1"), &c, &es256_key(1)).unwrap();
    assert_eq!(verifier(&[]).verify(&es, T0).unwrap().user.id.as_str(), "alice");
    let ed = Ed25519.token(&Header::empty(), &c, &ed25519_key(2)).unwrap();
    assert_eq!(verifier(&[]).verify(&ed, T0).unwrap().user.id.as_str(), "alice");
}

#[test]
fn kid_chooses_the_key() {
    let c = claims(json!({}));
    let unknown = Es256.token(&Header::empty().with_key_id("nope"), &c, &es256_key(1)).unwrap();
    assert_eq!(refused(&unknown), ErrorCode::TokenInvalid);
    let mislabelled = Ed25519.token(&Header::empty().with_key_id("es-1"), &c, &ed25519_key(2)).unwrap();
    assert_eq!(refused(&mislabelled), ErrorCode::TokenInvalid);
}

#[test]
fn an_expired_token_is_refused_but_the_leeway_is_honoured() {
    let mut c = claims(json!({}));
    c.expiration = Some(at(T0 - 10_000));
    let token = hs256(&c);
    assert!(verifier(&[]).verify(&token, T0).is_ok(), "10 s late is within the 30 s leeway");
    assert_eq!(verifier(&[("JWT_LEEWAY_SECONDS", "0")]).verify(&token, T0).unwrap_err().code, ErrorCode::TokenExpired);
    c.expiration = Some(at(T0 - 3_600_000));
    assert_eq!(refused(&hs256(&c)), ErrorCode::TokenExpired);
}

#[test]
fn a_token_that_is_not_yet_valid_is_refused() {
    let mut c = claims(json!({}));
    c.not_before = Some(at(T0 + 600_000));
    assert_eq!(refused(&hs256(&c)), ErrorCode::TokenNotYetValid);
    c.not_before = Some(at(T0 + 5_000));
    assert!(verifier(&[]).verify(&hs256(&c), T0).is_ok(), "5 s early is within the leeway");
}

#[test]
fn a_token_without_exp_is_refused() {
    let mut c = claims(json!({}));
    c.expiration = None;
    assert_eq!(refused(&hs256(&c)), ErrorCode::TokenInvalid);
}

#[test]
fn a_token_signed_with_another_key_is_refused() {
    let other = Hs256
        .token(&Header::empty(), &claims(json!({})), &Hs256Key::new("another-secret-that-is-also-32-bytes"))
        .unwrap();
    assert_eq!(refused(&other), ErrorCode::TokenInvalid);
    let wrong_es = Es256.token(&Header::empty(), &claims(json!({})), &es256_key(9)).unwrap();
    assert_eq!(refused(&wrong_es), ErrorCode::TokenInvalid);
}

#[test]
fn a_tampered_token_is_refused() {
    let token = hs256(&claims(json!({})));
    let mut parts: Vec<&str> = token.split('.').collect();
    let forged = base64url(&json!({ "sub": "mallory", "exp": (T0 / 1000) + 3600 }).to_string());
    parts[1] = &forged;
    assert_eq!(refused(&parts.join(".")), ErrorCode::TokenInvalid);
}

#[test]
fn algorithms_other_than_hs256_es256_eddsa_are_refused() {
    let hs512 = Hs512.token(&Header::empty(), &claims(json!({})), &Hs512Key::new(SECRET)).unwrap();
    assert_eq!(refused(&hs512), ErrorCode::TokenInvalid);
    let payload = base64url(&json!({ "sub": "mallory", "exp": (T0 / 1000) + 3600 }).to_string());
    let none = format!("{}.{payload}.", base64url(r#"{"alg":"none","typ":"JWT"}"#));
    assert_eq!(refused(&none), ErrorCode::TokenInvalid);
    let none_with_sig = format!("{}.{payload}.c2ln", base64url(r#"{"alg":"none"}"#));
    assert_eq!(refused(&none_with_sig), ErrorCode::TokenInvalid);
}

#[test]
fn a_token_with_critical_extensions_is_refused() {
    let crit = json!({ "crit": ["b64"], "b64": false }).as_object().unwrap().clone();
    let token = Hs256.token(&Header::new(crit), &claims(json!({})), &Hs256Key::new(SECRET)).unwrap();
    assert_eq!(refused(&token), ErrorCode::TokenInvalid);
}

#[test]
fn hs256_is_refused_when_no_secret_is_configured() {
    let jwks = jwks();
    let only_public = Config::from_vars(|name| (name == "JWT_PUBLIC_KEYS").then(|| jwks.clone())).unwrap().verifier;
    assert_eq!(only_public.verify(&hs256(&claims(json!({}))), T0).unwrap_err().code, ErrorCode::TokenInvalid);
}

#[test]
fn issuer_and_audience_are_checked_when_configured() {
    let strict = verifier(&[("JWT_ISSUER", "https://auth.example"), ("JWT_AUDIENCE", "herald")]);
    let good = hs256(&claims(json!({ "iss": "https://auth.example", "aud": ["other", "herald"] })));
    assert!(strict.verify(&good, T0).is_ok());
    let good_single = hs256(&claims(json!({ "iss": "https://auth.example", "aud": "herald" })));
    assert!(strict.verify(&good_single, T0).is_ok());
    let wrong_iss = hs256(&claims(json!({ "iss": "https://evil.example", "aud": "herald" })));
    assert_eq!(strict.verify(&wrong_iss, T0).unwrap_err().code, ErrorCode::TokenInvalid);
    let wrong_aud = hs256(&claims(json!({ "iss": "https://auth.example", "aud": "someone-else" })));
    assert_eq!(strict.verify(&wrong_aud, T0).unwrap_err().code, ErrorCode::TokenInvalid);
    let missing = hs256(&claims(json!({})));
    assert_eq!(strict.verify(&missing, T0).unwrap_err().code, ErrorCode::TokenInvalid);
}

#[test]
fn a_token_without_sub_or_with_a_bad_sub_is_refused() {
    let mut c = claims(json!({}));
    c.custom.remove("sub");
    assert_eq!(refused(&hs256(&c)), ErrorCode::TokenInvalid);
    assert_eq!(refused(&hs256(&claims(json!({ "sub": "" })))), ErrorCode::TokenInvalid);
    assert_eq!(refused(&hs256(&claims(json!({ "sub": 42 })))), ErrorCode::TokenInvalid);
}

#[test]
fn oversize_profile_claims_are_refused() {
    assert_eq!(refused(&hs256(&claims(json!({ "name": "n".repeat(300) })))), ErrorCode::TokenInvalid);
}

#[test]
fn garbage_is_refused() {
    for junk in ["", "abc", "a.b", "a.b.c", "....", "eyJhbGciOiJIUzI1NiJ9.%%%.sig"] {
        assert_eq!(refused(junk), ErrorCode::TokenInvalid, "{junk:?}");
    }
}

#[test]
fn a_short_secret_is_refused_at_configuration() {
    let err = Config::from_vars(|name| (name == "JWT_SECRET").then(|| "too-short".to_string())).unwrap_err();
    assert_eq!(err.var, "JWT_SECRET");
    assert!(KeySet::hs256_secret(&"x".repeat(31)).is_err());
    assert!(KeySet::hs256_secret(&"x".repeat(32)).is_ok());
}

fn base64url(text: &str) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let bytes = text.as_bytes();
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

#[test]
fn rooms_that_belong_to_users_are_theirs_unless_a_token_is_an_admin_s_or_names_them() {
    let identity = |sub: &str, mut extra: Value| {
        extra["sub"] = json!(sub);
        verifier(&[]).verify(&hs256(&claims(extra)), T0).unwrap()
    };
    let room = |id: &str| RoomId::parse(id).unwrap();
    let allowed = |who: &herald_core::auth::Identity, id: &str| who.require_room(&room(id)).is_ok();
    let carol = identity("carol", json!({}));
    assert!(!allowed(&carol, "tndata:alice:bob"), "no claim is not enough for someone else's conversation");
    assert!(!allowed(&carol, "inbox:alice"), "nor for someone else's inbox");
    assert!(allowed(&carol, "tndata:bob:carol") && allowed(&carol, "inbox:carol"), "one's own are fine");
    assert!(allowed(&carol, "lobby"), "shared rooms are as before");
    let zoe = identity("zoë@x", json!({}));
    assert!(allowed(&zoe, "inbox:zo_C3_AB_40x"), "owners are matched as their ids are escaped");
    assert!(allowed(&identity("app", json!({ "rooms": ["inbox:*"] })), "inbox:alice"), "a claim that names them");
    assert!(allowed(&identity("ops", json!({ "role": "admin" })), "tndata:alice:bob"));
    let scoped = identity("bob", json!({ "rooms": ["team-*"] }));
    assert!(!allowed(&scoped, "tndata:alice:bob"), "an owner's own claim still applies");
}

/// Whatever Herald says about a token, next to what jwt-compact (which Herald used before
/// `auth::jws`) makes of it: the same tokens are read, and refused ones for the same reason.
fn refusal(token: &str) -> (ErrorCode, String) {
    let e = verifier(&[]).verify(token, T0).unwrap_err();
    (e.code, e.message)
}

#[test]
fn a_token_that_is_not_a_jwt_is_refused_with_jwt_compact_s_words() {
    let header = |json: &str| base64url(json);
    let claims = base64url(r#"{"sub":"a"}"#);
    let tokens = [
        String::new(),
        "abc".into(),
        "a.b".into(),
        "a.b.c.d".into(),
        "eyJhbGciOiJIUzI1NiJ9.%%%.sig".into(),
        format!("{}.{claims}.c2ln=", header(r#"{"alg":"HS256"}"#)),
        format!("{}.{claims}.", header(r#"{"alg":"HS256","cty":"CBOR"}"#)),
        format!("{}.{claims}.", header(r#"{"alg":"HS256","cty":"text/plain"}"#)),
    ];
    for token in &tokens {
        let expected = format!("the token is not a JWT: {}", UntrustedToken::new(token).unwrap_err());
        assert_eq!(refusal(token), (ErrorCode::TokenInvalid, expected), "{token:?}");
    }
}

#[test]
fn a_header_jwt_compact_could_not_read_is_refused_and_one_it_could_is_read() {
    let claims = base64url(r#"{"sub":"a"}"#);
    let headers = [
        r#"{}"#,
        r#"[]"#,
        r#"{"alg":7}"#,
        r#"{"alg":"HS256","kid":7}"#,
        r#"{"alg":"HS256","typ":null}"#,
        r#"{"alg":"HS256","x5t":"c2hvcnQ"}"#,
        r#"{"alg":"HS256","x5t":"AAAAAAAAAAAAAAAAAAAAAAAAAAA"}"#,
        r#"{"alg":"HS256","x5t#S256":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}"#,
        r#"{"alg":"HS256","x5t#S256":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}"#,
        r#"{"alg":"HS256","cty":"JSON","other":{"any":[1]}}"#,
        r#"{"alg":"HS256","crit":null}"#,
        r#"{"alg":"HS256","x5t":null}"#,
        r#"{"alg":"HS256","x5t#S256":null}"#,
    ];
    for header in headers {
        let token = format!("{}.{claims}.c2ln", base64url(header));
        let not_a_jwt = refusal(&token).1.starts_with("the token is not a JWT");
        assert_eq!(not_a_jwt, UntrustedToken::new(&token).is_err(), "{header}");
    }
}

#[test]
fn a_token_that_does_not_verify_is_refused_with_jwt_compact_s_words() {
    let hs = hs256(&claims(json!({})));
    let (signed, _) = hs.rsplit_once('.').unwrap();
    let short = format!("{signed}.c2ln");
    assert_eq!(
        refusal(&short),
        (
            ErrorCode::TokenInvalid,
            "the token does not verify: invalid signature length: expected 32 bytes, got 3 bytes".into()
        )
    );
    let zeroes = format!(
        "{}.{}",
        Es256.token(&Header::empty(), &claims(json!({})), &es256_key(1)).unwrap().rsplit_once('.').unwrap().0,
        base64url_bytes(&[0; 64])
    );
    assert_eq!(
        refusal(&zeroes),
        (ErrorCode::TokenInvalid, "the token does not verify: malformed token signature: signature error".into())
    );
    let forged = format!("{signed}.{}", base64url_bytes(&[7; 32]));
    assert_eq!(refusal(&forged), (ErrorCode::TokenInvalid, "the token's signature does not verify".into()));
    let mut c = claims(json!({}));
    c.expiration = None;
    assert_eq!(refusal(&hs256(&c)), (ErrorCode::TokenInvalid, "the token has no exp claim".into()));
    let bad_claims = Hs256.token(&Header::empty(), &claims(json!({ "name": 7 })), &Hs256Key::new(SECRET)).unwrap();
    assert!(refusal(&bad_claims).1.starts_with("the token's claims are malformed: invalid type: integer `7`"));
    for aud in [json!(7), json!(["herald", 7]), json!({ "aud": "herald" })] {
        let token = Hs256.token(&Header::empty(), &claims(json!({ "aud": aud })), &Hs256Key::new(SECRET)).unwrap();
        let message = refusal(&token).1;
        assert!(
            message.starts_with(
                "the token's claims are malformed: data did not match any variant of untagged enum Audience"
            ),
            "{message}"
        );
    }
}

#[test]
fn timestamps_span_the_years_chrono_represents_as_jwt_compact_read_them() {
    use chrono::TimeZone;
    use herald_core::auth::jws::{MAX_TIMESTAMP, MIN_TIMESTAMP};
    // The range jwt-compact accepted: what chrono's `timestamp_opt` takes.
    let takes = |seconds: i64| Utc.timestamp_opt(seconds, 0).single().is_some();
    assert!(takes(MAX_TIMESTAMP) && !takes(MAX_TIMESTAMP + 1));
    assert!(takes(MIN_TIMESTAMP) && !takes(MIN_TIMESTAMP - 1));
    let with_exp = |exp: Value| {
        let mut custom = json!({ "sub": "alice" }).as_object().unwrap().clone();
        custom.insert("exp".into(), exp);
        Hs256.token(&Header::empty(), &Claims::new(custom), &Hs256Key::new(SECRET)).unwrap()
    };
    // Verified a minute before they expire: within the longest lifetime a token may have.
    let minute_before = |exp: i64| (exp - 60) * 1000;
    let far = verifier(&[]).verify(&with_exp(json!(MAX_TIMESTAMP)), minute_before(MAX_TIMESTAMP)).unwrap();
    assert_eq!(far.expires_at, MAX_TIMESTAMP * 1000);
    let fraction = verifier(&[]).verify(&with_exp(json!(1_793_617_200.75)), minute_before(1_793_617_200)).unwrap();
    assert_eq!(fraction.expires_at, 1_793_617_200_000);
    for exp in [json!(MAX_TIMESTAMP + 1), json!(u64::MAX), json!("soon"), json!(null)] {
        assert!(refusal(&with_exp(exp.clone())).1.starts_with("the token's claims are malformed"), "{exp}");
    }
}

/// A token with exactly these claims (no `iat` unless given).
fn with_claims(claims: Value) -> String {
    let custom = claims.as_object().unwrap().clone();
    Hs256.token(&Header::empty(), &Claims::new(custom), &Hs256Key::new(SECRET)).unwrap()
}

#[test]
fn a_token_may_live_a_day_by_default_counted_from_iat_or_else_from_now() {
    let now = T0 / 1000;
    let day = i64::from(herald_core::auth::DEFAULT_MAX_LIFETIME_SECONDS);
    assert_eq!(day, 86_400);
    let ok = |claims: Value| verifier(&[]).verify(&with_claims(claims), T0);
    assert!(ok(json!({ "sub": "alice", "iat": now, "exp": now + day })).is_ok());
    assert!(ok(json!({ "sub": "alice", "exp": now + day })).is_ok(), "no iat: from now");
    assert!(ok(json!({ "sub": "alice", "iat": now - day + 60, "exp": now + 60 })).is_ok());
    for claims in [
        json!({ "sub": "alice", "iat": now, "exp": now + day + 1 }),
        json!({ "sub": "alice", "iat": now - 3600, "exp": now + day }),
        json!({ "sub": "alice", "exp": now + 100 * 365 * day }),
        json!({ "sub": "alice", "exp": now + day + 31 }),
    ] {
        let error = ok(claims.clone()).unwrap_err();
        assert_eq!(error.code, ErrorCode::TokenInvalid, "{claims}");
        assert!(error.message.contains("tokens may live at most 86400 s"), "{}", error.message);
        assert_eq!(error.details, Some(json!({ "max_lifetime_seconds": 86_400 })));
    }
}

#[test]
fn a_token_issued_in_the_future_is_refused_so_its_lifetime_cannot_start_there() {
    let now = T0 / 1000;
    let refused = verifier(&[]).verify(&with_claims(json!({ "sub": "a", "iat": now + 3600, "exp": now + 7200 })), T0);
    assert_eq!(refused.unwrap_err().message, "the token was issued in the future (`iat`)");
    let skewed = verifier(&[]).verify(&with_claims(json!({ "sub": "a", "iat": now + 20, "exp": now + 3600 })), T0);
    assert!(skewed.is_ok(), "within the leeway");
}

#[test]
fn the_longest_lifetime_is_configuration() {
    let now = T0 / 1000;
    let week = verifier(&[("JWT_MAX_LIFETIME_SECONDS", "604800")]);
    assert!(week.verify(&with_claims(json!({ "sub": "a", "iat": now, "exp": now + 604_800 })), T0).is_ok());
    let short = verifier(&[("JWT_MAX_LIFETIME_SECONDS", "600")]);
    let refused = short.verify(&with_claims(json!({ "sub": "a", "iat": now, "exp": now + 3600 })), T0).unwrap_err();
    assert_eq!(refused.code, ErrorCode::TokenInvalid);
    for bad in ["59", "2592001", "forever"] {
        let vars = [("JWT_SECRET", SECRET), ("JWT_MAX_LIFETIME_SECONDS", bad)];
        let error = Config::from_vars(|name| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string()));
        assert_eq!(error.unwrap_err().var, "JWT_MAX_LIFETIME_SECONDS", "{bad}");
    }
}

fn base64url_bytes(bytes: &[u8]) -> String {
    use base64ct::{Base64UrlUnpadded, Encoding};
    Base64UrlUnpadded::encode_string(bytes)
}
