//! Queue consumers. A Worker has one queue entry; the batch's queue name says which consumer
//! takes it, and each reads its own typed bodies (`herald_core::exchange`):
//!
//! | queue | consumer | bodies |
//! |---|---|---|
//! | `herald-fallback` | [`crate::fallback`]: send each job through its provider, retry with backoff | [`Job`](herald_core::exchange::Job) |
//! | `herald-fallback-dead` | [`crate::fallback`]: keep what exhausted its attempts, for the admin list | [`Job`](herald_core::exchange::Job) |
//! | `herald-fanout` | [`crate::fanout`]: broadcast pages and deliveries | [`FanoutTask`](herald_core::exchange::FanoutTask) |
//!
//! The entry is written out rather than made by `#[event(queue)]`, which hands over a
//! `MessageBatch` whose messages do not tell how many times they were delivered; the fallback
//! needs that count (`attempts`, which the platform puts on each message) for its backoff and
//! to know its last attempt. It is the same export the macro makes: `queue(batch, env, ctx)`.

use herald_durable_objects::platform::boxed;
use wasm_bindgen::prelude::wasm_bindgen;
use worker::worker_sys::{Context as ContextSys, Message as MessageSys, MessageBatch as MessageBatchSys};
use worker::{js_sys, wasm_bindgen::JsCast, wasm_bindgen::JsValue, Env, MessageBatch, RawMessage, Result};

pub const FALLBACK: &str = "herald-fallback";
pub const FALLBACK_DEAD: &str = "herald-fallback-dead";
pub const FANOUT: &str = "herald-fanout";

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
    // Each consumer's future is awaited `boxed` (see there): its own function in the wasm.
    // Queue names may carry a deployment suffix (`herald-fallback-staging`); the longest
    // known prefix decides.
    if name.starts_with(FALLBACK_DEAD) {
        boxed(crate::fallback::keep_dead(batch.raw_iter(), &env)).await
    } else if name.starts_with(FALLBACK) {
        boxed(crate::fallback::consume(delivered(&sys)?, &env)).await
    } else if name.starts_with(FANOUT) {
        boxed(crate::fanout::consume(batch.raw_iter(), &env)).await
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
