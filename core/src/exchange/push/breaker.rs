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

use crate::exchange::wire::GoneReport;
use crate::store::{Sql, SqlValue, StoreError};
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
        total > 0
            && total >= rule.min_devices
            && u64::from(gone) * 100 >= u64::from(rule.gone_percent) * u64::from(total)
    }

    /// The gone and total outcomes within the window, for a reason a person reads.
    pub fn counts(&self, rule: &BreakerRule, now_ms: i64) -> (u32, u32) {
        let since = now_ms.saturating_sub(rule.window_ms);
        self.buckets
            .iter()
            .filter(|b| b.start_ms > since)
            .fold((0u32, 0u32), |(gone, total), b| (gone.saturating_add(b.gone), total.saturating_add(b.total)))
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

/// The store's side (`POST /push/breaker` on the dead-letter store's object): records a
/// [`GoneReport`]'s outcomes in the provider's breaker, kept in `push_breakers`, and answers
/// whether that provider's "gone" answers are now too many to believe.
pub fn report<S: Sql>(sql: &S, rule: &BreakerRule, now_ms: i64, report: &GoneReport) -> Result<bool, StoreError> {
    sql.exec("CREATE TABLE IF NOT EXISTS push_breakers (provider TEXT PRIMARY KEY, state TEXT NOT NULL)", &[])?;
    let provider = SqlValue::Text(report.provider.clone());
    let rows = sql.exec("SELECT state FROM push_breakers WHERE provider = ?", std::slice::from_ref(&provider))?;
    // A state that cannot be read starts again empty: it only ever holds recent outcomes.
    let mut breaker: Breaker = match rows.first().and_then(|r| r.first()) {
        Some(SqlValue::Text(state)) => serde_json::from_str(state).unwrap_or_default(),
        _ => Breaker::default(),
    };
    for gone in
        std::iter::repeat_n(false, report.accepted as usize).chain(std::iter::repeat_n(true, report.gone as usize))
    {
        breaker.record(rule, now_ms, gone);
    }
    let state = serde_json::to_string(&breaker).map_err(|e| StoreError(e.to_string()))?;
    sql.exec(
        "INSERT OR REPLACE INTO push_breakers (provider, state) VALUES (?, ?)",
        &[provider, SqlValue::Text(state)],
    )?;
    Ok(breaker.tripped(rule, now_ms))
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: i64 = 1_793_610_000_000;
    const SECOND: i64 = 1000;

    /// `gone` gone outcomes and `fine` others, one a second from `T0`.
    fn recorded(gone: u32, fine: u32) -> Breaker {
        let (rule, mut breaker) = (BreakerRule::default(), Breaker::default());
        for i in 0..gone + fine {
            breaker.record(&rule, T0 + i64::from(i) * SECOND, i < gone);
        }
        breaker
    }

    #[test]
    fn nineteen_gone_of_nineteen_are_too_few_to_trip_it() {
        assert!(!recorded(19, 0).tripped(&BreakerRule::default(), T0 + 20 * SECOND));
    }

    #[test]
    fn sixteen_gone_of_twenty_trip_it_and_fifteen_do_not() {
        let rule = BreakerRule::default();
        let now = T0 + 20 * SECOND;
        assert!(recorded(16, 4).tripped(&rule, now));
        assert_eq!(recorded(16, 4).counts(&rule, now), (16, 20));
        assert!(!recorded(15, 5).tripped(&rule, now));
        assert!(recorded(20, 0).tripped(&rule, now));
    }

    #[test]
    fn outcomes_older_than_the_window_are_forgotten() {
        let rule = BreakerRule::default();
        let mut breaker = recorded(20, 0);
        assert!(breaker.tripped(&rule, T0 + 9 * 60 * SECOND), "within ten minutes");
        assert!(!breaker.tripped(&rule, T0 + 10 * 60 * SECOND + 20 * SECOND), "ten minutes later");
        assert_eq!(breaker.counts(&rule, T0 + 11 * 60 * SECOND), (0, 0));
        // Fresh outcomes alone decide: twenty fine ones after the old gone ones keep it closed.
        for i in 0..20 {
            breaker.record(&rule, T0 + 11 * 60 * SECOND + i * SECOND, false);
        }
        assert!(!breaker.tripped(&rule, T0 + 11 * 60 * SECOND + 20 * SECOND));
        assert_eq!(breaker.len(), 1, "the old buckets were dropped");
    }

    #[test]
    fn an_outcome_counts_for_the_window_less_at_most_one_bucket() {
        let rule = BreakerRule { min_devices: 1, ..BreakerRule::default() };
        let mut breaker = Breaker::default();
        breaker.record(&rule, T0 + 59 * SECOND, true);
        assert!(breaker.tripped(&rule, T0 + 9 * 60 * SECOND + 59 * SECOND), "a bucket is a minute");
        assert!(!breaker.tripped(&rule, T0 + 10 * 60 * SECOND), "its minute has left the window");
    }

    #[test]
    fn the_numbers_are_configuration() {
        let rule = BreakerRule { window_ms: 60 * SECOND, min_devices: 4, gone_percent: 50 };
        let mut breaker = Breaker::default();
        for (i, gone) in [true, false, true, false].into_iter().enumerate() {
            breaker.record(&rule, T0 + i as i64 * SECOND, gone);
        }
        assert!(breaker.tripped(&rule, T0 + 5 * SECOND));
        assert!(!breaker.tripped(&BreakerRule::default(), T0 + 5 * SECOND));
        assert!(!Breaker::default().tripped(&BreakerRule { min_devices: 0, ..rule }, T0), "nothing recorded");
    }

    #[test]
    fn memory_stays_bounded_under_a_million_outcomes_whatever_the_clock() {
        let rule = BreakerRule::default();
        let mut breaker = Breaker::default();
        for i in 0..1_000_000i64 {
            // A clock that runs forwards by 7 ms, with a step back now and then.
            let now = T0 + i * 7 - if i % 1000 == 0 { 90_000 } else { 0 };
            breaker.record(&rule, now, i % 3 == 0);
            assert!(breaker.len() <= BUCKETS as usize + 1, "{} buckets at {i}", breaker.len());
        }
        let (gone, total) = breaker.counts(&rule, T0 + 999_999 * 7);
        assert!(total > 80_000 && gone * 3 <= total + 3, "{gone} of {total}");
        let mut tiny = Breaker::default();
        for i in 0..100_000i64 {
            let rule = BreakerRule { window_ms: if i % 2 == 0 { 1 } else { i64::MAX }, ..rule };
            tiny.record(&rule, T0 + i, true);
            assert!(tiny.len() <= KEPT_MAX, "rules that change keep it bounded too");
        }
    }

    #[test]
    fn it_serializes_for_an_object_to_store() {
        let breaker = recorded(16, 4);
        let stored = serde_json::to_string(&breaker).unwrap();
        let back: Breaker = serde_json::from_str(&stored).unwrap();
        assert_eq!(back, breaker);
        assert!(back.tripped(&BreakerRule::default(), T0 + 20 * SECOND));
        assert!(stored.len() < 200, "{stored}");
    }
}
