//! The email / SMS fallback's side of the providers: a queue message's body read into a job,
//! the requests sent for it (`providers.rs`, `mail.rs`), and how each answer is judged and
//! acted on (`attempt.rs`).

use crate::T0;
use herald_core::config::{EmailKind, Fallback};
use herald_core::exchange::attempt::{Answer, Attempt, Step, RETRY_DELAY_MAX_SECONDS};
use herald_core::exchange::mail;
use herald_core::exchange::providers::{judge, Failure, Outbound};
use herald_core::internal::JobClaim;
use herald_core::query;
use serde_json::Value;

/// The headers of an email sent through the binding, in their order (docs/notifications.md).
const MAIL_HEADERS: [&str; 8] =
    ["From", "To", "Subject", "Date", "Message-ID", "MIME-Version", "Content-Type", "Content-Transfer-Encoding"];

/// A provider's answer, judged: 2xx sent; 408, 409, 429 and 5xx worth retrying, 500, 502 and
/// 504 perhaps sent all the same; any other status permanent. The reason quotes a bounded part
/// of the body.
pub fn answer(status: u16, body: &str) {
    match judge(status, body) {
        Ok(()) => assert!((200..=299).contains(&status), "{status} taken as sent"),
        Err(Failure { reason, permanent, maybe_sent, .. }) => {
            assert!(!(200..=299).contains(&status));
            assert!(reason.contains(&status.to_string()) && reason.chars().count() <= 350, "{reason:?}");
            let retryable = matches!(status, 408 | 409 | 429 | 500..=599);
            assert_eq!(permanent, !retryable, "{status}");
            assert_eq!(maybe_sent, matches!(status, 500 | 502 | 504), "{status}");
        }
    }
}

/// What the inbox, the provider and the stores answer, in turn, as an attempt asks.
#[derive(Debug, Clone)]
pub enum Reply {
    /// The inbox's claim.
    Claim { go: bool, claim: Option<u64>, held_until_ms: Option<i64> },
    /// The provider's status and body.
    Provider(u16, String),
    /// A call that failed (the inbox, the provider, the dead letters could not be reached).
    Failed,
    /// A call that succeeded.
    Done,
}

/// One delivery of a queue message whose body is `body` (any text), delivery number
/// `attempts`, to an email API or the email binding, answered by `replies` (then by
/// [`Reply::Done`]): it ends with an ack or a retry within a few steps, sends at most once and
/// reports what it sent, and every request it makes is fit for the wire (ASCII header values,
/// the recipient where the provider reads it, no header of the email but its own).
pub fn attempt(body: &str, attempts: u32, binding: bool, replies: &[Reply]) {
    let mut config = Fallback::default();
    config.email.api_key = Some("re_key".into());
    config.sms.auth_token = Some("twilio-token".into());
    if binding {
        config.email.kind = EmailKind::Binding;
    }
    let (mut attempt, mut step) = Attempt::start(body, "queue-1", attempts, &config, T0, &[0; 48]);
    let job: Option<Value> = serde_json::from_str(body).ok();
    let mut replies = replies.iter().cloned().chain(std::iter::repeat(Reply::Done));
    let (mut sends, mut reports) = (0, 0);
    for _ in 0..8 {
        let reply = replies.next().unwrap();
        let answer = match &step {
            Step::Ack => break,
            Step::Retry { delay_seconds } => {
                assert!((1..=RETRY_DELAY_MAX_SECONDS).contains(delay_seconds), "{body:?}: retry after {delay_seconds}");
                break;
            }
            Step::Claim { .. } => Answer::Claimed(match reply {
                Reply::Claim { go, claim, held_until_ms } => Ok(JobClaim { go, claim, held_until_ms }),
                _ => Err("the inbox could not be reached".into()),
            }),
            Step::Send(outbound) => {
                sends += 1;
                check_outbound(outbound, job.as_ref().expect("only a job is sent"));
                Answer::Sent(match reply {
                    Reply::Provider(status, body) => judge(status, &body),
                    Reply::Failed => Err(Failure::ambiguous("no answer in time")),
                    _ => Ok(()),
                })
            }
            Step::Breaker { .. } => {
                Answer::Breaker(if matches!(reply, Reply::Failed) { Err("lost".into()) } else { Ok(false) })
            }
            Step::Forget { .. } => {
                Answer::Forgot(if matches!(reply, Reply::Failed) { Err("lost".into()) } else { Ok(true) })
            }
            Step::Report { .. } => {
                reports += 1;
                Answer::Reported(if matches!(reply, Reply::Failed) { Err("lost".into()) } else { Ok(()) })
            }
            Step::Note(note) => {
                assert!(!note.reason.is_empty());
                Answer::Noted(if matches!(reply, Reply::Failed) { Err("lost".into()) } else { Ok(()) })
            }
            Step::Keep(letter) => {
                assert!(letter.reason.as_deref().is_some_and(|r| !r.is_empty()), "{letter:?}");
                Answer::Kept(if matches!(reply, Reply::Failed) { Err("lost".into()) } else { Ok(()) })
            }
        };
        assert!(sends <= 1, "{body:?}: sent twice in one delivery");
        step = attempt.on(answer);
    }
    assert!(matches!(step, Step::Ack | Step::Retry { .. }), "{body:?}: still going after 8 steps: {step:?}");
    assert!(reports >= sends, "{body:?}: a send never reported");
}

fn check_outbound(outbound: &Outbound, job: &Value) {
    let to = job["to"].as_str().unwrap();
    match outbound {
        Outbound::Http(request) => {
            for (name, value) in &request.headers {
                assert!(value.bytes().all(|b| (0x20..=0x7e).contains(&b)), "{name}: {value:?}");
            }
            assert!(!request.url.chars().any(|c| c.is_whitespace() || c.is_control()), "{}", request.url);
            match serde_json::from_str::<Value>(&request.body) {
                Ok(json) => assert_eq!(json["to"], serde_json::json!([to]), "{}", request.body),
                Err(_) => assert_eq!(query::param(&request.body, "To").as_deref(), Some(to), "{}", request.body),
            }
        }
        Outbound::Binding(email) => {
            assert_eq!(email.to, to);
            check_mail(&email.raw);
        }
        Outbound::Push(request) => {
            for (name, value) in &request.headers {
                assert!(value.bytes().all(|b| (0x20..=0x7e).contains(&b)), "{name}: {value:?}");
            }
        }
    }
}

/// An email through the binding: `from` (a display name and an address), any subject and text,
/// any job key, at any time: its headers are exactly its own, ASCII, one per line (folded
/// lines start with a space), whatever the text holds.
pub fn mail(from_name: &str, subject: &str, text: &str, key: &str, now: i64) {
    let from = format!("{} <notifications@example.com>", from_name.replace(['<', '>'], ""));
    let message_id = mail::message_id(key, "example.com");
    let raw = mail::message(&from, "bob@example.com", subject, text, &message_id, now);
    check_mail(&raw);
}

/// The headers are the message's own, one per line, ASCII but for the recipient's address,
/// which is written as the user gave it (an internationalized address, RFC 6532).
fn check_mail(raw: &str) {
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or_else(|| panic!("no end of headers: {raw:?}"));
    let headers: Vec<(&str, &str)> = head
        .split("\r\n")
        .filter(|line| !line.starts_with(' '))
        .map(|line| line.split_once(": ").unwrap_or_else(|| panic!("{line:?} in {raw:?}")))
        .collect();
    assert_eq!(headers.iter().map(|(name, _)| *name).collect::<Vec<_>>(), MAIL_HEADERS, "{raw:?}");
    for line in head.split("\r\n").chain(body.split("\r\n")) {
        assert!(!line.contains(['\r', '\n']), "a bare line break in {raw:?}");
        assert!(line.is_ascii() || line.starts_with("To: "), "{line:?} in {raw:?}");
    }
}
