//! The circuit breaker of device deletion, one per provider: when most devices of a provider
//! answer "gone" at once, the likelier cause is our configuration (sandbox tokens sent to the
//! production APNs host answer `BadDeviceToken`; the wrong Firebase project answers
//! `SENDER_ID_MISMATCH`), not thousands of people uninstalling the app in the same minutes.
//! Then the breaker is tripped: the caller stops deleting for that provider and dead-letters
//! with the reason instead.
//!
//! The rule ([`BreakerRule`], configuration): tripped when at least `gone_percent` % of at
//! least `min_devices` outcomes within the last `window_ms` were "gone" (by default 80 % of 20
//! within 10 minutes). It closes by itself once the window has passed those outcomes.
//!
//! The state keeps counts, not outcomes: the window in [`BUCKETS`] buckets of (gone, total), so
//! its size is bounded whatever the traffic, and it serializes for an object to store. An
//! outcome counts until its bucket's start leaves the window: for at most the window, and at
//! least the window less one bucket.

use serde::{Deserialize, Serialize};

/// How many buckets a window is counted in.
pub const BUCKETS: i64 = 10;
/// The most buckets kept, whatever the rules it was recorded under.
const KEPT_MAX: usize = 2 * BUCKETS as usize;

/// When to suspect configuration rather than devices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BreakerRule {
    pub window_ms: i64,
    pub min_devices: u32,
    pub gone_percent: u32,
}

impl Default for BreakerRule {
    fn default() -> Self {
        Self { window_ms: 10 * 60 * 1000, min_devices: 20, gone_percent: 80 }
    }
}

impl BreakerRule {
    /// The width of one bucket: a tenth of the window, at least 1 ms.
    fn bucket_ms(&self) -> i64 {
        (self.window_ms / BUCKETS).max(1)
    }
}

/// The outcomes of one span of time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct Bucket {
    start_ms: i64,
    gone: u32,
    total: u32,
}

/// One provider's recent outcomes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Breaker {
    /// Oldest first.
    buckets: Vec<Bucket>,
}

impl Breaker {
    /// One device's outcome at `now_ms`: `gone` or anything else the provider answered.
    pub fn record(&mut self, rule: &BreakerRule, now_ms: i64, gone: bool) {
        let width = rule.bucket_ms();
        let start_ms = now_ms.div_euclid(width) * width;
        self.forget(rule, now_ms);
        match self.buckets.last_mut() {
            // A clock that stepped back counts in the newest bucket rather than reorder them.
            Some(last) if last.start_ms >= start_ms => {
                last.gone = last.gone.saturating_add(u32::from(gone));
                last.total = last.total.saturating_add(1);
            }
            _ => self.buckets.push(Bucket { start_ms, gone: u32::from(gone), total: 1 }),
        }
        if self.buckets.len() > KEPT_MAX {
            let extra = self.buckets.len() - KEPT_MAX;
            self.buckets.drain(..extra);
        }
    }

    /// Whether deleting should stop: enough outcomes in the window, and enough of them gone.
    pub fn tripped(&self, rule: &BreakerRule, now_ms: i64) -> bool {
        let (gone, total) = self.counts(rule, now_ms);
        total > 0 && total >= rule.min_devices && u64::from(gone) * 100 >= u64::from(rule.gone_percent) * u64::from(total)
    }

    /// The gone and total outcomes within the window, for a reason a person reads.
    pub fn counts(&self, rule: &BreakerRule, now_ms: i64) -> (u32, u32) {
        let since = now_ms.saturating_sub(rule.window_ms);
        self.buckets.iter().filter(|b| b.start_ms > since).fold((0u32, 0u32), |(gone, total), b| {
            (gone.saturating_add(b.gone), total.saturating_add(b.total))
        })
    }

    /// How many buckets it holds (its memory).
    pub fn len(&self) -> usize {
        self.buckets.len()
    }

    pub fn is_empty(&self) -> bool {
        self.buckets.is_empty()
    }

    /// Drops the buckets the window has passed.
    fn forget(&mut self, rule: &BreakerRule, now_ms: i64) {
        let since = now_ms.saturating_sub(rule.window_ms);
        self.buckets.retain(|b| b.start_ms > since);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
}
