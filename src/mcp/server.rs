//! Answers one JSON-RPC message of an MCP session: `initialize` (version negotiation), `ping`,
//! `tools/list`, `tools/call`; notifications get no answer. The tools are `execute` and `resume`
//! (the model-side variant, §6.5): they call the same [`crate::executions`] services as
//! `POST /api/executions` and `POST /api/executions/:id/resume` and answer the same envelope.
//! Paused executions live in D1, not in the session, so any session of the same principal —
//! a brand-new one included — can resume them.

use std::sync::Arc;

use rmcp::model::{
    CallToolResult, ContentBlock, Implementation, InitializeRequestParams, InitializeResult,
    ProtocolVersion, ServerCapabilities, Tool, ToolsCapability,
};
use serde_json::{json, Map, Value};

use super::jsonrpc::{error_object, INVALID_PARAMS, INVALID_REQUEST, METHOD_NOT_FOUND};
use super::{LATEST_PROTOCOL_VERSION, SUPPORTED_PROTOCOL_VERSIONS};
use crate::app::Services;
use crate::auth::Principal;
use crate::executions::{self, Envelope, ExecuteError, ResumeAction};
use crate::logging;

pub const SERVER_NAME: &str = "executor";
pub const SERVER_VERSION: &str = "1.0.0";

/// The version we answer for a requested one: the same when we support it, else our latest.
pub fn negotiate(requested: &str) -> &'static str {
    SUPPORTED_PROTOCOL_VERSIONS
        .iter()
        .find(|v| **v == requested)
        .copied()
        .unwrap_or(LATEST_PROTOCOL_VERSION)
}

/// The `initialize` result for a requested protocol version.
pub fn initialize_result(requested: &str) -> Value {
    let mut tools = ToolsCapability::default();
    tools.list_changed = Some(true);
    let mut capabilities = ServerCapabilities::default();
    capabilities.tools = Some(tools);
    let version = match negotiate(requested) {
        "2024-11-05" => ProtocolVersion::V_2024_11_05,
        "2025-03-26" => ProtocolVersion::V_2025_03_26,
        "2025-06-18" => ProtocolVersion::V_2025_06_18,
        _ => ProtocolVersion::V_2025_11_25,
    };
    let result = InitializeResult::new(capabilities)
        .with_protocol_version(version)
        .with_server_info(Implementation::new(SERVER_NAME, SERVER_VERSION));
    serde_json::to_value(result).unwrap_or(Value::Null)
}

/// The agent-facing description of `execute`.
pub fn execute_description() -> String {
    [
        "Run a short JavaScript program in an isolated sandbox and get back what it returns.",
        "",
        "## How code runs",
        "- Write the body of an async function: `return` a value and `await` freely at top level. \
         A single expression (`6 * 7`), `export default <expression>`, or one function \
         (declaration or arrow) that gets called are accepted too. Fenced ```js blocks are \
         unwrapped.",
        "- The returned value must be JSON-serialisable; it comes back as text and as \
         `structuredContent.result`.",
        "- `console.log/info/warn/error/debug` lines are captured and returned as logs.",
        "- `emit(value)` shows a value to the user without returning it.",
        "- Configured API tools are called as `await tools.<path>(input)`; each call resolves to \
         `{ ok: true, data }` or `{ ok: false, error: { code, message } }`.",
        "- A call that needs a person's approval pauses the run: the result has status \
         `waiting_for_interaction`, the question and an `executionId`. Ask the user, then call \
         `resume` with their answer; the run continues where it stopped. `Date.now()` and \
         `Math.random()` are replayed on resume, so a resumed run sees the same values.",
        "",
        "## Limits",
        "- No network: `fetch` is disabled, there are no timers, modules or `require`.",
        "- Each run has a wall-clock deadline and a memory cap; an endless loop is stopped with an \
         error.",
        "- Errors (syntax errors, thrown exceptions, the deadline) come back as an error result \
         with the message.",
    ]
    .join("\n")
}

/// The agent-facing description of `resume`.
pub fn resume_description() -> String {
    "Continue an execution that paused for a decision, using the executionId from the paused \
     `execute` (or `resume`) result. Relay the user's answer as `action`; on this connection the \
     model passes that answer along, so only accept what the user actually approved."
        .to_owned()
}

pub(super) fn tool_value(name: &str, description: String, schema: Value) -> Value {
    let schema: Map<String, Value> = match schema {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    let tool = Tool::new(name.to_owned(), description, Arc::new(schema));
    let mut value = serde_json::to_value(tool).unwrap_or(Value::Null);
    if let Value::Object(m) = &mut value {
        m.insert("execution".into(), json!({ "taskSupport": "forbidden" }));
    }
    value
}

/// Tools offered by this session, as `tools/list` items.
pub fn tools() -> Vec<Value> {
    let execute = json!({
        "$schema": "http://json-schema.org/draft-07/schema#",
        "type": "object",
        "properties": {
            "code": {
                "type": "string",
                "minLength": 1,
                "description": "JavaScript to run (see the tool description)."
            }
        },
        "required": ["code"],
        "additionalProperties": false
    });
    let resume = json!({
        "$schema": "http://json-schema.org/draft-07/schema#",
        "type": "object",
        "properties": {
            "executionId": {
                "type": "string",
                "description": "The executionId of the paused result."
            },
            "action": {
                "type": "string",
                "enum": ["accept", "decline", "cancel"],
                "description": "accept lets the paused call run; decline or cancel make it fail \
                                inside the script."
            },
            "content": {
                "type": "string",
                "default": "{}",
                "description": "The user's form response as a JSON-encoded object; \"{}\" for \
                                an approval."
            }
        },
        "required": ["executionId", "action"],
        "additionalProperties": false
    });
    vec![
        tool_value("execute", execute_description(), execute),
        tool_value("resume", resume_description(), resume),
    ]
}

/// Tools listed in a mode: browser mode offers its own `resume`; native mode asks the client itself, so it lists `execute` only
/// (`resume` still answers, for the fallback when the client cannot be asked).
pub fn tools_for(mode: super::ElicitationMode) -> Vec<Value> {
    match mode {
        super::ElicitationMode::Browser => super::browser::tools(),
        super::ElicitationMode::Native => {
            let mut tools = tools();
            tools.retain(|t| t["name"] == "execute");
            tools
        }
        super::ElicitationMode::Model => tools(),
    }
}

/// A tool-level failure the model can read (MCP convention: a result, not a JSON-RPC error).
pub(super) fn tool_error(text: String) -> Value {
    let mut result = CallToolResult::error(vec![ContentBlock::text(text)]);
    result.result_type = None;
    serde_json::to_value(result).unwrap_or(Value::Null)
}

/// Context for answering messages of one session.
pub struct Dispatch<'a> {
    pub services: Services<'a>,
    pub principal: &'a Principal,
    /// The origin the session was created at (hand-off links of the built-in tools).
    pub web_origin: Option<&'a str>,
    /// How this session asks for approvals (which `resume` it offers, if any).
    pub mode: super::ElicitationMode,
    /// The session answering (`None` outside a session).
    pub session_id: Option<&'a str>,
}

/// What one incoming message produced.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// A JSON-RPC response object to send back.
    Reply(Value),
    /// A notification or a client response: nothing to send.
    Nothing,
}

impl Dispatch<'_> {
    /// Answers one message that is not `initialize` (the session layer owns the handshake).
    pub async fn answer(&self, message: &Value) -> Answer {
        let Some(object) = message.as_object() else {
            return Answer::Reply(error_object(
                Value::Null,
                INVALID_REQUEST,
                "Invalid Request",
            ));
        };
        let id = object.get("id").cloned();
        let method = object.get("method").and_then(Value::as_str);
        let valid_version = object.get("jsonrpc").and_then(Value::as_str) == Some("2.0");
        // A response (to a server request) has no `method` member at all; an id with a
        // `method` that is not a string is a malformed request, not a response.
        let is_response = !object.contains_key("method");
        let (id, method) = match (id, method) {
            // Notifications have no id; responses have no method.
            (None, _) if valid_version => return Answer::Nothing,
            (Some(_), None) if valid_version && is_response => return Answer::Nothing,
            (Some(id), Some(method)) if valid_version && (id.is_string() || id.is_number()) => {
                (id, method)
            }
            (id, _) => {
                return Answer::Reply(error_object(
                    id.unwrap_or(Value::Null),
                    INVALID_REQUEST,
                    "Invalid Request",
                ))
            }
        };
        let params = object.get("params").cloned().unwrap_or(Value::Null);
        let result = match method {
            "ping" => Ok(json!({})),
            "tools/list" => Ok(json!({ "tools": tools_for(self.mode) })),
            "tools/call" => Ok(self.call_tool(params).await),
            "initialize" => Err((
                INVALID_REQUEST,
                "Invalid Request: Server already initialized",
            )),
            _ => Err((METHOD_NOT_FOUND, "Method not found")),
        };
        Answer::Reply(match result {
            Ok(result) => json!({ "jsonrpc": "2.0", "id": id, "result": result }),
            Err((code, message)) => error_object(id, code, message),
        })
    }

    async fn call_tool(&self, params: Value) -> Value {
        let (name, arguments) = match call_params(&params) {
            Ok(p) => p,
            Err(e) => {
                return tool_error(format!(
                    "MCP error {INVALID_PARAMS}: Invalid tools/call params: {e}"
                ))
            }
        };
        if self.mode == super::ElicitationMode::Browser {
            if let Some(result) = super::browser::call_tool(self, &name, &arguments).await {
                return result;
            }
        }
        match name.as_str() {
            "execute" => self.execute(&arguments).await,
            "resume" => self.resume(&arguments).await,
            other => tool_error(format!(
                "MCP error {INVALID_PARAMS}: Tool {other} not found"
            )),
        }
    }

    async fn execute(&self, arguments: &Map<String, Value>) -> Value {
        let Some(code) = arguments.get("code").and_then(Value::as_str) else {
            return tool_error(format!(
                "MCP error {INVALID_PARAMS}: Input validation error: Invalid arguments for tool \
                 execute: `code` is required and must be a string"
            ));
        };
        match executions::execute_at(self.services, self.principal, code, self.web_origin).await {
            Ok(envelope) => call_result(&envelope),
            Err(ExecuteError::EmptyCode) => tool_error(format!(
                "MCP error {INVALID_PARAMS}: Input validation error: Invalid arguments for tool \
                 execute: `code` must be a non-empty string"
            )),
            Err(e) => internal_result("execute", &e),
        }
    }

    async fn resume(&self, arguments: &Map<String, Value>) -> Value {
        let invalid = |what: &str| {
            tool_error(format!(
                "MCP error {INVALID_PARAMS}: Input validation error: Invalid arguments for tool \
                 resume: {what}"
            ))
        };
        let Some(id) = arguments.get("executionId").and_then(Value::as_str) else {
            return invalid("`executionId` is required and must be a string");
        };
        let Some(action) = arguments
            .get("action")
            .and_then(Value::as_str)
            .and_then(ResumeAction::parse)
        else {
            return invalid("`action` must be one of \"accept\", \"decline\", \"cancel\"");
        };
        // `content` (a JSON-encoded object) answers form fields; approval gates ask for none, so
        // it is read by nobody, and a malformed one is never an error (§6.5).
        match executions::resume(self.services, self.principal, id, action, self.web_origin).await {
            Ok(envelope) => call_result(&envelope),
            Err(ExecuteError::NotFound) => {
                call_result(&executions::envelope::execution_not_found(id))
            }
            Err(ExecuteError::InProgress) => {
                let text = format!(
                    "Execution {id} is being resumed by another request right now. Call resume \
                     again in a moment to get its outcome."
                );
                json!({
                    "content": [{ "type": "text", "text": text }],
                    "structuredContent": { "status": "execution_in_progress", "executionId": id },
                    "isError": true,
                })
            }
            Err(e) => internal_result("resume", &e),
        }
    }
}

/// An envelope as a `CallToolResult` (`isError` only when true).
pub(super) fn call_result(envelope: &Envelope) -> Value {
    let mut value = json!({
        "content": envelope.content,
        "structuredContent": envelope.structured,
    });
    if envelope.is_error {
        value["isError"] = Value::Bool(true);
    }
    value
}

/// A failure of ours (storage): an opaque id for the model, the cause in the log (§6.6).
/// The concurrency limit is the caller's to fix (wait and retry): said plainly, not logged.
pub(super) fn internal_result(tool: &str, cause: &ExecuteError) -> Value {
    if let ExecuteError::TooManyRunning { limit } = cause {
        let error = cause.to_string();
        return json!({
            "content": [{ "type": "text", "text": format!("Error: {error}") }],
            "structuredContent": {
                "status": "error",
                "error": error,
                "code": "execution_limit",
                "limit": limit,
            },
            "isError": true,
        });
    }
    let id = crate::ids::hex(&crate::ids::random_bytes::<4>());
    logging::error(&format!("mcp: {tool} failed [{id}]: {cause}"));
    let error = format!("Internal tool error [{id}]");
    json!({
        "content": [{ "type": "text", "text": format!("Error: {error}") }],
        "structuredContent": { "status": "error", "error": error },
        "isError": true,
    })
}

/// The tool name and arguments of `tools/call` params, checked as the MCP schema types them
/// (`CallToolRequestParams`: `name` a string; `_meta`, `arguments`, `inputResponses` objects and
/// `requestState` a string when present and not `null`), read by hand to spare the Worker a
/// derived deserializer.
fn call_params(params: &Value) -> Result<(String, Map<String, Value>), String> {
    let Value::Object(map) = params else {
        return Err("invalid type: expected struct CallToolRequestParams".into());
    };
    for key in ["_meta", "inputResponses"] {
        if !matches!(map.get(key), None | Some(Value::Null | Value::Object(_))) {
            return Err(format!(
                "invalid type for field `{key}`: expected an object"
            ));
        }
    }
    if !matches!(
        map.get("requestState"),
        None | Some(Value::Null | Value::String(_))
    ) {
        return Err("invalid type for field `requestState`: expected a string".into());
    }
    let arguments = match map.get("arguments") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(arguments)) => arguments.clone(),
        Some(_) => return Err("invalid type for field `arguments`: expected an object".into()),
    };
    Ok((crate::json_fields::map_string(map, "name")?, arguments))
}

/// Reads the requested protocol version of an `initialize` request.
pub fn requested_version(message: &Value) -> Result<String, String> {
    let params = message.get("params").cloned().unwrap_or(Value::Null);
    serde_json::from_value::<InitializeRequestParams>(params)
        .map(|p| p.protocol_version.to_string())
        .map_err(|e| format!("invalid initialize params: {e}"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn call_params_follow_the_schema_types() {
        let (name, args) =
            call_params(&json!({"name": "execute", "arguments": {"code": "1"}, "_meta": null}))
                .unwrap();
        assert_eq!(
            (name.as_str(), args["code"].as_str()),
            ("execute", Some("1"))
        );
        assert!(call_params(&json!({"name": "execute"}))
            .unwrap()
            .1
            .is_empty());
        for bad in [
            json!(null),
            json!({}),
            json!({"name": 1}),
            json!({"name": "execute", "arguments": [1]}),
            json!({"name": "execute", "_meta": 1}),
            json!({"name": "execute", "inputResponses": "x"}),
            json!({"name": "execute", "requestState": 1}),
        ] {
            assert!(call_params(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn negotiates_known_versions_and_falls_back_to_latest() {
        for v in SUPPORTED_PROTOCOL_VERSIONS {
            assert_eq!(negotiate(v), *v);
        }
        assert_eq!(negotiate("1999-01-01"), LATEST_PROTOCOL_VERSION);
        let result = initialize_result("2025-06-18");
        assert_eq!(
            result,
            json!({"protocolVersion":"2025-06-18","capabilities":{"tools":{"listChanged":true}},
                   "serverInfo":{"name":"executor","version":"1.0.0"}})
        );
    }

    #[test]
    fn execute_tool_shape() {
        let tools = tools();
        assert_eq!(tools.len(), 2);
        assert_eq!(tools[0]["name"], "execute");
        assert_eq!(tools[1]["name"], "resume");
        assert_eq!(
            tools[1]["inputSchema"]["required"],
            json!(["executionId", "action"])
        );
        assert_eq!(tools[1]["execution"]["taskSupport"], "forbidden");
        assert_eq!(tools[0]["inputSchema"]["required"], json!(["code"]));
        assert_eq!(tools[0]["execution"]["taskSupport"], "forbidden");
        assert_eq!(
            tools[0]["inputSchema"]["$schema"],
            "http://json-schema.org/draft-07/schema#"
        );
    }

    #[test]
    fn initialize_params_are_read_with_rmcp_types() {
        let msg = json!({"jsonrpc":"2.0","id":1,"method":"initialize","params":{
            "protocolVersion":"2025-03-26","capabilities":{},"clientInfo":{"name":"c","version":"1"}}});
        assert_eq!(requested_version(&msg).unwrap(), "2025-03-26");
        assert!(requested_version(&json!({"params": {}})).is_err());
    }

    #[tokio::test]
    async fn a_non_string_method_is_an_invalid_request_not_a_response() {
        let world = crate::http::testing::TestWorld::new();
        let principal = crate::auth::dev_principal(&world.config);
        let dispatch = Dispatch {
            services: world.services(),
            principal: &principal,
            web_origin: None,
            mode: super::super::ElicitationMode::Model,
            session_id: None,
        };
        for method in [json!(5), json!(null), json!(["ping"])] {
            let answer = dispatch
                .answer(&json!({"jsonrpc": "2.0", "id": 3, "method": method}))
                .await;
            let Answer::Reply(reply) = answer else {
                panic!("no reply for method {method}");
            };
            assert_eq!(reply["error"]["code"], json!(INVALID_REQUEST), "{reply}");
            assert_eq!(reply["id"], json!(3));
        }
        // Responses to server requests (no `method` member) and notifications: nothing.
        for message in [
            json!({"jsonrpc": "2.0", "id": 3, "result": {}}),
            json!({"jsonrpc": "2.0", "method": "notifications/x"}),
        ] {
            assert_eq!(dispatch.answer(&message).await, Answer::Nothing);
        }
    }

    #[test]
    fn tool_errors_omit_result_type() {
        let v = tool_error("MCP error -32602: Tool nope not found".into());
        assert_eq!(
            v,
            json!({"content":[{"type":"text","text":"MCP error -32602: Tool nope not found"}],"isError":true})
        );
    }
}
