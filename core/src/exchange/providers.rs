//! What the fallback sends, built from a [`Job`] and the configuration (pure: the Worker only
//! performs it, `delivery/src/fallback.rs`), and how a provider's answer is judged.
//!
//! | channel | provider | request |
//! |---|---|---|
//! | email | an HTTPS JSON email API, Resend's shape (`EMAIL_PROVIDER=api`) | `POST {EMAIL_API_URL}/emails`, `Authorization: Bearer {EMAIL_API_KEY}`, `Idempotency-Key: {job.key}`, JSON `{from, to: [to], subject, text}` |
//! | email | Cloudflare's `send_email` binding (`EMAIL_PROVIDER=binding`) | an RFC 5322 message ([`super::mail`]) from `EMAIL_FROM` to `to` |
//! | sms | Twilio's Messages API | `POST {SMS_API_URL}/2010-04-01/Accounts/{TWILIO_ACCOUNT_SID}/Messages.json`, `Authorization: Basic base64(sid:token)`, form `To`, `From`, `Body` |
//!
//! Answers ([`judge`]): 2xx is sent; 408, 409 (Resend: the same key is being sent right now),
//! 429 and 5xx — like a timeout or an unreachable provider — are worth retrying; any other
//! status is permanent: trying again sends the same request and gets the same refusal. A
//! timeout, a 500, 502 or 504 leaves open whether the message went out ([`Failure::maybe_sent`]):
//! an email API honouring the idempotency key is asked again, Twilio (no such key) is not.

use super::mail;
use super::push::outbound::PushRequest;
use super::{Channel, Job};
use crate::exchange::settings::{EmailKind, EmailProvider, Fallback, SmsProvider};
use base64ct::{Base64, Encoding};

/// Twilio's longest message body, in characters; a longer text is cut to it.
pub const SMS_BODY_MAX: usize = 1600;
/// How much of a provider's answer a failure reason quotes, in characters.
const QUOTE_MAX: usize = 300;

/// One HTTP request to a provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderRequest {
    pub method: &'static str,
    pub url: String,
    /// In this order; every value is ASCII (fit for an HTTP header).
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
}

/// A message for the `send_email` binding: the envelope and the raw RFC 5322 text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BindingEmail {
    /// The envelope sender: the bare address of `EMAIL_FROM`.
    pub from: String,
    pub to: String,
    pub raw: String,
}

/// What sending a job takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outbound {
    Http(ProviderRequest),
    Binding(BindingEmail),
    /// A push to one device (`push/outbound.rs`); its answer is judged by `push/answers.rs`.
    Push(PushRequest),
}

/// Why a job was not sent, whether trying it again could change that, and whether the
/// provider may have sent it all the same.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub reason: String,
    pub permanent: bool,
    /// The answer leaves open whether the provider acted on the request (no answer in time,
    /// a 500, 502 or 504): only a provider that honours the idempotency key may be asked again
    /// (`attempt.rs`).
    pub maybe_sent: bool,
    /// The provider asked not to be tried again before this many seconds (`Retry-After`).
    pub after_seconds: Option<u32>,
}

impl Failure {
    /// A failure a later attempt may not meet (the provider was down or busy), and that sent
    /// nothing.
    pub fn retryable(reason: impl Into<String>) -> Self {
        Self { reason: reason.into(), permanent: false, maybe_sent: false, after_seconds: None }
    }

    /// A failure a later attempt may not meet, after which the message may have gone out all
    /// the same (the provider did not answer in time, or failed after taking the request).
    pub fn ambiguous(reason: impl Into<String>) -> Self {
        Self { reason: reason.into(), permanent: false, maybe_sent: true, after_seconds: None }
    }

    /// A failure every attempt would meet (a refused address, a missing secret).
    pub fn permanent(reason: impl Into<String>) -> Self {
        Self { reason: reason.into(), permanent: true, maybe_sent: false, after_seconds: None }
    }
}

/// What sending `job` takes with this configuration; `now` (ms since the epoch) dates an email
/// sent through the binding; `entropy` is fresh random bytes, which a push's encryption takes
/// (its salt and ephemeral key). A job no attempt could send is a permanent [`Failure`].
pub fn outbound(job: &Job, config: &Fallback, now: i64, entropy: &[u8; 48]) -> Result<Outbound, Failure> {
    match job.channel {
        Channel::Push => super::push::outbound::outbound(job, &config.push, now, entropy).map(Outbound::Push),
        Channel::Email => {
            check_email_address(&job.to)?;
            match config.email.kind {
                EmailKind::Api => email_api(job, &config.email).map(Outbound::Http),
                EmailKind::Binding => binding_email(job, &config.email, now).map(Outbound::Binding),
            }
        }
        Channel::Sms => twilio(job, &config.sms).map(Outbound::Http),
    }
}

/// Resend's `POST /emails`.
fn email_api(job: &Job, email: &EmailProvider) -> Result<ProviderRequest, Failure> {
    let key = email.api_key.as_deref().ok_or_else(|| Failure::permanent("EMAIL_API_KEY is not set"))?;
    let body = serde_json::json!({
        "from": email.from,
        "to": [job.to],
        "subject": job.subject,
        "text": job.text,
    });
    Ok(ProviderRequest {
        method: "POST",
        url: format!("{}/emails", email.api_url),
        headers: vec![
            ("authorization", format!("Bearer {key}")),
            ("content-type", "application/json".into()),
            ("idempotency-key", header_safe(&job.key)),
        ],
        body: body.to_string(),
    })
}

/// The binding's message: from `EMAIL_FROM`, its Message-ID made of the job's key, so every
/// attempt of a job sends the same message.
fn binding_email(job: &Job, email: &EmailProvider, now: i64) -> Result<BindingEmail, Failure> {
    let envelope = mail::address_of(&email.from)
        .ok_or_else(|| Failure::permanent(format!("EMAIL_FROM {:?} holds no address", email.from)))?;
    let domain = envelope.rsplit('@').next().unwrap_or_default();
    let message_id = mail::message_id(&job.key, domain);
    let raw = mail::message(&email.from, &job.to, &job.subject, &job.text, &message_id, now);
    Ok(BindingEmail { from: envelope.to_owned(), to: job.to.clone(), raw })
}

/// Twilio's `POST /2010-04-01/Accounts/{sid}/Messages.json`.
fn twilio(job: &Job, sms: &SmsProvider) -> Result<ProviderRequest, Failure> {
    if job.to.is_empty() || job.to.chars().any(char::is_control) {
        return Err(Failure::permanent(format!("{:?} is not a phone number", job.to)));
    }
    let token = sms.auth_token.as_deref().ok_or_else(|| Failure::permanent("TWILIO_AUTH_TOKEN is not set"))?;
    let text: String = if job.text.chars().count() > SMS_BODY_MAX {
        job.text.chars().take(SMS_BODY_MAX - 1).chain(['…']).collect()
    } else {
        job.text.clone()
    };
    let credentials = Base64::encode_string(format!("{}:{token}", sms.account_sid).as_bytes());
    Ok(ProviderRequest {
        method: "POST",
        url: format!("{}/2010-04-01/Accounts/{}/Messages.json", sms.api_url, form_encode(&sms.account_sid)),
        headers: vec![
            ("authorization", format!("Basic {credentials}")),
            ("content-type", "application/x-www-form-urlencoded".into()),
        ],
        body: format!("To={}&From={}&Body={}", form_encode(&job.to), form_encode(&sms.from), form_encode(&text)),
    })
}

/// A provider's answer: `Ok` when it took the message.
pub fn judge(status: u16, body: &str) -> Result<(), Failure> {
    if (200..=299).contains(&status) {
        return Ok(());
    }
    let body = body.trim();
    let quoted: String = body.chars().take(QUOTE_MAX).collect();
    let ellipsis = if quoted.len() < body.len() { "…" } else { "" };
    let reason = format!("the provider answered {status}: {quoted}{ellipsis}");
    match status {
        // The provider may have failed after taking the message (a 500), or a gateway in front
        // of it lost the answer (502, 504).
        500 | 502 | 504 => Err(Failure::ambiguous(reason)),
        408 | 409 | 429 | 500..=599 => Err(Failure::retryable(reason)),
        _ => Err(Failure::permanent(reason)),
    }
}

/// `application/x-www-form-urlencoded` (the WHATWG URL standard's byte serializer): letters,
/// digits and `*-._` as they are, a space as `+`, every other UTF-8 byte as `%XX`.
pub fn form_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'*' | b'-' | b'.' | b'_' => out.push(byte as char),
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

/// `value` fit for an HTTP header: printable ASCII as it is, every other byte (and `%`) as
/// `%XX`. Keys are made of user ids, which may be any Unicode.
fn header_safe(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        match byte {
            b'%' => out.push_str("%25"),
            0x20..=0x7e => out.push(byte as char),
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

/// An address a provider can take: `local@domain`, nothing that could end a header or list
/// a second recipient.
fn check_email_address(to: &str) -> Result<(), Failure> {
    let refused = |why: &str| Err(Failure::permanent(format!("{to:?} is not an email address: {why}")));
    if to.len() > 254 {
        return refused("longer than 254 bytes");
    }
    if to.chars().any(|c| c.is_control() || c.is_whitespace() || "<>()[],;:\"\\".contains(c)) {
        return refused("it holds a space, a control character or one of <>()[],;:\"\\");
    }
    match to.split_once('@') {
        Some((local, domain)) if !local.is_empty() && !domain.is_empty() && !domain.contains('@') => Ok(()),
        _ => refused("not one local part, one @ and one domain"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_encoding_follows_the_url_standard() {
        assert_eq!(form_encode("+1 555 0100"), "%2B1+555+0100");
        assert_eq!(form_encode("a&b=c/d?é~"), "a%26b%3Dc%2Fd%3F%C3%A9%7E");
        assert_eq!(form_encode("AZaz09*-._"), "AZaz09*-._");
    }

    #[test]
    fn header_values_are_ascii_whatever_the_key() {
        assert_eq!(header_safe("zoë/n1/email"), "zo%C3%AB/n1/email");
        assert_eq!(header_safe("100%\r\n"), "100%25%0D%0A");
    }

    #[test]
    fn statuses_are_sent_retryable_or_permanent() {
        assert_eq!(judge(200, "{}"), Ok(()));
        assert_eq!(judge(201, ""), Ok(()));
        for status in [408, 409, 429, 500, 502, 503, 504] {
            assert!(!judge(status, "busy").unwrap_err().permanent, "{status}");
        }
        for (status, maybe_sent) in [(408, false), (429, false), (503, false), (500, true), (502, true), (504, true)] {
            assert_eq!(judge(status, "busy").unwrap_err().maybe_sent, maybe_sent, "{status}");
        }
        for status in [301, 400, 401, 403, 404, 422] {
            assert!(judge(status, "no").unwrap_err().permanent, "{status}");
        }
        let long = "x".repeat(1000);
        let reason = judge(503, &long).unwrap_err().reason;
        assert_eq!(reason, format!("the provider answered 503: {}…", "x".repeat(QUOTE_MAX)));
    }

    #[test]
    fn email_addresses_that_could_break_a_message_are_refused() {
        assert!(check_email_address("bob@example.com").is_ok());
        assert!(check_email_address("zoë+tag@exämple.org").is_ok());
        for bad in ["", "bob", "@example.com", "bob@", "a@b@c", "bob@example.com\r\nBcc: eve@x", "a b@c", "<a@b>"] {
            assert!(check_email_address(bad).unwrap_err().permanent, "{bad:?}");
        }
    }
}
