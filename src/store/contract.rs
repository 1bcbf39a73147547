//! The storage adapter contract: one suite of checks, generic over the store traits, that runs
//! against the host fakes in unit tests and against real D1 and R2 inside the Worker (through the
//! dev-only `GET /api/dev/storage-contract`, driven by the e2e suite). It proves the adapters
//! convert values, counts and failures the same way on both sides.

use serde::Serialize;
use serde_json::json;

use super::{Blobs, Sql, SqlValue, Statement};

/// One check's outcome.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Check {
    pub name: &'static str,
    pub ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

fn check(name: &'static str, result: Result<(), String>) -> Check {
    match result {
        Ok(()) => Check {
            name,
            ok: true,
            detail: None,
        },
        Err(detail) => Check {
            name,
            ok: false,
            detail: Some(detail),
        },
    }
}

fn expect_eq<T: PartialEq + std::fmt::Debug>(what: &str, got: T, want: T) -> Result<(), String> {
    if got == want {
        Ok(())
    } else {
        Err(format!("{what}: got {got:?}, want {want:?}"))
    }
}

/// A name unique to this run, so concurrent runs and leftovers never collide.
fn run_key(prefix: &str) -> String {
    format!("{prefix}-{}", crate::ids::uuid_v4())
}

const INSERT: &str = "INSERT INTO data_migration (name, time_completed) VALUES (?1, ?2)";
const SELECT: &str = "SELECT name, time_completed FROM data_migration WHERE name = ?1";
const DELETE: &str = "DELETE FROM data_migration WHERE name = ?1 OR name = ?2";

async fn sql_values_round_trip(sql: &dyn Sql) -> Result<(), String> {
    let rows = sql
        .query(Statement::new(
            "SELECT ?1 AS v_int, ?2 AS v_big, ?3 AS v_real, ?4 AS v_text, ?5 AS v_null",
            vec![
                SqlValue::Integer(-7),
                SqlValue::Integer((1 << 53) - 1),
                SqlValue::Real(1.5),
                SqlValue::Text("ünï – 😀 'quoted'".into()),
                SqlValue::Null,
            ],
        ))
        .await
        .map_err(|e| e.to_string())?;
    let row = rows.first().ok_or("no row")?;
    expect_eq("integer", row.get("v_int").cloned(), Some(json!(-7)))?;
    expect_eq(
        "2^53-1",
        row.get("v_big").and_then(|v| v.as_f64()),
        Some(9_007_199_254_740_991.0),
    )?;
    expect_eq("real", row.get("v_real").cloned(), Some(json!(1.5)))?;
    expect_eq(
        "text",
        row.get("v_text").cloned(),
        Some(json!("ünï – 😀 'quoted'")),
    )?;
    expect_eq("null", row.get("v_null").cloned(), Some(json!(null)))
}

async fn sql_changes_and_rows(sql: &dyn Sql) -> Result<(), String> {
    let name = run_key("contract");
    let changed = sql
        .execute(Statement::new(INSERT, vec![name.clone().into(), 42.into()]))
        .await
        .map_err(|e| e.to_string())?;
    expect_eq("changes", changed, 1)?;
    let rows = sql
        .query(Statement::new(SELECT, vec![name.clone().into()]))
        .await
        .map_err(|e| e.to_string())?;
    expect_eq("rows", rows.len(), 1)?;
    expect_eq(
        "time_completed",
        rows[0].get("time_completed").cloned(),
        Some(json!(42)),
    )?;
    let removed = sql
        .execute(Statement::new(
            DELETE,
            vec![name.clone().into(), name.into()],
        ))
        .await
        .map_err(|e| e.to_string())?;
    expect_eq("deleted", removed, 1)
}

async fn sql_batch_is_atomic(sql: &dyn Sql) -> Result<(), String> {
    let first = run_key("contract-batch");
    let failing = sql
        .batch(vec![
            Statement::new(INSERT, vec![first.clone().into(), 1.into()]),
            Statement::new(INSERT, vec![first.clone().into(), 2.into()]), // duplicate primary key
        ])
        .await;
    if failing.is_ok() {
        return Err("a batch with a failing statement succeeded".into());
    }
    let rows = sql
        .query(Statement::new(SELECT, vec![first.clone().into()]))
        .await
        .map_err(|e| e.to_string())?;
    expect_eq("rows left by the failed batch", rows.len(), 0)?;
    let second = run_key("contract-batch");
    sql.batch(vec![
        Statement::new(INSERT, vec![first.clone().into(), 1.into()]),
        Statement::new(INSERT, vec![second.clone().into(), 2.into()]),
    ])
    .await
    .map_err(|e| e.to_string())?;
    let removed = sql
        .execute(Statement::new(DELETE, vec![first.into(), second.into()]))
        .await
        .map_err(|e| e.to_string())?;
    expect_eq("rows written by the batch", removed, 2)
}

async fn sql_errors_are_errors(sql: &dyn Sql) -> Result<(), String> {
    match sql
        .query(Statement::new("SELECT * FROM no_such_table", vec![]))
        .await
    {
        Ok(_) => Err("a query on a missing table succeeded".into()),
        Err(e) if e.message.contains("no such table") => Ok(()),
        Err(e) => Err(format!("unexpected error text: {e}")),
    }
}

/// The SQL the OpenAPI store and the catalog rely on: bulk inserts expanded from one JSON array
/// parameter (`json_each`), `json_extract` of objects as JSON text, ids from `randomblob`, and
/// `IN (SELECT value FROM json_each(?))` lookups.
async fn sql_json_functions(sql: &dyn Sql) -> Result<(), String> {
    let (a, b) = (run_key("contract-json"), run_key("contract-json"));
    let payload = serde_json::to_string(&[[a.as_str(), "1"], [b.as_str(), "2"]])
        .map_err(|e| e.to_string())?;
    let inserted = sql
        .execute(Statement::new(
            "INSERT INTO data_migration (name, time_completed) \
             SELECT json_extract(value, '$[0]'), CAST(json_extract(value, '$[1]') AS INTEGER) \
             FROM json_each(?1)",
            vec![payload.into()],
        ))
        .await
        .map_err(|e| e.to_string())?;
    expect_eq("rows inserted from json_each", inserted, 2)?;
    let names =
        serde_json::to_string(&[a.as_str(), b.as_str(), "absent"]).map_err(|e| e.to_string())?;
    let rows = sql
        .query(Statement::new(
            "SELECT name, time_completed FROM data_migration \
             WHERE name IN (SELECT value FROM json_each(?1)) ORDER BY time_completed",
            vec![names.into()],
        ))
        .await
        .map_err(|e| e.to_string())?;
    expect_eq("rows found through json_each", rows.len(), 2)?;
    expect_eq(
        "bulk-inserted value",
        rows[1].get("time_completed").cloned(),
        Some(json!(2)),
    )?;
    let rows = sql
        .query(Statement::new(
            "SELECT json_extract(?1, '$.schema') AS schema, json_extract(?1, '$.none') AS none, \
               json_extract(?1, '$.text') AS text, length(lower(hex(randomblob(16)))) AS id_len",
            vec![
                r#"{"schema": {"type": "object", "required": ["a"]}, "none": null, "text": "ü\"x"}"#
                    .into(),
            ],
        ))
        .await
        .map_err(|e| e.to_string())?;
    let row = rows.first().ok_or("no row")?.clone();
    // Bulk payloads are one bound value far longer than D1's 100 KB limit on SQL text (the
    // OpenAPI store sends up to ~256 KB, or one row of up to 900 KB).
    let long = "é".repeat(200_000);
    let payload = serde_json::to_string(&[["k", long.as_str()]]).map_err(|e| e.to_string())?;
    let sizes = sql
        .query(Statement::new(
            "SELECT length(json_extract(value, '$[1]')) AS n FROM json_each(?1)",
            vec![payload.into()],
        ))
        .await
        .map_err(|e| e.to_string())?;
    expect_eq(
        "a 400 KB bound value",
        sizes.first().and_then(|r| r.get("n")).cloned(),
        Some(json!(200_000)),
    )?;
    expect_eq(
        "object as JSON text",
        row.get("schema").cloned(),
        Some(json!(r#"{"type":"object","required":["a"]}"#)),
    )?;
    expect_eq(
        "JSON null as NULL",
        row.get("none").cloned(),
        Some(json!(null)),
    )?;
    expect_eq(
        "string as text",
        row.get("text").cloned(),
        Some(json!("ü\"x")),
    )?;
    expect_eq(
        "random id length",
        row.get("id_len").cloned(),
        Some(json!(32)),
    )?;
    let removed = sql
        .execute(Statement::new(DELETE, vec![a.into(), b.into()]))
        .await
        .map_err(|e| e.to_string())?;
    expect_eq("deleted", removed, 2)
}

async fn blobs_round_trip(blobs: &dyn Blobs) -> Result<(), String> {
    let bytes: Vec<u8> = (0..=255u8).chain("ünï".bytes()).collect();
    let key = super::blobs::content_key("o:contract", "contract", "blob", &bytes);
    expect_eq(
        "absent before put",
        blobs.get(&key).await.map_err(|e| e.to_string())?,
        None,
    )?;
    blobs
        .put(&key, bytes.clone())
        .await
        .map_err(|e| e.to_string())?;
    expect_eq(
        "read back",
        blobs.get(&key).await.map_err(|e| e.to_string())?,
        Some(bytes),
    )?;
    blobs
        .put(&key, Vec::new())
        .await
        .map_err(|e| e.to_string())?;
    expect_eq(
        "empty value",
        blobs.get(&key).await.map_err(|e| e.to_string())?,
        Some(Vec::new()),
    )?;
    blobs.delete(&key).await.map_err(|e| e.to_string())?;
    expect_eq(
        "absent after delete",
        blobs.get(&key).await.map_err(|e| e.to_string())?,
        None,
    )
}

/// Runs every check; never stops at the first failure.
pub async fn run(sql: &dyn Sql, blobs: &dyn Blobs) -> Vec<Check> {
    vec![
        check("sql values round trip", sql_values_round_trip(sql).await),
        check("sql changes and rows", sql_changes_and_rows(sql).await),
        check("sql batch is atomic", sql_batch_is_atomic(sql).await),
        check("sql errors are errors", sql_errors_are_errors(sql).await),
        check("sql json functions", sql_json_functions(sql).await),
        check("blobs round trip", blobs_round_trip(blobs).await),
    ]
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::store::sqlite::SqliteStore;
    use crate::store::MemoryBlobs;

    #[tokio::test]
    async fn the_host_fakes_meet_the_contract() {
        let checks = run(&SqliteStore::migrated().unwrap(), &MemoryBlobs::default()).await;
        let failed: Vec<_> = checks.iter().filter(|c| !c.ok).collect();
        assert!(failed.is_empty(), "{failed:?}");
        assert_eq!(checks.len(), 6);
    }
}
