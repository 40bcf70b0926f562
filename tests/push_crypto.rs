//! The push credentials (core/src/exchange/push/sign.rs) checked by other implementations:
//! every JWT is verified with the `p256` crate's verifier and with jwt-compact, origins are
//! compared with the `url` crate's, form bodies with its serializer. The keys below were made
//! with Python's `cryptography` from fixed scalars, which also gave the public keys expected.
//! (The RFC 8188 / 8291 examples are the unit tests of `ece.rs`.)

use base64ct::{Base64, Base64UrlUnpadded, Encoding};
use herald_core::exchange::push::sign::{
    apns_provider_token, fcm_assertion, fcm_assertion_input, parse_token_answer, token_request_body, vapid_audience,
    vapid_authorization, Es256Key, ServiceAccount, SignError, APNS_TOKEN_BUCKET_MS, FCM_SCOPE, GOOGLE_TOKEN_URL,
};
use jwt_compact::alg::Es256;
use jwt_compact::{AlgorithmExt, UntrustedToken};
use p256::ecdsa::signature::Verifier;
use serde_json::{json, Value};

/// Scalar 0x01..0x20 and its public key.
const VAPID_SCALAR: &str = "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA";
const VAPID_PUBLIC: &str = "BFFcPW6545a5BNP-yn9U_c0MwemXvzddylFa0KbDtANfRTa-OlDzGPv5pUdZAqIhUCvvDVfgjFOyzApW8X2fk1Q";

/// Scalar 0x21..0x40 in three PKCS#8 layouts: Apple's `.p8` (curve and public key inside the
/// ECPrivateKey), OpenSSL's (public key only), and the bare minimum.
const P8_APPLE: &str = herald_tests::APNS_P8;
const P8_OPENSSL: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgISIjJCUmJygpKiss
LS4vMDEyMzQ1Njc4OTo7PD0+P0ChRANCAAQfFAFGv7GyUfhPTdvg1M3P13r9mEqV
IONXlAIfgxK7nuyZWgix+ncE3z3MC1CpZlJj+3cR+V+fikScUJbkfIkr
-----END PRIVATE KEY-----";
const P8_BARE: &str = "-----BEGIN PRIVATE KEY-----
MEECAQAwEwYHKoZIzj0CAQYIKoZIzj0DAQcEJzAlAgEBBCAhIiMkJSYnKCkqKywt
Li8wMTIzNDU2Nzg5Ojs8PT4/QA==
-----END PRIVATE KEY-----";
const P8_PUBLIC: &str = "BB8UAUa_sbJR-E9N2-DUzc_Xev2YSpUg41eUAh-DErue7JlaCLH6dwTfPcwLUKlmUmP7dxH5X5-KRJxQluR8iSs";

/// A 1024-bit RSA key in PKCS#8 (634 bytes of DER), as in a service account file.
const RSA_PEM: &str = "-----BEGIN PRIVATE KEY-----
MIICdgIBADANBgkqhkiG9w0BAQEFAASCAmAwggJcAgEAAoGBAKrViBMAY43yG/at
EekfoDuiRYfiMtjFWU4Ivjpf9l4J3cI15tWF1txdWXcTaoMiSN04W4Fa/H9lSaTn
jsTxi3iJ76PCaepsKf0EnZja73wJurI5/AEEpdNCf0OEVM63GLwtdYxZN0VESL6y
Uk1OITFvPJAF7UOtxIbXtxaffHDrAgMBAAECgYBTVesVaeEmw26EvRS5pmXh8Vz9
1oh7WnogKP+zNlDWuvVk4iqDCtEvmpIkFmKlKbplwDJTPfFirCRqv1LUHAiurnVm
zhlwEUV9YpOzwjK5hfosSpjq5fTeT6OJaRZvtJdSajX70f9F0Ft6hsDjU+/+EBor
TDeNAj6DZcFDhbvzcQJBANXpNv9/p3FPo58H5ugIPXOwtqjG4qldsnPGLlVLqWgz
DF7RhGmF8cBUTHm4yyTHG4oSFMCXs1aMiozrTX+slEUCQQDMcoQdgpRAGvsFEc8M
hgDoGjQoecNR+pjqgp+QgRucYrlS59KCp1mzQLwQgLNWR4pGiQ4TzxukFB1gher8
73tvAkEAwxFtqglLNLWfTEL0etwozft0Vu0nfbOILLOpRPc+gVssCLufuGsBTpaR
Nt8hwWQg5QQgEJFGZcK8Bk392lQS0QJAUkjw5ZOtqVNynmq5g5fXe5M4VOYU98S9
kP07zYQ5IasWXcjSECXc02mFh7rU8y/d9l+pG83qmRJDdJrRpjWY3wJAPSFoJ/CW
owvP37XaJUURQyKhWzQpz247lr8mTS48BD9CiXgBYjAHeNfiUKJy3eWmFbHXHx/4
ux5Luq9B9915Hw==
-----END PRIVATE KEY-----
";

/// 2026-12-03T10:17:42.123Z.
const NOW: i64 = 1_796_293_062_123;

fn b64(text: &str) -> Vec<u8> {
    Base64UrlUnpadded::decode_vec(text).unwrap()
}

/// A compact JWS checked by two verifiers against `public` (uncompressed, base64url); its
/// header and claims, as sent.
fn verified(jwt: &str, public: &str) -> (String, Value) {
    let key = p256::ecdsa::VerifyingKey::from_sec1_bytes(&b64(public)).unwrap();
    let (input, signature) = jwt.rsplit_once('.').unwrap();
    let signature = b64(signature);
    assert_eq!(signature.len(), 64, "ES256 signatures are r || s (RFC 7518 §3.4)");
    key.verify(input.as_bytes(), &p256::ecdsa::Signature::from_slice(&signature).unwrap()).unwrap();
    assert!(key
        .verify(format!("{input}x").as_bytes(), &p256::ecdsa::Signature::from_slice(&signature).unwrap())
        .is_err());
    Es256.validator::<Value>(&key).validate(&UntrustedToken::new(jwt).unwrap()).unwrap();
    let (header, claims) = input.split_once('.').unwrap();
    let header = String::from_utf8(b64(header)).unwrap();
    (header, serde_json::from_slice(&b64(claims)).unwrap())
}

#[test]
fn a_vapid_key_is_its_scalar_in_base64url_padded_or_not() {
    for text in [VAPID_SCALAR.to_owned(), format!("{VAPID_SCALAR}="), format!("  {VAPID_SCALAR}\n")] {
        let key = Es256Key::from_scalar_b64url(&text).unwrap();
        assert_eq!(key.public_b64url(), VAPID_PUBLIC);
        assert_eq!(key.public_uncompressed().to_vec(), b64(VAPID_PUBLIC));
    }
    let order = "_____wAAAAD__________7zm-q2nF56E87nKwvxjJVE";
    let refused = |text: &str| Es256Key::from_scalar_b64url(text).unwrap_err();
    assert_eq!(refused("not/base64+"), SignError::NotBase64Url);
    assert_eq!(refused(&VAPID_SCALAR[..40]), SignError::ScalarLength(30));
    assert_eq!(refused(&Base64UrlUnpadded::encode_string(&[0; 32])), SignError::InvalidScalar);
    assert_eq!(refused(order), SignError::InvalidScalar);
    assert_eq!(refused(P8_APPLE).to_string(), "the private key is not base64url");
}

#[test]
fn an_apns_key_is_read_from_each_pkcs8_layout_and_however_its_lines_were_mangled() {
    for pem in [P8_APPLE, P8_OPENSSL, P8_BARE] {
        let escaped = pem.trim().replace('\n', "\\n");
        let crlf = pem.replace('\n', "\r\n");
        let one_line = pem.replace("\n", "").replace("-----M", "-----\nM");
        for text in [pem.to_owned(), escaped, crlf, format!("  \n{pem}\n  "), one_line] {
            let key = Es256Key::from_pkcs8_pem(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
            assert_eq!(key.public_b64url(), P8_PUBLIC);
        }
    }
}

#[test]
fn keys_that_are_not_pkcs8_p256_are_refused_saying_what_they_are() {
    let refused = |text: &str| Es256Key::from_pkcs8_pem(text).unwrap_err().to_string();
    let sec1 = "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj9AoAoGCCqGSM49\n-----END EC PRIVATE KEY-----";
    assert!(refused(sec1).contains("traditional key, not PKCS#8"), "{}", refused(sec1));
    let encrypted = "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIB\n-----END ENCRYPTED PRIVATE KEY-----";
    assert!(refused(encrypted).contains("encrypted"));
    assert!(refused(VAPID_SCALAR).contains("does not start with -----BEGIN PRIVATE KEY-----"));
    assert!(refused(&P8_BARE.replace("-----END PRIVATE KEY-----", "")).contains("does not end with"));
    assert!(refused(&P8_BARE.replace("MEEC", "ME!C")).contains("not base64"));
    let p384 = "-----BEGIN PRIVATE KEY-----
MIG2AgEAMBAGByqGSM49AgEGBSuBBAAiBIGeMIGbAgEBBDAAAAAAAAAAAAAAAAAA
AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAehZANiAAQoPB1zZc5H
iPKfjr8jTt/+rW/pl/vqX/otWMyd+nscUIsFUm9VueuyBA8FtI+20OGUdcmQYeQb
iLpS79uMFpBHGmHYZ+15lynZySzQHb0iVjDYTt4yp4+eZGZM2sUS74w=
-----END PRIVATE KEY-----";
    assert_eq!(refused(p384), "the private key is not a PKCS#8 P-256 key: its curve is not P-256 (prime256v1)");
    let ed25519 = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n-----END PRIVATE KEY-----";
    assert!(refused(ed25519).ends_with("it is not an elliptic-curve key"));
    assert!(refused(RSA_PEM).ends_with("it is an RSA key"));
    // Scalar 0x21.. with the public key of scalar 0x01..: a spliced file.
    let mismatch = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgISIjJCUmJygpKiss
LS4vMDEyMzQ1Njc4OTo7PD0+P0ChRANCAARRXD1uueOWuQTT/sp/VP3NDMHpl783
XcpRWtCmw7QDX0U2vjpQ8xj7+aVHWQKiIVAr7w1X4IxTsswKVvF9n5NU
-----END PRIVATE KEY-----";
    assert!(refused(mismatch).ends_with("its public key does not match its private key"));
    // The DER cut short, or followed by more bytes.
    let der = Base64::decode_vec(&P8_BARE.lines().filter(|l| !l.starts_with("-----")).collect::<String>()).unwrap();
    let pem =
        |der: &[u8]| format!("-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----", Base64::encode_string(der));
    assert!(refused(&pem(&der[..der.len() - 1])).ends_with("it is not a DER SEQUENCE"));
    assert!(refused(&pem(&[&der[..], &[0]].concat())).ends_with("bytes follow its DER structure"));
}

#[test]
fn a_keys_debug_shows_its_public_key_only() {
    let key = Es256Key::from_scalar_b64url(VAPID_SCALAR).unwrap();
    let debug = format!("{key:?}");
    assert!(debug.contains(VAPID_PUBLIC), "{debug}");
    assert!(!debug.contains(VAPID_SCALAR) && !debug.contains("AQID") && !debug.contains("[1, 2, 3"), "{debug}");
}

#[test]
fn a_vapid_authorization_carries_a_verified_token_for_the_endpoints_origin() {
    let key = Es256Key::from_scalar_b64url(VAPID_SCALAR).unwrap();
    let endpoint = "https://fcm.googleapis.com/fcm/send/dpH5lCsTSSM:APA91bH";
    let auth = vapid_authorization(&key, endpoint, "mailto:ops@example.com", NOW).unwrap();
    let (jwt, k) = auth.strip_prefix("vapid t=").unwrap().split_once(", k=").unwrap();
    assert_eq!(k, VAPID_PUBLIC);
    let (header, claims) = verified(jwt, k);
    assert_eq!(header, r#"{"typ":"JWT","alg":"ES256"}"#);
    // 10:00 that day, plus 12 hours.
    let exp = (NOW / 3_600_000) * 3600 + 12 * 3600;
    assert_eq!(claims, json!({ "aud": "https://fcm.googleapis.com", "exp": exp, "sub": "mailto:ops@example.com" }));
}

#[test]
fn the_vapid_token_is_the_same_all_hour_and_never_more_than_a_day_ahead() {
    let key = Es256Key::from_scalar_b64url(VAPID_SCALAR).unwrap();
    let at =
        |now| vapid_authorization(&key, "https://web.push.apple.com/QGx", "https://example.com/contact", now).unwrap();
    let hour = NOW - NOW % 3_600_000;
    assert_eq!(at(hour), at(hour + 3_599_999));
    assert_ne!(at(hour), at(hour + 3_600_000));
    for now in [hour, NOW, hour + 3_599_999] {
        let jwt = at(now).strip_prefix("vapid t=").unwrap().split_once(", k=").unwrap().0.to_owned();
        let exp = verified(&jwt, VAPID_PUBLIC).1["exp"].as_i64().unwrap();
        assert!(exp * 1000 > now + 11 * 3_600_000 && exp * 1000 <= now + 12 * 3_600_000, "{now} {exp}");
    }
}

#[test]
fn the_vapid_audience_is_the_endpoints_origin_as_a_browser_writes_it() {
    let endpoints = [
        ("https://fcm.googleapis.com/fcm/send/abc", "https://fcm.googleapis.com"),
        ("https://updates.push.services.mozilla.com/wpush/v2/gAAA", "https://updates.push.services.mozilla.com"),
        ("HTTPS://Web.Push.APPLE.com/QGx?x=1#y", "https://web.push.apple.com"),
        ("https://push.example:8443/p", "https://push.example:8443"),
        ("https://push.example:443/p", "https://push.example"),
        ("http://127.0.0.1:8787/recorder/webpush/1", "http://127.0.0.1:8787"),
        ("http://localhost:80/x", "http://localhost"),
        ("https://user:pw@push.example/p", "https://push.example"),
        ("https://push.example", "https://push.example"),
        ("https://push.example?q", "https://push.example"),
        ("https://push.example:/p", "https://push.example"),
        ("https://[::1]:9000/p", "https://[::1]:9000"),
        ("https://push.example:08443/p", "https://push.example:8443"),
    ];
    for (endpoint, origin) in endpoints {
        assert_eq!(vapid_audience(endpoint).unwrap(), origin, "{endpoint}");
        let url = url::Url::parse(endpoint).unwrap();
        assert_eq!(url.origin().ascii_serialization(), origin, "the url crate agrees on {endpoint}");
    }
}

#[test]
fn endpoints_without_an_origin_and_subjects_without_a_contact_are_refused() {
    let key = Es256Key::from_scalar_b64url(VAPID_SCALAR).unwrap();
    for endpoint in [
        "",
        "fcm.googleapis.com/fcm/send/x",
        "mailto:ops@example.com",
        "ftp://push.example/x",
        "https:///x",
        "https://:443/x",
        "https://push.example:99999/x",
        "https://push.example:8a/x",
        "https://[::1/x",
        "https://[]/x",
        "https://push example/x",
        "https://pûsh.example/x",
    ] {
        assert_eq!(vapid_audience(endpoint), Err(SignError::Endpoint(endpoint.to_owned())), "{endpoint}");
        let refused = vapid_authorization(&key, endpoint, "mailto:ops@example.com", NOW).unwrap_err();
        assert!(refused.to_string().contains("has no origin"), "{refused}");
    }
    for subject in ["", "ops@example.com", "mailto:", "mailto:ops", "http://example.com", "https://", "tel:+15550100"] {
        let refused = vapid_authorization(&key, "https://push.example/x", subject, NOW);
        assert_eq!(refused, Err(SignError::Subject(subject.to_owned())), "{subject}");
    }
}

#[test]
fn an_apns_token_is_the_same_within_its_30_minute_bucket_and_verifies() {
    let key = Es256Key::from_pkcs8_pem(P8_APPLE).unwrap();
    let bucket = NOW - NOW % APNS_TOKEN_BUCKET_MS;
    let token = |now| apns_provider_token(&key, "ABC123DEFG", "DEF123GHIJ", now);
    assert_eq!(token(bucket), token(bucket + APNS_TOKEN_BUCKET_MS - 1), "every isolate signs the same token");
    assert_eq!(token(NOW), token(bucket));
    assert_ne!(token(bucket), token(bucket + APNS_TOKEN_BUCKET_MS));
    assert_ne!(token(bucket), token(bucket - 1));
    let (header, claims) = verified(&token(NOW), P8_PUBLIC);
    assert_eq!(header, r#"{"alg":"ES256","kid":"ABC123DEFG"}"#);
    assert_eq!(claims, json!({ "iss": "DEF123GHIJ", "iat": bucket / 1000 }));
    let (_, next) = verified(&token(bucket + APNS_TOKEN_BUCKET_MS), P8_PUBLIC);
    assert_eq!(next["iat"].as_i64().unwrap() - bucket / 1000, 1800);
    // The key id and team id are written as JSON strings, whatever they hold.
    let odd = apns_provider_token(&key, "a\"b", "c\\d", NOW);
    let (header, claims) = verified(&odd, P8_PUBLIC);
    assert_eq!(serde_json::from_str::<Value>(&header).unwrap()["kid"], "a\"b");
    assert_eq!(claims["iss"], "c\\d");
}

fn service_account(extra: Value) -> String {
    let mut account = json!({
        "type": "service_account",
        "project_id": "herald-test",
        "private_key_id": "0123456789abcdef",
        "private_key": RSA_PEM,
        "client_email": "herald@herald-test.iam.gserviceaccount.com",
        "client_id": "1234567890",
        "token_uri": GOOGLE_TOKEN_URL,
    });
    for (name, value) in extra.as_object().unwrap() {
        match value {
            Value::Null => account.as_object_mut().unwrap().remove(name),
            value => account.as_object_mut().unwrap().insert(name.clone(), value.clone()),
        };
    }
    account.to_string()
}

#[test]
fn a_service_account_is_read_and_its_private_key_is_the_pems_der() {
    let account = ServiceAccount::parse(&service_account(json!({}))).unwrap();
    assert_eq!(account.project_id, "herald-test");
    assert_eq!(account.client_email, "herald@herald-test.iam.gserviceaccount.com");
    assert_eq!(account.private_key_id.as_deref(), Some("0123456789abcdef"));
    assert_eq!(account.token_uri.as_deref(), Some(GOOGLE_TOKEN_URL));
    let der = account.private_key_pkcs8_der().unwrap();
    let body: String = RSA_PEM.lines().filter(|l| !l.starts_with("-----")).collect();
    assert_eq!(der, Base64::decode_vec(&body).unwrap());
    assert_eq!(der.len(), 634);
    let debug = format!("{account:?}");
    assert!(debug.contains("herald-test") && !debug.contains("PRIVATE") && !debug.contains("MIIC"), "{debug}");
    let minimal =
        ServiceAccount::parse(&service_account(json!({ "private_key_id": null, "token_uri": null }))).unwrap();
    assert_eq!((minimal.private_key_id, minimal.token_uri), (None, None));
}

#[test]
fn a_service_account_error_names_the_field() {
    let refused = |extra: Value| ServiceAccount::parse(&service_account(extra)).unwrap_err().to_string();
    assert_eq!(refused(json!({ "project_id": null })), "the service account JSON has no `project_id`");
    assert_eq!(refused(json!({ "client_email": "" })), "the service account JSON has an empty `client_email`");
    assert_eq!(
        refused(json!({ "private_key": 5 })),
        "the service account JSON has a `private_key` that is not a string"
    );
    assert_eq!(refused(json!({ "type": null })), "the service account JSON has no `type`");
    assert_eq!(
        refused(json!({ "type": "authorized_user" })),
        "the service account JSON has `type` \"authorized_user\", expected \"service_account\""
    );
    assert!(refused(json!({ "private_key": P8_APPLE })).contains("`private_key`"));
    assert!(refused(json!({ "private_key": P8_APPLE })).ends_with("its algorithm is not rsaEncryption"));
    assert!(refused(json!({ "private_key": "-----BEGIN RSA PRIVATE KEY-----\nMIIC\n-----END RSA PRIVATE KEY-----" }))
        .contains("not PKCS#8"));
    let not_json = ServiceAccount::parse("{\"type\":").unwrap_err().to_string();
    assert!(not_json.starts_with("the service account JSON is not JSON"), "{not_json}");
    assert_eq!(ServiceAccount::parse("[]").unwrap_err().to_string(), "the service account JSON is not a JSON object");
}

#[test]
fn the_fcm_assertion_carries_googles_claims_and_the_signature_given() {
    let account = ServiceAccount::parse(&service_account(json!({}))).unwrap();
    let input = fcm_assertion_input(&account, GOOGLE_TOKEN_URL, NOW);
    let (header, claims) = input.split_once('.').unwrap();
    assert_eq!(b64(header), br#"{"alg":"RS256","typ":"JWT","kid":"0123456789abcdef"}"#);
    let claims: Value = serde_json::from_slice(&b64(claims)).unwrap();
    let iat = NOW / 1000;
    let expected = json!({
        "iss": "herald@herald-test.iam.gserviceaccount.com",
        "scope": FCM_SCOPE,
        "aud": "https://oauth2.googleapis.com/token",
        "iat": iat,
        "exp": iat + 3600,
    });
    assert_eq!(claims, expected);
    assert_eq!(fcm_assertion(&input, &[0xfb, 0xff, 0x01]), format!("{input}.-_8B"));
    let keyless = ServiceAccount::parse(&service_account(json!({ "private_key_id": null }))).unwrap();
    let header =
        fcm_assertion_input(&keyless, "http://127.0.0.1:8787/token", NOW).split_once('.').unwrap().0.to_owned();
    assert_eq!(b64(&header), br#"{"alg":"RS256","typ":"JWT"}"#);
}

#[test]
fn the_token_request_is_form_encoded_as_the_url_crate_encodes_it() {
    for assertion in ["eyJh.eyJp.c2ln-_", "a b+c/d=e&f%g~h*i", "ü"] {
        let expected = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer")
            .append_pair("assertion", assertion)
            .finish();
        assert_eq!(token_request_body(assertion), expected, "{assertion}");
    }
}

#[test]
fn a_token_answer_gives_the_token_until_five_minutes_before_it_expires() {
    let answer = |body: Value| parse_token_answer(200, &body.to_string(), NOW).unwrap();
    let token = answer(json!({ "access_token": "ya29.secret", "expires_in": 3599, "token_type": "Bearer" }));
    assert_eq!(token.token, "ya29.secret");
    assert_eq!(token.expires_at_ms, NOW + 3_599_000 - 300_000);
    assert!(!format!("{token:?}").contains("ya29"), "{token:?}");
    let expiry =
        |expires_in: Value| answer(json!({ "access_token": "t", "expires_in": expires_in })).expires_at_ms - NOW;
    assert_eq!(answer(json!({ "access_token": "t" })).expires_at_ms - NOW, 3_300_000, "absent: an hour");
    assert_eq!(expiry(json!(0)), 0, "never in the past");
    assert_eq!(expiry(json!(120)), 0);
    assert_eq!(expiry(json!(-5)), 0);
    assert_eq!(expiry(json!(1e300)), 3_300_000, "an hour at most");
    assert_eq!(expiry(json!(u64::MAX)), 3_300_000);
    assert_eq!(expiry(json!("1800")), 1_500_000);
    assert_eq!(expiry(json!(1800.9)), 1_500_000, "the fraction is dropped");
    let raw = |expires_in: &str| {
        let body = format!(r#"{{"access_token":"t","expires_in":{expires_in}}}"#);
        parse_token_answer(200, &body, NOW).unwrap().expires_at_ms - NOW
    };
    assert_eq!(raw("1.8e3"), 1_500_000);
    assert_eq!(raw("18000e-1"), 1_500_000);
    assert_eq!(raw("0.000e999999"), 0);
    assert_eq!(raw("-0.5"), 0);
    assert_eq!(raw("1e99999999999999999999"), 3_300_000, "beyond a float: an hour");
    assert_eq!(
        parse_token_answer(201, r#"{"access_token":"t","expires_in":600}"#, NOW).unwrap().expires_at_ms,
        NOW + 300_000
    );
}

#[test]
fn a_refused_token_request_quotes_the_providers_words() {
    let error = |status, body: &str| parse_token_answer(status, body, NOW).unwrap_err();
    assert_eq!(
        error(400, r#"{"error":"invalid_grant","error_description":"Invalid JWT Signature."}"#),
        r#"the token endpoint answered 400: "invalid_grant: Invalid JWT Signature.""#
    );
    assert_eq!(
        error(401, r#"{"error":"unauthorized_client"}"#),
        r#"the token endpoint answered 401: "unauthorized_client""#
    );
    assert_eq!(
        error(403, r#"{"error":{"code":403,"message":"Permission denied.","status":"PERMISSION_DENIED"}}"#),
        r#"the token endpoint answered 403: "PERMISSION_DENIED: Permission denied.""#
    );
    assert_eq!(
        error(502, "  <html>Bad gateway</html>\n"),
        r#"the token endpoint answered 502: "<html>Bad gateway</html>""#
    );
    let long = error(400, &json!({ "error": "invalid_grant", "error_description": "x".repeat(1000) }).to_string());
    assert!(long.ends_with("xxx…\""), "{long}");
    assert_eq!(long.chars().filter(|&c| c == 'x').count(), 300 - "invalid_grant: ".len());
    assert_eq!(
        error(200, r#"{"token_type":"Bearer","expires_in":3599}"#),
        r#"the token endpoint answered 200 without an access_token: its fields are ["expires_in", "token_type"]"#
    );
    assert_eq!(
        error(200, r#"{"access_token":""}"#),
        r#"the token endpoint answered 200 without an access_token: its fields are ["access_token"]"#
    );
    assert_eq!(error(200, "ok"), r#"the token endpoint answered 200 without an access_token: "ok""#);
}
