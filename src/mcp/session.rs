//! One MCP session, as its Durable Object sees it: the stored [`SessionMeta`], the owner check,
//! the streamable-HTTP transport rules (executor-behaviour.md §6.4) and `DELETE`.
//!
//! Only `initialize` creates a session (the Worker marks it with an internal header); any other
//! request to an object without meta is `404 Session not found`.
//!
//! In memory ([`LiveSession`]): the GET event stream, requests waiting for the client's
//! responses, request ids in flight (a duplicate id waits for the earlier request, §6.4 step 5;
//! `resume` calls also queue per `executionId`), and activity for the idle alarm ([`SessionObject::alarm`]):
//! five idle minutes drop that state but keep the meta, so the session goes on transparently;
//! after the execution pause TTL the session is deleted.

use std::cell::RefCell;

use serde::Serialize;
use serde_json::Value;

use super::internal_headers as h;
use super::jsonrpc::{error_object, McpFailure, INVALID_REQUEST, SERVER_ERROR};
use super::live::{self, AlarmStep, Alarms, EventStream, LiveSession, Turn};
use super::native::{self, ClientElicitation};
use super::server::{self, Answer, Dispatch};
use super::{ElicitationMode, SUPPORTED_PROTOCOL_VERSIONS};
use crate::app::Services;
use crate::auth::Principal;
use crate::http::{Request, Response};
use crate::logging;
use crate::store::KeyValue;

/// Storage key of the session's metadata.
pub const META_KEY: &str = "session-meta";

/// What a session remembers between requests (and isolates).
#[derive(Debug, Clone, PartialEq, Serialize)]
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
    /// The client's `capabilities.elicitation` from `initialize` (native mode asks only then).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_elicitation: Option<Value>,
}

impl SessionMeta {
    /// Reads the stored object back (the inverse of its `Serialize`), with the store's
    /// non-generic row reader instead of a derived `Deserialize` (wasm size).
    fn from_stored(value: &Value) -> Result<SessionMeta, crate::store::StoreError> {
        let Some(map) = value.as_object() else {
            return Err(crate::store::StoreError::new(
                "decode row",
                "session meta is not an object",
            ));
        };
        let row = crate::store::RowReader(map);
        Ok(SessionMeta {
            session_id: row.text("sessionId")?,
            account_id: row.text("accountId")?,
            organization_id: row.text("organizationId")?,
            email: row.text("email")?,
            name: row.opt_text("name")?,
            elicitation_mode: row.text("elicitationMode")?,
            web_origin: row.text("webOrigin")?,
            protocol_version: row.text("protocolVersion")?,
            created_at_ms: row.real("createdAtMs")?,
            client_elicitation: map
                .get("clientElicitation")
                .filter(|v| !v.is_null())
                .cloned(),
        })
    }
}

/// The session object: its storage, services, and an in-memory copy of the meta so a warm
/// object answers without a storage read.
pub struct SessionObject<'a> {
    pub storage: &'a dyn KeyValue,
    pub services: Services<'a>,
    pub cached_meta: &'a RefCell<Option<SessionMeta>>,
    /// What this object keeps in memory only (lost on idle teardown or eviction).
    pub live: &'a LiveSession,
    pub alarms: &'a dyn Alarms,
}

fn header<'r>(request: &'r Request, name: &str) -> &'r str {
    request.header(name).unwrap_or("")
}

fn accepts_sse(request: &Request) -> bool {
    let accept = header(request, "accept").to_ascii_lowercase();
    accept.contains("text/event-stream") || accept.contains("*/*")
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
            Some(v) => Some(SessionMeta::from_stored(&v).map_err(|e| e.to_string())?),
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

    /// Handles a request the Worker forwarded to this session (a GET stream is closed at once:
    /// use [`SessionObject::handle_streaming`] to serve it).
    pub async fn handle(&self, request: Request) -> Response {
        self.handle_streaming(request).await.0
    }

    /// Handles a request; a successful GET also returns the event stream to send as the body.
    pub async fn handle_streaming(&self, request: Request) -> (Response, Option<EventStream>) {
        let _busy = self.live.busy();
        match self.route(request).await {
            Ok(answer) => answer,
            Err(failure) => (failure.into_response(), None),
        }
    }

    /// Records activity; every [`live::ACTIVITY_PERSIST_MS`] it is written and the idle alarm
    /// moved (a failure only delays the teardown, so it is logged, not answered).
    async fn touch(&self) {
        let now = self.services.clock.now_ms();
        if !self.live.touch(now) {
            return;
        }
        if let Err(e) = self.storage.put(live::ACTIVITY_KEY, now.into()).await {
            logging::warn(&format!("mcp session: cannot record activity: {e}"));
        }
        if let Err(e) = self.alarms.set_alarm(now + live::IDLE_TEARDOWN_MS).await {
            logging::warn(&format!("mcp session: cannot set the idle alarm: {e}"));
        }
    }

    /// The idle alarm (§6.7), see [`live::alarm_step`].
    pub async fn alarm(&self) {
        let meta = match self.load_meta().await {
            Ok(Some(meta)) => meta,
            // Nothing to keep warm (deleted, or unreadable: the next request reports that).
            _ => return,
        };
        let stored = match self.storage.get(live::ACTIVITY_KEY).await {
            Ok(v) => v.and_then(|v| v.as_f64()).unwrap_or(0.0),
            Err(e) => {
                logging::warn(&format!("mcp session: cannot read activity: {e}"));
                0.0
            }
        };
        let last = self
            .live
            .last_activity()
            .max(stored)
            .max(meta.created_at_ms);
        let now = self.services.clock.now_ms();
        let expire_after = self.services.config.execution_pause_ttl_ms as f64;
        let next = match live::alarm_step(now, last, self.live.is_busy(), expire_after) {
            AlarmStep::Rearm(at) => Some(at),
            AlarmStep::Teardown { next } => {
                self.live.teardown();
                self.cached_meta.replace(None);
                Some(next)
            }
            AlarmStep::Expire => {
                self.live.teardown();
                self.cached_meta.replace(None);
                if let Err(e) = self.storage.delete_all().await {
                    logging::error(&format!("mcp session: cannot expire: {e}"));
                }
                None
            }
        };
        if let Some(at) = next {
            if let Err(e) = self.alarms.set_alarm(at).await {
                logging::warn(&format!("mcp session: cannot set the idle alarm: {e}"));
            }
        }
    }

    async fn route(&self, request: Request) -> Result<(Response, Option<EventStream>), McpFailure> {
        if header(&request, h::NEW_SESSION) == "1" {
            let response = self.initialize(&request).await?;
            self.touch().await;
            return Ok((response, None));
        }
        let meta = self.load_meta().await.map_err(|e| {
            logging::error(&format!("mcp session: cannot read meta: {e}"));
            McpFailure::Internal
        })?;
        let Some(meta) = meta else {
            // A second DELETE of an ended session is a no-op (§14 #29).
            if request.method == "DELETE" {
                return Ok((Response::empty(204), None));
            }
            return Err(McpFailure::SessionNotFound);
        };
        if header(&request, h::ACCOUNT_ID) != meta.account_id
            || header(&request, h::ORGANIZATION_ID) != meta.organization_id
        {
            return Err(McpFailure::NotYourSession);
        }
        if request.method == "DELETE" {
            self.live.teardown();
            self.storage.delete_all().await.map_err(|e| {
                logging::error(&format!("mcp session: cannot delete: {e}"));
                McpFailure::Internal
            })?;
            self.cached_meta.replace(None);
            return Ok((Response::empty(200), None));
        }
        self.touch().await;
        if request.method == "GET" {
            if !accepts_sse(&request) {
                return Err(McpFailure::StreamNotAcceptable);
            }
            let stream = self.live.open_stream();
            let response = Response::text(200, "text/event-stream", Vec::new())
                .with_header("cache-control", "no-cache")
                .with_header("mcp-session-id", &meta.session_id);
            return Ok((response, Some(stream)));
        }
        Ok((self.post(&request, &meta).await?, None))
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
            client_elicitation: message
                .pointer("/params/capabilities/elicitation")
                .filter(|v| v.is_object())
                .cloned(),
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
            mode: ElicitationMode::parse(&meta.elicitation_mode),
            session_id: Some(meta.session_id.as_str()),
        };
        let client = ClientElicitation::from_capability(meta.client_elicitation.as_ref());
        let (messages, batch) = match body {
            Value::Array(items) if items.is_empty() => {
                return Err(McpFailure::InvalidRequest("empty batch".into()))
            }
            Value::Array(items) => (items, true),
            other => (vec![other], false),
        };
        // The handshake happened when the session was created: an `initialize` anywhere in the
        // body refuses the whole POST, as the transport does.
        let initializes = messages
            .iter()
            .filter(|m| m.get("method").and_then(Value::as_str) == Some("initialize"))
            .count();
        if initializes > 1 {
            return Err(McpFailure::InvalidRequest(
                "Only one initialization request is allowed".into(),
            ));
        }
        if initializes == 1 {
            return Err(McpFailure::InvalidRequest(
                "Server already initialized".into(),
            ));
        }
        // In request order: a batch's replies keep the order of its requests.
        let mut replies = Vec::new();
        for message in &messages {
            match self.answer_one(&dispatch, client, message).await {
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

    /// One message of a POST: client responses go to the request waiting for them; requests
    /// take their turn by id (and by `executionId` for `resume`), then run.
    async fn answer_one(
        &self,
        dispatch: &Dispatch<'_>,
        client: ClientElicitation,
        message: &Value,
    ) -> Answer {
        let is_response = message.as_object().is_some_and(|m| {
            !m.contains_key("method")
                && m.contains_key("id")
                && (m.contains_key("result") || m.contains_key("error"))
        });
        if is_response {
            if !self.live.deliver(message) {
                logging::info("mcp session: dropped a response nobody waits for");
            }
            return Answer::Nothing;
        }
        let id = message
            .get("id")
            .filter(|id| id.is_string() || id.is_number());
        let method = message.get("method").and_then(Value::as_str);
        let (Some(id), Some(method)) = (id, method) else {
            return dispatch.answer(message).await;
        };
        let tool = message.pointer("/params/name").and_then(Value::as_str);
        let mut keys = vec![format!("id:{id}")];
        if method == "tools/call" && tool == Some("resume") {
            if let Some(execution) = message
                .pointer("/params/arguments/executionId")
                .and_then(Value::as_str)
            {
                keys.push(format!("resume:{execution}"));
            }
        }
        let mut guards = Vec::new();
        for key in keys {
            match self.live.turn(self.services.timer, key, message).await {
                Turn::Run(guard) => guards.push(guard),
                Turn::Same(reply) => return Answer::Reply(reply),
                Turn::TimedOut => {
                    return Answer::Reply(error_object(
                        id.clone(),
                        SERVER_ERROR,
                        "A request with this id is still running in this session; retry later",
                    ))
                }
            }
        }
        let answer = if dispatch.mode == ElicitationMode::Native
            && method == "tools/call"
            && tool == Some("execute")
        {
            native::execute(dispatch, self.live, client, message).await
        } else {
            dispatch.answer(message).await
        };
        if let Answer::Reply(reply) = &answer {
            for guard in guards {
                guard.finish(reply);
            }
        }
        answer
    }
}

#[cfg(test)]
#[path = "session_tests.rs"]
mod tests;
