//! The fan-out queue's consumer (placeholder: being written).

use worker::{Env, MessageExt, RawMessageIter, Result};

pub async fn consume(messages: RawMessageIter, _env: &Env) -> Result<()> {
    messages.for_each(|m| m.retry());
    Ok(())
}
