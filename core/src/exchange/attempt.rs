//! One delivery of a fallback queue message to its consumer, as steps (pure): the consumer
//! (`delivery/src/fallback.rs`) performs each [`Step`] and hands its outcome back as an [`Answer`],
//! until the step is to acknowledge the message or to retry it.
//!
//! ```text
//! body ─ not a job (or a user without an inbox) ───────────────────▶ Keep ─▶ Ack
//!   └─▶ Claim at the job's inbox ─ finished (sent, or skipped) ─────▶ Ack
//!         ├─ held by another attempt until T ─▶ Retry after T (the last delivery: Note ─▶ Retry)
//!         └─ go ─▶ Send ─ sent ─▶ Report done ─────────────────────▶ Ack
//!               │     ├─ an SMS that may have gone out ─▶ Report done ─▶ Keep ─▶ Ack
//!               │     └─ failed ─▶ Report release ─┬─ permanent ─▶ Keep ─▶ Ack
//!               │                                  ├─ attempts left ────▶ Retry after backoff
//!               │                                  └─ the last one ─▶ Note ─▶ Retry after backoff
//!               │                                     (the queue moves it to the dead-letter queue)
//!               └─ no attempt could send it ─▶ Report release ─▶ Keep ─▶ Ack
//! ```
//!
//! A push's send is answered with its provider's verdict (`push/answers.rs`), and a device
//! that is gone takes two more steps:
//!
//! ```text
//! Send (push) ─ accepted ─▶ Report done ─▶ Ack
//!   ├─ retry (Retry-After) ─▶ Report release ─▶ Retry after the longer of Retry-After and the backoff
//!   ├─ credentials / payload ─▶ Report release ─▶ Keep ─▶ Ack          (no device is deleted)
//!   └─ gone ─▶ Breaker ─ believed ─▶ Forget (compare-and-delete) ─▶ Report done ─▶ Ack
//!                └─ tripped (too many gone at once) ─▶ Report release ─▶ Keep ─▶ Ack
//! ```
//!
//! Each report of a push carries the provider's answer, which the inbox keeps with the device.
//!
//! The claim is what makes a retried or redelivered job send at most once (`ledger.rs`). It
//! answers one of three things, and only two of them end the message: *finished* (the job was
//! sent, or is skipped: read since, or past its ttl) acks it; *held* (another attempt's lease
//! runs until T: that attempt may be sending it, or may have died, or its answer or its release
//! may have been lost) retries it after T, when the next claim tells which; *go* sends it. A
//! claim that cannot be made is a failure like a provider's.
//!
//! Even a job no attempt could send (a missing secret, a refused address) is claimed first: a
//! job that was sent before is never a dead letter. Every attempt of a job makes the same
//! request, with the job's key as the provider's idempotency key where it takes one, so a send
//! whose answer or report was lost is not repeated by providers that honour it. Twilio takes no
//! such key: an SMS whose answer leaves open whether it went out (no answer in time, a 500, 502
//! or 504) is reported done and kept in the dead letters with why, never sent again.

use super::dead_letters::{DeadLetter, ReasonNote};
use super::inbox::{DeviceOutcome, ForgetDevice, Outcome};
use super::providers::{self, Failure, Outbound};
use super::push::answers::{Provider, Verdict};
use super::push::outbound::provider_of;
use super::{inbox_of, Channel, Job};
use crate::exchange::settings::Fallback;
use crate::exchange::wire::{JobClaim, JobKey, JOB_DONE, JOB_RELEASE};
use crate::ids::RoomId;

/// The longest delay a retry may ask for: 12 hours, the most Cloudflare Queues accept.
pub const RETRY_DELAY_MAX_SECONDS: u32 = 12 * 3600;

/// What the consumer does next.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// Ask the inbox whether to send the job (`JOB_CLAIM` on `inbox`'s object).
    Claim { inbox: RoomId, key: JobKey },
    /// Send it through the provider: answered [`Answer::Sent`], or [`Answer::Pushed`] for a push.
    Send(Outbound),
    /// A push provider said the device is gone: ask the provider's breaker (`push/breaker.rs`,
    /// in the dead-letter store) whether that may be believed, counting `accepted` answers
    /// this consumer saw from that provider since it last asked.
    Breaker { provider: Provider },
    /// Delete the device from the inbox, if it is still the one the job was for and was not
    /// subscribed again since the provider learnt it was gone (compare-and-delete).
    Forget { inbox: RoomId, forget: ForgetDevice },
    /// Tell the inbox the job was sent (`JOB_DONE`) or not (`JOB_RELEASE`).
    Report { inbox: RoomId, path: &'static str, key: JobKey },
    /// Record why the last attempt failed, for the dead-letter queue's consumer.
    Note(ReasonNote),
    /// Keep the job in the dead letters now: no attempt could send it.
    Keep(DeadLetter),
    /// Acknowledge the message: done with it.
    Ack,
    /// Give the message back to the queue, to come again after `delay_seconds`.
    Retry { delay_seconds: u32 },
}

/// The outcome of the last step.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// The inbox's answer: whether to send, or why not.
    Claimed(Result<JobClaim, String>),
    Sent(Result<(), Failure>),
    /// A push provider's answer, judged.
    Pushed(Verdict),
    /// The breaker: `Ok(true)` when that provider's "gone" answers are too many to believe.
    Breaker(Result<bool, String>),
    /// Whether the device was deleted.
    Forgot(Result<bool, String>),
    Reported(Result<(), String>),
    Noted(Result<(), String>),
    Kept(Result<(), String>),
}

#[derive(Debug)]
enum State {
    /// `outbound` is what sending takes, or why no attempt could send it.
    Claiming {
        job: Job,
        inbox: RoomId,
        outbound: Result<Outbound, Failure>,
    },
    /// `claim` is the claim's number, which the report presents.
    Sending {
        job: Job,
        inbox: RoomId,
        claim: Option<u64>,
    },
    /// A push's device is gone (since the provider's time, when it says).
    Gone {
        job: Job,
        inbox: RoomId,
        claim: Option<u64>,
        since_ms: Option<i64>,
        reason: String,
    },
    Reporting {
        job: Job,
        then: AfterReport,
    },
    Noting,
    Keeping,
    Finished,
}

/// What follows the report to the inbox.
#[derive(Debug)]
enum AfterReport {
    /// Sent: done with it.
    Ack,
    /// Not sent: retry, or give up.
    Failed(Failure),
    /// Not to be sent again, though it may have gone out: keep it in the dead letters with why.
    Keep(String),
}

/// One delivery of one message.
#[derive(Debug)]
pub struct Attempt {
    state: State,
    /// Which delivery of the message this is, from 1.
    attempts: u32,
    max_attempts: u32,
    retry_base_seconds: u32,
    now: i64,
}

impl Attempt {
    /// Starts on a message: its body as JSON text, its queue id (which names a body that is
    /// not a job), which delivery this is (from 1), at `now`.
    pub fn start(
        body: &str,
        message_id: &str,
        attempts: u32,
        config: &Fallback,
        now: i64,
        entropy: &[u8; 48],
    ) -> (Self, Step) {
        let mut attempt = Self {
            state: State::Finished,
            attempts: attempts.max(1),
            max_attempts: config.max_attempts,
            retry_base_seconds: config.retry_base_seconds,
            now,
        };
        let job = match serde_json::from_str::<Job>(body) {
            Ok(job) => job,
            Err(e) => {
                let letter = DeadLetter::of_body(format!("message:{message_id}"), body, now);
                let step = attempt.keep(letter, format!("the message is not a job: {e}"));
                return (attempt, step);
            }
        };
        let Some(inbox) = inbox_of(&job.user) else {
            let reason = format!("user {:?} has no inbox", job.user.as_str());
            let step = attempt.keep(DeadLetter::of_job(&job, now), reason);
            return (attempt, step);
        };
        let key = JobKey { key: job.key.clone(), expires_at: job.expires_at, claim: None, outcome: None };
        let outbound = providers::outbound(&job, config, now, entropy);
        attempt.state = State::Claiming { job, inbox: inbox.clone(), outbound };
        (attempt, Step::Claim { inbox, key })
    }

    /// The next step, given the outcome of the last one.
    pub fn on(&mut self, answer: Answer) -> Step {
        match (std::mem::replace(&mut self.state, State::Finished), answer) {
            (State::Claiming { job, inbox, outbound }, Answer::Claimed(Ok(claim))) => match claim {
                JobClaim { go: true, claim, .. } => match outbound {
                    Ok(outbound) => {
                        self.state = State::Sending { job, inbox, claim };
                        Step::Send(outbound)
                    }
                    Err(failure) => self.report(job, inbox, claim, Err(failure)),
                },
                JobClaim { held_until_ms: Some(until), .. } => self.held(job, until),
                // Sent, or skipped: nothing will ever send it.
                JobClaim { .. } => Step::Ack,
            },
            (State::Claiming { job, .. }, Answer::Claimed(Err(e))) => {
                self.after_failure(job, Failure::retryable(format!("the inbox could not be asked: {e}")))
            }
            (State::Sending { job, inbox, claim }, Answer::Sent(result)) => self.report(job, inbox, claim, result),
            (State::Sending { job, inbox, claim }, Answer::Pushed(verdict)) => match verdict {
                Verdict::Accepted => {
                    self.report_outcome(job, inbox, claim, JOB_DONE, AfterReport::Ack, (Outcome::Accepted, None))
                }
                Verdict::Gone { reason, since_ms } => {
                    let provider = job.push.as_ref().map_or(Provider::WebPush, |p| provider_of(&p.device));
                    self.state = State::Gone { job, inbox, claim, since_ms, reason };
                    Step::Breaker { provider }
                }
                Verdict::Retry { after_seconds, reason } => {
                    let outcome = (Outcome::Retry, Some(reason.clone()));
                    let failure = Failure { after_seconds, ..Failure::retryable(reason) };
                    self.report_outcome(job, inbox, claim, JOB_RELEASE, AfterReport::Failed(failure), outcome)
                }
                // Never a reason to delete a device: our credentials or our payload are wrong, and
                // every attempt would meet the same answer until an operator fixes them.
                Verdict::Credentials { reason, .. } => {
                    let reason = format!("{reason} (our push credentials or configuration; no device was deleted)");
                    let outcome = (Outcome::Credentials, Some(reason.clone()));
                    let then = AfterReport::Failed(Failure::permanent(reason));
                    self.report_outcome(job, inbox, claim, JOB_RELEASE, then, outcome)
                }
                Verdict::Payload { reason } => {
                    let outcome = (Outcome::Payload, Some(reason.clone()));
                    let then = AfterReport::Failed(Failure::permanent(reason));
                    self.report_outcome(job, inbox, claim, JOB_RELEASE, then, outcome)
                }
            },
            (State::Gone { job, inbox, claim, since_ms, reason }, Answer::Breaker(tripped)) => match tripped {
                Ok(false) => {
                    let forget = ForgetDevice {
                        device: job.push.as_ref().map(|p| p.device.clone()).expect("only a push is gone"),
                        gone_since_ms: since_ms,
                    };
                    self.state = State::Gone { job, inbox: inbox.clone(), claim, since_ms, reason };
                    Step::Forget { inbox, forget }
                }
                Ok(true) => {
                    let reason = format!(
                        "{reason}; not believed: so many of this provider's devices are gone at once that its \
                         configuration is suspect (the push breaker), so no device was deleted"
                    );
                    let outcome = (Outcome::Credentials, Some(reason.clone()));
                    let then = AfterReport::Failed(Failure::permanent(reason));
                    self.report_outcome(job, inbox, claim, JOB_RELEASE, then, outcome)
                }
                Err(e) => {
                    let reason = format!("{reason}; the push breaker could not be asked ({e}): tried again later");
                    self.report(job, inbox, claim, Err(Failure::retryable(reason)))
                }
            },
            // Deleted or not (re-subscribed since, or the call failed and the next push finds it
            // gone again), this job is finished: its device cannot take it.
            (State::Gone { job, inbox, claim, reason, .. }, Answer::Forgot(_)) => {
                self.report_outcome(job, inbox, claim, JOB_DONE, AfterReport::Ack, (Outcome::Gone, Some(reason)))
            }
            // Whether or not the inbox heard it: a sent job is done (sending it again would be
            // worse than a ledger that missed one report), and a failed one goes on failing.
            (State::Reporting { job, then }, Answer::Reported(_)) => match then {
                AfterReport::Ack => Step::Ack,
                AfterReport::Failed(failure) => self.after_failure(job, failure),
                AfterReport::Keep(reason) => self.keep(DeadLetter::of_job(&job, self.now), reason),
            },
            // The queue moves the message to the dead-letter queue when this was its last
            // delivery; should `max_retries` allow more, they still come apart.
            (State::Noting, Answer::Noted(_)) => Step::Retry { delay_seconds: self.backoff() },
            (State::Keeping, Answer::Kept(Ok(()))) => Step::Ack,
            // Not kept: the message stays in the queue, to be kept by a later delivery or by
            // the dead-letter queue's consumer.
            (State::Keeping, Answer::Kept(Err(_))) => Step::Retry { delay_seconds: self.backoff() },
            (state, answer) => {
                debug_assert!(false, "{answer:?} does not answer the step of {state:?}");
                Step::Retry { delay_seconds: self.backoff() }
            }
        }
    }

    /// Tells the inbox how the send went, presenting the claim's number.
    fn report(&mut self, job: Job, inbox: RoomId, claim: Option<u64>, result: Result<(), Failure>) -> Step {
        // (A push that could not even be made: its provider is off or its keys unusable.)
        let outcome = match &result {
            Ok(()) => (Outcome::Accepted, None),
            Err(f) if f.permanent => (Outcome::Credentials, Some(f.reason.clone())),
            Err(f) => (Outcome::Retry, Some(f.reason.clone())),
        };
        let (path, then) = match result {
            Ok(()) => (JOB_DONE, AfterReport::Ack),
            // Twilio takes no idempotency key: an SMS that went out would go out again. It is
            // done for the ledger (no other attempt sends it), and kept for an admin to check.
            Err(failure) if failure.maybe_sent && job.channel == Channel::Sms => {
                let reason = format!(
                    "{}; the SMS may have been sent, so it is not sent again (Twilio takes no idempotency key)",
                    failure.reason
                );
                (JOB_DONE, AfterReport::Keep(reason))
            }
            Err(failure) => (JOB_RELEASE, AfterReport::Failed(failure)),
        };
        self.report_outcome(job, inbox, claim, path, then, outcome)
    }

    /// The report, with a push's outcome for its device (kept for support).
    fn report_outcome(
        &mut self,
        job: Job,
        inbox: RoomId,
        claim: Option<u64>,
        path: &'static str,
        then: AfterReport,
        (outcome, reason): (Outcome, Option<String>),
    ) -> Step {
        let outcome = job.push.as_ref().map(|push| DeviceOutcome {
            id: push.device.id().to_owned(),
            at: self.now,
            outcome,
            reason,
        });
        let key = JobKey { key: job.key.clone(), expires_at: None, claim, outcome };
        self.state = State::Reporting { job, then };
        Step::Report { inbox, path, key }
    }

    /// Another attempt holds the job until `until`: it may be sending it, or it died, or the
    /// answer to its claim or its release was lost. The claim after `until` tells which, so the
    /// message comes again then; on the last delivery, it goes to the dead letters with why.
    fn held(&mut self, job: Job, until: i64) -> Step {
        if self.attempts < self.max_attempts {
            let wait_ms = until.saturating_sub(self.now).max(0);
            // Rounded up, and one second more: the lease has run out when the message comes.
            let seconds = u32::try_from(wait_ms.saturating_add(999) / 1000 + 1).unwrap_or(u32::MAX);
            return Step::Retry { delay_seconds: seconds.min(RETRY_DELAY_MAX_SECONDS) };
        }
        self.state = State::Noting;
        let reason = format!(
            "another attempt held the job on its last delivery (until {until} ms since the epoch); that attempt may have sent it"
        );
        Step::Note(ReasonNote { key: job.key, attempts: self.attempts, reason, at: self.now })
    }

    fn after_failure(&mut self, job: Job, failure: Failure) -> Step {
        if failure.permanent {
            return self.keep(DeadLetter::of_job(&job, self.now), failure.reason);
        }
        // A provider's Retry-After is honoured when it asks for longer than the backoff.
        let delay_seconds = failure
            .after_seconds
            .map_or(self.backoff(), |after| self.backoff().max(after.min(RETRY_DELAY_MAX_SECONDS)));
        if self.attempts < self.max_attempts {
            return Step::Retry { delay_seconds };
        }
        self.state = State::Noting;
        Step::Note(ReasonNote { key: job.key, attempts: self.attempts, reason: failure.reason, at: self.now })
    }

    /// Keeps the job in the dead letters now, with why and after how many deliveries.
    fn keep(&mut self, letter: DeadLetter, reason: String) -> Step {
        self.state = State::Keeping;
        Step::Keep(DeadLetter { attempts: Some(self.attempts), reason: Some(reason), ..letter })
    }

    /// The delay before the next delivery: the base, doubled for each delivery before this one.
    fn backoff(&self) -> u32 {
        retry_delay_seconds(self.attempts, self.retry_base_seconds)
    }
}

/// The delay after failed delivery number `attempts` (from 1): `base * 2^(attempts - 1)`, at
/// most [`RETRY_DELAY_MAX_SECONDS`].
pub fn retry_delay_seconds(attempts: u32, base: u32) -> u32 {
    let doublings = attempts.saturating_sub(1).min(31);
    base.saturating_mul(1u32 << doublings).min(RETRY_DELAY_MAX_SECONDS)
}
