//! Job idempotency: a job (one email or SMS, keyed `{user}/{seq}/{channel}`) is sent at most
//! once, however often the queue delivers it or the consumer retries it.
//!
//! The fallback consumer asks the job's inbox before sending (`/jobs/claim`), and reports after
//! (`/jobs/done` once the provider took it, `/jobs/release` when the send failed). Each key is
//! in one state, kept in the inbox's SQLite (`inbox_jobs`):
//!
//! | state | a claim answers ([`Claim`]) | then |
//! |---|---|---|
//! | (unknown) / `queued` / `released` | go, with the claim's number | `claimed` for [`LEASE_MS`] |
//! | `claimed`, lease running | held until the lease ends: ask again then | — |
//! | `claimed`, lease run out | go (that attempt died), with a new number | `claimed` again |
//! | `done` | sent: never again | — |
//! | `skipped` | skipped: never sent | — |
//!
//! A claim is also answered skipped (and the key becomes `skipped`) when the job's
//! notification was read since the job was queued (the inbox records each job it queues with
//! its notification's seq), or when the job's `expires_at` (its notification's ttl) has passed.
//!
//! Only the claim that holds a key may release it: each claim has a number, which the report
//! carries, and a release with another number (an attempt whose lease ran out, while a newer
//! attempt holds the key) changes nothing. A done is taken from any attempt: the provider took
//! the job, so nothing may send it again.
//!
//! Finished keys (`done`, `skipped`) are pruned with their notifications ([`Ledger::prune`]).

use crate::exchange::wire::JobClaim;
use crate::store::{Sql, SqlValue, StoreError};

/// How long a claim holds a job: longer than any attempt takes (a claim, a send bounded by
/// `FALLBACK_SEND_TIMEOUT_SECONDS`, at most [`crate::exchange::settings::SEND_TIMEOUT_MAX_SECONDS`], and a
/// report). An attempt that neither reports done nor releases (its consumer died) lets the next
/// one in after this.
pub const LEASE_MS: i64 = 60_000;

// The lease must outlast the longest send with room for the claim and the report around it.
const _: () = assert!(LEASE_MS >= 2 * crate::exchange::settings::SEND_TIMEOUT_MAX_SECONDS as i64 * 1000);

const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS inbox_jobs (
    key TEXT PRIMARY KEY,
    seq INTEGER,
    state TEXT NOT NULL,
    lease_until INTEGER NOT NULL DEFAULT 0,
    claims INTEGER NOT NULL DEFAULT 0
)";

/// What a claim answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// Send it; report with this claim's number.
    Go { claim: u64 },
    /// Another attempt holds it until `until` (ms): ask again then.
    Held { until: i64 },
    /// It was sent.
    Sent,
    /// It is not to be sent: read since it was queued, or past its ttl.
    Skipped,
}

impl From<Claim> for JobClaim {
    fn from(claim: Claim) -> Self {
        match claim {
            Claim::Go { claim } => Self { go: true, claim: Some(claim), held_until_ms: None },
            Claim::Held { until } => Self { go: false, claim: None, held_until_ms: Some(until) },
            Claim::Sent | Claim::Skipped => Self { go: false, claim: None, held_until_ms: None },
        }
    }
}

pub struct Ledger<S: Sql> {
    sql: S,
}

/// One key's row.
struct Row {
    seq: Option<u64>,
    state: String,
    lease_until: i64,
    claims: u64,
}

impl<S: Sql> Ledger<S> {
    pub fn open(sql: S) -> Result<Self, StoreError> {
        sql.exec(SCHEMA, &[])?;
        // A table made before claims were numbered gets the column.
        if sql.exec("SELECT claims FROM inbox_jobs LIMIT 0", &[]).is_err() {
            sql.exec("ALTER TABLE inbox_jobs ADD COLUMN claims INTEGER NOT NULL DEFAULT 0", &[])?;
        }
        // The pushes a read finds (`inbox/told.rs`) and the prune read by state and seq.
        sql.exec("CREATE INDEX IF NOT EXISTS inbox_jobs_state_seq ON inbox_jobs (state, seq)", &[])?;
        Ok(Self { sql })
    }

    fn row(&self, key: &str) -> Result<Option<Row>, StoreError> {
        let rows = self.sql.exec(
            "SELECT seq, state, lease_until, claims FROM inbox_jobs WHERE key = ?",
            &[SqlValue::Text(key.to_owned())],
        )?;
        let Some(row) = rows.into_iter().next() else { return Ok(None) };
        match row.as_slice() {
            [seq, SqlValue::Text(state), lease, claims] => Ok(Some(Row {
                seq: seq.int().map(|s| s as u64),
                state: state.clone(),
                lease_until: lease.int().unwrap_or(0),
                claims: claims.int().unwrap_or(0).max(0) as u64,
            })),
            _ => Err(StoreError("an inbox_jobs row has the wrong columns".into())),
        }
    }

    fn put(&self, key: &str, seq: Option<u64>, state: &str, lease_until: i64, claims: u64) -> Result<(), StoreError> {
        let seq = seq.map_or(SqlValue::Null, |s| SqlValue::Int(s as i64));
        self.sql.exec(
            "INSERT OR REPLACE INTO inbox_jobs (key, seq, state, lease_until, claims) VALUES (?, ?, ?, ?, ?)",
            &[
                SqlValue::Text(key.to_owned()),
                seq,
                SqlValue::Text(state.into()),
                SqlValue::Int(lease_until),
                SqlValue::Int(claims as i64),
            ],
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

    /// May an attempt send `key` now? `settled` says whether a notification no longer needs
    /// the job (read since it was queued; for a push, acknowledged); `expires_at` is the job's
    /// (none is sent from then on).
    pub fn claim(
        &self,
        now: i64,
        key: &str,
        settled: impl Fn(u64) -> bool,
        expires_at: Option<i64>,
    ) -> Result<Claim, StoreError> {
        let row = self.row(key)?;
        let (seq, claims) = row.as_ref().map_or((None, 0), |r| (r.seq, r.claims));
        match row.as_ref().map(|r| (r.state.as_str(), r.lease_until)) {
            Some(("done", _)) => return Ok(Claim::Sent),
            Some(("skipped", _)) => return Ok(Claim::Skipped),
            Some(("claimed", until)) if until > now => return Ok(Claim::Held { until }),
            _ => {}
        }
        if seq.is_some_and(settled) || expires_at.is_some_and(|at| now >= at) {
            self.put(key, seq, "skipped", 0, claims)?;
            return Ok(Claim::Skipped);
        }
        let claim = claims + 1;
        self.put(key, seq, "claimed", now + LEASE_MS, claim)?;
        Ok(Claim::Go { claim })
    }

    /// The provider took `key` (or may have: see `attempt.rs`): it is never sent again.
    pub fn done(&self, key: &str) -> Result<(), StoreError> {
        let row = self.row(key)?;
        let (seq, claims) = row.map_or((None, 0), |r| (r.seq, r.claims));
        self.put(key, seq, "done", 0, claims)
    }

    /// The attempt holding `key` with claim number `claim` failed to send it: a retry may
    /// claim it at once. A key that is done stays done; a key another claim holds stays held.
    pub fn release(&self, key: &str, claim: Option<u64>) -> Result<(), StoreError> {
        match self.row(key)? {
            Some(row) if row.state == "claimed" && Some(row.claims) == claim => {
                self.put(key, row.seq, "released", 0, row.claims)
            }
            _ => Ok(()),
        }
    }

    /// Forgets the finished keys (`done`, `skipped`) of notifications older than `seq_below`
    /// (those the inbox no longer keeps). Keys still queued or claimed stay: their jobs may
    /// still come.
    pub fn prune(&self, seq_below: u64) -> Result<(), StoreError> {
        self.sql.exec(
            "DELETE FROM inbox_jobs WHERE state IN ('done', 'skipped') AND seq < ?",
            &[SqlValue::Int(seq_below as i64)],
        )?;
        Ok(())
    }
}
