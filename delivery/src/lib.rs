//! Herald's delivery Worker: the consumer of the fallback queues, which sends each email, SMS
//! and push job through its provider. It is a Worker of its own (`delivery/wrangler.toml`,
//! deployed beside `herald`), so that the providers' code (Web Push encryption, the JWTs of
//! APNs and FCM, the email and SMS APIs) is not in the bundle that every websocket and request
//! starts; it reaches the inboxes and the dead-letter store through the same Durable Object
//! class as the Worker (its `ROOMS` binding names the `herald` script).
//!
//! | queue | consumer | bodies |
//! |---|---|---|
//! | `herald-fallback` | [`fallback::consume`]: send each job through its provider, retry with backoff | [`Job`](herald_core::exchange::Job) |
//! | `herald-fallback-dead` | [`fallback::keep_dead`]: keep what exhausted its attempts, for the admin list | [`Job`](herald_core::exchange::Job) |
//!
//! - [`fallback`]: each job's steps, as the core's `Attempt` says, and the dead letters.
//! - [`providers`]: the email API (or the `send_email` binding) and Twilio's SMS API.
//! - [`push`]: Web Push, APNs and FCM requests, and the FCM access token.
//!
//! It reads only the exchange's variables ([`Fallback::from_vars`]); docs/configuration.md
//! says which, and that they must be the same on both Workers.
//!
//! The entry is written out rather than made by `#[event(queue)]`, which hands over a
//! `MessageBatch` whose messages do not tell how many times they were delivered; the fallback
//! needs that count (`attempts`, which the platform puts on each message) for its backoff and
//! to know its last attempt. It is the same export the macro makes: `queue(batch, env, ctx)`.

mod fallback;
mod providers;
mod push;

use herald_core::config::{ConfigError, Fallback};
use herald_core::error::{Error, ErrorCode};
use herald_platform::{boxed, var};
use std::sync::OnceLock;
use wasm_bindgen::prelude::wasm_bindgen;
use worker::worker_sys::{Context as ContextSys, Message as MessageSys, MessageBatch as MessageBatchSys};
use worker::{js_sys, wasm_bindgen::JsCast, wasm_bindgen::JsValue, Env, MessageBatch, RawMessage, Result};

pub const FALLBACK: &str = "herald-fallback";
pub const FALLBACK_DEAD: &str = "herald-fallback-dead";

/// A message with the platform's count of its deliveries (1 on the first).
pub struct Delivered {
    pub message: RawMessage,
    pub attempts: u32,
}

#[wasm_bindgen(
    js_name = queue,
    wasm_bindgen = ::worker::wasm_bindgen,
    wasm_bindgen_futures = ::worker::wasm_bindgen_futures,
    js_sys = ::worker::js_sys
)]
pub async fn queue_entry(batch: MessageBatchSys, env: Env, _ctx: ContextSys) -> std::result::Result<JsValue, JsValue> {
    match dispatch(batch, env).await {
        Ok(()) => Ok(JsValue::UNDEFINED),
        // The runtime retries the whole batch.
        Err(e) => {
            worker::console_error!("queue batch failed: {e}");
            Err(JsValue::from_str(&e.to_string()))
        }
    }
}

async fn dispatch(sys: MessageBatchSys, env: Env) -> Result<()> {
    let batch = MessageBatch::<serde_json::Value>::from(sys.clone());
    let name = batch.queue();
    // Queue names may carry a deployment suffix (`herald-fallback-staging`); the longest
    // known prefix decides.
    if name.starts_with(FALLBACK_DEAD) {
        boxed(fallback::keep_dead(batch.raw_iter(), &env)).await
    } else if name.starts_with(FALLBACK) {
        boxed(fallback::consume(delivered(&sys)?, &env)).await
    } else {
        worker::console_error!("a batch from queue {name:?}, which no consumer takes: retried");
        batch.retry_all();
        Ok(())
    }
}

/// The batch's messages with their delivery counts.
fn delivered(batch: &MessageBatchSys) -> Result<Vec<Delivered>> {
    let messages = batch.messages().map_err(worker::Error::from)?;
    Ok(messages
        .iter()
        .map(|value| {
            let attempts = js_sys::Reflect::get(&value, &JsValue::from_str("attempts"))
                .ok()
                .and_then(|a| a.as_f64())
                .map_or(1, |a| a as u32);
            Delivered { message: RawMessage::from(value.unchecked_into::<MessageSys>()), attempts }
        })
        .collect())
}

/// The exchange's settings, read once per isolate. A bad value sends nothing: every job is
/// tried again later while its attempts last (see `fallback::consume`), with an error naming
/// the variable, rather than sent on a guess.
pub fn settings(env: &Env) -> std::result::Result<&'static Fallback, Error> {
    static SETTINGS: OnceLock<std::result::Result<Fallback, ConfigError>> = OnceLock::new();
    SETTINGS
        .get_or_init(|| {
            let settings = Fallback::from_vars(|name| var(env, name));
            // Said once per isolate: which push providers are on, and which are off for want
            // of credentials.
            if let Ok(settings) = &settings {
                worker::console_log!("{}", settings.push.summary());
            }
            settings
        })
        .as_ref()
        .map_err(|e| Error::new(ErrorCode::ConfigInvalid, format!("Herald's delivery is misconfigured: {e}")))
}
