//! The fallback queue's consumer (placeholder: being written).

use worker::{Env, MessageExt, RawMessageIter, Result};

pub async fn consume(messages: RawMessageIter, _env: &Env) -> Result<()> {
    messages.for_each(|m| m.retry());
    Ok(())
}

pub async fn keep_dead(messages: RawMessageIter, _env: &Env) -> Result<()> {
    messages.for_each(|m| m.retry());
    Ok(())
}
