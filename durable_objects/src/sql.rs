//! The core's [`Sql`] trait over Durable Object SQLite (`ctx.storage.sql`), which is
//! synchronous: a statement runs to completion inside the call.

use herald_core::store::{Sql, SqlValue, StoreError};
use worker::{SqlStorage, SqlStorageValue};

/// The largest integer a JavaScript number holds exactly (2^53 - 1).
const MAX_EXACT: i64 = (1 << 53) - 1;

#[derive(Clone)]
pub struct DurableSql(pub SqlStorage);

impl Sql for DurableSql {
    fn exec(&self, sql: &str, params: &[SqlValue]) -> Result<Vec<Vec<SqlValue>>, StoreError> {
        let bindings: Vec<SqlStorageValue> = params
            .iter()
            .map(|p| match p {
                SqlValue::Null => SqlStorageValue::Null,
                // Bindings reach SQLite as JavaScript numbers: a bound past 2^53 (an open
                // range's i64::MIN) is clamped to the widest one that crosses exactly.
                SqlValue::Int(i) => SqlStorageValue::Integer((*i).clamp(-MAX_EXACT, MAX_EXACT)),
                SqlValue::Real(f) => SqlStorageValue::Float(*f),
                SqlValue::Text(s) => SqlStorageValue::String(s.clone()),
            })
            .collect();
        let cursor = self.0.exec(sql, bindings).map_err(|e| StoreError(e.to_string()))?;
        cursor
            .raw()
            .map(|row| {
                let row = row.map_err(|e| StoreError(e.to_string()))?;
                row.into_iter()
                    .map(|v| match v {
                        SqlStorageValue::Null => Ok(SqlValue::Null),
                        SqlStorageValue::Integer(i) => Ok(SqlValue::Int(i)),
                        SqlStorageValue::Float(f) => Ok(SqlValue::Real(f)),
                        SqlStorageValue::String(s) => Ok(SqlValue::Text(s)),
                        SqlStorageValue::Boolean(b) => Ok(SqlValue::Int(i64::from(b))),
                        SqlStorageValue::Blob(_) => Err(StoreError("unexpected blob column".into())),
                    })
                    .collect()
            })
            .collect()
    }
}
