//! The D1 schema: migration files (applied by `wrangler d1 migrations apply`, which `provision`
//! runs) and the version check the Worker does once per isolate instead of re-running DDL on every
//! start (upstream defect §14 #17).

use super::{Sql, Statement, StoreError};

/// Migration files in order; the names are what wrangler records in `d1_migrations`.
pub const MIGRATIONS: &[(&str, &str)] = &[
    ("0001_init.sql", include_str!("migrations/0001_init.sql")),
    (
        "0002_tool_fingerprint_index.sql",
        include_str!("migrations/0002_tool_fingerprint_index.sql"),
    ),
    (
        "0003_executions.sql",
        include_str!("migrations/0003_executions.sql"),
    ),
    ("0004_audit.sql", include_str!("migrations/0004_audit.sql")),
    ("0005_oauth.sql", include_str!("migrations/0005_oauth.sql")),
    (
        "0006_execution_lease.sql",
        include_str!("migrations/0006_execution_lease.sql"),
    ),
];

/// The schema version this build expects (the last migration sets it).
pub const SCHEMA_VERSION: i64 = 6;

/// What the schema check found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SchemaState {
    Current,
    /// No schema at all: migrations were never applied.
    Missing,
    /// Applied, but older (or newer) than this build.
    Mismatch {
        found: i64,
    },
}

impl SchemaState {
    /// An operator-facing explanation, or `None` when the schema is current.
    pub fn problem(&self) -> Option<String> {
        match self {
            SchemaState::Current => None,
            SchemaState::Missing => Some(
                "the D1 database has no schema: apply the migrations with `wrangler d1 migrations \
                 apply DB` (`provision dev` and `provision up` do this)"
                    .into(),
            ),
            SchemaState::Mismatch { found } => Some(format!(
                "the D1 schema is at version {found} but this Worker needs {SCHEMA_VERSION}: apply \
                 the migrations with `wrangler d1 migrations apply DB`"
            )),
        }
    }
}

/// Reads the schema version row. A missing table means the migrations never ran.
pub async fn check(sql: &dyn Sql) -> Result<SchemaState, StoreError> {
    let result = sql
        .query(Statement::new(
            "SELECT version FROM schema_version WHERE id = 1",
            vec![],
        ))
        .await;
    match result {
        Ok(rows) => {
            let found = rows
                .first()
                .and_then(|r| r.get("version"))
                .and_then(|v| v.as_i64());
            Ok(match found {
                Some(v) if v == SCHEMA_VERSION => SchemaState::Current,
                Some(v) => SchemaState::Mismatch { found: v },
                None => SchemaState::Missing,
            })
        }
        Err(e) if e.message.contains("no such table") => Ok(SchemaState::Missing),
        Err(e) => Err(e),
    }
}
