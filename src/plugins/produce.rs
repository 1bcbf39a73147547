//! Per-connection tool production shared by every plugin kind (executor-behaviour.md §8.7): a
//! connection's `tool` rows are copied, in SQL, from the operation rows of its integration's
//! current generation in `plugin_storage`. One atomic batch replaces the rows and stamps
//! `tools_synced_at`, so a reader sees either the old set or the new one.

use crate::owner::Partition;
use crate::store::{Sql, SqlValue, Statement, StoreError};

const DELETE_TOOLS_SQL: &str =
    "DELETE FROM tool WHERE tenant = ?1 AND owner = ?2 AND subject = ?3 \
     AND integration = ?4 AND connection = ?5";
// Legacy per-connection definitions: this build never writes them (schema views read the
// integration's `defs:` rows), but a replacement must not leave any behind.
const DELETE_DEFINITIONS_SQL: &str = "DELETE FROM definition WHERE tenant = ?1 AND owner = ?2 \
     AND subject = ?3 AND integration = ?4 AND connection = ?5";
const INSERT_TOOLS_SQL: &str = "INSERT INTO tool (row_id, tenant, owner, subject, integration, \
       connection, plugin_id, name, description, input_schema, output_schema, annotations, \
       created_at, updated_at) \
     SELECT lower(hex(randomblob(16))), ?1, ?2, ?3, ?4, ?5, ?8, p.key, \
       COALESCE(json_extract(p.data, '$.description'), ''), \
       json_extract(p.data, '$.inputSchema'), json_extract(p.data, '$.outputSchema'), \
       json_extract(p.data, '$.annotations'), ?6, ?6 \
     FROM plugin_storage p \
     WHERE p.tenant = ?1 AND p.owner = 'org' AND p.subject = '' AND p.plugin_id = ?8 \
       AND p.collection = ?7 \
     ORDER BY p.key";
const STAMP_SQL: &str = "UPDATE connection SET tools_synced_at = ?6 WHERE tenant = ?1 \
     AND owner = ?2 AND subject = ?3 AND integration = ?4 AND name = ?5";

/// Replaces the `tool` rows of connection `(partition, integration, connection)` with the
/// `plugin_id` operation rows of `collection` (`op:<slug>:<generation>`) and stamps
/// `tools_synced_at = now_ms`, in one batch. `collection: None` leaves the connection with no
/// tools (connections that cannot call anything, or an integration without a generation).
pub async fn replace_connection_tools(
    sql: &dyn Sql,
    now_ms: i64,
    partition: &Partition,
    integration: &str,
    connection: &str,
    plugin_id: &str,
    collection: Option<String>,
) -> Result<(), StoreError> {
    let key: Vec<SqlValue> = vec![
        partition.tenant.as_str().into(),
        partition.owner.as_str().into(),
        partition.subject.as_str().into(),
        integration.into(),
        connection.into(),
    ];
    let with = |extra: Vec<SqlValue>| {
        let mut params = key.clone();
        params.extend(extra);
        params
    };
    let mut statements = vec![
        Statement::new(DELETE_TOOLS_SQL, key.clone()),
        Statement::new(DELETE_DEFINITIONS_SQL, key.clone()),
    ];
    if let Some(collection) = collection {
        statements.push(Statement::new(
            INSERT_TOOLS_SQL,
            with(vec![now_ms.into(), collection.into(), plugin_id.into()]),
        ));
    }
    statements.push(Statement::new(STAMP_SQL, with(vec![now_ms.into()])));
    sql.batch(statements).await
}
