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
use serde::de::DeserializeOwned;

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

/// Decodes rows into typed values.
pub fn decode_rows<T: DeserializeOwned>(rows: Vec<Row>) -> Result<Vec<T>, StoreError> {
    rows.into_iter()
        .map(|row| {
            serde_json::from_value(serde_json::Value::Object(row))
                .map_err(|e| StoreError::new("decode row", e.to_string()))
        })
        .collect()
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
