//! Every catalog read, each a single statement (D1 round trips dominate latency in the Worker).
//!
//! Storage layout (owned by the OpenAPI store, read here): per-connection `tool` rows carry the
//! name, description, schemas and annotations; the integration's `config.generation` names the
//! current `plugin_storage` collections `op:<slug>:<generation>` (one row per tool name: binding
//! and the list of `$defs` its schemas reach) and `defs:<slug>:<generation>` (one row per
//! definition). Schema views and calls read exactly the definitions a tool lists, never the
//! spec.

use serde_json::{Map, Value};

use super::address::DynamicAddress;
use super::cache::Fingerprint;
use crate::auth::Principal;
use crate::owner::{Owner, Partition};
use crate::plugins::openapi::ToolAnnotations;
use crate::policies::PolicySet;
use crate::store::{decode_rows, FromRow, RowReader, Sql, SqlValue, Statement, StoreError};

/// Why a stored catalog value could not be used. Logged, never shown.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CatalogError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("stored catalog data: {0}")]
    Corrupt(String),
}

/// A `tool` row as listings and the search index need it (no schemas).
#[derive(Debug, Clone)]
pub struct ToolRow {
    pub integration: String,
    pub owner: Owner,
    pub connection: String,
    pub name: String,
    pub plugin_id: String,
    pub description: String,
    annotations: Option<String>,
}

impl FromRow for ToolRow {
    fn from_row(row: &RowReader<'_>) -> Result<Self, StoreError> {
        Ok(ToolRow {
            integration: row.text("integration")?,
            owner: row.owner("owner")?,
            connection: row.text("connection")?,
            name: row.text("name")?,
            plugin_id: row.text("plugin_id")?,
            description: row.text("description")?,
            annotations: row.opt_text("annotations")?,
        })
    }
}

impl ToolRow {
    /// The stored annotations; unreadable ones count as none (a listing never fails on them).
    pub fn annotations(&self) -> ToolAnnotations {
        self.annotations
            .as_deref()
            .and_then(|text| ToolAnnotations::parse(text).ok())
            .unwrap_or_default()
    }

    /// `<integration>.<owner>.<connection>.<name>`.
    pub fn target_id(&self) -> String {
        format!(
            "{}.{}.{}.{}",
            self.integration,
            self.owner.as_str(),
            self.connection,
            self.name
        )
    }
}

/// Narrowing of [`visible_tools`] (`None` = any).
#[derive(Debug, Clone, Default)]
pub struct RowFilter<'a> {
    pub integration: Option<&'a str>,
    pub owner: Option<Owner>,
    pub connection: Option<&'a str>,
}

const VISIBLE_TOOLS_SQL: &str = "SELECT integration, owner, connection, name, plugin_id, \
     description, annotations FROM tool \
     WHERE tenant = ?1 AND (owner = 'org' OR (owner = 'user' AND subject = ?2)) \
       AND (?3 IS NULL OR integration = ?3) AND (?4 IS NULL OR owner = ?4) \
       AND (?5 IS NULL OR connection = ?5) \
     ORDER BY created_at, integration, owner, connection, name";

/// The caller's tool rows (org connections' and their own), in creation order.
pub async fn visible_tools(
    sql: &dyn Sql,
    principal: &Principal,
    filter: &RowFilter<'_>,
) -> Result<Vec<ToolRow>, CatalogError> {
    Ok(decode_rows(
        sql.query(Statement::new(
            VISIBLE_TOOLS_SQL,
            vec![
                principal.tenant().into(),
                principal.subject().into(),
                filter.integration.into(),
                filter.owner.map(Owner::as_str).into(),
                filter.connection.into(),
            ],
        ))
        .await?,
    )?)
}

pub(super) const FINGERPRINT_SQL: &str = concat!(
    "SELECT COUNT(*) AS count, MAX(updated_at) AS updated, \
     TOTAL(created_at) AS created, \
     (SELECT COUNT(*) FROM connection c JOIN integration i \
        ON i.tenant = c.tenant AND i.slug = c.integration \
      WHERE c.tenant = ?1 AND (c.owner = 'org' OR (c.owner = 'user' AND c.subject = ?2)) \
        AND i.plugin_id IN ('openapi', 'google') \
        AND (c.tools_synced_at IS NULL OR c.tools_synced_at < i.config_revised_at)) AS stale, ",
    crate::policies::service::visible_policies_json!(),
    " AS policies FROM tool \
     WHERE tenant = ?1 AND (owner = 'org' OR (owner = 'user' AND subject = ?2))"
);

struct FingerprintRow {
    fingerprint: Fingerprint,
    policies: Option<String>,
}

impl FromRow for FingerprintRow {
    fn from_row(row: &RowReader<'_>) -> Result<Self, StoreError> {
        Ok(FingerprintRow {
            fingerprint: Fingerprint {
                count: row.real("count")?,
                updated: row.opt_real("updated")?,
                created: row.real("created")?,
                stale: row.opt_real("stale")?.unwrap_or(0.0),
            },
            policies: row.opt_text("policies")?,
        })
    }
}

/// One row summarising the caller's visible tool rows (see [`super::cache`]), with the caller's
/// policies: everything a run's first search needs, in one round trip.
pub async fn fingerprint(
    sql: &dyn Sql,
    principal: &Principal,
) -> Result<(Fingerprint, PolicySet), CatalogError> {
    let rows: Vec<FingerprintRow> = decode_rows(
        sql.query(Statement::new(
            FINGERPRINT_SQL,
            vec![principal.tenant().into(), principal.subject().into()],
        ))
        .await?,
    )?;
    let row = rows.into_iter().next().ok_or_else(|| {
        CatalogError::Corrupt("the tool fingerprint query returned no row".into())
    })?;
    let policies =
        crate::policies::service::set_from_json(row.policies.as_deref().unwrap_or("[]"))?;
    Ok((row.fingerprint, policies))
}

/// The `$defs` a tool lists in its operation row, as one JSON object (`{}` when none), for a
/// query whose tool row is `t` and integration row `i`.
macro_rules! defs_of_tool {
    () => {
        "(SELECT json_group_object(d.key, json(d.data)) FROM plugin_storage d \
          WHERE d.tenant = t.tenant AND d.owner = 'org' AND d.subject = '' \
            AND d.plugin_id = t.plugin_id \
            AND d.collection = 'defs:' || t.integration || ':' || json_extract(i.config, '$.generation') \
            AND d.key IN (SELECT value FROM json_each(op.data, '$.defs')))"
    };
}

/// The current operation row of a tool (`op`), for a query whose tool row is `t`.
macro_rules! op_of_tool {
    () => {
        " LEFT JOIN integration i ON i.tenant = t.tenant AND i.slug = t.integration \
          LEFT JOIN plugin_storage op ON op.tenant = t.tenant AND op.owner = 'org' \
            AND op.subject = '' AND op.plugin_id = t.plugin_id \
            AND op.collection = 'op:' || t.integration || ':' || json_extract(i.config, '$.generation') \
            AND op.key = t.name "
    };
}

macro_rules! tool_key {
    () => {
        " WHERE t.tenant = ?1 AND t.owner = ?2 AND t.subject = ?3 AND t.integration = ?4 \
            AND t.connection = ?5 AND t.name = ?6"
    };
}

fn key_params(principal: &Principal, address: &DynamicAddress) -> Option<Vec<SqlValue>> {
    // A caller without a subject owns no user rows: such an address names nothing.
    let partition = Partition::of(principal, address.owner).ok()?;
    Some(vec![
        partition.tenant.into(),
        partition.owner.as_str().into(),
        partition.subject.into(),
        address.integration.as_str().into(),
        address.connection.as_str().into(),
        address.name.as_str().into(),
    ])
}

fn parse_json<T: serde::de::DeserializeOwned>(
    what: &str,
    text: Option<&str>,
) -> Result<Option<T>, CatalogError> {
    text.map(|t| serde_json::from_str(t).map_err(|e| CatalogError::Corrupt(format!("{what}: {e}"))))
        .transpose()
}

/// A tool's schemas and the definitions they reach.
#[derive(Debug, Clone)]
pub struct SchemaRow {
    pub name: String,
    pub description: String,
    pub input_schema: Option<Value>,
    pub output_schema: Option<Value>,
    pub defs: Map<String, Value>,
}

struct RawSchemaRow {
    name: String,
    description: String,
    input_schema: Option<String>,
    output_schema: Option<String>,
    defs: Option<String>,
}

impl FromRow for RawSchemaRow {
    fn from_row(row: &RowReader<'_>) -> Result<Self, StoreError> {
        Ok(RawSchemaRow {
            name: row.text("name")?,
            description: row.text("description")?,
            input_schema: row.opt_text("input_schema")?,
            output_schema: row.opt_text("output_schema")?,
            defs: row.opt_text("defs")?,
        })
    }
}

const SCHEMA_SQL: &str = concat!(
    "SELECT t.name, t.description, t.input_schema, t.output_schema, ",
    defs_of_tool!(),
    " AS defs FROM tool t",
    op_of_tool!(),
    tool_key!()
);

/// One tool's schemas and `$defs` closure (one query), `None` when the caller has no such tool.
pub async fn tool_schema(
    sql: &dyn Sql,
    principal: &Principal,
    address: &DynamicAddress,
) -> Result<Option<SchemaRow>, CatalogError> {
    let Some(params) = key_params(principal, address) else {
        return Ok(None);
    };
    let rows: Vec<RawSchemaRow> =
        decode_rows(sql.query(Statement::new(SCHEMA_SQL, params)).await?)?;
    let Some(row) = rows.into_iter().next() else {
        return Ok(None);
    };
    Ok(Some(SchemaRow {
        input_schema: parse_json("tool input schema", row.input_schema.as_deref())?,
        output_schema: parse_json("tool output schema", row.output_schema.as_deref())?,
        defs: parse_json("tool $defs", row.defs.as_deref())?.unwrap_or_default(),
        name: row.name,
        description: row.description,
    }))
}

/// What a call needs from storage, all from one query.
#[derive(Debug, Clone)]
pub struct CallRow {
    pub plugin_id: String,
    pub input_schema: Option<Value>,
    pub annotations: ToolAnnotations,
    /// The connection's auth template slug.
    pub template: String,
    /// The connection's credential provider.
    pub provider: String,
    /// The connection's sealed `encrypted` items (`{variable: stored | null}` JSON text).
    pub sealed: Option<String>,
    /// The integration's config (JSON text); `None` when the row has none.
    pub config: Option<String>,
    /// The operation binding (JSON text); `None` when the current generation has no row for
    /// this tool.
    pub binding: Option<String>,
    pub defs: Map<String, Value>,
    /// The connection's OAuth client (`None`: not an OAuth connection).
    pub oauth_client: Option<String>,
    /// Epoch ms when the connection's access token expires.
    pub expires_at: Option<i64>,
    /// The authorization server rejected the refresh token; the user must sign in again.
    pub oauth_reauth_required: bool,
}

struct RawCallRow {
    plugin_id: String,
    input_schema: Option<String>,
    annotations: Option<String>,
    template: String,
    provider: String,
    sealed: Option<String>,
    config: Option<String>,
    binding: Option<String>,
    defs: Option<String>,
    oauth_client: Option<String>,
    expires_at: Option<i64>,
    oauth_reauth_required: Option<i64>,
}

impl FromRow for RawCallRow {
    fn from_row(row: &RowReader<'_>) -> Result<Self, StoreError> {
        Ok(RawCallRow {
            plugin_id: row.text("plugin_id")?,
            input_schema: row.opt_text("input_schema")?,
            annotations: row.opt_text("annotations")?,
            template: row.text("template")?,
            provider: row.text("provider")?,
            sealed: row.opt_text("sealed")?,
            config: row.opt_text("config")?,
            binding: row.opt_text("binding")?,
            defs: row.opt_text("defs")?,
            oauth_client: row.opt_text("oauth_client")?,
            expires_at: row.opt_int("expires_at")?,
            oauth_reauth_required: row.opt_int("oauth_reauth_required")?,
        })
    }
}

const CALL_SQL: &str = concat!(
    "SELECT t.plugin_id, t.input_schema, t.annotations, c.template, c.provider, i.config, \
       c.oauth_client, c.expires_at, c.oauth_reauth_required, \
       json_extract(op.data, '$.binding') AS binding, ",
    crate::providers::encrypted::sealed_items_of_connection!(),
    " AS sealed, ",
    defs_of_tool!(),
    " AS defs FROM tool t \
       JOIN connection c ON c.tenant = t.tenant AND c.owner = t.owner AND c.subject = t.subject \
         AND c.integration = t.integration AND c.name = t.connection",
    op_of_tool!(),
    tool_key!()
);

/// The tool row, its connection's template, the integration config, the operation binding and
/// the `$defs` closure of one tool (one query). `None` when the caller has no such tool.
pub async fn tool_call(
    sql: &dyn Sql,
    principal: &Principal,
    address: &DynamicAddress,
) -> Result<Option<CallRow>, CatalogError> {
    let Some(mut params) = key_params(principal, address) else {
        return Ok(None);
    };
    // ?7: the caller's subject, for the user-then-org read of the connection's secrets.
    params.push(principal.subject().into());
    let rows: Vec<RawCallRow> = decode_rows(sql.query(Statement::new(CALL_SQL, params)).await?)?;
    let Some(row) = rows.into_iter().next() else {
        return Ok(None);
    };
    Ok(Some(CallRow {
        input_schema: parse_json("tool input schema", row.input_schema.as_deref())?,
        annotations: row
            .annotations
            .as_deref()
            .map(ToolAnnotations::parse)
            .transpose()
            .map_err(|e| CatalogError::Corrupt(format!("tool annotations: {e}")))?
            .unwrap_or_default(),
        defs: parse_json("tool $defs", row.defs.as_deref())?.unwrap_or_default(),
        plugin_id: row.plugin_id,
        template: row.template,
        provider: row.provider,
        sealed: row.sealed,
        config: row.config,
        binding: row.binding,
        oauth_client: row.oauth_client,
        expires_at: row.expires_at,
        oauth_reauth_required: row.oauth_reauth_required.unwrap_or(0) != 0,
    }))
}
