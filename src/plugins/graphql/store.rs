//! GraphQL integrations in storage (executor-behaviour.md §3.4.2, §8.2, §8.6, §8.7).
//!
//! Layout, shared with the catalog's reads (`src/catalog/store.rs`): an `integration` row with
//! `plugin_id = 'graphql'` and [`GraphqlConfig`] as its config; the operations of the current
//! `generation` as `plugin_storage` rows `op:<slug>:<generation>` (one per tool, keyed by tool
//! name: binding, description, input schema, annotations, `$defs` names) and
//! `defs:<slug>:<generation>` (one per input object / enum), written as JSON-array batches before
//! the config names them. A supplied introspection result is also kept as an R2 blob.
//!
//! When introspected: at add time only if `introspectionJson` is supplied; otherwise on the first
//! tool production for a connection (with that connection's auth). Unlike upstream, which
//! introspects per connection, the first successful introspection becomes the integration's
//! generation and later connections copy it (one schema per endpoint; a `POST …/config` does not
//! re-introspect). A failed introspection leaves the connection with zero tools, silently.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::json_fields::Fields;
use serde_json::{json, Map, Value};

use super::invoke::{self as gql_invoke, GraphqlAuth, GraphqlCall, GraphqlOAuth2};
use super::schema::{derive, parse_introspection, Derived, SchemaError, INTROSPECTION_QUERY};
use crate::app::Services;
use crate::crypto::SecretValue;
use crate::integrations::config::{self as config_rewrite, RewriteError};
use crate::integrations::detect::{slugify, Confidence, Detection};
use crate::integrations::{self};
use crate::net::http::guarded_fetch;
use crate::owner::Partition;
use crate::plugins::openapi::store::{parse_inputs, valid_slug, MergeMode, MAX_SLUG_CHARS};
use crate::plugins::openapi::AuthTemplate;
use crate::store::{decode_rows, FromRow, RowReader, Sql, SqlValue, Statement, StoreError};

/// `plugin_id` of GraphQL integrations and rows.
pub const PLUGIN_ID: &str = "graphql";

/// Longest introspection answer read (bytes).
pub const MAX_INTROSPECTION_BYTES: usize = 16 * 1024 * 1024;

/// Timeout of one introspection request.
pub const INTROSPECTION_TIMEOUT_MS: u64 = 30_000;

/// Largest JSON-array payload bound to one insert (D1 caps a statement's size).
const STATEMENT_PAYLOAD_BYTES: usize = 256 * 1024;

/// The `config` JSON of a GraphQL integration row.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GraphqlConfig {
    pub endpoint: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub headers: Option<BTreeMap<String, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub query_params: Option<BTreeMap<String, String>>,
    pub authentication_template: Vec<GraphqlAuth>,
    /// The current generation of `op:`/`defs:` rows (none until introspected).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub generation: Option<String>,
    /// R2 key of a supplied introspection result.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snapshot_key: Option<String>,
}

impl GraphqlConfig {
    /// Reads a stored config.
    pub fn parse(text: &str) -> Result<GraphqlConfig, String> {
        const NAMES: &[&str] = &[
            "endpoint",
            "name",
            "headers",
            "queryParams",
            "authenticationTemplate",
            "generation",
            "snapshotKey",
        ];
        let f = Fields::parse(text, NAMES, false)?;
        let authentication_template = match f.raw("authenticationTemplate") {
            None => Vec::new(),
            Some(raw) => GraphqlAuth::parse_list(raw.get())
                .map_err(|e| format!("field `authenticationTemplate`: {e}"))?,
        };
        Ok(GraphqlConfig {
            endpoint: f.string("endpoint")?,
            name: f.opt_string("name")?,
            headers: f.opt_string_map("headers")?,
            query_params: f.opt_string_map("queryParams")?,
            authentication_template,
            generation: f.opt_string("generation")?,
            snapshot_key: f.opt_string("snapshotKey")?,
        })
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "{}".to_owned())
    }

    /// The auth method a connection selects by slug.
    pub fn auth(&self, slug: &str) -> Option<&GraphqlAuth> {
        self.authentication_template
            .iter()
            .find(|t| t.slug() == slug)
    }
}

/// Why a GraphQL integration operation failed.
#[derive(Debug, Clone, PartialEq)]
pub enum GraphqlStoreError {
    /// 400 `GraphqlIntrospectionError` / `GraphqlExtractionError`.
    Schema(SchemaError),
    /// 400: the request does not fit the route's schema.
    Invalid(String),
    /// 409 `IntegrationAlreadyExistsError`.
    AlreadyExists { slug: String },
    /// Storage failure or broken stored data: opaque 500.
    Internal(String),
}

impl From<RewriteError<GraphqlStoreError>> for GraphqlStoreError {
    fn from(e: RewriteError<GraphqlStoreError>) -> Self {
        match e {
            RewriteError::Change(e) => e,
            RewriteError::Store(e) => e.into(),
            RewriteError::Contended(message) => GraphqlStoreError::Internal(message),
        }
    }
}

impl From<StoreError> for GraphqlStoreError {
    fn from(e: StoreError) -> Self {
        GraphqlStoreError::Internal(e.to_string())
    }
}

// ---------------------------------------------------------------------------------------------
// Auth inputs

/// Parses an `authenticationTemplate` array: `{slug?, kind: "none"}`, `{slug?, kind: "oauth2",
/// header?, prefix?}`, a canonical apikey, or the request-shaped apiKey template (parsed by the
/// OpenAPI store's parser). Slugs are not assigned yet (empty when not given).
pub fn parse_auth_inputs(value: &Value) -> Result<Vec<(Option<String>, GraphqlAuth)>, String> {
    let Value::Array(entries) = value else {
        return Err("`authenticationTemplate` must be an array".into());
    };
    let mut out = Vec::new();
    for (i, entry) in entries.iter().enumerate() {
        let slug = entry
            .get("slug")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_owned);
        if entry.get("kind").and_then(Value::as_str) == Some("oauth2") {
            let text = |key: &str| -> Result<Option<String>, String> {
                match entry.get(key) {
                    None | Some(Value::Null) => Ok(None),
                    Some(Value::String(s)) => Ok(Some(s.clone())),
                    Some(_) => Err(format!(
                        "`authenticationTemplate[{i}].{key}` must be a string"
                    )),
                }
            };
            out.push((
                slug,
                GraphqlAuth::OAuth2(GraphqlOAuth2 {
                    slug: String::new(),
                    header: text("header")?,
                    prefix: text("prefix")?,
                }),
            ));
            continue;
        }
        let parsed = parse_inputs(&Value::Array(vec![entry.clone()]))
            .map_err(|e| e.replace("[0]", &format!("[{i}]")))?;
        for input in parsed {
            let auth = match input.template {
                AuthTemplate::ApiKey(t) => GraphqlAuth::ApiKey(t),
                AuthTemplate::None(t) => GraphqlAuth::None(t),
                AuthTemplate::OAuth2(_) => {
                    return Err(format!("`authenticationTemplate[{i}]`: unsupported kind"))
                }
            };
            out.push((input.slug.or_else(|| slug.clone()), auth));
        }
    }
    Ok(out)
}

fn default_slug(auth: &GraphqlAuth) -> &'static str {
    match auth {
        GraphqlAuth::None(_) => "none",
        GraphqlAuth::OAuth2(_) => "oauth2",
        GraphqlAuth::ApiKey(t) => match t.placements.as_slice() {
            [one] => match one.carrier {
                crate::plugins::openapi::Carrier::Header => "header",
                crate::plugins::openapi::Carrier::Query => "query",
            },
            _ => "apikey",
        },
    }
}

fn fresh_slug(base: &str, taken: &[GraphqlAuth]) -> String {
    let free = |s: &str| !taken.iter().any(|t| t.slug() == s);
    if free(base) {
        return base.to_owned();
    }
    (2..)
        .map(|n| format!("{base}_{n}"))
        .find(|s| free(s))
        .unwrap_or_else(|| base.to_owned())
}

/// Combines stored methods with incoming ones (§3.4.2: merge replaces same-slug entries in place
/// and appends the rest; replace re-normalises every slug).
pub fn merge_auth(
    existing: Vec<GraphqlAuth>,
    incoming: Vec<(Option<String>, GraphqlAuth)>,
    mode: MergeMode,
) -> Vec<GraphqlAuth> {
    let mut out = match mode {
        MergeMode::Merge => existing,
        MergeMode::Replace => Vec::new(),
    };
    for (slug, mut auth) in incoming {
        if mode == MergeMode::Merge {
            if let Some(slug) = &slug {
                if let Some(place) = out.iter_mut().find(|t| t.slug() == slug) {
                    auth.set_slug(slug.clone());
                    *place = auth;
                    continue;
                }
            }
        }
        let base = slug.unwrap_or_else(|| default_slug(&auth).to_owned());
        auth.set_slug(fresh_slug(&base, &out));
        out.push(auth);
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Add

/// `POST /graphql/integrations`.
#[derive(Debug, Clone)]
pub struct AddRequest {
    pub endpoint: String,
    pub slug: Option<String>,
    pub name: Option<String>,
    pub description: Option<String>,
    pub introspection_json: Option<String>,
    pub headers: Option<BTreeMap<String, String>>,
    pub query_params: Option<BTreeMap<String, String>>,
    pub authentication_template: Option<Value>,
}

impl AddRequest {
    /// Reads the JSON object text of an add request.
    pub fn parse(text: &str) -> Result<AddRequest, String> {
        const NAMES: &[&str] = &[
            "endpoint",
            "slug",
            "name",
            "description",
            "introspectionJson",
            "headers",
            "queryParams",
            "authenticationTemplate",
        ];
        let f = Fields::parse(text, NAMES, false)?;
        Ok(AddRequest {
            endpoint: f.string("endpoint")?,
            slug: f.opt_string("slug")?,
            name: f.opt_string("name")?,
            description: f.opt_string("description")?,
            introspection_json: f.opt_string("introspectionJson")?,
            headers: f.opt_string_map("headers")?,
            query_params: f.opt_string_map("queryParams")?,
            authentication_template: f.opt_value("authenticationTemplate")?,
        })
    }
}

/// `{slug, name}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Added {
    pub slug: String,
    pub name: String,
}

/// The default slug of an endpoint: its hostname, runs of non-alphanumerics ⇒ `_`.
pub fn endpoint_slug(endpoint: &str) -> String {
    match crate::net::parse_url(endpoint.trim())
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
    {
        Some(host) => slugify(&host, "graphql"),
        None => "graphql".to_owned(),
    }
}

const EXISTS_SQL: &str = "SELECT 1 AS one FROM integration WHERE tenant = ?1 AND slug = ?2";

const INSERT_INTEGRATION_SQL: &str = "INSERT INTO integration (row_id, tenant, slug, plugin_id, \
       name, description, config, config_revised_at, can_remove, can_refresh, created_at, \
       updated_at) \
     VALUES (?1, ?2, ?3, 'graphql', ?4, ?5, ?6, ?7, 1, 1, ?7, ?7) \
     ON CONFLICT (tenant, slug) DO NOTHING";

fn non_blank(text: Option<String>) -> Option<String> {
    text.map(|t| t.trim().to_owned()).filter(|t| !t.is_empty())
}

/// `POST /graphql/integrations`: no network call; a supplied introspection result is parsed,
/// its operations written as a generation, the snapshot kept in R2, then the row inserted.
pub async fn add(
    services: Services<'_>,
    tenant: &str,
    request: AddRequest,
) -> Result<Added, GraphqlStoreError> {
    let endpoint = request.endpoint.trim().to_owned();
    let parsed = crate::net::parse_url(&endpoint).ok();
    if !parsed
        .as_ref()
        .is_some_and(|u| matches!(u.scheme(), "http" | "https"))
    {
        return Err(GraphqlStoreError::Invalid(
            "`endpoint` must be an http(s) URL".into(),
        ));
    }
    let slug = non_blank(request.slug).unwrap_or_else(|| endpoint_slug(&endpoint));
    if !valid_slug(&slug) {
        return Err(GraphqlStoreError::Invalid(format!(
            "`slug` must be 1–{MAX_SLUG_CHARS} ASCII letters, digits, `_` or `-`, starting with a \
             letter or digit"
        )));
    }
    let inputs = match &request.authentication_template {
        None | Some(Value::Null) => Vec::new(),
        Some(value) => parse_auth_inputs(value).map_err(GraphqlStoreError::Invalid)?,
    };
    let templates = merge_auth(Vec::new(), inputs, MergeMode::Replace);
    let exists = slug == integrations::BUILT_IN_SLUG
        || !services
            .sql
            .query(Statement::new(
                EXISTS_SQL,
                vec![tenant.into(), slug.as_str().into()],
            ))
            .await?
            .is_empty();
    if exists {
        return Err(GraphqlStoreError::AlreadyExists { slug });
    }
    let name = non_blank(request.name).unwrap_or_else(|| slug.clone());
    let now = services.clock.now_ms() as i64;
    let mut config = GraphqlConfig {
        endpoint,
        name: Some(name.clone()),
        headers: request.headers,
        query_params: request.query_params,
        authentication_template: templates,
        generation: None,
        snapshot_key: None,
    };
    if let Some(text) = request.introspection_json {
        // The same cap as a fetched introspection result.
        if text.len() > MAX_INTROSPECTION_BYTES {
            return Err(GraphqlStoreError::Schema(SchemaError::Introspection(
                format!(
                    "The introspection result is larger than {} MiB ({} bytes)",
                    MAX_INTROSPECTION_BYTES / (1024 * 1024),
                    text.len()
                ),
            )));
        }
        let schema = parse_introspection(&text).map_err(GraphqlStoreError::Schema)?;
        let derived = derive(&schema);
        drop(schema);
        let generation = new_generation(now);
        write_generation(services.sql, tenant, &slug, &generation, &derived, now).await?;
        let key = crate::store::blobs::content_key(
            &format!("o:{tenant}"),
            PLUGIN_ID,
            "introspection",
            text.as_bytes(),
        );
        if let Err(e) = services.blobs.put(&key, text.into_bytes()).await {
            discard(services.sql, tenant, &slug, &generation).await;
            return Err(GraphqlStoreError::Internal(format!("snapshot blob: {e}")));
        }
        config.generation = Some(generation);
        config.snapshot_key = Some(key);
    }
    let inserted = services
        .sql
        .execute(Statement::new(
            INSERT_INTEGRATION_SQL,
            vec![
                crate::ids::uuid_v4().into(),
                tenant.into(),
                slug.as_str().into(),
                name.as_str().into(),
                non_blank(request.description).into(),
                config.to_json().into(),
                now.into(),
            ],
        ))
        .await;
    match inserted {
        Ok(1) => Ok(Added { slug, name }),
        other => {
            if let Some(generation) = &config.generation {
                discard(services.sql, tenant, &slug, generation).await;
            }
            match other {
                Err(e) => Err(e.into()),
                _ => Err(GraphqlStoreError::AlreadyExists { slug }),
            }
        }
    }
}

fn new_generation(now_ms: i64) -> String {
    let random = crate::ids::uuid_v4();
    format!("{now_ms:x}{}", &random[..8])
}

const INSERT_ROWS_SQL: &str = "INSERT INTO plugin_storage \
     (row_id, tenant, owner, subject, plugin_id, collection, key, data, created_at, updated_at) \
     SELECT lower(hex(randomblob(16))), ?1, 'org', '', 'graphql', ?2, \
       json_extract(value, '$[0]'), json_extract(value, '$[1]'), ?3, ?3 \
     FROM json_each(?4)";

const DISCARD_SQL: &str = "DELETE FROM plugin_storage WHERE tenant = ?1 AND owner = 'org' \
     AND subject = '' AND plugin_id = 'graphql' AND collection IN (?2, ?3)";

async fn discard(sql: &dyn Sql, tenant: &str, slug: &str, generation: &str) {
    let _ = sql
        .execute(Statement::new(
            DISCARD_SQL,
            vec![
                tenant.into(),
                format!("op:{slug}:{generation}").into(),
                format!("defs:{slug}:{generation}").into(),
            ],
        ))
        .await;
}

/// The `data` of one tool's `op:` row (the catalog reads `binding`, `defs`; production copies
/// `description`, `inputSchema`, `outputSchema`, `annotations`).
fn operation_row(tool: &super::GraphqlTool) -> Value {
    json!({
        "binding": tool.binding,
        "description": tool.description,
        "inputSchema": tool.input_schema,
        "outputSchema": null,
        "annotations": tool.annotations,
        "defs": tool.defs,
    })
}

/// Writes a generation's rows in JSON-array inserts of at most [`STATEMENT_PAYLOAD_BYTES`],
/// four statements per batch. On failure the partial generation is removed.
pub async fn write_generation(
    sql: &dyn Sql,
    tenant: &str,
    slug: &str,
    generation: &str,
    derived: &Derived,
    now_ms: i64,
) -> Result<(), GraphqlStoreError> {
    let ops = format!("op:{slug}:{generation}");
    let defs = format!("defs:{slug}:{generation}");
    let rows = derived
        .tools
        .iter()
        .map(|t| (ops.as_str(), t.name.clone(), operation_row(t).to_string()))
        .chain(
            derived
                .defs
                .iter()
                .map(|(name, def)| (defs.as_str(), name.clone(), def.to_string())),
        );
    let mut statements: Vec<Statement> = Vec::new();
    let mut current: Option<(&str, String)> = None;
    let seal = |collection: &str, payload: String, statements: &mut Vec<Statement>| {
        let mut payload = payload;
        payload.push(']');
        statements.push(Statement::new(
            INSERT_ROWS_SQL,
            vec![
                SqlValue::from(tenant),
                collection.into(),
                now_ms.into(),
                payload.into(),
            ],
        ));
    };
    let mut result = Ok(());
    for (collection, key, data) in rows {
        let item = serde_json::to_string(&(key, data)).unwrap_or_default();
        match &mut current {
            Some((c, payload))
                if *c == collection && payload.len() + item.len() < STATEMENT_PAYLOAD_BYTES =>
            {
                payload.push(',');
                payload.push_str(&item);
            }
            _ => {
                if let Some((c, payload)) = current.take() {
                    seal(c, payload, &mut statements);
                }
                current = Some((collection, format!("[{item}")));
            }
        }
        if statements.len() >= 4 {
            if let Err(e) = sql.batch(std::mem::take(&mut statements)).await {
                result = Err(e);
                break;
            }
        }
    }
    if result.is_ok() {
        if let Some((c, payload)) = current.take() {
            seal(c, payload, &mut statements);
        }
        if !statements.is_empty() {
            result = sql.batch(statements).await;
        }
    }
    if let Err(e) = result {
        discard(sql, tenant, slug, generation).await;
        return Err(e.into());
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Reads and config

const ROW_SQL: &str = "SELECT plugin_id, config FROM integration WHERE tenant = ?1 AND slug = ?2";

struct Row {
    plugin_id: String,
    config: Option<String>,
}

impl FromRow for Row {
    fn from_row(row: &RowReader<'_>) -> Result<Self, StoreError> {
        Ok(Row {
            plugin_id: row.text("plugin_id")?,
            config: row.opt_text("config")?,
        })
    }
}

async fn row(sql: &dyn Sql, tenant: &str, slug: &str) -> Result<Option<Row>, StoreError> {
    let rows: Vec<Row> = decode_rows(
        sql.query(Statement::new(ROW_SQL, vec![tenant.into(), slug.into()]))
            .await?,
    )?;
    Ok(rows.into_iter().find(|r| r.plugin_id == PLUGIN_ID))
}

/// `GET /graphql/integrations/:slug`: the stored config object, or `None`.
pub async fn get(
    sql: &dyn Sql,
    tenant: &str,
    slug: &str,
) -> Result<Option<Value>, GraphqlStoreError> {
    let Some(row) = row(sql, tenant, slug).await? else {
        return Ok(None);
    };
    let text = row.config.unwrap_or_else(|| "{}".into());
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| GraphqlStoreError::Internal(format!("config of {slug}: {e}")))
}

/// `GET /graphql/integrations/:slug/config`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConfigView {
    pub endpoint: String,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub headers: Option<BTreeMap<String, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub query_params: Option<BTreeMap<String, String>>,
    pub authentication_template: Vec<GraphqlAuth>,
}

async fn load(
    sql: &dyn Sql,
    tenant: &str,
    slug: &str,
) -> Result<Option<(GraphqlConfig, Option<String>)>, GraphqlStoreError> {
    let Some(row) = row(sql, tenant, slug).await? else {
        return Ok(None);
    };
    let config = text_config(slug, row.config.as_deref())?;
    Ok(Some((config, row.config)))
}

fn text_config(slug: &str, text: Option<&str>) -> Result<GraphqlConfig, GraphqlStoreError> {
    match text {
        Some(text) => GraphqlConfig::parse(text)
            .map_err(|e| GraphqlStoreError::Internal(format!("config of {slug}: {e}"))),
        None => Ok(GraphqlConfig::default()),
    }
}

pub async fn get_config(
    sql: &dyn Sql,
    tenant: &str,
    slug: &str,
) -> Result<Option<ConfigView>, GraphqlStoreError> {
    Ok(load(sql, tenant, slug).await?.map(|(c, _)| ConfigView {
        name: c.name.clone().unwrap_or_else(|| slug.to_owned()),
        endpoint: c.endpoint,
        headers: c.headers,
        query_params: c.query_params,
        authentication_template: c.authentication_template,
    }))
}

/// `POST /graphql/integrations/:slug/config` body: the same shape as OpenAPI's.
pub use crate::plugins::openapi::store::ConfigUpdate;

const SWAP_CONFIG_SQL: &str = "UPDATE integration SET config = ?3, config_revised_at = ?4, \
     updated_at = ?4 WHERE tenant = ?1 AND slug = ?2 AND plugin_id = 'graphql' AND config IS ?5";

// A new generation changes no tool's auth, so it does not make other connections stale.
const SET_GENERATION_SQL: &str = "UPDATE integration SET config = ?3, updated_at = ?4 \
     WHERE tenant = ?1 AND slug = ?2 AND plugin_id = 'graphql' AND config IS ?5";

/// Merges or replaces the auth methods (compare-and-swap on the config text) and answers the
/// stored list; unknown slug ⇒ `[]`.
pub async fn set_config(
    services: Services<'_>,
    tenant: &str,
    slug: &str,
    update: ConfigUpdate,
) -> Result<Vec<GraphqlAuth>, GraphqlStoreError> {
    let mode = match update.mode.as_deref() {
        None => MergeMode::Merge,
        Some(mode) => MergeMode::parse(mode).ok_or_else(|| {
            GraphqlStoreError::Invalid("`mode` must be \"merge\" or \"replace\"".into())
        })?,
    };
    let inputs =
        parse_auth_inputs(&update.authentication_template).map_err(GraphqlStoreError::Invalid)?;
    let stored =
        config_rewrite::rewrite(services, PLUGIN_ID, SWAP_CONFIG_SQL, tenant, slug, |text| {
            let mut config = text_config(slug, text)?;
            config.authentication_template = merge_auth(
                std::mem::take(&mut config.authentication_template),
                inputs.clone(),
                mode,
            );
            let text = config.to_json();
            Ok((text, config.authentication_template))
        })
        .await?;
    Ok(stored.unwrap_or_default())
}

// ---------------------------------------------------------------------------------------------
// Introspection, production, detection

/// POSTs the introspection query (static headers/params plus `auth`) and derives the tools.
pub async fn introspect(
    services: Services<'_>,
    config: &GraphqlConfig,
    auth: Option<&GraphqlAuth>,
    credentials: &BTreeMap<String, Option<SecretValue>>,
) -> Result<Derived, String> {
    let none = BTreeMap::new();
    let binding = super::GraphqlBinding {
        kind: "query".into(),
        field: "__schema".into(),
        document: INTROSPECTION_QUERY.into(),
        args: Vec::new(),
    };
    let defs = Map::new();
    let call = GraphqlCall {
        integration: "",
        connection: "",
        endpoint: &config.endpoint,
        binding: &binding,
        input_schema: None,
        defs: &defs,
        headers: config.headers.as_ref().unwrap_or(&none),
        query_params: config.query_params.as_ref().unwrap_or(&none),
        auth,
        credentials,
        timeout_ms: INTROSPECTION_TIMEOUT_MS,
        allow_local_network: services.config.allow_local_network,
    };
    let mut request = gql_invoke::request(&call, &json!({"query": INTROSPECTION_QUERY}))
        .map_err(|_| "introspection request could not be built".to_owned())?;
    request.max_body_bytes = MAX_INTROSPECTION_BYTES;
    let response = guarded_fetch(services.http, request, services.config.allow_local_network)
        .await
        .map_err(|e| e.code().to_owned())?;
    if !(200..300).contains(&response.status) {
        return Err(format!("introspection answered HTTP {}", response.status));
    }
    let text = std::str::from_utf8(&response.body).map_err(|_| "not UTF-8".to_owned())?;
    let schema = parse_introspection(text).map_err(|e| e.message().to_owned())?;
    Ok(derive(&schema))
}

/// Per-connection tool production (§8.7): introspects first when the integration has no
/// generation yet (with this connection's auth; a failure means zero tools), then replaces the
/// connection's `tool` rows from the generation in one batch and stamps `tools_synced_at`.
/// `usable = false` (no credentials) leaves the connection without tools.
pub async fn produce_tools(
    services: Services<'_>,
    partition: &Partition,
    integration: &str,
    connection: &str,
    template: &str,
    usable: bool,
    credentials: &BTreeMap<String, Option<SecretValue>>,
) -> Result<(), GraphqlStoreError> {
    let tenant = partition.tenant.as_str();
    let now = services.clock.now_ms() as i64;
    let mut collection = None;
    if usable {
        if let Some((config, old)) = load(services.sql, tenant, integration).await? {
            collection = match &config.generation {
                Some(g) => Some(format!("op:{integration}:{g}")),
                None => {
                    adopt_generation(
                        services,
                        tenant,
                        integration,
                        config,
                        old,
                        template,
                        credentials,
                        now,
                    )
                    .await?
                }
            };
        }
    }
    crate::plugins::produce::replace_connection_tools(
        services.sql,
        now,
        partition,
        integration,
        connection,
        "graphql",
        collection,
    )
    .await?;
    Ok(())
}

/// Introspects and makes the result the integration's generation (unless another connection
/// got there first: then theirs is used). `None` when introspection failed.
#[allow(clippy::too_many_arguments)]
async fn adopt_generation(
    services: Services<'_>,
    tenant: &str,
    slug: &str,
    mut config: GraphqlConfig,
    old: Option<String>,
    template: &str,
    credentials: &BTreeMap<String, Option<SecretValue>>,
    now: i64,
) -> Result<Option<String>, GraphqlStoreError> {
    let derived = match introspect(services, &config, config.auth(template), credentials).await {
        Ok(derived) => derived,
        Err(cause) => {
            crate::logging::info(&format!("graphql: introspection of {slug} failed: {cause}"));
            return Ok(None);
        }
    };
    let generation = new_generation(now);
    write_generation(services.sql, tenant, slug, &generation, &derived, now).await?;
    config.generation = Some(generation.clone());
    let swapped = services
        .sql
        .execute(Statement::new(
            SET_GENERATION_SQL,
            vec![
                tenant.into(),
                slug.into(),
                config.to_json().into(),
                now.into(),
                old.into(),
            ],
        ))
        .await?;
    if swapped == 1 {
        return Ok(Some(format!("op:{slug}:{generation}")));
    }
    discard(services.sql, tenant, slug, &generation).await;
    Ok(load(services.sql, tenant, slug)
        .await?
        .and_then(|(c, _)| c.generation)
        .map(|g| format!("op:{slug}:{g}")))
}

/// Whether a URL's host or path has `graphql` as a separated token.
fn has_graphql_token(url: &url::Url) -> bool {
    let host = url.host_str().unwrap_or_default();
    [host, url.path()]
        .iter()
        .flat_map(|part| part.split(|c: char| !c.is_ascii_alphanumeric()))
        .any(|token| token.eq_ignore_ascii_case("graphql"))
}

/// The GraphQL detector (§8.6): a successful introspection ⇒ high; a `graphql` token in the
/// host or path ⇒ low; else nothing.
pub async fn detect(services: Services<'_>, url: &str) -> Option<Detection> {
    let parsed = crate::net::parse_url(url).ok()?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return None;
    }
    let slug = endpoint_slug(url);
    let config = GraphqlConfig {
        endpoint: url.to_owned(),
        ..GraphqlConfig::default()
    };
    let confidence = match introspect(services, &config, None, &BTreeMap::new()).await {
        Ok(_) => Confidence::High,
        Err(_) if has_graphql_token(&parsed) => Confidence::Low,
        Err(_) => return None,
    };
    Some(Detection {
        kind: PLUGIN_ID,
        confidence,
        endpoint: url.to_owned(),
        name: parsed.host_str().unwrap_or("graphql").to_owned(),
        slug,
    })
}

// ---------------------------------------------------------------------------------------------
// Catalog hooks

/// `authMethods` of a GraphQL integration (§3.2): apikey and none as for OpenAPI, oauth2 ⇒
/// `{label: "OAuth", kind: "oauth", oauth: {}}`. An unreadable config projects to `[]`.
pub fn auth_method_values(config: Option<&Value>) -> Vec<Value> {
    use crate::plugins::openapi::AuthMethodDescriptor;
    let Some(templates) = config.and_then(|c| c.get("authenticationTemplate")) else {
        return Vec::new();
    };
    let Ok(templates) = GraphqlAuth::parse_list(&templates.to_string()) else {
        return Vec::new();
    };
    templates
        .into_iter()
        .filter_map(|t| match t {
            GraphqlAuth::OAuth2(t) => Some(json!({"id": t.slug, "label": "OAuth",
                "kind": "oauth", "template": t.slug, "oauth": {}})),
            GraphqlAuth::ApiKey(t) => serde_json::to_value(AuthMethodDescriptor::from_template(
                &AuthTemplate::ApiKey(t),
            ))
            .ok(),
            GraphqlAuth::None(t) => {
                serde_json::to_value(AuthMethodDescriptor::from_template(&AuthTemplate::None(t)))
                    .ok()
            }
        })
        .collect()
}

/// Deletes every generation of `slug`'s rows (for the removal batch of
/// `DELETE /integrations/:slug`): the collections starting `op:<slug>:` / `defs:<slug>:`
/// (`;` sorts right after `:`).
pub fn cleanup_statement(tenant: &str, slug: &str) -> Statement {
    crate::plugins::openapi::store::generation_cleanup_statement(PLUGIN_ID, tenant, slug)
}
