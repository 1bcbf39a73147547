//! An in-memory SQLite [`Sql`] for host tests, with D1's restrictions: `BEGIN`/`COMMIT` are
//! rejected, at most 100 bound parameters, SQL text of at most 100,000 bytes, string values of at
//! most 2,000,000 bytes, integers beyond ±2^53 refused, `batch` atomic. It also remembers the
//! largest statement it ran ([`SqliteStore::high_water`]) so tests can check bulk writes keep a
//! margin below those limits.

use std::cell::{Cell, RefCell};

use async_trait::async_trait;
use rusqlite::types::{Value as SqliteValue, ValueRef};

use super::{schema, Row, Sql, SqlValue, Statement, StoreError, MAX_BOUND_PARAMETERS};

const MAX_SAFE_INTEGER: i64 = (1 << 53) - 1;

/// D1's maximum SQL statement length (bytes of SQL text).
pub const MAX_SQL_BYTES: usize = 100_000;

/// D1's maximum string, BLOB or row size.
pub const MAX_VALUE_BYTES: usize = 2_000_000;

/// The largest sizes seen across all statements run so far (each measured separately).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct HighWater {
    pub params: usize,
    pub sql_bytes: usize,
    /// The longest single text parameter.
    pub value_bytes: usize,
}

pub struct SqliteStore {
    conn: RefCell<rusqlite::Connection>,
    high_water: Cell<HighWater>,
}

impl SqliteStore {
    /// A fresh in-memory database with every migration applied.
    pub fn migrated() -> Result<SqliteStore, StoreError> {
        let conn = rusqlite::Connection::open_in_memory()
            .map_err(|e| StoreError::new("open sqlite", e.to_string()))?;
        conn.execute_batch("PRAGMA foreign_keys = ON;")
            .map_err(|e| StoreError::new("pragma", e.to_string()))?;
        for (name, sql) in schema::MIGRATIONS {
            conn.execute_batch(sql)
                .map_err(|e| StoreError::new("apply migration", format!("{name}: {e}")))?;
        }
        Ok(SqliteStore {
            conn: RefCell::new(conn),
            high_water: Cell::new(HighWater::default()),
        })
    }

    /// The largest statement sizes seen so far.
    pub fn high_water(&self) -> HighWater {
        self.high_water.get()
    }

    fn observe(&self, statement: &Statement) {
        let mut seen = self.high_water.get();
        seen.params = seen.params.max(statement.params.len());
        seen.sql_bytes = seen.sql_bytes.max(statement.sql.len());
        for p in &statement.params {
            if let SqlValue::Text(t) = p {
                seen.value_bytes = seen.value_bytes.max(t.len());
            }
        }
        self.high_water.set(seen);
    }

    /// A database without the schema (to test the schema check).
    pub fn empty() -> Result<SqliteStore, StoreError> {
        let conn = rusqlite::Connection::open_in_memory()
            .map_err(|e| StoreError::new("open sqlite", e.to_string()))?;
        Ok(SqliteStore {
            conn: RefCell::new(conn),
            high_water: Cell::new(HighWater::default()),
        })
    }
}

fn check_statement(statement: &Statement) -> Result<(), StoreError> {
    let head = statement.sql.trim_start().to_ascii_uppercase();
    if head.starts_with("BEGIN") || head.starts_with("COMMIT") || head.starts_with("ROLLBACK") {
        return Err(StoreError::new(
            "sql",
            "D1 does not support interactive transactions",
        ));
    }
    if statement.params.len() > MAX_BOUND_PARAMETERS {
        return Err(StoreError::new(
            "sql",
            format!(
                "too many SQL variables ({} > {MAX_BOUND_PARAMETERS})",
                statement.params.len()
            ),
        ));
    }
    if statement.sql.len() > MAX_SQL_BYTES {
        return Err(StoreError::new(
            "sql",
            format!(
                "statement too long ({} > {MAX_SQL_BYTES} bytes)",
                statement.sql.len()
            ),
        ));
    }
    for p in &statement.params {
        match p {
            SqlValue::Integer(i) if i.abs() > MAX_SAFE_INTEGER => {
                return Err(StoreError::new(
                    "sql",
                    format!("integer {i} is not exact in JavaScript"),
                ));
            }
            SqlValue::Text(t) if t.len() > MAX_VALUE_BYTES => {
                return Err(StoreError::new(
                    "sql",
                    format!("string or blob too big ({} bytes)", t.len()),
                ));
            }
            _ => {}
        }
    }
    Ok(())
}

fn bind(params: &[SqlValue]) -> Vec<SqliteValue> {
    params
        .iter()
        .map(|p| match p {
            SqlValue::Null => SqliteValue::Null,
            SqlValue::Integer(i) => SqliteValue::Integer(*i),
            SqlValue::Real(f) => SqliteValue::Real(*f),
            SqlValue::Text(s) => SqliteValue::Text(s.clone()),
        })
        .collect()
}

fn run_query(conn: &rusqlite::Connection, statement: &Statement) -> Result<Vec<Row>, StoreError> {
    check_statement(statement)?;
    let err = |e: rusqlite::Error| StoreError::new("sql query", e.to_string());
    let mut stmt = conn.prepare(statement.sql).map_err(err)?;
    let names: Vec<String> = stmt.column_names().iter().map(|s| s.to_string()).collect();
    let mut rows = stmt
        .query(rusqlite::params_from_iter(bind(&statement.params)))
        .map_err(err)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(err)? {
        let mut map = Row::new();
        for (i, name) in names.iter().enumerate() {
            let value = match row.get_ref(i).map_err(err)? {
                ValueRef::Null => serde_json::Value::Null,
                ValueRef::Integer(v) => v.into(),
                ValueRef::Real(v) => serde_json::Number::from_f64(v)
                    .map(serde_json::Value::Number)
                    .unwrap_or(serde_json::Value::Null),
                ValueRef::Text(t) => String::from_utf8_lossy(t).into_owned().into(),
                ValueRef::Blob(b) => String::from_utf8_lossy(b).into_owned().into(),
            };
            map.insert(name.clone(), value);
        }
        out.push(map);
    }
    Ok(out)
}

fn run_execute(conn: &rusqlite::Connection, statement: &Statement) -> Result<u64, StoreError> {
    check_statement(statement)?;
    conn.execute(
        statement.sql,
        rusqlite::params_from_iter(bind(&statement.params)),
    )
    .map(|n| n as u64)
    .map_err(|e| StoreError::new("sql execute", e.to_string()))
}

#[async_trait(?Send)]
impl Sql for SqliteStore {
    async fn query(&self, statement: Statement) -> Result<Vec<Row>, StoreError> {
        self.observe(&statement);
        run_query(&self.conn.borrow(), &statement)
    }

    async fn execute(&self, statement: Statement) -> Result<u64, StoreError> {
        self.observe(&statement);
        run_execute(&self.conn.borrow(), &statement)
    }

    async fn batch(&self, statements: Vec<Statement>) -> Result<(), StoreError> {
        let mut conn = self.conn.borrow_mut();
        let tx = conn
            .transaction()
            .map_err(|e| StoreError::new("sql batch", e.to_string()))?;
        for statement in &statements {
            self.observe(statement);
            if statement
                .sql
                .trim_start()
                .to_ascii_uppercase()
                .starts_with("SELECT")
            {
                run_query(&tx, statement)?;
            } else {
                run_execute(&tx, statement)?;
            }
        }
        tx.commit()
            .map_err(|e| StoreError::new("sql batch", e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::schema::{check, SchemaState};

    #[tokio::test]
    async fn schema_check_sees_missing_and_current() -> Result<(), StoreError> {
        assert_eq!(check(&SqliteStore::empty()?).await?, SchemaState::Missing);
        assert_eq!(
            check(&SqliteStore::migrated()?).await?,
            SchemaState::Current
        );
        Ok(())
    }

    #[tokio::test]
    async fn d1_restrictions_are_enforced() -> Result<(), StoreError> {
        let db = SqliteStore::migrated()?;
        assert!(db.execute(Statement::new("BEGIN", vec![])).await.is_err());
        let too_many = vec![SqlValue::Null; MAX_BOUND_PARAMETERS + 1];
        assert!(db
            .query(Statement::new("SELECT 1", too_many))
            .await
            .is_err());
        assert!(db
            .query(Statement::new(
                "SELECT ?1",
                vec![SqlValue::Integer(1 << 60)]
            ))
            .await
            .is_err());
        let huge = SqlValue::Text("x".repeat(MAX_VALUE_BYTES + 1));
        assert!(db
            .query(Statement::new("SELECT ?1", vec![huge]))
            .await
            .is_err());
        assert_eq!(db.high_water().value_bytes, MAX_VALUE_BYTES + 1);
        assert_eq!(db.high_water().params, MAX_BOUND_PARAMETERS + 1);
        Ok(())
    }

    #[tokio::test]
    async fn batch_is_atomic() -> Result<(), StoreError> {
        let db = SqliteStore::migrated()?;
        let insert = "INSERT INTO data_migration (name, time_completed) VALUES (?1, ?2)";
        let result = db
            .batch(vec![
                Statement::new(insert, vec!["a".into(), 1.into()]),
                Statement::new(insert, vec!["a".into(), 2.into()]), // duplicate key
            ])
            .await;
        assert!(result.is_err());
        let rows = db
            .query(Statement::new(
                "SELECT COUNT(*) AS n FROM data_migration",
                vec![],
            ))
            .await?;
        assert_eq!(rows[0]["n"], 0, "the failed batch left nothing behind");
        Ok(())
    }
}
