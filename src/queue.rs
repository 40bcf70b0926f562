//! Queue consumers. A Worker has one queue entry; the batch's queue name says which consumer
//! takes it, and each reads its own typed bodies (`herald_core::exchange`):
//!
//! | queue | consumer | bodies |
//! |---|---|---|
//! | `herald-fallback` | [`crate::fallback`]: send each job through its provider, retry with backoff | [`Job`](herald_core::exchange::Job) |
//! | `herald-fallback-dead` | [`crate::fallback`]: keep what exhausted its attempts, for the admin list | [`Job`](herald_core::exchange::Job) |
//! | `herald-fanout` | [`crate::fanout`]: broadcast pages and deliveries | [`FanoutTask`](herald_core::exchange::FanoutTask) |

use worker::{event, Context, Env, MessageBatch, Result};

pub const FALLBACK: &str = "herald-fallback";
pub const FALLBACK_DEAD: &str = "herald-fallback-dead";
pub const FANOUT: &str = "herald-fanout";

#[event(queue)]
pub async fn queue(batch: MessageBatch<serde_json::Value>, env: Env, _ctx: Context) -> Result<()> {
    let name = batch.queue();
    // Queue names may carry a deployment suffix (`herald-fallback-staging`); the longest
    // known prefix decides.
    if name.starts_with(FALLBACK_DEAD) {
        crate::fallback::keep_dead(batch.raw_iter(), &env).await
    } else if name.starts_with(FALLBACK) {
        crate::fallback::consume(batch.raw_iter(), &env).await
    } else if name.starts_with(FANOUT) {
        crate::fanout::consume(batch.raw_iter(), &env).await
    } else {
        worker::console_error!("a batch from queue {name:?}, which no consumer takes: retried");
        batch.retry_all();
        Ok(())
    }
}
