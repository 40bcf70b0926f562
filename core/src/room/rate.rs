//! Per-connection rate limit: a token bucket refilled continuously.

/// Holds up to `burst` tokens, refilled at `per_second`; each frame takes one.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    tokens: f64,
    last_ms: i64,
    per_second: f64,
    burst: f64,
}

impl TokenBucket {
    /// A full bucket.
    pub fn new(now_ms: i64, per_second: u32, burst: u32) -> Self {
        Self { tokens: f64::from(burst), last_ms: now_ms, per_second: f64::from(per_second), burst: f64::from(burst) }
    }

    /// Takes a token. `Err(wait_ms)` says how long until one is available.
    pub fn take(&mut self, now_ms: i64) -> Result<(), u64> {
        let elapsed = (now_ms - self.last_ms).max(0) as f64 / 1000.0;
        self.tokens = (self.tokens + elapsed * self.per_second).min(self.burst);
        self.last_ms = now_ms.max(self.last_ms);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - self.tokens) / self.per_second * 1000.0).ceil() as u64)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_passes_then_the_rate_holds() {
        let mut bucket = TokenBucket::new(0, 10, 3);
        assert!(bucket.take(0).is_ok());
        assert!(bucket.take(0).is_ok());
        assert!(bucket.take(0).is_ok());
        assert_eq!(bucket.take(0), Err(100));
        assert!(bucket.take(100).is_ok());
        assert!(bucket.take(100).is_err());
    }

    #[test]
    fn idle_time_refills_only_up_to_the_burst() {
        let mut bucket = TokenBucket::new(0, 10, 2);
        assert!(bucket.take(60_000).is_ok());
        assert!(bucket.take(60_000).is_ok());
        assert!(bucket.take(60_000).is_err());
    }
}
