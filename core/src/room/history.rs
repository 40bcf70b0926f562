//! Reading a room: history pages and the JSON answers of the read routes.

use super::{Ack, Entry, Log, Room};
use crate::error::Error;
use crate::ids::{RoomId, User};
use crate::store::StoreError;

/// A page of history, oldest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    /// `message` frames, as members received them.
    pub messages: Vec<String>,
    /// Pass as `after` to get the next page; `None` when this page reaches the end.
    pub next: Option<u64>,
    /// The room's last seq when the page was read.
    pub seq: u64,
}

/// A history request: `after < seq < before`, at most `limit` messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HistoryQuery {
    pub after: u64,
    pub before: Option<u64>,
    pub limit: usize,
}

/// Default and largest history page.
pub const PAGE_DEFAULT: usize = 100;
pub const PAGE_MAX: usize = 1000;

/// The log is read in chunks of this many messages.
const CHUNK: usize = 256;

impl<L: Log> Room<L> {
    /// A page of the log, oldest first: at most `limit` messages and, past the first,
    /// `max_batch_bytes` of them.
    pub fn history(&mut self, now: i64, query: HistoryQuery) -> Result<Page, Error> {
        let (floor, min_ts) = self.window(now);
        let before = query.before.unwrap_or(u64::MAX).min(self.last_seq + 1);
        let (entries, more) = self
            .collect(query.after.max(floor), before, min_ts, query.limit, self.limits.max_batch_bytes)
            .map_err(|e| Error::internal(format!("could not read the room's log: {e}")))?;
        let next = if more { entries.last().map(|e| e.seq) } else { None };
        Ok(Page { messages: entries.into_iter().map(|e| e.frame).collect(), next, seq: self.last_seq })
    }

    /// Entries with `after < seq < before` and `ts >= min_ts`, oldest first, up to `max_count`
    /// and (past the first) `max_bytes` of frames; `true` when more remain in the range. Reads
    /// chunk by chunk, so memory stays near the cap whatever the range.
    pub(crate) fn collect(
        &mut self,
        after: u64,
        before: u64,
        min_ts: i64,
        max_count: usize,
        max_bytes: usize,
    ) -> Result<(Vec<Entry>, bool), StoreError> {
        let mut out: Vec<Entry> = Vec::new();
        let mut bytes = 0;
        let mut cursor = after;
        loop {
            // One more than needed tells whether the range goes on.
            let want = (max_count - out.len()).min(CHUNK) + 1;
            let chunk = self.log.read(cursor, before, min_ts, want)?;
            let exhausted = chunk.len() < want;
            for entry in chunk {
                if out.len() == max_count || (!out.is_empty() && bytes + entry.frame.len() > max_bytes) {
                    return Ok((out, true));
                }
                bytes += entry.frame.len();
                cursor = entry.seq;
                out.push(entry);
            }
            if exhausted {
                return Ok((out, false));
            }
        }
    }
}

impl HistoryQuery {
    /// From the query string's `after`, `before` and `limit`.
    pub fn parse(after: Option<&str>, before: Option<&str>, limit: Option<&str>) -> Result<Self, Error> {
        fn seq(name: &str, raw: Option<&str>) -> Result<Option<u64>, Error> {
            raw.map(|r| {
                r.parse::<u64>().map_err(|_| Error::invalid_field(name, format!("must be a whole number, not {r:?}")))
            })
            .transpose()
        }
        let limit = match seq("limit", limit)? {
            None => PAGE_DEFAULT,
            Some(n) if (1..=PAGE_MAX as u64).contains(&n) => n as usize,
            Some(n) => return Err(Error::invalid_field("limit", format!("must be between 1 and {PAGE_MAX}, not {n}"))),
        };
        Ok(Self { after: seq("after", after)?.unwrap_or(0), before: seq("before", before)?, limit })
    }
}

impl Page {
    /// `{"room": .., "seq": .., "messages": [..], "next": ..}`
    pub fn to_json(&self, room: &RoomId) -> String {
        let head = serde_json::json!({ "room": room, "seq": self.seq, "next": self.next });
        let head = head.to_string();
        // Splice the stored frames in as they are: they are JSON the room wrote itself.
        format!("{},\"messages\":[{}]}}", &head[..head.len() - 1], self.messages.join(","))
    }
}

/// `{"room": .., "members": [..], "connections": n}`
pub fn presence_json(room: &RoomId, members: &[&User], connections: usize) -> String {
    serde_json::json!({ "room": room, "members": members, "connections": connections }).to_string()
}

/// The ack as a REST body: `{"id": .., "seq": .., "duplicate"?: true}`.
pub fn ack_json(ack: &Ack) -> String {
    serde_json::to_string(ack).expect("acks serialize")
}
