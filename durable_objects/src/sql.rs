//! The core's [`Sql`] trait over Durable Object SQLite (`ctx.storage.sql`), which is
//! synchronous: a statement runs to completion inside the call.

use herald_core::room::{Sql, SqlValue, StoreError};
use worker::{SqlStorage, SqlStorageValue};

#[derive(Clone)]
pub struct DurableSql(pub SqlStorage);

impl Sql for DurableSql {
    fn exec(&self, sql: &str, params: &[SqlValue]) -> Result<Vec<Vec<SqlValue>>, StoreError> {
        let bindings: Vec<SqlStorageValue> = params
            .iter()
            .map(|p| match p {
                SqlValue::Null => SqlStorageValue::Null,
                SqlValue::Int(i) => SqlStorageValue::Integer(*i),
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
