//! The connections service (executor-behaviour.md §3.6): list, get, create/upsert, patch, delete,
//! refresh, and credential resolution for tool calls. All SQL of the `connection` table lives
//! here; every query carries the owner predicate (§4.2).

use std::collections::BTreeMap;

use super::name;
use super::wire::{Connection, CreateRequest, Origin, PatchRequest, ToolSummary};
use crate::app::Services;
use crate::auth::Principal;
use crate::crypto::{CryptoError, SecretValue};
use crate::owner::{Owner, Partition};
use crate::providers::{self, encrypted, ProviderError};
use crate::store::{decode_rows, FromRow, RowReader, Sql, SqlValue, Statement, StoreError};

/// The built-in integration has static tools only; it cannot hold connections.
const BUILT_IN_INTEGRATION: &str = "executor";

/// Why a connections operation failed. Messages never include credential values.
#[derive(Debug, Clone, PartialEq)]
pub enum ConnectionError {
    /// The request does not fit the route's schema (400).
    Schema(String),
    IntegrationNotFound {
        slug: String,
    },
    ConnectionNotFound {
        owner: Owner,
        integration: String,
        name: String,
    },
    InvalidInput(String),
    ProviderNotRegistered {
        provider: String,
    },
    /// Storage or cipher failure; logged under a trace id, never shown.
    Internal(String),
}

impl From<StoreError> for ConnectionError {
    fn from(e: StoreError) -> Self {
        ConnectionError::Internal(e.to_string())
    }
}

impl From<CryptoError> for ConnectionError {
    fn from(e: CryptoError) -> Self {
        ConnectionError::Internal(format!("encrypted provider: {e}"))
    }
}

impl From<ProviderError> for ConnectionError {
    fn from(e: ProviderError) -> Self {
        ConnectionError::Internal(format!("encrypted provider: {e}"))
    }
}

impl From<super::wire::SchemaError> for ConnectionError {
    fn from(e: super::wire::SchemaError) -> Self {
        ConnectionError::Schema(e.0)
    }
}

/// A connection's address from a path: `(owner, integration, name)`, name used verbatim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionKey {
    pub owner: Owner,
    pub integration: String,
    pub name: String,
}

impl ConnectionKey {
    fn not_found(&self) -> ConnectionError {
        ConnectionError::ConnectionNotFound {
            owner: self.owner,
            integration: self.integration.clone(),
            name: self.name.clone(),
        }
    }

    /// The partition the key names for this caller; a caller without a subject owns no user rows.
    fn partition(&self, principal: &Principal) -> Result<Partition, ConnectionError> {
        Partition::of(principal, self.owner).map_err(|_| self.not_found())
    }
}

struct ConnectionRow {
    owner: Owner,
    name: String,
    integration: String,
    template: String,
    provider: String,
    item_ids: String,
    identity_label: Option<String>,
    description: Option<String>,
    expires_at: Option<i64>,
    oauth_client: Option<String>,
    oauth_client_owner: Option<Owner>,
    oauth_scope: Option<String>,
}

impl FromRow for ConnectionRow {
    fn from_row(row: &RowReader<'_>) -> Result<Self, StoreError> {
        Ok(ConnectionRow {
            owner: row.owner("owner")?,
            name: row.text("name")?,
            integration: row.text("integration")?,
            template: row.text("template")?,
            provider: row.text("provider")?,
            item_ids: row.text("item_ids")?,
            identity_label: row.opt_text("identity_label")?,
            description: row.opt_text("description")?,
            expires_at: row.opt_int("expires_at")?,
            oauth_client: row.opt_text("oauth_client")?,
            oauth_client_owner: row.opt_owner("oauth_client_owner")?,
            oauth_scope: row.opt_text("oauth_scope")?,
        })
    }
}

impl ConnectionRow {
    fn into_wire(self) -> Connection {
        Connection {
            address: format!(
                "tools.{}.{}.{}",
                self.integration,
                self.owner.as_str(),
                self.name
            ),
            owner: self.owner,
            name: self.name,
            integration: self.integration,
            template: self.template,
            provider: self.provider,
            identity_label: self.identity_label,
            description: self.description,
            expires_at: self.expires_at,
            oauth_client: self.oauth_client,
            oauth_client_owner: self.oauth_client_owner,
            oauth_scope: self.oauth_scope,
        }
    }
}

const LIST_SQL: &str = "SELECT owner, name, integration, template, provider, item_ids, \
     identity_label, description, expires_at, oauth_client, oauth_client_owner, oauth_scope \
     FROM connection \
     WHERE tenant = ?1 AND (owner = 'org' OR (owner = 'user' AND subject = ?2)) \
       AND (?3 IS NULL OR integration = ?3) AND (?4 IS NULL OR owner = ?4) \
     ORDER BY created_at, owner, integration, name";

/// `GET /connections`: the tenant's org connections and the caller's own user connections.
pub async fn list(
    sql: &dyn Sql,
    principal: &Principal,
    integration: Option<&str>,
    owner: Option<Owner>,
) -> Result<Vec<Connection>, ConnectionError> {
    let rows: Vec<ConnectionRow> = decode_rows(
        sql.query(Statement::new(
            LIST_SQL,
            vec![
                principal.tenant().into(),
                principal.subject().into(),
                integration.into(),
                owner.map(Owner::as_str).into(),
            ],
        ))
        .await?,
    )?;
    Ok(rows.into_iter().map(ConnectionRow::into_wire).collect())
}

const GET_SQL: &str = "SELECT owner, name, integration, template, provider, item_ids, \
     identity_label, description, expires_at, oauth_client, oauth_client_owner, oauth_scope \
     FROM connection \
     WHERE tenant = ?1 AND owner = ?2 AND subject = ?3 AND integration = ?4 AND name = ?5";

fn key_params(p: &Partition, integration: &str, name: &str) -> Vec<SqlValue> {
    vec![
        p.tenant.as_str().into(),
        p.owner.as_str().into(),
        p.subject.as_str().into(),
        integration.into(),
        name.into(),
    ]
}

async fn find(
    sql: &dyn Sql,
    partition: &Partition,
    integration: &str,
    name: &str,
) -> Result<Option<ConnectionRow>, ConnectionError> {
    let rows: Vec<ConnectionRow> = decode_rows(
        sql.query(Statement::new(
            GET_SQL,
            key_params(partition, integration, name),
        ))
        .await?,
    )?;
    Ok(rows.into_iter().next())
}

/// `GET /connections/:owner/:integration/:name`.
pub async fn get(
    sql: &dyn Sql,
    principal: &Principal,
    key: &ConnectionKey,
) -> Result<Connection, ConnectionError> {
    let partition = key.partition(principal)?;
    find(sql, &partition, &key.integration, &key.name)
        .await?
        .map(ConnectionRow::into_wire)
        .ok_or_else(|| key.not_found())
}

const INTEGRATION_SQL: &str = "SELECT config FROM integration WHERE tenant = ?1 AND slug = ?2";

/// The stored config of a connectable integration (`None` inside: no config); the built-in
/// `executor` integration and unknown slugs are [`ConnectionError::IntegrationNotFound`].
async fn connectable_integration(
    sql: &dyn Sql,
    tenant: &str,
    slug: &str,
) -> Result<Option<String>, ConnectionError> {
    let not_found = || ConnectionError::IntegrationNotFound { slug: slug.into() };
    if slug == BUILT_IN_INTEGRATION {
        return Err(not_found());
    }
    let rows = sql
        .query(Statement::new(
            INTEGRATION_SQL,
            vec![tenant.into(), slug.into()],
        ))
        .await?;
    let row = rows.into_iter().next().ok_or_else(not_found)?;
    Ok(row
        .get("config")
        .and_then(serde_json::Value::as_str)
        .map(str::to_string))
}

/// Whether the integration's stored `authenticationTemplate` marks `template` as `kind: none`
/// (a connection that needs no credential inputs).
fn is_none_template(config: Option<&str>, template: &str) -> bool {
    let Some(config) = config.and_then(|c| serde_json::from_str::<serde_json::Value>(c).ok())
    else {
        return false;
    };
    config
        .get("authenticationTemplate")
        .and_then(serde_json::Value::as_array)
        .is_some_and(|templates| {
            templates.iter().any(|t| {
                t.get("slug").and_then(serde_json::Value::as_str) == Some(template)
                    && t.get("kind").and_then(serde_json::Value::as_str) == Some("none")
            })
        })
}

const UPSERT_SQL: &str = "INSERT INTO connection \
     (row_id, tenant, owner, subject, integration, name, template, provider, item_ids, \
      identity_label, description, created_at, updated_at) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?12) \
     ON CONFLICT (tenant, owner, subject, integration, name) DO UPDATE SET \
       template = excluded.template, provider = excluded.provider, \
       item_ids = excluded.item_ids, identity_label = excluded.identity_label, \
       description = CASE WHEN ?13 THEN excluded.description ELSE connection.description END, \
       updated_at = excluded.updated_at";

/// `POST /connections`: creates, or replaces the connection with the same `(owner, integration,
/// normalised name)`. Pasted values are sealed into the connection owner's partition of the
/// `encrypted` provider in the same atomic batch as the connection row.
pub async fn create(
    services: Services<'_>,
    principal: &Principal,
    request: CreateRequest,
) -> Result<Connection, ConnectionError> {
    let partition = Partition::of(principal, request.owner).map_err(|_| {
        ConnectionError::InvalidInput(
            "A user-owned connection needs an authenticated subject.".into(),
        )
    })?;
    let config =
        connectable_integration(services.sql, principal.tenant(), &request.integration).await?;
    let name = name::normalize(&request.name);
    let owner = request.owner.as_str();
    let meta = Meta {
        integration: request.integration,
        name,
        template: request.template,
        provider: providers::DEFAULT_WRITABLE.into(),
        identity_label: request.identity_label.given().flatten().map(str::to_string),
        description: request.description.given().map(|d| d.map(str::to_string)),
    };

    let pasted: BTreeMap<String, SecretValue> = match request.origin {
        Origin::Value(value) => BTreeMap::from([(name::DEFAULT_VARIABLE.to_string(), value)]),
        Origin::Values(values) => values,
        Origin::From { provider, id } => {
            let item_ids = BTreeMap::from([(name::DEFAULT_VARIABLE.to_string(), id)]);
            return write_references(services, principal, &partition, meta, provider, item_ids)
                .await;
        }
        Origin::Inputs(inputs) if !inputs.is_empty() => {
            let mut item_ids = BTreeMap::new();
            let mut provider: Option<String> = None;
            for (variable, reference) in inputs {
                match &provider {
                    Some(p) if *p != reference.provider => {
                        return Err(ConnectionError::InvalidInput(
                            "A connection's inputs must all come from one credential provider."
                                .into(),
                        ))
                    }
                    Some(_) => {}
                    None => provider = Some(reference.provider),
                }
                item_ids.insert(variable, reference.id);
            }
            let provider = provider.unwrap_or_default();
            return write_references(services, principal, &partition, meta, provider, item_ids)
                .await;
        }
        // No inputs at all: only a `none` template accepts that (checked below).
        Origin::Inputs(_) => BTreeMap::new(),
    };
    if pasted.is_empty() && !is_none_template(config.as_deref(), &meta.template) {
        return Err(ConnectionError::InvalidInput(
            "A connection must supply at least one credential input.".into(),
        ));
    }

    let now = services.clock.now_ms() as i64;
    let mut item_ids = BTreeMap::new();
    let mut statements = Vec::with_capacity(pasted.len() + 1);
    for (variable, value) in &pasted {
        let item_id = name::connection_item_id(owner, &meta.integration, &meta.name, variable);
        statements.push(encrypted::seal_statement(
            services.keyring,
            &partition,
            &item_id,
            value,
            now,
        )?);
        item_ids.insert(variable.clone(), item_id);
    }
    drop(pasted);
    write(services, principal, &partition, &meta, item_ids, statements).await
}

/// A connection whose credential inputs are items a provider already holds.
async fn write_references(
    services: Services<'_>,
    principal: &Principal,
    partition: &Partition,
    mut meta: Meta,
    provider: String,
    item_ids: BTreeMap<String, String>,
) -> Result<Connection, ConnectionError> {
    if !providers::is_registered(&provider) {
        return Err(ConnectionError::ProviderNotRegistered { provider });
    }
    meta.provider = provider;
    write(services, principal, partition, &meta, item_ids, Vec::new()).await
}

/// The non-secret columns of a create/upsert.
struct Meta {
    integration: String,
    name: String,
    template: String,
    provider: String,
    identity_label: Option<String>,
    /// `None`: keep the stored description on upsert.
    description: Option<Option<String>>,
}

/// Writes the secret statements and the connection row in one batch, runs the tool-production
/// hook and answers the stored connection.
async fn write(
    services: Services<'_>,
    principal: &Principal,
    partition: &Partition,
    meta: &Meta,
    item_ids: BTreeMap<String, String>,
    mut statements: Vec<Statement>,
) -> Result<Connection, ConnectionError> {
    let now = services.clock.now_ms() as i64;
    let item_ids = serde_json::to_string(&item_ids)
        .map_err(|e| ConnectionError::Internal(format!("encode item ids: {e}")))?;
    statements.push(Statement::new(
        UPSERT_SQL,
        vec![
            crate::ids::uuid_v4().into(),
            partition.tenant.as_str().into(),
            partition.owner.as_str().into(),
            partition.subject.as_str().into(),
            meta.integration.as_str().into(),
            meta.name.as_str().into(),
            meta.template.as_str().into(),
            meta.provider.as_str().into(),
            item_ids.into(),
            meta.identity_label.clone().into(),
            meta.description.clone().flatten().into(),
            SqlValue::Integer(now),
            meta.description.is_some().into(),
        ],
    ));
    services.sql.batch(statements).await?;

    let key = ConnectionKey {
        owner: partition.owner,
        integration: meta.integration.clone(),
        name: meta.name.clone(),
    };
    // Tool production runs after every write (§8.7).
    produce_connection_tools(services, partition, &key).await?;
    get(services.sql, principal, &key).await
}

const PATCH_SQL: &str = "UPDATE connection SET \
       description = CASE WHEN ?6 THEN ?7 ELSE description END, \
       identity_label = CASE WHEN ?8 THEN ?9 ELSE identity_label END, \
       updated_at = ?10 \
     WHERE tenant = ?1 AND owner = ?2 AND subject = ?3 AND integration = ?4 AND name = ?5";

/// `PATCH /connections/:owner/:integration/:name`: `description` and `identityLabel` only
/// (absent = unchanged, `null` = cleared).
pub async fn update(
    services: Services<'_>,
    principal: &Principal,
    key: &ConnectionKey,
    patch: PatchRequest,
) -> Result<Connection, ConnectionError> {
    let partition = key.partition(principal)?;
    let description = patch.description.given();
    let identity_label = patch.identity_label.given();
    if description.is_some() || identity_label.is_some() {
        let mut params = key_params(&partition, &key.integration, &key.name);
        params.extend([
            description.is_some().into(),
            description.flatten().into(),
            identity_label.is_some().into(),
            identity_label.flatten().into(),
            SqlValue::Integer(services.clock.now_ms() as i64),
        ]);
        services
            .sql
            .execute(Statement::new(PATCH_SQL, params))
            .await?;
    }
    get(services.sql, principal, key).await
}

const DELETE_TOOLS_SQL: &str =
    "DELETE FROM tool WHERE tenant = ?1 AND owner = ?2 AND subject = ?3 \
     AND integration = ?4 AND connection = ?5";
const DELETE_DEFINITIONS_SQL: &str = "DELETE FROM definition WHERE tenant = ?1 AND owner = ?2 \
     AND subject = ?3 AND integration = ?4 AND connection = ?5";
const DELETE_SQL: &str =
    "DELETE FROM connection WHERE tenant = ?1 AND owner = ?2 AND subject = ?3 \
     AND integration = ?4 AND name = ?5";

/// `DELETE /connections/:owner/:integration/:name`: the connection row and its `tool` and
/// `definition` rows, atomically. Provider secrets stay (as upstream).
pub async fn remove(
    sql: &dyn Sql,
    principal: &Principal,
    key: &ConnectionKey,
) -> Result<(), ConnectionError> {
    let partition = key.partition(principal)?;
    if find(sql, &partition, &key.integration, &key.name)
        .await?
        .is_none()
    {
        return Err(key.not_found());
    }
    let params = key_params(&partition, &key.integration, &key.name);
    sql.batch(vec![
        Statement::new(DELETE_TOOLS_SQL, params.clone()),
        Statement::new(DELETE_DEFINITIONS_SQL, params.clone()),
        Statement::new(DELETE_SQL, params),
    ])
    .await?;
    Ok(())
}

/// `POST /connections/:owner/:integration/:name/refresh`: re-runs tool production and answers the
/// connection's tools.
pub async fn refresh(
    services: Services<'_>,
    principal: &Principal,
    key: &ConnectionKey,
) -> Result<Vec<ToolSummary>, ConnectionError> {
    let sql = services.sql;
    let partition = key.partition(principal)?;
    if find(sql, &partition, &key.integration, &key.name)
        .await?
        .is_none()
    {
        return Err(key.not_found());
    }
    connectable_integration(sql, principal.tenant(), &key.integration).await?;
    produce_connection_tools(services, &partition, key).await
}

const TOOLS_SQL: &str = "SELECT name, plugin_id, description FROM tool \
     WHERE tenant = ?1 AND owner = ?2 AND subject = ?3 AND integration = ?4 AND connection = ?5 \
     ORDER BY created_at, name";

struct ToolRow {
    name: String,
    plugin_id: String,
    description: String,
}

impl FromRow for ToolRow {
    fn from_row(row: &RowReader<'_>) -> Result<Self, StoreError> {
        Ok(ToolRow {
            name: row.text("name")?,
            plugin_id: row.text("plugin_id")?,
            description: row.text("description")?,
        })
    }
}

struct ProducerRow {
    plugin_id: String,
    config: Option<String>,
}

impl FromRow for ProducerRow {
    fn from_row(row: &RowReader<'_>) -> Result<Self, StoreError> {
        Ok(ProducerRow {
            plugin_id: row.text("plugin_id")?,
            config: row.opt_text("config")?,
        })
    }
}

const PRODUCER_SQL: &str =
    "SELECT plugin_id, config FROM integration WHERE tenant = ?1 AND slug = ?2";

/// Whether a connection can call anything: OAuth connections and `none` templates always can;
/// other templates need at least one credential item (§8.7).
fn has_credentials(row: &ConnectionRow, config: Option<&str>) -> bool {
    row.oauth_client.is_some()
        || is_none_template(config, &row.template)
        || serde_json::from_str::<BTreeMap<String, String>>(&row.item_ids)
            .map(|items| !items.is_empty())
            .unwrap_or(true)
}

/// **Tool production** (executor-behaviour.md §8.7): replaces the connection's `tool` rows from
/// its integration's current state and stamps `tools_synced_at`, then answers the connection's
/// tools. OpenAPI integrations copy their current generation's operations
/// ([`crate::plugins::openapi::store::produce_tools`]); a connection without credentials gets no
/// tools. Kinds without a producer in this build keep whatever rows they have.
pub async fn produce_connection_tools(
    services: Services<'_>,
    partition: &Partition,
    key: &ConnectionKey,
) -> Result<Vec<ToolSummary>, ConnectionError> {
    use crate::plugins::openapi::store::{self as openapi, OpenApiConfig};
    let sql = services.sql;
    let integration: Option<ProducerRow> = decode_rows(
        sql.query(Statement::new(
            PRODUCER_SQL,
            vec![
                partition.tenant.as_str().into(),
                key.integration.as_str().into(),
            ],
        ))
        .await?,
    )?
    .into_iter()
    .next();
    let connection = find(sql, partition, &key.integration, &key.name).await?;
    if let (Some(integration), Some(connection)) = (integration, connection) {
        // Google bundles are OpenAPI documents stored under their own plugin id.
        let google = integration.plugin_id == crate::plugins::google::store::PLUGIN_ID;
        if integration.plugin_id == openapi::PLUGIN_ID || google {
            let config_text = integration.config.as_deref();
            let config = match config_text.map(OpenApiConfig::parse).transpose() {
                Ok(config) => config,
                Err(e) => {
                    return Err(ConnectionError::Internal(format!(
                        "config of {}: {e}",
                        key.integration
                    )))
                }
            };
            let usable = has_credentials(&connection, config_text);
            if google {
                let collection = config
                    .as_ref()
                    .filter(|_| usable)
                    .and_then(|c| c.ops_collection(&key.integration));
                crate::plugins::produce::replace_connection_tools(
                    sql,
                    services.clock.now_ms() as i64,
                    partition,
                    &key.integration,
                    &key.name,
                    crate::plugins::google::store::PLUGIN_ID,
                    collection,
                )
                .await?;
            } else {
                openapi::produce_tools(
                    sql,
                    services.clock.now_ms() as i64,
                    partition,
                    &key.integration,
                    &key.name,
                    config.as_ref().filter(|_| usable),
                )
                .await?;
            }
        } else if integration.plugin_id == crate::plugins::graphql::store::PLUGIN_ID {
            let usable = has_credentials(&connection, integration.config.as_deref());
            // The first production introspects with this connection's auth (§8.2).
            let credentials = if usable {
                connection_values(services, partition, &connection).await?
            } else {
                BTreeMap::new()
            };
            crate::plugins::graphql::store::produce_tools(
                services,
                partition,
                &key.integration,
                &key.name,
                &connection.template,
                usable,
                &credentials,
            )
            .await
            .map_err(|e| ConnectionError::Internal(format!("{e:?}")))?;
        } else if integration.plugin_id == crate::plugins::mcp_remote::store::PLUGIN_ID {
            // Dials the server with this connection's auth (§8.3.2); unreachable ⇒ no tools.
            let usable = has_credentials(&connection, integration.config.as_deref());
            let credentials = if usable {
                connection_values(services, partition, &connection).await?
            } else {
                BTreeMap::new()
            };
            crate::plugins::mcp_remote::store::produce_tools(
                services,
                partition,
                &key.integration,
                &key.name,
                &connection.template,
                usable,
                &credentials,
            )
            .await
            .map_err(|e| ConnectionError::Internal(format!("{e:?}")))?;
        }
    }
    connection_tools(sql, partition, key).await
}

/// The connection's credential values by variable (`encrypted` provider; others resolve to
/// nothing here), read in the connection's own partition.
async fn connection_values(
    services: Services<'_>,
    partition: &Partition,
    connection: &ConnectionRow,
) -> Result<BTreeMap<String, Option<SecretValue>>, ConnectionError> {
    let item_ids: BTreeMap<String, String> = serde_json::from_str(&connection.item_ids)
        .map_err(|e| ConnectionError::Internal(format!("connection item_ids: {e}")))?;
    let mut out = BTreeMap::new();
    for (variable, item_id) in item_ids {
        let value = if connection.provider == encrypted::PROVIDER_KEY {
            encrypted::resolve(
                services.sql,
                services.keyring,
                partition.tenant.as_str(),
                partition.subject.as_str(),
                &item_id,
            )
            .await?
        } else {
            None
        };
        out.insert(variable, value);
    }
    Ok(out)
}

/// The connection's current `tool` rows as summaries.
async fn connection_tools(
    sql: &dyn Sql,
    partition: &Partition,
    key: &ConnectionKey,
) -> Result<Vec<ToolSummary>, ConnectionError> {
    let rows: Vec<ToolRow> = decode_rows(
        sql.query(Statement::new(
            TOOLS_SQL,
            key_params(partition, &key.integration, &key.name),
        ))
        .await?,
    )?;
    Ok(rows
        .into_iter()
        .map(|row| ToolSummary {
            address: format!(
                "tools.{}.{}.{}.{}",
                key.integration,
                key.owner.as_str(),
                key.name,
                row.name
            ),
            owner: key.owner,
            integration: key.integration.clone(),
            connection: key.name.clone(),
            name: row.name,
            plugin_id: row.plugin_id,
            description: row.description,
        })
        .collect())
}

struct KeyRow {
    owner: Owner,
    integration: String,
    name: String,
}

impl FromRow for KeyRow {
    fn from_row(row: &RowReader<'_>) -> Result<Self, StoreError> {
        Ok(KeyRow {
            owner: row.owner("owner")?,
            integration: row.text("integration")?,
            name: row.text("name")?,
        })
    }
}

/// Visible connections whose tools are older than their integration's last tool-affecting
/// change (or were never produced), for integration kinds that have a producer.
const STALE_SQL: &str = "SELECT c.owner, c.integration, c.name FROM connection c \
     JOIN integration i ON i.tenant = c.tenant AND i.slug = c.integration \
     WHERE c.tenant = ?1 AND (c.owner = 'org' OR (c.owner = 'user' AND c.subject = ?2)) \
       AND i.plugin_id IN ('openapi', 'google') \
       AND (c.tools_synced_at IS NULL OR c.tools_synced_at < i.config_revised_at) \
     ORDER BY c.created_at, c.owner, c.integration, c.name";

/// Visible connections of one integration.
const OF_INTEGRATION_SQL: &str = "SELECT owner, integration, name FROM connection \
     WHERE tenant = ?1 AND (owner = 'org' OR (owner = 'user' AND subject = ?2)) \
       AND integration = ?3 \
     ORDER BY created_at, owner, name";

/// Re-produces each listed connection; one failure does not stop the others (each is logged and
/// stays stale, so a later call retries it).
async fn produce_all(services: Services<'_>, principal: &Principal, keys: Vec<KeyRow>) {
    for row in keys {
        let key = ConnectionKey {
            owner: row.owner,
            integration: row.integration,
            name: row.name,
        };
        let Ok(partition) = key.partition(principal) else {
            continue;
        };
        if let Err(e) = produce_connection_tools(services, &partition, &key).await {
            crate::logging::warn(&format!(
                "tool production for {}.{}.{} failed: {e:?}",
                key.integration,
                key.owner.as_str(),
                key.name
            ));
        }
    }
}

/// Re-produces the tools of the caller's visible connections that are stale (§8.7:
/// `tools_synced_at` unset or older than the integration's `config_revised_at`). Run before
/// tools are listed or searched. Best effort per connection; `Err` only when the stale set
/// cannot be read.
pub async fn refresh_stale(
    services: Services<'_>,
    principal: &Principal,
) -> Result<(), ConnectionError> {
    let stale: Vec<KeyRow> = decode_rows(
        services
            .sql
            .query(Statement::new(
                STALE_SQL,
                vec![principal.tenant().into(), principal.subject().into()],
            ))
            .await?,
    )?;
    produce_all(services, principal, stale).await;
    Ok(())
}

/// Re-produces the tools of every connection of `integration` the caller can see (after a spec
/// update). Best effort per connection, like [`refresh_stale`].
pub async fn refresh_integration(
    services: Services<'_>,
    principal: &Principal,
    integration: &str,
) -> Result<(), ConnectionError> {
    let keys: Vec<KeyRow> = decode_rows(
        services
            .sql
            .query(Statement::new(
                OF_INTEGRATION_SQL,
                vec![
                    principal.tenant().into(),
                    principal.subject().into(),
                    integration.into(),
                ],
            ))
            .await?,
    )?;
    produce_all(services, principal, keys).await;
    Ok(())
}

/// A connection's credential inputs for a tool call: variable → value (`None` when the provider
/// has no such item). The only path by which a value leaves storage; callers place it into the
/// outbound request and drop it.
pub async fn resolve_credentials(
    services: Services<'_>,
    principal: &Principal,
    key: &ConnectionKey,
) -> Result<BTreeMap<String, Option<SecretValue>>, ConnectionError> {
    let partition = key.partition(principal)?;
    let row = find(services.sql, &partition, &key.integration, &key.name)
        .await?
        .ok_or_else(|| key.not_found())?;
    let item_ids: BTreeMap<String, String> = serde_json::from_str(&row.item_ids)
        .map_err(|e| ConnectionError::Internal(format!("connection item_ids: {e}")))?;
    let mut out = BTreeMap::new();
    for (variable, item_id) in item_ids {
        let value = if row.provider == encrypted::PROVIDER_KEY {
            encrypted::resolve(
                services.sql,
                services.keyring,
                principal.tenant(),
                principal.subject(),
                &item_id,
            )
            .await?
        } else {
            None
        };
        out.insert(variable, value);
    }
    Ok(out)
}
