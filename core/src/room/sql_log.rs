//! The room log in SQLite, written once against a minimal [`Sql`] trait: the Durable Object
//! implements it with its SQLite storage, the native tests with rusqlite, so the same queries
//! are tested natively and run in workerd.

use super::log::{Entry, Log};
use crate::store::{Sql, SqlValue, StoreError};

/// The schema. `seq` is the order; `(publisher, id)` is unique, which is what makes a repeated
/// idempotency key find its first message.
const SCHEMA: [&str; 2] = [
    "CREATE TABLE IF NOT EXISTS room_log (
        seq INTEGER PRIMARY KEY,
        id TEXT NOT NULL,
        publisher TEXT NOT NULL,
        ts INTEGER NOT NULL,
        frame TEXT NOT NULL
    )",
    "CREATE UNIQUE INDEX IF NOT EXISTS room_log_key ON room_log (publisher, id)",
];

pub struct SqlLog<S: Sql> {
    sql: S,
}

impl<S: Sql> SqlLog<S> {
    /// Opens the log, creating its tables when they do not exist.
    pub fn open(sql: S) -> Result<Self, StoreError> {
        for statement in SCHEMA {
            sql.exec(statement, &[])?;
        }
        Ok(Self { sql })
    }
}

/// The largest integer JavaScript numbers hold exactly (2^53 - 1); bounds passed to SQL are
/// clamped to it so they cross the JavaScript boundary unchanged.
const SEQ_CEILING: u64 = (1 << 53) - 1;

fn int(value: u64) -> SqlValue {
    SqlValue::uint(value)
}

fn as_int(value: &SqlValue) -> Result<i64, StoreError> {
    value.int().ok_or_else(|| StoreError(format!("expected an integer column, got {value:?}")))
}

fn as_text(value: SqlValue) -> Result<String, StoreError> {
    match value {
        SqlValue::Text(s) => Ok(s),
        other => Err(StoreError(format!("expected a text column, got {other:?}"))),
    }
}

fn entry(row: Vec<SqlValue>) -> Result<Entry, StoreError> {
    let [seq, id, publisher, ts, frame]: [SqlValue; 5] =
        row.try_into().map_err(|row: Vec<SqlValue>| StoreError(format!("expected 5 columns, got {}", row.len())))?;
    Ok(Entry {
        seq: as_int(&seq)? as u64,
        id: as_text(id)?,
        publisher: as_text(publisher)?,
        ts: as_int(&ts)?,
        frame: as_text(frame)?,
    })
}

impl<S: Sql> Log for SqlLog<S> {
    fn last_seq(&mut self) -> Result<u64, StoreError> {
        let rows = self.sql.exec("SELECT MAX(seq) FROM room_log", &[])?;
        match rows.first().and_then(|r| r.first()) {
            None | Some(SqlValue::Null) => Ok(0),
            Some(v) => Ok(as_int(v)? as u64),
        }
    }

    fn find(&mut self, publisher: &str, id: &str) -> Result<Option<u64>, StoreError> {
        let rows = self.sql.exec(
            "SELECT seq FROM room_log WHERE publisher = ? AND id = ?",
            &[SqlValue::Text(publisher.to_owned()), SqlValue::Text(id.to_owned())],
        )?;
        rows.first().and_then(|r| r.first()).map(|v| as_int(v).map(|s| s as u64)).transpose()
    }

    fn append(&mut self, e: &Entry) -> Result<(), StoreError> {
        self.sql.exec(
            "INSERT INTO room_log (seq, id, publisher, ts, frame) VALUES (?, ?, ?, ?, ?)",
            &[
                int(e.seq),
                SqlValue::Text(e.id.clone()),
                SqlValue::Text(e.publisher.clone()),
                SqlValue::Int(e.ts),
                SqlValue::Text(e.frame.clone()),
            ],
        )?;
        Ok(())
    }

    fn read(&mut self, after: u64, before: u64, min_ts: i64, limit: usize) -> Result<Vec<Entry>, StoreError> {
        let rows = self.sql.exec(
            "SELECT seq, id, publisher, ts, frame FROM room_log
             WHERE seq > ? AND seq < ? AND ts >= ? ORDER BY seq LIMIT ?",
            &[int(after.min(SEQ_CEILING)), int(before.min(SEQ_CEILING)), SqlValue::Int(min_ts), int(limit as u64)],
        )?;
        rows.into_iter().map(entry).collect()
    }

    fn prune(&mut self, below: u64, min_ts: i64) -> Result<(), StoreError> {
        // Entries come with non-decreasing ts, so the expired ones are a prefix: the first
        // entry young enough, found in seq order, ends it (reading only what is deleted next).
        let young =
            self.sql.exec("SELECT seq FROM room_log WHERE ts >= ? ORDER BY seq LIMIT 1", &[SqlValue::Int(min_ts)])?;
        let age_floor = match young.first().and_then(|r| r.first()) {
            Some(seq) => as_int(seq)? as u64,
            None => SEQ_CEILING,
        };
        self.sql.exec(
            "DELETE FROM room_log WHERE seq < ? AND seq < (SELECT MAX(seq) FROM room_log)",
            &[int(below.max(age_floor).min(SEQ_CEILING))],
        )?;
        Ok(())
    }
}
