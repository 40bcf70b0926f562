//! Receipt credentials: what lets a service worker or a notification extension, which hold no
//! user session, acknowledge one notification and nothing else.
//!
//! Every push carries one, issued by the inbox when the push is planned:
//!
//! ```text
//! {seq}.{expires_at}.{base64url(user id)}.{base64url(HMAC-SHA256(RECEIPT_SECRET, "herald-receipt-v1." ‖ the three fields))}
//! ```
//!
//! It names the user and the notification's seq in their inbox, and is good until the
//! notification's ttl ends (`expires_at`, ms since the epoch). It is presented to
//! `POST /api/v1/receipts` with `state` `delivered` (shown) or `read` (opened). A credential
//! not signed with this deployment's secret, or changed in any field, is `receipt_invalid`;
//! one past its time, `receipt_expired`.

use crate::error::{Error, ErrorCode};
use crate::ids::UserId;
use base64ct::{Base64UrlUnpadded, Encoding};
use hmac::{Hmac, Mac};
use serde_json::{Map, Value};
use sha2::Sha256;

/// Binds the tag to this use, so no other HMAC Herald makes with the secret can pass for one.
const CONTEXT: &[u8] = b"herald-receipt-v1.";
/// Longest credential read; a real one is under 250 bytes.
pub const RECEIPT_MAX: usize = 512;

/// What a valid credential acknowledges.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    pub user: UserId,
    pub seq: u64,
    pub expires_at: i64,
}

/// What a receipt says of its notification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReceiptState {
    /// The device showed it.
    Delivered,
    /// The user opened it.
    Read,
}

impl ReceiptState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Delivered => "delivered",
            Self::Read => "read",
        }
    }
}

fn tag(secret: &[u8], fields: &str) -> [u8; 32] {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes a key of any length");
    mac.update(CONTEXT);
    mac.update(fields.as_bytes());
    mac.finalize().into_bytes().into()
}

/// The credential for notification `seq` of `user`'s inbox, good until `expires_at`.
pub fn issue(secret: &[u8], user: &UserId, seq: u64, expires_at: i64) -> String {
    let fields = format!("{seq}.{expires_at}.{}", Base64UrlUnpadded::encode_string(user.as_str().as_bytes()));
    let tag = Base64UrlUnpadded::encode_string(&tag(secret, &fields));
    format!("{fields}.{tag}")
}

/// The receipt `credential` stands for, checked against `secret` at `now`.
pub fn verify(secret: &[u8], credential: &str, now: i64) -> Result<Receipt, Error> {
    let invalid = || Error::new(ErrorCode::ReceiptInvalid, "the receipt credential is not one this Herald issued");
    if credential.len() > RECEIPT_MAX {
        return Err(invalid());
    }
    let (fields, tag_text) = credential.rsplit_once('.').ok_or_else(invalid)?;
    let given = Base64UrlUnpadded::decode_vec(tag_text).map_err(|_| invalid())?;
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes a key of any length");
    mac.update(CONTEXT);
    mac.update(fields.as_bytes());
    // In constant time: the tag is the only thing that makes a credential.
    mac.verify_slice(&given).map_err(|_| invalid())?;
    let mut parts = fields.splitn(3, '.');
    let (Some(seq), Some(expires_at), Some(user)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(invalid());
    };
    let seq = seq.parse::<u64>().map_err(|_| invalid())?;
    let expires_at = expires_at.parse::<i64>().map_err(|_| invalid())?;
    let user = Base64UrlUnpadded::decode_vec(user).ok().and_then(|b| String::from_utf8(b).ok()).ok_or_else(invalid)?;
    let user = UserId::parse(&user).map_err(|_| invalid())?;
    if now >= expires_at {
        return Err(Error::new(
            ErrorCode::ReceiptExpired,
            "the receipt credential expired with its notification's ttl; nothing was changed",
        ));
    }
    Ok(Receipt { user, seq, expires_at })
}

/// The body of `POST /api/v1/receipts`: `{receipt, state}` with `state` `delivered` or `read`.
pub fn parse_request(body: &str) -> Result<(String, ReceiptState), Error> {
    let fields: Map<String, Value> = crate::json::object(body, "body")?;
    if let Some(unknown) = fields.keys().find(|k| !["receipt", "state"].contains(&k.as_str())) {
        return Err(Error::invalid_field(unknown, "is not a field here (known: receipt, state)"));
    }
    let receipt = match fields.get("receipt") {
        Some(Value::String(r)) if !r.is_empty() && r.len() <= RECEIPT_MAX => r.clone(),
        Some(_) => return Err(Error::invalid_field("receipt", "must be the credential the push carried")),
        None => return Err(Error::invalid_field("receipt", "is required")),
    };
    let state = match fields.get("state").and_then(Value::as_str) {
        Some("delivered") => ReceiptState::Delivered,
        Some("read") => ReceiptState::Read,
        _ => return Err(Error::invalid_field("state", "must be \"delivered\" or \"read\"")),
    };
    Ok((receipt, state))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";
    const NOW: i64 = 1_793_610_000_000;

    fn bob() -> UserId {
        UserId::parse("bob@example.com").unwrap()
    }

    #[test]
    fn a_credential_acknowledges_its_one_notification_until_its_ttl() {
        let credential = issue(SECRET, &bob(), 42, NOW + 60_000);
        assert!(credential.len() < 250, "{credential}");
        assert_eq!(
            verify(SECRET, &credential, NOW).unwrap(),
            Receipt { user: bob(), seq: 42, expires_at: NOW + 60_000 }
        );
        assert_eq!(verify(SECRET, &credential, NOW + 60_000).unwrap_err().code, ErrorCode::ReceiptExpired);
    }

    #[test]
    fn a_changed_field_or_another_secret_is_refused() {
        let credential = issue(SECRET, &bob(), 42, NOW + 60_000);
        let [seq, expires, user, tag]: [&str; 4] = credential.split('.').collect::<Vec<_>>().try_into().unwrap();
        let eve = Base64UrlUnpadded::encode_string(b"eve");
        let forged = [
            format!("43.{expires}.{user}.{tag}"),
            format!("{seq}.{}.{user}.{tag}", NOW + 10_000_000),
            format!("{seq}.{expires}.{eve}.{tag}"),
            format!("{seq}.{expires}.{user}.{}", &tag[1..]),
            format!("{seq}.{expires}.{user}"),
            String::new(),
            "x".repeat(RECEIPT_MAX + 1),
        ];
        for credential in forged {
            assert_eq!(verify(SECRET, &credential, NOW).unwrap_err().code, ErrorCode::ReceiptInvalid, "{credential}");
        }
        let other = issue(b"another deployment's secret, 32+ bytes", &bob(), 42, NOW + 60_000);
        assert_eq!(verify(SECRET, &other, NOW).unwrap_err().code, ErrorCode::ReceiptInvalid);
    }

    #[test]
    fn a_receipt_request_names_its_bad_field() {
        let field =
            |body: &str| parse_request(body).unwrap_err().details.unwrap()["field"].as_str().unwrap().to_owned();
        assert_eq!(parse_request(r#"{"receipt":"a.b","state":"read"}"#).unwrap(), ("a.b".into(), ReceiptState::Read));
        assert_eq!(field(r#"{"state":"read"}"#), "receipt");
        assert_eq!(field(r#"{"receipt":"a","state":"seen"}"#), "state");
        assert_eq!(field(r#"{"receipt":7,"state":"read"}"#), "receipt");
        assert_eq!(field(r#"{"receipt":"a","state":"read","seq":1}"#), "seq");
        assert_eq!(parse_request("{").unwrap_err().code, ErrorCode::MalformedJson);
    }
}
