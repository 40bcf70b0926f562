//! The fallback queues' consumers (docs/notifications.md, "Urgency and fallback").
//!
//! [`consume`] (`herald-fallback`): each message is one email, SMS or push job. The core
//! ([`Attempt`]) says what to do, step by step; this file performs each step — the job calls
//! on the job's inbox ([`internal::JOB_CLAIM`], `JOB_DONE`, `JOB_RELEASE`, and for a device a
//! push provider says is gone, `INBOX_DEVICES_FORGET`), the provider ([`crate::providers`],
//! [`crate::push`]), the push breaker and the dead-letter store — and finally acks the message or gives it
//! back with a delay. After its attempts the platform moves it to the dead-letter queue.
//!
//! [`keep_dead`] (`herald-fallback-dead`): each message is kept in the dead-letter store
//! (`deadletters:main`), where the Worker's admin list (`GET /api/v1/admin/dead-letters`) reads it.
//!
//! The messages of a batch are handled at once, each on its own; none waits for another.

use crate::{providers, push, settings, Delivered};
use futures_util::future::join_all;
use herald_core::config::Fallback;
use herald_core::error::Error;
use herald_core::exchange::attempt::{Answer, Attempt, Step};
use herald_core::exchange::dead_letters::DeadLetter;
use herald_core::exchange::inbox::Deleted;
use herald_core::exchange::providers::Outbound;
use herald_core::exchange::push::answers::Verdict;
use herald_core::ids::RoomId;
use herald_core::internal::{self, JobClaim, JobKey, DEAD_LETTERS, DEAD_LETTERS_OBJECT, DEAD_LETTER_NOTES};
use herald_core::internal::{BreakerAnswer, GoneReport, INBOX_DEVICES_FORGET, PUSH_BREAKER};
use herald_platform::{boxed, now_ms, post_to_object};
use serde::de::DeserializeOwned;
use serde::Serialize;
use worker::{js_sys, Env, MessageExt, QueueRetryOptionsBuilder, RawMessage, RawMessageIter, Result};

/// The delay before jobs come again when the configuration cannot be read. Each time counts
/// as one of a job's attempts (`FALLBACK_MAX_ATTEMPTS`, the queue's `max_retries` + 1): a
/// quarter of an hour between them gives whoever fixes the configuration about an hour with
/// the default before the jobs become dead letters.
const CONFIG_RETRY_SECONDS: u32 = 900;

pub async fn consume(messages: Vec<Delivered>, env: &Env) -> Result<()> {
    let settings = match settings(env) {
        Ok(settings) => settings,
        // Nothing can be sent until the configuration is fixed; the queue keeps the jobs, and
        // tries them again later (each try counts an attempt).
        Err(e) => {
            worker::console_error!("fallback jobs retried in {CONFIG_RETRY_SECONDS} s: {e}");
            let options = QueueRetryOptionsBuilder::new().with_delay_seconds(CONFIG_RETRY_SECONDS).build();
            messages.iter().for_each(|m| m.message.retry_with_options(&options));
            return Ok(());
        }
    };
    join_all(messages.iter().map(|delivered| deliver(delivered, env, settings))).await;
    Ok(())
}

/// One message, from its first step to its ack or retry.
async fn deliver(delivered: &Delivered, env: &Env, settings: &Fallback) {
    let Delivered { message, attempts } = delivered;
    let entropy = crate::push::random_bytes::<48>();
    let (mut attempt, mut step) =
        Attempt::start(&body_text(message), &message.id(), *attempts, settings, now_ms(), &entropy);
    let name = format!("fallback message {} (delivery {attempts})", message.id());
    loop {
        let answer = match step {
            Step::Claim { inbox, key } => {
                let claimed = claim(env, &inbox, &key).await;
                if let Err(e) = &claimed {
                    worker::console_error!("{name}: no claim on {}: {e}", key.key);
                }
                Answer::Claimed(claimed)
            }
            Step::Send(Outbound::Push(request)) => {
                let verdict = boxed(push::send(&request, &settings.push, settings.send_timeout_ms)).await;
                if verdict != Verdict::Accepted {
                    worker::console_error!("{name}: {} answered: {verdict:?}", request.provider.as_str());
                }
                Answer::Pushed(verdict)
            }
            Step::Breaker { provider } => {
                let window_ms = settings.push.breaker.window_ms;
                let accepted = push::take_accepted(provider, now_ms(), window_ms);
                let report = GoneReport { provider: provider.as_str().into(), accepted, gone: 1 };
                let answer = call(env, DEAD_LETTERS_OBJECT, PUSH_BREAKER, json(&report)).await;
                Answer::Breaker(logged(
                    &name,
                    read(DEAD_LETTERS_OBJECT, PUSH_BREAKER, answer).map(|a: BreakerAnswer| a.tripped),
                ))
            }
            Step::Forget { inbox, forget } => {
                let object = inbox.object_name();
                let answer = call(env, &object, INBOX_DEVICES_FORGET, json(&forget)).await;
                Answer::Forgot(logged(&name, read(&object, INBOX_DEVICES_FORGET, answer).map(|a: Deleted| a.deleted)))
            }
            Step::Send(outbound) => {
                let sent = boxed(providers::send(env, &outbound, settings.send_timeout_ms)).await;
                if let Err(failure) = &sent {
                    worker::console_error!("{name}: not sent: {}", failure.reason);
                }
                Answer::Sent(sent)
            }
            Step::Report { inbox, path, key } => {
                Answer::Reported(logged(&name, post(env, &inbox.object_name(), path, json(&key)).await))
            }
            Step::Note(note) => {
                Answer::Noted(logged(&name, post(env, DEAD_LETTERS_OBJECT, DEAD_LETTER_NOTES, json(&note)).await))
            }
            Step::Keep(letter) => {
                worker::console_error!("{name}: to the dead letters: {}", letter.reason.as_deref().unwrap_or("?"));
                Answer::Kept(logged(&name, post(env, DEAD_LETTERS_OBJECT, DEAD_LETTERS, json(&letter)).await))
            }
            Step::Ack => return message.ack(),
            Step::Retry { delay_seconds } => {
                let options = QueueRetryOptionsBuilder::new().with_delay_seconds(delay_seconds).build();
                return message.retry_with_options(&options);
            }
        };
        step = attempt.on(answer);
    }
}

pub async fn keep_dead(messages: RawMessageIter, env: &Env) -> Result<()> {
    let now = now_ms();
    let keeps = messages.map(|message| async move {
        let letter = DeadLetter::of_message(&body_text(&message), &message.id(), now);
        match post(env, DEAD_LETTERS_OBJECT, DEAD_LETTERS, json(&letter)).await {
            Ok(()) => message.ack(),
            // The dead-letter queue tries it again (its own max_retries).
            Err(e) => {
                worker::console_error!("dead letter {} not kept: {e}", letter.key);
                message.retry();
            }
        }
    });
    join_all(keeps).await;
    Ok(())
}

// The calls to objects go through the non-generic `call` and `post`, the bodies and answers
// turned to and from JSON text before and after: one copy of each call's state machine in the
// wasm, not one per body type.

/// Whether the job's inbox lets this delivery send it, and if not, why.
async fn claim(env: &Env, inbox: &RoomId, key: &JobKey) -> std::result::Result<JobClaim, String> {
    let answer = call(env, &inbox.object_name(), internal::JOB_CLAIM, json(key)).await?;
    serde_json::from_str(&answer).map_err(|e| format!("{inbox} answered a claim with {answer:?}: {e}"))
}

/// An internal call with a JSON body: the answer's text.
async fn call(env: &Env, object: &str, path: &str, body: String) -> std::result::Result<String, String> {
    post_to_object(env, object, path, body).await.map_err(|e: Error| e.message)
}

async fn post(env: &Env, object: &str, path: &str, body: String) -> std::result::Result<(), String> {
    call(env, object, path, body).await.map(drop)
}

fn json<T: Serialize>(body: &T) -> String {
    serde_json::to_string(body).expect("internal bodies serialize")
}

/// The answer of `object` to `path`, read as JSON of type `A`.
fn read<A: DeserializeOwned>(
    object: &str,
    path: &str,
    answer: std::result::Result<String, String>,
) -> std::result::Result<A, String> {
    let answer = answer?;
    serde_json::from_str(&answer).map_err(|e| format!("{object} answered {path} with {answer:?}: {e}"))
}

fn logged<T>(name: &str, result: std::result::Result<T, String>) -> std::result::Result<T, String> {
    if let Err(e) = &result {
        worker::console_error!("{name}: {e}");
    }
    result
}

/// A message's body as JSON text, as it was sent (a body JSON cannot write, as the empty
/// string, which no job reads as).
fn body_text(message: &RawMessage) -> String {
    js_sys::JSON::stringify(&message.body()).ok().and_then(|s| s.as_string()).unwrap_or_default()
}
