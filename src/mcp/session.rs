//! One MCP session, as its Durable Object sees it: the stored [`SessionMeta`], the owner check,
//! the streamable-HTTP transport rules (executor-behaviour.md §6.4) and `DELETE`.
//!
//! Only `initialize` creates a session (the Worker marks it with an internal header); any other
//! request to an object without meta is `404 Session not found`.

use std::cell::RefCell;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::internal_headers as h;
use super::jsonrpc::{McpFailure, INVALID_REQUEST};
use super::server::{self, Answer, Dispatch};
use super::SUPPORTED_PROTOCOL_VERSIONS;
use crate::app::Services;
use crate::auth::Principal;
use crate::http::{Request, Response};
use crate::logging;
use crate::store::KeyValue;

/// Storage key of the session's metadata.
pub const META_KEY: &str = "session-meta";

/// What a session remembers between requests (and isolates).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionMeta {
    pub session_id: String,
    pub account_id: String,
    pub organization_id: String,
    pub email: String,
    pub name: Option<String>,
    pub elicitation_mode: String,
    pub web_origin: String,
    pub protocol_version: String,
    pub created_at_ms: f64,
}

/// The session object: its storage, services, and an in-memory copy of the meta so a warm
/// object answers without a storage read.
pub struct SessionObject<'a> {
    pub storage: &'a dyn KeyValue,
    pub services: Services<'a>,
    pub cached_meta: &'a RefCell<Option<SessionMeta>>,
}

fn header<'r>(request: &'r Request, name: &str) -> &'r str {
    request.header(name).unwrap_or("")
}

fn accepts_json_and_sse(request: &Request) -> bool {
    let accept = header(request, "accept").to_ascii_lowercase();
    let any = accept.contains("*/*");
    any || (accept.contains("application/json") && accept.contains("text/event-stream"))
}

impl SessionObject<'_> {
    async fn load_meta(&self) -> Result<Option<SessionMeta>, String> {
        if let Some(meta) = self.cached_meta.borrow().clone() {
            return Ok(Some(meta));
        }
        let stored = self
            .storage
            .get(META_KEY)
            .await
            .map_err(|e| e.to_string())?;
        let meta = match stored {
            Some(v) => Some(serde_json::from_value::<SessionMeta>(v).map_err(|e| e.to_string())?),
            None => None,
        };
        self.cached_meta.replace(meta.clone());
        Ok(meta)
    }

    /// The session's owner, as the Worker verified it at `initialize`. Roles and groups are
    /// informational only (nothing authorises by them), so sessions do not carry them.
    fn principal(&self, meta: &SessionMeta) -> Principal {
        Principal {
            account_id: meta.account_id.clone(),
            email: meta.email.clone(),
            name: meta.name.clone(),
            avatar_url: None,
            roles: Vec::new(),
            groups: Vec::new(),
            organization: self.services.config.organization.clone(),
        }
    }

    /// Handles a request the Worker forwarded to this session.
    pub async fn handle(&self, request: Request) -> Response {
        match self.route(request).await {
            Ok(response) => response,
            Err(failure) => failure.into_response(),
        }
    }

    async fn route(&self, request: Request) -> Result<Response, McpFailure> {
        if header(&request, h::NEW_SESSION) == "1" {
            return self.initialize(&request).await;
        }
        let meta = self.load_meta().await.map_err(|e| {
            logging::error(&format!("mcp session: cannot read meta: {e}"));
            McpFailure::Internal
        })?;
        let Some(meta) = meta else {
            // A second DELETE of an ended session is a no-op (§14 #29).
            if request.method == "DELETE" {
                return Ok(Response::empty(204));
            }
            return Err(McpFailure::SessionNotFound);
        };
        if header(&request, h::ACCOUNT_ID) != meta.account_id
            || header(&request, h::ORGANIZATION_ID) != meta.organization_id
        {
            return Err(McpFailure::NotYourSession);
        }
        match request.method.as_str() {
            "DELETE" => {
                self.storage.delete_all().await.map_err(|e| {
                    logging::error(&format!("mcp session: cannot delete: {e}"));
                    McpFailure::Internal
                })?;
                self.cached_meta.replace(None);
                Ok(Response::empty(200))
            }
            // No standalone server-to-client stream yet; the specification lets a server answer
            // 405 here, and clients fall back to request/response.
            "GET" => Ok(McpFailure::MethodNotAllowed
                .into_response()
                .with_header("allow", "POST, DELETE")),
            _ => self.post(&request, &meta).await,
        }
    }

    fn check_post_headers(request: &Request) -> Result<Value, McpFailure> {
        if !accepts_json_and_sse(request) {
            return Err(McpFailure::NotAcceptable);
        }
        if !header(request, "content-type")
            .to_ascii_lowercase()
            .contains("application/json")
        {
            return Err(McpFailure::UnsupportedMediaType);
        }
        serde_json::from_slice(&request.body).map_err(|_| McpFailure::ParseError)
    }

    async fn initialize(&self, request: &Request) -> Result<Response, McpFailure> {
        if request.method != "POST" {
            return Err(McpFailure::SessionNotFound);
        }
        let body = Self::check_post_headers(request)?;
        let message = match &body {
            Value::Array(items) if items.len() == 1 => items[0].clone(),
            other => other.clone(),
        };
        let id = message.get("id").cloned().unwrap_or(Value::Null);
        let requested = server::requested_version(&message).map_err(McpFailure::InvalidRequest)?;
        let negotiated = server::negotiate(&requested).to_string();
        let meta = SessionMeta {
            session_id: header(request, h::SESSION_ID).to_string(),
            account_id: header(request, h::ACCOUNT_ID).to_string(),
            organization_id: header(request, h::ORGANIZATION_ID).to_string(),
            email: header(request, h::EMAIL).to_string(),
            name: Some(header(request, h::NAME).to_string()).filter(|n| !n.is_empty()),
            elicitation_mode: header(request, h::ELICITATION_MODE).to_string(),
            web_origin: header(request, h::WEB_ORIGIN).to_string(),
            protocol_version: negotiated.clone(),
            created_at_ms: self.services.clock.now_ms(),
        };
        let stored = serde_json::to_value(&meta).map_err(|_| McpFailure::Internal)?;
        self.storage.put(META_KEY, stored).await.map_err(|e| {
            logging::error(&format!("mcp session: cannot store meta: {e}"));
            McpFailure::Internal
        })?;
        let session_id = meta.session_id.clone();
        self.cached_meta.replace(Some(meta));
        let reply = serde_json::json!({
            "jsonrpc": "2.0",
            "id": id,
            "result": server::initialize_result(&requested),
        });
        let reply = if body.is_array() {
            Value::Array(vec![reply])
        } else {
            reply
        };
        Ok(Response::json(200, &reply).with_header("mcp-session-id", &session_id))
    }

    async fn post(&self, request: &Request, meta: &SessionMeta) -> Result<Response, McpFailure> {
        let body = Self::check_post_headers(request)?;
        if let Some(version) = request.header("mcp-protocol-version") {
            if !SUPPORTED_PROTOCOL_VERSIONS.contains(&version.trim()) {
                return Err(McpFailure::UnsupportedProtocolVersion(
                    version.trim().to_string(),
                ));
            }
        }
        let principal = self.principal(meta);
        let dispatch = Dispatch {
            services: self.services,
            principal: &principal,
            web_origin: Some(meta.web_origin.as_str()).filter(|o| !o.is_empty()),
            mode: super::ElicitationMode::parse(&meta.elicitation_mode),
            session_id: Some(meta.session_id.as_str()),
        };
        let (messages, batch) = match body {
            Value::Array(items) if items.is_empty() => {
                return Err(McpFailure::InvalidRequest("empty batch".into()))
            }
            Value::Array(items) => (items, true),
            other => (vec![other], false),
        };
        let mut replies = Vec::new();
        for message in &messages {
            if !batch && message.get("method").and_then(Value::as_str) == Some("initialize") {
                return Err(McpFailure::InvalidRequest(
                    "Server already initialized".into(),
                ));
            }
            match dispatch.answer(message).await {
                Answer::Reply(reply) => replies.push(reply),
                Answer::Nothing => {}
            }
        }
        if replies.is_empty() {
            return Ok(Response::empty(202));
        }
        if batch {
            return Ok(Response::json(200, &Value::Array(replies)));
        }
        let reply = replies.remove(0);
        // Malformed single messages are transport errors (400); method-level errors travel in a
        // 200 like any other response.
        let status = match reply.pointer("/error/code").and_then(Value::as_i64) {
            Some(INVALID_REQUEST) => 400,
            _ => 200,
        };
        Ok(Response::json(status, &reply))
    }
}
