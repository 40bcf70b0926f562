//! Everything the subscribers and the publisher observe, in one place behind one lock (the
//! generator runs on one thread by default, so the lock is never contended). A delivery is
//! stamped with `Instant::now()` as soon as its frame is read; its latency is that instant
//! minus the message's scheduled send time, which travelled in the payload as `ts` (µs since
//! the recorder's epoch): one process, one monotonic clock.

use crate::accounting::{Outcome, StepCounts, Tally};
use crate::protocol::Payload;
use crate::report::{Event, Quantiles, StepReport};
use crate::schedule::Schedule;
use hdrhistogram::Histogram;
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Latencies are kept in µs up to this (longer ones are clamped into the top bucket).
const HIGHEST_US: u64 = 600_000_000;
const MAX_EVENTS: usize = 200;

pub fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, HIGHEST_US, 3).expect("valid histogram bounds")
}

pub struct Recorder {
    pub epoch: Instant,
    subs: Vec<Tally>,
    latency: Histogram<u64>,
    received: u64,
    last_at: Option<Instant>,
    pub publisher: PublisherTally,
    /// The heartbeats of the idle mode, over every socket.
    pub pings: PingStats,
    events: Vec<Event>,
    events_dropped: u64,
    /// Set while the generator closes its own sockets: those closes are not events.
    pub closing: bool,
}

/// Pings sent and pongs received (each matched to its socket's oldest ping owed one).
pub struct PingStats {
    pub sent: u64,
    pub answered: u64,
    pub latency: Histogram<u64>,
}

impl PingStats {
    pub fn answered(&mut self, rtt: Duration) {
        self.answered += 1;
        self.latency.saturating_record(micros(rtt));
    }
}

/// The publisher's side of a step: sends, acks (matched in order) and error frames.
pub struct PublisherTally {
    pub sent: u64,
    pub lag: Histogram<u64>,
    pub acks: u64,
    pub ack_latency: Histogram<u64>,
    pub errors: u64,
    /// Scheduled times of publishes not yet answered, oldest first (ack-protocols only).
    pub pending: VecDeque<Instant>,
}

impl PublisherTally {
    fn new() -> Self {
        PublisherTally {
            sent: 0,
            lag: histogram(),
            acks: 0,
            ack_latency: histogram(),
            errors: 0,
            pending: VecDeque::new(),
        }
    }

    /// A publish of the message due at `scheduled` went out at `now`.
    pub fn sent(&mut self, scheduled: Instant, now: Instant, track_ack: bool) {
        self.sent += 1;
        self.lag.saturating_record(micros(now.saturating_duration_since(scheduled)));
        if track_ack {
            self.pending.push_back(scheduled);
        }
    }

    /// The oldest pending publish was answered at `at` (an ack, or an error when `ok` is false).
    pub fn answered(&mut self, at: Instant, ok: bool) {
        let scheduled = self.pending.pop_front();
        if ok {
            self.acks += 1;
            if let Some(s) = scheduled {
                self.ack_latency.saturating_record(micros(at.saturating_duration_since(s)));
            }
        } else {
            self.errors += 1;
        }
    }
}

impl Recorder {
    pub fn new(epoch: Instant, subscribers: usize) -> Self {
        Recorder {
            epoch,
            subs: (0..subscribers).map(|_| Tally::default()).collect(),
            latency: histogram(),
            received: 0,
            last_at: None,
            publisher: PublisherTally::new(),
            pings: PingStats { sent: 0, answered: 0, latency: histogram() },
            events: Vec::new(),
            events_dropped: 0,
            closing: false,
        }
    }

    /// `t` as carried in a payload's `ts`: µs since the epoch.
    pub fn ts(&self, t: Instant) -> u64 {
        micros(t.saturating_duration_since(self.epoch))
    }

    pub fn begin_step(&mut self, schedule: &Schedule) {
        for sub in &mut self.subs {
            sub.begin_step(schedule.seqs());
        }
        self.latency.reset();
        self.received = 0;
        self.last_at = None;
        let pending = std::mem::take(&mut self.publisher.pending);
        self.publisher = PublisherTally::new();
        self.publisher.pending = pending; // answers to the step before are still owed
    }

    /// Subscriber `sub` read a message carrying `payload` at `at`.
    pub fn deliver(&mut self, sub: usize, payload: Payload, at: Instant) {
        if self.subs[sub].record(payload.seq) != Outcome::New {
            return;
        }
        let scheduled = self.epoch + Duration::from_micros(payload.ts.max(0.0) as u64);
        self.latency.saturating_record(micros(at.saturating_duration_since(scheduled)));
        self.received += 1;
        self.last_at = Some(at);
    }

    /// Distinct deliveries of the open step so far, over all subscribers.
    pub fn received(&self) -> u64 {
        self.received
    }

    pub fn event(&mut self, who: String, kind: &str, detail: String) {
        if self.closing {
            return;
        }
        if self.events.len() >= MAX_EVENTS {
            self.events_dropped += 1;
            return;
        }
        let at_ms = self.epoch.elapsed().as_secs_f64() * 1e3;
        self.events.push(Event { at_ms: round(at_ms, 1), who, kind: kind.to_owned(), detail });
    }

    pub fn take_events(&mut self) -> (Vec<Event>, u64) {
        (std::mem::take(&mut self.events), self.events_dropped)
    }

    /// Closes the step and summarises it. `cpu` is the generator's CPU time over the sending
    /// window, as a fraction of its cores (see `cpu`).
    pub fn end_step(&mut self, schedule: &Schedule, cpu: f64) -> StepReport {
        let mut counts = StepCounts::default();
        for sub in &mut self.subs {
            counts += sub.end_step();
        }
        let subscribers = self.subs.len() as f64;
        let span = self.last_at.map(|t| t.saturating_duration_since(schedule.start).as_secs_f64());
        let p = &self.publisher;
        let expected = p.sent * self.subs.len() as u64;
        StepReport {
            offered_per_s: schedule.rate,
            offered_deliveries_per_s: schedule.rate * subscribers,
            seconds: round(schedule.seconds(), 3),
            sent: p.sent,
            counts: StepCounts {
                expected,
                // Seqs never received by the end of the drain (of those actually sent).
                loss: expected.saturating_sub(counts.received),
                ..counts
            },
            delivered_per_s: span.filter(|s| *s > 0.0).map_or(0.0, |s| round(counts.received as f64 / s, 0)),
            latency_ms: Quantiles::of(&self.latency),
            send_lag_ms: Quantiles::of(&p.lag),
            acks: p.acks,
            ack_ms: Quantiles::of(&p.ack_latency),
            publish_errors: p.errors,
            generator_cpu: round(cpu, 3),
            generator_bound: cpu >= crate::cpu::BOUND,
        }
    }
}

pub fn micros(d: Duration) -> u64 {
    d.as_micros().min(u64::MAX as u128) as u64
}

pub fn round(x: f64, digits: i32) -> f64 {
    let f = 10f64.powi(digits);
    (x * f).round() / f
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latency_is_measured_from_the_scheduled_time_and_only_new_deliveries_count() {
        let epoch = Instant::now();
        let mut r = Recorder::new(epoch, 2);
        let s = Schedule::new(epoch + Duration::from_millis(10), 100.0, 0.02, 1); // seqs 1, 2
        r.begin_step(&s);
        for i in 0..s.count {
            r.publisher.sent(s.at(i), s.at(i), false);
        }
        let ts = |i| r.ts(s.at(i)) as f64;
        let (ts0, ts1) = (ts(0), ts(1));
        r.deliver(0, Payload { seq: 1, ts: ts0 }, s.at(0) + Duration::from_millis(5));
        r.deliver(0, Payload { seq: 1, ts: ts0 }, s.at(0) + Duration::from_millis(900));
        r.deliver(1, Payload { seq: 1, ts: ts0 }, s.at(0) + Duration::from_millis(5));
        r.deliver(0, Payload { seq: 2, ts: ts1 }, s.at(1) + Duration::from_millis(5));
        let step = r.end_step(&s, 0.5);
        assert_eq!(
            (step.sent, step.counts.expected, step.counts.received, step.counts.loss, step.counts.duplicates),
            (2, 4, 3, 1, 1)
        );
        let max = step.latency_ms.max.unwrap();
        assert!((4.9..5.1).contains(&max), "the duplicate's 900 ms is not a latency: {max}");
        assert!(!step.generator_bound);
    }
}
