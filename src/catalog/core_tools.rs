//! Running the built-in tools (executor-behaviour.md §8.9): `executor.coreTools.*` and the
//! OpenAPI plugin's `openapi.previewSpec` / `openapi.addSpec`.
//!
//! Each runnable tool has an input schema (checked with [`crate::tools::validate`] before it runs;
//! issues answer `invalid_tool_arguments` with `details.issues`) and an output schema (the `data`
//! of its ToolResult); both feed `tools.describe.tool` and `GET /api/tools/schema`. Schemas are
//! inline (no `$defs`). Tools call the same services as the `/api` routes — [`crate::integrations`],
//! [`crate::connections::service`], [`crate::providers`], [`crate::policies::service`] and
//! [`crate::plugins::openapi::store`] — and answer `{ok: true, data}`, or `{ok: false, error:
//! {code, message, details?}}` for expected failures (stable codes, below). Storage failures and
//! other defects are the caller's opaque `Internal tool error [id]`.
//!
//! Credentials: no tool takes or returns a secret value. `connections.create` accepts provider
//! item references only (`from` / `inputs`; a `value`/`values` key is refused with a pointer to
//! `connections.createHandoff`), and `connections.createHandoff` returns a console link where the
//! user types the credential themselves. `openapi.addSpec` takes no static `headers` or
//! `queryParams` (plain integration config, set in the console), only the spec, naming, `baseUrl`
//! and auth templates.
//!
//! `mcp.probeEndpoint` / `mcp.getServer` / `mcp.addServer` call
//! [`crate::plugins::mcp_remote::store`] (codes `invalid_mcp_input`, `mcp_connection_failed`).
//! The `oauth.*` tools run in `super::oauth_tools`. `graphql.getIntegration` /
//! `graphql.addIntegration` call [`crate::plugins::graphql::store`] (codes
//! `invalid_graphql_input`, `graphql_introspection_failed`, `graphql_extraction_failed`).
//!
//! Failure codes: `invalid_tool_arguments`, `integration_not_found`, `connection_not_found`,
//! `invalid_connection_input`, `provider_not_registered`, `invalid_policy`, `policy_not_found`,
//! `integration_already_exists`, `integration_removal_not_allowed`, `openapi_parse_failed`,
//! `openapi_extraction_failed`, `invalid_openapi_input`, `tool_unavailable`. The host answers
//! `tool_blocked`, or pauses the run for approval, before a tool runs.
//!
//! Hand-off links (`connections.createHandoff`) point into the console at
//! `<web base URL>/<orgSlug>/integrations/<slug>?addAccount=1…`; see [`web_base_url`] for where
//! the base comes from.

use serde::Serialize;
use serde_json::{json, Map, Value};
use url::form_urlencoded;

use super::builtin::StaticTool;
use crate::app::Services;
use crate::auth::Principal;
use crate::connections::wire::Patch;
use crate::connections::{
    service as connections, Connection, ConnectionError, ConnectionKey, CreateRequest, Origin,
    ProviderRef, ToolSummary,
};
use crate::integrations::{self, detect};
use crate::owner::Owner;
use crate::plugins::graphql::store::{self as graphql_store, GraphqlStoreError};
use crate::plugins::graphql::SchemaError;
use crate::plugins::mcp_remote::store::{self as mcp_store, McpStoreError};
use crate::plugins::openapi::store::{self as openapi, AddRequest, OpenApiStoreError, SpecInput};
use crate::plugins::openapi::OpenApiError;
use crate::policies::{self, service as policies_service, PolicyError};
use crate::providers;
use crate::store::StoreError;
use crate::tools::validate::{self, Issue};
use crate::tools::{schema_previews, DescribeResult, TOOL_ERROR_TS};

/// What a built-in tool runs with: the caller and where the console is.
pub(super) struct CoreContext<'a> {
    pub services: Services<'a>,
    pub principal: &'a Principal,
    /// Origin of the console for hand-off links ([`web_base_url`]); `None`: links are paths.
    pub web_base_url: Option<String>,
}

/// The console's origin for hand-off links (executor-behaviour.md §1.4 `webBaseUrl`): the
/// request's own origin when it is a loopback address (local development, even with a pinned
/// URL), else the configured `VITE_PUBLIC_SITE_URL` (`Config::public_site_url`, which
/// `provision up` sets to the deployment's hostname), else the request's origin. The request
/// origin is the URL of `POST /api/executions`, or for MCP the URL the session was created at.
/// `None` when neither is known.
pub fn web_base_url(public_site_url: Option<&str>, request_origin: Option<&str>) -> Option<String> {
    let clean = |o: &str| Some(o.trim().trim_end_matches('/').to_owned()).filter(|o| !o.is_empty());
    let request = request_origin.and_then(clean);
    if let Some(origin) = request.as_deref().filter(|o| is_loopback(o)) {
        return Some(origin.to_owned());
    }
    public_site_url.and_then(clean).or(request)
}

fn is_loopback(origin: &str) -> bool {
    match crate::net::parse_url(origin)
        .ok()
        .as_ref()
        .and_then(url::Url::host)
    {
        Some(url::Host::Domain(domain)) => {
            domain.eq_ignore_ascii_case("localhost") || domain.ends_with(".localhost")
        }
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// The built-in tools this build runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    IntegrationsList,
    IntegrationsDetect,
    ConnectionsList,
    ConnectionsCreate,
    ConnectionsCreateHandoff,
    ConnectionsRemove,
    ConnectionsRefresh,
    ProvidersList,
    ProvidersItems,
    PoliciesList,
    PoliciesCreate,
    PoliciesUpdate,
    PoliciesRemove,
    PreviewSpec,
    AddSpec,
    McpProbe,
    McpGetServer,
    McpAddServer,
    GraphqlGet,
    GraphqlAdd,
    /// `coreTools.oauth.*` ([`super::oauth_tools`]).
    OAuth(super::oauth_tools::OAuthTool),
}

/// A runnable built-in tool.
#[derive(Debug, Clone, Copy)]
pub struct CoreTool {
    kind: Kind,
}

/// The runnable form of a built-in tool; `None` for a name this build cannot run (every listed
/// tool runs today), which answers [`unavailable`].
pub fn runnable(tool: &StaticTool) -> Option<CoreTool> {
    let kind = match tool.name {
        "coreTools.integrations.list" => Kind::IntegrationsList,
        "coreTools.integrations.detect" => Kind::IntegrationsDetect,
        "coreTools.connections.list" => Kind::ConnectionsList,
        "coreTools.connections.create" => Kind::ConnectionsCreate,
        "coreTools.connections.createHandoff" => Kind::ConnectionsCreateHandoff,
        "coreTools.connections.remove" => Kind::ConnectionsRemove,
        "coreTools.connections.refresh" => Kind::ConnectionsRefresh,
        "coreTools.providers.list" => Kind::ProvidersList,
        "coreTools.providers.items" => Kind::ProvidersItems,
        "coreTools.policies.list" => Kind::PoliciesList,
        "coreTools.policies.create" => Kind::PoliciesCreate,
        "coreTools.policies.update" => Kind::PoliciesUpdate,
        "coreTools.policies.remove" => Kind::PoliciesRemove,
        "openapi.previewSpec" => Kind::PreviewSpec,
        "openapi.addSpec" => Kind::AddSpec,
        "mcp.probeEndpoint" => Kind::McpProbe,
        "mcp.getServer" => Kind::McpGetServer,
        "mcp.addServer" => Kind::McpAddServer,
        "graphql.getIntegration" => Kind::GraphqlGet,
        "graphql.addIntegration" => Kind::GraphqlAdd,
        name => Kind::OAuth(super::oauth_tools::of(name)?),
    };
    Some(CoreTool { kind })
}

/// The `tool_unavailable` ToolResult of a listed-only built-in tool, as JSON text.
pub fn unavailable(address: &str) -> String {
    render_failure(
        "tool_unavailable",
        format!("Built-in tool \"{address}\" is not available in this build."),
        None,
    )
}

/// `tools.describe.tool` for a built-in tool: TypeScript previews of its input and of its
/// ToolResult (`{ ok: true; data: … } | { ok: false; error: ToolError }`) when it is runnable,
/// metadata only otherwise.
pub fn describe(tool: &StaticTool) -> DescribeResult {
    let mut result = DescribeResult {
        path: tool.address(),
        name: tool.name.to_owned(),
        description: Some(tool.description.to_owned()),
        ..DescribeResult::default()
    };
    if let Some(core) = runnable(tool) {
        let (input, output) = (core.input_schema(), core.output_schema());
        let (input, data, mut defs) = schema_previews(Some(&input), Some(&output), &Map::new());
        let data = data.unwrap_or_else(|| "unknown".to_owned());
        result.input_type_script = input;
        result.output_type_script = Some(format!(
            "{{ ok: true; data: {data} }} | {{ ok: false; error: ToolError }}"
        ));
        defs.push(("ToolError".to_owned(), TOOL_ERROR_TS.to_owned()));
        result.type_script_definitions = Some(defs);
    }
    result
}

// ---------------------------------------------------------------------------------------------
// Results

/// Why a tool did not answer data.
enum Failure {
    /// An expected failure: `{ok: false, error: {code, message, details?}}`.
    Tool {
        code: &'static str,
        message: String,
        details: Option<Value>,
    },
    /// A defect or storage failure: logged, the call rejects opaquely.
    Internal(String),
}

impl Failure {
    fn tool(code: &'static str, message: impl Into<String>, details: Option<Value>) -> Failure {
        Failure::Tool {
            code,
            message: message.into(),
            details,
        }
    }

    fn invalid_arguments(message: impl Into<String>, issues: &[Issue]) -> Failure {
        Failure::tool(
            "invalid_tool_arguments",
            message,
            Some(json!({ "issues": issues })),
        )
    }
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        Failure::Internal(e.to_string())
    }
}

impl From<ConnectionError> for Failure {
    fn from(e: ConnectionError) -> Self {
        match e {
            ConnectionError::Schema(message) => Failure::invalid_arguments(message, &[]),
            ConnectionError::IntegrationNotFound { slug } => integration_not_found(&slug),
            ConnectionError::ConnectionNotFound {
                owner,
                integration,
                name,
            } => Failure::tool(
                "connection_not_found",
                format!(
                    "No {} connection \"{name}\" for integration \"{integration}\".",
                    owner.as_str()
                ),
                Some(json!({ "owner": owner, "integration": integration, "name": name })),
            ),
            ConnectionError::InvalidInput(message) => {
                Failure::tool("invalid_connection_input", message, None)
            }
            ConnectionError::ProviderNotRegistered { provider } => {
                provider_not_registered(&provider)
            }
            ConnectionError::Internal(cause) => Failure::Internal(cause),
        }
    }
}

impl From<PolicyError> for Failure {
    fn from(e: PolicyError) -> Self {
        match e {
            PolicyError::Schema(message) => Failure::invalid_arguments(message, &[]),
            PolicyError::Invalid { field, message } => Failure::tool(
                "invalid_policy",
                message,
                Some(json!({ "field": field.as_str() })),
            ),
            PolicyError::NotFound { id, owner } => Failure::tool(
                "policy_not_found",
                format!("No {} tool policy with id {id}.", owner.as_str()),
                Some(json!({ "id": id, "owner": owner })),
            ),
            PolicyError::Internal(cause) => Failure::Internal(cause),
        }
    }
}

impl From<OpenApiStoreError> for Failure {
    fn from(e: OpenApiStoreError) -> Self {
        match e {
            OpenApiStoreError::Spec(e @ OpenApiError::Parse(_)) => {
                Failure::tool("openapi_parse_failed", e.message(), None)
            }
            OpenApiStoreError::Spec(e @ OpenApiError::Extraction(_)) => {
                Failure::tool("openapi_extraction_failed", e.message(), None)
            }
            OpenApiStoreError::Invalid(message) => {
                Failure::tool("invalid_openapi_input", message, None)
            }
            OpenApiStoreError::AlreadyExists { slug } => Failure::tool(
                "integration_already_exists",
                format!("An integration with slug \"{slug}\" already exists; pick another slug."),
                Some(json!({ "slug": slug })),
            ),
            OpenApiStoreError::NotFound { slug } => integration_not_found(&slug),
            OpenApiStoreError::RemovalNotAllowed { slug } => Failure::tool(
                "integration_removal_not_allowed",
                format!("Integration \"{slug}\" cannot be removed."),
                Some(json!({ "slug": slug })),
            ),
            OpenApiStoreError::Internal(cause) => Failure::Internal(cause),
        }
    }
}

impl From<GraphqlStoreError> for Failure {
    fn from(e: GraphqlStoreError) -> Self {
        match e {
            GraphqlStoreError::Schema(e @ SchemaError::Introspection(_)) => {
                Failure::tool("graphql_introspection_failed", e.message(), None)
            }
            GraphqlStoreError::Schema(e @ SchemaError::Extraction(_)) => {
                Failure::tool("graphql_extraction_failed", e.message(), None)
            }
            GraphqlStoreError::Invalid(message) => {
                Failure::tool("invalid_graphql_input", message, None)
            }
            GraphqlStoreError::AlreadyExists { slug } => Failure::tool(
                "integration_already_exists",
                format!("An integration with slug \"{slug}\" already exists; pick another slug."),
                Some(json!({ "slug": slug })),
            ),
            GraphqlStoreError::Internal(cause) => Failure::Internal(cause),
        }
    }
}

impl From<McpStoreError> for Failure {
    fn from(e: McpStoreError) -> Self {
        match e {
            McpStoreError::Invalid(message) => Failure::tool("invalid_mcp_input", message, None),
            McpStoreError::Connection(message) => {
                Failure::tool("mcp_connection_failed", message, None)
            }
            McpStoreError::AlreadyExists { slug } => Failure::tool(
                "integration_already_exists",
                format!("An integration with slug \"{slug}\" already exists; pick another slug."),
                Some(json!({ "slug": slug })),
            ),
            McpStoreError::Internal(cause) => Failure::Internal(cause),
        }
    }
}

fn integration_not_found(slug: &str) -> Failure {
    Failure::tool(
        "integration_not_found",
        format!("Integration not found: {slug}. `integrations.list` shows the installed ones."),
        Some(json!({ "slug": slug })),
    )
}

fn provider_not_registered(provider: &str) -> Failure {
    Failure::tool(
        "provider_not_registered",
        format!(
            "Credential provider \"{provider}\" is not registered; `providers.list` shows the \
             available ones."
        ),
        Some(json!({ "provider": provider })),
    )
}

#[derive(Serialize)]
struct Success<T: Serialize> {
    ok: bool,
    data: T,
}

#[derive(Serialize)]
struct FailureResult<'a> {
    ok: bool,
    error: FailureBody<'a>,
}

#[derive(Serialize)]
struct FailureBody<'a> {
    code: &'a str,
    message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    details: Option<&'a Value>,
}

/// `{ok: true, data}` as JSON text (field order of `data`'s type kept).
fn success(data: &impl Serialize) -> Result<String, Failure> {
    serde_json::to_string(&Success { ok: true, data })
        .map_err(|e| Failure::Internal(format!("serialising a tool result: {e}")))
}

fn render_failure(code: &str, message: String, details: Option<Value>) -> String {
    let result = FailureResult {
        ok: false,
        error: FailureBody {
            code,
            message: &message,
            details: details.as_ref(),
        },
    };
    // Strings, a map of JSON values and a bool always serialise; keep a fallback anyway.
    serde_json::to_string(&result).unwrap_or_else(|_| {
        format!(r#"{{"ok":false,"error":{{"code":"{code}","message":"tool failed"}}}}"#)
    })
}

// ---------------------------------------------------------------------------------------------
// Arguments

/// Validated arguments (an object).
struct Args(Map<String, Value>);

impl Args {
    fn str(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(Value::as_str)
    }

    /// A required string; validation guarantees it, so a miss is a schema defect.
    fn required(&self, key: &str) -> Result<&str, Failure> {
        self.str(key)
            .ok_or_else(|| Failure::Internal(format!("validated arguments lack `{key}`")))
    }

    fn owner(&self, key: &str) -> Result<Option<Owner>, Failure> {
        match self.str(key) {
            None => Ok(None),
            Some(text) => Owner::parse(text)
                .map(Some)
                .ok_or_else(|| Failure::Internal(format!("validated `{key}` is not an owner"))),
        }
    }

    /// Absent, `null` or a string.
    fn patch(&self, key: &str) -> Patch {
        match self.0.get(key) {
            None => Patch::Absent,
            Some(Value::String(s)) => Patch::Set(Some(s.clone())),
            Some(_) => Patch::Set(None),
        }
    }

    fn connection_key(&self) -> Result<ConnectionKey, Failure> {
        Ok(ConnectionKey {
            owner: self
                .owner("owner")?
                .ok_or_else(|| Failure::Internal("validated arguments lack `owner`".into()))?,
            integration: self.required("integration")?.to_owned(),
            name: self.required("name")?.to_owned(),
        })
    }
}

impl CoreTool {
    /// Checks the call's argument (absent = `{}`) against the input schema. `Err` is the
    /// `invalid_tool_arguments` ToolResult as JSON text; issue messages never quote values.
    pub fn check(&self, address: &str, args: Option<Value>) -> Result<Value, String> {
        let args = match args {
            None | Some(Value::Null) => Value::Object(Map::new()),
            Some(args) => args,
        };
        let (message, issues) = match self.precheck(&args) {
            Some(refusal) => refusal,
            None => {
                let issues = validate::validate(&self.input_schema(), &Map::new(), &args);
                if issues.is_empty() {
                    return Ok(args);
                }
                let message = format!(
                    "Invalid arguments for {address}: {}",
                    validate::summarize(&issues)
                );
                (message, issues)
            }
        };
        Err(render_failure(
            "invalid_tool_arguments",
            message,
            Some(json!({ "issues": issues })),
        ))
    }

    /// Rules the schema cannot say clearly: a refusal message and its issues.
    fn precheck(&self, args: &Value) -> Option<(String, Vec<Issue>)> {
        if self.kind != Kind::ConnectionsCreate {
            return None;
        }
        let map = args.as_object()?;
        if let Some(key) = ["value", "values"]
            .into_iter()
            .find(|k| map.contains_key(*k))
        {
            return Some((
                "connections.create takes references to credentials a provider already holds \
                 (`from` or `inputs`), never credential values. To let the user enter a secret, \
                 call connections.createHandoff and give them the link."
                    .into(),
                vec![Issue {
                    path: format!("/{key}"),
                    message: "credential values are not accepted here".into(),
                }],
            ));
        }
        if map.contains_key("from") && map.contains_key("inputs") {
            return Some((
                "Give either `from` or `inputs`, not both.".into(),
                vec![Issue {
                    path: "/inputs".into(),
                    message: "not allowed together with `from`".into(),
                }],
            ));
        }
        None
    }

    /// Runs the tool on checked arguments. `Ok` is the ToolResult as JSON text; `Err` is an
    /// internal cause (for the log only).
    pub(super) async fn run(&self, cx: &CoreContext<'_>, args: Value) -> Result<String, String> {
        let args = match args {
            Value::Object(map) => Args(map),
            _ => return Err("checked arguments are not an object".into()),
        };
        match self.run_inner(cx, &args).await {
            Ok(text) => Ok(text),
            Err(Failure::Tool {
                code,
                message,
                details,
            }) => Ok(render_failure(code, message, details)),
            Err(Failure::Internal(cause)) => Err(cause),
        }
    }

    async fn run_inner(&self, cx: &CoreContext<'_>, args: &Args) -> Result<String, Failure> {
        let (services, principal) = (cx.services, cx.principal);
        let sql = services.sql;
        match self.kind {
            Kind::OAuth(tool) => {
                match tool
                    .run(services, principal, cx.web_base_url.as_deref(), &args.0)
                    .await
                {
                    Ok(Ok(data)) => success(&data),
                    Ok(Err((code, message, details))) => Err(Failure::tool(code, message, details)),
                    Err(cause) => Err(Failure::Internal(cause)),
                }
            }
            Kind::IntegrationsList => {
                let integrations = integrations::list(sql, principal.tenant()).await?;
                success(&IntegrationsData { integrations })
            }
            Kind::IntegrationsDetect => {
                let url = args.required("url")?.trim();
                if url.chars().count() > detect::MAX_URL_CHARS {
                    return Err(Failure::invalid_arguments(
                        format!("`url` must be at most {} characters", detect::MAX_URL_CHARS),
                        &[Issue {
                            path: "/url".into(),
                            message: "too long".into(),
                        }],
                    ));
                }
                let results = detect::detect(services, url).await;
                success(&DetectData { results })
            }
            Kind::ConnectionsList => {
                let verbose = args.0.get("verbose") == Some(&Value::Bool(true));
                let list = connections::list(
                    sql,
                    principal,
                    args.str("integration"),
                    args.owner("owner")?,
                )
                .await?;
                let connections = list
                    .into_iter()
                    .map(|c| ConnectionListItem::new(c, verbose))
                    .collect();
                success(&ConnectionsData { connections })
            }
            Kind::ConnectionsCreate => {
                let request = CreateRequest {
                    owner: args
                        .owner("owner")?
                        .ok_or_else(|| Failure::Internal("validated `owner` missing".into()))?,
                    name: args.required("name")?.to_owned(),
                    integration: args.required("integration")?.to_owned(),
                    template: args.required("template")?.to_owned(),
                    identity_label: args.patch("identityLabel"),
                    description: args.patch("description"),
                    origin: origin(args),
                };
                let connection = connections::create(services, principal, request).await?;
                success(&connection)
            }
            Kind::ConnectionsCreateHandoff => {
                let integration = args.required("integration")?;
                let known = integrations::get(sql, principal.tenant(), integration)
                    .await?
                    .filter(|i| i.slug != integrations::BUILT_IN_SLUG);
                if known.is_none() {
                    return Err(integration_not_found(integration));
                }
                let url = handoff_url(
                    cx.web_base_url.as_deref(),
                    &principal.organization.slug,
                    integration,
                    &HandoffOptions {
                        owner: args.owner("owner")?,
                        template: args.str("template"),
                        label: args.str("label"),
                    },
                );
                let mut instructions = String::from(
                    "Give the user this link. It opens the integration in the Executor console \
                     with the add-account form, where they type the credential themselves; never \
                     ask them to paste a secret into the chat. When they are done, call \
                     connections.list for this integration to find the new connection and the \
                     address of its tools.",
                );
                if cx.web_base_url.is_none() {
                    instructions.push_str(
                        " The link is a path: prefix it with the address of the Executor console.",
                    );
                }
                success(&HandoffData { url, instructions })
            }
            Kind::ConnectionsRemove => {
                connections::remove(sql, principal, &args.connection_key()?).await?;
                success(&Removed { removed: true })
            }
            Kind::ConnectionsRefresh => {
                let tools =
                    connections::refresh(services, principal, &args.connection_key()?).await?;
                success(&RefreshData { tools })
            }
            Kind::ProvidersList => success(&ProvidersData {
                providers: providers::PROVIDERS,
            }),
            Kind::ProvidersItems => {
                let provider = args.required("provider")?;
                if !providers::is_registered(provider) {
                    return Err(provider_not_registered(provider));
                }
                let items = providers::list_items(sql, principal, provider).await?;
                success(&ItemsData { items })
            }
            Kind::PoliciesList => {
                let policies = policies_service::list(sql, principal).await?;
                success(&PoliciesData { policies })
            }
            Kind::PoliciesCreate => {
                let request =
                    policies::CreateRequest::from_json(&args.0).map_err(PolicyError::from)?;
                success(&policies_service::create(services, principal, request).await?)
            }
            Kind::PoliciesUpdate => {
                let id = args.required("id")?;
                let request =
                    policies::UpdateRequest::from_json(&args.0).map_err(PolicyError::from)?;
                success(&policies_service::update(services, principal, id, request).await?)
            }
            Kind::PoliciesRemove => {
                let id = args.required("id")?;
                let request =
                    policies::RemoveRequest::from_json(&args.0).map_err(PolicyError::from)?;
                policies_service::remove(sql, principal, id, request).await?;
                success(&Removed { removed: true })
            }
            Kind::PreviewSpec => {
                let spec = args.required("spec")?.to_owned();
                success(&openapi::preview(services, spec).await?)
            }
            Kind::AddSpec => {
                let spec = args.required("spec")?;
                let spec = if openapi::looks_like_url(spec) {
                    SpecInput::Url {
                        url: spec.trim().to_owned(),
                    }
                } else {
                    SpecInput::Blob {
                        value: spec.to_owned(),
                    }
                };
                let request = AddRequest {
                    spec,
                    slug: args.required("slug")?.to_owned(),
                    name: args.str("name").map(str::to_owned),
                    description: args.str("description").map(str::to_owned),
                    base_url: args.str("baseUrl").map(str::to_owned),
                    headers: None,
                    query_params: None,
                    authentication_template: args.0.get("authenticationTemplate").cloned(),
                };
                success(&openapi::add(services, principal.tenant(), request).await?)
            }
            // The same services as `/api/mcp/…` (static headers/query stay console-only, as
            // for `openapi.addSpec`).
            Kind::McpProbe => {
                success(&mcp_store::probe(services, &Value::Object(args.0.clone())).await?)
            }
            Kind::McpGetServer => {
                let slug = args.required("slug")?;
                match mcp_store::get(sql, principal.tenant(), slug).await? {
                    Some(server) => success(&server),
                    None => Err(integration_not_found(slug)),
                }
            }
            Kind::McpAddServer => {
                let mut body = args.0.clone();
                body.remove("headers");
                body.remove("queryParams");
                body.insert("transport".into(), json!("remote"));
                let body = Value::Object(body);
                let slug = mcp_store::add(services, principal.tenant(), &body).await?;
                success(&json!({ "slug": slug }))
            }
            // The same services as `/api/graphql/…`; static headers/query stay console-only.
            Kind::GraphqlGet => {
                let slug = args.required("slug")?;
                match graphql_store::get(sql, principal.tenant(), slug).await? {
                    Some(config) => success(&json!({ "slug": slug, "config": config })),
                    None => Err(integration_not_found(slug)),
                }
            }
            Kind::GraphqlAdd => {
                let request = graphql_store::AddRequest {
                    endpoint: args.required("endpoint")?.to_owned(),
                    slug: args.str("slug").map(str::to_owned),
                    name: args.str("name").map(str::to_owned),
                    description: args.str("description").map(str::to_owned),
                    introspection_json: args.str("introspectionJson").map(str::to_owned),
                    headers: None,
                    query_params: None,
                    authentication_template: args.0.get("authenticationTemplate").cloned(),
                };
                success(&graphql_store::add(services, principal.tenant(), request).await?)
            }
        }
    }
}

/// Where `connections.create`'s credential comes from: `from`, `inputs`, or nothing (a `none`
/// template). Only provider references; values were refused by the check.
fn origin(args: &Args) -> Origin {
    let reference = |value: &Value| ProviderRef {
        provider: value
            .get("provider")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        id: value
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
    };
    if let Some(from) = args.0.get("from") {
        let ProviderRef { provider, id } = reference(from);
        return Origin::From { provider, id };
    }
    if let Some(Value::Object(inputs)) = args.0.get("inputs") {
        return Origin::Inputs(
            inputs
                .iter()
                .map(|(variable, input)| {
                    (
                        variable.clone(),
                        reference(input.get("from").unwrap_or(&Value::Null)),
                    )
                })
                .collect(),
        );
    }
    Origin::Values(Default::default())
}

struct HandoffOptions<'a> {
    owner: Option<Owner>,
    template: Option<&'a str>,
    label: Option<&'a str>,
}

/// `<base>/<orgSlug>/integrations/<slug>?addAccount=1[&owner=…][&template=…][&label=…]`; a path
/// when there is no base, no org segment when the slug is empty.
fn handoff_url(
    base: Option<&str>,
    org_slug: &str,
    integration: &str,
    options: &HandoffOptions<'_>,
) -> String {
    let mut query = form_urlencoded::Serializer::new(String::new());
    query.append_pair("addAccount", "1");
    if let Some(owner) = options.owner {
        query.append_pair("owner", owner.as_str());
    }
    if let Some(template) = options.template {
        query.append_pair("template", template);
    }
    if let Some(label) = options.label {
        query.append_pair("label", label);
    }
    let org = if org_slug.is_empty() {
        String::new()
    } else {
        format!("/{}", crate::http::percent_encode(org_slug))
    };
    format!(
        "{}{org}/integrations/{}?{}",
        base.unwrap_or_default(),
        crate::http::percent_encode(integration),
        query.finish()
    )
}

// ---------------------------------------------------------------------------------------------
// Result shapes

#[derive(Serialize)]
struct IntegrationsData {
    integrations: Vec<integrations::Integration>,
}

#[derive(Serialize)]
struct DetectData {
    results: Vec<detect::Detection>,
}

#[derive(Serialize)]
struct ConnectionsData {
    connections: Vec<ConnectionListItem>,
}

/// A `connections.list` entry (wire 59): the connection without its OAuth scope string, which
/// is summarised as a count; `verbose` adds the string back, last.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ConnectionListItem {
    owner: Owner,
    name: String,
    integration: String,
    template: String,
    provider: String,
    address: String,
    identity_label: Option<String>,
    description: Option<String>,
    expires_at: Option<i64>,
    oauth_client: Option<String>,
    oauth_client_owner: Option<Owner>,
    oauth_scope_count: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    oauth_scope: Option<Option<String>>,
}

impl ConnectionListItem {
    fn new(c: Connection, verbose: bool) -> ConnectionListItem {
        ConnectionListItem {
            oauth_scope_count: c
                .oauth_scope
                .as_deref()
                .map(|s| s.split_whitespace().count()),
            oauth_scope: verbose.then_some(c.oauth_scope),
            owner: c.owner,
            name: c.name,
            integration: c.integration,
            template: c.template,
            provider: c.provider,
            address: c.address,
            identity_label: c.identity_label,
            description: c.description,
            expires_at: c.expires_at,
            oauth_client: c.oauth_client,
            oauth_client_owner: c.oauth_client_owner,
        }
    }
}

#[derive(Serialize)]
struct HandoffData {
    url: String,
    instructions: String,
}

#[derive(Serialize)]
struct Removed {
    removed: bool,
}

#[derive(Serialize)]
struct RefreshData {
    tools: Vec<ToolSummary>,
}

#[derive(Serialize)]
struct ProvidersData {
    providers: &'static [&'static str],
}

#[derive(Serialize)]
struct ItemsData {
    items: Vec<providers::ProviderItem>,
}

#[derive(Serialize)]
struct PoliciesData {
    policies: Vec<policies::ToolPolicy>,
}

// ---------------------------------------------------------------------------------------------
// Schemas

#[cfg(test)]
#[path = "core_tools_schemas_built.rs"]
mod built;

/// Parses a schema text below (kept as text: `json!` trees cost wasm size; `built` holds the
/// readable builders they are checked against).
fn parse(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or(Value::Null)
}

impl CoreTool {
    /// The JSON Schema of the tool's argument.
    pub fn input_schema(&self) -> Value {
        if let Kind::OAuth(tool) = self.kind {
            return tool.input_schema();
        }
        parse(schema_text(self.kind, true))
    }

    /// The JSON Schema of the `data` of a successful call.
    pub fn output_schema(&self) -> Value {
        if let Kind::OAuth(tool) = self.kind {
            return tool.output_schema();
        }
        parse(schema_text(self.kind, false))
    }
}

/// The schema text of a non-OAuth tool: its argument (`input`) or its `data`.
/// Generated from `built` by `print_schema_texts`.
fn schema_text(kind: Kind, input: bool) -> &'static str {
    match (kind, input) {
        (Kind::IntegrationsList, true)
        | (Kind::ProvidersList, true)
        | (Kind::PoliciesList, true) => {
            r#"{"additionalProperties":false,"properties":{},"required":[],"type":"object"}"#
        }
        (Kind::IntegrationsDetect, true) => {
            r#"{"additionalProperties":false,"properties":{"url":{"maxLength":2048,"minLength":1,"type":"string"}},"required":["url"],"type":"object"}"#
        }
        (Kind::ConnectionsList, true) => {
            r#"{"additionalProperties":false,"properties":{"integration":{"type":"string"},"owner":{"enum":["org","user"],"type":"string"},"verbose":{"type":"boolean"}},"required":[],"type":"object"}"#
        }
        (Kind::ConnectionsCreate, true) => {
            r#"{"additionalProperties":false,"properties":{"description":{"type":["string","null"]},"from":{"additionalProperties":false,"properties":{"id":{"minLength":1,"type":"string"},"provider":{"minLength":1,"type":"string"}},"required":["provider","id"],"type":"object"},"identityLabel":{"type":["string","null"]},"inputs":{"additionalProperties":{"additionalProperties":false,"properties":{"from":{"additionalProperties":false,"properties":{"id":{"minLength":1,"type":"string"},"provider":{"minLength":1,"type":"string"}},"required":["provider","id"],"type":"object"}},"required":["from"],"type":"object"},"minProperties":1,"type":"object"},"integration":{"minLength":1,"type":"string"},"name":{"minLength":1,"type":"string"},"owner":{"enum":["org","user"],"type":"string"},"template":{"minLength":1,"type":"string"}},"required":["owner","name","integration","template"],"type":"object"}"#
        }
        (Kind::ConnectionsCreateHandoff, true) => {
            r#"{"additionalProperties":false,"properties":{"integration":{"minLength":1,"type":"string"},"label":{"type":"string"},"owner":{"enum":["org","user"],"type":"string"},"template":{"type":"string"}},"required":["integration"],"type":"object"}"#
        }
        (Kind::ConnectionsRemove, true) | (Kind::ConnectionsRefresh, true) => {
            r#"{"additionalProperties":false,"properties":{"integration":{"type":"string"},"name":{"type":"string"},"owner":{"enum":["org","user"],"type":"string"}},"required":["owner","integration","name"],"type":"object"}"#
        }
        (Kind::ProvidersItems, true) => {
            r#"{"additionalProperties":false,"properties":{"provider":{"type":"string"}},"required":["provider"],"type":"object"}"#
        }
        (Kind::PoliciesCreate, true) => {
            r#"{"additionalProperties":false,"properties":{"action":{"enum":["approve","require_approval","block"],"type":"string"},"owner":{"enum":["org","user"],"type":"string"},"pattern":{"type":"string"},"position":{"type":"string"}},"required":["owner","pattern","action"],"type":"object"}"#
        }
        (Kind::PoliciesUpdate, true) => {
            r#"{"additionalProperties":false,"properties":{"action":{"enum":["approve","require_approval","block"],"type":"string"},"id":{"type":"string"},"owner":{"enum":["org","user"],"type":"string"},"pattern":{"type":"string"},"position":{"type":"string"}},"required":["id","owner"],"type":"object"}"#
        }
        (Kind::PoliciesRemove, true) => {
            r#"{"additionalProperties":false,"properties":{"id":{"type":"string"},"owner":{"enum":["org","user"],"type":"string"}},"required":["id","owner"],"type":"object"}"#
        }
        (Kind::PreviewSpec, true) => {
            r#"{"additionalProperties":false,"properties":{"spec":{"minLength":1,"type":"string"}},"required":["spec"],"type":"object"}"#
        }
        (Kind::AddSpec, true) => {
            r#"{"additionalProperties":false,"properties":{"authenticationTemplate":{"items":{"type":"object"},"type":"array"},"baseUrl":{"type":"string"},"description":{"type":"string"},"name":{"type":"string"},"slug":{"minLength":1,"type":"string"},"spec":{"minLength":1,"type":"string"}},"required":["spec","slug"],"type":"object"}"#
        }
        (Kind::McpProbe, true) => {
            r#"{"additionalProperties":false,"properties":{"endpoint":{"minLength":1,"type":"string"},"headers":{"additionalProperties":{"type":"string"},"type":"object"},"queryParams":{"additionalProperties":{"type":"string"},"type":"object"}},"required":["endpoint"],"type":"object"}"#
        }
        (Kind::McpGetServer, true) | (Kind::GraphqlGet, true) => {
            r#"{"additionalProperties":false,"properties":{"slug":{"minLength":1,"type":"string"}},"required":["slug"],"type":"object"}"#
        }
        (Kind::McpAddServer, true) => {
            r#"{"additionalProperties":false,"properties":{"auth":{"type":"object"},"authenticationTemplate":{"items":{"type":"object"},"type":"array"},"description":{"type":"string"},"endpoint":{"minLength":1,"type":"string"},"name":{"minLength":1,"type":"string"},"remoteTransport":{"enum":["auto","streamable-http","sse"]},"slug":{"type":"string"}},"required":["name","endpoint"],"type":"object"}"#
        }
        (Kind::GraphqlAdd, true) => {
            r#"{"additionalProperties":false,"properties":{"authenticationTemplate":{"items":{"type":"object"},"type":"array"},"description":{"type":"string"},"endpoint":{"minLength":1,"type":"string"},"introspectionJson":{"type":"string"},"name":{"type":"string"},"slug":{"type":"string"}},"required":["endpoint"],"type":"object"}"#
        }
        (Kind::IntegrationsList, false) => {
            r#"{"additionalProperties":false,"properties":{"integrations":{"items":{"additionalProperties":false,"properties":{"authMethods":{"items":{"additionalProperties":false,"properties":{"id":{"type":"string"},"kind":{"enum":["oauth","apikey","header","none"],"type":"string"},"label":{"type":"string"},"oauth":{"type":"object"},"placements":{"items":{"additionalProperties":false,"properties":{"carrier":{"enum":["header","query"],"type":"string"},"literal":{"type":"string"},"name":{"type":"string"},"prefix":{"type":"string"},"variable":{"type":"string"}},"required":["carrier","name"],"type":"object"},"type":"array"},"template":{"type":"string"}},"required":["id","label","kind","template"],"type":"object"},"type":"array"},"canRefresh":{"type":"boolean"},"canRemove":{"type":"boolean"},"description":{"type":"string"},"displayUrl":{"type":"string"},"kind":{"type":"string"},"name":{"type":"string"},"slug":{"type":"string"}},"required":["slug","name","description","kind","canRemove","canRefresh","authMethods"],"type":"object"},"type":"array"}},"required":["integrations"],"type":"object"}"#
        }
        (Kind::IntegrationsDetect, false) => {
            r#"{"additionalProperties":false,"properties":{"results":{"items":{"additionalProperties":false,"properties":{"confidence":{"enum":["high","medium","low"],"type":"string"},"endpoint":{"type":"string"},"kind":{"type":"string"},"name":{"type":"string"},"slug":{"type":"string"}},"required":["kind","confidence","endpoint","name","slug"],"type":"object"},"type":"array"}},"required":["results"],"type":"object"}"#
        }
        (Kind::ConnectionsList, false) => {
            r#"{"additionalProperties":false,"properties":{"connections":{"items":{"additionalProperties":false,"properties":{"address":{"type":"string"},"description":{"type":["string","null"]},"expiresAt":{"type":["number","null"]},"identityLabel":{"type":["string","null"]},"integration":{"type":"string"},"name":{"type":"string"},"oauthClient":{"type":["string","null"]},"oauthClientOwner":{"enum":["org","user",null],"type":["string","null"]},"oauthScope":{"type":["string","null"]},"oauthScopeCount":{"type":["integer","null"]},"owner":{"enum":["org","user"],"type":"string"},"provider":{"type":"string"},"template":{"type":"string"}},"required":["owner","name","integration","template","provider","address","identityLabel","description","expiresAt","oauthClient","oauthClientOwner","oauthScopeCount"],"type":"object"},"type":"array"}},"required":["connections"],"type":"object"}"#
        }
        (Kind::ConnectionsCreate, false) => {
            r#"{"additionalProperties":false,"properties":{"address":{"type":"string"},"description":{"type":["string","null"]},"expiresAt":{"type":["number","null"]},"identityLabel":{"type":["string","null"]},"integration":{"type":"string"},"name":{"type":"string"},"oauthClient":{"type":["string","null"]},"oauthClientOwner":{"enum":["org","user",null],"type":["string","null"]},"oauthScope":{"type":["string","null"]},"owner":{"enum":["org","user"],"type":"string"},"provider":{"type":"string"},"template":{"type":"string"}},"required":["owner","name","integration","template","provider","address","identityLabel","description","expiresAt","oauthClient","oauthClientOwner","oauthScope"],"type":"object"}"#
        }
        (Kind::ConnectionsCreateHandoff, false) => {
            r#"{"additionalProperties":false,"properties":{"instructions":{"type":"string"},"url":{"type":"string"}},"required":["url","instructions"],"type":"object"}"#
        }
        (Kind::ConnectionsRemove, false) | (Kind::PoliciesRemove, false) => {
            r#"{"additionalProperties":false,"properties":{"removed":{"type":"boolean"}},"required":["removed"],"type":"object"}"#
        }
        (Kind::ConnectionsRefresh, false) => {
            r#"{"additionalProperties":false,"properties":{"tools":{"items":{"additionalProperties":false,"properties":{"address":{"type":"string"},"connection":{"type":"string"},"description":{"type":"string"},"integration":{"type":"string"},"name":{"type":"string"},"owner":{"enum":["org","user"],"type":"string"},"pluginId":{"type":"string"}},"required":["address","owner","integration","connection","name","pluginId","description"],"type":"object"},"type":"array"}},"required":["tools"],"type":"object"}"#
        }
        (Kind::ProvidersList, false) => {
            r#"{"additionalProperties":false,"properties":{"providers":{"items":{"type":"string"},"type":"array"}},"required":["providers"],"type":"object"}"#
        }
        (Kind::ProvidersItems, false) => {
            r#"{"additionalProperties":false,"properties":{"items":{"items":{"additionalProperties":false,"properties":{"id":{"type":"string"},"name":{"type":"string"}},"required":["id","name"],"type":"object"},"type":"array"}},"required":["items"],"type":"object"}"#
        }
        (Kind::PoliciesList, false) => {
            r#"{"additionalProperties":false,"properties":{"policies":{"items":{"additionalProperties":false,"properties":{"action":{"enum":["approve","require_approval","block"],"type":"string"},"createdAt":{"type":"number"},"id":{"type":"string"},"owner":{"enum":["org","user"],"type":"string"},"pattern":{"type":"string"},"position":{"type":"string"},"updatedAt":{"type":"number"}},"required":["id","owner","pattern","action","position","createdAt","updatedAt"],"type":"object"},"type":"array"}},"required":["policies"],"type":"object"}"#
        }
        (Kind::PoliciesCreate, false) | (Kind::PoliciesUpdate, false) => {
            r#"{"additionalProperties":false,"properties":{"action":{"enum":["approve","require_approval","block"],"type":"string"},"createdAt":{"type":"number"},"id":{"type":"string"},"owner":{"enum":["org","user"],"type":"string"},"pattern":{"type":"string"},"position":{"type":"string"},"updatedAt":{"type":"number"}},"required":["id","owner","pattern","action","position","createdAt","updatedAt"],"type":"object"}"#
        }
        (Kind::PreviewSpec, false) => {
            r#"{"additionalProperties":false,"properties":{"authStrategies":{"items":{"additionalProperties":false,"properties":{"schemes":{"items":{"type":"string"},"type":"array"}},"required":["schemes"],"type":"object"},"type":"array"},"description":{"type":"string"},"headerPresets":{"items":{"additionalProperties":false,"properties":{"headers":{"additionalProperties":{"type":["string","null"]},"type":"object"},"label":{"type":"string"},"secretHeaders":{"items":{"type":"string"},"type":"array"}},"required":["label","headers","secretHeaders"],"type":"object"},"type":"array"},"oauth2Presets":{"items":{"properties":{"authorizationUrl":{"type":"string"},"flow":{"enum":["authorizationCode","clientCredentials"],"type":"string"},"label":{"type":"string"},"scopes":{"items":{"type":"string"},"type":"array"},"securitySchemeName":{"type":"string"},"tokenUrl":{"type":"string"}},"required":["label","securitySchemeName","flow","tokenUrl","scopes"],"type":"object"},"type":"array"},"operationCount":{"type":"integer"},"securitySchemes":{"items":{"properties":{"description":{"type":"string"},"headerName":{"type":"string"},"in":{"type":"string"},"name":{"type":"string"},"scheme":{"type":"string"},"type":{"enum":["http","apiKey","oauth2","openIdConnect"],"type":"string"}},"required":["name","type"],"type":"object"},"type":"array"},"servers":{"items":{"additionalProperties":false,"properties":{"description":{"type":"string"},"url":{"type":"string"},"variables":{"additionalProperties":{"additionalProperties":false,"properties":{"default":{"type":"string"},"description":{"type":"string"},"enum":{"items":{"type":"string"},"type":"array"}},"required":["default"],"type":"object"},"type":"object"}},"required":["url"],"type":"object"},"type":"array"},"tags":{"items":{"type":"string"},"type":"array"},"title":{"type":"string"},"version":{"type":"string"}},"required":["servers","operationCount","tags","securitySchemes","authStrategies","headerPresets","oauth2Presets"],"type":"object"}"#
        }
        (Kind::AddSpec, false) => {
            r#"{"additionalProperties":false,"properties":{"slug":{"type":"string"},"toolCount":{"type":"integer"}},"required":["slug","toolCount"],"type":"object"}"#
        }
        (Kind::McpProbe, false) => {
            r#"{"additionalProperties":false,"properties":{"connected":{"type":"boolean"},"instructions":{"type":["string","null"]},"name":{"type":"string"},"requiresAuthentication":{"type":"boolean"},"requiresOAuth":{"type":"boolean"},"serverName":{"type":["string","null"]},"slug":{"type":"string"},"supportsDynamicRegistration":{"type":"boolean"},"toolCount":{"type":["integer","null"]}},"required":["connected","requiresAuthentication","requiresOAuth","name","slug"],"type":"object"}"#
        }
        (Kind::McpGetServer, false) => {
            r#"{"additionalProperties":false,"properties":{"config":{"type":"object"},"kind":{"type":"string"},"slug":{"type":"string"}},"required":["slug","kind","config"],"type":"object"}"#
        }
        (Kind::McpAddServer, false) => {
            r#"{"additionalProperties":false,"properties":{"slug":{"type":"string"}},"required":["slug"],"type":"object"}"#
        }
        (Kind::GraphqlGet, false) => {
            r#"{"additionalProperties":false,"properties":{"config":{"type":"object"},"slug":{"type":"string"}},"required":["slug","config"],"type":"object"}"#
        }
        (Kind::GraphqlAdd, false) => {
            r#"{"additionalProperties":false,"properties":{"name":{"type":"string"},"slug":{"type":"string"}},"required":["slug","name"],"type":"object"}"#
        }
        (Kind::OAuth(_), _) => "null",
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::catalog::builtin::STATIC_TOOLS;

    #[test]
    fn web_base_url_prefers_loopback_then_the_pinned_url() {
        let pinned = Some("https://executor.example.com/");
        assert_eq!(
            web_base_url(pinned, Some("http://127.0.0.1:8787")).as_deref(),
            Some("http://127.0.0.1:8787")
        );
        assert_eq!(
            web_base_url(pinned, Some("https://worker.example.workers.dev")).as_deref(),
            Some("https://executor.example.com")
        );
        assert_eq!(
            web_base_url(None, Some("https://worker.example.workers.dev")).as_deref(),
            Some("https://worker.example.workers.dev")
        );
        assert_eq!(
            web_base_url(pinned, None).as_deref(),
            Some("https://executor.example.com")
        );
        assert_eq!(web_base_url(None, None), None);
        assert_eq!(web_base_url(None, Some("")), None);
        assert!(is_loopback("http://localhost:8787"));
        assert!(is_loopback("http://[::1]:8787"));
        assert!(!is_loopback("https://example.com"));
    }

    #[test]
    fn handoff_urls_encode_every_part() {
        let options = HandoffOptions {
            owner: Some(Owner::User),
            template: Some("apikey-0"),
            label: Some("work & play"),
        };
        assert_eq!(
            handoff_url(Some("https://x.example"), "acme", "petstore", &options),
            "https://x.example/acme/integrations/petstore?addAccount=1&owner=user&template=apikey-0&label=work+%26+play"
        );
        let bare = HandoffOptions {
            owner: None,
            template: None,
            label: None,
        };
        assert_eq!(
            handoff_url(None, "", "a/b", &bare),
            "/integrations/a%2Fb?addAccount=1"
        );
    }

    #[test]
    fn every_runnable_tool_has_renderable_schemas() {
        let names: Vec<&str> = STATIC_TOOLS
            .iter()
            .filter(|t| runnable(t).is_some())
            .map(|t| t.name)
            .collect();
        assert_eq!(names.len(), STATIC_TOOLS.len(), "every listed tool runs");
        for tool in STATIC_TOOLS {
            let described = describe(tool);
            match runnable(tool) {
                Some(core) => {
                    let input = described.input_type_script.unwrap();
                    assert!(
                        !input.contains("unknown;")
                            || tool.name.ends_with("addSpec")
                            || tool.name.ends_with("addServer")
                            || tool.name.ends_with("addIntegration"),
                        "{input}"
                    );
                    assert!(described
                        .output_type_script
                        .unwrap()
                        .starts_with("{ ok: true; data: {"));
                    // The empty argument passes exactly when nothing is required.
                    let required = core.input_schema()["required"].as_array().unwrap().len();
                    assert_eq!(
                        core.check("x", None).is_ok(),
                        required == 0,
                        "{}",
                        tool.name
                    );
                }
                None => assert!(described.input_type_script.is_none()),
            }
        }
    }
}
