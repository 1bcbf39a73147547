//! JSON-RPC error bodies and the HTTP status each MCP failure maps to: the single place `/mcp`
//! failures become responses. Bodies are exactly
//! `{"jsonrpc":"2.0","error":{"code":<n>,"message":"<m>"},"id":null}`.

use serde_json::{json, Value};

use crate::http::Response;

pub const PARSE_ERROR: i64 = -32700;
pub const INVALID_REQUEST: i64 = -32600;
pub const METHOD_NOT_FOUND: i64 = -32601;
pub const INVALID_PARAMS: i64 = -32602;
pub const INTERNAL_ERROR: i64 = -32603;
/// Transport-level failure (bad headers, missing session).
pub const SERVER_ERROR: i64 = -32000;
/// Unauthorized, method not allowed, session not found.
pub const SESSION_ERROR: i64 = -32001;
/// The session belongs to another principal, or the Origin is not allowed.
pub const FORBIDDEN: i64 = -32003;
/// Protocol `2026-07-28`: the `MCP-Protocol-Version` / `Mcp-Method` / `Mcp-Name` headers do not
/// match the body.
pub const HEADER_MISMATCH: i64 = -32020;
/// Protocol `2026-07-28`: the request's protocol version is not one we speak (`data` lists the
/// supported ones).
pub const UNSUPPORTED_PROTOCOL_VERSION: i64 = -32022;

/// A JSON-RPC error object for a response to request `id`.
pub fn error_object(id: Value, code: i64, message: &str) -> Value {
    json!({ "jsonrpc": "2.0", "error": { "code": code, "message": message }, "id": id })
}

/// An HTTP response carrying a JSON-RPC error with `id: null`.
pub fn error_response(status: u16, code: i64, message: &str) -> Response {
    Response::json(status, &error_object(Value::Null, code, message))
}

/// The MCP failures the envelope and the session object can produce.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum McpFailure {
    MethodNotAllowed,
    Unauthorized {
        resource_metadata: String,
    },
    ForbiddenOrigin,
    SessionRequiredForStream,
    SessionNotFound,
    NotYourSession,
    NotAcceptable,
    /// A GET that does not accept `text/event-stream`.
    StreamNotAcceptable,
    UnsupportedMediaType,
    ParseError,
    InvalidRequest(String),
    UnsupportedProtocolVersion(String),
    /// The request body is over the `/mcp` cap (`crate::http::limits`); the message names it.
    PayloadTooLarge {
        message: String,
    },
    /// Platform failure (cause logged by the caller); no detail leaves the server.
    Internal,
}

impl McpFailure {
    pub fn into_response(self) -> Response {
        match self {
            McpFailure::MethodNotAllowed => {
                error_response(405, SESSION_ERROR, "Method not allowed")
                    .with_header("allow", "GET, POST, DELETE, OPTIONS")
            }
            McpFailure::Unauthorized { resource_metadata } => {
                error_response(401, SESSION_ERROR, "Unauthorized")
                    .with_header(
                        "www-authenticate",
                        &format!("Bearer resource_metadata=\"{resource_metadata}\""),
                    )
                    .with_header("access-control-expose-headers", "WWW-Authenticate")
            }
            McpFailure::ForbiddenOrigin => {
                error_response(403, FORBIDDEN, "Forbidden: Origin not allowed")
            }
            McpFailure::SessionRequiredForStream => {
                error_response(400, SERVER_ERROR, "mcp-session-id header required for SSE")
            }
            McpFailure::SessionNotFound => error_response(404, SESSION_ERROR, "Session not found"),
            McpFailure::NotYourSession => error_response(
                403,
                FORBIDDEN,
                "MCP session does not belong to the current bearer",
            ),
            McpFailure::NotAcceptable => error_response(
                406,
                SERVER_ERROR,
                "Not Acceptable: Client must accept both application/json and text/event-stream",
            ),
            McpFailure::StreamNotAcceptable => error_response(
                406,
                SERVER_ERROR,
                "Not Acceptable: Client must accept text/event-stream",
            ),
            McpFailure::UnsupportedMediaType => error_response(
                415,
                SERVER_ERROR,
                "Unsupported Media Type: Content-Type must be application/json",
            ),
            McpFailure::ParseError => error_response(400, PARSE_ERROR, "Parse error: Invalid JSON"),
            McpFailure::InvalidRequest(message) => {
                error_response(400, INVALID_REQUEST, &format!("Invalid Request: {message}"))
            }
            McpFailure::UnsupportedProtocolVersion(v) => error_response(
                400,
                SERVER_ERROR,
                &format!("Bad Request: Unsupported protocol version: {v}"),
            ),
            McpFailure::PayloadTooLarge { message } => error_response(
                413,
                INVALID_REQUEST,
                &format!("Payload Too Large: {message}"),
            ),
            McpFailure::Internal => error_response(500, INTERNAL_ERROR, "Internal server error"),
        }
    }
}

/// A JSON-RPC error answering one request of the session-less protocol (`2026-07-28`), which
/// carries the request `id` and optional `data`.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestFailure {
    pub id: Value,
    pub code: i64,
    pub message: String,
    pub data: Option<Value>,
    /// The request lacks its required `_meta` fields (then `-32602` is a 400, not in-band).
    pub malformed_request: bool,
}

impl RequestFailure {
    /// Version and header problems and malformed requests are 400s, an unknown method is a
    /// 404; other errors travel in a 200 like any response.
    pub fn into_response(self) -> Response {
        let status = match self.code {
            HEADER_MISMATCH | UNSUPPORTED_PROTOCOL_VERSION => 400,
            INVALID_PARAMS if self.malformed_request => 400,
            METHOD_NOT_FOUND => 404,
            _ => 200,
        };
        let mut body = error_object(self.id, self.code, &self.message);
        if let Some(data) = self.data {
            body["error"]["data"] = data;
        }
        Response::json(status, &body)
    }
}

/// CORS headers on every envelope answer (MCP clients in browsers read `mcp-session-id`).
pub fn with_cors(mut response: Response) -> Response {
    response.set_header("access-control-allow-origin", "*");
    let expose = match response.header("access-control-expose-headers") {
        Some(existing) if existing.contains("WWW-Authenticate") => {
            "mcp-session-id, WWW-Authenticate".to_string()
        }
        _ => "mcp-session-id".to_string(),
    };
    response.set_header("access-control-expose-headers", &expose);
    response
}
