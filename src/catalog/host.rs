//! [`CatalogHost`]: the sandbox's `tools` proxy backed by the caller's catalog
//! (executor-behaviour.md §7.3, §8.10, §9).
//!
//! One host serves one run. It loads lazily and at most once per run: the policy set (one
//! query) and the search index (the stale-connection refresh, then a one-row fingerprint query,
//! plus the tool rows when the isolate holds no index for that fingerprint — see `cache`),
//! the two side by side. Then, per call:
//!
//! - `tools.search`: the index only (no query once loaded);
//! - `tools.describe.tool`: one query (tool row + the `$defs` its operation lists); an unknown
//!   path also loads the index, for suggestions;
//! - `tools.executor.sources.list`: the integration list (one query) next to the index;
//! - a tool call: one query for the tool, its connection's template, the integration config,
//!   the operation binding and the `$defs` closure (overlapped with the policy load), then
//!   credential resolution, then the invoker.

use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;

use serde::Serialize;
use serde_json::Value;

use super::address::{DynamicAddress, ToolAddress};
use super::builtin::{self, StaticTool};
use super::cache::IndexCache;
use super::concurrent::{join, AsyncOnce};
use super::core_tools::{self, CoreContext};
use super::listing::refresh_before_reading;
use super::seams::{self, Action, Decision, InvokeOutcome, OpenApiCall, PolicySet};
use super::store::{self, CallRow, CatalogError, RowFilter};
use crate::app::Services;
use crate::audit::{self, Decision as Audited};
use crate::auth::Principal;
use crate::connections::service::resolve_credentials;
use crate::connections::{ConnectionError, ConnectionKey};
use crate::crypto::SecretValue;
use crate::integrations;
use crate::logging;
use crate::plugins::graphql;
use crate::plugins::mcp_remote;
use crate::plugins::openapi::store::OpenApiConfig;
use crate::plugins::openapi::OperationBinding;
use crate::providers::encrypted;
use crate::sandbox::{HostReply, PauseRequest, ToolHost};
use crate::tools::{
    describe_args, describe_builtin, describe_tool, normalize, not_found, search_all, suggestions,
    DescribeResult, SearchIndex, SearchPage, SearchRequest, ToolEntry, ToolSchemas,
};

/// The sandbox host of one run for one caller.
pub struct CatalogHost<'a> {
    services: Services<'a>,
    principal: &'a Principal,
    cache: Rc<IndexCache>,
    policies: AsyncOnce<Rc<PolicySet>>,
    index: AsyncOnce<Rc<SearchIndex>>,
    /// The origin the run's request arrived at (built-in tools' hand-off links).
    web_origin: Option<String>,
    /// One audit entry per tool call of this run (see [`CatalogHost::take_audit`]).
    audit: audit::Recorder,
}

/// The isolate's index cache. Host unit tests run unrelated databases on shared threads, so
/// there every host starts with its own (tests of the cache pass one explicitly).
fn default_cache() -> Rc<IndexCache> {
    if cfg!(test) {
        Rc::new(IndexCache::default())
    } else {
        IndexCache::isolate()
    }
}

impl<'a> CatalogHost<'a> {
    pub fn new(services: Services<'a>, principal: &'a Principal) -> Self {
        Self::with_cache(services, principal, default_cache())
    }

    /// A host that keeps search indexes in `cache`.
    pub(crate) fn with_cache(
        services: Services<'a>,
        principal: &'a Principal,
        cache: Rc<IndexCache>,
    ) -> Self {
        CatalogHost {
            services,
            principal,
            cache,
            policies: AsyncOnce::default(),
            index: AsyncOnce::default(),
            web_origin: None,
            audit: audit::Recorder::default(),
        }
    }

    /// Records the origin the run's request arrived at (`scheme://host[:port]`).
    pub fn with_web_origin(mut self, origin: Option<&str>) -> Self {
        self.web_origin = origin.map(str::to_owned);
        self
    }

    /// The audit entries of the tool calls made so far (search, describe and
    /// `executor.sources.list` are catalog reads and are not recorded). A paused call is noted
    /// with decision `approval_required` and outcome `pending`; the executions service decides
    /// which of those it keeps.
    pub fn take_audit(&self) -> Vec<audit::Entry> {
        self.audit.take()
    }

    async fn policies(&self) -> Result<Rc<PolicySet>, CatalogError> {
        self.policies
            .get_or_try_init(|| async {
                Ok(Rc::new(
                    seams::load_policies(self.services.sql, self.principal).await?,
                ))
            })
            .await
    }

    /// The search index of every visible tool (connection tools, then built-ins), blocked ones
    /// included: policies apply per run, at query time. Reused from the isolate cache while the
    /// caller's tool rows are unchanged.
    async fn index(&self) -> Result<Rc<SearchIndex>, CatalogError> {
        self.index
            .get_or_try_init(|| async {
                let (tenant, subject) = (self.principal.tenant(), self.principal.subject());
                let (mut fingerprint, mut policies) =
                    store::fingerprint(self.services.sql, self.principal).await?;
                if fingerprint.stale > 0.0 {
                    refresh_before_reading(self.services, self.principal).await;
                    (fingerprint, policies) =
                        store::fingerprint(self.services.sql, self.principal).await?;
                }
                // The same round trip brought the policies: keep them for this run unless a
                // concurrent load got there first.
                let _ = self
                    .policies
                    .get_or_try_init(|| async { Ok::<_, CatalogError>(Rc::new(policies)) })
                    .await;
                if let Some(index) = self.cache.get(tenant, subject, &fingerprint) {
                    return Ok(index);
                }
                let rows =
                    store::visible_tools(self.services.sql, self.principal, &RowFilter::default())
                        .await?;
                let mut entries = Vec::with_capacity(rows.len() + builtin::STATIC_TOOLS.len());
                for row in rows {
                    entries.push(ToolEntry {
                        path: row.target_id(),
                        description: Some(row.description).filter(|d| !d.is_empty()),
                        name: row.name,
                        integration: row.integration,
                    });
                }
                entries.extend(builtin::STATIC_TOOLS.iter().map(|tool| ToolEntry {
                    path: tool.address(),
                    name: tool.name.to_owned(),
                    description: Some(tool.description.to_owned()),
                    integration: builtin::INTEGRATION.to_owned(),
                }));
                let index = Rc::new(SearchIndex::new(entries));
                self.cache.put(tenant, subject, fingerprint, index.clone());
                Ok::<_, CatalogError>(index)
            })
            .await
    }

    /// The index and the policies: loading the index brings the policies in the same query.
    async fn visible(&self) -> Result<(Rc<SearchIndex>, Rc<PolicySet>), CatalogError> {
        let index = self.index().await?;
        Ok((index, self.policies().await?))
    }

    async fn search(&self, args: Option<Value>) -> HostReply {
        let request = match SearchRequest::from_args(&args.unwrap_or(Value::Null)) {
            Ok(request) => request,
            Err(e) => return HostReply::Reject(e.to_string()),
        };
        let has_tokens = |text: &str| normalize(text).chars().any(char::is_alphanumeric);
        if !has_tokens(&request.query) && !request.namespace.as_deref().is_some_and(has_tokens) {
            return json_reply(&SearchPage::empty());
        }
        match self.visible().await {
            Ok((index, policies)) => json_reply(&search_all(&[&index], &request, |path| {
                is_blocked(&policies, path)
            })),
            Err(e) => internal("tools.search", &e.to_string()),
        }
    }

    async fn describe(&self, args: Option<Value>) -> HostReply {
        let path = match describe_args(&args.unwrap_or(Value::Null)) {
            Ok(path) => path,
            Err(e) => return HostReply::Reject(e.to_string()),
        };
        if let Some(builtin) = describe_builtin(&path) {
            return HostReply::Json(builtin.to_json_string());
        }
        let result = match ToolAddress::from_sandbox_path(&path) {
            ToolAddress::Static(id) => match builtin::find(&id) {
                Some(tool) => describe_static(tool),
                None => self.describe_not_found(&path).await,
            },
            ToolAddress::Dynamic(address) => {
                match store::tool_schema(self.services.sql, self.principal, &address).await {
                    Ok(Some(row)) => describe_tool(&ToolSchemas {
                        path: &address.target_id(),
                        name: &row.name,
                        description: Some(row.description.as_str()).filter(|d| !d.is_empty()),
                        input_schema: row.input_schema.as_ref(),
                        output_schema: row.output_schema.as_ref(),
                        defs: &row.defs,
                    }),
                    Ok(None) => self.describe_not_found(&path).await,
                    Err(e) => return internal("tools.describe.tool", &e.to_string()),
                }
            }
        };
        HostReply::Json(result.to_json_string())
    }

    async fn describe_not_found(&self, path: &str) -> DescribeResult {
        not_found(path, self.suggest(path).await)
    }

    /// Up to five visible tools close to `path`; none when the catalog cannot be loaded.
    async fn suggest(&self, path: &str) -> Vec<String> {
        match self.visible().await {
            Ok((index, policies)) => suggestions(&[&index], path, |p| is_blocked(&policies, p)),
            Err(e) => {
                logging::warn(&format!("catalog: no suggestions for {path}: {e}"));
                Vec::new()
            }
        }
    }

    async fn sources_list(&self, args: Option<Value>) -> HostReply {
        let request = match SourcesRequest::from_args(args.unwrap_or(Value::Null)) {
            Ok(request) => request,
            Err(message) => return HostReply::Reject(message),
        };
        let (list, visible) = join(
            integrations::list(self.services.sql, self.principal.tenant()),
            self.visible(),
        )
        .await;
        let (list, (index, policies)) = match (list, visible) {
            (Ok(list), Ok(visible)) => (list, visible),
            (Err(e), _) => return internal("tools.executor.sources.list", &e.to_string()),
            (_, Err(e)) => return internal("tools.executor.sources.list", &e.to_string()),
        };
        let mut counts: HashMap<&str, usize> = HashMap::new();
        for entry in index.entries() {
            if !is_blocked(&policies, &entry.path) {
                *counts.entry(entry.integration.as_str()).or_default() += 1;
            }
        }
        let words: Vec<String> = request
            .query
            .as_deref()
            .unwrap_or_default()
            .to_lowercase()
            .split_whitespace()
            .map(str::to_owned)
            .collect();
        let mut items: Vec<SourceItem> = list
            .into_iter()
            .filter(|i| {
                let haystack = format!("{} {} {}", i.slug, i.description, i.kind).to_lowercase();
                words.iter().all(|w| haystack.contains(w.as_str()))
            })
            .map(|i| {
                let repeats = |d: &str| {
                    d.trim().is_empty()
                        || d.trim().eq_ignore_ascii_case(&i.slug)
                        || d.trim().eq_ignore_ascii_case(&i.name)
                };
                SourceItem {
                    tool_count: counts.get(i.slug.as_str()).copied().unwrap_or(0),
                    description: Some(i.description.clone()).filter(|d| !repeats(d)),
                    id: i.slug,
                    name: i.name,
                    kind: i.kind,
                    can_remove: i.can_remove,
                    can_refresh: i.can_refresh,
                }
            })
            .collect();
        crate::sort::sort_by(&mut items, |a, b| {
            a.name.cmp(&b.name).then_with(|| a.id.cmp(&b.id))
        });
        let total = items.len();
        let start = request.offset.min(total);
        let end = start.saturating_add(request.limit).min(total);
        let has_more = end < total;
        json_reply(&SourcesPage {
            items: items.drain(start..end).collect(),
            total,
            has_more,
            next_offset: has_more.then_some(end),
        })
    }

    /// One tool call, timed and noted for the audit log.
    async fn call_tool(&self, path: &str, args: Option<Value>, gate: Gate) -> HostReply {
        let start = self.services.clock.now_ms();
        let (reply, decision, address, integration, connection) =
            match ToolAddress::from_sandbox_path(path) {
                ToolAddress::Static(id) => {
                    let (reply, decision) = self.call_static(&id, args, gate).await;
                    match builtin::find(&id) {
                        Some(tool) => (
                            reply,
                            decision,
                            tool.address(),
                            Some(builtin::INTEGRATION.to_owned()),
                            None,
                        ),
                        None => (reply, decision, id, None, None),
                    }
                }
                ToolAddress::Dynamic(address) => {
                    let (reply, decision) = self.call_dynamic(&address, args, gate).await;
                    let connection = format!("{}.{}", address.owner.as_str(), address.connection);
                    (
                        reply,
                        decision,
                        address.address(),
                        Some(address.integration),
                        Some(connection),
                    )
                }
            };
        let mut entry = audit::Entry::new(&address, decision, start, self.services.clock.now_ms());
        entry.integration = integration;
        entry.connection = connection;
        (entry.outcome, entry.http_status) = match &reply {
            HostReply::Resolve(value) => audit::outcome_of_value(value),
            HostReply::Json(text) => audit::outcome_of_text(text),
            HostReply::Reject(_) => (audit::OUTCOME_INTERNAL.to_owned(), None),
            HostReply::Pause(_) => (audit::OUTCOME_PENDING.to_owned(), None),
        };
        self.audit.record(entry);
        reply
    }

    /// Runs one call the user approved after it paused: the approval gate is skipped for this
    /// call only. Everything else is checked again (the tool must still exist, its arguments
    /// must still be valid, and a policy that now blocks it still wins).
    pub async fn call_approved(&self, path: &str, args: Option<Value>) -> HostReply {
        match path {
            "search" | "describe.tool" | "executor.sources.list" => self.call(path, args).await,
            _ => self.call_tool(path, args, Gate::Approved).await,
        }
    }

    /// A built-in tool: policy (block), then the argument check, then the approval gate (a
    /// pause, unless this call was approved), then `core_tools` runs it. Tools this build only
    /// lists answer `tool_unavailable`.
    async fn call_static(&self, id: &str, args: Option<Value>, gate: Gate) -> (HostReply, Audited) {
        let Some(tool) = builtin::find(id) else {
            return (self.tool_not_found(id).await, Audited::Allowed);
        };
        let address = tool.address();
        let policies = match self.policies().await {
            Ok(policies) => policies,
            Err(e) => return (internal(&address, &e.to_string()), Audited::Allowed),
        };
        let decision = policies.resolve(&address, tool.requires_approval);
        if matches!(decision.action, Action::Block) {
            return (blocked(&address, &address, &decision), Audited::Blocked);
        }
        let audited = audited(decision.action, gate);
        let Some(core) = core_tools::runnable(tool) else {
            return (HostReply::Json(core_tools::unavailable(&address)), audited);
        };
        let args = match core.check(&address, args) {
            Ok(args) => args,
            Err(invalid) => return (HostReply::Json(invalid), audited),
        };
        // The approval gate for built-in tools: stop here until the user decides.
        if matches!(decision.action, Action::RequireApproval) && gate == Gate::Ask {
            let message = approval_message(
                &address,
                tool.approval_description,
                decision.matched_pattern.as_deref(),
                Some(&args),
            );
            return (
                HostReply::Pause(PauseRequest { address, message }),
                Audited::ApprovalRequired,
            );
        }
        let context = CoreContext {
            services: self.services,
            principal: self.principal,
            web_base_url: core_tools::web_base_url(
                self.services.config.public_site_url.as_deref(),
                self.web_origin.as_deref(),
            ),
        };
        let reply = match core.run(&context, args).await {
            Ok(result) => HostReply::Json(result),
            Err(cause) => internal(&address, &cause),
        };
        (reply, audited)
    }

    async fn call_dynamic(
        &self,
        address: &DynamicAddress,
        args: Option<Value>,
        gate: Gate,
    ) -> (HostReply, Audited) {
        let target = address.target_id();
        let (row, policies) = join(
            store::tool_call(self.services.sql, self.principal, address),
            self.policies(),
        )
        .await;
        let row = match row {
            Ok(Some(row)) => row,
            Ok(None) => return (self.tool_not_found(&target).await, Audited::Allowed),
            Err(e) => return (internal(&target, &e.to_string()), Audited::Allowed),
        };
        let policies = match policies {
            Ok(policies) => policies,
            Err(e) => return (internal(&target, &e.to_string()), Audited::Allowed),
        };
        let decision = policies.resolve(&target, row.annotations.requires_approval == Some(true));
        let audited = audited(decision.action, gate);
        let reply = match (decision.action, gate) {
            (Action::Block, _) => blocked(&address.address(), &target, &decision),
            // Stops here until the user decides; the execution resumes with their answer.
            (Action::RequireApproval, Gate::Ask) => {
                let address = address.address();
                let message = approval_message(
                    &address,
                    row.annotations.approval_description.as_deref(),
                    decision.matched_pattern.as_deref(),
                    args.as_ref(),
                );
                HostReply::Pause(PauseRequest { address, message })
            }
            (Action::RequireApproval, Gate::Approved) | (Action::Approve, _) => {
                match self.run(address, row, args).await {
                    Ok(InvokeOutcome::Result(value)) => HostReply::Resolve(value),
                    Ok(InvokeOutcome::Internal { cause }) | Err(cause) => internal(&target, &cause),
                }
            }
        };
        (reply, audited)
    }

    /// Resolves the credentials and auth template of an approved call and invokes it.
    async fn run(
        &self,
        address: &DynamicAddress,
        row: CallRow,
        args: Option<Value>,
    ) -> Result<InvokeOutcome, String> {
        if row.plugin_id == graphql::store::PLUGIN_ID {
            return self.run_graphql(address, row, args).await;
        }
        if row.plugin_id == mcp_remote::store::PLUGIN_ID {
            return self.run_mcp(address, row, args).await;
        }
        // Google bundles are stored as OpenAPI documents and invoked the same way.
        if row.plugin_id != "openapi" && row.plugin_id != crate::plugins::google::store::PLUGIN_ID {
            return Err(format!("no invoker for plugin `{}`", row.plugin_id));
        }
        let binding: OperationBinding = match row.binding.as_deref() {
            Some(text) => OperationBinding::from_json_text(text)
                .map_err(|e| format!("stored operation binding: {e}"))?,
            None => {
                return Err(
                    "the integration's current generation has no operation row for this tool"
                        .into(),
                )
            }
        };
        let config = match row.config.as_deref() {
            Some(text) => {
                OpenApiConfig::parse(text).map_err(|e| format!("stored integration config: {e}"))?
            }
            None => OpenApiConfig::default(),
        };
        let credentials = match self.credentials(address, &row).await? {
            Ok(credentials) => credentials,
            Err(result) => return Ok(InvokeOutcome::Result(result)),
        };
        let auth = config.auth_template(&row.template);
        if auth.is_none() && credentials.values().any(Option::is_some) {
            return Err(format!(
                "connection template `{}` is not among the integration's auth methods",
                row.template
            ));
        }
        let none = BTreeMap::new();
        let headers = config.headers.as_ref().unwrap_or(&none);
        let query_params = config.query_params.as_ref().unwrap_or(&none);
        let call = OpenApiCall {
            integration: &address.integration,
            connection: &address.connection,
            binding: &binding,
            input_schema: row.input_schema.as_ref(),
            defs: &row.defs,
            base_url: config.base_url.as_deref(),
            headers,
            query_params,
            auth,
            credentials: &credentials,
            timeout_ms: self.services.config.execute_timeout_ms,
            allow_local_network: self.services.config.allow_local_network,
        };
        Ok(seams::invoke(self.services.http, &call, args).await)
    }

    /// The connection's credential values: the `encrypted` provider's items came with the tool
    /// row; other providers resolve separately; an OAuth token due for refresh is refreshed
    /// first (`Ok(Err(result))`: the call's ToolResult, e.g. `oauth_reauth_required`). Errors
    /// never carry a value.
    async fn credentials(
        &self,
        address: &DynamicAddress,
        row: &CallRow,
    ) -> Result<Result<BTreeMap<String, Option<SecretValue>>, Value>, String> {
        if row.oauth_client.is_some() {
            let now = self.services.clock.now_ms() as i64;
            if row.oauth_reauth_required || crate::oauth::refresh::due(row.expires_at, now) {
                return self.oauth_credentials(address).await;
            }
        }
        let key = ConnectionKey {
            owner: address.owner,
            integration: address.integration.clone(),
            name: address.connection.clone(),
        };
        // The `encrypted` provider's items came with the tool row; others resolve separately.
        let credentials = match (&row.sealed, row.provider.as_str()) {
            (Some(sealed), encrypted::PROVIDER_KEY) => {
                encrypted::open_sealed_items(self.services.keyring, sealed)
                    .map_err(|e| format!("credentials: {e}"))?
            }
            _ => resolve_credentials(self.services, self.principal, &key)
                .await
                .map_err(|e| match e {
                    // Never a value: the variants carry names and store messages only.
                    ConnectionError::Internal(cause) => format!("credentials: {cause}"),
                    other => format!("credentials: {other:?}"),
                })?,
        };
        Ok(Ok(credentials))
    }

    /// An OAuth connection's token after a refresh (§3.8), or the ToolResult that explains why
    /// there is none.
    async fn oauth_credentials(
        &self,
        address: &DynamicAddress,
    ) -> Result<Result<BTreeMap<String, Option<SecretValue>>, Value>, String> {
        use crate::oauth::refresh::{fresh_token, RefreshError};
        let partition = crate::owner::Partition::of(self.principal, address.owner)
            .map_err(|_| "credentials: no subject for a user connection".to_string())?;
        let failure = |code: &str, message: String| {
            serde_json::json!({"ok": false, "error": {
                "code": code,
                "message": message,
                "details": {
                    "integration": address.integration,
                    "owner": address.owner,
                    "connection": address.connection,
                    "recovery": {
                        "startOAuthTool": "executor.coreTools.oauth.start",
                        "listConnectionsTool": "executor.coreTools.connections.list",
                        "oauthInstructions": "Call startOAuthTool for this connection (same owner, integration, name and template) and give the user the returned authorizationUrl; retry the tool once they have signed in.",
                    },
                },
            }})
        };
        match fresh_token(
            self.services,
            &partition,
            &address.integration,
            &address.connection,
        )
        .await
        {
            Ok(token) => Ok(Ok(BTreeMap::from([(
                crate::connections::name::DEFAULT_VARIABLE.to_string(),
                token,
            )]))),
            Err(RefreshError::ReauthRequired { reason }) => Ok(Err(failure(
                "oauth_reauth_required",
                format!(
                    "Connection \"{}\" for \"{}\" must be signed in again: {reason}.",
                    address.connection, address.integration
                ),
            ))),
            Err(RefreshError::Failed { reason }) => Ok(Err(failure(
                "oauth_refresh_failed",
                format!(
                    "The OAuth token of connection \"{}\" for \"{}\" could not be refreshed: {reason}",
                    address.connection, address.integration
                ),
            ))),
            Err(RefreshError::Internal(cause)) => Err(format!("oauth refresh: {cause}")),
        }
    }

    /// A GraphQL tool call (§8.2): binding and config from the row, then the GraphQL invoker.
    async fn run_graphql(
        &self,
        address: &DynamicAddress,
        row: CallRow,
        args: Option<Value>,
    ) -> Result<InvokeOutcome, String> {
        let binding: graphql::GraphqlBinding = match row.binding.as_deref() {
            Some(text) => graphql::GraphqlBinding::from_json_text(text)
                .map_err(|e| format!("stored graphql binding: {e}"))?,
            None => {
                return Err(
                    "the integration's current generation has no operation row for this tool"
                        .into(),
                )
            }
        };
        let config = graphql::store::GraphqlConfig::parse(row.config.as_deref().unwrap_or("{}"))
            .map_err(|e| format!("stored integration config: {e}"))?;
        let credentials = match self.credentials(address, &row).await? {
            Ok(credentials) => credentials,
            Err(result) => return Ok(InvokeOutcome::Result(result)),
        };
        let auth = config.auth(&row.template);
        if auth.is_none() && credentials.values().any(Option::is_some) {
            return Err(format!(
                "connection template `{}` is not among the integration's auth methods",
                row.template
            ));
        }
        let none = BTreeMap::new();
        let call = graphql::invoke::GraphqlCall {
            integration: &address.integration,
            connection: &address.connection,
            endpoint: &config.endpoint,
            binding: &binding,
            input_schema: row.input_schema.as_ref(),
            defs: &row.defs,
            headers: config.headers.as_ref().unwrap_or(&none),
            query_params: config.query_params.as_ref().unwrap_or(&none),
            auth,
            credentials: &credentials,
            timeout_ms: self.services.config.execute_timeout_ms,
            allow_local_network: self.services.config.allow_local_network,
        };
        Ok(graphql::invoke::invoke(self.services.http, &call, args).await)
    }

    /// A remote MCP tool call (§8.3.3): the upstream tool name from the binding, then
    /// `tools/call` on the connection's upstream session.
    async fn run_mcp(
        &self,
        address: &DynamicAddress,
        row: CallRow,
        args: Option<Value>,
    ) -> Result<InvokeOutcome, String> {
        let binding: Value = row
            .binding
            .as_deref()
            .and_then(|text| serde_json::from_str(text).ok())
            .ok_or("the integration's current generation has no operation row for this tool")?;
        let tool = binding
            .get("toolName")
            .and_then(Value::as_str)
            .ok_or("stored MCP binding has no tool name")?;
        let config: Value = serde_json::from_str(row.config.as_deref().unwrap_or("{}"))
            .map_err(|e| format!("stored integration config: {e}"))?;
        // OAuth tokens are refreshed here like for the other invokers; a dead grant answers
        // `oauth_reauth_required` before any upstream call.
        let credentials = match self.credentials(address, &row).await? {
            Ok(credentials) => credentials,
            Err(result) => return Ok(InvokeOutcome::Result(result)),
        };
        let partition = crate::owner::Partition::of(self.principal, address.owner)
            .map_err(|_| "the caller owns no user connections".to_owned())?;
        let slot = mcp_remote::store::SessionSlot {
            partition: &partition,
            integration: &address.integration,
            connection: &address.connection,
        };
        let value = mcp_remote::store::call_tool(
            self.services,
            &slot,
            &config,
            &row.template,
            &credentials,
            tool,
            args,
        )
        .await;
        Ok(InvokeOutcome::Result(value))
    }

    /// The `tool_not_found` ToolResult, with suggestions (§7.3).
    async fn tool_not_found(&self, path: &str) -> HostReply {
        let path = path.strip_prefix("tools.").unwrap_or(path);
        let suggestions = self.suggest(path).await;
        json_reply(&Failure {
            ok: false,
            error: FailureError {
                code: "tool_not_found",
                message: format!("Tool not found: {path}"),
                details: Some(NotFoundDetails { path, suggestions }),
            },
        })
    }
}

#[async_trait::async_trait(?Send)]
impl ToolHost for CatalogHost<'_> {
    async fn call(&self, path: &str, args: Option<Value>) -> HostReply {
        match path {
            "search" => self.search(args).await,
            "describe.tool" => self.describe(args).await,
            "executor.sources.list" => self.sources_list(args).await,
            _ => self.call_tool(path, args, Gate::Ask).await,
        }
    }

    /// The sandbox races this against pending calls, so the execution deadline also ends a run
    /// whose tool call hangs (otherwise only the call's own timeout would, up to 60 s later).
    async fn sleep(&self, ms: f64) {
        self.services.timer.sleep(ms.max(0.0).ceil() as u64).await;
    }
}

/// Whether a call that needs approval may run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Gate {
    /// Pause and ask.
    Ask,
    /// The user approved this call.
    Approved,
}

/// What the audit log says the policy layer decided, given the gate the call went through.
fn audited(action: Action, gate: Gate) -> Audited {
    match (action, gate) {
        (Action::Block, _) => Audited::Blocked,
        (Action::RequireApproval, Gate::Ask) => Audited::ApprovalRequired,
        (Action::RequireApproval, Gate::Approved) => Audited::Approved,
        (Action::Approve, _) => Audited::Allowed,
    }
}

/// Longest rendering of the arguments in an approval message.
pub const MAX_APPROVAL_ARGS_CHARS: usize = 4000;

/// The question an approval gate asks (§9): the tool's own approval description, else which
/// policy asked; then the arguments as indented JSON (cut at [`MAX_APPROVAL_ARGS_CHARS`]).
pub fn approval_message(
    address: &str,
    description: Option<&str>,
    pattern: Option<&str>,
    args: Option<&Value>,
) -> String {
    let head = match (description.filter(|d| !d.trim().is_empty()), pattern) {
        (Some(description), _) => description.to_owned(),
        (None, Some(pattern)) => format!("Approve {address}? (matched policy: {pattern})"),
        (None, None) => format!("Approve {address}?"),
    };
    let empty = Value::Object(serde_json::Map::new());
    let args = args.unwrap_or(&empty);
    let pretty = serde_json::to_string_pretty(args).unwrap_or_else(|_| args.to_string());
    let shown = match pretty.char_indices().nth(MAX_APPROVAL_ARGS_CHARS) {
        None => pretty,
        Some((cut, _)) => format!("{}\n… (arguments cut)", &pretty[..cut]),
    };
    format!("{head}\n\nArguments:\n{shown}")
}

/// Whether a policy blocks the tool at `path` (annotations never block, so they do not matter).
fn is_blocked(policies: &PolicySet, path: &str) -> bool {
    matches!(policies.resolve(path, false).action, Action::Block)
}

fn describe_static(tool: &StaticTool) -> DescribeResult {
    core_tools::describe(tool)
}

/// Logs `cause` under a fresh id and rejects the call with only that id (§7.3).
fn internal(context: &str, cause: &str) -> HostReply {
    let id = crate::ids::hex(&crate::ids::random_bytes::<4>());
    logging::error(&format!("catalog: {context} failed [{id}]: {cause}"));
    HostReply::Reject(format!("Internal tool error [{id}]"))
}

/// A value as JSON text, keeping the struct's field order.
fn json_reply(value: &impl Serialize) -> HostReply {
    match serde_json::to_string(value) {
        Ok(text) => HostReply::Json(text),
        Err(e) => internal("serialising a tool result", &e.to_string()),
    }
}

fn blocked(address: &str, target: &str, decision: &Decision) -> HostReply {
    json_reply(&Failure {
        ok: false,
        error: FailureError {
            code: "tool_blocked",
            message: format!("Tool blocked by policy: {target}"),
            details: Some(BlockedDetails {
                address,
                pattern: decision.matched_pattern.as_deref(),
                tag: "ToolBlockedError",
            }),
        },
    })
}

/// `{ ok: false, error: { code, message, details? } }`.
#[derive(Serialize)]
struct Failure<'a, D: Serialize> {
    ok: bool,
    error: FailureError<'a, D>,
}

#[derive(Serialize)]
struct FailureError<'a, D: Serialize> {
    code: &'a str,
    message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    details: Option<D>,
}

#[derive(Serialize)]
struct BlockedDetails<'a> {
    address: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pattern: Option<&'a str>,
    #[serde(rename = "_tag")]
    tag: &'static str,
}

#[derive(Serialize)]
struct NotFoundDetails<'a> {
    path: &'a str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    suggestions: Vec<String>,
}

/// Validated `tools.executor.sources.list` arguments.
struct SourcesRequest {
    query: Option<String>,
    limit: usize,
    offset: usize,
}

const SOURCES_DEFAULT_LIMIT: usize = 50;

impl SourcesRequest {
    fn from_args(args: Value) -> Result<SourcesRequest, String> {
        let map = match args {
            Value::Null => serde_json::Map::new(),
            Value::Object(map) => map,
            _ => {
                return Err(
                    "tools.executor.sources.list expects an object argument like \
                            { query: \"...\" }"
                        .into(),
                )
            }
        };
        let query = match map.get("query") {
            None | Some(Value::Null) => None,
            Some(Value::String(q)) => Some(q.clone()),
            Some(_) => return Err("tools.executor.sources.list: `query` must be a string".into()),
        };
        let count = |key: &str, min: u64| -> Result<Option<usize>, String> {
            match map.get(key) {
                None | Some(Value::Null) => Ok(None),
                Some(v) => match v.as_u64().filter(|n| *n >= min) {
                    Some(n) => Ok(Some(usize::try_from(n).unwrap_or(usize::MAX))),
                    None => Err(format!(
                        "tools.executor.sources.list: `{key}` must be a {} integer",
                        if min == 0 { "non-negative" } else { "positive" }
                    )),
                },
            }
        };
        Ok(SourcesRequest {
            query,
            limit: count("limit", 1)?.unwrap_or(SOURCES_DEFAULT_LIMIT),
            offset: count("offset", 0)?.unwrap_or(0),
        })
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SourceItem {
    id: String,
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    kind: String,
    can_remove: bool,
    can_refresh: bool,
    tool_count: usize,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SourcesPage {
    items: Vec<SourceItem>,
    total: usize,
    has_more: bool,
    next_offset: Option<usize>,
}
