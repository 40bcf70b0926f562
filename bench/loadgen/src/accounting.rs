//! What one subscriber received, by the `seq` the publisher put in each message's payload.
//!
//! A subscriber should receive every seq of a step exactly once, in increasing order. Per step
//! the tally counts the distinct seqs received (the rest, at the end of the drain, is loss), a
//! seq received again (duplicate) and a seq lower than one received before (order violation,
//! judged over the whole run, not just the step). A seq of a step already closed is `late`:
//! it was counted as lost when its step ended.

use std::ops::Range;

/// What a delivery was, for the caller's latency histogram: only `New` deliveries count.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    New,
    Duplicate,
    /// A seq outside the open step: of a step already reported (or no step is open).
    Late,
}

/// One step's counts for one subscriber (or summed over all of them); a step's report carries
/// them too, with `expected` and `loss` counted from what the publisher sent.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct StepCounts {
    pub expected: u64,
    pub received: u64,
    pub loss: u64,
    pub duplicates: u64,
    pub order_violations: u64,
    pub late: u64,
}

impl std::ops::AddAssign for StepCounts {
    fn add_assign(&mut self, o: Self) {
        self.expected += o.expected;
        self.received += o.received;
        self.loss += o.loss;
        self.duplicates += o.duplicates;
        self.order_violations += o.order_violations;
        self.late += o.late;
    }
}

#[derive(Debug, Default)]
pub struct Tally {
    /// The highest seq received so far, over the whole run.
    highest: u64,
    /// The open step's seqs and which of them came (one bit each).
    seqs: Range<u64>,
    seen: Vec<u64>,
    counts: StepCounts,
}

impl Tally {
    /// Opens a step whose messages carry `seqs` (steps follow each other in seq order).
    pub fn begin_step(&mut self, seqs: Range<u64>) {
        let n = seqs.end - seqs.start;
        self.seen.clear();
        self.seen.resize(n.div_ceil(64) as usize, 0);
        self.counts = StepCounts { expected: n, ..StepCounts::default() };
        self.seqs = seqs;
    }

    /// Records a delivery of `seq`.
    pub fn record(&mut self, seq: u64) -> Outcome {
        if !self.seqs.contains(&seq) {
            self.counts.late += 1;
            return Outcome::Late;
        }
        let i = seq - self.seqs.start;
        let (word, bit) = ((i / 64) as usize, 1u64 << (i % 64));
        if self.seen[word] & bit != 0 {
            self.counts.duplicates += 1;
            return Outcome::Duplicate;
        }
        self.seen[word] |= bit;
        self.counts.received += 1;
        if seq < self.highest {
            self.counts.order_violations += 1;
        } else {
            self.highest = seq;
        }
        Outcome::New
    }

    /// Closes the open step: what never came is loss. Later deliveries of its seqs are `late`.
    pub fn end_step(&mut self) -> StepCounts {
        let mut counts = self.counts;
        counts.loss = counts.expected - counts.received;
        self.seqs = 0..0;
        self.seen = Vec::new();
        self.counts = StepCounts::default();
        counts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tally(seqs: Range<u64>) -> Tally {
        let mut t = Tally::default();
        t.begin_step(seqs);
        t
    }

    #[test]
    fn every_seq_once_in_order_is_a_clean_step() {
        let mut t = tally(1..101);
        for seq in 1..101 {
            assert_eq!(t.record(seq), Outcome::New);
        }
        assert_eq!(t.end_step(), StepCounts { expected: 100, received: 100, ..StepCounts::default() });
    }

    #[test]
    fn seqs_that_never_came_by_the_end_of_the_step_are_loss() {
        let mut t = tally(1..11);
        for seq in [1, 2, 3, 7, 10] {
            t.record(seq);
        }
        let c = t.end_step();
        assert_eq!((c.received, c.loss), (5, 5));
    }

    #[test]
    fn a_seq_received_twice_is_a_duplicate_and_counts_once() {
        let mut t = tally(1..4);
        t.record(1);
        t.record(2);
        assert_eq!(t.record(2), Outcome::Duplicate);
        assert_eq!(t.record(1), Outcome::Duplicate, "a duplicate is not also an order violation");
        t.record(3);
        let c = t.end_step();
        assert_eq!((c.received, c.duplicates, c.order_violations, c.loss), (3, 2, 0, 0));
    }

    #[test]
    fn a_seq_lower_than_one_received_before_is_an_order_violation() {
        let mut t = tally(1..6);
        for seq in [1, 3, 2, 5, 4] {
            assert_eq!(t.record(seq), Outcome::New);
        }
        let c = t.end_step();
        assert_eq!((c.received, c.order_violations, c.loss), (5, 2, 0));
    }

    #[test]
    fn order_is_judged_across_steps() {
        let mut t = tally(1..3);
        t.record(1);
        t.end_step(); // seq 2 lost
        t.begin_step(3..5);
        t.record(4);
        t.record(3);
        assert_eq!(t.end_step().order_violations, 1);
    }

    #[test]
    fn a_seq_of_a_closed_step_is_late_not_new() {
        let mut t = tally(1..3);
        t.record(1);
        assert_eq!(t.end_step().loss, 1);
        t.begin_step(3..5);
        assert_eq!(t.record(2), Outcome::Late);
        t.record(3);
        t.record(4);
        let c = t.end_step();
        assert_eq!((c.received, c.late, c.loss, c.order_violations), (2, 1, 0, 0));
    }

    #[test]
    fn steps_longer_than_one_bitmap_word_are_tracked_exactly() {
        let mut t = tally(1000..1200);
        for seq in (1000..1200).filter(|s| s % 3 != 0) {
            t.record(seq);
        }
        assert_eq!(t.record(1199), Outcome::Duplicate);
        let c = t.end_step();
        assert_eq!(c.loss, (1000..1200).filter(|s| s % 3 == 0).count() as u64);
    }
}
