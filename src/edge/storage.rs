//! D1, R2 and Durable Object storage behind the crate's store traits. `worker::Error` never
//! leaves this file: it becomes a [`StoreError`] naming the operation.

use async_trait::async_trait;
use wasm_bindgen::JsValue;
use worker::{Bucket, D1Database, D1PreparedStatement};

use crate::store::{Blobs, KeyValue, Row, Sql, SqlValue, Statement, StoreError};

pub struct D1Sql(pub D1Database);

fn js_params(params: &[SqlValue]) -> Vec<JsValue> {
    params
        .iter()
        .map(|p| match p {
            SqlValue::Null => JsValue::NULL,
            SqlValue::Integer(i) => JsValue::from_f64(*i as f64),
            SqlValue::Real(f) => JsValue::from_f64(*f),
            SqlValue::Text(s) => JsValue::from_str(s),
        })
        .collect()
}

impl D1Sql {
    fn prepare(&self, statement: &Statement) -> Result<D1PreparedStatement, StoreError> {
        self.0
            .prepare(statement.sql)
            .bind(&js_params(&statement.params))
            .map_err(|e| StoreError::new("d1 bind", e.to_string()))
    }
}

#[async_trait(?Send)]
impl Sql for D1Sql {
    async fn query(&self, statement: Statement) -> Result<Vec<Row>, StoreError> {
        let result = self
            .prepare(&statement)?
            .all()
            .await
            .map_err(|e| StoreError::new("d1 query", e.to_string()))?;
        result
            .results::<Row>()
            .map_err(|e| StoreError::new("d1 decode", e.to_string()))
    }

    async fn execute(&self, statement: Statement) -> Result<u64, StoreError> {
        let result = self
            .prepare(&statement)?
            .run()
            .await
            .map_err(|e| StoreError::new("d1 execute", e.to_string()))?;
        let changes = result
            .meta()
            .map_err(|e| StoreError::new("d1 meta", e.to_string()))?
            .and_then(|m| m.changes)
            .unwrap_or(0);
        Ok(changes as u64)
    }

    async fn batch(&self, statements: Vec<Statement>) -> Result<(), StoreError> {
        let prepared = statements
            .iter()
            .map(|s| self.prepare(s))
            .collect::<Result<Vec<_>, _>>()?;
        self.0
            .batch(prepared)
            .await
            .map_err(|e| StoreError::new("d1 batch", e.to_string()))?;
        Ok(())
    }
}

pub struct R2Blobs(pub Bucket);

#[async_trait(?Send)]
impl Blobs for R2Blobs {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let object = self
            .0
            .get(key)
            .execute()
            .await
            .map_err(|e| StoreError::new("r2 get", e.to_string()))?;
        let Some(object) = object else {
            return Ok(None);
        };
        let Some(body) = object.body() else {
            return Ok(Some(Vec::new()));
        };
        body.bytes()
            .await
            .map(Some)
            .map_err(|e| StoreError::new("r2 read", e.to_string()))
    }

    async fn put(&self, key: &str, value: Vec<u8>) -> Result<(), StoreError> {
        self.0
            .put(key, value)
            .execute()
            .await
            .map_err(|e| StoreError::new("r2 put", e.to_string()))?;
        Ok(())
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.0
            .delete(key)
            .await
            .map_err(|e| StoreError::new("r2 delete", e.to_string()))
    }
}

/// Durable Object storage. Values are stored as JSON text so they round-trip exactly (no
/// structured-clone Map/object ambiguity).
pub struct DoStorage(pub worker::Storage);

#[async_trait(?Send)]
impl KeyValue for DoStorage {
    async fn get(&self, key: &str) -> Result<Option<serde_json::Value>, StoreError> {
        let text: Option<String> = self
            .0
            .get(key)
            .await
            .map_err(|e| StoreError::new("do storage get", e.to_string()))?;
        text.map(|t| {
            serde_json::from_str(&t)
                .map_err(|e| StoreError::new("do storage decode", e.to_string()))
        })
        .transpose()
    }

    async fn put(&self, key: &str, value: serde_json::Value) -> Result<(), StoreError> {
        self.0
            .put(key, value.to_string())
            .await
            .map_err(|e| StoreError::new("do storage put", e.to_string()))
    }

    async fn delete_all(&self) -> Result<(), StoreError> {
        self.0
            .delete_all()
            .await
            .map_err(|e| StoreError::new("do storage delete_all", e.to_string()))
    }
}
