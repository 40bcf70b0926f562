//! The Worker's queue consumer: broadcast fan-out (`herald-fanout`, [`crate::fanout`], bodies
//! [`FanoutTask`](herald_core::exchange::FanoutTask)). The fallback queues (email, SMS, push)
//! are the delivery Worker's (`delivery/`), which keeps the providers' code out of this bundle.

use herald_platform::boxed;
use worker::{event, Context, Env, MessageBatch, QueueRetryOptionsBuilder, Result};

pub const FANOUT: &str = "herald-fanout";

/// How long a batch of a queue this Worker does not consume waits before it comes again: the
/// longest delay Queues allow, so that its messages keep their attempts for as long as may be
/// while the deployment is fixed.
const NOT_MINE_RETRY_SECONDS: u32 = 43_200;

#[event(queue)]
pub async fn queue(batch: MessageBatch<serde_json::Value>, env: Env, _ctx: Context) -> Result<()> {
    let name = batch.queue();
    // Queue names may carry a deployment suffix (`herald-fanout-staging`).
    if name.starts_with(FANOUT) {
        return boxed(crate::fanout::consume(batch.raw_iter(), &env)).await;
    }
    // A deployment from before the delivery Worker still has this Worker consuming the fallback
    // queues: say how to hand them over, and keep the jobs as long as Queues allow meanwhile.
    worker::console_error!(
        "a batch from queue {name:?}, which this Worker does not consume: retried in {NOT_MINE_RETRY_SECONDS} s. \
         If it is a fallback queue, this Worker is still registered as its consumer from an older deployment: \
         `wrangler queues consumer remove {name} herald`, then `wrangler deploy -c delivery/wrangler.toml` \
         (docs/configuration.md, \"Two Workers\")"
    );
    batch.retry_all_with_options(&QueueRetryOptionsBuilder::new().with_delay_seconds(NOT_MINE_RETRY_SECONDS).build());
    Ok(())
}
