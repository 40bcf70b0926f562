//! Job idempotency: a job (one email or SMS, keyed `{user}/{notification}/{channel}`) is sent
//! at most once, however often the queue delivers it or the consumer retries it.
//!
//! The fallback consumer asks the job's inbox before sending (`/jobs/claim`), and reports after
//! (`/jobs/done` once the provider took it, `/jobs/release` when the send failed). Each key is
//! in one state, kept in the inbox's SQLite (`inbox_jobs`):
//!
//! | state | a claim answers | then |
//! |---|---|---|
//! | (unknown) / `queued` / `released` | go | `claimed` for [`LEASE_MS`] |
//! | `claimed`, lease running | no: another attempt holds it | — |
//! | `claimed`, lease run out | go (that attempt died) | `claimed` again |
//! | `done` | no: it was sent | — |
//! | `skipped` | no: the notification was read before it went out | — |
//!
//! The inbox records each job it queues (`queued`, with its notification's seq), so a claim of
//! a job whose notification was read since is answered no, and the job becomes `skipped`.

use crate::room::{Sql, SqlValue, StoreError};

/// How long a claim holds a job: longer than any provider call takes. An attempt that neither
/// reports done nor releases (its consumer died) lets the next one in after this.
pub const LEASE_MS: i64 = 60_000;

const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS inbox_jobs (
    key TEXT PRIMARY KEY,
    seq INTEGER,
    state TEXT NOT NULL,
    lease_until INTEGER NOT NULL DEFAULT 0
)";

pub struct Ledger<S: Sql> {
    sql: S,
}

/// One key's row.
struct Row {
    seq: Option<u64>,
    state: String,
    lease_until: i64,
}

impl<S: Sql> Ledger<S> {
    pub fn open(sql: S) -> Result<Self, StoreError> {
        sql.exec(SCHEMA, &[])?;
        Ok(Self { sql })
    }

    fn row(&self, key: &str) -> Result<Option<Row>, StoreError> {
        let rows = self
            .sql
            .exec("SELECT seq, state, lease_until FROM inbox_jobs WHERE key = ?", &[SqlValue::Text(key.to_owned())])?;
        let Some(row) = rows.into_iter().next() else { return Ok(None) };
        match row.as_slice() {
            [seq, SqlValue::Text(state), lease] => Ok(Some(Row {
                seq: int(seq).map(|s| s as u64),
                state: state.clone(),
                lease_until: int(lease).unwrap_or(0),
            })),
            _ => Err(StoreError("an inbox_jobs row has the wrong columns".into())),
        }
    }

    fn put(&self, key: &str, seq: Option<u64>, state: &str, lease_until: i64) -> Result<(), StoreError> {
        let seq = seq.map_or(SqlValue::Null, |s| SqlValue::Int(s as i64));
        self.sql.exec(
            "INSERT OR REPLACE INTO inbox_jobs (key, seq, state, lease_until) VALUES (?, ?, ?, ?)",
            &[SqlValue::Text(key.to_owned()), seq, SqlValue::Text(state.into()), SqlValue::Int(lease_until)],
        )?;
        Ok(())
    }

    /// The inbox queued the job `key` for its notification `seq` (a job queued again keeps
    /// whatever state it reached).
    pub fn queued(&self, key: &str, seq: u64) -> Result<(), StoreError> {
        self.sql.exec(
            "INSERT OR IGNORE INTO inbox_jobs (key, seq, state) VALUES (?, ?, 'queued')",
            &[SqlValue::Text(key.to_owned()), SqlValue::Int(seq as i64)],
        )?;
        Ok(())
    }

    /// May an attempt send `key` now? `read_upto` is the inbox's read mark: a job of a
    /// notification read since it was queued is not sent.
    pub fn claim(&self, now: i64, key: &str, read_upto: u64) -> Result<bool, StoreError> {
        let row = self.row(key)?;
        let seq = row.as_ref().and_then(|r| r.seq);
        match row.as_ref().map(|r| (r.state.as_str(), r.lease_until)) {
            Some(("done" | "skipped", _)) => return Ok(false),
            Some(("claimed", until)) if until > now => return Ok(false),
            _ => {}
        }
        if seq.is_some_and(|seq| seq <= read_upto) {
            self.put(key, seq, "skipped", 0)?;
            return Ok(false);
        }
        self.put(key, seq, "claimed", now + LEASE_MS)?;
        Ok(true)
    }

    /// The provider took `key`: it is never sent again.
    pub fn done(&self, key: &str) -> Result<(), StoreError> {
        let seq = self.row(key)?.and_then(|r| r.seq);
        self.put(key, seq, "done", 0)
    }

    /// The attempt holding `key` failed to send it: a retry may claim it at once. A key that
    /// is done stays done.
    pub fn release(&self, key: &str) -> Result<(), StoreError> {
        match self.row(key)? {
            Some(row) if row.state == "claimed" => self.put(key, row.seq, "released", 0),
            _ => Ok(()),
        }
    }
}

fn int(value: &SqlValue) -> Option<i64> {
    match value {
        SqlValue::Int(i) => Some(*i),
        // Durable Object SQLite hands integers to Rust through JavaScript numbers.
        SqlValue::Real(f) if f.fract() == 0.0 => Some(*f as i64),
        _ => None,
    }
}
