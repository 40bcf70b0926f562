//! The dead letters: fallback jobs that will not be sent, kept for the admin list
//! (`GET /api/v1/admin/dead-letters`). They live in one object, `deadletters:main`
//! (`durable_objects/src/dead_letters.rs`), in SQLite, written against [`Sql`] so the same
//! queries are tested natively.
//!
//! A job gets here two ways. The dead-letter queue's consumer keeps what the fallback queue
//! gave up on after its attempts; that message carries only the job, so the consumer's last
//! failed attempt first leaves a [`ReasonNote`], which the kept job takes up. And the fallback
//! consumer keeps at once a job no attempt could send (a permanent failure, a body that is not
//! a job). The newest [`KEPT_MAX`] are kept; a job kept again replaces its older entry.

use super::Job;
use crate::error::Error;
use crate::store::{Sql, SqlValue, StoreError};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Dead letters kept; the oldest beyond it are dropped.
pub const KEPT_MAX: i64 = 10_000;
/// How long a note waits for its job to come through the dead-letter queue, in ms.
pub const NOTE_MAX_AGE_MS: i64 = 7 * 24 * 3600 * 1000;
/// The page size of the admin list when none is asked for, and the largest.
pub const PAGE_DEFAULT: u32 = 50;
pub const PAGE_MAX: u32 = 100;

/// A job to keep (internal `POST /dead-letters`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeadLetter {
    /// The job's key (`message:{queue message id}` for a body that is not a job): one entry
    /// per key.
    pub key: String,
    /// The job as the queue carried it (any JSON, for a body that is not a job).
    pub job: Value,
    /// Deliveries made; from the job's note, or the configured attempts, when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempts: Option<u32>,
    /// Why it was not sent; from the job's note when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// When it was kept, ms since the epoch.
    pub at: i64,
}

impl DeadLetter {
    pub fn of_job(job: &Job, at: i64) -> Self {
        let mut value = serde_json::to_value(job).expect("jobs serialize");
        // A push's device is its capability (a Web Push endpoint and its keys, a device
        // token) and its receipt a credential: the dead letters name the device by its public
        // id and kind, and keep neither.
        if let (Some(push), Some(kept)) = (&job.push, value.get_mut("push")) {
            kept["device"] = serde_json::json!({ "id": push.device.public_id(), "os": push.device.os() });
            kept["receipt"] = Value::from("(withheld)");
        }
        Self { key: job.key.clone(), job: value, attempts: None, reason: None, at }
    }

    /// What the dead-letter queue's consumer keeps of a message (its body as JSON text, its
    /// queue id): the job, under its key; a body that is not a job, under the message's id.
    pub fn of_message(body: &str, message_id: &str, at: i64) -> Self {
        match serde_json::from_str::<Job>(body) {
            Ok(job) => Self::of_job(&job, at),
            Err(_) => Self::of_body(format!("message:{message_id}"), body, at),
        }
    }

    /// A queue message's body (JSON text; anything else is kept as a JSON string).
    pub fn of_body(key: String, body: &str, at: i64) -> Self {
        let job = serde_json::from_str(body).unwrap_or_else(|_| Value::String(body.to_owned()));
        Self { key, job, attempts: None, reason: None, at }
    }
}

/// Why a job's last attempt failed (internal `POST /dead-letters/notes`), left before the
/// queue moves the job to the dead-letter queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReasonNote {
    pub key: String,
    pub attempts: u32,
    pub reason: String,
    pub at: i64,
}

/// A page of the admin list: `limit` entries before the cursor `before` (newest first).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListQuery {
    pub limit: u32,
    pub before: Option<i64>,
}

impl ListQuery {
    /// The query parameters `limit` (1 to [`PAGE_MAX`]) and `cursor` (a page's `next`).
    pub fn parse(limit: Option<&str>, cursor: Option<&str>) -> Result<Self, Error> {
        let limit =
            match limit {
                None => PAGE_DEFAULT,
                Some(raw) => raw.parse().ok().filter(|n| (1..=PAGE_MAX).contains(n)).ok_or_else(|| {
                    Error::invalid_field("limit", format!("must be a whole number from 1 to {PAGE_MAX}"))
                })?,
            };
        let before = cursor
            .map(|raw| {
                raw.parse().ok().filter(|&n: &i64| n > 0).ok_or_else(|| {
                    Error::invalid_field("cursor", "is not a cursor this list gave (use the `next` of a page)")
                })
            })
            .transpose()?;
        Ok(Self { limit, before })
    }

    /// The query string of this page, for the internal call.
    pub fn to_query(self) -> String {
        match self.before {
            Some(before) => format!("limit={}&cursor={before}", self.limit),
            None => format!("limit={}", self.limit),
        }
    }
}

const SCHEMA: [&str; 2] = [
    "CREATE TABLE IF NOT EXISTS dead_letters (
        n INTEGER PRIMARY KEY,
        key TEXT NOT NULL UNIQUE,
        job TEXT NOT NULL,
        attempts INTEGER NOT NULL,
        reason TEXT,
        at INTEGER NOT NULL
    )",
    "CREATE TABLE IF NOT EXISTS dead_letter_notes (
        key TEXT PRIMARY KEY,
        attempts INTEGER NOT NULL,
        reason TEXT NOT NULL,
        at INTEGER NOT NULL
    )",
];

pub struct DeadLetters<S: Sql> {
    sql: S,
}

impl<S: Sql> DeadLetters<S> {
    /// Opens the store, creating its tables when they do not exist.
    pub fn open(sql: S) -> Result<Self, StoreError> {
        for statement in SCHEMA {
            sql.exec(statement, &[])?;
        }
        Ok(Self { sql })
    }

    /// Records why a job's last attempt failed (a later note replaces it).
    pub fn note(&self, note: &ReasonNote) -> Result<(), StoreError> {
        self.sql.exec(
            "INSERT OR REPLACE INTO dead_letter_notes (key, attempts, reason, at) VALUES (?, ?, ?, ?)",
            &[text(&note.key), SqlValue::Int(i64::from(note.attempts)), text(&note.reason), SqlValue::Int(note.at)],
        )?;
        Ok(())
    }

    /// Keeps `letter` as the newest entry, taking its attempts and reason from its note when it
    /// has none (`default_attempts` when there is no note either).
    pub fn keep(&self, letter: &DeadLetter, default_attempts: u32) -> Result<(), StoreError> {
        let key = text(&letter.key);
        let noted = self
            .sql
            .exec("SELECT attempts, reason FROM dead_letter_notes WHERE key = ?", std::slice::from_ref(&key))?;
        let (noted_attempts, noted_reason) = match noted.first().map(Vec::as_slice) {
            Some([attempts, SqlValue::Text(reason)]) => (Some(int(attempts)?), Some(reason.clone())),
            Some(_) => return Err(StoreError("a dead-letter note has the wrong columns".into())),
            None => (None, None),
        };
        let attempts = letter.attempts.map(i64::from).or(noted_attempts).unwrap_or(i64::from(default_attempts));
        let reason = letter.reason.clone().or(noted_reason);
        self.sql.exec("DELETE FROM dead_letters WHERE key = ?", std::slice::from_ref(&key))?;
        self.sql.exec(
            "INSERT INTO dead_letters (key, job, attempts, reason, at) VALUES (?, ?, ?, ?, ?)",
            &[
                key.clone(),
                text(&letter.job.to_string()),
                SqlValue::Int(attempts),
                reason.as_deref().map_or(SqlValue::Null, text),
                SqlValue::Int(letter.at),
            ],
        )?;
        self.sql.exec(
            "DELETE FROM dead_letter_notes WHERE key = ? OR at < ?",
            &[key, SqlValue::Int(letter.at - NOTE_MAX_AGE_MS)],
        )?;
        self.sql.exec(
            "DELETE FROM dead_letters WHERE n <= (SELECT n FROM dead_letters ORDER BY n DESC LIMIT 1 OFFSET ?)",
            &[SqlValue::Int(KEPT_MAX)],
        )?;
        Ok(())
    }

    /// A page of the list, newest first: `{"jobs": [{job, attempts, reason?, at}], "next"}`
    /// (`next` is the cursor of the following page, `null` on the last).
    pub fn page(&self, query: ListQuery) -> Result<String, StoreError> {
        let rows = self.sql.exec(
            "SELECT n, job, attempts, reason, at FROM dead_letters WHERE n < ? ORDER BY n DESC LIMIT ?",
            &[SqlValue::Int(query.before.unwrap_or(i64::MAX)), SqlValue::Int(i64::from(query.limit) + 1)],
        )?;
        let more = rows.len() > query.limit as usize;
        let mut jobs = Vec::new();
        let mut last = None;
        for row in rows.iter().take(query.limit as usize) {
            let [n, SqlValue::Text(job), attempts, reason, at] = row.as_slice() else {
                return Err(StoreError("a dead letter has the wrong columns".into()));
            };
            let job: Value = serde_json::from_str(job).map_err(|e| StoreError(format!("a dead letter's job: {e}")))?;
            let mut entry = serde_json::json!({ "job": job, "attempts": int(attempts)?, "at": int(at)? });
            if let SqlValue::Text(reason) = reason {
                entry["reason"] = Value::String(reason.clone());
            }
            jobs.push(entry);
            last = Some(int(n)?);
        }
        let next = if more { last.map(|n| Value::String(n.to_string())) } else { None };
        Ok(serde_json::json!({ "jobs": jobs, "next": next }).to_string())
    }
}

fn text(value: &str) -> SqlValue {
    SqlValue::Text(value.to_owned())
}

fn int(value: &SqlValue) -> Result<i64, StoreError> {
    value.int().ok_or_else(|| StoreError(format!("expected an integer, found {value:?}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_queries_are_bounded_and_cursors_are_the_lists_own() {
        assert_eq!(ListQuery::parse(None, None).unwrap(), ListQuery { limit: PAGE_DEFAULT, before: None });
        assert_eq!(ListQuery::parse(Some("5"), Some("17")).unwrap(), ListQuery { limit: 5, before: Some(17) });
        assert_eq!(ListQuery { limit: 5, before: Some(17) }.to_query(), "limit=5&cursor=17");
        for bad in ["0", "101", "x", "-1", "2.5"] {
            assert_eq!(ListQuery::parse(Some(bad), None).unwrap_err().details.unwrap()["field"], "limit", "{bad}");
        }
        for bad in ["0", "abc", "-3", ""] {
            assert_eq!(ListQuery::parse(None, Some(bad)).unwrap_err().details.unwrap()["field"], "cursor", "{bad}");
        }
    }

    #[test]
    fn a_body_that_is_not_json_is_kept_as_a_string() {
        assert_eq!(DeadLetter::of_body("k".into(), "{\"a\":1}", 5).job, serde_json::json!({ "a": 1 }));
        assert_eq!(DeadLetter::of_body("k".into(), "oops", 5).job, serde_json::json!("oops"));
    }
}
