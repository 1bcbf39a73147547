//! Storage seams: [`Sql`] (D1 in the Worker, SQLite in host tests), [`Blobs`] (R2 in the Worker,
//! a map in tests) and [`KeyValue`] (Durable Object storage). The traits speak plain values so
//! every query in the crate runs unchanged on the host against the same schema
//! (`src/store/migrations/*.sql`).
//!
//! D1 facts the fakes keep honest: no interactive transactions (`BEGIN` is rejected; atomicity only
//! through [`Sql::batch`]), at most 100 bound parameters per statement, integers cross a
//! JavaScript number boundary (±2^53).

pub mod blobs;
pub mod contract;
pub mod schema;
#[cfg(all(test, not(target_arch = "wasm32")))]
pub mod sqlite;

use async_trait::async_trait;

pub use blobs::{Blobs, MemoryBlobs};

/// A bound parameter.
#[derive(Debug, Clone, PartialEq)]
pub enum SqlValue {
    Null,
    Integer(i64),
    Real(f64),
    Text(String),
}

impl From<&str> for SqlValue {
    fn from(v: &str) -> Self {
        SqlValue::Text(v.to_string())
    }
}
impl From<String> for SqlValue {
    fn from(v: String) -> Self {
        SqlValue::Text(v)
    }
}
impl From<i64> for SqlValue {
    fn from(v: i64) -> Self {
        SqlValue::Integer(v)
    }
}
impl From<bool> for SqlValue {
    fn from(v: bool) -> Self {
        SqlValue::Integer(v as i64)
    }
}
impl<T: Into<SqlValue>> From<Option<T>> for SqlValue {
    fn from(v: Option<T>) -> Self {
        v.map(Into::into).unwrap_or(SqlValue::Null)
    }
}

/// D1 rejects statements with more than this many bound parameters.
pub const MAX_BOUND_PARAMETERS: usize = 100;

/// One SQL statement with its parameters (`?1`, `?2`, …).
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    pub sql: &'static str,
    pub params: Vec<SqlValue>,
}

impl Statement {
    pub fn new(sql: &'static str, params: Vec<SqlValue>) -> Statement {
        Statement { sql, params }
    }
}

/// A result row: column name → JSON value (`NULL` → `null`, integers → numbers, text → strings).
pub type Row = serde_json::Map<String, serde_json::Value>;

/// A storage failure. Carries the operation and the driver's message for the server log; it is
/// never shown to clients (they get an opaque 500 with a trace id).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{operation}: {message}")]
pub struct StoreError {
    pub operation: &'static str,
    pub message: String,
}

impl StoreError {
    pub fn new(operation: &'static str, message: impl Into<String>) -> StoreError {
        StoreError {
            operation,
            message: message.into(),
        }
    }
}

/// The SQL database (D1).
#[async_trait(?Send)]
pub trait Sql {
    /// Runs a statement and returns its rows.
    async fn query(&self, statement: Statement) -> Result<Vec<Row>, StoreError>;
    /// Runs a statement and returns the number of changed rows.
    async fn execute(&self, statement: Statement) -> Result<u64, StoreError>;
    /// Runs statements atomically, in order (D1 `batch`).
    async fn batch(&self, statements: Vec<Statement>) -> Result<(), StoreError>;
}

/// A typed value read out of a result [`Row`] by [`RowReader`] (`Self::from_row`).
///
/// Why not `serde::Deserialize`: every derived row type monomorphises serde's struct visitor and
/// `Map::deserialize_any` in the wasm bundle (tens of KB gzip across the crate); one
/// non-generic reader with a small per-type constructor costs a fraction of that.
pub trait FromRow: Sized {
    fn from_row(row: &RowReader<'_>) -> Result<Self, StoreError>;
}

/// Decodes rows into typed values.
pub fn decode_rows<T: FromRow>(rows: Vec<Row>) -> Result<Vec<T>, StoreError> {
    rows.iter()
        .map(|row| T::from_row(&RowReader(row)))
        .collect()
}

/// Reads typed columns of one [`Row`]. A missing column reads like `NULL`; a required column
/// that is `NULL`/missing or a value of the wrong type is a "decode row" [`StoreError`] naming
/// the column.
#[derive(Clone, Copy)]
pub struct RowReader<'a>(pub &'a Row);

impl<'a> RowReader<'a> {
    fn value(&self, column: &str) -> Option<&'a serde_json::Value> {
        self.0.get(column).filter(|v| !v.is_null())
    }

    /// A JSON object (stored JSON read with the same reader), `None` when it is not one.
    pub fn object(value: &'a serde_json::Value) -> Option<RowReader<'a>> {
        value.as_object().map(RowReader)
    }

    /// A boolean member of a stored JSON object, absent or `null` = `None`.
    pub fn opt_bool(&self, column: &str) -> Result<Option<bool>, StoreError> {
        match self.value(column) {
            None => Ok(None),
            Some(v) => v
                .as_bool()
                .map(Some)
                .ok_or_else(|| column_error(column, "expected a boolean")),
        }
    }

    /// A boolean member that must be present.
    pub fn bool(&self, column: &str) -> Result<bool, StoreError> {
        self.opt_bool(column)?
            .ok_or_else(|| column_error(column, "missing"))
    }

    /// An object member of a stored JSON object, absent or `null` = `None`.
    pub fn opt_object(&self, column: &str) -> Result<Option<RowReader<'a>>, StoreError> {
        match self.value(column) {
            None => Ok(None),
            Some(v) => RowReader::object(v)
                .map(Some)
                .ok_or_else(|| column_error(column, "expected an object")),
        }
    }

    /// An array member of a stored JSON object, absent or `null` = empty.
    pub fn array(&self, column: &str) -> Result<&'a [serde_json::Value], StoreError> {
        match self.value(column) {
            None => Ok(&[]),
            Some(v) => v
                .as_array()
                .map(Vec::as_slice)
                .ok_or_else(|| column_error(column, "expected an array")),
        }
    }

    /// An array of strings, absent or `null` = empty.
    pub fn texts(&self, column: &str) -> Result<Vec<String>, StoreError> {
        self.array(column)?
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| column_error(column, "expected an array of strings"))
            })
            .collect()
    }

    /// A `TEXT` column that may be `NULL`.
    pub fn opt_text(&self, column: &str) -> Result<Option<String>, StoreError> {
        match self.value(column) {
            None => Ok(None),
            Some(serde_json::Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(column_error(column, "expected text")),
        }
    }

    /// A `TEXT NOT NULL` column.
    pub fn text(&self, column: &str) -> Result<String, StoreError> {
        self.opt_text(column)?
            .ok_or_else(|| column_error(column, "missing"))
    }

    /// An `INTEGER` column that may be `NULL`.
    pub fn opt_int(&self, column: &str) -> Result<Option<i64>, StoreError> {
        match self.value(column) {
            None => Ok(None),
            Some(v) => v
                .as_i64()
                .map(Some)
                .ok_or_else(|| column_error(column, "expected an integer")),
        }
    }

    /// An `INTEGER NOT NULL` column.
    pub fn int(&self, column: &str) -> Result<i64, StoreError> {
        self.opt_int(column)?
            .ok_or_else(|| column_error(column, "missing"))
    }

    /// A numeric column (integers widen) that may be `NULL`.
    pub fn opt_real(&self, column: &str) -> Result<Option<f64>, StoreError> {
        match self.value(column) {
            None => Ok(None),
            Some(v) => v
                .as_f64()
                .map(Some)
                .ok_or_else(|| column_error(column, "expected a number")),
        }
    }

    /// A numeric `NOT NULL` column.
    pub fn real(&self, column: &str) -> Result<f64, StoreError> {
        self.opt_real(column)?
            .ok_or_else(|| column_error(column, "missing"))
    }

    /// An `owner` column (`org` | `user`) that may be `NULL`.
    pub fn opt_owner(&self, column: &str) -> Result<Option<crate::owner::Owner>, StoreError> {
        match self.opt_text(column)? {
            None => Ok(None),
            Some(s) => crate::owner::Owner::parse(&s)
                .map(Some)
                .ok_or_else(|| column_error(column, "expected `org` or `user`")),
        }
    }

    /// An `owner NOT NULL` column.
    pub fn owner(&self, column: &str) -> Result<crate::owner::Owner, StoreError> {
        self.opt_owner(column)?
            .ok_or_else(|| column_error(column, "missing"))
    }
}

#[cold]
fn column_error(column: &str, problem: &str) -> StoreError {
    StoreError::new("decode row", format!("column `{column}`: {problem}"))
}

/// String key/value storage with JSON values (Durable Object storage).
#[async_trait(?Send)]
pub trait KeyValue {
    async fn get(&self, key: &str) -> Result<Option<serde_json::Value>, StoreError>;
    async fn put(&self, key: &str, value: serde_json::Value) -> Result<(), StoreError>;
    async fn delete_all(&self) -> Result<(), StoreError>;
}

/// In-memory [`KeyValue`] for host tests.
#[derive(Debug, Default)]
pub struct MemoryKeyValue {
    entries: std::cell::RefCell<std::collections::BTreeMap<String, serde_json::Value>>,
}

#[async_trait(?Send)]
impl KeyValue for MemoryKeyValue {
    async fn get(&self, key: &str) -> Result<Option<serde_json::Value>, StoreError> {
        Ok(self.entries.borrow().get(key).cloned())
    }
    async fn put(&self, key: &str, value: serde_json::Value) -> Result<(), StoreError> {
        self.entries.borrow_mut().insert(key.to_string(), value);
        Ok(())
    }
    async fn delete_all(&self) -> Result<(), StoreError> {
        self.entries.borrow_mut().clear();
        Ok(())
    }
}
