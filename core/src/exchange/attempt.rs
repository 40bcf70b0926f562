//! One delivery of a fallback queue message to its consumer, as steps (pure): the consumer
//! (`src/fallback.rs`) performs each [`Step`] and hands its outcome back as an [`Answer`],
//! until the step is to acknowledge the message or to retry it.
//!
//! ```text
//! body ─ not a job (or a user without an inbox) ─────────────────▶ Keep ─▶ Ack
//!   └─▶ Claim at the job's inbox ─ already sent, or held ─────────▶ Ack
//!         └─ go ─▶ Send ─ sent ─▶ Report done ────────────────────▶ Ack
//!               │     └─ failed ─▶ Report release ─┬─ permanent ─▶ Keep ─▶ Ack
//!               │                                  ├─ attempts left ────▶ Retry after backoff
//!               │                                  └─ the last one ─▶ Note ─▶ Retry (the queue
//!               │                                     moves it to the dead-letter queue)
//!               └─ no attempt could send it ─▶ Report release ─▶ Keep ─▶ Ack
//! ```
//!
//! Even a job no attempt could send (a missing secret, a refused address) is claimed first: a
//! job that was sent before is never a dead letter. A claim that cannot be made is a failure
//! like a provider's. The claim is what makes a
//! retried or redelivered job send at most once: the inbox answers `go: false` once the job
//! was sent (or while another delivery holds it). Every attempt of a job makes the same
//! request, with the job's key as the provider's idempotency key where it takes one, so a send
//! whose report was lost is not repeated by providers that honour it either.

use super::dead_letters::{DeadLetter, ReasonNote};
use super::providers::{self, Failure, Outbound};
use super::{inbox_of, Job};
use crate::config::Fallback;
use crate::ids::RoomId;
use crate::internal::{JobKey, JOB_DONE, JOB_RELEASE};

/// The longest delay a retry may ask for: 12 hours, the most Cloudflare Queues accept.
pub const RETRY_DELAY_MAX_SECONDS: u32 = 12 * 3600;

/// What the consumer does next.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// Ask the inbox whether to send the job (`JOB_CLAIM` on `inbox`'s object).
    Claim { inbox: RoomId, key: JobKey },
    /// Send it through the provider.
    Send(Outbound),
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
    /// The inbox's answer: whether to send.
    Claimed(Result<bool, String>),
    Sent(Result<(), Failure>),
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
    Sending {
        job: Job,
        inbox: RoomId,
    },
    Reporting {
        job: Job,
        failure: Option<Failure>,
    },
    Noting,
    Keeping,
    Finished,
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
    pub fn start(body: &str, message_id: &str, attempts: u32, config: &Fallback, now: i64) -> (Self, Step) {
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
        let key = JobKey { key: job.key.clone() };
        let outbound = providers::outbound(&job, config, now);
        attempt.state = State::Claiming { job, inbox: inbox.clone(), outbound };
        (attempt, Step::Claim { inbox, key })
    }

    /// The next step, given the outcome of the last one.
    pub fn on(&mut self, answer: Answer) -> Step {
        match (std::mem::replace(&mut self.state, State::Finished), answer) {
            (State::Claiming { job, inbox, outbound: Ok(outbound) }, Answer::Claimed(Ok(true))) => {
                self.state = State::Sending { job, inbox };
                Step::Send(outbound)
            }
            (State::Claiming { job, inbox, outbound: Err(failure) }, Answer::Claimed(Ok(true))) => {
                self.report(job, inbox, Err(failure))
            }
            // Sent already, or another delivery of it is under way.
            (State::Claiming { .. }, Answer::Claimed(Ok(false))) => Step::Ack,
            (State::Claiming { job, .. }, Answer::Claimed(Err(e))) => {
                self.after_failure(job, Failure::retryable(format!("the inbox could not be asked: {e}")))
            }
            (State::Sending { job, inbox }, Answer::Sent(result)) => self.report(job, inbox, result),
            // Whether or not the inbox heard it: a sent job is done (sending it again would be
            // worse than a ledger that missed one report), and a failed one goes on failing.
            (State::Reporting { failure: None, .. }, Answer::Reported(_)) => Step::Ack,
            (State::Reporting { job, failure: Some(failure) }, Answer::Reported(_)) => self.after_failure(job, failure),
            (State::Noting, Answer::Noted(_)) => Step::Retry { delay_seconds: 0 },
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

    /// Tells the inbox whether the job was sent.
    fn report(&mut self, job: Job, inbox: RoomId, result: Result<(), Failure>) -> Step {
        let key = JobKey { key: job.key.clone() };
        let path = if result.is_ok() { JOB_DONE } else { JOB_RELEASE };
        self.state = State::Reporting { job, failure: result.err() };
        Step::Report { inbox, path, key }
    }

    fn after_failure(&mut self, job: Job, failure: Failure) -> Step {
        if failure.permanent {
            return self.keep(DeadLetter::of_job(&job, self.now), failure.reason);
        }
        if self.attempts < self.max_attempts {
            return Step::Retry { delay_seconds: self.backoff() };
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
