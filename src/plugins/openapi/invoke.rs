//! OpenAPI tool invocation: one tool call ⇒ one HTTP request ⇒ one `ToolResult` value
//! (executor-behaviour.md §8.1.5, result shapes §7.3).
//!
//! [`invoke`] owns the whole trip: argument checks, credential rendering, URL/header/body
//! construction, the guarded fetch (SSRF policy per hop, [`crate::net::http::guarded_fetch`]) and
//! response mapping. It returns [`InvokeOutcome::Result`] for everything an agent can act on —
//! invalid arguments, missing or rejected credentials, upstream errors, blocked, unreachable or
//! slow upstreams — and keeps [`InvokeOutcome::Internal`] for defects.
//!
//! # Order of checks
//! 1. Arguments must be an object (absent or `null` ⇒ `{}`), then match the input schema
//!    ([`crate::tools::validate`]) ⇒ otherwise `invalid_tool_arguments` with `details.issues`.
//!    Upstream skipped this (§14 #22); with `additionalProperties: false` input schemas it also
//!    means the nested argument spellings (`args.query.limit`, `args.path.petId`, `args.input`)
//!    only reach the request for tools without an input schema. The schema's `body` describes
//!    the default media type; a call that picks another one with `contentType` has its body
//!    left to the upstream.
//! 2. Credentials: every input the connection's auth template needs must be present and
//!    non-blank ⇒ otherwise `connection_value_missing` (apikey) / `oauth_connection_missing`
//!    (oauth2), with the `details.recovery` pointers of §8.1.5 step 8.
//! 3. Host, path, query, headers, body (§8.1.5 steps 1–5); a missing path value is
//!    `invalid_tool_arguments`, not an opaque failure.
//! 4. Fetch; a [`FetchError`] becomes `{ok: false, error: {code, message, retryable}}` (with
//!    `details: {url, reason}` when the SSRF guard refused the hop) — upstream threw an opaque
//!    error here (§14 #28).
//! 5. Response mapping (§8.1.5 steps 6–7).
//!
//! # Differences from upstream, on purpose
//! * Objects in path and header parameters are JSON text (upstream sent `[object Object]`).
//! * Header values are trimmed like the Fetch `Headers` class does; values that still contain
//!   CR, LF or NUL are refused (typed result) instead of failing inside `fetch`.
//! * Path values `.` and `..` are refused: URL parsing would turn them into path traversal.
//! * Server variables substituted into the authority part of a server URL must look like host
//!   or port text (letters, digits, `.`, `-`, `_`, `~`), so an argument cannot move the request
//!   (and its credentials) to another host than the template allows; values in the path part
//!   may not contain `?`, `#`, `\` or whitespace.
//! * String error bodies are clamped to 1024 characters in the message (the full body stays
//!   in `details`).
//! * Query parameters ignore `allowReserved` (values are form-encoded like `URLSearchParams`).
//!
//! # Bodies
//! JSON, `application/x-www-form-urlencoded` (per-field `style`/`explode`: `form`, `deepObject`
//! (recursive, `a[b][0]=…`), `spaceDelimited`, `pipeDelimited`; a nested object without an
//! encoding entry is sent as JSON text), `multipart/*` and raw media. Multipart is simplified:
//! parts are built in memory with a random boundary; primitives are text parts, objects JSON
//! parts (`application/json`), arrays one part per item, a `ToolFile`-shaped value (`{_tag:
//! "ToolFile", data: base64, mimeType, name?}`) a file part, and a field whose encoding names a
//! `contentType` is sent as a typed part named `blob` (what `FormData` does with a `Blob`). Raw
//! media (octet-stream, images, …) take a string (UTF-8 bytes), a `ToolFile`, or an array of
//! byte numbers; anything else is sent as JSON text.
//!
//! # Responses
//! Bodies are capped at [`MAX_RESPONSE_BYTES`] (16 MiB): a larger body fails with
//! `upstream_response_too_large` instead of being buffered — with base64 and JSON copies a
//! response costs a few times its size, and the Worker has 128 MB.
//!
//! # Secrets
//! Credential values are only ever placed into the outbound request. Error messages we build
//! name variables, never values; URLs in messages carry no query string. As a second line of
//! defence every string in the returned value (including echoed response headers and error
//! bodies) is scrubbed of the connection's credential values (`[redacted]`), except the base64
//! `data` of a `ToolFile` and values shorter than [`MIN_SCRUBBED_LEN`] characters (too likely to
//! match ordinary text).

use std::collections::BTreeMap;

use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use base64::Engine;
use serde_json::{json, Map, Value};
use url::form_urlencoded;

use super::auth::{AuthTemplate, Carrier};
use super::binding::{
    ByteEncoding, ByteFieldHint, EncodingBinding, OperationBinding, ParameterBinding,
    ParameterLocation,
};
use crate::crypto::SecretValue;
use crate::net::http::{guarded_fetch, FetchError, HttpClient, OutboundRequest, OutboundResponse};
use crate::net::ssrf::{display_url, ALLOW_LOCAL_NETWORK_VAR};
use crate::tools::validate::{summarize, validate, Issue};

/// Largest upstream response body buffered (see the module doc).
pub const MAX_RESPONSE_BYTES: usize = 16 * 1024 * 1024;

/// The `User-Agent` every tool call sends unless the integration overrides it.
pub const USER_AGENT: &str = "executor";

/// Credential values shorter than this are not scrubbed from responses (see the module doc).
pub const MIN_SCRUBBED_LEN: usize = 8;

/// Longest message taken verbatim from an upstream error body.
const MESSAGE_CAP: usize = 1024;

/// The variable an OAuth2 access token and a bare apikey placement read.
const TOKEN_VARIABLE: &str = "token";

/// Everything one call needs; the caller has already resolved the tool, its integration config
/// and the connection's credentials.
pub struct OpenApiCall<'a> {
    /// Integration slug.
    pub integration: &'a str,
    /// Connection name (for messages).
    pub connection: &'a str,
    pub binding: &'a OperationBinding,
    pub input_schema: Option<&'a Value>,
    /// The `$defs` closure for `$ref` resolution during validation.
    pub defs: &'a Map<String, Value>,
    pub base_url: Option<&'a str>,
    /// Integration static headers.
    pub headers: &'a BTreeMap<String, String>,
    /// Integration static query parameters.
    pub query_params: &'a BTreeMap<String, String>,
    /// The connection's template resolved by slug (`None` ⇒ no auth).
    pub auth: Option<&'a AuthTemplate>,
    pub credentials: &'a BTreeMap<String, Option<SecretValue>>,
    pub timeout_ms: u64,
    pub allow_local_network: bool,
}

/// What the sandbox gets back.
#[derive(Debug, Clone, PartialEq)]
pub enum InvokeOutcome {
    /// A ToolResult value for the sandbox: `{ok:true,data,http}` or `{ok:false,error:{code,message,...}}`.
    Result(Value),
    /// An opaque failure: the sandbox promise rejects with `Internal tool error [<8 hex>]`;
    /// `cause` is for the server log only (must not contain secret values).
    Internal { cause: String },
}

/// Runs one OpenAPI tool call. Never panics; see the module doc for the order of checks.
pub async fn invoke(
    http: &dyn HttpClient,
    call: &OpenApiCall<'_>,
    args: Option<Value>,
) -> InvokeOutcome {
    let scrubber = Scrubber::new(call.credentials);
    match run(http, call, args).await {
        InvokeOutcome::Result(mut value) => {
            scrubber.value(&mut value);
            InvokeOutcome::Result(value)
        }
        InvokeOutcome::Internal { cause } => InvokeOutcome::Internal {
            cause: scrubber.text(cause),
        },
    }
}

async fn run(http: &dyn HttpClient, call: &OpenApiCall<'_>, args: Option<Value>) -> InvokeOutcome {
    let mut args = match args {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(object)) => object,
        Some(other) => {
            let issue = Issue {
                path: String::new(),
                message: format!(
                    "expected the arguments to be an object, got {}",
                    json_kind(&other)
                ),
            };
            return InvokeOutcome::Result(invalid_arguments(call, vec![issue]));
        }
    };
    if let Some(schema) = call.input_schema {
        // A top-level `null` for an optional argument means "not given" to the request builder
        // (§8.1.5 skips null values); drop it so the schema does not reject it as a wrong type.
        let required: Vec<&str> = schema
            .get("required")
            .and_then(Value::as_array)
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        args.retain(|key, value| !value.is_null() || required.contains(&key.as_str()));
        let args_value = Value::Object(args);
        let relaxed = relax_body_schema(call.binding, schema, &args_value);
        let issues = validate(relaxed.as_ref().unwrap_or(schema), call.defs, &args_value);
        if !issues.is_empty() {
            return InvokeOutcome::Result(invalid_arguments(call, issues));
        }
        args = match args_value {
            Value::Object(object) => object,
            _ => Map::new(),
        };
    }
    let request = match build_request(call, &args) {
        Ok(request) => request,
        Err(failure) => return InvokeOutcome::Result(failure),
    };
    match guarded_fetch(http, request, call.allow_local_network).await {
        Ok(response) => InvokeOutcome::Result(map_response(call, response)),
        Err(error) => InvokeOutcome::Result(fetch_failure(error)),
    }
}

/// The input schema's `body` describes the default (first) media type only. When the call
/// picks another declared media type with `contentType`, its body is not judged by that schema:
/// returns a copy of the schema with `body` unconstrained (`None` when nothing changes).
fn relax_body_schema(binding: &OperationBinding, schema: &Value, args: &Value) -> Option<Value> {
    let media_types = &binding.request_body.as_ref()?.media_types;
    let wanted = args.get("contentType")?.as_str()?;
    let default = media_types.first()?;
    let other = media_types
        .iter()
        .skip(1)
        .any(|m| m.media_type == wanted || essence(&m.media_type) == essence(wanted));
    if !other || essence(&default.media_type) == essence(wanted) {
        return None;
    }
    let mut relaxed = schema.clone();
    let body = relaxed.get_mut("properties")?.get_mut("body")?;
    *body = Value::Bool(true);
    Some(relaxed)
}

// ---------------------------------------------------------------------------------------------
// Failure values

fn failure(code: &str, message: impl Into<String>) -> Value {
    json!({"ok": false, "error": {"code": code, "message": message.into()}})
}

fn invalid_arguments(call: &OpenApiCall<'_>, issues: Vec<Issue>) -> Value {
    let message = format!(
        "Invalid arguments for {} {}: {}",
        call.binding.method.upper(),
        call.binding.path_template,
        summarize(&issues)
    );
    json!({"ok": false, "error": {
        "code": "invalid_tool_arguments",
        "message": message,
        "details": {"issues": issues},
    }})
}

fn auth_recovery() -> Value {
    json!({
        "createConnectionTool": "executor.coreTools.connections.createHandoff",
        "startOAuthTool": "executor.coreTools.oauth.start",
        "listConnectionsTool": "executor.coreTools.connections.list",
        "connectionInstructions": "For an API key or token, call createConnectionTool for this integration and give the user the returned URL: they enter the value in the browser, never in the chat. Confirm with listConnectionsTool, then retry the tool.",
        "oauthInstructions": "For OAuth, call startOAuthTool and give the user the returned authorizationUrl. The connection is bound when they finish; then retry the tool.",
    })
}

fn auth_failure(
    call: &OpenApiCall<'_>,
    code: &str,
    message: String,
    credential: Value,
    upstream: Option<(u16, Value)>,
) -> Value {
    let mut details = json!({
        "category": "authentication",
        "source": {"id": call.integration, "connection": call.connection},
        "credential": credential,
        "recovery": auth_recovery(),
    });
    let mut error = json!({"code": code, "message": message, "retryable": false});
    if let Some((status, body)) = upstream {
        details["upstream"] = json!({"status": status, "details": body});
        error["status"] = json!(status);
    }
    error["details"] = details;
    json!({"ok": false, "error": error})
}

fn fetch_failure(error: FetchError) -> Value {
    // Clients other than ours may put a raw URL in the error; show only the display form.
    let error = match error {
        FetchError::Network { url, message } => FetchError::Network {
            url: display_url(&url),
            message,
        },
        FetchError::Timeout { url, timeout_ms } => FetchError::Timeout {
            url: display_url(&url),
            timeout_ms,
        },
        FetchError::TooLarge { url, limit } => FetchError::TooLarge {
            url: display_url(&url),
            limit,
        },
        other => other,
    };
    let retryable = matches!(
        error,
        FetchError::Timeout { .. } | FetchError::Network { .. }
    );
    let mut value = json!({"ok": false, "error": {
        "code": error.code(),
        "message": error.to_string(),
        "retryable": retryable,
    }});
    if let FetchError::Blocked(blocked) = &error {
        let mut details = json!({"url": blocked.url, "reason": blocked.reason.as_str()});
        if blocked.reason.allowed_by_local_network_setting() {
            details["setting"] = json!(ALLOW_LOCAL_NETWORK_VAR);
        }
        value["error"]["details"] = details;
    }
    value
}

// ---------------------------------------------------------------------------------------------
// Request

fn build_request(
    call: &OpenApiCall<'_>,
    args: &Map<String, Value>,
) -> Result<OutboundRequest, Value> {
    let auth = render_auth(call)?;
    let host = resolve_host(call, args)?;
    let path =
        resolve_path(call.binding, args).map_err(|issues| invalid_arguments(call, issues))?;

    // Query: static parameters, then the operation's, then auth (replacing same-named ones).
    let mut query: Vec<(String, String)> = call
        .query_params
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    for param in params(call.binding, ParameterLocation::Query) {
        if let Some(value) = param_value(args, param) {
            push_query_param(param, value, &mut query);
        }
    }
    for (name, value) in &auth.query {
        query.retain(|(n, _)| n != name);
        query.push((name.clone(), value.clone()));
    }

    let mut url = format!("{}{}", host.trim_end_matches('/'), path);
    if !query.is_empty() {
        let mut serializer = form_urlencoded::Serializer::new(String::new());
        for (name, value) in &query {
            serializer.append_pair(name, value);
        }
        url.push(if path.contains('?') { '&' } else { '?' });
        url.push_str(&serializer.finish());
    }

    // Headers: default user agent, header parameters, body type, static headers, auth last.
    let mut headers: Vec<(String, String)> = vec![("user-agent".into(), USER_AGENT.into())];
    let mut issues = Vec::new();
    for param in params(call.binding, ParameterLocation::Header) {
        let Some(value) = param_value(args, param) else {
            continue;
        };
        match header_value(&js_string(value)) {
            Some(text) => set_header(&mut headers, &param.name, text),
            None => issues.push(Issue {
                path: format!("/{}", escape_pointer(&param.name)),
                message: "contains characters not allowed in an HTTP header (CR, LF or NUL)".into(),
            }),
        }
    }
    let body = build_body(call.binding, args, &mut issues);
    if !issues.is_empty() {
        return Err(invalid_arguments(call, issues));
    }
    let body = body.map(|body| {
        if let Some(content_type) = &body.content_type {
            set_header(&mut headers, "content-type", content_type.clone());
        }
        body.bytes
    });
    for (name, value) in call.headers {
        let Some(value) = header_value(value) else {
            return Err(failure(
                "invalid_integration_config",
                format!(
                    "The static header \"{name}\" of integration \"{}\" contains characters not allowed in an HTTP header.",
                    call.integration
                ),
            ));
        };
        set_header(&mut headers, name, value);
    }
    for (name, value) in auth.headers {
        let Some(value) = header_value(&value) else {
            return Err(failure(
                "connection_value_invalid",
                format!(
                    "A credential of connection \"{}\" for \"{}\" contains characters not allowed in the \"{name}\" header. Update the connection.",
                    call.connection, call.integration
                ),
            ));
        };
        set_header(&mut headers, &name, value);
    }

    Ok(OutboundRequest {
        method: call.binding.method.upper().to_owned(),
        url,
        headers,
        body,
        timeout_ms: call.timeout_ms,
        max_body_bytes: MAX_RESPONSE_BYTES,
    })
}

fn params(
    binding: &OperationBinding,
    location: ParameterLocation,
) -> impl Iterator<Item = &ParameterBinding> {
    binding
        .parameters
        .iter()
        .filter(move |p| p.location == location)
}

/// The argument for `param`: `args[name]`, else inside the location's container objects
/// (§8.1.5 step 2). `null` counts as absent.
fn param_value<'v>(args: &'v Map<String, Value>, param: &ParameterBinding) -> Option<&'v Value> {
    let present = |v: &&Value| !v.is_null();
    if let Some(value) = args.get(&param.name).filter(present) {
        return Some(value);
    }
    let containers: &[&str] = match param.location {
        ParameterLocation::Path => &["path", "pathParams", "params"],
        ParameterLocation::Query => &["query", "queryParams", "params"],
        ParameterLocation::Header => &["headers", "header"],
        ParameterLocation::Cookie => &["cookies", "cookie"],
    };
    containers.iter().find_map(|key| {
        args.get(*key)?
            .as_object()?
            .get(&param.name)
            .filter(present)
    })
}

// ---------------------------------------------------------------------------------------------
// Auth

#[derive(Default)]
struct RenderedAuth {
    headers: Vec<(String, String)>,
    query: Vec<(String, String)>,
}

fn credential<'c>(call: &OpenApiCall<'c>, variable: &str) -> Option<&'c str> {
    call.credentials
        .get(variable)?
        .as_ref()
        // Pasted values often carry a trailing newline; no credential means its edge spaces.
        .map(|value| value.expose().trim())
        .filter(|value| !value.is_empty())
}

fn render_auth(call: &OpenApiCall<'_>) -> Result<RenderedAuth, Value> {
    let mut rendered = RenderedAuth::default();
    match call.auth {
        None | Some(AuthTemplate::None(_)) => {}
        Some(AuthTemplate::ApiKey(template)) => {
            let mut missing: Vec<&str> = Vec::new();
            for placement in template.placements.iter().filter(|p| p.literal.is_none()) {
                let variable = placement.variable.as_deref().unwrap_or(TOKEN_VARIABLE);
                if credential(call, variable).is_none() && !missing.contains(&variable) {
                    missing.push(variable);
                }
            }
            if !missing.is_empty() {
                let message = format!(
                    "Connection \"{}\" for \"{}\" has no value for the credential input(s) {}. Update the connection (or create a new one), then retry this tool.",
                    call.connection,
                    call.integration,
                    missing.join(", ")
                );
                return Err(auth_failure(
                    call,
                    "connection_value_missing",
                    message,
                    json!({"kind": "secret", "missing": missing}),
                    None,
                ));
            }
            for placement in &template.placements {
                let value = match &placement.literal {
                    Some(literal) => literal.clone(),
                    None => {
                        let variable = placement.variable.as_deref().unwrap_or(TOKEN_VARIABLE);
                        // Checked above; an absent value renders empty rather than panicking.
                        let secret = credential(call, variable).unwrap_or_default();
                        format!("{}{}", placement.prefix, secret)
                    }
                };
                let name = placement.name.clone();
                match placement.carrier {
                    Carrier::Header => rendered.headers.push((name, value)),
                    Carrier::Query => rendered.query.push((name, value)),
                }
            }
        }
        Some(AuthTemplate::OAuth2(_)) => {
            let Some(token) = credential(call, TOKEN_VARIABLE) else {
                let message = format!(
                    "Connection \"{}\" for \"{}\" has no OAuth access token. Sign in again (start the OAuth flow for this connection), then retry this tool.",
                    call.connection, call.integration
                );
                return Err(auth_failure(
                    call,
                    "oauth_connection_missing",
                    message,
                    json!({"kind": "oauth", "missing": [TOKEN_VARIABLE]}),
                    None,
                ));
            };
            rendered
                .headers
                .push(("authorization".into(), format!("Bearer {token}")));
        }
    }
    Ok(rendered)
}

// ---------------------------------------------------------------------------------------------
// Host and path

fn resolve_host(call: &OpenApiCall<'_>, args: &Map<String, Value>) -> Result<String, Value> {
    if let Some(base) = call.base_url.map(str::trim).filter(|b| !b.is_empty()) {
        return Ok(base.to_owned());
    }
    let servers = &call.binding.servers;
    let server_arg = args.get("server").and_then(Value::as_object);
    let chosen = server_arg
        .and_then(|s| s.get("url"))
        .and_then(Value::as_str)
        .and_then(|url| servers.iter().find(|s| s.url == url))
        .or_else(|| servers.first());
    let Some(server) = chosen else {
        return Err(failure(
            "base_url_missing",
            format!(
                "Integration \"{}\" has no base URL: the spec declares no servers for this operation. Set a base URL on the integration.",
                call.integration
            ),
        ));
    };
    let variables = server_arg
        .and_then(|s| s.get("variables"))
        .and_then(Value::as_object);
    // The authority part ends at the first `/` after `scheme://`.
    let authority_end = server
        .url
        .find("://")
        .map(|i| {
            let start = i + 3;
            server.url[start..]
                .find('/')
                .map_or(server.url.len(), |j| start + j)
        })
        .unwrap_or(0);
    let mut url = String::with_capacity(server.url.len());
    let mut issues = Vec::new();
    let mut rest = server.url.as_str();
    let mut offset = 0;
    while let Some(open) = rest.find('{') {
        let Some(close) = rest[open..].find('}').map(|c| open + c) else {
            break;
        };
        url.push_str(&rest[..open]);
        let name = &rest[open + 1..close];
        let in_authority = offset + open < authority_end;
        let given = variables
            .and_then(|v| v.get(name))
            .filter(|v| !v.is_null())
            .map(js_string)
            .filter(|v| !v.is_empty());
        match given.or_else(|| server.variables.get(name).cloned()) {
            Some(value) if server_variable_ok(&value, in_authority) => url.push_str(&value),
            Some(_) => issues.push(Issue {
                path: format!("/server/variables/{}", escape_pointer(name)),
                message: "contains characters not allowed in this part of the server URL".into(),
            }),
            None => issues.push(Issue {
                path: format!("/server/variables/{}", escape_pointer(name)),
                message: "missing value for a server URL variable without a default".into(),
            }),
        }
        offset += close + 1;
        rest = &rest[close + 1..];
    }
    url.push_str(rest);
    if !issues.is_empty() {
        return Err(invalid_arguments(call, issues));
    }
    if crate::net::parse_url(&url).is_err() {
        return Err(failure(
            "base_url_missing",
            format!(
                "Integration \"{}\" has no usable base URL: the spec's server URL is not absolute. Set a base URL on the integration.",
                call.integration
            ),
        ));
    }
    Ok(url)
}

fn server_variable_ok(value: &str, in_authority: bool) -> bool {
    if in_authority {
        value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '~'))
    } else {
        !value
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '?' | '#' | '\\'))
    }
}

/// Fills `{name}` / `{+name}` placeholders: declared path parameters (with their container
/// spellings), else `args[name]`. Values are `encodeURIComponent`-encoded, or keep reserved
/// characters for `{+name}` and `allowReserved` parameters.
fn resolve_path(
    binding: &OperationBinding,
    args: &Map<String, Value>,
) -> Result<String, Vec<Issue>> {
    let template = binding.path_template.as_str();
    let mut out = String::with_capacity(template.len() + 16);
    let mut issues = Vec::new();
    let mut placed: Vec<&str> = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let Some(close) = rest[open..].find('}').map(|c| open + c) else {
            break;
        };
        out.push_str(&rest[..open]);
        let inner = &rest[open + 1..close];
        let (name, plus) = match inner.strip_prefix('+') {
            Some(name) => (name, true),
            None => (inner, false),
        };
        let param = params(binding, ParameterLocation::Path).find(|p| p.name == name);
        let value = match param {
            Some(param) => param_value(args, param),
            None => args.get(name).filter(|v| !v.is_null()),
        };
        let reserved = plus || param.and_then(|p| p.allow_reserved).unwrap_or(false);
        match value {
            Some(value) => {
                let text = js_string(value);
                if !reserved && (text == "." || text == "..") {
                    issues.push(Issue {
                        path: format!("/{}", escape_pointer(name)),
                        message: "a path parameter cannot be \".\" or \"..\"".into(),
                    });
                }
                out.push_str(&percent_encode(&text, reserved));
            }
            None => issues.push(Issue {
                path: format!("/{}", escape_pointer(name)),
                message: format!("missing value for path parameter \"{name}\""),
            }),
        }
        placed.push(name);
        rest = &rest[close + 1..];
    }
    out.push_str(rest);
    for param in params(binding, ParameterLocation::Path) {
        if param.required
            && !placed.contains(&param.name.as_str())
            && param_value(args, param).is_none()
        {
            issues.push(Issue {
                path: format!("/{}", escape_pointer(&param.name)),
                message: format!("missing value for path parameter \"{}\"", param.name),
            });
        }
    }
    if !issues.is_empty() {
        return Err(issues);
    }
    if !out.starts_with('/') {
        out.insert(0, '/');
    }
    Ok(out)
}

/// One query parameter: arrays repeat the key (`explode`, the default) or join with `,`
/// (form), space (spaceDelimited) or `|` (pipeDelimited); objects are JSON text.
fn push_query_param(param: &ParameterBinding, value: &Value, query: &mut Vec<(String, String)>) {
    match value {
        Value::Array(items) => {
            let items = items.iter().filter(|v| !v.is_null());
            if param.explode.unwrap_or(true) {
                for item in items {
                    query.push((param.name.clone(), js_string(item)));
                }
            } else {
                let delimiter = match param.style.as_deref() {
                    Some("spaceDelimited") => " ",
                    Some("pipeDelimited") => "|",
                    _ => ",",
                };
                let joined: Vec<String> = items.map(js_string).collect();
                query.push((param.name.clone(), joined.join(delimiter)));
            }
        }
        other => query.push((param.name.clone(), js_string(other))),
    }
}

// ---------------------------------------------------------------------------------------------
// Headers

/// Trims HTTP whitespace like `Headers` does; `None` when the value cannot be sent.
fn header_value(raw: &str) -> Option<String> {
    let trimmed = raw.trim_matches([' ', '\t', '\r', '\n']);
    (!trimmed.contains(['\r', '\n', '\0'])).then(|| trimmed.to_owned())
}

/// Sets a header (names lowercased), replacing any earlier value of the same name.
fn set_header(headers: &mut Vec<(String, String)>, name: &str, value: String) {
    let name = name.to_ascii_lowercase();
    headers.retain(|(n, _)| *n != name);
    headers.push((name, value));
}

// ---------------------------------------------------------------------------------------------
// Body

struct Body {
    bytes: Vec<u8>,
    content_type: Option<String>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum MediaKind {
    Json,
    Form,
    Multipart,
    Text,
    Binary,
    Other,
}

fn media_kind(media_type: &str) -> MediaKind {
    let essence = essence(media_type);
    if essence.contains("json") {
        MediaKind::Json
    } else if essence == "application/x-www-form-urlencoded" {
        MediaKind::Form
    } else if essence.starts_with("multipart/") {
        MediaKind::Multipart
    } else if essence.starts_with("text/") || essence.contains("xml") {
        MediaKind::Text
    } else if essence == "application/octet-stream"
        || ["image/", "audio/", "video/", "font/"]
            .iter()
            .any(|p| essence.starts_with(p))
        || matches!(
            essence.as_str(),
            "application/pdf" | "application/zip" | "application/gzip"
        )
    {
        MediaKind::Binary
    } else {
        MediaKind::Other
    }
}

/// `type/subtype` lowercased, without parameters.
fn essence(media_type: &str) -> String {
    media_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

fn build_body(
    binding: &OperationBinding,
    args: &Map<String, Value>,
    issues: &mut Vec<Issue>,
) -> Option<Body> {
    let request_body = binding.request_body.as_ref()?;
    let value = args
        .get("body")
        .filter(|v| !v.is_null())
        .or_else(|| args.get("input").filter(|v| !v.is_null()))?;
    let wanted = args.get("contentType").and_then(Value::as_str);
    let media = wanted
        .and_then(|w| {
            request_body
                .media_types
                .iter()
                .find(|m| m.media_type == w || essence(&m.media_type) == essence(w))
        })
        .or_else(|| request_body.media_types.first())?;
    let declared = media.media_type.as_str();
    // A wildcard media type (`*/*`, `image/*`) is not a Content-Type: use what the value is.
    let concrete = |fallback: &str| {
        if declared.contains('*') {
            fallback.to_owned()
        } else {
            declared.to_owned()
        }
    };
    let json_bytes = |v: &Value| match v {
        Value::String(s) => s.clone().into_bytes(),
        other => other.to_string().into_bytes(),
    };
    let body = match media_kind(declared) {
        MediaKind::Json => Body {
            bytes: json_bytes(value),
            content_type: Some(concrete("application/json")),
        },
        MediaKind::Form => {
            let bytes = match value {
                Value::Object(fields) => {
                    let mut pairs = Vec::new();
                    for (name, field) in fields {
                        form_field(name, field, media.encoding.get(name), &mut pairs);
                    }
                    let mut serializer = form_urlencoded::Serializer::new(String::new());
                    for (name, value) in &pairs {
                        serializer.append_pair(name, value);
                    }
                    serializer.finish().into_bytes()
                }
                other => json_bytes(other),
            };
            Body {
                bytes,
                content_type: Some(declared.to_owned()),
            }
        }
        MediaKind::Multipart => match value {
            Value::Object(fields) => {
                let boundary = format!(
                    "executor-{}",
                    crate::ids::hex(&crate::ids::random_bytes::<16>())
                );
                let bytes = multipart(fields, &media.encoding, &boundary, issues);
                Body {
                    bytes,
                    content_type: Some(format!("{}; boundary={boundary}", essence(declared))),
                }
            }
            other => Body {
                bytes: json_bytes(other),
                content_type: Some(declared.to_owned()),
            },
        },
        MediaKind::Text => Body {
            bytes: json_bytes(value),
            content_type: Some(concrete("text/plain")),
        },
        kind @ (MediaKind::Binary | MediaKind::Other) => {
            if let Some(file) = tool_file_input(value) {
                let content_type = concrete(&file.mime_type);
                Body {
                    bytes: file.bytes,
                    content_type: Some(content_type),
                }
            } else if let (MediaKind::Binary, Some(bytes)) = (kind, byte_array(value)) {
                Body {
                    bytes,
                    content_type: Some(concrete("application/octet-stream")),
                }
            } else {
                let fallback = if value.is_string() {
                    "text/plain"
                } else {
                    "application/json"
                };
                Body {
                    bytes: json_bytes(value),
                    content_type: Some(concrete(fallback)),
                }
            }
        }
    };
    Some(body)
}

/// One form field per its encoding (see the module doc).
fn form_field(
    name: &str,
    value: &Value,
    encoding: Option<&EncodingBinding>,
    out: &mut Vec<(String, String)>,
) {
    let style = encoding.and_then(|e| e.style.as_deref());
    match value {
        Value::Null => {}
        Value::Array(items) => {
            if style == Some("deepObject") {
                deep_object(name, value, out);
                return;
            }
            let explode = encoding
                .and_then(|e| e.explode)
                .unwrap_or(matches!(style, None | Some("form")));
            let items = items.iter().filter(|v| !v.is_null());
            if explode {
                for item in items {
                    out.push((name.to_owned(), js_string(item)));
                }
            } else {
                let delimiter = match style {
                    Some("spaceDelimited") => " ",
                    Some("pipeDelimited") => "|",
                    _ => ",",
                };
                let joined: Vec<String> = items.map(js_string).collect();
                out.push((name.to_owned(), joined.join(delimiter)));
            }
        }
        Value::Object(fields) => match style {
            Some("deepObject") => deep_object(name, value, out),
            Some("form") => {
                if encoding.and_then(|e| e.explode).unwrap_or(true) {
                    for (key, field) in fields.iter().filter(|(_, v)| !v.is_null()) {
                        out.push((key.clone(), js_string(field)));
                    }
                } else {
                    let mut flat = Vec::new();
                    for (key, field) in fields.iter().filter(|(_, v)| !v.is_null()) {
                        flat.push(key.clone());
                        flat.push(js_string(field));
                    }
                    out.push((name.to_owned(), flat.join(",")));
                }
            }
            _ => out.push((name.to_owned(), value.to_string())),
        },
        primitive => out.push((name.to_owned(), js_string(primitive))),
    }
}

/// `name[key][0]=value` for every leaf.
fn deep_object(prefix: &str, value: &Value, out: &mut Vec<(String, String)>) {
    match value {
        Value::Null => {}
        Value::Object(fields) => {
            for (key, field) in fields {
                deep_object(&format!("{prefix}[{key}]"), field, out);
            }
        }
        Value::Array(items) => {
            for (index, item) in items.iter().enumerate() {
                deep_object(&format!("{prefix}[{index}]"), item, out);
            }
        }
        primitive => out.push((prefix.to_owned(), js_string(primitive))),
    }
}

struct FileInput {
    bytes: Vec<u8>,
    mime_type: String,
    name: Option<String>,
}

/// A `ToolFile`-shaped value (what file-returning tools produce) as upload bytes.
fn tool_file_input(value: &Value) -> Option<FileInput> {
    let object = value.as_object()?;
    if object.get("_tag").and_then(Value::as_str) != Some("ToolFile") {
        return None;
    }
    let bytes = decode_base64(object.get("data")?.as_str()?, ByteEncoding::Base64)?;
    Some(FileInput {
        bytes,
        mime_type: object
            .get("mimeType")
            .and_then(Value::as_str)
            .filter(|m| !m.is_empty())
            .unwrap_or("application/octet-stream")
            .to_owned(),
        name: object
            .get("name")
            .and_then(Value::as_str)
            .map(str::to_owned),
    })
}

/// An array of numbers 0–255 as bytes.
fn byte_array(value: &Value) -> Option<Vec<u8>> {
    value
        .as_array()?
        .iter()
        .map(|v| v.as_u64().and_then(|n| u8::try_from(n).ok()))
        .collect()
}

struct Part {
    name: String,
    filename: Option<String>,
    content_type: Option<String>,
    data: Vec<u8>,
}

fn multipart(
    fields: &Map<String, Value>,
    encodings: &BTreeMap<String, EncodingBinding>,
    boundary: &str,
    issues: &mut Vec<Issue>,
) -> Vec<u8> {
    let mut parts = Vec::new();
    for (name, value) in fields {
        let part_type = encodings
            .get(name)
            .and_then(|e| e.content_type.as_deref())
            // `contentType` may list alternatives; the first is what we send.
            .and_then(|t| t.split(',').next())
            .map(str::trim)
            .filter(|t| !t.is_empty() && !t.contains('*'));
        match value {
            Value::Array(items) => {
                for item in items {
                    multipart_part(name, item, part_type, &mut parts);
                }
            }
            other => multipart_part(name, other, part_type, &mut parts),
        }
    }
    let mut out = Vec::new();
    for part in parts {
        out.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        let mut disposition = format!(
            "Content-Disposition: form-data; name=\"{}\"",
            form_data_quote(&part.name)
        );
        if let Some(filename) = &part.filename {
            disposition.push_str(&format!("; filename=\"{}\"", form_data_quote(filename)));
        }
        out.extend_from_slice(disposition.as_bytes());
        out.extend_from_slice(b"\r\n");
        if let Some(content_type) = &part.content_type {
            match header_value(content_type) {
                Some(ct) => out.extend_from_slice(format!("Content-Type: {ct}\r\n").as_bytes()),
                None => issues.push(Issue {
                    path: format!("/body/{}", escape_pointer(&part.name)),
                    message: "has a content type with characters not allowed in a header".into(),
                }),
            }
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(&part.data);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    out
}

fn multipart_part(name: &str, value: &Value, part_type: Option<&str>, parts: &mut Vec<Part>) {
    if value.is_null() {
        return;
    }
    if let Some(file) = tool_file_input(value) {
        parts.push(Part {
            name: name.to_owned(),
            filename: Some(file.name.unwrap_or_else(|| "file".to_owned())),
            content_type: Some(part_type.map_or(file.mime_type, str::to_owned)),
            data: file.bytes,
        });
        return;
    }
    let (data, default_type) = match value {
        Value::Object(_) | Value::Array(_) => (value.to_string(), Some("application/json")),
        other => (js_string(other), None),
    };
    let typed = part_type.filter(|t| essence(t) != "text/plain");
    parts.push(Part {
        name: name.to_owned(),
        // `FormData` names a typed Blob part `blob`.
        filename: typed.map(|_| "blob".to_owned()),
        content_type: typed.or(default_type).map(str::to_owned),
        data: data.into_bytes(),
    });
}

/// Escapes a form-data name or filename the way browsers do (`"` ⇒ `%22`, CR/LF encoded).
fn form_data_quote(text: &str) -> String {
    text.replace('"', "%22")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

// ---------------------------------------------------------------------------------------------
// Response

fn map_response(call: &OpenApiCall<'_>, response: OutboundResponse) -> Value {
    let status = response.status;
    let mut headers = Map::new();
    for (name, value) in &response.headers {
        let name = name.to_ascii_lowercase();
        match headers.get_mut(&name) {
            Some(Value::String(existing)) => {
                existing.push_str(", ");
                existing.push_str(value);
            }
            _ => {
                headers.insert(name, Value::String(value.clone()));
            }
        }
    }
    let content_type = response.header("content-type").map(str::to_owned);
    let hint = call.binding.response_body.as_ref();

    if (200..300).contains(&status) {
        let data = if status == 204 {
            Value::Null
        } else if hint.is_some_and(|h| h.binary_response) {
            tool_file(
                &response.body,
                content_type.as_deref(),
                response.header("content-disposition"),
            )
        } else {
            let body = parse_body(&response.body, content_type.as_deref());
            match hint.and_then(|h| h.byte_field.as_ref()) {
                Some(field) => byte_field_file(body, field),
                None => body,
            }
        };
        return json!({"ok": true, "data": data, "http": {"status": status, "headers": headers}});
    }

    let body = if response.body.is_empty() {
        Value::Null
    } else {
        parse_body(&response.body, content_type.as_deref())
    };
    if status == 401 || status == 403 {
        let message = format!(
            "Upstream rejected credentials for \"{}\" with HTTP {status}. Re-authenticate or update the connection \"{}\" before retrying this tool.",
            call.integration, call.connection
        );
        return auth_failure(
            call,
            "connection_rejected",
            message,
            json!({"kind": "upstream", "label": "Upstream authorization"}),
            Some((status, body)),
        );
    }
    let message = upstream_message(&body, status);
    json!({"ok": false, "error": {
        "code": "upstream_http_error",
        "status": status,
        "message": message,
        "details": body,
    }})
}

fn is_json_content_type(content_type: Option<&str>) -> bool {
    content_type.is_some_and(|ct| essence(ct).contains("json"))
}

/// JSON content types parse (falling back to text); everything else is text.
fn parse_body(body: &[u8], content_type: Option<&str>) -> Value {
    if is_json_content_type(content_type) {
        if let Ok(value) = serde_json::from_slice::<Value>(body) {
            return value;
        }
    }
    Value::String(String::from_utf8_lossy(body).into_owned())
}

/// The message of a non-2xx answer, in upstream's order of preference (§8.1.5 step 7).
fn upstream_message(body: &Value, status: u16) -> String {
    let fallback = || format!("Upstream returned HTTP {status}");
    let object = match body {
        Value::String(text) if !text.is_empty() => return clamp(text),
        Value::Object(object) => object,
        Value::Array(_) => return clamp(&body.to_string()),
        _ => return fallback(),
    };
    let text = |v: Option<&Value>| {
        v.and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    let from_errors = || {
        object.get("errors")?.as_array()?.iter().find_map(|e| {
            text(e.get("detail"))
                .or_else(|| text(e.get("message")))
                .or_else(|| text(e.get("title")))
        })
    };
    text(object.get("error").and_then(|e| e.get("message")))
        .or_else(|| text(object.get("message")))
        .or_else(|| text(object.get("errorMessage")))
        .or_else(from_errors)
        .or_else(|| text(object.get("detail")))
        .or_else(|| text(object.get("title")))
        .or_else(|| text(object.get("description")))
        .unwrap_or_else(|| clamp(&body.to_string()))
}

fn clamp(text: &str) -> String {
    match text.char_indices().nth(MESSAGE_CAP) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

const GENERIC_TYPES: &[&str] = &[
    "",
    "application/octet-stream",
    "binary/octet-stream",
    "application/binary",
    "application/unknown",
    "application/x-binary",
];

/// A file response as a `ToolFile`: MIME from `content-type` (sniffed when generic), the name
/// from `content-disposition` when given.
fn tool_file(bytes: &[u8], content_type: Option<&str>, disposition: Option<&str>) -> Value {
    let declared = content_type.map(essence).unwrap_or_default();
    let mime = if GENERIC_TYPES.contains(&declared.as_str()) {
        sniff(bytes).to_owned()
    } else {
        declared
    };
    let mut file = json!({
        "_tag": "ToolFile",
        "mimeType": mime,
        "encoding": "base64",
        "data": STANDARD.encode(bytes),
        "byteLength": bytes.len(),
    });
    if let Some(name) = disposition.and_then(disposition_filename) {
        file["name"] = json!(name);
    }
    file
}

/// `{data: base64, size?}` ⇒ `ToolFile`; anything else is returned unchanged.
fn byte_field_file(body: Value, hint: &ByteFieldHint) -> Value {
    let Some(object) = body.as_object() else {
        return body;
    };
    let Some(bytes) = object
        .get(&hint.field)
        .and_then(Value::as_str)
        .and_then(|text| decode_base64(text, hint.encoding))
    else {
        return body;
    };
    let declared = ["mimeType", "contentType", "mime_type", "content_type"]
        .iter()
        .find_map(|k| object.get(*k).and_then(Value::as_str))
        .map(essence)
        .filter(|m| !GENERIC_TYPES.contains(&m.as_str()));
    let mut file = json!({
        "_tag": "ToolFile",
        "mimeType": declared.unwrap_or_else(|| sniff(&bytes).to_owned()),
        "encoding": "base64",
        "data": STANDARD.encode(&bytes),
        "byteLength": bytes.len(),
    });
    if let Some(name) = ["name", "filename", "fileName"]
        .iter()
        .find_map(|k| object.get(*k).and_then(Value::as_str))
    {
        file["name"] = json!(name);
    }
    file
}

/// Lenient base64: either alphabet, padded or not, whitespace ignored.
fn decode_base64(text: &str, preferred: ByteEncoding) -> Option<Vec<u8>> {
    let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    let engines = match preferred {
        ByteEncoding::Base64 => [&STANDARD, &STANDARD_NO_PAD, &URL_SAFE, &URL_SAFE_NO_PAD],
        ByteEncoding::Base64url => [&URL_SAFE, &URL_SAFE_NO_PAD, &STANDARD, &STANDARD_NO_PAD],
    };
    engines
        .iter()
        .find_map(|engine| engine.decode(&compact).ok())
}

fn sniff(bytes: &[u8]) -> &'static str {
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        "image/jpeg"
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        "image/png"
    } else if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
        "image/gif"
    } else if bytes.len() >= 12 && bytes.starts_with(b"RIFF") && bytes.get(8..12) == Some(b"WEBP") {
        "image/webp"
    } else if bytes.starts_with(b"%PDF-") {
        "application/pdf"
    } else if bytes.starts_with(b"PK\x03\x04") {
        "application/zip"
    } else if !bytes.is_empty() && looks_like_text(bytes) {
        "text/plain"
    } else {
        "application/octet-stream"
    }
}

fn looks_like_text(bytes: &[u8]) -> bool {
    std::str::from_utf8(bytes).is_ok_and(|text| {
        !text
            .chars()
            .any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r' | '\u{0c}'))
    })
}

/// `filename*=UTF-8''…` (preferred) or `filename="…"` from a `content-disposition` header.
fn disposition_filename(header: &str) -> Option<String> {
    let mut plain = None;
    for param in header.split(';').map(str::trim) {
        let Some((key, value)) = param.split_once('=') else {
            continue;
        };
        match key.trim().to_ascii_lowercase().as_str() {
            "filename*" => {
                let encoded = value.trim().rsplit('\'').next().unwrap_or_default();
                let decoded = String::from_utf8_lossy(&crate::net::percent_decode_bytes(encoded))
                    .into_owned();
                if !decoded.is_empty() {
                    return Some(decoded);
                }
            }
            "filename" => {
                let name = value.trim().trim_matches('"').to_owned();
                if !name.is_empty() {
                    plain = Some(name);
                }
            }
            _ => {}
        }
    }
    plain
}

// ---------------------------------------------------------------------------------------------
// Secret scrubbing

/// Replaces the connection's credential values in returned strings (see the module doc).
struct Scrubber<'a> {
    secrets: Vec<&'a str>,
}

const REDACTED: &str = "[redacted]";

impl<'a> Scrubber<'a> {
    fn new(credentials: &'a BTreeMap<String, Option<SecretValue>>) -> Scrubber<'a> {
        let mut secrets: Vec<&str> = credentials
            .values()
            .flatten()
            .map(|s| s.expose().trim())
            .filter(|s| s.chars().count() >= MIN_SCRUBBED_LEN)
            .collect();
        // Longest first, so a secret that contains another is replaced whole.
        crate::sort::sort_by(&mut secrets, |a, b| b.len().cmp(&a.len()));
        secrets.dedup();
        Scrubber { secrets }
    }

    fn text(&self, mut text: String) -> String {
        for secret in &self.secrets {
            if text.contains(secret) {
                text = text.replace(secret, REDACTED);
            }
        }
        text
    }

    fn value(&self, value: &mut Value) {
        if self.secrets.is_empty() {
            return;
        }
        match value {
            Value::String(text) if self.secrets.iter().any(|s| text.contains(s)) => {
                *text = self.text(std::mem::take(text));
            }
            Value::Array(items) => items.iter_mut().for_each(|v| self.value(v)),
            Value::Object(map) => {
                let is_file = map.get("_tag").and_then(Value::as_str) == Some("ToolFile");
                let dirty_keys = map
                    .keys()
                    .any(|k| self.secrets.iter().any(|s| k.contains(s)));
                if dirty_keys {
                    let old = std::mem::take(map);
                    for (key, child) in old {
                        map.insert(self.text(key), child);
                    }
                }
                for (key, child) in map.iter_mut() {
                    // The base64 payload of a file is left intact (scrubbing could corrupt it).
                    if is_file && key == "data" {
                        continue;
                    }
                    self.value(child);
                }
            }
            _ => {}
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Small helpers

/// JavaScript's `String(value)` for JSON values, except that objects become JSON text.
fn js_string(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                i.to_string()
            } else if let Some(u) = n.as_u64() {
                u.to_string()
            } else {
                let f = n.as_f64().unwrap_or_default();
                if f.fract() == 0.0 && f.abs() < 1e21 {
                    format!("{f:.0}")
                } else {
                    f.to_string()
                }
            }
        }
        Value::Bool(b) => b.to_string(),
        Value::Null => "null".to_owned(),
        // `Array.prototype.join`: null items become empty strings.
        Value::Array(items) => items
            .iter()
            .map(|item| match item {
                Value::Null => String::new(),
                other => js_string(other),
            })
            .collect::<Vec<_>>()
            .join(","),
        Value::Object(_) => value.to_string(),
    }
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn escape_pointer(name: &str) -> String {
    name.replace('~', "~0").replace('/', "~1")
}

/// `encodeURIComponent`, or `encodeURI`'s set when reserved characters are allowed.
fn percent_encode(text: &str, allow_reserved: bool) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(text.len());
    for &byte in text.as_bytes() {
        let keep = byte.is_ascii_alphanumeric()
            || matches!(
                byte,
                b'-' | b'_' | b'.' | b'!' | b'~' | b'*' | b'\'' | b'(' | b')'
            )
            || (allow_reserved
                && matches!(
                    byte,
                    b';' | b',' | b'/' | b'?' | b':' | b'@' | b'&' | b'=' | b'+' | b'$' | b'#'
                ));
        if keep {
            out.push(char::from(byte));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(byte >> 4)]));
            out.push(char::from(HEX[usize::from(byte & 0x0f)]));
        }
    }
    out
}

#[cfg(test)]
#[path = "invoke_tests.rs"]
pub(crate) mod tests;
