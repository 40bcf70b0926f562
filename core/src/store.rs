//! The storage contract every object's tables are written against: one [`Sql`] statement
//! runner (the Durable Object's SQLite in workerd, rusqlite in the native tests), the values
//! that cross it, and how a failure reads. Rows are read back through [`SqlValue::int`] and
//! [`SqlValue::text`], so what the runtime does to integers is handled here once.

use std::fmt;

/// A value bound to, or read from, a SQL statement.
#[derive(Clone, PartialEq)]
pub enum SqlValue {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
}

impl SqlValue {
    /// A non-negative integer to bind (seqs, timestamps, counts: far below 2^53, the largest
    /// integer JavaScript holds exactly).
    pub fn uint(value: u64) -> Self {
        Self::Int(value as i64)
    }

    /// The integer a column holds. Durable Object SQLite hands integers to Rust through
    /// JavaScript numbers, so a whole real is one too.
    pub fn int(&self) -> Option<i64> {
        match self {
            Self::Int(i) => Some(*i),
            Self::Real(f) if f.fract() == 0.0 => Some(*f as i64),
            _ => None,
        }
    }

    /// The text a column holds.
    pub fn text(&self) -> Option<&str> {
        match self {
            Self::Text(text) => Some(text),
            _ => None,
        }
    }
}

impl fmt::Debug for SqlValue {
    // As derived, but a real is written as the integer nearest below it (with `~` when it had a
    // fraction): formatting a float would compile the whole of float printing into the wasm
    // (about 11 KB) for error messages about a column of the wrong type.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Null => f.write_str("Null"),
            Self::Int(i) => write!(f, "Int({i})"),
            Self::Real(r) if r.fract() == 0.0 => write!(f, "Real({})", *r as i64),
            Self::Real(r) => write!(f, "Real(~{})", *r as i64),
            Self::Text(s) => write!(f, "Text({s:?})"),
        }
    }
}

/// Runs one statement with `?` placeholders and returns its rows.
pub trait Sql {
    fn exec(&self, sql: &str, params: &[SqlValue]) -> Result<Vec<Vec<SqlValue>>, StoreError>;
}

/// Storage failed; what was being written (if anything) was not, and must not be announced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreError(pub String);

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "storage failed: {}", self.0)
    }
}

impl std::error::Error for StoreError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_read_back_from_ints_and_whole_reals_only() {
        assert_eq!(SqlValue::Int(-3).int(), Some(-3));
        assert_eq!(SqlValue::Real(7.0).int(), Some(7));
        assert_eq!(SqlValue::Real(7.5).int(), None);
        assert_eq!(SqlValue::Text("7".into()).int(), None);
        assert_eq!(SqlValue::uint(9), SqlValue::Int(9));
        assert_eq!(SqlValue::Text("t".into()).text(), Some("t"));
        assert_eq!(SqlValue::Null.text(), None);
        assert_eq!(format!("{:?}", SqlValue::Real(2.5)), "Real(~2)");
    }
}
