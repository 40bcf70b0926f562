//! The push providers' credentials: what Herald signs, and the keys it signs with.
//!
//! - [`Es256Key`]: a P-256 private key, read from a base64url scalar (`VAPID_PRIVATE_KEY`) or a
//!   PKCS#8 PEM (`APNS_KEY`, Apple's `.p8`), signing compact JWS (RFC 7515) with ES256.
//! - [`vapid_authorization`]: Web Push's `Authorization: vapid t=…, k=…` (RFC 8292).
//! - [`apns_provider_token`]: the APNs provider token, the same for every isolate within a
//!   30-minute bucket.
//! - FCM: [`ServiceAccount`] (the Google service-account JSON), the RS256 assertion's signing
//!   input ([`fcm_assertion_input`]) and the token request and answer around it. The RSA
//!   signature itself is made by the runtime's Web Crypto from [`ServiceAccount::private_key_pkcs8_der`]:
//!   the `rsa` crate would add about 55 KB to the wasm and carries RUSTSEC-2023-0071.
//!
//! ECDSA here is deterministic (RFC 6979, as `p256` signs): no random bytes are needed, and
//! the same key signs the same input to the same token.

use std::fmt;

use base64ct::{Base64, Base64UrlUnpadded, Encoding};
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use serde_json::Value;

/// Why a key, an endpoint or a service account cannot be used. The messages name what is wrong
/// without quoting any secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignError {
    #[error("the private key is not base64url")]
    NotBase64Url,
    #[error("the private key is {0} bytes; a P-256 private key is 32")]
    ScalarLength(usize),
    #[error("the private key is not a P-256 scalar (zero, or not below the group order)")]
    InvalidScalar,
    #[error("the private key is not a PEM \"PRIVATE KEY\": {0}")]
    Pem(&'static str),
    #[error("the private key is not a PKCS#8 {expected} key: {reason}")]
    Pkcs8 { expected: &'static str, reason: &'static str },
    #[error("the push endpoint {0:?} has no origin: expected http(s)://host[:port]/…")]
    Endpoint(String),
    #[error("the VAPID subject {0:?} is not a contact: expected mailto:someone@example.com or an https:// URL")]
    Subject(String),
    #[error("the service account JSON {0}")]
    ServiceAccount(String),
}

/// A P-256 private key that signs ES256 JWTs. Its `Debug` shows the public key only.
pub struct Es256Key {
    signing: SigningKey,
    public: [u8; 65],
}

impl Es256Key {
    /// The key whose scalar is `bytes` (big-endian).
    pub fn from_scalar(bytes: &[u8; 32]) -> Result<Self, SignError> {
        let signing = SigningKey::from_bytes(&(*bytes).into()).map_err(|_| SignError::InvalidScalar)?;
        let point = signing.verifying_key().to_encoded_point(false);
        let public = point.as_bytes().try_into().expect("an uncompressed point is 65 bytes");
        Ok(Self { signing, public })
    }

    /// A VAPID private key as web-push tools print it: the 32-byte scalar in base64url, padded
    /// or not; surrounding spaces are ignored.
    pub fn from_scalar_b64url(text: &str) -> Result<Self, SignError> {
        let bytes =
            Base64UrlUnpadded::decode_vec(text.trim().trim_end_matches('=')).map_err(|_| SignError::NotBase64Url)?;
        let scalar: [u8; 32] = bytes.as_slice().try_into().map_err(|_| SignError::ScalarLength(bytes.len()))?;
        Self::from_scalar(&scalar)
    }

    /// A PKCS#8 PEM P-256 key (`-----BEGIN PRIVATE KEY-----`, Apple's `.p8`). Secrets stores
    /// and `.env` files mangle line breaks, so `\n` written as two characters, CRLF and
    /// surrounding spaces are accepted.
    pub fn from_pkcs8_pem(text: &str) -> Result<Self, SignError> {
        let der = pem_private_key(text)?;
        let (scalar, public) = der::p256_key(&der)?;
        let key = Self::from_scalar(&scalar)?;
        // A public key in the file that is not this scalar's means a damaged or spliced file.
        match public {
            Some(public) if public != key.public => {
                Err(SignError::Pkcs8 { expected: "P-256", reason: "its public key does not match its private key" })
            }
            _ => Ok(key),
        }
    }

    /// The public key, uncompressed (`0x04 || x || y`): VAPID's `k` and the
    /// `applicationServerKey` a browser subscribes with.
    pub fn public_uncompressed(&self) -> [u8; 65] {
        self.public
    }

    /// [`Self::public_uncompressed`] in base64url without padding.
    pub fn public_b64url(&self) -> String {
        Base64UrlUnpadded::encode_string(&self.public)
    }

    /// The compact JWS of these header and claims (JSON texts, signed as given): base64url
    /// parts joined by dots, the signature as the raw `r || s` (64 bytes, RFC 7518 §3.4).
    pub fn sign_jwt(&self, header_json: &str, claims_json: &str) -> String {
        let input = signing_input(header_json, claims_json);
        let signature: Signature = self.signing.sign(input.as_bytes());
        format!("{input}.{}", Base64UrlUnpadded::encode_string(&signature.to_bytes()))
    }
}

impl fmt::Debug for Es256Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Es256Key").field("public", &self.public_b64url()).finish_non_exhaustive()
    }
}

fn signing_input(header_json: &str, claims_json: &str) -> String {
    let part = |json: &str| Base64UrlUnpadded::encode_string(json.as_bytes());
    format!("{}.{}", part(header_json), part(claims_json))
}

/// A JSON string literal.
fn json_string(text: &str) -> String {
    Value::from(text).to_string()
}

/// How far ahead a VAPID token expires: 12 hours after the start of the current hour, so one
/// token serves a whole hour and is never more than the 24 hours ahead RFC 8292 §2 allows
/// (Apple refuses a token that is).
const VAPID_LIFETIME_S: i64 = 12 * 3600;

/// `Authorization` of a Web Push request (RFC 8292 §3): `vapid t=<JWT>, k=<public key>`. The
/// JWT's `aud` is the endpoint's origin ([`vapid_audience`]), its `exp` 12 hours after the
/// start of the hour of `now_ms` (the same token all hour), its `sub` the operator's contact.
pub fn vapid_authorization(key: &Es256Key, endpoint: &str, subject: &str, now_ms: i64) -> Result<String, SignError> {
    let aud = vapid_audience(endpoint)?;
    if !valid_subject(subject) {
        return Err(SignError::Subject(subject.to_owned()));
    }
    let exp = now_ms.div_euclid(3_600_000) * 3600 + VAPID_LIFETIME_S;
    let claims = format!(r#"{{"aud":{},"exp":{exp},"sub":{}}}"#, json_string(&aud), json_string(subject));
    let jwt = key.sign_jwt(r#"{"typ":"JWT","alg":"ES256"}"#, &claims);
    Ok(format!("vapid t={jwt}, k={}", key.public_b64url()))
}

/// The origin of a push endpoint (RFC 6454 §6.2, as a browser writes it): the scheme and host in
/// lowercase, the port unless it is the scheme's default; no user, path or query. Only `http`
/// and `https` URLs have one.
pub fn vapid_audience(endpoint: &str) -> Result<String, SignError> {
    let refused = || SignError::Endpoint(endpoint.to_owned());
    let (scheme, rest) = endpoint.split_once("://").ok_or_else(refused)?;
    let scheme = scheme.to_ascii_lowercase();
    let default_port = match scheme.as_str() {
        "https" => 443,
        "http" => 80,
        _ => return Err(refused()),
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, hp)| hp);
    let (host, port) = if host_port.starts_with('[') {
        // An IPv6 literal, kept with its brackets.
        let end = host_port.find(']').ok_or_else(refused)?;
        let (host, after) = host_port.split_at(end + 1);
        if end == 1 || !host[1..end].bytes().all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.') {
            return Err(refused());
        }
        (host, if after.is_empty() { "" } else { after.strip_prefix(':').ok_or_else(refused)? })
    } else {
        let (host, port) = host_port.rsplit_once(':').unwrap_or((host_port, ""));
        if host.is_empty() || !host.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b)) {
            return Err(refused());
        }
        (host, port)
    };
    let port = match port {
        "" => default_port,
        digits if digits.len() <= 5 && digits.bytes().all(|b| b.is_ascii_digit()) => {
            digits.parse::<u16>().map_err(|_| refused())?
        }
        _ => return Err(refused()),
    };
    let host = host.to_ascii_lowercase();
    Ok(if port == default_port { format!("{scheme}://{host}") } else { format!("{scheme}://{host}:{port}") })
}

/// RFC 8292 §2.1: a `mailto:` or `https:` URI the push service can reach the operator at.
fn valid_subject(subject: &str) -> bool {
    match subject.split_once(':') {
        Some(("mailto", address)) => address.split_once('@').is_some_and(|(u, d)| !u.is_empty() && !d.is_empty()),
        Some(("https", _)) => vapid_audience(subject).is_ok(),
        _ => false,
    }
}

/// The APNs provider token's bucket: its `iat` is `now` floored to 30 minutes.
///
/// APNs refuses a token refreshed more often than every 20 minutes (`429
/// TooManyProviderTokenUpdates`) and one older than 60 (`403 ExpiredProviderToken`). Herald runs
/// in many isolates at once with nothing shared between them; since ES256 signs
/// deterministically here, every isolate that floors `now` to the same bucket signs the very
/// same token, so APNs sees one token per 30 minutes however many isolates send, and each is
/// used for 30 minutes at most.
pub const APNS_TOKEN_BUCKET_MS: i64 = 30 * 60 * 1000;

/// The APNs provider token (`authorization: bearer <token>`): header `{"alg":"ES256","kid":…}`
/// with the `.p8` key's id, claims `{"iss":<team id>,"iat":<seconds>}`, `iat` floored to the
/// [`APNS_TOKEN_BUCKET_MS`] bucket of `now_ms`.
pub fn apns_provider_token(key: &Es256Key, key_id: &str, team_id: &str, now_ms: i64) -> String {
    let iat = now_ms.div_euclid(APNS_TOKEN_BUCKET_MS) * (APNS_TOKEN_BUCKET_MS / 1000);
    let header = format!(r#"{{"alg":"ES256","kid":{}}}"#, json_string(key_id));
    key.sign_jwt(&header, &format!(r#"{{"iss":{},"iat":{iat}}}"#, json_string(team_id)))
}

/// The `PRIVATE KEY` PEM's DER. Newlines may come as the two characters `\n`, CRLF, or not at
/// all; other PEM labels are refused with what they are.
fn pem_private_key(text: &str) -> Result<Vec<u8>, SignError> {
    let text = text.replace("\\n", "\n");
    let text = text.trim();
    const BEGIN: &str = "-----BEGIN PRIVATE KEY-----";
    const END: &str = "-----END PRIVATE KEY-----";
    let Some(after) = text.strip_prefix(BEGIN) else {
        return Err(SignError::Pem(
            if text.contains("BEGIN EC PRIVATE KEY") || text.contains("BEGIN RSA PRIVATE KEY") {
                "it is a traditional key, not PKCS#8: convert it with `openssl pkcs8 -topk8 -nocrypt`"
            } else if text.contains("BEGIN ENCRYPTED PRIVATE KEY") {
                "it is encrypted: export it without a passphrase"
            } else {
                "it does not start with -----BEGIN PRIVATE KEY-----"
            },
        ));
    };
    let body = after.strip_suffix(END).ok_or(SignError::Pem("it does not end with -----END PRIVATE KEY-----"))?;
    let base64: String = body.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    Base64::decode_vec(&base64).map_err(|_| SignError::Pem("its body is not base64"))
}

/// The OAuth2 scope of FCM's HTTP v1 API.
pub const FCM_SCOPE: &str = "https://www.googleapis.com/auth/firebase.messaging";
/// Google's token endpoint: a service account's usual `token_uri`.
pub const GOOGLE_TOKEN_URL: &str = "https://oauth2.googleapis.com/token";
/// An assertion's lifetime: one hour, the longest Google takes.
const ASSERTION_LIFETIME_S: i64 = 3600;

/// A Google service account (the JSON key file a Firebase project exports), with what FCM needs.
/// Its `Debug` leaves the private key out.
#[derive(Clone, PartialEq, Eq)]
pub struct ServiceAccount {
    pub project_id: String,
    pub client_email: String,
    /// The key's id: the assertion's `kid` when present.
    pub private_key_id: Option<String>,
    /// Where the assertion is exchanged, when the file says ([`GOOGLE_TOKEN_URL`] otherwise).
    pub token_uri: Option<String>,
    private_key_pem: String,
}

impl ServiceAccount {
    /// The service account JSON: `type` must be `"service_account"`; `project_id`,
    /// `client_email` and `private_key` (an RSA PKCS#8 PEM) are required; `private_key_id` and
    /// `token_uri` are read when present. Errors name the field.
    pub fn parse(json: &str) -> Result<Self, SignError> {
        let refused = SignError::ServiceAccount;
        let value: Value = serde_json::from_str(json).map_err(|e| refused(format!("is not JSON: {e}")))?;
        let Value::Object(fields) = value else { return Err(refused("is not a JSON object".into())) };
        let optional = |name: &str| match fields.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(text)) if !text.trim().is_empty() => Ok(Some(text.clone())),
            Some(Value::String(_)) => Err(refused(format!("has an empty `{name}`"))),
            Some(_) => Err(refused(format!("has a `{name}` that is not a string"))),
        };
        let required = |name: &str| optional(name)?.ok_or_else(|| refused(format!("has no `{name}`")));
        let kind = required("type")?;
        if kind != "service_account" {
            return Err(refused(format!("has `type` {kind:?}, expected \"service_account\"")));
        }
        let account = Self {
            project_id: required("project_id")?,
            client_email: required("client_email")?,
            private_key_id: optional("private_key_id")?,
            token_uri: optional("token_uri")?,
            private_key_pem: required("private_key")?,
        };
        account.private_key_pkcs8_der().map_err(|e| refused(format!("has a `private_key` Herald cannot use: {e}")))?;
        Ok(account)
    }

    /// The RSA private key's PKCS#8 DER, for Web Crypto's `importKey("pkcs8", …)`.
    pub fn private_key_pkcs8_der(&self) -> Result<Vec<u8>, SignError> {
        let der = pem_private_key(&self.private_key_pem)?;
        der::check_rsa(&der)?;
        Ok(der)
    }
}

impl fmt::Debug for ServiceAccount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServiceAccount")
            .field("project_id", &self.project_id)
            .field("client_email", &self.client_email)
            .field("private_key_id", &self.private_key_id)
            .field("token_uri", &self.token_uri)
            .finish_non_exhaustive()
    }
}

/// The signing input of the OAuth2 JWT-bearer assertion (RFC 7523, Google's service-account
/// flow): `base64url(header).base64url(claims)`, to be signed RS256 by the caller (Web Crypto)
/// and joined with [`fcm_assertion`]. `iat` is `now_ms` in seconds, `exp` an hour later.
pub fn fcm_assertion_input(sa: &ServiceAccount, token_url: &str, now_ms: i64) -> String {
    let header = match &sa.private_key_id {
        Some(kid) => format!(r#"{{"alg":"RS256","typ":"JWT","kid":{}}}"#, json_string(kid)),
        None => r#"{"alg":"RS256","typ":"JWT"}"#.to_owned(),
    };
    let iat = now_ms.div_euclid(1000);
    let claims = format!(
        r#"{{"iss":{},"scope":{},"aud":{},"iat":{iat},"exp":{}}}"#,
        json_string(&sa.client_email),
        json_string(FCM_SCOPE),
        json_string(token_url),
        iat + ASSERTION_LIFETIME_S,
    );
    signing_input(&header, &claims)
}

/// The assertion: its signing input and the RS256 signature over it.
pub fn fcm_assertion(input: &str, signature: &[u8]) -> String {
    format!("{input}.{}", Base64UrlUnpadded::encode_string(signature))
}

/// The token request's body (`application/x-www-form-urlencoded`, RFC 7523 §2.1).
pub fn token_request_body(assertion: &str) -> String {
    format!(
        "grant_type={}&assertion={}",
        form_encode("urn:ietf:params:oauth:grant-type:jwt-bearer"),
        form_encode(assertion)
    )
}

/// The WHATWG `application/x-www-form-urlencoded` byte serializer: alphanumerics and `*-._`
/// as is, space as `+`, every other byte `%XX`.
fn form_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'*' | b'-' | b'.' | b'_' => out.push(char::from(byte)),
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

/// An OAuth2 access token and when to stop using it. Its `Debug` leaves the token out.
#[derive(Clone, PartialEq, Eq)]
pub struct AccessToken {
    pub token: String,
    /// Five minutes before the provider's expiry, and never before the answer arrived.
    pub expires_at_ms: i64,
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessToken").field("expires_at_ms", &self.expires_at_ms).finish_non_exhaustive()
    }
}

/// Used this long before the provider says the token expires, so no request carries a token
/// that expires on the way.
const TOKEN_MARGIN_MS: i64 = 5 * 60 * 1000;
/// A token's lifetime when the answer gives none (RFC 6749 §5.1 lets it), and the longest
/// believed: Google's access tokens last an hour.
const TOKEN_LIFETIME_S: i64 = 3600;
/// How much of the provider's words an error quotes.
const QUOTE_MAX: usize = 300;

/// The token endpoint's answer (RFC 6749 §5.1, §5.2) read: the access token, or why there is
/// none, quoting the provider's `error` and `error_description` (at most 300 characters).
/// `expires_in` is believed up to an hour; absent or unreadable, an hour.
pub fn parse_token_answer(status: u16, body: &str, now_ms: i64) -> Result<AccessToken, String> {
    let json: Option<Value> = serde_json::from_str(body).ok();
    if !(200..300).contains(&status) {
        return Err(format!("the token endpoint answered {status}: {:?}", provider_words(json.as_ref(), body)));
    }
    let token = json.as_ref().and_then(|j| j.get("access_token")).and_then(Value::as_str).filter(|t| !t.is_empty());
    let Some(token) = token else {
        let words = match json.as_ref() {
            // The field names only: a malformed answer might still carry a secret.
            Some(Value::Object(fields)) if fields.get("error").is_none() => {
                format!("its fields are {:?}", fields.keys().map(String::as_str).collect::<Vec<_>>())
            }
            _ => format!("{:?}", provider_words(json.as_ref(), body)),
        };
        return Err(format!("the token endpoint answered {status} without an access_token: {words}"));
    };
    let expires_in = json.as_ref().and_then(|j| j.get("expires_in")).and_then(|v| match v {
        Value::Number(n) => n.as_i64().or_else(|| whole_part(n.as_str())),
        Value::String(s) => s.trim().parse::<i64>().ok(),
        _ => None,
    });
    let lifetime_ms = expires_in.unwrap_or(TOKEN_LIFETIME_S).clamp(0, TOKEN_LIFETIME_S) * 1000;
    let expires_at_ms = now_ms.saturating_add(lifetime_ms - TOKEN_MARGIN_MS).max(now_ms);
    Ok(AccessToken { token: token.to_owned(), expires_at_ms })
}

/// The whole part of a JSON number's text (`3599.5`, `3.6e3`, `1e300`), saturated to `i64`;
/// `None` beyond an `f64`'s range, as `Number::as_f64` would say. Read from the text rather
/// than through `as_f64`: that would compile Rust's float parser (and its table of powers of
/// five) into the worker for this one field.
fn whole_part(text: &str) -> Option<i64> {
    let (negative, text) = text.strip_prefix('-').map_or((false, text), |rest| (true, rest));
    let (mantissa, exponent) = text.split_once(['e', 'E']).unwrap_or((text, "0"));
    let exponent = exponent.strip_prefix('+').unwrap_or(exponent);
    // An exponent too long for an i64 is far beyond any float either way.
    let exponent: i64 = exponent.parse().unwrap_or(if exponent.starts_with('-') { i64::MIN / 2 } else { i64::MAX / 2 });
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits: Vec<i64> = int.bytes().chain(frac.bytes()).map(|b| i64::from(b.wrapping_sub(b'0'))).collect();
    let Some(first) = digits.iter().position(|&d| d != 0) else { return Some(0) };
    // Where the decimal point falls after the first significant digit: past 309 the number
    // exceeds f64::MAX (about 1.8e308) and `as_f64` gives nothing.
    let point = (int.len() as i64).saturating_add(exponent);
    if point.saturating_sub(first as i64) > 309 {
        return None;
    }
    let mut whole: i64 = 0;
    for i in first..usize::try_from(point.max(0)).unwrap_or(usize::MAX) {
        whole = whole.saturating_mul(10).saturating_add(digits.get(i).copied().unwrap_or(0));
        if whole == i64::MAX {
            break;
        }
    }
    Some(if negative { whole.saturating_neg() } else { whole })
}

/// What the provider said went wrong: OAuth2's `error: error_description`, Google APIs'
/// `{"error":{"status","message"}}`, or else the body itself; clipped to [`QUOTE_MAX`].
fn provider_words(json: Option<&Value>, body: &str) -> String {
    fn text(value: Option<&Value>) -> Option<&str> {
        value.and_then(Value::as_str).filter(|s| !s.is_empty())
    }
    let words = match json.and_then(|j| j.get("error")) {
        Some(Value::String(error)) => match text(json.and_then(|j| j.get("error_description"))) {
            Some(description) => format!("{error}: {description}"),
            None => error.clone(),
        },
        Some(error @ Value::Object(_)) => {
            [text(error.get("status")), text(error.get("message"))].into_iter().flatten().collect::<Vec<_>>().join(": ")
        }
        _ => body.trim().to_owned(),
    };
    match words.char_indices().nth(QUOTE_MAX) {
        Some((end, _)) => format!("{}…", &words[..end]),
        None => words,
    }
}

/// The few DER structures (X.690) of a private key file, read by hand: a P-256 key in PKCS#8
/// (RFC 5208 §5 wrapping RFC 5915's ECPrivateKey) and the outline of an RSA one. The `pkcs8`
/// and `der` crates would do it with more code in the wasm than this whole module.
mod der {
    use super::SignError;

    const SEQUENCE: u8 = 0x30;
    const INTEGER: u8 = 0x02;
    const BIT_STRING: u8 = 0x03;
    const OCTET_STRING: u8 = 0x04;
    const NULL: u8 = 0x05;
    const OID: u8 = 0x06;
    /// ECPrivateKey's `[0] parameters` and `[1] publicKey` (RFC 5915 §3).
    const PARAMETERS: u8 = 0xA0;
    const PUBLIC_KEY: u8 = 0xA1;

    /// 1.2.840.10045.2.1, 1.2.840.10045.3.1.7 (RFC 5480 §2.1.1), 1.2.840.113549.1.1.1 (RFC 8017).
    const EC_PUBLIC_KEY: &[u8] = &[0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x02, 0x01];
    const PRIME256V1: &[u8] = &[0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07];
    const RSA_ENCRYPTION: &[u8] = &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x01];

    /// Tag-length-value items one after another; `None` at the end or on a malformed item.
    struct Items<'a>(&'a [u8]);

    impl<'a> Items<'a> {
        fn next(&mut self) -> Option<(u8, &'a [u8])> {
            let (&tag, rest) = self.0.split_first()?;
            let (&first, rest) = rest.split_first()?;
            // Short form, or long form with one or two length bytes (keys are under 64 KB).
            let (len, rest) = match first {
                0..=0x7F => (usize::from(first), rest),
                0x81 => rest.split_first().map(|(&len, rest)| (usize::from(len), rest))?,
                0x82 => rest
                    .split_at_checked(2)
                    .map(|(len, rest)| (usize::from(len[0]) << 8 | usize::from(len[1]), rest))?,
                _ => return None,
            };
            let (content, rest) = rest.split_at_checked(len)?;
            self.0 = rest;
            Some((tag, content))
        }

        fn expect(&mut self, tag: u8) -> Option<&'a [u8]> {
            self.next().filter(|&(t, _)| t == tag).map(|(_, content)| content)
        }
    }

    /// PrivateKeyInfo (RFC 5208 §5, or RFC 5958's version 1): the algorithm, its parameters and
    /// the private key octets. Attributes and a public key after them are not needed.
    struct KeyInfo<'a> {
        algorithm: &'a [u8],
        parameters: Option<(u8, &'a [u8])>,
        private_key: &'a [u8],
    }

    fn key_info(der: &[u8]) -> Result<KeyInfo<'_>, &'static str> {
        let mut file = Items(der);
        let info = file.expect(SEQUENCE).ok_or("it is not a DER SEQUENCE")?;
        if !file.0.is_empty() {
            return Err("bytes follow its DER structure");
        }
        let mut fields = Items(info);
        if !matches!(fields.expect(INTEGER), Some([0] | [1])) {
            return Err("its version is not 0 or 1");
        }
        let mut algorithm = Items(fields.expect(SEQUENCE).ok_or("it has no algorithm identifier")?);
        Ok(KeyInfo {
            algorithm: algorithm.expect(OID).ok_or("its algorithm is not an object identifier")?,
            parameters: algorithm.next(),
            private_key: fields.expect(OCTET_STRING).ok_or("it has no private key")?,
        })
    }

    /// The scalar of a P-256 PKCS#8 key, and the public key the file carries, if it does.
    pub(super) fn p256_key(der: &[u8]) -> Result<([u8; 32], Option<&[u8]>), SignError> {
        let refused = |reason| SignError::Pkcs8 { expected: "P-256", reason };
        let info = key_info(der).map_err(refused)?;
        if info.algorithm != EC_PUBLIC_KEY {
            return Err(refused(if info.algorithm == RSA_ENCRYPTION {
                "it is an RSA key"
            } else {
                "it is not an elliptic-curve key"
            }));
        }
        if info.parameters != Some((OID, PRIME256V1)) {
            return Err(refused("its curve is not P-256 (prime256v1)"));
        }
        // ECPrivateKey (RFC 5915 §3): version 1, the 32-byte scalar, then optionally the curve
        // (Apple's .p8 has it) and the public key.
        let mut wrapper = Items(info.private_key);
        let mut fields = Items(wrapper.expect(SEQUENCE).ok_or(refused("its private key is not an ECPrivateKey"))?);
        if fields.expect(INTEGER) != Some(&[1]) {
            return Err(refused("its ECPrivateKey version is not 1"));
        }
        let scalar = fields.expect(OCTET_STRING).and_then(|s| <[u8; 32]>::try_from(s).ok());
        let scalar = scalar.ok_or(refused("its private key is not 32 bytes"))?;
        let mut public = None;
        while let Some((tag, content)) = fields.next() {
            match tag {
                PARAMETERS if Items(content).expect(OID) == Some(PRIME256V1) => {}
                PARAMETERS => return Err(refused("its ECPrivateKey names another curve")),
                // A BIT STRING: a count of unused bits (0), then the point.
                PUBLIC_KEY => match Items(content).expect(BIT_STRING) {
                    Some([0, point @ ..]) => public = Some(point),
                    _ => return Err(refused("its public key is not a BIT STRING")),
                },
                _ => return Err(refused("its ECPrivateKey has an unknown field")),
            }
        }
        if !fields.0.is_empty() || !wrapper.0.is_empty() {
            return Err(refused("its ECPrivateKey is malformed"));
        }
        Ok((scalar, public))
    }

    /// Whether `der` is an RSA PKCS#8 key in outline (Web Crypto reads the rest).
    pub(super) fn check_rsa(der: &[u8]) -> Result<(), SignError> {
        let refused = |reason| SignError::Pkcs8 { expected: "RSA", reason };
        let info = key_info(der).map_err(refused)?;
        if info.algorithm != RSA_ENCRYPTION {
            return Err(refused("its algorithm is not rsaEncryption"));
        }
        if !matches!(info.parameters, None | Some((NULL, []))) {
            return Err(refused("its rsaEncryption parameters are not NULL"));
        }
        match Items(info.private_key).next() {
            Some((SEQUENCE, _)) => Ok(()),
            _ => Err(refused("its private key is not an RSAPrivateKey")),
        }
    }
}
