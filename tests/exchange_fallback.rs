//! The email / SMS fallback: the providers' exact requests, one delivery of a job as the
//! consumer steps through it (claim, send, report, retry with backoff, dead letters) against
//! the inbox's job ledger over SQLite and a fake provider, and the dead-letter store over
//! SQLite.

use herald_core::config::{EmailKind, Fallback};
use herald_core::exchange::attempt::{retry_delay_seconds, Answer, Attempt, Step, RETRY_DELAY_MAX_SECONDS};
use herald_core::exchange::dead_letters::{DeadLetter, DeadLetters, ListQuery, ReasonNote, KEPT_MAX};
use herald_core::exchange::ledger::{Claim, Ledger, LEASE_MS};
use herald_core::exchange::providers::{outbound, Failure, Outbound, ProviderRequest};
use herald_core::exchange::{Channel, Job};
use herald_core::ids::{RoomId, UserId};
use herald_core::internal::{JobClaim, JobKey, JOB_DONE, JOB_RELEASE};
use herald_tests::{Sqlite, T0};
use serde_json::{json, Value};
use std::collections::VecDeque;

fn config() -> Fallback {
    let mut config = Fallback::default();
    config.email.api_url = "http://127.0.0.1:8788".into();
    config.email.api_key = Some("re_test_key".into());
    config.sms.api_url = "http://127.0.0.1:8788".into();
    config.sms.account_sid = "AC0123456789abcdef0123456789abcdef".into();
    config.sms.auth_token = Some("twilio-token".into());
    config.sms.from = "+15550001111".into();
    config
}

fn job(user: &str, channel: Channel, to: &str) -> Job {
    Job {
        key: format!("{user}/n-7/{}", channel.as_str()),
        user: UserId::parse(user).unwrap(),
        channel,
        to: to.into(),
        seq: 7,
        notification: "n-7".into(),
        subject: "You have a new notification".into(),
        text: "Deploy finished & green: 100% of checks".into(),
        expires_at: None,
        push: None,
    }
}

fn body(job: &Job) -> String {
    serde_json::to_string(job).unwrap()
}

fn http(outbound: Outbound) -> ProviderRequest {
    match outbound {
        Outbound::Http(request) => request,
        other => panic!("expected an HTTP request, got {other:?}"),
    }
}

#[test]
fn an_email_job_becomes_resends_request_with_the_job_key_as_idempotency_key() {
    let request = http(outbound(&job("bob", Channel::Email, "bob@example.com"), &config(), T0, &[0; 48]).unwrap());
    assert_eq!(request.method, "POST");
    assert_eq!(request.url, "http://127.0.0.1:8788/emails");
    assert_eq!(
        request.headers,
        vec![
            ("authorization", "Bearer re_test_key".to_owned()),
            ("content-type", "application/json".to_owned()),
            ("idempotency-key", "bob/n-7/email".to_owned()),
        ]
    );
    let body: Value = serde_json::from_str(&request.body).unwrap();
    assert_eq!(
        body,
        json!({
            "from": "Herald <notifications@example.com>",
            "to": ["bob@example.com"],
            "subject": "You have a new notification",
            "text": "Deploy finished & green: 100% of checks",
        })
    );
}

#[test]
fn an_sms_job_becomes_twilios_form_post_with_basic_auth() {
    let request = http(outbound(&job("bob", Channel::Sms, "+1 555 0100"), &config(), T0, &[0; 48]).unwrap());
    assert_eq!(
        request.url,
        "http://127.0.0.1:8788/2010-04-01/Accounts/AC0123456789abcdef0123456789abcdef/Messages.json"
    );
    // base64("AC0123456789abcdef0123456789abcdef:twilio-token")
    assert_eq!(
        request.headers,
        vec![
            ("authorization", "Basic QUMwMTIzNDU2Nzg5YWJjZGVmMDEyMzQ1Njc4OWFiY2RlZjp0d2lsaW8tdG9rZW4=".to_owned()),
            ("content-type", "application/x-www-form-urlencoded".to_owned()),
        ]
    );
    assert_eq!(request.body, "To=%2B1+555+0100&From=%2B15550001111&Body=Deploy+finished+%26+green%3A+100%25+of+checks");
}

#[test]
fn an_sms_longer_than_twilio_takes_is_cut_to_1600_characters() {
    let mut long = job("bob", Channel::Sms, "+15550100");
    long.text = "é".repeat(2000);
    let request = http(outbound(&long, &config(), T0, &[0; 48]).unwrap());
    let body = request.body.split("&Body=").nth(1).unwrap();
    assert_eq!(body, format!("{}%E2%80%A6", "%C3%A9".repeat(1599)));
}

#[test]
fn a_missing_secret_or_a_bad_address_is_a_permanent_failure_that_says_why() {
    let mut no_key = config();
    no_key.email.api_key = None;
    let failure = outbound(&job("bob", Channel::Email, "bob@example.com"), &no_key, T0, &[0; 48]).unwrap_err();
    assert_eq!(failure, Failure::permanent("EMAIL_API_KEY is not set"));
    let mut no_token = config();
    no_token.sms.auth_token = None;
    let failure = outbound(&job("bob", Channel::Sms, "+15550100"), &no_token, T0, &[0; 48]).unwrap_err();
    assert_eq!(failure, Failure::permanent("TWILIO_AUTH_TOKEN is not set"));
    let failure =
        outbound(&job("bob", Channel::Email, "bob@example.com\r\nBcc: eve@x"), &config(), T0, &[0; 48]).unwrap_err();
    assert!(failure.permanent && failure.reason.contains("is not an email address"), "{failure:?}");
}

#[test]
fn the_binding_email_is_an_rfc5322_message_named_by_the_job() {
    let mut config = config();
    config.email.kind = EmailKind::Binding;
    let mut job = job("zoë", Channel::Email, "zoe@example.com");
    job.subject = "Zoë, one new notification".into();
    let Outbound::Binding(email) = outbound(&job, &config, T0, &[0; 48]).unwrap() else { panic!("not the binding") };
    assert_eq!(email.from, "notifications@example.com");
    assert_eq!(email.to, "zoe@example.com");
    let expected = [
        "From: Herald <notifications@example.com>",
        "To: zoe@example.com",
        "Subject: =?UTF-8?B?Wm/Dqywgb25lIG5ldyBub3RpZmljYXRpb24=?=",
        "Date: Mon, 2 Nov 2026 09:00:00 +0000",
        "Message-ID: <zo%C3%AB/n-7/email@example.com>",
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=utf-8",
        "Content-Transfer-Encoding: base64",
        "",
        "RGVwbG95IGZpbmlzaGVkICYgZ3JlZW46IDEwMCUgb2YgY2hlY2tz",
        "",
    ]
    .join("\r\n");
    assert_eq!(email.raw, expected);
}

#[test]
fn every_attempt_of_a_job_makes_the_same_request() {
    let job = job("bob", Channel::Email, "bob@example.com");
    assert_eq!(
        outbound(&job, &config(), T0, &[0; 48]).unwrap(),
        outbound(&job, &config(), T0 + 60_000, &[0; 48]).unwrap()
    );
}

/// Which answers of the inbox are lost on the way back: the inbox did what it was asked, the
/// consumer does not know it.
#[derive(Default)]
struct Lost {
    claim: bool,
    report: bool,
}

/// The fallback's world: the inbox's job ledger, a provider answering from a script (then
/// taking everything), the dead-letter store.
struct World {
    config: Fallback,
    ledger: Ledger<Sqlite>,
    answers: VecDeque<Result<(), Failure>>,
    accepted: Vec<Outbound>,
    refused: usize,
    store: DeadLetters<Sqlite>,
    /// Whether the inbox and the dead-letter store can be reached.
    reachable: bool,
    lost: Lost,
}

impl World {
    fn new(config: Fallback) -> Self {
        Self {
            config,
            ledger: Ledger::open(Sqlite::in_memory()).unwrap(),
            answers: VecDeque::new(),
            accepted: Vec::new(),
            refused: 0,
            store: DeadLetters::open(Sqlite::in_memory()).unwrap(),
            reachable: true,
            lost: Lost::default(),
        }
    }

    /// The provider answers the next requests with these.
    fn provider_answers(&mut self, answers: Vec<Result<(), Failure>>) {
        self.answers = answers.into();
    }

    fn reach(&self) -> Result<(), String> {
        if self.reachable {
            Ok(())
        } else {
            Err("connection refused".into())
        }
    }

    /// One delivery (number `attempts`) of a message with `body` at `now`, run to its end as
    /// `delivery/src/fallback.rs` runs it: every step, the last being Ack or Retry.
    fn deliver(&mut self, body: &str, attempts: u32, now: i64) -> Vec<Step> {
        let (mut attempt, mut step) = Attempt::start(body, "msg-1", attempts, &self.config, now, &[0; 48]);
        let mut steps = Vec::new();
        loop {
            steps.push(step.clone());
            let answer = match &step {
                Step::Claim { key, .. } => Answer::Claimed(self.reach().and_then(|()| {
                    let claim = self.ledger.claim(now, &key.key, |_| false, key.expires_at).unwrap();
                    lost(std::mem::take(&mut self.lost.claim), JobClaim::from(claim))
                })),
                Step::Send(outbound) => Answer::Sent(match self.answers.pop_front().unwrap_or(Ok(())) {
                    Ok(()) => {
                        self.accepted.push(outbound.clone());
                        Ok(())
                    }
                    Err(failure) => {
                        self.refused += 1;
                        Err(failure)
                    }
                }),
                Step::Report { path, key, .. } => Answer::Reported(self.reach().and_then(|()| {
                    match *path {
                        JOB_DONE => self.ledger.done(&key.key).unwrap(),
                        JOB_RELEASE => self.ledger.release(&key.key, key.claim).unwrap(),
                        other => panic!("unknown job call {other}"),
                    }
                    lost(std::mem::take(&mut self.lost.report), ())
                })),
                Step::Note(note) => Answer::Noted(self.reach().map(|()| self.store.note(note).unwrap())),
                Step::Keep(letter) => {
                    Answer::Kept(self.reach().map(|()| self.store.keep(letter, self.config.max_attempts).unwrap()))
                }
                Step::Breaker { .. } | Step::Forget { .. } => panic!("an email or an SMS is never gone: {step:?}"),
                Step::Ack | Step::Retry { .. } => return steps,
            };
            step = attempt.on(answer);
        }
    }

    /// The dead-letter queue's consumer takes a message (`delivery/src/fallback.rs`, `keep_dead`).
    fn keep_dead(&mut self, body: &str, now: i64) {
        self.store.keep(&DeadLetter::of_message(body, "msg-1", now), self.config.max_attempts).unwrap();
    }

    fn dead_letters(&self) -> Value {
        serde_json::from_str(&self.store.page(ListQuery::parse(None, None).unwrap()).unwrap()).unwrap()
    }
}

/// The inbox's answer, unless it is lost on the way.
fn lost<T>(is_lost: bool, answer: T) -> Result<T, String> {
    if is_lost {
        Err("the inbox's answer was lost".into())
    } else {
        Ok(answer)
    }
}

fn inbox(user: &str) -> RoomId {
    RoomId::compose("inbox", &[user]).unwrap()
}

fn key(job: &Job) -> JobKey {
    JobKey::new(job.key.clone())
}

/// The key as a report presents it: with the claim's number.
fn claimed(job: &Job, claim: u64) -> JobKey {
    JobKey { claim: Some(claim), ..key(job) }
}

fn unavailable() -> Result<(), Failure> {
    Err(Failure::retryable("the provider answered 503: busy"))
}

#[test]
fn a_job_is_claimed_sent_reported_done_and_acked() {
    let mut world = World::new(config());
    let job = job("bob", Channel::Email, "bob@example.com");
    let steps = world.deliver(&body(&job), 1, T0);
    let request = outbound(&job, &world.config, T0, &[0; 48]).unwrap();
    assert_eq!(
        steps,
        vec![
            Step::Claim { inbox: inbox("bob"), key: key(&job) },
            Step::Send(request.clone()),
            Step::Report { inbox: inbox("bob"), path: JOB_DONE, key: claimed(&job, 1) },
            Step::Ack,
        ]
    );
    assert_eq!(world.accepted, vec![request]);
}

#[test]
fn a_provider_failing_twice_then_succeeding_yields_exactly_one_delivery() {
    let mut world = World::new(config());
    world.provider_answers(vec![unavailable(), Err(Failure::retryable("no answer within 10 s"))]);
    let job = body(&job("bob", Channel::Sms, "+15550100"));
    let ends: Vec<Step> = (1..=3).map(|n| world.deliver(&job, n, T0).pop().unwrap()).collect();
    // Retried after the base delay, then twice it.
    assert_eq!(ends, vec![Step::Retry { delay_seconds: 10 }, Step::Retry { delay_seconds: 20 }, Step::Ack]);
    assert_eq!((world.refused, world.accepted.len()), (2, 1));
    // Redelivered once more (queues deliver at least once): the ledger says it was sent.
    let again = world.deliver(&job, 1, T0);
    assert_eq!(again, vec![Step::Claim { inbox: inbox("bob"), key: JobKey::new("bob/n-7/sms") }, Step::Ack]);
    assert_eq!(world.accepted.len(), 1);
}

#[test]
fn a_job_another_delivery_holds_comes_again_when_its_lease_ends_and_is_sent_once() {
    let mut world = World::new(config());
    let job = job("bob", Channel::Email, "bob@example.com");
    // Another delivery (a copy the inbox queued again) holds it and is sending it.
    assert_eq!(world.ledger.claim(T0, &job.key, |_| false, None).unwrap(), Claim::Go { claim: 1 });
    let steps = world.deliver(&body(&job), 1, T0 + 1000);
    assert_eq!(steps, vec![Step::Claim { inbox: inbox("bob"), key: key(&job) }, Step::Retry { delay_seconds: 60 }]);
    // That delivery sent it meanwhile: this one finds it sent and is acked.
    world.ledger.done(&job.key).unwrap();
    assert_eq!(world.deliver(&body(&job), 2, T0 + LEASE_MS + 1000).last(), Some(&Step::Ack));
    assert!(world.accepted.is_empty(), "sent by the other delivery, not this one");
}

#[test]
fn a_lost_claim_answer_does_not_lose_the_job() {
    let mut world = World::new(config());
    let job = job("bob", Channel::Sms, "+15550100");
    // The inbox claimed it for this delivery, but its answer never came back.
    world.lost.claim = true;
    assert_eq!(world.deliver(&body(&job), 1, T0).last(), Some(&Step::Retry { delay_seconds: 10 }));
    // The next delivery finds the lapsed attempt's claim: not acked, but retried after it.
    let held = world.deliver(&body(&job), 2, T0 + 10_000);
    assert_eq!(held.last(), Some(&Step::Retry { delay_seconds: 51 }));
    assert!(world.accepted.is_empty());
    let sent = world.deliver(&body(&job), 3, T0 + 61_000);
    assert_eq!(sent[2], Step::Report { inbox: inbox("bob"), path: JOB_DONE, key: claimed(&job, 2) });
    assert_eq!((sent.last(), world.accepted.len()), (Some(&Step::Ack), 1));
}

#[test]
fn a_lost_release_does_not_lose_the_job() {
    let mut world = World::new(config());
    world.provider_answers(vec![unavailable()]);
    let job = job("bob", Channel::Email, "bob@example.com");
    world.lost.report = true;
    assert_eq!(world.deliver(&body(&job), 1, T0).last(), Some(&Step::Retry { delay_seconds: 10 }));
    // The release reached the inbox, only its answer was lost: the retry goes at once.
    assert_eq!(world.deliver(&body(&job), 2, T0 + 10_000).last(), Some(&Step::Ack));
    assert_eq!(world.accepted.len(), 1);

    // A release that never reached the inbox: the job is held until the lease ends.
    let mut world = World::new(config());
    let (mut attempt, step) = Attempt::start(&body(&job), "m", 1, &world.config, T0, &[0; 48]);
    assert!(matches!(step, Step::Claim { .. }));
    let claim = world.ledger.claim(T0, &job.key, |_| false, None).unwrap();
    assert!(matches!(attempt.on(Answer::Claimed(Ok(claim.into()))), Step::Send(_)));
    assert!(matches!(attempt.on(Answer::Sent(unavailable())), Step::Report { path: JOB_RELEASE, .. }));
    assert_eq!(attempt.on(Answer::Reported(Err("unreachable".into()))), Step::Retry { delay_seconds: 10 });
    assert_eq!(world.deliver(&body(&job), 2, T0 + 10_000).last(), Some(&Step::Retry { delay_seconds: 51 }));
    assert_eq!(world.deliver(&body(&job), 3, T0 + 61_000).last(), Some(&Step::Ack));
    assert_eq!(world.accepted.len(), 1, "sent once, after the lease");
}

#[test]
fn a_job_held_on_its_last_delivery_goes_to_the_dead_letters_with_why() {
    let mut config = config();
    config.max_attempts = 2;
    let mut world = World::new(config);
    let job = job("bob", Channel::Email, "bob@example.com");
    world.ledger.claim(T0, &job.key, |_| false, None).unwrap();
    let steps = world.deliver(&body(&job), 2, T0 + 1000);
    let Step::Note(note) = &steps[1] else { panic!("{steps:?}") };
    assert_eq!((note.attempts, note.at), (2, T0 + 1000));
    assert!(note.reason.starts_with("another attempt held the job on its last delivery"), "{}", note.reason);
    assert_eq!(steps[2], Step::Retry { delay_seconds: 20 });
}

#[test]
fn an_sms_that_may_have_gone_out_is_never_sent_again_and_is_kept_with_why() {
    let mut world = World::new(config());
    world.provider_answers(vec![Err(Failure::ambiguous("the provider gave no answer within 10000 ms"))]);
    let sms = job("bob", Channel::Sms, "+15550100");
    let steps = world.deliver(&body(&sms), 1, T0);
    assert_eq!(steps[2], Step::Report { inbox: inbox("bob"), path: JOB_DONE, key: claimed(&sms, 1) });
    let Step::Keep(letter) = &steps[3] else { panic!("{steps:?}") };
    assert_eq!(
        letter.reason.as_deref(),
        Some(
            "the provider gave no answer within 10000 ms; the SMS may have been sent, so it is not sent again \
             (Twilio takes no idempotency key)"
        )
    );
    assert_eq!(steps[4], Step::Ack);
    // A copy of it comes later: the inbox says it is done.
    assert_eq!(world.deliver(&body(&sms), 1, T0 + 1000).last(), Some(&Step::Ack));
    assert_eq!((world.refused, world.accepted.len()), (1, 0));
    assert_eq!(world.dead_letters()["jobs"][0]["attempts"], 1);
    // An email through an API that honours the idempotency key is asked again.
    world.provider_answers(vec![Err(Failure::ambiguous("the provider answered 502: bad gateway"))]);
    let email = job("bob", Channel::Email, "bob@example.com");
    let steps = world.deliver(&body(&email), 1, T0);
    assert_eq!(steps[2], Step::Report { inbox: inbox("bob"), path: JOB_RELEASE, key: claimed(&email, 1) });
    assert_eq!(steps[3], Step::Retry { delay_seconds: 10 });
}

#[test]
fn a_job_past_its_notifications_ttl_is_acked_without_sending() {
    let mut world = World::new(config());
    let job = Job { expires_at: Some(T0 + 5000), ..job("bob", Channel::Email, "bob@example.com") };
    let steps = world.deliver(&body(&job), 3, T0 + 5000);
    let key = JobKey { expires_at: Some(T0 + 5000), ..key(&job) };
    assert_eq!(steps, vec![Step::Claim { inbox: inbox("bob"), key }, Step::Ack]);
    assert!(world.accepted.is_empty());
}

#[test]
fn a_provider_that_keeps_failing_ends_in_the_dead_letters_with_its_last_reason() {
    let mut config = config();
    config.max_attempts = 3;
    let mut world = World::new(config);
    world.provider_answers(vec![unavailable(), unavailable(), Err(Failure::retryable("no answer within 10 s"))]);
    let job = job("bob", Channel::Email, "bob@example.com");
    let ends: Vec<Step> = (1..=3).map(|n| world.deliver(&body(&job), n, T0 + i64::from(n)).pop().unwrap()).collect();
    // The last delivery notes why, then gives the message back for the queue to dead-letter.
    // (After the backoff, too: should the queue allow more deliveries, they do not come at
    // once.)
    assert_eq!(
        ends,
        vec![Step::Retry { delay_seconds: 10 }, Step::Retry { delay_seconds: 20 }, Step::Retry { delay_seconds: 40 }]
    );
    assert!(world.accepted.is_empty());
    assert_eq!(
        world.ledger.claim(T0 + 4, &job.key, |_| false, None).unwrap(),
        Claim::Go { claim: 4 },
        "every failed attempt released the job"
    );
    assert_eq!(world.dead_letters(), json!({ "jobs": [], "next": null }));
    world.keep_dead(&body(&job), T0 + 10);
    assert_eq!(
        world.dead_letters(),
        json!({ "jobs": [{
            "job": serde_json::to_value(&job).unwrap(),
            "attempts": 3,
            "reason": "no answer within 10 s",
            "at": T0 + 10,
        }], "next": null })
    );
}

#[test]
fn the_last_delivery_notes_its_reason_before_giving_the_message_back() {
    let mut config = config();
    config.max_attempts = 2;
    let mut world = World::new(config);
    world.provider_answers(vec![unavailable()]);
    let job = job("bob", Channel::Email, "bob@example.com");
    let steps = world.deliver(&body(&job), 2, T0);
    assert_eq!(
        steps[2..],
        [
            Step::Report { inbox: inbox("bob"), path: JOB_RELEASE, key: claimed(&job, 1) },
            Step::Note(ReasonNote {
                key: job.key.clone(),
                attempts: 2,
                reason: "the provider answered 503: busy".into(),
                at: T0
            }),
            Step::Retry { delay_seconds: 20 },
        ]
    );
}

#[test]
fn a_permanent_refusal_is_kept_at_once_and_acked() {
    let mut world = World::new(config());
    world.provider_answers(vec![Err(Failure::permanent("the provider answered 422: invalid `to`"))]);
    let job = job("bob", Channel::Email, "bob@example.com");
    let steps = world.deliver(&body(&job), 1, T0);
    assert_eq!(steps.len(), 5, "{steps:?}");
    assert_eq!(steps[2], Step::Report { inbox: inbox("bob"), path: JOB_RELEASE, key: claimed(&job, 1) });
    assert_eq!(
        steps[3],
        Step::Keep(DeadLetter {
            key: job.key.clone(),
            job: serde_json::to_value(&job).unwrap(),
            attempts: Some(1),
            reason: Some("the provider answered 422: invalid `to`".into()),
            at: T0,
        })
    );
    assert_eq!(steps[4], Step::Ack);
    assert_eq!(world.dead_letters()["jobs"][0]["attempts"], 1);
}

#[test]
fn a_job_no_attempt_could_send_is_claimed_released_and_kept() {
    let mut no_key = config();
    no_key.email.api_key = None;
    let mut world = World::new(no_key);
    let job = job("bob", Channel::Email, "bob@example.com");
    let steps = world.deliver(&body(&job), 1, T0);
    assert_eq!(steps[0], Step::Claim { inbox: inbox("bob"), key: key(&job) });
    assert_eq!(steps[1], Step::Report { inbox: inbox("bob"), path: JOB_RELEASE, key: claimed(&job, 1) });
    assert!(matches!(&steps[2], Step::Keep(letter) if letter.reason.as_deref() == Some("EMAIL_API_KEY is not set")));
    assert_eq!(steps[3], Step::Ack);
    assert_eq!(world.ledger.claim(T0, &job.key, |_| false, None).unwrap(), Claim::Go { claim: 2 }, "released");
    assert!(world.accepted.is_empty());
}

#[test]
fn a_job_sent_before_is_never_a_dead_letter() {
    let mut world = World::new(config());
    let job = job("bob", Channel::Email, "bob@example.com");
    assert_eq!(world.deliver(&body(&job), 1, T0).last(), Some(&Step::Ack));
    // Redelivered after the API key was removed: the inbox says it was sent.
    world.config.email.api_key = None;
    let steps = world.deliver(&body(&job), 1, T0);
    assert_eq!(steps, vec![Step::Claim { inbox: inbox("bob"), key: key(&job) }, Step::Ack]);
    assert_eq!(world.dead_letters()["jobs"], json!([]));
}

#[test]
fn a_body_that_is_not_a_job_is_kept_under_its_message_id() {
    let mut world = World::new(config());
    let steps = world.deliver(r#"{"hello":"world"}"#, 1, T0);
    let Step::Keep(letter) = &steps[0] else { panic!("{steps:?}") };
    assert_eq!(letter.key, "message:msg-1");
    assert_eq!(letter.job, json!({ "hello": "world" }));
    assert!(letter.reason.as_deref().unwrap().starts_with("the message is not a job: missing field"), "{letter:?}");
    assert_eq!(steps[1], Step::Ack);
}

#[test]
fn an_inbox_that_cannot_be_reached_fails_the_attempt_like_a_provider() {
    let mut world = World::new(config());
    world.reachable = false;
    let job = job("bob", Channel::Email, "bob@example.com");
    let steps = world.deliver(&body(&job), 2, T0);
    assert_eq!(steps, vec![Step::Claim { inbox: inbox("bob"), key: key(&job) }, Step::Retry { delay_seconds: 20 }]);
}

#[test]
fn a_dead_letter_that_cannot_be_kept_stays_in_the_queue() {
    let mut world = World::new(config());
    world.reachable = false;
    let steps = world.deliver("[1, 2]", 3, T0);
    assert_eq!(steps.last(), Some(&Step::Retry { delay_seconds: 40 }));
}

#[test]
fn a_sent_job_is_acked_even_when_its_report_is_lost() {
    let job = job("bob", Channel::Email, "bob@example.com");
    let (mut attempt, step) = Attempt::start(&body(&job), "m", 1, &config(), T0, &[0; 48]);
    assert!(matches!(step, Step::Claim { .. }));
    let go = JobClaim { go: true, claim: Some(1), held_until_ms: None };
    assert!(matches!(attempt.on(Answer::Claimed(Ok(go))), Step::Send(_)));
    assert!(matches!(attempt.on(Answer::Sent(Ok(()))), Step::Report { path: JOB_DONE, .. }));
    assert_eq!(attempt.on(Answer::Reported(Err("inbox unreachable".into()))), Step::Ack);
}

#[test]
fn retry_delays_double_from_the_base_and_are_capped() {
    assert_eq!((1..=5).map(|n| retry_delay_seconds(n, 10)).collect::<Vec<_>>(), vec![10, 20, 40, 80, 160]);
    assert_eq!(retry_delay_seconds(3, 0), 0);
    assert_eq!(retry_delay_seconds(40, 3600), RETRY_DELAY_MAX_SECONDS);
    assert_eq!(retry_delay_seconds(0, 10), 10);
}

fn letter(key: &str, at: i64) -> DeadLetter {
    DeadLetter { key: key.into(), job: json!({ "key": key }), attempts: None, reason: None, at }
}

#[test]
fn the_dead_letter_list_is_newest_first_in_pages_with_a_cursor() {
    let store = DeadLetters::open(Sqlite::in_memory()).unwrap();
    for n in 1..=5 {
        store.keep(&letter(&format!("k{n}"), T0 + n), 5).unwrap();
    }
    let page = |limit: &str, cursor: Option<&str>| -> Value {
        serde_json::from_str(&store.page(ListQuery::parse(Some(limit), cursor).unwrap()).unwrap()).unwrap()
    };
    let keys = |page: &Value| -> Vec<String> {
        page["jobs"].as_array().unwrap().iter().map(|j| j["job"]["key"].as_str().unwrap().to_owned()).collect()
    };
    let first = page("2", None);
    assert_eq!(keys(&first), ["k5", "k4"]);
    assert_eq!(first["jobs"][0], json!({ "job": { "key": "k5" }, "attempts": 5, "at": T0 + 5 }));
    let second = page("2", first["next"].as_str());
    assert_eq!(keys(&second), ["k3", "k2"]);
    let last = page("2", second["next"].as_str());
    assert_eq!(keys(&last), ["k1"]);
    assert_eq!(last["next"], Value::Null);
}

#[test]
fn a_kept_job_takes_up_its_note_and_a_job_kept_again_becomes_the_newest() {
    let sqlite = Sqlite::in_memory();
    let store = DeadLetters::open(sqlite.clone()).unwrap();
    store.note(&ReasonNote { key: "k1".into(), attempts: 4, reason: "503".into(), at: T0 }).unwrap();
    store.keep(&letter("k1", T0 + 1), 5).unwrap();
    store.keep(&letter("k2", T0 + 2), 5).unwrap();
    assert_eq!(sqlite.count("dead_letter_notes"), 0, "the note was taken up");
    store.keep(&letter("k1", T0 + 3), 5).unwrap();
    let page: Value = serde_json::from_str(&store.page(ListQuery::parse(None, None).unwrap()).unwrap()).unwrap();
    assert_eq!(
        page["jobs"],
        json!([
            { "job": { "key": "k1" }, "attempts": 5, "at": T0 + 3 },
            { "job": { "key": "k2" }, "attempts": 5, "at": T0 + 2 },
        ])
    );
}

#[test]
fn only_the_newest_dead_letters_are_kept() {
    let sqlite = Sqlite::in_memory();
    let store = DeadLetters::open(sqlite.clone()).unwrap();
    for n in 0..KEPT_MAX + 3 {
        store.keep(&letter(&format!("k{n}"), T0 + n), 5).unwrap();
    }
    assert_eq!(sqlite.count("dead_letters"), KEPT_MAX);
    let oldest: Value = serde_json::from_str(&store.page(ListQuery { limit: 1, before: Some(4) }).unwrap()).unwrap();
    assert_eq!(oldest["jobs"], json!([]), "k0..k2 were dropped");
}
