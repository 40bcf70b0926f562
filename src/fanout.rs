//! The fan-out queue (`herald-fanout`): broadcasts, a page of a directory shard or a batch of
//! deliveries at a time ([`herald_core::exchange::fanout`] plans; this file moves the bytes).
//!
//! - `Page`: read the shard's page, queue its `Deliver` batches and the next `Page`, ack.
//! - `Deliver`: ask each user's inbox to take the notification; ack when every inbox did,
//!   retry otherwise (the broadcast's idempotency key keeps the inboxes that took it from
//!   taking it twice).
//!
//! An invocation takes on the messages that fit its subrequests ([`within_budget`]) and
//! retries the rest; a body that is not a task is logged and acked (no retry would fix it).
//!
//! Bodies travel as JSON: sent as `JSON.parse` of serde_json's text, read back through
//! `JSON.stringify`, so every JSON value in a notification's `data` survives as it was (a
//! serde_wasm_bindgen map would become a JavaScript `Map`, which a queue serializes as `{}`).

use crate::broadcast::notify_all;
use herald_core::error::Error;
use herald_core::exchange::directory::{PageQuery, PAGE_SIZE};
use herald_core::exchange::fanout::{after_page, cost, send_batches, within_budget, SUBREQUESTS};
use herald_core::exchange::FanoutTask;
use herald_platform::respond::internal;
use worker::wasm_bindgen::JsValue;
use worker::{js_sys, Env, MessageExt, QueueContentType, RawMessage, RawMessageBuilder, RawMessageIter, Result};

/// The producer binding of `herald-fanout` (wrangler.toml).
pub const BINDING: &str = "FANOUT";

/// Takes a batch of the fan-out queue.
pub async fn consume(messages: RawMessageIter, env: &Env) -> Result<()> {
    let messages: Vec<RawMessage> = messages.collect();
    let tasks: Vec<Option<FanoutTask>> = messages.iter().map(decode).collect();
    let costs: Vec<usize> = tasks.iter().map(|task| task.as_ref().map_or(0, cost)).collect();
    let take = within_budget(&costs, SUBREQUESTS);
    if take < messages.len() {
        worker::console_warn!(
            "fan-out: {} of {} messages retried to stay within {SUBREQUESTS} subrequests (max_batch_size too large?)",
            messages.len() - take,
            messages.len()
        );
    }
    for (n, (message, task)) in messages.iter().zip(tasks).enumerate() {
        match task {
            _ if n >= take => message.retry(),
            None => message.ack(),
            Some(task) => match run(env, &task).await {
                Ok(()) => message.ack(),
                Err(e) => {
                    worker::console_error!("fan-out {}: {e}; retried", describe(&task));
                    message.retry();
                }
            },
        }
    }
    Ok(())
}

/// Queues `tasks` on the fan-out queue, in as few `sendBatch` calls as Queues' limits allow.
pub async fn enqueue(env: &Env, tasks: &[FanoutTask]) -> std::result::Result<(), Error> {
    let queue = env
        .queue(BINDING)
        .map_err(|e| Error::internal(format!("the {BINDING} queue binding is missing (wrangler.toml): {e}")))?;
    for batch in send_batches(tasks)? {
        // As JSON text, which the consumer reads back as it was written: a task carries a
        // notification's `data`, whose numbers JavaScript's JSON would round to doubles.
        let messages = batch
            .iter()
            .map(|json| RawMessageBuilder::new(JsValue::from_str(json)).build_with_content_type(QueueContentType::Text))
            .collect::<Vec<_>>();
        queue.send_raw_batch(messages).await.map_err(internal)?;
    }
    Ok(())
}

/// One task, performed.
async fn run(env: &Env, task: &FanoutTask) -> std::result::Result<(), Error> {
    match task {
        FanoutTask::Page { broadcast, shard, after, notify } => {
            let query = PageQuery { after: after.clone(), limit: PAGE_SIZE };
            let page = crate::directory::page(env, *shard, &query).await?;
            let users = page.users.len();
            enqueue(env, &after_page(broadcast, *shard, notify, page)).await?;
            worker::console_log!("broadcast {broadcast}: shard {shard} page after {after:?}: {users} users queued");
            Ok(())
        }
        FanoutTask::Deliver { users, notify, .. } => {
            let unreached = notify_all(env, users, notify).await?;
            match unreached.first() {
                None => Ok(()),
                Some((user, e)) => Err(Error::internal(format!(
                    "{} of {} inboxes did not take it (first {user}: {})",
                    unreached.len(),
                    users.len(),
                    e.message
                ))),
            }
        }
    }
}

/// A message's task; `None` (logged) when its body is not one.
fn decode(message: &RawMessage) -> Option<FanoutTask> {
    // JSON text (what `enqueue` sends), or a JSON body queued by an earlier version.
    let body = message.body();
    let text = body.as_string().or_else(|| js_sys::JSON::stringify(&body).ok().map(String::from));
    let task = text.as_deref().map(serde_json::from_str::<FanoutTask>);
    match task {
        Some(Ok(task)) => Some(task),
        Some(Err(e)) => {
            worker::console_error!("fan-out message {} is not a task ({e}): dropped", message.id());
            None
        }
        None => {
            worker::console_error!("fan-out message {} has no JSON body: dropped", message.id());
            None
        }
    }
}

fn describe(task: &FanoutTask) -> String {
    match task {
        FanoutTask::Page { broadcast, shard, after, .. } => format!("broadcast {broadcast} page {shard}/{after:?}"),
        FanoutTask::Deliver { broadcast, users, .. } => {
            format!("broadcast {broadcast} delivery to {} users", users.len())
        }
    }
}
