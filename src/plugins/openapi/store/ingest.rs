//! Getting a spec's text (inline or fetched) and writing one *generation* of an integration:
//! the `defs:<slug>:<generation>` and `op:<slug>:<generation>` rows plus the spec and `defs`
//! blobs.
//!
//! Memory stays bounded by the document (its text and index), the `defs` blob, a small name
//! graph of the definitions, and one chunk of rows: tool definitions are pulled one at a time
//! from [`tool_iter`] and appended to a chunk that is flushed with `Sql::batch` when it reaches
//! [`BATCH_BYTES`]. Every insert binds four parameters — the rows travel as one JSON array text
//! expanded by `json_each` — so D1's 100-parameter limit never binds, and each bound value stays
//! under [`STATEMENT_PAYLOAD_BYTES`] (or one row, at most [`MAX_ROW_PAYLOAD_BYTES`]), far below
//! D1's 2 MB value limit.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Value};

use super::{
    defs_collection, ops_collection, OpenApiStoreError, OperationRow, SpecInput, PLUGIN_ID,
};
use crate::app::Services;
use crate::logging;
use crate::net::http::{guarded_fetch, FetchError, OutboundRequest};
use crate::plugins::openapi::schema::direct_def_refs;
use crate::plugins::openapi::{
    defs_blob, tool_iter, DefsIndex, OpenApiDocument, OpenApiError, ToolDefinition, PARSE_PREFIX,
};
use crate::store::blobs::content_key;
use crate::store::{Sql, Statement, StoreError};

/// `Accept` of a spec fetch (§8.1.1).
pub const SPEC_ACCEPT: &str = "application/json, application/yaml, text/yaml, */*";

/// Wall-clock budget of a spec fetch, all redirects included (§8.1.1).
pub const SPEC_FETCH_TIMEOUT_MS: u64 = 60_000;

/// Largest spec body a fetch accepts. The biggest specs we ingest (Cloudflare ~16 MB, GitHub
/// ~13 MB) fit; the ingest memory budget (64 MiB of wasm heap, `tests/memory`) does not leave
/// room for much more than twice that.
pub const MAX_SPEC_BYTES: usize = 32 * 1024 * 1024;

/// Upstream's whole message for an unfetchable spec (wire 106).
pub const FETCH_PREFIX: &str = "Failed to fetch OpenAPI document";

/// Target size of one insert's JSON payload (one bound value).
const STATEMENT_PAYLOAD_BYTES: usize = 256 * 1024;

/// Buffered statement payload that triggers a `batch` flush.
const BATCH_BYTES: usize = 1024 * 1024;

/// Largest single row (its JSON-encoded `[key, data]` element). D1 refuses values over 2 MB;
/// this keeps a wide margin (the biggest GitHub or Cloudflare row is a few tens of KB).
const MAX_ROW_PAYLOAD_BYTES: usize = 900_000;
const _: () = assert!(MAX_ROW_PAYLOAD_BYTES < 1_000_000);

fn fetch_failed(detail: Option<String>) -> OpenApiError {
    OpenApiError::Parse(match detail {
        Some(detail) => format!("{FETCH_PREFIX}: {detail}"),
        None => FETCH_PREFIX.to_owned(),
    })
}

/// Fetches a spec through the SSRF guard. Blocked or unreachable URLs are
/// `Failed to fetch OpenAPI document` (the reason goes to the log only, as upstream answers);
/// a non-2xx answer adds `: HTTP <status>`.
pub async fn fetch_spec(services: Services<'_>, url: &str) -> Result<String, OpenApiError> {
    let request = OutboundRequest {
        method: "GET".into(),
        url: url.to_owned(),
        headers: vec![
            ("accept".into(), SPEC_ACCEPT.into()),
            ("user-agent".into(), "executor".into()),
        ],
        body: None,
        timeout_ms: SPEC_FETCH_TIMEOUT_MS,
        max_body_bytes: MAX_SPEC_BYTES,
    };
    let response = guarded_fetch(services.http, request, services.config.allow_local_network)
        .await
        .map_err(|e| {
            logging::info(&format!("openapi: spec fetch failed: {e}"));
            match e {
                FetchError::TooLarge { .. } => fetch_failed(Some(format!(
                    "the document is larger than {} MiB",
                    MAX_SPEC_BYTES / (1024 * 1024)
                ))),
                _ => fetch_failed(None),
            }
        })?;
    if !(200..300).contains(&response.status) {
        return Err(fetch_failed(Some(format!("HTTP {}", response.status))));
    }
    String::from_utf8(response.body)
        .map_err(|_| OpenApiError::Parse(format!("{PARSE_PREFIX}: the document is not UTF-8 text")))
}

/// An inline spec, unless it is larger than a fetched one may be ([`MAX_SPEC_BYTES`]). The
/// `/api` body caps stop most such documents earlier; this also covers the built-in
/// `openapi.*` tools, whose arguments come from a script.
pub fn inline_spec(value: String) -> Result<String, OpenApiError> {
    if value.len() > MAX_SPEC_BYTES {
        return Err(OpenApiError::Parse(format!(
            "The OpenAPI document is larger than {} MiB ({} bytes)",
            MAX_SPEC_BYTES / (1024 * 1024),
            value.len()
        )));
    }
    Ok(value)
}

/// The text of a spec input: the inline value, or the fetched URL.
pub async fn spec_text(services: Services<'_>, spec: SpecInput) -> Result<String, OpenApiError> {
    match spec {
        SpecInput::Blob { value } => inline_spec(value),
        SpecInput::Url { url } => fetch_spec(services, url.trim()).await,
    }
}

/// What [`write_generation`] stored.
#[derive(Debug)]
pub struct Generation {
    pub id: String,
    pub tool_count: usize,
    /// Tool names in name order.
    pub tool_names: Vec<String>,
    pub spec_hash: String,
    pub spec_key: String,
    pub defs_key: String,
}

/// A fresh generation id: base-36 milliseconds plus randomness (unique per integration, and
/// roughly ordered for humans reading rows).
pub fn new_generation_id(now_ms: i64) -> String {
    format!(
        "{}{}",
        crate::ids::base36(now_ms.max(0) as u64),
        crate::ids::random_base36::<4>()
    )
}

/// Writes the rows and blobs of a new generation of `slug` from `doc` (consumed: its text
/// becomes the spec blob without a copy). On failure the rows written so far are deleted (best
/// effort) and the error is returned; nothing refers to the generation yet, so nothing else
/// needs undoing.
pub async fn write_generation(
    services: Services<'_>,
    tenant: &str,
    slug: &str,
    doc: OpenApiDocument,
    now_ms: i64,
) -> Result<Generation, OpenApiStoreError> {
    write_generation_as(services, PLUGIN_ID, tenant, slug, doc, now_ms).await
}

/// [`write_generation`] for an OpenAPI-backed plugin other than `openapi` (Google Discovery
/// bundles are converted to OpenAPI and stored the same way under `plugin_id = 'google'`): the
/// rows and blobs carry `plugin_id`.
pub async fn write_generation_as(
    services: Services<'_>,
    plugin_id: &str,
    tenant: &str,
    slug: &str,
    doc: OpenApiDocument,
    now_ms: i64,
) -> Result<Generation, OpenApiStoreError> {
    let id = new_generation_id(now_ms);
    match write_rows_and_blobs(services, plugin_id, tenant, slug, &id, doc, now_ms).await {
        Ok(generation) => Ok(generation),
        Err(e) => {
            discard_generation_as(services.sql, plugin_id, tenant, slug, &id).await;
            Err(e)
        }
    }
}

const DISCARD_SQL: &str = "DELETE FROM plugin_storage WHERE tenant = ?1 AND owner = 'org' \
     AND subject = '' AND plugin_id = ?4 AND collection IN (?2, ?3)";

/// The statement that deletes a generation's rows of `plugin_id`.
pub fn discard_statement_as(
    plugin_id: &str,
    tenant: &str,
    slug: &str,
    generation: &str,
) -> Statement {
    Statement::new(
        DISCARD_SQL,
        vec![
            tenant.into(),
            ops_collection(slug, generation).into(),
            defs_collection(slug, generation).into(),
            plugin_id.into(),
        ],
    )
}

/// Deletes a generation's rows; failures are logged (an orphan generation is invisible and
/// removed with the integration).
pub async fn discard_generation(sql: &dyn Sql, tenant: &str, slug: &str, generation: &str) {
    discard_generation_as(sql, PLUGIN_ID, tenant, slug, generation).await
}

/// [`discard_generation`] for the rows of `plugin_id`.
pub async fn discard_generation_as(
    sql: &dyn Sql,
    plugin_id: &str,
    tenant: &str,
    slug: &str,
    generation: &str,
) {
    if let Err(e) = sql
        .execute(discard_statement_as(plugin_id, tenant, slug, generation))
        .await
    {
        logging::warn(&format!(
            "openapi: could not delete generation {generation} of {slug}: {e}"
        ));
    }
}

async fn write_rows_and_blobs(
    services: Services<'_>,
    plugin_id: &str,
    tenant: &str,
    slug: &str,
    generation: &str,
    doc: OpenApiDocument,
    now_ms: i64,
) -> Result<Generation, OpenApiStoreError> {
    let internal = |what: &str, e: &dyn std::fmt::Display| {
        OpenApiStoreError::Internal(format!("openapi ingest of {slug}: {what}: {e}"))
    };

    // Shared definitions: rows straight from the blob's raw members, plus the name graph that
    // gives each tool its `defs` list without re-reading schemas.
    let blob = defs_blob(&doc);
    let graph = {
        let index = DefsIndex::new(&blob).map_err(|e| internal("defs blob", &e))?;
        let mut writer = RowWriter::new(
            services.sql,
            plugin_id,
            tenant,
            defs_collection(slug, generation),
            now_ms,
        );
        let mut graph: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (name, raw) in index.raw_members() {
            let refs = serde_json::from_str::<Value>(raw)
                .map(|schema| dedup(direct_def_refs(&schema)))
                .unwrap_or_default();
            graph.insert(name.to_owned(), refs);
            writer.push(name, raw, "schema definition").await?;
        }
        writer.finish().await?;
        graph
    };

    // Operations, one definition at a time.
    let mut writer = RowWriter::new(
        services.sql,
        plugin_id,
        tenant,
        ops_collection(slug, generation),
        now_ms,
    );
    let mut tool_names = Vec::new();
    for tool in tool_iter(&doc) {
        let name = tool.name.clone();
        let row = operation_row(tool, &graph);
        let data = serde_json::to_string(&row).map_err(|e| internal("encode operation", &e))?;
        drop(row);
        writer.push(&name, &data, "operation").await?;
        tool_names.push(name);
    }
    writer.finish().await?;
    drop(graph);

    // Blobs, content-addressed in the org partition (§4.5); the text moves into the blob store.
    let partition = format!("o:{tenant}");
    let defs_key = content_key(&partition, plugin_id, "defs", blob.as_bytes());
    services
        .blobs
        .put(&defs_key, blob.into_bytes())
        .await
        .map_err(OpenApiStoreError::from)?;
    let spec = doc.into_json_text().into_bytes();
    let spec_key = content_key(&partition, plugin_id, "spec", &spec);
    services
        .blobs
        .put(&spec_key, spec)
        .await
        .map_err(OpenApiStoreError::from)?;
    let spec_hash = spec_key.rsplit('/').next().unwrap_or_default().to_owned();

    Ok(Generation {
        id: generation.to_owned(),
        tool_count: tool_names.len(),
        tool_names,
        spec_hash,
        spec_key,
        defs_key,
    })
}

fn dedup(mut names: Vec<String>) -> Vec<String> {
    crate::sort::sort_by(&mut names, |a, b| a.cmp(b));
    names.dedup();
    names
}

/// A boolean schema as an equivalent object, so every stored schema is a JSON object or `null`
/// (readers extract them with `json_extract`, which turns JSON booleans into integers).
fn object_schema(schema: Option<Value>) -> Option<Value> {
    match schema {
        Some(Value::Bool(true)) => Some(json!({})),
        Some(Value::Bool(false)) => Some(json!({"not": {}})),
        other => other,
    }
}

/// A tool definition as its stored operation row; `defs` is the transitive closure of the
/// definitions its schemas refer to (names missing from the graph are dropped).
pub(super) fn operation_row(
    tool: ToolDefinition,
    graph: &BTreeMap<String, Vec<String>>,
) -> OperationRow {
    let mut pending: Vec<String> = Vec::new();
    for schema in [&tool.input_schema, &tool.output_schema]
        .into_iter()
        .flatten()
    {
        pending.extend(direct_def_refs(schema));
    }
    let mut defs = BTreeSet::new();
    while let Some(name) = pending.pop() {
        let Some(refs) = graph.get(&name) else {
            continue;
        };
        if defs.insert(name) {
            pending.extend(refs.iter().cloned());
        }
    }
    let annotations = (tool.annotations != Default::default()).then_some(tool.annotations);
    OperationRow {
        binding: tool.binding,
        description: tool.description,
        input_schema: object_schema(tool.input_schema),
        output_schema: object_schema(tool.output_schema),
        annotations,
        defs: defs.into_iter().collect(),
    }
}

const INSERT_ROWS_SQL: &str = "INSERT INTO plugin_storage \
     (row_id, tenant, owner, subject, plugin_id, collection, key, data, created_at, updated_at) \
     SELECT lower(hex(randomblob(16))), ?1, 'org', '', ?5, ?2, \
       json_extract(value, '$[0]'), json_extract(value, '$[1]'), ?3, ?3 \
     FROM json_each(?4)";

/// Buffers `plugin_storage` rows of one collection into JSON-array inserts and flushes them in
/// batches.
struct RowWriter<'a> {
    sql: &'a dyn Sql,
    plugin_id: &'a str,
    tenant: &'a str,
    collection: String,
    now_ms: i64,
    /// The open statement's payload: `[` + elements joined by `,` (closed when sealed).
    payload: String,
    rows: usize,
    pending: Vec<Statement>,
    pending_bytes: usize,
}

impl<'a> RowWriter<'a> {
    fn new(
        sql: &'a dyn Sql,
        plugin_id: &'a str,
        tenant: &'a str,
        collection: String,
        now_ms: i64,
    ) -> Self {
        RowWriter {
            sql,
            plugin_id,
            tenant,
            collection,
            now_ms,
            payload: String::new(),
            rows: 0,
            pending: Vec::new(),
            pending_bytes: 0,
        }
    }

    /// Adds one row (`data` is JSON text, stored verbatim). `what` names the row in errors.
    async fn push(&mut self, key: &str, data: &str, what: &str) -> Result<(), OpenApiStoreError> {
        let element = serde_json::to_string(&(key, data))
            .map_err(|e| OpenApiStoreError::Internal(format!("encode {what} row: {e}")))?;
        if element.len() > MAX_ROW_PAYLOAD_BYTES {
            return Err(OpenApiError::Extraction(format!(
                "The {what} \"{key}\" is too large to store ({} bytes; the limit is {} bytes).",
                element.len(),
                MAX_ROW_PAYLOAD_BYTES
            ))
            .into());
        }
        if self.rows > 0 && self.payload.len() + element.len() + 2 > STATEMENT_PAYLOAD_BYTES {
            self.seal();
            if self.pending_bytes >= BATCH_BYTES {
                self.flush().await?;
            }
        }
        self.payload.push(if self.rows == 0 { '[' } else { ',' });
        self.payload.push_str(&element);
        self.rows += 1;
        Ok(())
    }

    fn seal(&mut self) {
        if self.rows == 0 {
            return;
        }
        let mut payload = std::mem::take(&mut self.payload);
        payload.push(']');
        self.pending_bytes += payload.len();
        self.pending.push(Statement::new(
            INSERT_ROWS_SQL,
            vec![
                self.tenant.into(),
                self.collection.as_str().into(),
                self.now_ms.into(),
                payload.into(),
                self.plugin_id.into(),
            ],
        ));
        self.rows = 0;
    }

    async fn flush(&mut self) -> Result<(), StoreError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let statements = std::mem::take(&mut self.pending);
        self.pending_bytes = 0;
        self.sql.batch(statements).await
    }

    async fn finish(mut self) -> Result<(), StoreError> {
        self.seal();
        self.flush().await
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::store::sqlite::SqliteStore;

    #[tokio::test]
    async fn rows_round_trip_through_json_each_in_chunks() {
        let db = SqliteStore::migrated().unwrap();
        let mut writer = RowWriter::new(&db, "openapi", "t", "op:x:g".into(), 7);
        let big = format!("{{\"text\":\"{}\"}}", "é\"\\".repeat(30_000));
        for i in 0..40 {
            let data = if i % 10 == 0 {
                big.clone()
            } else {
                format!("{{\"i\":{i},\"b\":true}}")
            };
            writer
                .push(&format!("k{i:02}"), &data, "row")
                .await
                .unwrap();
        }
        writer.finish().await.unwrap();
        let rows = db
            .query(Statement::new(
                "SELECT key, data, owner, subject, plugin_id, created_at, length(row_id) AS id_len \
                 FROM plugin_storage ORDER BY key",
                vec![],
            ))
            .await
            .unwrap();
        assert_eq!(rows.len(), 40);
        assert_eq!(rows[0]["data"], big.as_str(), "stored verbatim");
        assert_eq!(rows[1]["data"], "{\"i\":1,\"b\":true}");
        assert_eq!(
            (
                rows[1]["owner"].clone(),
                rows[1]["subject"].clone(),
                rows[1]["plugin_id"].clone()
            ),
            (json!("org"), json!(""), json!("openapi"))
        );
        assert_eq!(
            (rows[1]["created_at"].clone(), rows[1]["id_len"].clone()),
            (json!(7), json!(32))
        );
        let high = db.high_water();
        assert!(high.params <= 5);
        assert!(
            high.value_bytes < STATEMENT_PAYLOAD_BYTES + big.len() * 2,
            "{high:?}"
        );

        let mut writer = RowWriter::new(&db, "openapi", "t", "op:x:h".into(), 7);
        let huge = "x".repeat(MAX_ROW_PAYLOAD_BYTES);
        let e = writer.push("huge", &huge, "operation").await.unwrap_err();
        assert!(
            matches!(e, OpenApiStoreError::Spec(OpenApiError::Extraction(_))),
            "{e:?}"
        );
    }
}
