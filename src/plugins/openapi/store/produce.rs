//! Per-connection tool production for OpenAPI integrations (executor-behaviour.md §8.7): a
//! connection's `tool` rows are copied, in SQL, from the operation rows of the integration's
//! current generation. One atomic batch replaces the rows and stamps `tools_synced_at`, so a
//! reader sees either the old set or the new one.

use super::OpenApiConfig;
use crate::owner::Partition;
use crate::store::{Sql, StoreError};

/// Replaces the `tool` rows of connection `(partition, integration, connection)` with the
/// operations of `config`'s current generation and stamps `tools_synced_at = now_ms`, in one
/// batch. `config: None` (or a config without a generation) leaves the connection with no
/// tools — used for connections that cannot call anything (no credentials).
pub async fn produce_tools(
    sql: &dyn Sql,
    now_ms: i64,
    partition: &Partition,
    integration: &str,
    connection: &str,
    config: Option<&OpenApiConfig>,
) -> Result<(), StoreError> {
    let collection = config.and_then(|c| c.ops_collection(integration));
    crate::plugins::produce::replace_connection_tools(
        sql,
        now_ms,
        partition,
        integration,
        connection,
        "openapi",
        collection,
    )
    .await
}
