//! One GraphQL tool call (executor-behaviour.md §8.2 "Invoke"): arguments are validated against
//! the tool's input schema, the declared ones (plus an optional `variables` object) become the
//! operation's variables, and `{query, variables}` is POSTed to the endpoint through
//! `guarded_fetch` with the integration's static headers/query parameters and the connection's
//! rendered auth. Answers: `{ok: true, data}`; `graphql_errors` (non-empty `errors`, first
//! message); `connection_rejected` (401/403); `graphql_http_error` (other non-2xx). Credential
//! values are scrubbed from everything returned.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::json_fields::Fields;
use crate::plugins::openapi::AuthTemplate;
use serde_json::{json, Map, Value};

use super::schema::GraphqlBinding;
use crate::crypto::SecretValue;
use crate::net::http::{guarded_fetch, FetchError, HttpClient, OutboundRequest};
use crate::plugins::openapi::invoke::{InvokeOutcome, MAX_RESPONSE_BYTES, USER_AGENT};
use crate::plugins::openapi::{ApiKeyTemplate, Carrier, NoneTemplate};
use crate::tools::validate::{summarize, validate};

const TOKEN_VARIABLE: &str = "token";
const MESSAGE_CAP: usize = 1024;

/// One stored auth method of a GraphQL integration (§3.4.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind")]
pub enum GraphqlAuth {
    #[serde(rename = "apikey")]
    ApiKey(ApiKeyTemplate),
    #[serde(rename = "oauth2")]
    OAuth2(GraphqlOAuth2),
    #[serde(rename = "none")]
    None(NoneTemplate),
}

/// A bearer-style token method: `<header>: <prefix><token>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GraphqlOAuth2 {
    pub slug: String,
    /// Default `Authorization`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header: Option<String>,
    /// Default `Bearer `.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
}

impl GraphqlAuth {
    pub fn slug(&self) -> &str {
        match self {
            GraphqlAuth::ApiKey(t) => &t.slug,
            GraphqlAuth::OAuth2(t) => &t.slug,
            GraphqlAuth::None(t) => &t.slug,
        }
    }

    /// Reads one stored method (`kind` selects the shape; other members are ignored).
    pub fn parse(text: &str) -> Result<GraphqlAuth, String> {
        let f = Fields::parse(text, &["kind", "slug", "header", "prefix"], false)?;
        if f.string("kind")? == "oauth2" {
            return Ok(GraphqlAuth::OAuth2(GraphqlOAuth2 {
                slug: f.string("slug")?,
                header: f.opt_string("header")?,
                prefix: f.opt_string("prefix")?,
            }));
        }
        Ok(match AuthTemplate::parse(text)? {
            AuthTemplate::ApiKey(t) => GraphqlAuth::ApiKey(t),
            AuthTemplate::None(t) => GraphqlAuth::None(t),
            AuthTemplate::OAuth2(t) => GraphqlAuth::OAuth2(GraphqlOAuth2 {
                slug: t.slug,
                header: None,
                prefix: None,
            }),
        })
    }

    /// Reads a stored list of methods.
    pub fn parse_list(text: &str) -> Result<Vec<GraphqlAuth>, String> {
        crate::json_fields::raw_array(text)?
            .into_iter()
            .map(|t| GraphqlAuth::parse(t.get()))
            .collect()
    }

    pub fn set_slug(&mut self, slug: String) {
        match self {
            GraphqlAuth::ApiKey(t) => t.slug = slug,
            GraphqlAuth::OAuth2(t) => t.slug = slug,
            GraphqlAuth::None(t) => t.slug = slug,
        }
    }
}

/// Everything one call needs.
pub struct GraphqlCall<'a> {
    pub integration: &'a str,
    pub connection: &'a str,
    pub endpoint: &'a str,
    pub binding: &'a GraphqlBinding,
    pub input_schema: Option<&'a Value>,
    pub defs: &'a Map<String, Value>,
    pub headers: &'a BTreeMap<String, String>,
    pub query_params: &'a BTreeMap<String, String>,
    pub auth: Option<&'a GraphqlAuth>,
    pub credentials: &'a BTreeMap<String, Option<SecretValue>>,
    pub timeout_ms: u64,
    pub allow_local_network: bool,
}

/// Runs one GraphQL tool call. Never panics.
pub async fn invoke(
    http: &dyn HttpClient,
    call: &GraphqlCall<'_>,
    args: Option<Value>,
) -> InvokeOutcome {
    let secrets: Vec<String> = call
        .credentials
        .values()
        .flatten()
        .map(|s| s.expose().trim().to_owned())
        .filter(|s| s.chars().count() >= crate::plugins::openapi::invoke::MIN_SCRUBBED_LEN)
        .collect();
    let mut value = run(http, call, args).await;
    scrub(&mut value, &secrets);
    InvokeOutcome::Result(value)
}

/// Replaces every occurrence of a secret in strings and keys of `value` with `[redacted]`.
pub(crate) fn scrub(value: &mut Value, secrets: &[String]) {
    match value {
        Value::String(text) => {
            for secret in secrets {
                if text.contains(secret.as_str()) {
                    *text = text.replace(secret.as_str(), "[redacted]");
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| scrub(v, secrets)),
        Value::Object(map) => {
            if map
                .keys()
                .any(|k| secrets.iter().any(|s| k.contains(s.as_str())))
            {
                let old = std::mem::take(map);
                for (mut key, child) in old {
                    for secret in secrets {
                        key = key.replace(secret.as_str(), "[redacted]");
                    }
                    map.insert(key, child);
                }
            }
            map.values_mut().for_each(|v| scrub(v, secrets));
        }
        _ => {}
    }
}

fn failure(code: &str, message: impl Into<String>) -> Value {
    json!({"ok": false, "error": {"code": code, "message": message.into()}})
}

/// The variables of a call: declared arguments, then the members of `args.variables`.
pub fn variables(binding: &GraphqlBinding, args: &Map<String, Value>) -> Map<String, Value> {
    let mut out: Map<String, Value> = args
        .iter()
        .filter(|(k, _)| binding.args.contains(k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if let Some(Value::Object(extra)) = args.get("variables") {
        if !binding.args.iter().any(|a| a == "variables") {
            out.extend(extra.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
    }
    out
}

async fn run(http: &dyn HttpClient, call: &GraphqlCall<'_>, args: Option<Value>) -> Value {
    let mut args = match args {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(object)) => object,
        Some(_) => {
            return failure(
                "invalid_tool_arguments",
                format!(
                    "Invalid arguments for GraphQL {} {}: expected an object",
                    call.binding.kind, call.binding.field
                ),
            )
        }
    };
    if let Some(schema) = call.input_schema {
        let required: Vec<&str> = schema
            .get("required")
            .and_then(Value::as_array)
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        args.retain(|key, value| !value.is_null() || required.contains(&key.as_str()));
        let value = Value::Object(args);
        let issues = validate(schema, call.defs, &value);
        if !issues.is_empty() {
            return json!({"ok": false, "error": {
                "code": "invalid_tool_arguments",
                "message": format!("Invalid arguments for GraphQL {} {}: {}",
                    call.binding.kind, call.binding.field, summarize(&issues)),
                "details": {"issues": issues},
            }});
        }
        args = match value {
            Value::Object(object) => object,
            _ => Map::new(),
        };
    }
    let variables = variables(call.binding, &args);
    let mut body = json!({"query": call.binding.document});
    if !variables.is_empty() {
        body["variables"] = Value::Object(variables);
    }
    let request = match request(call, &body) {
        Ok(request) => request,
        Err(failure) => return failure,
    };
    match guarded_fetch(http, request, call.allow_local_network).await {
        Ok(response) => {
            let parsed = serde_json::from_slice::<Value>(&response.body).ok();
            answer(call, response.status, parsed, &response.body)
        }
        Err(error) => fetch_failure(error),
    }
}

fn fetch_failure(error: FetchError) -> Value {
    let retryable = matches!(
        error,
        FetchError::Timeout { .. } | FetchError::Network { .. }
    );
    // `FetchError`'s text names the URL in its display form only (no query, no userinfo).
    json!({"ok": false, "error": {
        "code": error.code(), "message": error.to_string(), "retryable": retryable}})
}

/// Builds the POST for a body: static query params and headers, then the rendered auth.
pub fn request(call: &GraphqlCall<'_>, body: &Value) -> Result<OutboundRequest, Value> {
    let (auth_headers, auth_query) = render_auth(call)?;
    let overrides: Vec<(String, String)> = call
        .query_params
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .chain(auth_query)
        .collect();
    let url = with_query(call.endpoint, &overrides);
    let mut headers: Vec<(String, String)> = vec![
        ("content-type".into(), "application/json".into()),
        ("accept".into(), "application/json".into()),
        ("user-agent".into(), USER_AGENT.into()),
    ];
    for (name, value) in call
        .headers
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .chain(auth_headers)
    {
        headers.retain(|(n, _)| !n.eq_ignore_ascii_case(&name));
        headers.push((name, value));
    }
    Ok(OutboundRequest {
        method: "POST".into(),
        url,
        headers,
        body: Some(body.to_string().into_bytes()),
        timeout_ms: call.timeout_ms,
        max_body_bytes: MAX_RESPONSE_BYTES,
    })
}

/// `endpoint` with `overrides` set as query parameters: existing parameters of the same name
/// are dropped, the rest kept as written. (Plain string work: `guarded_fetch` parses and checks
/// the URL; this keeps `url`'s form-encoding machinery out of the Worker.)
pub(crate) fn with_query(endpoint: &str, overrides: &[(String, String)]) -> String {
    if overrides.is_empty() {
        return endpoint.to_owned();
    }
    let (rest, fragment) = match endpoint.split_once('#') {
        Some((rest, fragment)) => (rest, Some(fragment)),
        None => (endpoint, None),
    };
    let (base, query) = rest.split_once('?').unwrap_or((rest, ""));
    let mut pairs: Vec<String> = query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .filter(|pair| {
            let name = pair.split('=').next().unwrap_or_default();
            !overrides.iter().any(|(o, _)| encode(o) == name)
        })
        .map(str::to_owned)
        .collect();
    pairs.extend(
        overrides
            .iter()
            .map(|(k, v)| format!("{}={}", encode(k), encode(v))),
    );
    let mut url = format!("{base}?{}", pairs.join("&"));
    if let Some(fragment) = fragment {
        url.push('#');
        url.push_str(fragment);
    }
    url
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

fn credential<'c>(
    credentials: &'c BTreeMap<String, Option<SecretValue>>,
    variable: &str,
) -> Option<&'c str> {
    credentials
        .get(variable)?
        .as_ref()
        .map(|value| value.expose().trim())
        .filter(|value| !value.is_empty())
}

/// Auth headers and query parameters.
pub(crate) type Rendered = (Vec<(String, String)>, Vec<(String, String)>);

/// Who a failure is about: `(integration, connection)`.
pub(crate) type Source<'a> = (&'a str, &'a str);

pub(crate) fn auth_failure(
    source: Source<'_>,
    code: &str,
    message: String,
    credential: Value,
) -> Value {
    json!({"ok": false, "error": {"code": code, "message": message, "retryable": false,
        "details": {"category": "authentication",
            "source": {"id": source.0, "connection": source.1},
            "credential": credential}}})
}

fn render_auth(call: &GraphqlCall<'_>) -> Result<Rendered, Value> {
    render(
        call.auth,
        call.credentials,
        (call.integration, call.connection),
    )
}

/// Renders an auth method with a connection's values (shared with remote MCP servers): apikey
/// placements, or `<header>: <prefix><token>` for oauth2. A missing value is a ToolResult
/// failure (`connection_value_missing`, `oauth_connection_missing`).
pub(crate) fn render(
    auth: Option<&GraphqlAuth>,
    credentials: &BTreeMap<String, Option<SecretValue>>,
    source: Source<'_>,
) -> Result<Rendered, Value> {
    let mut headers = Vec::new();
    let mut query = Vec::new();
    match auth {
        None | Some(GraphqlAuth::None(_)) => {}
        Some(GraphqlAuth::ApiKey(template)) => {
            let mut missing: Vec<&str> = Vec::new();
            for placement in &template.placements {
                let value = match &placement.literal {
                    Some(literal) => literal.clone(),
                    None => {
                        let variable = placement.variable.as_deref().unwrap_or(TOKEN_VARIABLE);
                        match credential(credentials, variable) {
                            Some(secret) => format!("{}{secret}", placement.prefix),
                            None => {
                                if !missing.contains(&variable) {
                                    missing.push(variable);
                                }
                                continue;
                            }
                        }
                    }
                };
                match placement.carrier {
                    Carrier::Header => headers.push((placement.name.clone(), value)),
                    Carrier::Query => query.push((placement.name.clone(), value)),
                }
            }
            if !missing.is_empty() {
                let message = format!(
                    "Connection \"{}\" for \"{}\" has no value for the credential input(s) {}. Update the connection (or create a new one), then retry this tool.",
                    source.1, source.0, missing.join(", ")
                );
                return Err(auth_failure(
                    source,
                    "connection_value_missing",
                    message,
                    json!({"kind": "secret", "missing": missing}),
                ));
            }
        }
        Some(GraphqlAuth::OAuth2(template)) => {
            let Some(token) = credential(credentials, TOKEN_VARIABLE) else {
                let message = format!(
                    "Connection \"{}\" for \"{}\" has no OAuth access token. Sign in again, then retry this tool.",
                    source.1, source.0
                );
                return Err(auth_failure(
                    source,
                    "oauth_connection_missing",
                    message,
                    json!({"kind": "oauth", "missing": [TOKEN_VARIABLE]}),
                ));
            };
            headers.push((
                template
                    .header
                    .clone()
                    .unwrap_or_else(|| "Authorization".into()),
                format!("{}{token}", template.prefix.as_deref().unwrap_or("Bearer ")),
            ));
        }
    }
    Ok((headers, query))
}

fn clamp(text: &str) -> String {
    match text.char_indices().nth(MESSAGE_CAP) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

/// Maps an HTTP answer to a ToolResult.
fn answer(call: &GraphqlCall<'_>, status: u16, body: Option<Value>, raw: &[u8]) -> Value {
    let details = || {
        body.clone()
            .unwrap_or_else(|| Value::String(clamp(&String::from_utf8_lossy(raw))))
    };
    if status == 401 || status == 403 {
        let message = format!(
            "Upstream rejected credentials for \"{}\" with HTTP {status}. Re-authenticate or update the connection \"{}\" before retrying this tool.",
            call.integration, call.connection
        );
        let mut value = auth_failure(
            (call.integration, call.connection),
            "connection_rejected",
            message,
            json!({"kind": "upstream", "label": "Upstream authorization"}),
        );
        value["error"]["status"] = json!(status);
        value["error"]["details"]["upstream"] = json!({"status": status, "details": details()});
        return value;
    }
    // GraphQL servers often answer errors with 200, and some with 4xx plus an `errors` array.
    let errors = body
        .as_ref()
        .and_then(|b| b.get("errors"))
        .and_then(Value::as_array)
        .filter(|e| !e.is_empty());
    if let Some(errors) = errors {
        let message = errors[0]
            .get("message")
            .and_then(Value::as_str)
            .map(clamp)
            .unwrap_or_else(|| "GraphQL request failed".into());
        return json!({"ok": false, "error": {
            "code": "graphql_errors", "message": message, "details": {"errors": errors}}});
    }
    if !(200..300).contains(&status) {
        return json!({"ok": false, "error": {
            "code": "graphql_http_error", "status": status,
            "message": format!("GraphQL endpoint returned HTTP {status}"),
            "details": details()}});
    }
    match body {
        Some(body) => json!({"ok": true, "data": body.get("data").cloned().unwrap_or(Value::Null)}),
        None => json!({"ok": false, "error": {
            "code": "graphql_http_error", "status": status,
            "message": "GraphQL endpoint answered with something other than JSON",
            "details": details()}}),
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
#[path = "invoke_tests.rs"]
mod tests;
