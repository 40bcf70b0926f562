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

use std::collections::HashMap;
use std::hash::Hash;

/// Bytes sent to one connection since its last sign of life.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Backlog {
    bytes: usize,
    /// When the client last showed it was there (ms since the epoch).
    life_at: i64,
    /// Bytes the client asked for (a replay) that do not count when they come.
    credit: usize,
    /// Bytes the credit covered that the client has not shown it took yet (a long-polling
    /// buffer holds them until a GET): they do not count while they wait either.
    credited: usize,
}

/// How much asked-for data a connection may have outstanding, in bounds: a client asking for
/// more replays at once than this gets no more allowance for them. So a client that stalled
/// after asking is sent at most this many bounds more than one that did not.
pub const CREDIT_BOUNDS: usize = 1;

/// The bound when none is configured (`MAX_BACKLOG_BYTES`): 4 MiB.
pub const DEFAULT_MAX_BYTES: usize = 4 * 1024 * 1024;

impl Backlog {
    /// A connection that opened at `now` (its opening request is a sign of life).
    pub fn new(now: i64) -> Self {
        Self { bytes: 0, life_at: now, credit: 0, credited: 0 }
    }

    /// `bytes` more were sent; whether the connection is now past `bound`. Past it, the caller
    /// asks for any later sign of life it has not told yet (the runtime's last auto-answered
    /// ping) before taking the client for a slow consumer.
    pub fn sent(&mut self, bytes: usize, bound: usize) -> bool {
        let credited = bytes.min(self.credit);
        self.credit -= credited;
        self.credited = self.credited.saturating_add(credited);
        self.bytes = self.bytes.saturating_add(bytes - credited);
        self.is_over(bound)
    }

    /// The client asked for up to `bytes` more (a replay of a room's log): those do not count
    /// when they come. What it may have asked for and not yet received is at most
    /// [`CREDIT_BOUNDS`] bounds.
    pub fn asked(&mut self, bytes: usize, bound: usize) {
        self.credit = self.credit.saturating_add(bytes).min(bound.saturating_mul(CREDIT_BOUNDS));
    }

    /// A sign of life at `at`: the count starts again from nothing. One older than the last
    /// known changes nothing (the bytes sent since that one are still unanswered).
    pub fn alive(&mut self, at: i64) {
        if at > self.life_at {
            self.life_at = at;
            self.bytes = 0;
            self.credited = 0;
        }
    }

    /// A sign of life at `at` from a client that takes what was sent in batches (a long-polling
    /// GET): `bytes` are still waiting for its next one, so they count as unanswered, but for
    /// those the client asked for.
    pub fn waiting(&mut self, at: i64, bytes: usize) {
        self.life_at = self.life_at.max(at);
        self.credited = self.credited.min(bytes);
        self.bytes = bytes - self.credited;
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

/// The backlogs of a room's own sockets, which are mostly sent the same frames: one count of
/// the bytes broadcast, and for each socket where that count stood at its last sign of life,
/// plus what it alone was sent (less what it was left out of). A broadcast is one addition,
/// whatever the number of sockets; the sockets are looked at once an eighth of the bound has
/// been broadcast since the last look (so one may pass the bound by up to that much before it
/// is seen), or when a send to one socket took it past.
#[derive(Debug)]
pub struct Backlogs<K> {
    broadcast: u64,
    marks: HashMap<K, Mark>,
    bound: usize,
    /// The broadcast count when the sockets were last looked at.
    looked_at: u64,
    /// Sockets a send to them alone took past the bound since the last look.
    flagged: Vec<K>,
}

#[derive(Debug, Clone, Copy)]
struct Mark {
    /// The broadcast count at the socket's last sign of life.
    from: u64,
    /// Bytes sent to it alone, less those broadcast while it was left out.
    own: i64,
    life_at: i64,
}

impl<K: Eq + Hash + Clone> Backlogs<K> {
    /// No sockets yet; `bound` is the slow-consumer bound.
    pub fn new(bound: usize) -> Self {
        Self { broadcast: 0, marks: HashMap::new(), bound, looked_at: 0, flagged: Vec::new() }
    }

    /// A socket that opened (or was found open) at `now`.
    pub fn insert(&mut self, key: K, now: i64) {
        self.marks.insert(key, Mark { from: self.broadcast, own: 0, life_at: now });
    }

    pub fn remove(&mut self, key: &K) {
        self.marks.remove(key);
    }

    /// `key` showed a sign of life at `at` ([`Backlog::alive`]).
    pub fn alive(&mut self, key: &K, at: i64) {
        if let Some(mark) = self.marks.get_mut(key).filter(|mark| at > mark.life_at) {
            *mark = Mark { from: self.broadcast, own: 0, life_at: at };
        }
    }

    /// `bytes` were sent to `key` alone.
    pub fn sent(&mut self, key: &K, bytes: usize) {
        let broadcast = self.broadcast;
        if let Some(mark) = self.marks.get_mut(key) {
            mark.own = mark.own.saturating_add(bytes as i64);
            if unanswered(broadcast, mark) > self.bound as u64 {
                self.flagged.push(key.clone());
            }
        }
    }

    /// `bytes` were sent to every socket but `except`; `extra` adds to that for some of them
    /// (a socket sent a translation of the frame, longer or shorter, rather than the frame).
    pub fn broadcast(&mut self, bytes: usize, except: Option<&K>) {
        self.broadcast = self.broadcast.saturating_add(bytes as u64);
        if let Some(mark) = except.and_then(|key| self.marks.get_mut(key)) {
            mark.own = mark.own.saturating_sub(bytes as i64);
        }
    }

    /// What `key` was sent differs from the broadcast by `delta` bytes.
    pub fn adjust(&mut self, key: &K, delta: i64) {
        if let Some(mark) = self.marks.get_mut(key) {
            mark.own = mark.own.saturating_add(delta);
        }
    }

    /// The sockets that may be past the bound now, for the caller to check against any later
    /// sign of life it has ([`Backlogs::alive`]) and then [`Backlogs::is_over`]. Empty unless
    /// an eighth of the bound was broadcast since the last look, or a send flagged one.
    pub fn candidates(&mut self) -> Vec<K> {
        let due = self.broadcast - self.looked_at >= (self.bound as u64 / 8).max(1);
        if !due && self.flagged.is_empty() {
            return Vec::new();
        }
        self.flagged.clear();
        if due {
            self.looked_at = self.broadcast;
        }
        let (broadcast, bound) = (self.broadcast, self.bound as u64);
        self.marks.iter().filter(|(_, mark)| unanswered(broadcast, mark) > bound).map(|(key, _)| key.clone()).collect()
    }

    /// Whether `key` was sent more than the bound since its last sign of life.
    pub fn is_over(&self, key: &K) -> bool {
        self.marks.get(key).is_some_and(|mark| unanswered(self.broadcast, mark) > self.bound as u64)
    }

    /// The bytes sent to `key` since its last sign of life.
    pub fn bytes(&self, key: &K) -> u64 {
        self.marks.get(key).map_or(0, |mark| unanswered(self.broadcast, mark))
    }
}

/// What a socket was sent since its last sign of life.
fn unanswered(broadcast: u64, mark: &Mark) -> u64 {
    let shared = broadcast - mark.from;
    if mark.own >= 0 {
        shared.saturating_add(mark.own as u64)
    } else {
        shared.saturating_sub(mark.own.unsigned_abs())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_broadcast_counts_for_every_socket_but_the_one_left_out() {
        let mut backlogs = Backlogs::new(800);
        backlogs.insert("a", 0);
        backlogs.insert("b", 0);
        backlogs.broadcast(300, None);
        backlogs.broadcast(300, Some(&"b"));
        assert_eq!((backlogs.bytes(&"a"), backlogs.bytes(&"b")), (600, 300));
        backlogs.sent(&"b", 50);
        backlogs.adjust(&"b", 7);
        assert_eq!(backlogs.bytes(&"b"), 357);
    }

    #[test]
    fn sockets_are_looked_at_once_an_eighth_of_the_bound_went_out_or_a_send_took_one_past() {
        let mut backlogs = Backlogs::new(800);
        backlogs.insert("slow", 0);
        backlogs.broadcast(99, None);
        assert_eq!(backlogs.candidates(), Vec::<&str>::new(), "not yet an eighth");
        for _ in 0..8 {
            backlogs.broadcast(100, None);
        }
        assert_eq!(backlogs.candidates(), vec!["slow"], "899 bytes: past 800");
        assert!(backlogs.is_over(&"slow"));
        assert_eq!(backlogs.candidates(), Vec::<&str>::new(), "looked at already");
        let mut fresh = Backlogs::new(800);
        fresh.insert("new", 10);
        fresh.sent(&"new", 801);
        assert_eq!(fresh.candidates(), vec!["new"], "a send to one socket flags it at once");
    }

    #[test]
    fn a_sign_of_life_answers_what_was_sent_before_it() {
        let mut backlogs = Backlogs::new(800);
        backlogs.insert("s", 0);
        for _ in 0..9 {
            backlogs.broadcast(100, None);
        }
        backlogs.alive(&"s", 5);
        assert!(!backlogs.is_over(&"s"));
        assert_eq!(backlogs.bytes(&"s"), 0);
        backlogs.broadcast(100, None);
        backlogs.alive(&"s", 4);
        assert_eq!(backlogs.bytes(&"s"), 100, "an older sign of life changes nothing");
        backlogs.remove(&"s");
        assert!(!backlogs.is_over(&"s"));
    }

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
    fn what_the_client_asked_for_does_not_count_when_it_comes() {
        let mut backlog = Backlog::new(0);
        backlog.asked(60, 100);
        backlog.asked(60, 100);
        assert!(!backlog.sent(200, 100), "the credit is capped at one bound, and covers 100 of these");
        assert_eq!(backlog.bytes(), 100);
        assert!(backlog.sent(1, 100), "past the credit, bytes count again");
    }

    #[test]
    fn asked_for_bytes_that_wait_in_a_buffer_do_not_count_while_they_wait() {
        let mut backlog = Backlog::new(0);
        backlog.asked(100, 100);
        backlog.sent(150, 100);
        // A GET took 50 of the 150: 100 wait, of which up to 100 were asked for.
        backlog.waiting(5, 100);
        assert_eq!(backlog.bytes(), 0);
        backlog.waiting(6, 30);
        assert_eq!(backlog.bytes(), 0, "what waits is what was asked for, at most");
        backlog.sent(90, 100);
        assert_eq!(backlog.bytes(), 90);
        backlog.waiting(7, 120);
        assert_eq!(backlog.bytes(), 90, "120 waiting, 30 of them asked for");
    }

    #[test]
    fn counting_never_overflows() {
        let mut backlog = Backlog::new(0);
        backlog.sent(usize::MAX, 10);
        assert!(backlog.sent(usize::MAX, 10));
        assert_eq!(backlog.bytes(), usize::MAX);
    }
}
