//! MCP protocol `2026-07-28` without sessions: every request describes itself (protocol version
//! and client capabilities in `params._meta`, the `MCP-Protocol-Version` header, optional
//! `Mcp-Method`/`Mcp-Name` routing headers), so the Worker answers it directly — no
//! `initialize`, no `Mcp-Session-Id`, no Durable Object hop (executor-behaviour.md §6.1 "Later
//! protocol").
//!
//! Owns: recognising such a request ([`wants_stateless`]), the header/`_meta` consistency
//! checks, `server/discover`, and turning approval pauses into multi-round-trip results: a
//! paused `execute` answers `resultType: "input_required"` with one elicitation request plus an
//! opaque `requestState`; the client repeats the call with `inputResponses` and that state, and
//! the answer is mapped onto [`crate::executions::resume`] (durable in D1, idempotent, so a
//! replayed follow-up gets the recorded outcome).
//!
//! The tools themselves are the session mode's ([`super::server::Dispatch`] in model mode);
//! this module only adapts the wire: `resultType` on every result, `ttlMs`/`cacheScope` on
//! `tools/list`. Legacy (session) answers never carry `resultType`.

use serde_json::{json, Map, Value};

use super::jsonrpc::{
    McpFailure, RequestFailure, HEADER_MISMATCH, INVALID_PARAMS, INVALID_REQUEST, METHOD_NOT_FOUND,
    UNSUPPORTED_PROTOCOL_VERSION,
};
use super::server::{self, Answer, Dispatch};
use super::SUPPORTED_PROTOCOL_VERSIONS;
use crate::app::Services;
use crate::auth::Principal;
use crate::http::{Request, Response};

/// The session-less protocol revision this module speaks.
pub const STATELESS_PROTOCOL_VERSION: &str = "2026-07-28";

pub const META_PROTOCOL_VERSION: &str = "io.modelcontextprotocol/protocolVersion";
pub const META_CLIENT_CAPABILITIES: &str = "io.modelcontextprotocol/clientCapabilities";
pub const META_SERVER_INFO: &str = "io.modelcontextprotocol/serverInfo";

/// The key of our one input request in `inputRequests` / `inputResponses`.
pub const APPROVAL_INPUT_KEY: &str = "approval";

/// Every protocol version this server implements (sessions for the older ones).
pub fn all_protocol_versions() -> Vec<&'static str> {
    let mut all = SUPPORTED_PROTOCOL_VERSIONS.to_vec();
    all.push(STATELESS_PROTOCOL_VERSION);
    all
}

fn header<'r>(request: &'r Request, name: &str) -> Option<&'r str> {
    request.header(name).map(str::trim)
}

fn meta_version(message: &Value) -> Option<&str> {
    message
        .pointer("/params/_meta")
        .and_then(|m| m.get(META_PROTOCOL_VERSION))
        .and_then(Value::as_str)
}

/// Should this POST without a session id be answered statelessly? Yes when it is not
/// `initialize` and it claims a protocol version that has no `initialize` handshake (header or
/// `_meta`), or is `server/discover`. Everything else keeps the session rules.
pub fn wants_stateless(request: &Request) -> bool {
    let Ok(message) = serde_json::from_slice::<Value>(&request.body) else {
        return false;
    };
    let method = message.get("method").and_then(Value::as_str);
    if method == Some("initialize") {
        return false;
    }
    let non_legacy = |v: &str| !SUPPORTED_PROTOCOL_VERSIONS.contains(&v);
    method == Some("server/discover")
        || header(request, "mcp-protocol-version").is_some_and(non_legacy)
        || meta_version(&message).is_some_and(non_legacy)
}

/// Context of one stateless request.
pub struct Stateless<'a> {
    pub services: Services<'a>,
    pub principal: &'a Principal,
    /// Origin of this request (hand-off links of the built-in tools).
    pub web_origin: Option<&'a str>,
}

fn accepts_json(request: &Request) -> bool {
    let accept = header(request, "accept").unwrap_or("").to_ascii_lowercase();
    accept.is_empty() || accept.contains("application/json") || accept.contains("*/*")
}

fn fail(id: &Value, code: i64, message: impl Into<String>) -> RequestFailure {
    RequestFailure {
        id: id.clone(),
        code,
        message: message.into(),
        data: None,
        malformed_request: false,
    }
}

/// `Mcp-Name` values that are not plain header text travel as `=?base64?<b64>?=`.
fn decode_header_value(raw: &str) -> Option<String> {
    use base64::Engine as _;
    match raw
        .strip_prefix("=?base64?")
        .and_then(|rest| rest.strip_suffix("?="))
    {
        Some(inner) => base64::engine::general_purpose::STANDARD
            .decode(inner)
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok()),
        None => Some(raw.to_owned()),
    }
}

/// The protocol checks of §"Protocol version" and the standard headers: `_meta` must carry the
/// version and client capabilities, the header must be present and equal, the version must be
/// one we speak without a session, and routing headers (when sent) must match the body.
pub fn check_request(request: &Request, id: &Value, message: &Value) -> Result<(), RequestFailure> {
    let method = message.get("method").and_then(Value::as_str).unwrap_or("");
    let meta = message.pointer("/params/_meta").and_then(Value::as_object);
    let missing: Vec<&str> = [META_PROTOCOL_VERSION, META_CLIENT_CAPABILITIES]
        .into_iter()
        .filter(|key| {
            let well_formed = matches!(
                (meta.and_then(|m| m.get(*key)), *key),
                (Some(Value::String(_)), META_PROTOCOL_VERSION)
                    | (Some(Value::Object(_)), META_CLIENT_CAPABILITIES)
            );
            !well_formed
        })
        .collect();
    if !missing.is_empty() {
        let mut failure = fail(
            id,
            INVALID_PARAMS,
            format!(
                "Invalid params: request _meta is missing or has malformed required fields: {}",
                missing.join(", ")
            ),
        );
        failure.malformed_request = true;
        return Err(failure);
    }
    let body_version = meta_version(message).unwrap_or("");
    let Some(header_version) = header(request, "mcp-protocol-version") else {
        return Err(fail(
            id,
            HEADER_MISMATCH,
            "request _meta protocolVersion requires the MCP-Protocol-Version header",
        ));
    };
    if header_version != body_version {
        return Err(fail(
            id,
            HEADER_MISMATCH,
            format!(
                "MCP-Protocol-Version header ({header_version}) does not match request _meta \
                 protocolVersion ({body_version})"
            ),
        ));
    }
    if body_version != STATELESS_PROTOCOL_VERSION {
        // Older versions are spoken too, but only inside a session opened by `initialize`.
        let mut failure = fail(
            id,
            UNSUPPORTED_PROTOCOL_VERSION,
            "Unsupported protocol version",
        );
        failure.data = Some(json!({
            "requested": body_version,
            "supported": all_protocol_versions(),
        }));
        return Err(failure);
    }
    if let Some(sent) = header(request, "mcp-method") {
        if sent != method {
            return Err(fail(
                id,
                HEADER_MISMATCH,
                format!("Mcp-Method header `{sent}` does not match body method `{method}`"),
            ));
        }
    }
    if let Some(raw) = header(request, "mcp-name") {
        let expected = match method {
            "tools/call" | "prompts/get" => message.pointer("/params/name"),
            "resources/read" => message.pointer("/params/uri"),
            _ => None,
        }
        .and_then(Value::as_str);
        let sent = decode_header_value(raw);
        if sent.is_none() || sent.as_deref() != expected {
            return Err(fail(
                id,
                HEADER_MISMATCH,
                format!(
                    "Mcp-Name header does not match body value `{}`",
                    expected.unwrap_or("")
                ),
            ));
        }
    }
    Ok(())
}

/// The `server/discover` result.
pub fn discover_result() -> Value {
    let mut meta = Map::new();
    meta.insert(
        META_SERVER_INFO.into(),
        json!({ "name": server::SERVER_NAME, "version": server::SERVER_VERSION }),
    );
    json!({
        "resultType": "complete",
        "supportedVersions": all_protocol_versions(),
        // Tool list changes would travel over `subscriptions/listen`, which we do not offer.
        "capabilities": { "tools": {} },
        "ttlMs": 0,
        "cacheScope": "private",
        "_meta": meta,
    })
}

/// `tools/list` on this revision: cacheability hints, and no `execution` (a field the revision
/// removed).
pub fn tools_list_result() -> Value {
    let tools: Vec<Value> = server::tools()
        .into_iter()
        .map(|mut tool| {
            if let Value::Object(m) = &mut tool {
                m.remove("execution");
            }
            tool
        })
        .collect();
    json!({ "resultType": "complete", "tools": tools, "ttlMs": 0, "cacheScope": "private" })
}

/// May we ask this client with a form elicitation? (An empty `elicitation` capability means
/// form mode.)
fn supports_form_elicitation(message: &Value) -> bool {
    match message
        .pointer("/params/_meta")
        .and_then(|m| m.get(META_CLIENT_CAPABILITIES))
        .and_then(|c| c.get("elicitation"))
    {
        Some(Value::Object(e)) => e.is_empty() || e.contains_key("form"),
        _ => false,
    }
}

impl Stateless<'_> {
    /// Answers one POST (the envelope has already checked method, Origin and identity).
    pub async fn handle(&self, request: &Request) -> Response {
        if !accepts_json(request) {
            return McpFailure::NotAcceptable.into_response();
        }
        if !header(request, "content-type")
            .unwrap_or("")
            .to_ascii_lowercase()
            .contains("application/json")
        {
            return McpFailure::UnsupportedMediaType.into_response();
        }
        let Ok(message) = serde_json::from_slice::<Value>(&request.body) else {
            return McpFailure::ParseError.into_response();
        };
        let Some(object) = message.as_object() else {
            // Batches left JSON-RPC-over-MCP in 2025-06-18.
            return McpFailure::InvalidRequest("send one JSON-RPC message per request".into())
                .into_response();
        };
        let valid_version = object.get("jsonrpc").and_then(Value::as_str) == Some("2.0");
        let id = object.get("id").cloned();
        let method = object.get("method").and_then(Value::as_str);
        // A client response has no `method` member; an id with a non-string `method` is a
        // malformed request.
        let is_response = !object.contains_key("method");
        let id = match (id, method) {
            // Notifications and client responses: nothing to answer.
            (None, Some(_)) if valid_version => return Response::empty(202),
            (Some(_), None) if valid_version && is_response => return Response::empty(202),
            (Some(id), Some(_)) if valid_version && (id.is_string() || id.is_number()) => id,
            _ => return McpFailure::InvalidRequest("Invalid Request".into()).into_response(),
        };
        if let Err(failure) = check_request(request, &id, &message) {
            return failure.into_response();
        }
        match self.answer(&id, &message).await {
            Ok(result) => Response::json(
                200,
                &json!({ "jsonrpc": "2.0", "id": id, "result": result }),
            ),
            Err(failure) => failure.into_response(),
        }
    }

    /// Answers a checked request.
    pub async fn answer(&self, id: &Value, message: &Value) -> Result<Value, RequestFailure> {
        let method = message.get("method").and_then(Value::as_str).unwrap_or("");
        match method {
            "server/discover" => Ok(discover_result()),
            "ping" => Ok(json!({ "resultType": "complete" })),
            "tools/list" => Ok(tools_list_result()),
            "tools/call" => self.call_tool(id, message).await,
            _ => Err(fail(id, METHOD_NOT_FOUND, "Method not found")),
        }
    }

    fn dispatch(&self) -> Dispatch<'_> {
        Dispatch {
            services: self.services,
            principal: self.principal,
            web_origin: self.web_origin,
            mode: super::ElicitationMode::Model,
            session_id: None,
        }
    }

    /// Runs a tool through the session dispatcher and returns its `CallToolResult`.
    async fn run_tool(
        &self,
        id: &Value,
        name: &str,
        arguments: Value,
    ) -> Result<Value, RequestFailure> {
        let call = json!({ "jsonrpc": "2.0", "id": id, "method": "tools/call",
                           "params": { "name": name, "arguments": arguments } });
        match self.dispatch().answer(&call).await {
            Answer::Reply(reply) => match reply.get("result") {
                Some(result) => Ok(result.clone()),
                None => Err(fail(
                    id,
                    reply
                        .pointer("/error/code")
                        .and_then(Value::as_i64)
                        .unwrap_or(INVALID_REQUEST),
                    reply
                        .pointer("/error/message")
                        .and_then(Value::as_str)
                        .unwrap_or("Invalid Request"),
                )),
            },
            Answer::Nothing => Err(fail(id, INVALID_REQUEST, "Invalid Request")),
        }
    }

    async fn call_tool(&self, id: &Value, message: &Value) -> Result<Value, RequestFailure> {
        let params = message.get("params").cloned().unwrap_or(Value::Null);
        let name = params.get("name").and_then(Value::as_str).unwrap_or("");
        let arguments = params
            .get("arguments")
            .cloned()
            .unwrap_or_else(|| json!({}));
        let can_elicit = supports_form_elicitation(message);
        let result = match params.get("requestState") {
            None => self.run_tool(id, name, arguments).await?,
            Some(state) => {
                let state = state.as_str().unwrap_or("");
                let execution_id = request_state::open(self.services, self.principal, state)
                    .ok_or_else(|| {
                        fail(id, INVALID_PARAMS, "Invalid params: unknown requestState")
                    })?;
                let response = params
                    .get("inputResponses")
                    .and_then(|r| r.get(APPROVAL_INPUT_KEY));
                match response {
                    Some(response) => {
                        let action = response
                            .get("action")
                            .and_then(Value::as_str)
                            .filter(|a| matches!(*a, "accept" | "decline" | "cancel"))
                            .ok_or_else(|| {
                                fail(
                                    id,
                                    INVALID_PARAMS,
                                    "Invalid params: inputResponses.approval must be an \
                                     elicitation result with action accept, decline or cancel",
                                )
                            })?;
                        self.run_tool(
                            id,
                            "resume",
                            json!({ "executionId": execution_id, "action": action }),
                        )
                        .await?
                    }
                    // The state came back without an answer: ask again, if still waiting.
                    None => self.still_paused(&execution_id).await?,
                }
            }
        };
        Ok(self.adapt(result, can_elicit))
    }

    /// The paused result of `execution_id` again, or the not-found guidance.
    async fn still_paused(&self, execution_id: &str) -> Result<Value, RequestFailure> {
        use crate::executions::{self, ExecuteError};
        let envelope = match executions::paused(self.services, self.principal, execution_id).await {
            Ok(envelope) => envelope,
            Err(ExecuteError::NotFound) => executions::envelope::execution_not_found(execution_id),
            Err(e) => {
                let tag = crate::ids::hex(&crate::ids::random_bytes::<4>());
                crate::logging::error(&format!(
                    "mcp: reading pause {execution_id} failed [{tag}]: {e}"
                ));
                let error = format!("Internal tool error [{tag}]");
                return Ok(json!({
                    "content": [{ "type": "text", "text": format!("Error: {error}") }],
                    "structuredContent": { "status": "error", "error": error },
                    "isError": true,
                }));
            }
        };
        let mut value =
            json!({ "content": envelope.content, "structuredContent": envelope.structured });
        if envelope.is_error {
            value["isError"] = Value::Bool(true);
        }
        Ok(value)
    }

    /// Marks a tool result for this revision: a pause becomes `input_required` when the client
    /// can answer a form elicitation (otherwise it stays the model-side pause with `resume`);
    /// anything else is `complete`.
    fn adapt(&self, mut result: Value, can_elicit: bool) -> Value {
        let paused = result
            .pointer("/structuredContent/status")
            .and_then(Value::as_str)
            == Some("waiting_for_interaction");
        let execution_id = result
            .pointer("/structuredContent/executionId")
            .and_then(Value::as_str)
            .map(str::to_owned);
        if let (true, true, Some(execution_id)) = (paused, can_elicit, execution_id) {
            let message = result
                .pointer("/structuredContent/interaction/message")
                .and_then(Value::as_str)
                .unwrap_or("Approve this tool call?");
            let schema = result
                .pointer("/structuredContent/interaction/requestedSchema")
                .cloned()
                .unwrap_or_else(|| json!({ "type": "object", "properties": {} }));
            return json!({
                "resultType": "input_required",
                "inputRequests": {
                    APPROVAL_INPUT_KEY: {
                        "method": "elicitation/create",
                        "params": { "mode": "form", "message": message, "requestedSchema": schema },
                    }
                },
                "requestState": request_state::seal(self.services, self.principal, &execution_id),
            });
        }
        if let Value::Object(m) = &mut result {
            m.insert("resultType".into(), json!("complete"));
        }
        result
    }
}

/// `requestState` is echoed by the client verbatim, so it is integrity-protected: `v1.<id>.<mac>`
/// with an HMAC-SHA-256 over the principal and the execution id, keyed from the deployment
/// secret. The execution id is unguessable and the row is re-checked against the principal on
/// use anyway; the MAC makes a forged or foreign state fail before any storage read.
pub mod request_state {
    use base64::Engine as _;
    use sha2::{Digest, Sha256};

    use crate::app::Services;
    use crate::auth::Principal;

    const PREFIX: &str = "v1.";

    fn key(services: Services<'_>) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(b"executor/mcp-request-state/v1\0");
        h.update(services.config.secret_key.expose().as_bytes());
        h.finalize().into()
    }

    fn hmac(key: &[u8; 32], parts: &[&str]) -> [u8; 32] {
        let mut block = [0u8; 64];
        block[..32].copy_from_slice(key);
        let mut inner = Sha256::new();
        inner.update(block.map(|b| b ^ 0x36));
        for part in parts {
            inner.update((part.len() as u64).to_be_bytes());
            inner.update(part.as_bytes());
        }
        let inner = inner.finalize();
        let mut outer = Sha256::new();
        outer.update(block.map(|b| b ^ 0x5c));
        outer.update(inner);
        outer.finalize().into()
    }

    fn mac(services: Services<'_>, principal: &Principal, execution_id: &str) -> [u8; 32] {
        hmac(
            &key(services),
            &[
                &principal.organization.id,
                &principal.account_id,
                execution_id,
            ],
        )
    }

    /// The state for a pause of `execution_id`.
    pub fn seal(services: Services<'_>, principal: &Principal, execution_id: &str) -> String {
        let mac = mac(services, principal, execution_id);
        format!(
            "{PREFIX}{execution_id}.{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(mac)
        )
    }

    /// The execution id inside a state this deployment sealed for `principal`.
    pub fn open(services: Services<'_>, principal: &Principal, state: &str) -> Option<String> {
        let rest = state.strip_prefix(PREFIX)?;
        let (execution_id, sent) = rest.rsplit_once('.')?;
        let sent = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(sent)
            .ok()?;
        let expected = mac(services, principal, execution_id);
        // Constant-time comparison.
        let same = sent.len() == expected.len()
            && sent
                .iter()
                .zip(expected.iter())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0;
        same.then(|| execution_id.to_owned())
    }
}

#[cfg(test)]
#[path = "stateless_tests.rs"]
mod tests;
