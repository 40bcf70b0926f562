//! The slow-consumer rule, defined once for every connection Herald writes to: a room's
//! websockets, a Socket.IO session's websocket and its long-polling buffer.
//!
//! The runtime gives no `bufferedAmount`: Herald cannot see what a client has not read yet.
//! What stands in for it is the bytes sent to the connection since its last sign of life — any
//! frame or request from the client, or its last ping the runtime answered by itself. A
//! connection past [`crate::config::Limits::max_backlog_bytes`] of them is taken for a client
//! that stopped reading (a frozen tab, a stalled network): it is closed with a code that says
//! "reconnect", and it resumes from the room's durable log. A client that receives a lot and
//! says nothing must ping to stay within the bound. Centrifugo's client queue limit is the
//! model; without it, the server holds everything a stalled reader is sent.

/// Bytes sent to one connection since its last sign of life.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Backlog {
    bytes: usize,
    /// When the client last showed it was there (ms since the epoch).
    life_at: i64,
}

impl Backlog {
    /// A connection that opened at `now` (its opening request is a sign of life).
    pub fn new(now: i64) -> Self {
        Self { bytes: 0, life_at: now }
    }

    /// `bytes` more were sent; whether the connection is now past `bound`. Past it, the caller
    /// asks for any later sign of life it has not told yet (the runtime's last auto-answered
    /// ping) before taking the client for a slow consumer.
    pub fn sent(&mut self, bytes: usize, bound: usize) -> bool {
        self.bytes = self.bytes.saturating_add(bytes);
        self.is_over(bound)
    }

    /// A sign of life at `at`: the count starts again from nothing. One older than the last
    /// known changes nothing (the bytes sent since that one are still unanswered).
    pub fn alive(&mut self, at: i64) {
        if at > self.life_at {
            self.life_at = at;
            self.bytes = 0;
        }
    }

    /// A sign of life at `at` from a client that takes what was sent in batches (a long-polling
    /// GET): `bytes` are still waiting for its next one, so they count as unanswered.
    pub fn waiting(&mut self, at: i64, bytes: usize) {
        self.life_at = self.life_at.max(at);
        self.bytes = bytes;
    }

    /// Whether more than `bound` bytes went out since the last sign of life.
    pub fn is_over(&self, bound: usize) -> bool {
        self.bytes > bound
    }

    /// The bytes sent since the last sign of life.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// When the client last showed it was there.
    pub fn life_at(&self) -> i64 {
        self.life_at
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_connection_is_over_only_past_the_bound() {
        let mut backlog = Backlog::new(1_000);
        assert!(!backlog.sent(60, 100));
        assert!(!backlog.sent(40, 100), "exactly the bound is within it");
        assert!(backlog.sent(1, 100));
        assert_eq!(backlog.bytes(), 101);
    }

    #[test]
    fn a_sign_of_life_starts_the_count_again_but_an_older_one_does_not() {
        let mut backlog = Backlog::new(1_000);
        backlog.sent(500, 100);
        backlog.alive(2_000);
        assert_eq!((backlog.bytes(), backlog.life_at()), (0, 2_000));
        backlog.sent(500, 100);
        backlog.alive(1_500);
        assert!(backlog.is_over(100), "a ping from before the last sign of life answers nothing new");
        backlog.alive(2_000);
        assert!(backlog.is_over(100), "nor does the same one again");
        backlog.alive(2_001);
        assert!(!backlog.is_over(100));
    }

    #[test]
    fn what_a_batch_left_waiting_still_counts() {
        let mut backlog = Backlog::new(0);
        backlog.sent(900, 1_000);
        backlog.waiting(10, 400);
        assert_eq!((backlog.bytes(), backlog.life_at()), (400, 10));
        assert!(backlog.sent(601, 1_000), "what waits and what is new add up");
        backlog.waiting(5, 0);
        assert_eq!(backlog.life_at(), 10, "time never goes back");
    }

    #[test]
    fn counting_never_overflows() {
        let mut backlog = Backlog::new(0);
        backlog.sent(usize::MAX, 10);
        assert!(backlog.sent(usize::MAX, 10));
        assert_eq!(backlog.bytes(), usize::MAX);
    }
}
