//! MCP integrations in storage (executor-behaviour.md §3.4.3, §8.3, §8.6, §8.7).
//!
//! Layout, shared with the catalog's reads: an `integration` row with `plugin_id = 'mcp'` whose
//! config is the upstream `McpIntegrationConfig` (`transport`, `endpoint`, `remoteTransport`,
//! `headers`, `queryParams`, `authenticationTemplate`) plus two private keys, `generation` (the
//! current `op:<slug>:<generation>` rows in `plugin_storage`, one per tool: binding
//! `{toolName}`, description, schemas, annotations) and `toolsHash` (of the rows, so a refresh
//! that lists the same tools writes nothing). Adding makes no network call; each connection's
//! tool production dials the server with that connection's auth (a failure leaves it with zero
//! tools, so a dead endpoint can be added and its tools appear on refresh).
//!
//! Upstream sessions: a streamable-HTTP session is kept per connection as a `plugin_storage`
//! row (`plugin_id = 'mcp'`, collection `session`, key `<integration>.<connection>`, in the
//! connection's partition) holding the session id, negotiated protocol version, transport and
//! endpoint. Every Worker request and isolate reuses it; a 404 from the server (session gone)
//! re-initialises once and retries. Legacy SSE sessions die with their stream, so each SSE call
//! opens, initialises, calls and closes.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use super::client::{self, Endpoint, McpError, Session, SseRequest, Transport};
use crate::app::Services;
use crate::crypto::SecretValue;
use crate::integrations::config::{self as config_rewrite, RewriteError};
use crate::integrations::detect::{slugify, Confidence, Detection};
use crate::integrations::{self};
use crate::owner::Partition;
use crate::plugins::graphql::invoke::{self as gql, GraphqlAuth};
use crate::plugins::graphql::store::{merge_auth, parse_auth_inputs};
use crate::plugins::openapi::store::{valid_slug, MergeMode, MAX_SLUG_CHARS};
use crate::store::{Sql, SqlValue, Statement, StoreError};

/// `plugin_id` of MCP integrations and rows.
pub const PLUGIN_ID: &str = "mcp";

/// Time budget of one discovery exchange (probe, detection, tool production).
pub const DISCOVERY_TIMEOUT_MS: u64 = 30_000;

/// Config keys this build keeps for itself; never shown by the config routes.
const PRIVATE_KEYS: [&str; 2] = ["generation", "toolsHash"];

/// Why an MCP integration operation failed.
#[derive(Debug, Clone, PartialEq)]
pub enum McpStoreError {
    /// 400: the request does not fit the route's schema.
    Invalid(String),
    /// 400 `McpConnectionError` (probe).
    Connection(String),
    /// 409 `IntegrationAlreadyExistsError`.
    AlreadyExists { slug: String },
    /// Storage failure or broken stored data: opaque 500.
    Internal(String),
}

impl From<RewriteError<McpStoreError>> for McpStoreError {
    fn from(e: RewriteError<McpStoreError>) -> Self {
        match e {
            RewriteError::Change(e) => e,
            RewriteError::Store(e) => e.into(),
            RewriteError::Contended(message) => McpStoreError::Internal(message),
        }
    }
}

impl From<StoreError> for McpStoreError {
    fn from(e: StoreError) -> Self {
        McpStoreError::Internal(e.to_string())
    }
}

// ---------------------------------------------------------------------------------------------
// Config

/// How to dial a remote server (from the stored config).
#[derive(Clone)]
pub struct Remote {
    pub endpoint: String,
    /// `None` = `auto`: streamable HTTP first, SSE when the answer is not streamable HTTP.
    pub transport: Option<Transport>,
    pub headers: Vec<(String, String)>,
    pub query: Vec<(String, String)>,
    pub auth: Vec<GraphqlAuth>,
}

fn string_pairs(value: Option<&Value>) -> Vec<(String, String)> {
    value
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_owned())))
                .collect()
        })
        .unwrap_or_default()
}

impl Remote {
    /// The remote part of a stored config; `None` for stdio servers or a config without an
    /// endpoint.
    pub fn of(config: &Value) -> Option<Remote> {
        if config.get("transport").and_then(Value::as_str) == Some("stdio") {
            return None;
        }
        let endpoint = config.get("endpoint")?.as_str()?.to_owned();
        let transport = match config.get("remoteTransport").and_then(Value::as_str) {
            Some("streamable-http") => Some(Transport::StreamableHttp),
            Some("sse") => Some(Transport::Sse),
            _ => None,
        };
        let auth = config
            .get("authenticationTemplate")
            .and_then(|v| GraphqlAuth::parse_list(&v.to_string()).ok())
            .unwrap_or_default();
        Some(Remote {
            endpoint,
            transport,
            headers: string_pairs(config.get("headers")),
            query: string_pairs(config.get("queryParams")),
            auth,
        })
    }

    /// The auth method of a connection template (§8.3.1): by slug; else the only declared one.
    pub fn auth_for(&self, template: &str) -> Option<&GraphqlAuth> {
        self.auth
            .iter()
            .find(|a| a.slug() == template)
            .or(match self.auth.as_slice() {
                [only] => Some(only),
                _ => None,
            })
    }

    /// The [`Endpoint`] for a connection: static query/headers plus the rendered auth. A missing
    /// credential is a ToolResult failure.
    pub fn endpoint(
        &self,
        template: &str,
        credentials: &BTreeMap<String, Option<SecretValue>>,
        source: (&str, &str),
        timeout_ms: u64,
        allow_local_network: bool,
    ) -> Result<Endpoint, Value> {
        let (auth_headers, auth_query) = gql::render(self.auth_for(template), credentials, source)?;
        let query: Vec<(String, String)> = self.query.iter().cloned().chain(auth_query).collect();
        let mut headers: Vec<(String, String)> = Vec::new();
        for (name, value) in self.headers.iter().cloned().chain(auth_headers) {
            headers.retain(|(n, _)| !n.eq_ignore_ascii_case(&name));
            headers.push((name, value));
        }
        Ok(Endpoint {
            url: gql::with_query(&self.endpoint, &query),
            headers,
            timeout_ms,
            allow_local_network,
        })
    }
}

/// The config without this build's private keys (what the routes show).
pub fn public_config(config: &Value) -> Value {
    let mut config = config.clone();
    if let Some(map) = config.as_object_mut() {
        for key in PRIVATE_KEYS {
            map.remove(key);
        }
    }
    config
}

fn object<'a>(
    value: &'a Value,
    key: &str,
) -> Result<Option<&'a Map<String, Value>>, McpStoreError> {
    match value.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(m)) if m.values().all(Value::is_string) => Ok(Some(m)),
        Some(_) => Err(McpStoreError::Invalid(format!(
            "`{key}` must be an object of strings"
        ))),
    }
}

fn text<'a>(value: &'a Value, key: &str) -> Result<Option<&'a str>, McpStoreError> {
    match value.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.trim()).filter(|s| !s.is_empty())),
        Some(_) => Err(McpStoreError::Invalid(format!("`{key}` must be a string"))),
    }
}

fn check_endpoint(endpoint: &str) -> Result<(), McpStoreError> {
    let ok = crate::net::parse_url(endpoint)
        .ok()
        .is_some_and(|u| matches!(u.scheme(), "http" | "https"));
    if ok {
        Ok(())
    } else {
        Err(McpStoreError::Invalid(
            "`endpoint` must be an http(s) URL".into(),
        ))
    }
}

/// A config as stored from a request's fields (`POST /mcp/servers` or a full replace).
fn normalise_config(body: &Value) -> Result<Value, McpStoreError> {
    if text(body, "transport")? == Some("stdio") {
        let command = text(body, "command")?
            .ok_or_else(|| McpStoreError::Invalid("`command` is required for stdio".into()))?;
        let mut config = json!({"transport": "stdio", "command": command});
        for key in ["args", "env", "cwd"] {
            if let Some(v) = body.get(key).filter(|v| !v.is_null()) {
                config[key] = v.clone();
            }
        }
        return Ok(config);
    }
    let endpoint = text(body, "endpoint")?
        .ok_or_else(|| McpStoreError::Invalid("`endpoint` is required".into()))?;
    check_endpoint(endpoint)?;
    let remote_transport = match text(body, "remoteTransport")? {
        None => "auto",
        Some(t @ ("auto" | "streamable-http" | "sse")) => t,
        Some(_) => {
            return Err(McpStoreError::Invalid(
                "`remoteTransport` must be \"streamable-http\", \"sse\" or \"auto\"".into(),
            ))
        }
    };
    let mut config = json!({"transport": "remote", "endpoint": endpoint,
        "remoteTransport": remote_transport});
    for key in ["queryParams", "headers"] {
        if let Some(m) = object(body, key)? {
            config[key] = Value::Object(m.clone());
        }
    }
    let mut inputs = match body.get("authenticationTemplate") {
        None | Some(Value::Null) => Vec::new(),
        Some(v) => parse_auth_inputs(v).map_err(McpStoreError::Invalid)?,
    };
    if let Some(auth) = body.get("auth").filter(|v| !v.is_null()) {
        inputs.extend(shorthand(auth)?);
    }
    let mut methods = merge_auth(Vec::new(), inputs, MergeMode::Replace);
    if methods.is_empty() {
        methods = vec![GraphqlAuth::None(crate::plugins::openapi::NoneTemplate {
            slug: "none".into(),
        })];
    }
    config["authenticationTemplate"] =
        serde_json::to_value(&methods).map_err(|e| McpStoreError::Internal(e.to_string()))?;
    Ok(config)
}

/// The `auth` shorthand (§3.4.3): `{kind: "none"}`, `{kind: "header", headerName, prefix?}`
/// (an apikey method with slug `header`), `{kind: "oauth2"}`.
fn shorthand(auth: &Value) -> Result<Vec<(Option<String>, GraphqlAuth)>, McpStoreError> {
    let entry = match auth.get("kind").and_then(Value::as_str) {
        Some("none") => json!({"kind": "none"}),
        Some("oauth2") => json!({"kind": "oauth2"}),
        Some("header") => {
            let name = text(auth, "headerName")?
                .ok_or_else(|| McpStoreError::Invalid("`auth.headerName` is required".into()))?;
            let prefix = text(auth, "prefix")?.unwrap_or("");
            let mut parts = Vec::new();
            if !prefix.is_empty() {
                parts.push(json!(prefix));
            }
            parts.push(json!({"type": "variable", "name": "token"}));
            json!({"slug": "header", "type": "apiKey", "headers": {name: parts}})
        }
        _ => {
            return Err(McpStoreError::Invalid(
                "`auth.kind` must be \"none\", \"header\" or \"oauth2\"".into(),
            ))
        }
    };
    parse_auth_inputs(&json!([entry])).map_err(McpStoreError::Invalid)
}

// ---------------------------------------------------------------------------------------------
// Rows

const ROW_SQL: &str = "SELECT plugin_id, description, can_remove, can_refresh, config \
     FROM integration WHERE tenant = ?1 AND slug = ?2";

struct Row {
    description: Option<String>,
    can_remove: bool,
    can_refresh: bool,
    /// Parsed config and its text (for compare-and-swap).
    config: Value,
    text: Option<String>,
}

async fn load_row(sql: &dyn Sql, tenant: &str, slug: &str) -> Result<Option<Row>, McpStoreError> {
    let rows = sql
        .query(Statement::new(ROW_SQL, vec![tenant.into(), slug.into()]))
        .await?;
    let Some(row) = rows
        .into_iter()
        .find(|r| r.get("plugin_id").and_then(Value::as_str) == Some(PLUGIN_ID))
    else {
        return Ok(None);
    };
    let text = row.get("config").and_then(Value::as_str).map(str::to_owned);
    let config = text_config(slug, text.as_deref())?;
    let flag = |k: &str| row.get(k).and_then(Value::as_i64).unwrap_or(1) != 0;
    Ok(Some(Row {
        description: row
            .get("description")
            .and_then(Value::as_str)
            .map(str::to_owned),
        can_remove: flag("can_remove"),
        can_refresh: flag("can_refresh"),
        config,
        text,
    }))
}

fn text_config(slug: &str, text: Option<&str>) -> Result<Value, McpStoreError> {
    match text {
        Some(t) => serde_json::from_str(t)
            .map_err(|e| McpStoreError::Internal(format!("config of {slug}: {e}"))),
        None => Ok(json!({})),
    }
}

const EXISTS_SQL: &str = "SELECT 1 AS one FROM integration WHERE tenant = ?1 AND slug = ?2";

const INSERT_INTEGRATION_SQL: &str = "INSERT INTO integration (row_id, tenant, slug, plugin_id, \
       name, description, config, config_revised_at, can_remove, can_refresh, created_at, \
       updated_at) \
     VALUES (?1, ?2, ?3, 'mcp', ?4, ?5, ?6, ?7, 1, 1, ?7, ?7) \
     ON CONFLICT (tenant, slug) DO NOTHING";

/// `POST /mcp/servers` (§3.4.3): validates and stores the config; no network call. Answers the
/// slug.
pub async fn add(
    services: Services<'_>,
    tenant: &str,
    body: &Value,
) -> Result<String, McpStoreError> {
    if !body.is_object() {
        return Err(McpStoreError::Invalid(
            "the body must be a JSON object".into(),
        ));
    }
    let config = normalise_config(body)?;
    let name = text(body, "name")?
        .ok_or_else(|| McpStoreError::Invalid("`name` is required".into()))?
        .to_owned();
    let fallback = || {
        let from_host = config
            .get("endpoint")
            .and_then(Value::as_str)
            .and_then(|e| crate::net::parse_url(e).ok())
            .and_then(|u| u.host_str().map(|h| slugify(h, "mcp")));
        let from_command = config
            .get("command")
            .and_then(Value::as_str)
            .map(|c| slugify(c.rsplit('/').next().unwrap_or(c), "mcp"));
        from_host.or(from_command).unwrap_or_else(|| "mcp".into())
    };
    let slug = match text(body, "slug")? {
        Some(s) => s.to_owned(),
        None => {
            let s = slugify(&name, "");
            if s.is_empty() {
                fallback()
            } else {
                s
            }
        }
    };
    if !valid_slug(&slug) {
        return Err(McpStoreError::Invalid(format!(
            "`slug` must be 1–{MAX_SLUG_CHARS} ASCII letters, digits, `_` or `-`, starting with a \
             letter or digit"
        )));
    }
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
        return Err(McpStoreError::AlreadyExists { slug });
    }
    let now = services.clock.now_ms() as i64;
    let inserted = services
        .sql
        .execute(Statement::new(
            INSERT_INTEGRATION_SQL,
            vec![
                crate::ids::uuid_v4().into(),
                tenant.into(),
                slug.as_str().into(),
                name.into(),
                text(body, "description")?.map(str::to_owned).into(),
                config.to_string().into(),
                now.into(),
            ],
        ))
        .await?;
    if inserted == 1 {
        Ok(slug)
    } else {
        Err(McpStoreError::AlreadyExists { slug })
    }
}

/// `GET /mcp/servers/:slug`: `{slug, description, kind, canRemove, canRefresh, config}` or
/// `None`.
pub async fn get(sql: &dyn Sql, tenant: &str, slug: &str) -> Result<Option<Value>, McpStoreError> {
    Ok(load_row(sql, tenant, slug).await?.map(|r| {
        json!({"slug": slug, "description": r.description.unwrap_or_default(), "kind": PLUGIN_ID,
            "canRemove": r.can_remove, "canRefresh": r.can_refresh,
            "config": public_config(&r.config)})
    }))
}

const SWAP_CONFIG_SQL: &str = "UPDATE integration SET config = ?3, config_revised_at = ?4, \
     updated_at = ?4 WHERE tenant = ?1 AND slug = ?2 AND plugin_id = 'mcp' AND config IS ?5";

/// Rewrites a config with `change` (compare-and-swap, three tries); `None` when absent.
async fn update<F>(
    services: Services<'_>,
    tenant: &str,
    slug: &str,
    change: F,
) -> Result<Option<Value>, McpStoreError>
where
    F: Fn(&Value) -> Result<Value, McpStoreError>,
{
    Ok(
        config_rewrite::rewrite(services, PLUGIN_ID, SWAP_CONFIG_SQL, tenant, slug, |text| {
            let old = text_config(slug, text)?;
            let next = change(&old)?;
            Ok((next.to_string(), next))
        })
        .await?,
    )
}

/// `POST /mcp/servers/:slug/config` `{config}`: full replace (the tool generation is kept).
/// Answers the stored config; `None` when absent.
pub async fn set_config(
    services: Services<'_>,
    tenant: &str,
    slug: &str,
    body: &Value,
) -> Result<Option<Value>, McpStoreError> {
    let incoming = body
        .get("config")
        .filter(|c| c.is_object())
        .ok_or_else(|| McpStoreError::Invalid("`config` must be an object".into()))?;
    let fresh = normalise_config(incoming)?;
    let stored = update(services, tenant, slug, |old| {
        let mut next = fresh.clone();
        for key in PRIVATE_KEYS {
            if let Some(v) = old.get(key) {
                next[key] = v.clone();
            }
        }
        Ok(next)
    })
    .await?;
    Ok(stored.map(|c| public_config(&c)))
}

/// `POST /mcp/servers/:slug/auth` (merge or replace, as for GraphQL); stdio or unknown ⇒ `[]`.
pub async fn set_auth(
    services: Services<'_>,
    tenant: &str,
    slug: &str,
    body: &Value,
) -> Result<Value, McpStoreError> {
    // A `mode` of the wrong type is refused like an unknown one (not read as "merge").
    let mode = match body.get("mode") {
        None | Some(Value::Null) => MergeMode::Merge,
        Some(m) => m.as_str().and_then(MergeMode::parse).ok_or_else(|| {
            McpStoreError::Invalid("`mode` must be \"merge\" or \"replace\"".into())
        })?,
    };
    let inputs = parse_auth_inputs(body.get("authenticationTemplate").unwrap_or(&Value::Null))
        .map_err(McpStoreError::Invalid)?;
    let stored = update(services, tenant, slug, |old| {
        let Some(remote) = Remote::of(old) else {
            return Ok(old.clone());
        };
        let mut next = old.clone();
        next["authenticationTemplate"] =
            serde_json::to_value(merge_auth(remote.auth, inputs.clone(), mode))
                .map_err(|e| McpStoreError::Internal(e.to_string()))?;
        Ok(next)
    })
    .await?;
    Ok(stored
        .filter(|c| Remote::of(c).is_some())
        .and_then(|c| c.get("authenticationTemplate").cloned())
        .unwrap_or_else(|| json!([])))
}

// ---------------------------------------------------------------------------------------------
// Upstream sessions

const SESSION_GET_SQL: &str = "SELECT data FROM plugin_storage WHERE tenant = ?1 AND owner = ?2 \
     AND subject = ?3 AND plugin_id = 'mcp' AND collection = 'session' AND key = ?4";
const SESSION_PUT_SQL: &str = "INSERT INTO plugin_storage (row_id, tenant, owner, subject, \
       plugin_id, collection, key, data, created_at, updated_at) \
     VALUES (lower(hex(randomblob(16))), ?1, ?2, ?3, 'mcp', 'session', ?4, ?5, ?6, ?6) \
     ON CONFLICT (tenant, owner, subject, plugin_id, collection, key) \
     DO UPDATE SET data = excluded.data, updated_at = excluded.updated_at";
const SESSION_DELETE_SQL: &str = "DELETE FROM plugin_storage WHERE tenant = ?1 AND owner = ?2 \
     AND subject = ?3 AND plugin_id = 'mcp' AND collection = 'session' AND key = ?4";

/// Where a connection's upstream session is kept.
pub struct SessionSlot<'a> {
    pub partition: &'a Partition,
    pub integration: &'a str,
    pub connection: &'a str,
}

impl SessionSlot<'_> {
    fn params(&self) -> Vec<SqlValue> {
        vec![
            self.partition.tenant.as_str().into(),
            self.partition.owner.as_str().into(),
            self.partition.subject.as_str().into(),
            format!("{}.{}", self.integration, self.connection).into(),
        ]
    }

    /// The stored session for `url` (a session made for another endpoint is ignored) and the
    /// transport that worked last time.
    async fn load(&self, sql: &dyn Sql, url: &str) -> (Option<Session>, Option<Transport>) {
        let rows = match sql
            .query(Statement::new(SESSION_GET_SQL, self.params()))
            .await
        {
            Ok(rows) => rows,
            Err(e) => {
                crate::logging::warn(&format!("mcp: reading a session failed: {e}"));
                return (None, None);
            }
        };
        let Some(data) = rows
            .first()
            .and_then(|r| r.get("data"))
            .and_then(Value::as_str)
            .and_then(|t| serde_json::from_str::<Value>(t).ok())
        else {
            return (None, None);
        };
        if data.get("url").and_then(Value::as_str) != Some(url) {
            return (None, None);
        }
        let transport = match data.get("transport").and_then(Value::as_str) {
            Some("sse") => Some(Transport::Sse),
            Some(_) => Some(Transport::StreamableHttp),
            None => None,
        };
        let session = data
            .get("protocol")
            .and_then(Value::as_str)
            .map(|p| Session {
                id: data.get("id").and_then(Value::as_str).map(str::to_owned),
                protocol: p.to_owned(),
            });
        (session, transport)
    }

    async fn store(
        &self,
        services: Services<'_>,
        url: &str,
        transport: Transport,
        session: Option<&Session>,
    ) {
        let mut data = json!({"url": url, "transport": transport.as_str()});
        if let Some(s) = session {
            data["protocol"] = json!(s.protocol);
            if let Some(id) = &s.id {
                data["id"] = json!(id);
            }
        }
        let mut params = self.params();
        params.push(data.to_string().into());
        params.push((services.clock.now_ms() as i64).into());
        if let Err(e) = services
            .sql
            .execute(Statement::new(SESSION_PUT_SQL, params))
            .await
        {
            // Only costs a fresh initialize next time.
            crate::logging::warn(&format!("mcp: storing a session failed: {e}"));
        }
    }

    async fn forget(&self, sql: &dyn Sql) {
        let _ = sql
            .execute(Statement::new(SESSION_DELETE_SQL, self.params()))
            .await;
    }
}

/// Runs `method` on a streamable-HTTP session: the stored one when there is one, else a new one
/// (stored); a session the server forgot is replaced once and the request retried. `tools/list`
/// follows its cursors. Answers the result and the `initialize` result if one was made.
async fn on_session(
    services: Services<'_>,
    endpoint: &Endpoint,
    slot: Option<&SessionSlot<'_>>,
    stored: Option<Session>,
    method: &'static str,
    params: &Value,
) -> Result<(Value, Option<Value>), McpError> {
    let http = services.http;
    let run = |session: Session| async move {
        if method == "tools/list" {
            client::list_tools(http, endpoint, &session, 2)
                .await
                .map(|tools| json!({ "tools": tools }))
        } else {
            client::call(http, endpoint, &session, 2, method, params.clone()).await
        }
    };
    if let Some(session) = stored {
        match run(session).await {
            Err(McpError::SessionExpired) => {
                if let Some(slot) = slot {
                    slot.forget(services.sql).await;
                }
            }
            other => return other.map(|v| (v, None)),
        }
    }
    let (session, init) = client::initialize(http, endpoint).await?;
    if let Some(slot) = slot {
        slot.store(
            services,
            &endpoint.url,
            Transport::StreamableHttp,
            Some(&session),
        )
        .await;
    }
    let result = run(session).await?;
    Ok((result, Some(init)))
}

/// One request to a server over the right transport (§8.3.1): the configured one, or for `auto`
/// the one that worked last time, else streamable HTTP with a fallback to SSE when the answer
/// is not streamable HTTP. Answers the result and the `initialize` result if one was made.
pub async fn exchange(
    services: Services<'_>,
    remote: &Remote,
    endpoint: &Endpoint,
    slot: Option<&SessionSlot<'_>>,
    method: &'static str,
    params: Value,
) -> Result<(Value, Option<Value>), McpError> {
    let (stored, last) = match slot {
        Some(slot) => slot.load(services.sql, &endpoint.url).await,
        None => (None, None),
    };
    let sse = |params: Value| async move {
        let (init, mut answers) =
            client::sse_exchange(services.http, endpoint, vec![SseRequest { method, params }])
                .await?;
        let answer = answers
            .pop()
            .unwrap_or_else(|| Err(McpError::Protocol("no answer".into())))?;
        Ok((answer, Some(init)))
    };
    match remote.transport.or(last) {
        Some(Transport::Sse) => sse(params).await,
        Some(Transport::StreamableHttp) if remote.transport.is_some() => {
            on_session(services, endpoint, slot, stored, method, &params).await
        }
        _ => match on_session(services, endpoint, slot, stored, method, &params).await {
            Err(e) if e.wrong_transport() => {
                let answer = sse(params).await?;
                if let Some(slot) = slot {
                    slot.store(services, &endpoint.url, Transport::Sse, None)
                        .await;
                }
                Ok(answer)
            }
            other => other,
        },
    }
}

// ---------------------------------------------------------------------------------------------
// Tools

/// A tool name as the catalog addresses it (§8.3.2): lowercase, runs of other characters ⇒ `_`,
/// `tool` when nothing is left.
pub fn tool_name(name: &str) -> String {
    slugify(name.trim(), "tool")
}

/// Operation rows `(name, data)` for an upstream tool list (§8.3.2), names de-duplicated with
/// `_2`, `_3`, ….
pub fn derive(tools: &[Value]) -> Vec<(String, Value)> {
    let mut out: Vec<(String, Value)> = Vec::new();
    // Names taken so far, and per base name the next suffix to try: a server listing one name
    // thousands of times must not make this quadratic (or cubic) in the list's length. Names
    // are only ever added, so resuming from the last suffix tried gives the same names as
    // counting from 2 each time.
    let mut taken: std::collections::BTreeSet<String> = std::collections::BTreeSet::new();
    let mut next_suffix: std::collections::BTreeMap<String, usize> =
        std::collections::BTreeMap::new();
    for tool in tools {
        let Some(original) = tool.get("name").and_then(Value::as_str) else {
            continue;
        };
        let base = tool_name(original);
        let mut name = base.clone();
        if taken.contains(&name) {
            let n = next_suffix.entry(base.clone()).or_insert(2);
            loop {
                name = format!("{base}_{n}");
                *n += 1;
                if !taken.contains(&name) {
                    break;
                }
            }
        }
        taken.insert(name.clone());
        let description = tool
            .get("description")
            .and_then(Value::as_str)
            .filter(|d| !d.trim().is_empty())
            .map(str::to_owned)
            .unwrap_or_else(|| format!("MCP tool: {original}"));
        let input = tool
            .get("inputSchema")
            .or_else(|| tool.get("parameters"))
            .filter(|s| s.is_object())
            .cloned()
            .unwrap_or_else(|| json!({"type": "object"}));
        let mut output = json!({"type": "object", "properties": {
            "content": {"type": "array", "items": {"type": "object"}},
            "isError": {"const": false}}, "required": ["content"]});
        if let Some(schema) = tool.get("outputSchema").filter(|s| s.is_object()) {
            output["properties"]["structuredContent"] = schema.clone();
            output["required"] = json!(["content", "structuredContent"]);
        }
        let upstream = tool.get("annotations").filter(|a| a.is_object());
        let destructive = upstream
            .and_then(|a| a.get("destructiveHint"))
            .and_then(Value::as_bool)
            == Some(true);
        let mut annotations = json!({"requiresApproval": destructive,
            "mcp": {"toolName": original}});
        if destructive {
            let title = tool
                .get("title")
                .or_else(|| upstream.and_then(|a| a.get("title")))
                .and_then(Value::as_str)
                .unwrap_or(original);
            annotations["approvalDescription"] = json!(title);
        }
        if let Some(upstream) = upstream {
            annotations["mcp"]["upstream"] = upstream.clone();
        }
        out.push((
            name,
            json!({"binding": {"toolName": original}, "description": description,
                "inputSchema": input, "outputSchema": output, "annotations": annotations}),
        ));
    }
    out
}

/// 64-bit FNV-1a, for telling tool lists apart.
fn fnv(text: &str) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in text.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{hash:016x}")
}

const INSERT_ROWS_SQL: &str = "INSERT INTO plugin_storage \
     (row_id, tenant, owner, subject, plugin_id, collection, key, data, created_at, updated_at) \
     SELECT lower(hex(randomblob(16))), ?1, 'org', '', 'mcp', ?2, \
       json_extract(value, '$[0]'), json_extract(value, '$[1]'), ?3, ?3 \
     FROM json_each(?4)";
const DISCARD_SQL: &str = "DELETE FROM plugin_storage WHERE tenant = ?1 AND owner = 'org' \
     AND subject = '' AND plugin_id = 'mcp' AND collection = ?2";
const SET_GENERATION_SQL: &str = "UPDATE integration SET config = ?3, updated_at = ?4 \
     WHERE tenant = ?1 AND slug = ?2 AND plugin_id = 'mcp' AND config IS ?5";

/// Largest JSON-array payload bound to one insert (D1 caps a statement's size).
const STATEMENT_PAYLOAD_BYTES: usize = 256 * 1024;

/// Makes `tools` the integration's current generation unless it already is (same hash); the
/// old generation's rows are deleted after the swap. Answers the collection to copy from.
async fn adopt(
    services: Services<'_>,
    tenant: &str,
    slug: &str,
    tools: &[Value],
) -> Result<Option<String>, McpStoreError> {
    let rows = derive(tools);
    let payloads: Vec<String> = rows
        .iter()
        .map(|(name, data)| json!([name, data.to_string()]).to_string())
        .collect();
    let hash = fnv(&payloads.concat());
    for _ in 0..3 {
        let Some(row) = load_row(services.sql, tenant, slug).await? else {
            return Ok(None);
        };
        let current = row.config.get("generation").and_then(Value::as_str);
        if let Some(generation) = current {
            if row.config.get("toolsHash").and_then(Value::as_str) == Some(hash.as_str()) {
                return Ok(Some(format!("op:{slug}:{generation}")));
            }
        }
        let now = services.clock.now_ms() as i64;
        let generation = format!("{now:x}{}", &crate::ids::uuid_v4()[..8]);
        let collection = format!("op:{slug}:{generation}");
        let mut statements = Vec::new();
        let mut chunk = String::new();
        for payload in &payloads {
            if !chunk.is_empty() && chunk.len() + payload.len() > STATEMENT_PAYLOAD_BYTES {
                statements.push(insert(tenant, &collection, now, &chunk));
                chunk.clear();
            }
            chunk.push(if chunk.is_empty() { '[' } else { ',' });
            chunk.push_str(payload);
        }
        if !chunk.is_empty() {
            statements.push(insert(tenant, &collection, now, &chunk));
        }
        let mut next = row.config.clone();
        next["generation"] = json!(generation);
        next["toolsHash"] = json!(hash);
        statements.push(Statement::new(
            SET_GENERATION_SQL,
            vec![
                tenant.into(),
                slug.into(),
                next.to_string().into(),
                now.into(),
                row.text.clone().into(),
            ],
        ));
        services.sql.batch(statements).await?;
        let swapped = load_row(services.sql, tenant, slug)
            .await?
            .is_some_and(|r| {
                r.config.get("generation").and_then(Value::as_str) == Some(generation.as_str())
            });
        let stale = if swapped {
            current.map(|g| format!("op:{slug}:{g}"))
        } else {
            Some(collection.clone())
        };
        if let Some(stale) = stale {
            let _ = services
                .sql
                .execute(Statement::new(
                    DISCARD_SQL,
                    vec![tenant.into(), stale.into()],
                ))
                .await;
        }
        if swapped {
            return Ok(Some(collection));
        }
    }
    Err(McpStoreError::Internal(format!(
        "tools of {slug} kept changing under a concurrent writer"
    )))
}

fn insert(tenant: &str, collection: &str, now: i64, chunk: &str) -> Statement {
    Statement::new(
        INSERT_ROWS_SQL,
        vec![
            tenant.into(),
            collection.into(),
            now.into(),
            format!("{chunk}]").into(),
        ],
    )
}

/// Per-connection tool production (§8.3.2, §8.7): lists the server's tools with this
/// connection's auth (reusing or storing its upstream session), makes the list the
/// integration's generation and copies it into the connection's `tool` rows. A server that
/// cannot be reached, a stdio server, or `usable = false` leaves the connection with zero tools.
#[allow(clippy::too_many_arguments)]
pub async fn produce_tools(
    services: Services<'_>,
    partition: &Partition,
    integration: &str,
    connection: &str,
    template: &str,
    usable: bool,
    credentials: &BTreeMap<String, Option<SecretValue>>,
) -> Result<(), McpStoreError> {
    let tenant = partition.tenant.as_str();
    let mut collection = None;
    let remote = match load_row(services.sql, tenant, integration).await? {
        Some(row) if usable => Remote::of(&row.config),
        _ => None,
    };
    if let Some(remote) = remote {
        let endpoint = remote.endpoint(
            template,
            credentials,
            (integration, connection),
            DISCOVERY_TIMEOUT_MS,
            services.config.allow_local_network,
        );
        match endpoint {
            Ok(endpoint) => {
                let slot = SessionSlot {
                    partition,
                    integration,
                    connection,
                };
                let listed = exchange(
                    services,
                    &remote,
                    &endpoint,
                    Some(&slot),
                    "tools/list",
                    json!({}),
                )
                .await;
                match listed {
                    Ok((mut result, _)) => {
                        let mut tools = Vec::new();
                        client::take_page(&mut result, &mut tools);
                        collection = adopt(services, tenant, integration, &tools).await?;
                    }
                    Err(e) => crate::logging::info(&format!(
                        "mcp: listing the tools of {integration} failed: {}",
                        e.describe()
                    )),
                }
            }
            Err(_) => crate::logging::info(&format!(
                "mcp: connection {connection} of {integration} lacks a credential"
            )),
        }
    }
    let now = services.clock.now_ms() as i64;
    crate::plugins::produce::replace_connection_tools(
        services.sql,
        now,
        partition,
        integration,
        connection,
        PLUGIN_ID,
        collection,
    )
    .await?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Calls

fn failure(code: &str, message: String) -> Value {
    json!({"ok": false, "error": {"code": code, "message": message}})
}

/// Maps a failed exchange to a ToolResult.
pub fn error_result(error: &McpError, source: (&str, &str)) -> Value {
    match error {
        McpError::Auth { status, .. } => {
            let message = format!(
                "The MCP server rejected the credentials of connection \"{}\" for \"{}\" with \
                 HTTP {status}. Re-authenticate or update the connection, then retry this tool.",
                source.1, source.0
            );
            let mut value = gql::auth_failure(
                source,
                "connection_rejected",
                message,
                json!({"kind": "upstream", "label": "MCP server authorization"}),
            );
            value["error"]["status"] = json!(status);
            value
        }
        McpError::Fetch(e) => {
            let code = match e {
                crate::net::http::FetchError::Blocked(b) => b.code(),
                _ => "mcp_connection_failed",
            };
            let mut value = failure(code, format!("Could not reach the MCP server: {e}"));
            value["error"]["retryable"] =
                json!(!matches!(e, crate::net::http::FetchError::Blocked(_)));
            value
        }
        McpError::Rpc { code, message } => {
            let mut value = failure(
                "mcp_rpc_error",
                format!("The MCP server answered an error: {message}"),
            );
            value["error"]["details"] = json!({ "rpcCode": code });
            value
        }
        McpError::SessionExpired => failure(
            "mcp_session_lost",
            "The MCP server ended the session again right after it was renewed.".into(),
        ),
        other => failure("mcp_protocol_error", other.describe()),
    }
}

/// Maps a `tools/call` result (§8.3.3): `isError` ⇒ `mcp_tool_error` with the first text;
/// else `{ok: true, data: <CallToolResult>}`.
pub fn call_result(result: Value) -> Value {
    if result.get("isError").and_then(Value::as_bool) == Some(true) {
        let content = result.get("content").cloned().unwrap_or(json!([]));
        let message = content
            .as_array()
            .and_then(|items| {
                items
                    .iter()
                    .find_map(|i| i.get("text").and_then(Value::as_str))
            })
            .unwrap_or("MCP tool returned an error")
            .chars()
            .take(1024)
            .collect::<String>();
        return json!({"ok": false, "error": {"code": "mcp_tool_error", "message": message,
            "details": {"content": content}}});
    }
    json!({"ok": true, "data": result})
}

/// One tool call (§8.3.3) over the connection's upstream session. Credential values are
/// scrubbed from everything returned.
#[allow(clippy::too_many_arguments)]
pub async fn call_tool(
    services: Services<'_>,
    slot: &SessionSlot<'_>,
    config: &Value,
    template: &str,
    credentials: &BTreeMap<String, Option<SecretValue>>,
    tool: &str,
    args: Option<Value>,
) -> Value {
    let source = (slot.integration, slot.connection);
    let Some(remote) = Remote::of(config) else {
        return failure(
            "mcp_connection_failed",
            "This MCP server runs over stdio, which cannot be reached from this host.".into(),
        );
    };
    let arguments = match args {
        None | Some(Value::Null) => json!({}),
        Some(Value::Object(m)) => Value::Object(m),
        Some(_) => {
            return failure(
                "invalid_tool_arguments",
                format!("Invalid arguments for MCP tool {tool}: expected an object"),
            )
        }
    };
    let endpoint = match remote.endpoint(
        template,
        credentials,
        source,
        services.config.execute_timeout_ms,
        services.config.allow_local_network,
    ) {
        Ok(endpoint) => endpoint,
        Err(failure) => return failure,
    };
    let params = json!({"name": tool, "arguments": arguments});
    let mut value = match exchange(
        services,
        &remote,
        &endpoint,
        Some(slot),
        "tools/call",
        params,
    )
    .await
    {
        Ok((result, _)) => call_result(result),
        Err(e) => error_result(&e, source),
    };
    let secrets: Vec<String> = credentials
        .values()
        .flatten()
        .map(|s| s.expose().trim().to_owned())
        .filter(|s| s.chars().count() >= crate::plugins::openapi::invoke::MIN_SCRUBBED_LEN)
        .collect();
    gql::scrub(&mut value, &secrets);
    value
}

// ---------------------------------------------------------------------------------------------
// Probe and detection

fn host_of(url: &str) -> String {
    crate::net::parse_url(url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_else(|| "mcp".into())
}

/// `POST /mcp/probe` (§8.3.4, without the OAuth metadata probe, which belongs to the OAuth
/// module): a full unauthenticated discovery; else the shape of the failure.
pub async fn probe(services: Services<'_>, body: &Value) -> Result<Value, McpStoreError> {
    let endpoint = text(body, "endpoint")?
        .ok_or_else(|| McpStoreError::Invalid("`endpoint` is required".into()))?
        .to_owned();
    check_endpoint(&endpoint)?;
    let config = json!({"endpoint": endpoint,
        "headers": object(body, "headers")?.cloned().unwrap_or_default(),
        "queryParams": object(body, "queryParams")?.cloned().unwrap_or_default()});
    let remote =
        Remote::of(&config).ok_or_else(|| McpStoreError::Invalid("bad endpoint".into()))?;
    let target = remote
        .endpoint(
            "",
            &BTreeMap::new(),
            ("", ""),
            DISCOVERY_TIMEOUT_MS,
            services.config.allow_local_network,
        )
        .map_err(|_| McpStoreError::Invalid("bad endpoint".into()))?;
    let host = host_of(&endpoint);
    let slug = slugify(&host, "mcp");
    let mut answer = json!({"connected": false, "requiresAuthentication": false,
        "requiresOAuth": false, "supportsDynamicRegistration": false, "name": host,
        "slug": slug, "toolCount": null, "serverName": null, "instructions": null});
    match exchange(services, &remote, &target, None, "tools/list", json!({})).await {
        Ok((mut result, init)) => {
            let mut tools = Vec::new();
            client::take_page(&mut result, &mut tools);
            let init = init.unwrap_or(Value::Null);
            let server = init
                .pointer("/serverInfo/name")
                .and_then(Value::as_str)
                .filter(|n| !n.is_empty());
            answer["connected"] = json!(true);
            answer["toolCount"] = json!(tools.len());
            answer["serverName"] = json!(server);
            answer["instructions"] = init.get("instructions").cloned().unwrap_or(Value::Null);
            if let Some(server) = server {
                answer["name"] = json!(server);
            }
            Ok(answer)
        }
        Err(McpError::Auth { bearer, .. }) => {
            answer["requiresAuthentication"] = json!(true);
            // The OAuth module's metadata probe refines this (RFC 9728); a Bearer challenge
            // is the signal we have here.
            answer["requiresOAuth"] = json!(bearer);
            Ok(answer)
        }
        Err(McpError::Fetch(_)) => Err(McpStoreError::Connection(format!(
            "Could not reach {host}: check the URL and that the server is up."
        ))),
        Err(_) => Err(McpStoreError::Connection(
            "The URL does not appear to host an MCP server.".into(),
        )),
    }
}

/// Whether a URL's host or path has `mcp` as a separated token.
fn has_mcp_token(url: &url::Url) -> bool {
    let host = url.host_str().unwrap_or_default();
    [host, url.path()]
        .iter()
        .flat_map(|part| part.split(|c: char| !c.is_ascii_alphanumeric()))
        .any(|token| token.eq_ignore_ascii_case("mcp"))
}

/// The MCP detector (§8.6): an `initialize` answered (or a Bearer-challenged 401) ⇒ high; an
/// `mcp` token in the host or path ⇒ low; else nothing.
pub async fn detect(services: Services<'_>, url: &str) -> Option<Detection> {
    let parsed = crate::net::parse_url(url).ok()?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return None;
    }
    let endpoint = Endpoint {
        url: url.to_owned(),
        headers: Vec::new(),
        timeout_ms: DISCOVERY_TIMEOUT_MS,
        allow_local_network: services.config.allow_local_network,
    };
    let confidence = match client::initialize(services.http, &endpoint).await {
        Ok(_) | Err(McpError::Auth { bearer: true, .. }) => Confidence::High,
        Err(_) if has_mcp_token(&parsed) => Confidence::Low,
        Err(_) => return None,
    };
    let host = parsed.host_str().unwrap_or("mcp").to_owned();
    Some(Detection {
        kind: PLUGIN_ID,
        confidence,
        endpoint: url.to_owned(),
        slug: slugify(&host, "mcp"),
        name: host,
    })
}

// ---------------------------------------------------------------------------------------------
// Catalog hooks

/// `authMethods` of an MCP integration (§3.2): oauth2 ⇒ `{label: "OAuth", kind: "oauth",
/// oauth: {discoveryUrl: <endpoint>, supportsDynamicRegistration: true}}`; apikey and none as
/// for GraphQL.
pub fn auth_method_values(config: Option<&Value>) -> Vec<Value> {
    let endpoint = config
        .and_then(|c| c.get("endpoint"))
        .cloned()
        .unwrap_or(Value::Null);
    crate::plugins::graphql::store::auth_method_values(config)
        .into_iter()
        .map(|mut m| {
            if m.get("kind").and_then(Value::as_str) == Some("oauth") {
                m["oauth"] = json!({"discoveryUrl": endpoint, "supportsDynamicRegistration": true});
            }
            m
        })
        .collect()
}

const CLEANUP_SQL: &str = "DELETE FROM plugin_storage WHERE tenant = ?1 AND plugin_id = 'mcp' \
     AND ((owner = 'org' AND subject = '' AND collection >= ?2 AND collection < ?3) \
       OR (collection = 'session' AND key >= ?4 AND key < ?5))";

/// Deletes every generation and every stored upstream session of `slug` (for the removal batch
/// of `DELETE /integrations/:slug`).
pub fn cleanup_statement(tenant: &str, slug: &str) -> Statement {
    Statement::new(
        CLEANUP_SQL,
        vec![
            tenant.into(),
            format!("op:{slug}:").into(),
            format!("op:{slug};").into(),
            format!("{slug}.").into(),
            format!("{slug}/").into(),
        ],
    )
}
