//! OpenAPI integrations in storage (executor-behaviour.md §3.4.1, §4.3, §4.5, §8.1.6, §8.7): adding
//! a spec, its config, spec updates, removal, detection, and per-connection tool production.
//!
//! Storage layout (the catalog reads it; see `notes/catalog-contract.md`):
//! * `integration` row, `plugin_id = 'openapi'`, `config` = [`OpenApiConfig`] as JSON text. The
//!   config names the current *generation*; `config_revised_at` moves on every tool-affecting
//!   change (config or spec), which makes connections stale (§8.7).
//! * `plugin_storage` (org partition, `plugin_id = 'openapi'`): `op:<slug>:<generation>` rows keyed
//!   by tool name holding an [`OperationRow`], and `defs:<slug>:<generation>` rows keyed by
//!   definition name holding the schema.
//! * R2, org partition `o:<tenant>`, content-addressed: `openapi/spec/<sha256>` (the document as
//!   JSON text — YAML input is stored converted) and `openapi/defs/<sha256>` (all definitions).
//!   Blobs are never deleted: several integrations may share one.
//!
//! Writes are ordered so that a failure leaves nothing visible: a new generation's rows are
//! written first, then the blobs, and only then the integration row (add) or the one-statement
//! flip of `config.generation` (spec update); a failed write deletes its generation (best effort).
//! Slugs: 1–64 ASCII letters, digits, `_` or `-`, starting with a letter or digit ([`valid_slug`]);
//! they become tool-address and collection-name segments, so `.`, `:` and `/` are excluded.

mod auth_input;
mod ingest;
mod produce;

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub use auth_input::{custom_slug, merge, parse_inputs, AuthInput, MergeMode};
pub use ingest::{
    discard_generation, discard_generation_as, fetch_spec, write_generation_as, Generation,
    FETCH_PREFIX, MAX_SPEC_BYTES, SPEC_ACCEPT, SPEC_FETCH_TIMEOUT_MS,
};
pub use produce::produce_tools;

use crate::app::Services;
use crate::auth::Principal;
use crate::integrations::config::{self as config_rewrite, RewriteError};
use crate::integrations::detect::{slugify, Confidence, Detection};
use crate::integrations::{self, RemoveOutcome};
use crate::json_fields::{unknown_variant, Fields};
use crate::logging;
use crate::plugins::openapi::{
    derive_auth_templates, info, parse, preview as preview_document, AuthTemplate, OpenApiError,
    OperationBinding, SpecPreview, ToolAnnotations,
};
use crate::store::{decode_rows, FromRow, RowReader, Sql, Statement, StoreError};

/// `plugin_id` of OpenAPI integrations and rows.
pub const PLUGIN_ID: &str = "openapi";

/// Longest integration slug.
pub const MAX_SLUG_CHARS: usize = 64;

/// Collection of a generation's operation rows.
pub fn ops_collection(slug: &str, generation: &str) -> String {
    format!("op:{slug}:{generation}")
}

/// Collection of a generation's definition rows.
pub fn defs_collection(slug: &str, generation: &str) -> String {
    format!("defs:{slug}:{generation}")
}

/// Whether `slug` may name a new integration (see the module docs).
pub fn valid_slug(slug: &str) -> bool {
    let mut chars = slug.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && slug.len() <= MAX_SLUG_CHARS
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

// ---------------------------------------------------------------------------------------------
// Stored shapes

/// The `config` JSON of an OpenAPI integration row. Absent keys are unset.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OpenApiConfig {
    /// Lowercase hex SHA-256 of the stored spec text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spec_hash: Option<String>,
    /// R2 key of the spec text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spec_key: Option<String>,
    /// R2 key of the `defs` blob.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub defs_key: Option<String>,
    /// The current generation of `op:`/`defs:` rows.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub generation: Option<String>,
    /// Where the spec was fetched from (URL specs; what a refresh re-fetches).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_url: Option<String>,
    /// Overrides the operations' servers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
    /// Static headers sent with every call.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub headers: Option<BTreeMap<String, String>>,
    /// Static query parameters sent with every call.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub query_params: Option<BTreeMap<String, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authentication_template: Option<Vec<AuthTemplate>>,
}

impl OpenApiConfig {
    /// Reads a stored config.
    pub fn parse(text: &str) -> Result<OpenApiConfig, String> {
        const NAMES: &[&str] = &[
            "specHash",
            "specKey",
            "defsKey",
            "generation",
            "sourceUrl",
            "baseUrl",
            "headers",
            "queryParams",
            "authenticationTemplate",
        ];
        let f = Fields::parse(text, NAMES, false)?;
        let authentication_template = match f.raw("authenticationTemplate") {
            Some(raw) if raw.get() != "null" => Some(
                AuthTemplate::parse_list(raw.get())
                    .map_err(|e| format!("field `authenticationTemplate`: {e}"))?,
            ),
            _ => None,
        };
        Ok(OpenApiConfig {
            spec_hash: f.opt_string("specHash")?,
            spec_key: f.opt_string("specKey")?,
            defs_key: f.opt_string("defsKey")?,
            generation: f.opt_string("generation")?,
            source_url: f.opt_string("sourceUrl")?,
            base_url: f.opt_string("baseUrl")?,
            headers: f.opt_string_map("headers")?,
            query_params: f.opt_string_map("queryParams")?,
            authentication_template,
        })
    }

    /// The JSON text to store.
    pub fn to_json(&self) -> String {
        // Serialising plain strings and maps cannot fail.
        serde_json::to_string(self).unwrap_or_else(|_| "{}".to_owned())
    }

    /// The current generation's operation collection for integration `slug`.
    pub fn ops_collection(&self, slug: &str) -> Option<String> {
        self.generation.as_deref().map(|g| ops_collection(slug, g))
    }

    /// The current generation's definition collection for integration `slug`.
    pub fn defs_collection(&self, slug: &str) -> Option<String> {
        self.generation.as_deref().map(|g| defs_collection(slug, g))
    }

    /// The auth template a connection selects by slug.
    pub fn auth_template(&self, slug: &str) -> Option<&AuthTemplate> {
        self.authentication_template
            .as_deref()
            .unwrap_or_default()
            .iter()
            .find(|t| t.slug() == slug)
    }
}

/// One `op:<slug>:<generation>` row's `data`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OperationRow {
    pub binding: OperationBinding,
    pub description: String,
    /// A JSON object, or `null` when the operation takes no arguments.
    pub input_schema: Option<Value>,
    /// A JSON object, or `null` when the response has no schema.
    pub output_schema: Option<Value>,
    /// `null` when the operation has the default annotations (no approval).
    pub annotations: Option<ToolAnnotations>,
    /// Names of the definitions the schemas reach, transitively, sorted.
    pub defs: Vec<String>,
}

impl OperationRow {
    /// Reads a stored row.
    pub fn parse(text: &str) -> Result<OperationRow, String> {
        const NAMES: &[&str] = &[
            "binding",
            "description",
            "inputSchema",
            "outputSchema",
            "annotations",
            "defs",
        ];
        let f = Fields::parse(text, NAMES, false)?;
        let binding = f.raw("binding").ok_or("missing field `binding`")?;
        let annotations = match f.raw("annotations").filter(|r| r.get() != "null") {
            Some(raw) => Some(ToolAnnotations::parse(raw.get())?),
            None => None,
        };
        Ok(OperationRow {
            binding: OperationBinding::parse(binding.get())?,
            description: f.string("description")?,
            input_schema: f.opt_value("inputSchema")?,
            output_schema: f.opt_value("outputSchema")?,
            annotations,
            defs: f.strings("defs")?,
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Errors

/// Why an OpenAPI integration operation failed.
#[derive(Debug, Clone, PartialEq)]
pub enum OpenApiStoreError {
    /// The spec could not be fetched, parsed or turned into tools: 400 `OpenApiParseError` /
    /// `OpenApiExtractionError`.
    Spec(OpenApiError),
    /// The request does not fit the route's schema (bad slug, bad auth input): 400.
    Invalid(String),
    /// 409 `IntegrationAlreadyExistsError`.
    AlreadyExists { slug: String },
    /// 404 `IntegrationNotFoundError`.
    NotFound { slug: String },
    /// 409 `IntegrationRemovalNotAllowedError`.
    RemovalNotAllowed { slug: String },
    /// Storage failure or broken stored data; logged, answered as an opaque 500.
    Internal(String),
}

impl From<OpenApiError> for OpenApiStoreError {
    fn from(e: OpenApiError) -> Self {
        OpenApiStoreError::Spec(e)
    }
}

impl From<RewriteError<OpenApiStoreError>> for OpenApiStoreError {
    fn from(e: RewriteError<OpenApiStoreError>) -> Self {
        match e {
            RewriteError::Change(e) => e,
            RewriteError::Store(e) => e.into(),
            RewriteError::Contended(message) => OpenApiStoreError::Internal(message),
        }
    }
}

impl From<StoreError> for OpenApiStoreError {
    fn from(e: StoreError) -> Self {
        OpenApiStoreError::Internal(e.to_string())
    }
}

impl std::fmt::Display for OpenApiStoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OpenApiStoreError::Spec(e) => write!(f, "{}: {}", e.tag(), e.message()),
            OpenApiStoreError::Invalid(m) | OpenApiStoreError::Internal(m) => f.write_str(m),
            OpenApiStoreError::AlreadyExists { slug } => write!(f, "{slug} already exists"),
            OpenApiStoreError::NotFound { slug } => write!(f, "no integration {slug}"),
            OpenApiStoreError::RemovalNotAllowed { slug } => {
                write!(f, "{slug} cannot be removed")
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Requests and answers

mod json_text;

/// Where a spec comes from: `{kind: "url", url}` or `{kind: "blob", value}`.
///
/// Deserialised by hand: a pasted spec is the largest thing a request carries (13 MB for the
/// GitHub REST document), and serde's internally tagged enums buffer it, then its string parser
/// grows a scratch copy by doubling before the final copy. Here the value is borrowed raw from
/// the request body and unescaped once into an exact-size `String` ([`json_text::unescape`]),
/// which keeps an inline add within the Worker's memory budget.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SpecInput {
    Url { url: String },
    Blob { value: String },
}

impl SpecInput {
    /// Reads `{kind, url | value}` from its JSON text (`value` unescaped straight from the
    /// request text, see the type docs).
    pub fn parse(text: &str) -> Result<SpecInput, String> {
        let f = Fields::parse(text, &["kind", "url", "value"], false)?;
        let kind = f.string("kind")?;
        match kind.as_str() {
            "url" => match f.opt_string("url")? {
                Some(url) => Ok(SpecInput::Url { url }),
                None => Err("missing field `url`".into()),
            },
            "blob" => match f.raw("value").filter(|r| r.get() != "null") {
                Some(raw) => json_text::unescape(raw.get())
                    .map(|value| SpecInput::Blob { value })
                    .ok_or_else(|| "`spec.value` must be a string".to_owned()),
                None => Err("missing field `value`".into()),
            },
            other => Err(unknown_variant("kind", other, &["url", "blob"])),
        }
    }

    /// The member `name` of `f` as a spec; `None` when absent or `null`.
    fn member(f: &Fields<'_>, name: &str) -> Result<Option<SpecInput>, String> {
        match f.raw(name).filter(|r| r.get() != "null") {
            Some(raw) => SpecInput::parse(raw.get())
                .map(Some)
                .map_err(|e| format!("field `{name}`: {e}")),
            None => Ok(None),
        }
    }
}

/// `POST /openapi/specs`.
#[derive(Debug, Clone)]
pub struct AddRequest {
    pub spec: SpecInput,
    pub slug: String,
    pub name: Option<String>,
    pub description: Option<String>,
    pub base_url: Option<String>,
    pub headers: Option<BTreeMap<String, String>>,
    pub query_params: Option<BTreeMap<String, String>>,
    /// Parsed with [`parse_inputs`] (its dialects need clearer errors than a schema gives).
    pub authentication_template: Option<Value>,
}

impl AddRequest {
    /// Reads the JSON object text of an add request.
    pub fn parse(text: &str) -> Result<AddRequest, String> {
        const NAMES: &[&str] = &[
            "spec",
            "slug",
            "name",
            "description",
            "baseUrl",
            "headers",
            "queryParams",
            "authenticationTemplate",
        ];
        let f = Fields::parse(text, NAMES, false)?;
        Ok(AddRequest {
            spec: SpecInput::member(&f, "spec")?.ok_or("missing field `spec`")?,
            slug: f.string("slug")?,
            name: f.opt_string("name")?,
            description: f.opt_string("description")?,
            base_url: f.opt_string("baseUrl")?,
            headers: f.opt_string_map("headers")?,
            query_params: f.opt_string_map("queryParams")?,
            authentication_template: f.opt_value("authenticationTemplate")?,
        })
    }
}

/// `{slug, toolCount}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Added {
    pub slug: String,
    pub tool_count: usize,
}

/// `GET /openapi/integrations/:slug` (wire 17).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IntegrationView {
    pub slug: String,
    pub description: String,
    pub kind: &'static str,
    pub can_remove: bool,
    pub can_refresh: bool,
}

/// `GET /openapi/integrations/:slug/config` (wire 18): unset fields are `null`; the spec text is
/// never included.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConfigView {
    pub source_url: Option<String>,
    pub base_url: Option<String>,
    pub headers: Option<BTreeMap<String, String>>,
    pub query_params: Option<BTreeMap<String, String>>,
    pub authentication_template: Vec<AuthTemplate>,
}

/// `POST /openapi/integrations/:slug/spec` answer; tool names in name order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SpecUpdated {
    pub slug: String,
    pub tool_count: usize,
    pub added_tools: Vec<String>,
    pub removed_tools: Vec<String>,
}

// ---------------------------------------------------------------------------------------------
// Reads

/// An integration row of a spec-based plugin (OpenAPI, Google).
#[derive(Debug, Deserialize)]
pub(crate) struct IntegrationRow {
    pub(crate) plugin_id: String,
    pub(crate) description: Option<String>,
    pub(crate) config: Option<String>,
    pub(crate) can_remove: i64,
    pub(crate) can_refresh: i64,
}

impl FromRow for IntegrationRow {
    fn from_row(row: &RowReader<'_>) -> Result<Self, StoreError> {
        Ok(IntegrationRow {
            plugin_id: row.text("plugin_id")?,
            description: row.opt_text("description")?,
            config: row.opt_text("config")?,
            can_remove: row.int("can_remove")?,
            can_refresh: row.int("can_refresh")?,
        })
    }
}

const ROW_SQL: &str = "SELECT plugin_id, description, config, can_remove, can_refresh \
     FROM integration WHERE tenant = ?1 AND slug = ?2";

async fn openapi_row(
    sql: &dyn Sql,
    tenant: &str,
    slug: &str,
) -> Result<Option<IntegrationRow>, StoreError> {
    plugin_row(sql, PLUGIN_ID, tenant, slug).await
}

/// The integration `slug` when it belongs to plugin `plugin_id` (shared with Google).
pub(crate) async fn plugin_row(
    sql: &dyn Sql,
    plugin_id: &str,
    tenant: &str,
    slug: &str,
) -> Result<Option<IntegrationRow>, StoreError> {
    let rows: Vec<IntegrationRow> = decode_rows(
        sql.query(Statement::new(ROW_SQL, vec![tenant.into(), slug.into()]))
            .await?,
    )?;
    Ok(rows.into_iter().find(|r| r.plugin_id == plugin_id))
}

fn row_config(slug: &str, row: &IntegrationRow) -> Result<OpenApiConfig, OpenApiStoreError> {
    text_config(slug, row.config.as_deref())
}

fn text_config(slug: &str, text: Option<&str>) -> Result<OpenApiConfig, OpenApiStoreError> {
    match text {
        None => Ok(OpenApiConfig::default()),
        Some(text) => OpenApiConfig::parse(text)
            .map_err(|e| OpenApiStoreError::Internal(format!("config of {slug}: {e}"))),
    }
}

/// The stored config of OpenAPI integration `slug` (`None`: no such OpenAPI integration).
pub async fn load_config(
    sql: &dyn Sql,
    tenant: &str,
    slug: &str,
) -> Result<Option<OpenApiConfig>, OpenApiStoreError> {
    match openapi_row(sql, tenant, slug).await? {
        Some(row) => row_config(slug, &row).map(Some),
        None => Ok(None),
    }
}

const OPERATION_SQL: &str = "SELECT data FROM plugin_storage WHERE tenant = ?1 AND owner = 'org' \
     AND subject = '' AND plugin_id = 'openapi' AND collection = ?2 AND key = ?3";

/// One tool's operation row in `config`'s current generation (`None`: no such tool).
pub async fn load_operation(
    sql: &dyn Sql,
    tenant: &str,
    slug: &str,
    config: &OpenApiConfig,
    tool: &str,
) -> Result<Option<OperationRow>, OpenApiStoreError> {
    let Some(collection) = config.ops_collection(slug) else {
        return Ok(None);
    };
    let rows = sql
        .query(Statement::new(
            OPERATION_SQL,
            vec![tenant.into(), collection.into(), tool.into()],
        ))
        .await?;
    let Some(data) = rows
        .first()
        .and_then(|r| r.get("data"))
        .and_then(Value::as_str)
    else {
        return Ok(None);
    };
    OperationRow::parse(data)
        .map(Some)
        .map_err(|e| OpenApiStoreError::Internal(format!("operation {slug}.{tool}: {e}")))
}

const DEFS_SQL: &str = "SELECT key, data FROM plugin_storage WHERE tenant = ?1 AND owner = 'org' \
     AND subject = '' AND plugin_id = 'openapi' AND collection = ?2 \
     AND key IN (SELECT value FROM json_each(?3))";

/// The named definitions of `config`'s current generation (unknown names are skipped), e.g. an
/// [`OperationRow::defs`] list — one query whatever the number of names.
pub async fn load_defs(
    sql: &dyn Sql,
    tenant: &str,
    slug: &str,
    config: &OpenApiConfig,
    names: &[String],
) -> Result<Map<String, Value>, OpenApiStoreError> {
    let mut out = Map::new();
    let Some(collection) = config.defs_collection(slug) else {
        return Ok(out);
    };
    if names.is_empty() {
        return Ok(out);
    }
    let names =
        serde_json::to_string(names).map_err(|e| OpenApiStoreError::Internal(e.to_string()))?;
    let rows = sql
        .query(Statement::new(
            DEFS_SQL,
            vec![tenant.into(), collection.into(), names.into()],
        ))
        .await?;
    for row in rows {
        let (Some(name), Some(data)) = (
            row.get("key").and_then(Value::as_str),
            row.get("data").and_then(Value::as_str),
        ) else {
            continue;
        };
        let schema = serde_json::from_str(data)
            .map_err(|e| OpenApiStoreError::Internal(format!("definition {slug}/{name}: {e}")))?;
        out.insert(name.to_owned(), schema);
    }
    Ok(out)
}

/// `GET /openapi/integrations/:slug`: `None` when there is no OpenAPI integration of that slug.
pub async fn get(
    sql: &dyn Sql,
    tenant: &str,
    slug: &str,
) -> Result<Option<IntegrationView>, OpenApiStoreError> {
    Ok(openapi_row(sql, tenant, slug)
        .await?
        .map(|row| IntegrationView {
            slug: slug.to_owned(),
            description: row.description.unwrap_or_default(),
            kind: PLUGIN_ID,
            can_remove: row.can_remove != 0,
            can_refresh: row.can_refresh != 0,
        }))
}

/// `GET /openapi/integrations/:slug/config`.
pub async fn get_config(
    sql: &dyn Sql,
    tenant: &str,
    slug: &str,
) -> Result<Option<ConfigView>, OpenApiStoreError> {
    Ok(load_config(sql, tenant, slug).await?.map(|c| ConfigView {
        source_url: c.source_url,
        base_url: c.base_url,
        headers: c.headers,
        query_params: c.query_params,
        authentication_template: c.authentication_template.unwrap_or_default(),
    }))
}

// ---------------------------------------------------------------------------------------------
// Preview and detection

/// Whether a preview input is a URL to fetch rather than spec text.
pub fn looks_like_url(spec: &str) -> bool {
    let spec = spec.trim();
    (spec.starts_with("https://") || spec.starts_with("http://"))
        && !spec.contains(char::is_whitespace)
}

/// `POST /openapi/preview`: `spec` is a URL (fetched) or the document's text. Stores nothing.
pub async fn preview(
    services: Services<'_>,
    spec: String,
) -> Result<SpecPreview, OpenApiStoreError> {
    let text = if looks_like_url(&spec) {
        fetch_spec(services, spec.trim()).await?
    } else {
        ingest::inline_spec(spec)?
    };
    let doc = parse(text)?;
    Ok(preview_document(&doc))
}

/// The OpenAPI detector (§8.6): the URL serves an OpenAPI 3.x document (JSON or YAML).
pub async fn detect(services: Services<'_>, url: &str) -> Option<Detection> {
    let text = fetch_spec(services, url).await.ok()?;
    let doc = parse(text).ok()?;
    let title = info(&doc).title.filter(|t| !t.trim().is_empty());
    Some(Detection {
        kind: PLUGIN_ID,
        confidence: Confidence::High,
        endpoint: url.to_owned(),
        slug: slugify(title.as_deref().unwrap_or_default(), "api"),
        name: title.unwrap_or_else(|| "api".to_owned()),
    })
}

// ---------------------------------------------------------------------------------------------
// Add

fn non_blank(text: Option<String>) -> Option<String> {
    text.map(|t| t.trim().to_owned()).filter(|t| !t.is_empty())
}

const EXISTS_SQL: &str = "SELECT 1 AS one FROM integration WHERE tenant = ?1 AND slug = ?2";

const INSERT_INTEGRATION_SQL: &str = "INSERT INTO integration (row_id, tenant, slug, plugin_id, \
       name, description, config, config_revised_at, can_remove, can_refresh, created_at, \
       updated_at) \
     VALUES (?1, ?2, ?3, 'openapi', ?4, ?5, ?6, ?7, 1, ?8, ?7, ?7) \
     ON CONFLICT (tenant, slug) DO NOTHING";

/// `POST /openapi/specs` (§3.4.1, §8.1.6): fetches or takes the spec, writes a generation and
/// its blobs, then inserts the integration row. Tools appear per connection, not here.
pub async fn add(
    services: Services<'_>,
    tenant: &str,
    request: AddRequest,
) -> Result<Added, OpenApiStoreError> {
    let slug = request.slug.clone();
    if !valid_slug(&slug) {
        return Err(OpenApiStoreError::Invalid(format!(
            "`slug` must be 1–{MAX_SLUG_CHARS} ASCII letters, digits, `_` or `-`, starting with a \
             letter or digit (got {:?})",
            slug.chars().take(100).collect::<String>()
        )));
    }
    let inputs = match &request.authentication_template {
        None | Some(Value::Null) => None,
        Some(value) => Some(parse_inputs(value).map_err(OpenApiStoreError::Invalid)?),
    };
    let already = slug == integrations::BUILT_IN_SLUG
        || !services
            .sql
            .query(Statement::new(
                EXISTS_SQL,
                vec![tenant.into(), slug.as_str().into()],
            ))
            .await?
            .is_empty();
    if already {
        return Err(OpenApiStoreError::AlreadyExists { slug });
    }

    let source_url = match &request.spec {
        SpecInput::Url { url } => Some(url.trim().to_owned()),
        SpecInput::Blob { .. } => None,
    };
    let started_ms = services.clock.now_ms();
    let text = ingest::spec_text(services, request.spec).await?;
    let spec_bytes = text.len();
    let doc = parse(text)?;
    let doc_info = info(&doc);
    let templates = match inputs {
        Some(inputs) => merge(Vec::new(), inputs, MergeMode::Replace, custom_slug),
        None => derive_auth_templates(&doc),
    };
    let name = non_blank(request.name)
        .or_else(|| non_blank(doc_info.title.clone()))
        .unwrap_or_else(|| slug.clone());
    let description = non_blank(request.description)
        .or_else(|| non_blank(doc_info.description))
        .or_else(|| non_blank(doc_info.title))
        .unwrap_or_else(|| slug.clone());

    let now = services.clock.now_ms() as i64;
    let generation = ingest::write_generation(services, tenant, &slug, doc, now).await?;
    let config = OpenApiConfig {
        spec_hash: Some(generation.spec_hash.clone()),
        spec_key: Some(generation.spec_key.clone()),
        defs_key: Some(generation.defs_key.clone()),
        generation: Some(generation.id.clone()),
        source_url,
        base_url: non_blank(request.base_url),
        headers: request.headers,
        query_params: request.query_params,
        authentication_template: Some(templates),
    };
    let inserted = services
        .sql
        .execute(Statement::new(
            INSERT_INTEGRATION_SQL,
            vec![
                crate::ids::uuid_v4().into(),
                tenant.into(),
                slug.as_str().into(),
                name.into(),
                description.into(),
                config.to_json().into(),
                now.into(),
                config.source_url.is_some().into(),
            ],
        ))
        .await;
    match inserted {
        Ok(1) => {
            log_ingest(
                services,
                "add",
                &slug,
                generation.tool_count,
                spec_bytes,
                started_ms,
            );
            Ok(Added {
                slug,
                tool_count: generation.tool_count,
            })
        }
        Ok(_) => {
            // Someone added the slug while we were ingesting.
            discard_generation(services.sql, tenant, &slug, &generation.id).await;
            Err(OpenApiStoreError::AlreadyExists { slug })
        }
        Err(e) => {
            discard_generation(services.sql, tenant, &slug, &generation.id).await;
            Err(e.into())
        }
    }
}

/// One log line per ingest: size, time and — in the Worker — wasm linear memory, which only
/// grows, so in a fresh isolate it is the peak the ingest needed (issue #3 asks for it).
fn log_ingest(
    services: Services<'_>,
    what: &str,
    slug: &str,
    tools: usize,
    spec_bytes: usize,
    started_ms: f64,
) {
    let took_ms = services.clock.now_ms() - started_ms;
    let memory = crate::logging::linear_memory_bytes()
        .map(|b| format!(" linear_memory_mb={:.1}", b as f64 / 1_048_576.0))
        .unwrap_or_default();
    crate::logging::info(&format!(
        "openapi ingest {what}: slug={slug} tools={tools} spec_bytes={spec_bytes} \
         took_ms={took_ms:.0}{memory}"
    ));
}

// ---------------------------------------------------------------------------------------------
// Config updates

/// `POST /openapi/integrations/:slug/config` body.
#[derive(Debug, Clone)]
pub struct ConfigUpdate {
    pub authentication_template: Value,
    pub mode: Option<String>,
}

impl ConfigUpdate {
    /// Reads `{authenticationTemplate, mode?}`.
    pub fn parse(text: &str) -> Result<ConfigUpdate, String> {
        let f = Fields::parse(text, &["authenticationTemplate", "mode"], false)?;
        Ok(ConfigUpdate {
            authentication_template: f.value("authenticationTemplate")?,
            mode: f.opt_string("mode")?,
        })
    }
}

// `can_refresh` follows the config: an integration can be refreshed when it has a source URL.
const SWAP_CONFIG_SQL: &str = "UPDATE integration SET config = ?3, config_revised_at = ?4, \
     updated_at = ?4, can_refresh = (json_extract(?3, '$.sourceUrl') IS NOT NULL) \
     WHERE tenant = ?1 AND slug = ?2 AND plugin_id = 'openapi' AND config IS ?5";

/// Rewrites the stored config with `change` (compare-and-swap on the config text, retried when
/// another writer got there first) and bumps `config_revised_at`. `Ok(None)`: no such OpenAPI
/// integration.
async fn update_config<T>(
    services: Services<'_>,
    tenant: &str,
    slug: &str,
    mut change: impl FnMut(&mut OpenApiConfig) -> T,
) -> Result<Option<T>, OpenApiStoreError> {
    Ok(
        config_rewrite::rewrite(services, PLUGIN_ID, SWAP_CONFIG_SQL, tenant, slug, |text| {
            let mut config = text_config(slug, text)?;
            let answer = change(&mut config);
            Ok((config.to_json(), answer))
        })
        .await?,
    )
}

/// `POST /openapi/integrations/:slug/config`: merges or replaces the auth templates and answers
/// the stored list. An unknown slug answers an empty list (no 404, as upstream). Connections
/// pick the change up lazily (`config_revised_at`, §8.7).
pub async fn set_config(
    services: Services<'_>,
    tenant: &str,
    slug: &str,
    update: ConfigUpdate,
) -> Result<Vec<AuthTemplate>, OpenApiStoreError> {
    let mode = match update.mode.as_deref() {
        None => MergeMode::Merge,
        Some(mode) => MergeMode::parse(mode).ok_or_else(|| {
            OpenApiStoreError::Invalid("`mode` must be \"merge\" or \"replace\"".into())
        })?,
    };
    let inputs =
        parse_inputs(&update.authentication_template).map_err(OpenApiStoreError::Invalid)?;
    let stored = update_config(services, tenant, slug, |config| {
        let existing = config.authentication_template.take().unwrap_or_default();
        let merged = merge(existing, inputs.clone(), mode, custom_slug);
        config.authentication_template = Some(merged.clone());
        merged
    })
    .await?;
    Ok(stored.unwrap_or_default())
}

// ---------------------------------------------------------------------------------------------
// Spec updates

/// `POST /openapi/integrations/:slug/spec` body.
#[derive(Debug, Clone, Default)]
pub struct SpecUpdate {
    pub spec: Option<SpecInput>,
}

impl SpecUpdate {
    /// Reads `{spec?}`.
    pub fn parse(text: &str) -> Result<SpecUpdate, String> {
        let f = Fields::parse(text, &["spec"], false)?;
        Ok(SpecUpdate {
            spec: SpecInput::member(&f, "spec")?,
        })
    }
}

const GENERATION_KEYS_SQL: &str = "SELECT key FROM plugin_storage WHERE tenant = ?1 \
     AND owner = 'org' AND subject = '' AND plugin_id = ?3 AND collection = ?2";

/// The tool names of one generation's operation `collection` of plugin `plugin_id` (OpenAPI and
/// Google share it; one copy of the async body instead of one per plugin).
pub(crate) async fn generation_names(
    sql: &dyn Sql,
    plugin_id: &str,
    tenant: &str,
    collection: Option<String>,
) -> Result<BTreeSet<String>, StoreError> {
    let Some(collection) = collection else {
        return Ok(BTreeSet::new());
    };
    let rows = sql
        .query(Statement::new(
            GENERATION_KEYS_SQL,
            vec![tenant.into(), collection.into(), plugin_id.into()],
        ))
        .await?;
    Ok(rows
        .iter()
        .filter_map(|r| r.get("key").and_then(Value::as_str).map(str::to_owned))
        .collect())
}

/// Sorted in JavaScript string order, like tool names everywhere else.
fn sorted(names: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut names: Vec<String> = names.into_iter().collect();
    crate::sort::sort_by(&mut names, |a, b| {
        crate::plugins::openapi::raw::cmp_utf16(a, b)
    });
    names
}

/// `POST /openapi/integrations/:slug/spec`: recompiles the integration from a new spec (or the
/// stored `sourceUrl`), flips to the new generation, refreshes the tools of the caller's visible
/// connections (others follow lazily through `config_revised_at`) and deletes the old
/// generation. Auth templates, `baseUrl`, names and connections are untouched. A new URL spec
/// becomes the `sourceUrl`; a new inline spec keeps the stored one (a later refresh re-fetches
/// it).
pub async fn update_spec(
    services: Services<'_>,
    principal: &Principal,
    slug: &str,
    update: SpecUpdate,
) -> Result<SpecUpdated, OpenApiStoreError> {
    let tenant = principal.tenant();
    let not_found = || OpenApiStoreError::NotFound {
        slug: slug.to_owned(),
    };
    let config = load_config(services.sql, tenant, slug)
        .await?
        .ok_or_else(not_found)?;
    let spec = match update.spec {
        Some(spec) => spec,
        None => match &config.source_url {
            Some(url) => SpecInput::Url { url: url.clone() },
            None => {
                return Err(OpenApiError::Parse(
                    "This integration's spec was pasted inline, so there is no URL to refresh \
                     it from. Send the new spec as `spec` ({\"kind\": \"blob\", \"value\": …})."
                        .to_owned(),
                )
                .into())
            }
        },
    };
    let new_source = match &spec {
        SpecInput::Url { url } => Some(url.trim().to_owned()),
        SpecInput::Blob { .. } => None,
    };
    let started_ms = services.clock.now_ms();
    let text = ingest::spec_text(services, spec).await?;
    let spec_bytes = text.len();
    let doc = parse(text)?;
    let now = services.clock.now_ms() as i64;
    let generation = ingest::write_generation(services, tenant, slug, doc, now).await?;
    log_ingest(
        services,
        "update",
        slug,
        generation.tool_count,
        spec_bytes,
        started_ms,
    );

    let flipped = update_config(services, tenant, slug, |current| {
        let old = current.generation.replace(generation.id.clone());
        current.spec_hash = Some(generation.spec_hash.clone());
        current.spec_key = Some(generation.spec_key.clone());
        current.defs_key = Some(generation.defs_key.clone());
        if let Some(url) = &new_source {
            current.source_url = Some(url.clone());
        }
        old
    })
    .await;
    let old_generation = match flipped {
        Ok(Some(old)) => old,
        Ok(None) => {
            discard_generation(services.sql, tenant, slug, &generation.id).await;
            return Err(not_found());
        }
        Err(e) => {
            discard_generation(services.sql, tenant, slug, &generation.id).await;
            return Err(e);
        }
    };
    let old_names = generation_names(
        services.sql,
        PLUGIN_ID,
        tenant,
        old_generation.as_deref().map(|g| ops_collection(slug, g)),
    )
    .await?;
    if let Err(e) =
        crate::connections::service::refresh_integration(services, principal, slug).await
    {
        // They are stale now (config_revised_at moved), so the next listing retries.
        logging::warn(&format!("openapi: refreshing connections of {slug}: {e:?}"));
    }
    if let Some(old) = &old_generation {
        if *old != generation.id {
            discard_generation(services.sql, tenant, slug, old).await;
        }
    }

    let new_names: BTreeSet<String> = generation.tool_names.iter().cloned().collect();
    Ok(SpecUpdated {
        slug: slug.to_owned(),
        tool_count: generation.tool_count,
        added_tools: sorted(new_names.difference(&old_names).cloned()),
        removed_tools: sorted(old_names.difference(&new_names).cloned()),
    })
}

// ---------------------------------------------------------------------------------------------
// Removal

const CLEANUP_SQL: &str = "DELETE FROM plugin_storage WHERE tenant = ?1 AND owner = 'org' \
     AND subject = '' AND plugin_id = ?6 \
     AND ((collection >= ?2 AND collection < ?3) OR (collection >= ?4 AND collection < ?5))";

/// The statement deleting every generation of `slug`'s operation and definition rows, for the
/// removal batch of `DELETE /integrations/:slug`. Collections of a slug are exactly those
/// starting `op:<slug>:` / `defs:<slug>:` (slugs contain no `:`), i.e. the key range up to the
/// same prefix with `;` (the next byte) — a range the unique index serves.
pub fn cleanup_statement(tenant: &str, slug: &str) -> Statement {
    generation_cleanup_statement(PLUGIN_ID, tenant, slug)
}

/// [`cleanup_statement`] for any plugin that keeps its tools in this generation layout
/// (`op:<slug>:<gen>` / `defs:<slug>:<gen>` collections: OpenAPI, Google, GraphQL).
pub fn generation_cleanup_statement(plugin_id: &str, tenant: &str, slug: &str) -> Statement {
    Statement::new(
        CLEANUP_SQL,
        vec![
            tenant.into(),
            format!("op:{slug}:").into(),
            format!("op:{slug};").into(),
            format!("defs:{slug}:").into(),
            format!("defs:{slug};").into(),
            plugin_id.into(),
        ],
    )
}

/// `DELETE /openapi/integrations/:slug`: as `DELETE /integrations/:slug` (idempotent; the
/// caller's visible connections and tools go too; operation rows are deleted). A slug that
/// belongs to another plugin is left alone.
pub async fn remove(
    sql: &dyn Sql,
    principal: &Principal,
    slug: &str,
) -> Result<(), OpenApiStoreError> {
    remove_as(sql, PLUGIN_ID, principal, slug).await
}

/// Removes integration `slug` when it belongs to plugin `plugin_id` (shared with Google);
/// another plugin's or an unknown slug is a no-op.
pub(crate) async fn remove_as(
    sql: &dyn Sql,
    plugin_id: &str,
    principal: &Principal,
    slug: &str,
) -> Result<(), OpenApiStoreError> {
    let rows = sql
        .query(Statement::new(
            ROW_SQL,
            vec![principal.tenant().into(), slug.into()],
        ))
        .await?;
    let ours = rows
        .first()
        .and_then(|r| r.get("plugin_id"))
        .and_then(Value::as_str)
        == Some(plugin_id);
    if !ours {
        return Ok(());
    }
    match integrations::remove(sql, principal.tenant(), principal.subject(), slug).await? {
        RemoveOutcome::Removed => Ok(()),
        RemoveOutcome::NotAllowed => Err(OpenApiStoreError::RemovalNotAllowed {
            slug: slug.to_owned(),
        }),
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests;
