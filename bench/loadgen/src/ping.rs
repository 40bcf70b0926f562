//! Heartbeats during the idle mode (`--idle-seconds`): every socket sends the protocol's ping
//! (`{"type":"ping"}`, which a hibernating room answers by the runtime's auto-response, without
//! waking) every `--ping-every` seconds, and checks that each is answered.
//!
//! The sockets' pings are spread over the interval (socket `i` of `n` starts `i / n` of it in),
//! so that the room sees a steady trickle rather than `n` pings at once. A pong answers the
//! oldest ping not yet answered: the runtime answers a socket's frames in order.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// When one socket pings: at `start + offset + k × every`, for every k whose time is before `end`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PingPlan {
    pub start: Instant,
    pub end: Instant,
    pub every: Duration,
    pub offset: Duration,
}

impl PingPlan {
    /// Pinging every `every` from `start` for `seconds` (the plan of the first socket).
    pub fn new(start: Instant, seconds: f64, every: Duration) -> Self {
        PingPlan { start, end: start + Duration::from_secs_f64(seconds), every, offset: Duration::ZERO }
    }

    /// The same plan for socket `index` of `sockets`: `index / sockets` of an interval later.
    pub fn for_socket(self, index: usize, sockets: usize) -> Self {
        PingPlan { offset: self.every.mul_f64(index as f64 / sockets.max(1) as f64), ..self }
    }

    /// When ping `k` (0-based) is due, or `None` once that is not before the end.
    pub fn at(&self, k: u32) -> Option<Instant> {
        let t = self.start + self.offset + self.every * k;
        (t < self.end).then_some(t)
    }
}

/// One socket's pings: which are due, and which are still owed a pong.
#[derive(Debug, Default)]
pub struct Pinger {
    plan: Option<PingPlan>,
    sent: u32,
    pending: VecDeque<Instant>,
}

impl Pinger {
    /// Starts pinging by `plan` (replacing any plan before, and forgetting its count).
    pub fn follow(&mut self, plan: PingPlan) {
        self.plan = Some(plan);
        self.sent = 0;
    }

    /// When the next ping is due, if any is left.
    pub fn next_due(&self) -> Option<Instant> {
        self.plan.and_then(|p| p.at(self.sent))
    }

    /// The next ping went out at `now`.
    pub fn sent(&mut self, now: Instant) {
        self.sent += 1;
        self.pending.push_back(now);
    }

    /// A pong came at `now`: the round trip of the oldest ping owed one, or `None` for a pong
    /// nobody asked for.
    pub fn answered(&mut self, now: Instant) -> Option<Duration> {
        self.pending.pop_front().map(|sent| now.saturating_duration_since(sent))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn sockets_ping_every_interval_spread_over_it_and_never_at_or_after_the_end() {
        let t0 = Instant::now();
        let first = PingPlan::new(t0, 10.0, ms(3000)).for_socket(0, 4);
        assert_eq!((first.at(0), first.at(1), first.at(3)), (Some(t0), Some(t0 + ms(3000)), Some(t0 + ms(9000))));
        assert_eq!(first.at(4), None, "12 s is past the 10 s of the plan");
        let third = PingPlan::new(t0, 10.0, ms(3000)).for_socket(2, 4);
        assert_eq!(third.at(0), Some(t0 + ms(1500)), "half an interval in");
        assert_eq!(third.at(2), Some(t0 + ms(7500)));
        assert_eq!(third.at(3), None, "10.5 s is past the end");
        let exact = PingPlan::new(t0, 6.0, ms(3000));
        assert_eq!(exact.at(2), None, "a ping due exactly at the end is not sent");
    }

    #[test]
    fn a_pinger_without_a_plan_never_pings_and_a_new_plan_starts_its_count_afresh() {
        let t0 = Instant::now();
        let mut p = Pinger::default();
        assert_eq!(p.next_due(), None);
        p.follow(PingPlan::new(t0, 1.0, ms(400)));
        p.sent(t0);
        p.sent(t0 + ms(400));
        assert_eq!(p.next_due(), Some(t0 + ms(800)));
        p.sent(t0 + ms(800));
        assert_eq!(p.next_due(), None, "1.2 s is past the plan");
        p.follow(PingPlan::new(t0 + ms(5000), 1.0, ms(400)));
        assert_eq!(p.next_due(), Some(t0 + ms(5000)));
    }

    #[test]
    fn a_pong_answers_the_oldest_ping_still_owed_one() {
        let t0 = Instant::now();
        let mut p = Pinger::default();
        p.sent(t0);
        p.sent(t0 + ms(100));
        assert_eq!(p.answered(t0 + ms(150)), Some(ms(150)));
        assert_eq!(p.answered(t0 + ms(120)), Some(ms(20)));
        assert_eq!(p.answered(t0 + ms(200)), None, "nobody asked for this one");
    }
}
