//! A room's durable log: the contract every storage implementation keeps, and an in-memory one.
//!
//! The room calls its log synchronously while it handles an input (a Durable Object's SQLite is
//! synchronous), so the write of a message and of its idempotency key happen in the same step
//! as the decision to publish it. `tests/log_suite.rs` runs one suite against every
//! implementation.

use crate::store::StoreError;
use std::collections::{BTreeMap, HashMap};

/// One stored message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub seq: u64,
    /// The message id: the publisher's idempotency key, or a fresh id.
    pub id: String,
    /// The publisher's user id; keys are unique per publisher.
    pub publisher: String,
    /// When the room accepted it, in milliseconds since the epoch.
    pub ts: i64,
    /// The `message` frame exactly as members received it.
    pub frame: String,
}

/// What a room needs from its storage.
pub trait Log {
    /// The highest seq ever appended; 0 for a new room. Pruning never removes the newest entry,
    /// so this survives retention.
    fn last_seq(&mut self) -> Result<u64, StoreError>;
    /// The seq of the entry `publisher` stored under `id`, if it is still kept.
    fn find(&mut self, publisher: &str, id: &str) -> Result<Option<u64>, StoreError>;
    /// Stores `entry`; its seq is one more than [`Log::last_seq`] and its ts is no earlier than
    /// the last entry's.
    fn append(&mut self, entry: &Entry) -> Result<(), StoreError>;
    /// Up to `limit` entries with `after < seq < before` and `ts >= min_ts`, oldest first.
    fn read(&mut self, after: u64, before: u64, min_ts: i64, limit: usize) -> Result<Vec<Entry>, StoreError>;
    /// Deletes entries with `seq < below` or `ts < min_ts`, except the newest entry. The room
    /// appends with non-decreasing `ts`, so both sets are a prefix of the log, and an
    /// implementation may rely on that.
    fn prune(&mut self, below: u64, min_ts: i64) -> Result<(), StoreError>;
}

/// A log in memory: for tests, tools and benchmarks of the core.
#[derive(Debug, Default)]
pub struct MemoryLog {
    entries: BTreeMap<u64, Entry>,
    keys: HashMap<(String, String), u64>,
    /// Set to make the next append fail, to test what the room does then.
    pub fail_next_append: bool,
}

impl MemoryLog {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

impl Log for MemoryLog {
    fn last_seq(&mut self) -> Result<u64, StoreError> {
        Ok(self.entries.keys().next_back().copied().unwrap_or(0))
    }

    fn find(&mut self, publisher: &str, id: &str) -> Result<Option<u64>, StoreError> {
        Ok(self.keys.get(&(publisher.to_owned(), id.to_owned())).copied())
    }

    fn append(&mut self, entry: &Entry) -> Result<(), StoreError> {
        if std::mem::take(&mut self.fail_next_append) {
            return Err(StoreError("injected failure".into()));
        }
        let key = (entry.publisher.clone(), entry.id.clone());
        if self.keys.contains_key(&key) || self.entries.contains_key(&entry.seq) {
            return Err(StoreError(format!("duplicate seq {} or key {:?}", entry.seq, entry.id)));
        }
        self.keys.insert(key, entry.seq);
        self.entries.insert(entry.seq, entry.clone());
        Ok(())
    }

    fn read(&mut self, after: u64, before: u64, min_ts: i64, limit: usize) -> Result<Vec<Entry>, StoreError> {
        if after.saturating_add(1) >= before {
            return Ok(Vec::new());
        }
        Ok(self
            .entries
            .range(after + 1..before)
            .map(|(_, e)| e)
            .filter(|e| e.ts >= min_ts)
            .take(limit)
            .cloned()
            .collect())
    }

    fn prune(&mut self, below: u64, min_ts: i64) -> Result<(), StoreError> {
        let newest = self.last_seq()?;
        let doomed: Vec<u64> = self
            .entries
            .values()
            .filter(|e| e.seq != newest && (e.seq < below || e.ts < min_ts))
            .map(|e| e.seq)
            .collect();
        for seq in doomed {
            if let Some(e) = self.entries.remove(&seq) {
                self.keys.remove(&(e.publisher, e.id));
            }
        }
        Ok(())
    }
}
