//! The Worker's queue consumer: broadcast fan-out (`herald-fanout`, [`crate::fanout`], bodies
//! [`FanoutTask`](herald_core::exchange::FanoutTask)). The fallback queues (email, SMS, push)
//! are the delivery Worker's (`delivery/`), which keeps the providers' code out of this bundle.

use herald_platform::boxed;
use worker::{event, Context, Env, MessageBatch, Result};

pub const FANOUT: &str = "herald-fanout";

#[event(queue)]
pub async fn queue(batch: MessageBatch<serde_json::Value>, env: Env, _ctx: Context) -> Result<()> {
    let name = batch.queue();
    // Queue names may carry a deployment suffix (`herald-fanout-staging`).
    if name.starts_with(FANOUT) {
        boxed(crate::fanout::consume(batch.raw_iter(), &env)).await
    } else {
        worker::console_error!("a batch from queue {name:?}, which no consumer of this Worker takes: retried");
        batch.retry_all();
        Ok(())
    }
}
