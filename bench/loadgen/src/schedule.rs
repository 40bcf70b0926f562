//! The open-loop timetable of one step: message `i` is due at `start + i / rate`, whatever
//! happened to the messages before it. The publisher sends what is due as soon as the timer
//! lets it, and latency is measured from the due time, so a publisher or a server that falls
//! behind shows up as latency instead of quietly lowering the offered load (no coordinated
//! omission).

use std::ops::Range;
use std::time::{Duration, Instant};

#[derive(Clone, Debug)]
pub struct Schedule {
    pub start: Instant,
    /// Messages per second.
    pub rate: f64,
    /// Messages in the step (at least one).
    pub count: u64,
    /// The `seq` of message 0; the step's messages carry `first_seq..first_seq + count`.
    pub first_seq: u64,
}

impl Schedule {
    /// A step of `seconds` at `rate` messages per second, starting at `start`.
    pub fn new(start: Instant, rate: f64, seconds: f64, first_seq: u64) -> Self {
        assert!(rate > 0.0 && seconds > 0.0, "rate and duration must be positive");
        let count = ((rate * seconds).round() as u64).max(1);
        Schedule { start, rate, count, first_seq }
    }

    /// When message `i` (0-based) is due.
    pub fn at(&self, i: u64) -> Instant {
        self.start + Duration::from_secs_f64(i as f64 / self.rate)
    }

    /// How many messages are due at `now` (those with `at(i) <= now`), at most `count`.
    pub fn due(&self, now: Instant) -> u64 {
        if now < self.start {
            return 0;
        }
        let elapsed = now.duration_since(self.start).as_secs_f64();
        // An estimate from the float product, then settled against `at` itself so that
        // `due` and `at` never disagree by a rounding error.
        let mut n = ((elapsed * self.rate).floor() as u64).saturating_add(1).min(self.count);
        while n > 0 && self.at(n - 1) > now {
            n -= 1;
        }
        while n < self.count && self.at(n) <= now {
            n += 1;
        }
        n
    }

    /// The seqs the step's messages carry.
    pub fn seqs(&self) -> Range<u64> {
        self.first_seq..self.first_seq + self.count
    }

    /// The step's offered duration: `count / rate` seconds.
    pub fn seconds(&self) -> f64 {
        self.count as f64 / self.rate
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn a_step_holds_rate_times_seconds_messages_numbered_from_its_first_seq() {
        let s = Schedule::new(Instant::now(), 1000.0, 3.0, 51);
        assert_eq!(s.count, 3000);
        assert_eq!(s.seqs(), 51..3051);
        assert_eq!(Schedule::new(Instant::now(), 0.1, 1.0, 1).count, 1, "never an empty step");
    }

    #[test]
    fn message_i_is_due_at_start_plus_i_over_rate() {
        let t0 = Instant::now();
        let s = Schedule::new(t0, 200.0, 1.0, 1);
        assert_eq!(s.at(0), t0);
        assert_eq!(s.at(1), t0 + ms(5));
        assert_eq!(s.at(200 - 1), t0 + ms(995));
    }

    #[test]
    fn what_is_due_depends_only_on_the_clock_not_on_what_was_sent() {
        let t0 = Instant::now();
        let s = Schedule::new(t0, 1000.0, 1.0, 1);
        assert_eq!(s.due(t0 - ms(1)), 0, "nothing before the start");
        assert_eq!(s.due(t0), 1, "message 0 at the start");
        assert_eq!(s.due(t0 + Duration::from_micros(999)), 1);
        assert_eq!(s.due(t0 + ms(1)), 2, "a message due exactly now is due");
        // A publisher that stalled for 250 ms owes every message of those 250 ms at once.
        assert_eq!(s.due(t0 + ms(250)), 251);
        assert_eq!(s.due(t0 + ms(5000)), 1000, "never more than the step holds");
    }

    #[test]
    fn due_agrees_with_at_for_awkward_rates() {
        let t0 = Instant::now();
        let s = Schedule::new(t0, 3.0 * 7.0 * 11.0 / 13.0, 20.0, 1);
        for i in 0..s.count {
            assert_eq!(s.due(s.at(i)), i + 1, "message {i}");
        }
    }
}
